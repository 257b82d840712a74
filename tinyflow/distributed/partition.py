"""Graph partitioning, as TensorFlow does it: a pass over the lowered `Program` that gives each
step a device, cuts the program into one partition per device and puts a send/recv pair on
every edge that crosses devices; and the loop a worker runs its partition with.

Placement: a step writing a variable runs where the variable lives; a step `tf.device`
placed (its gradients are placed beside it: `Graph.colocate`) runs there; any other step
runs beside its largest placed input, else beside its first placed reader, else on the
first device the program uses. Feeds and constants are loaded by every partition that reads them.

Order: every partition lists its steps in the program's order, with a send right where the
first reader on another device meets the value and the recv just before that reader. All
partitions are then subsequences of one sequence in which each send precedes its recv, so
running them concurrently cannot deadlock.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..backend.numpy.registry import KERNELS
from ..core.errors import UninitializedVariableError
from ..ops.state import Assign
from ..passes.program import Program


@dataclass
class Partition:
    """What one device runs: loads (slot -> ("feed", position) | ("variable", name) |
    ("const", array)), a list of ("step", Step) | ("send", slot, device, control) |
    ("recv", slot, device, name, control), the slots it returns, and the variables its
    steps write (slot -> name). A control send carries no value: the step ran."""
    device: str
    loads: dict = field(default_factory=dict)
    program: list = field(default_factory=list)
    fetches: list = field(default_factory=list)
    writes: dict = field(default_factory=dict)


def place(program: Program, placements: dict) -> tuple[dict, dict]:
    """(step index -> device, variable slot -> device) for a lowered program, by the rules
    above; `placements` maps node names to the devices `tf.device` gave them."""
    variables = {s: placements.get(e.name) for s, e in program.externals.items()
                 if e.kind == "variable"}
    first = next((placements[s.name] for s in program.steps if s.name in placements),
                 next((d for d in variables.values() if d is not None), None))
    if first is None:
        raise ValueError("no step of the program is placed on a device")
    variables = {s: d or first for s, d in variables.items()}
    where: dict = {}              # slot -> device of its producer (or the variable's)
    where.update(variables)
    steps: dict = {}
    for n, step in enumerate(program.steps):
        device = _written_variable_device(step, program, variables)
        if device is None:
            device = placements.get(step.name)
        if device is None:
            device = _beside_largest_input(program, step, where)
        if device is not None:
            steps[n] = where[step.output] = device
    for n in reversed(range(len(program.steps))):      # the rest: beside a reader
        if n not in steps:
            step = program.steps[n]
            readers = program.readers.get(step.output, ())
            steps[n] = next((steps[r] for r in readers if r in steps), first)
            where[step.output] = steps[n]
    return steps, variables


def _beside_largest_input(program: Program, step, where: dict):
    """The device of the placed input with the most elements (a batch-sized dim counts as
    large): moving a scalar is cheaper than moving a tensor."""
    best, device = -1, None
    for i in step.inputs + step.control:
        if i in where:
            shape, _ = program.value_of(i)
            size = 0 if i in step.control else (
                np.inf if shape is None else np.prod([d or 1 << 20 for d in shape]))
            if size > best:
                best, device = size, where[i]
    return device


def _written_variable_device(step, program: Program, variables: dict):
    w = getattr(step.op, "writes_input", None)
    return None if w is None else variables.get(step.inputs[w])


def partition(program: Program, placements: dict) -> dict:
    """device -> Partition, with send/recv pairs at the cut edges."""
    steps, variables = place(program, placements)
    parts: dict = {}

    def part(device: str) -> Partition:
        return parts.setdefault(device, Partition(device))

    home = dict(variables)
    for n, step in enumerate(program.steps):
        home[step.output] = steps[n]
    received: set = set()
    for n, step in enumerate(program.steps):
        here = part(steps[n])
        overwritten = step.inputs[0] if isinstance(step.op, Assign) else None
        for slot in dict.fromkeys(step.inputs + step.control):
            if slot != overwritten:              # an assign's target is written, not read
                _make_available(program, slot, here, home, part, received,
                                control=slot not in step.inputs)
        w = getattr(step.op, "writes_input", None)
        if w is not None and step.inputs[w] in variables:
            here.writes[step.output] = program.externals[step.inputs[w]].name
        here.program.append(("step", step))
    for slot in program.fetches:
        if slot in home:
            owner = part(home[slot])
            if slot in variables:
                owner.loads[slot] = ("variable", program.externals[slot].name)
            owner.fetches.append(slot)
    return parts


def _make_available(program, slot, here: Partition, home, part, received: set,
                    control: bool) -> None:
    """Load `slot` into `here`, or receive it from the device that has it (for a control
    edge, only a token saying it ran)."""
    ext = program.externals.get(slot)
    source = home.get(slot)
    if source is None:                          # a feed or a constant: loaded where read
        here.loads[slot] = (("feed", ext.ref) if ext.kind == "feed" else
                            ("const", np.asarray(ext.ref.array if ext.kind == "eager"
                                                 else ext.ref)))
        return
    if ext is not None and ext.kind == "variable":
        part(source).loads[slot] = ("variable", ext.name)
    if source == here.device or (slot, here.device, False) in received or (
            control and (slot, here.device, True) in received):
        return
    received.add((slot, here.device, control))
    part(source).program.append(("send", slot, here.device, control))
    name = ext.name if ext is not None else program.steps[program.producer[slot]].name
    here.program.append(("recv", slot, source, name, control))


# ---- in the worker ---------------------------------------------------------------------

def run_partition(worker, part: Partition, peers: dict, run_id: int, feeds: dict,
                  timeout: float) -> tuple:
    """Run one partition in `worker` (a DeviceWorker): returns (fetched values by slot,
    [(device sent to, bytes, control?)])."""
    values: dict = {}
    for slot, (kind, ref) in part.loads.items():
        if kind == "feed":
            values[slot] = feeds[slot]
        elif kind == "const":
            values[slot] = ref
        elif ref in worker.variables:
            values[slot] = worker.variables[ref]
        else:
            raise UninitializedVariableError(
                f"uninitialized variable {ref} on device {worker.name} is read before its "
                f"initializer ran; run tf.global_variables_initializer() first")
    sent = []
    for item in part.program:
        if item[0] == "step":
            step = item[1]
            values[step.output] = _run_step(worker, part, step, values)
        elif item[0] == "send":
            _, slot, device, control = item
            value = None if control else values[slot]
            peers[device].deliver.remote(run_id, (slot, control), value)
            sent.append((device, getattr(value, "nbytes", 0), control))
        else:
            _, slot, device, name, control = item
            value = worker.wait_for(run_id, (slot, control), timeout, f"{name} from {device}")
            if not control:
                values[slot] = value
    return {slot: values[slot] for slot in part.fetches}, sent


def _run_step(worker, part: Partition, step, values: dict):
    """One kernel call; a step writing a variable stores its result in the worker (an
    assign stores a copy of its value; an update computes on a copy of the old value)."""
    args = [values.get(i) for i in step.inputs]
    target = part.writes.get(step.output)
    if target is not None and isinstance(step.op, Assign):
        result = worker.variables[target] = np.array(args[1], dtype=step.dtype.np)
        return result
    if target is not None:
        args[step.op.writes_input] = np.array(args[step.op.writes_input])
    result = KERNELS[type(step.op)](step.op, *args)
    if step.dtype is not None and np.asarray(result).dtype != step.dtype.np:
        result = np.asarray(result).astype(step.dtype.np)
    if target is not None:
        result = worker.variables[target] = np.array(result)
    return result
