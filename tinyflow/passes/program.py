"""The compiler's IR: a `Program` of typed `Step`s over numbered value slots.

Lowering (`lower`) turns the part of a graph that some fetches need into a Program; every
pass is a function `Program -> Program` (see `passes/__init__.py`); the runtime runs the
final one. A Program is immutable: a pass builds a new one with `replace`. Its books (who
produces a slot, who reads it, where it is last used) are computed once, on demand, and
`verify()` checks the invariants every pass must keep. The models are Autodidax's `Jaxpr`
with `typecheck_jaxpr`, and torch.fx's `Graph`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Optional

from ..backend.numpy.registry import SHAPE_ONLY
from ..core.errors import FeedError
from ..core.graph import topo_sort
from ..core.op import Typed
from ..core.tensor import EAGER, PLACEHOLDER, VARIABLE


class VerifyError(AssertionError):
    """A pass broke an invariant of the IR (a bug in the pass, never in user code)."""


@dataclass(frozen=True)
class Step:
    """One kernel call: `output = kernel(op, *inputs)`.

    Attributes:
        op: the op (its attributes are the call's static arguments).
        inputs: the slots read, in the op's order.
        output: the slot written (each slot is written by one step at most).
        dtype: the output's dtype (a tinyflow DType), as the graph declared it.
        shape: the output's static shape (None entries: known only at run time).
        control: slots whose producing steps must run first (TF1 control inputs).
        kernel: how to run it; None means the backend's kernel of `type(op)`.
        name: the graph node this step computes (for reports and pictures), if any.
        record: what the recording run saw (passes/record.py), for the per-shape passes;
            None before it.
    """
    op: Any
    inputs: tuple
    output: int
    dtype: Any
    shape: Optional[tuple] = None
    control: tuple = ()
    kernel: Optional[Callable] = None
    name: Optional[str] = None
    record: Any = dataclasses.field(default=None, compare=False, repr=False)

    def replace(self, **changes) -> "Step":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class External:
    """A slot no step produces: a feed (by position in the feed keys), a TF1 variable, an
    eager tensor (read each run, so a parameter is referenced, not copied) or a constant."""
    kind: str                 # "feed" | "variable" | "eager" | "const"
    ref: Any                  # feed position, the variable / eager Tensor, or the value
    shape: Optional[tuple]
    dtype: Any
    name: Optional[str] = None


@dataclass(frozen=True)
class Program:
    """Steps in a valid execution order, the slots they read from outside, and the fetches.

    `log` is the passes' report: (pass name, what it changed), in pipeline order.
    """
    steps: tuple
    externals: dict           # slot -> External
    fetches: tuple            # slots returned, in order
    num_slots: int            # every slot is < num_slots; `fresh` hands out new ones
    log: tuple = ()

    def replace(self, **changes) -> "Program":
        return dataclasses.replace(self, **changes)

    def with_steps(self, steps, num_slots: Optional[int] = None, note: Optional[tuple] = None,
                   fetches: Optional[tuple] = None) -> "Program":
        """A new program with these steps (books recomputed); `note` = (pass, message) is
        appended to the log."""
        log = self.log + ((note,) if note is not None else ())
        return Program(tuple(steps), self.externals,
                       self.fetches if fetches is None else tuple(fetches),
                       self.num_slots if num_slots is None else num_slots, log)

    # ---- books -----------------------------------------------------------------------
    @cached_property
    def producer(self) -> dict:
        """slot -> index of the step writing it."""
        return {s.output: n for n, s in enumerate(self.steps)}

    @cached_property
    def readers(self) -> dict:
        """slot -> indices of the steps reading it (as data, in order; a step reading a slot
        twice is listed once)."""
        readers: dict = {}
        for n, s in enumerate(self.steps):
            for i in dict.fromkeys(s.inputs):
                readers.setdefault(i, []).append(n)
        return readers

    @cached_property
    def last_use(self) -> dict:
        """slot -> index of the last step reading it."""
        return {slot: steps[-1] for slot, steps in self.readers.items()}

    @cached_property
    def dead_after(self) -> list:
        """Per step, the slots it reads last and nobody fetches: a runner drops them after it."""
        dead: list = [[] for _ in self.steps]
        fetched = set(self.fetches)
        for slot, n in self.last_use.items():
            if slot not in fetched:
                dead[n].append(slot)
        return [tuple(d) for d in dead]

    def value_of(self, slot: int) -> tuple:
        """(shape, dtype) of a slot, static."""
        if slot in self.externals:
            e = self.externals[slot]
            return e.shape, e.dtype
        s = self.steps[self.producer[slot]]
        return s.shape, s.dtype

    def is_used(self, slot: int) -> bool:
        """Read by a step or fetched."""
        return slot in self.readers or slot in self.fetches

    @cached_property
    def waited_for(self) -> set:
        """Slots some step's control edge names: their steps must stay and run first."""
        return {c for s in self.steps for c in s.control}

    @cached_property
    def _writes(self) -> list:
        """(index, slot) of every step that overwrites an input."""
        return [(n, s.inputs[s.op.writes_input]) for n, s in enumerate(self.steps)
                if getattr(s.op, "writes_input", None) is not None]

    def written_between(self, start: int, stop: int, slots) -> bool:
        """Whether a step between positions `start` and `stop` (either order, both ends
        excluded) overwrites one of `slots`: a read moved across it would see another value
        (an assign to an eager tensor writes its buffer in place)."""
        lo, hi = sorted((start, stop))
        slots = set(slots)
        return any(lo < n < hi and slot in slots for n, slot in self._writes)

    @cached_property
    def written_in_place(self) -> set:
        """Slots a step overwrites (an assign's target, a fused update's weight)."""
        return {s.inputs[s.op.writes_input] for s in self.steps
                if getattr(s.op, "writes_input", None) is not None}

    def made_by(self, slot: int, *op_classes) -> Optional[Step]:
        """The step producing `slot` if its op is one of `op_classes` (any op if none given),
        else None (also for externals): the pattern matcher of the rewrites."""
        n = self.producer.get(slot)
        if n is None:
            return None
        step = self.steps[n]
        return step if not op_classes or isinstance(step.op, op_classes) else None

    def only_reader(self, slot: int) -> Optional[int]:
        """The index of the one step reading `slot`, if exactly one does and it is not
        fetched (so a rewrite may absorb it into that step)."""
        readers = self.readers.get(slot, ())
        return readers[0] if len(readers) == 1 and slot not in self.fetches else None


    # ---- invariants --------------------------------------------------------------------
    def verify(self) -> "Program":
        """Check the IR's invariants; raise `VerifyError` naming the step. Returns self.

        Single assignment (no slot written twice, none both external and produced); every
        read, control edge and fetch refers to a slot produced earlier or external; slots
        are below `num_slots`; each step's declared dtype is what its op infers from its
        inputs' static types (the typecheck)."""
        defined = set(self.externals)
        for slot in self.externals:
            if not 0 <= slot < self.num_slots:
                raise VerifyError(f"external slot {slot} outside 0..{self.num_slots - 1}")
        for n, s in enumerate(self.steps):
            where = f"step {n} ({op_name(s.op)} -> v{s.output})"
            for i in s.inputs:
                if i not in defined:
                    raise VerifyError(f"{where} reads v{i}, which is neither external nor "
                                      f"produced by an earlier step")
            for c in s.control:
                if c not in defined:
                    raise VerifyError(f"{where} has a control edge from v{c}, which no "
                                      f"earlier step produces")
            if s.output in defined:
                raise VerifyError(f"{where} writes v{s.output}, which is already defined")
            if not 0 <= s.output < self.num_slots:
                raise VerifyError(f"{where} writes a slot outside 0..{self.num_slots - 1}")
            _typecheck(self, s, where)
            defined.add(s.output)
        for f in self.fetches:
            if f not in defined:
                raise VerifyError(f"fetch v{f} is never defined")
        return self

    def __str__(self) -> str:
        """A readable listing, one step per line (as a jaxpr prints)."""
        lines = [f"in  v{slot}: {e.kind} {e.name or ''} {e.shape} {getattr(e.dtype, 'name', '')}"
                 for slot, e in sorted(self.externals.items())]
        for s in self.steps:
            args = ", ".join(f"v{i}" for i in s.inputs)
            ctl = f"  after {', '.join(f'v{c}' for c in s.control)}" if s.control else ""
            lines.append(f"v{s.output} = {op_name(s.op)}({args})  "
                         f"# {s.shape} {getattr(s.dtype, 'name', '')}{ctl}")
        lines.append("out " + ", ".join(f"v{f}" for f in self.fetches))
        return "\n".join(lines)


def _typecheck(program: Program, step: Step, where: str) -> None:
    if step.op is None or getattr(step.op, "writes_input", None) is not None:
        return
    try:
        _, dtype = step.op.infer(*[Typed(*program.value_of(i)) for i in step.inputs])
    except Exception:   # ops whose infer reads more than static types are not checked
        return
    if step.dtype is not None and dtype is not None and dtype != step.dtype:
        raise VerifyError(f"{where} declares {step.dtype.name} but its op infers "
                          f"{dtype.name} from its inputs")


def op_name(op) -> str:
    """The name plans, reports and pictures show: `matmul`, `fused[add,mul,add]`."""
    return getattr(op, "name", None) or type(op).__name__


def lower(fetches: list, feed_keys: tuple) -> Program:
    """The Program computing `fetches` given values for `feed_keys`: the nodes they need
    (following control inputs, not looking upstream of a feed), in topological order."""
    stop = {id(k) for k in feed_keys}
    order = topo_sort(fetches, include_control=True, stop=stop)
    slot = {id(n): i for i, n in enumerate(order)}
    feed_position = {id(k): p for p, k in enumerate(feed_keys)}
    externals, steps = {}, []
    for node in order:
        i = slot[id(node)]
        if id(node) in stop:
            externals[i] = External("feed", feed_position[id(node)], node.shape, node.dtype,
                                    node.name)
        elif node.kind == PLACEHOLDER:
            raise FeedError(f"placeholder {node.name} (shape {node.shape}, "
                            f"{node.dtype.name}) must be fed a value in feed_dict: "
                            f"it is needed by the fetches")
        elif node.kind == VARIABLE:
            externals[i] = External("variable", node, node.shape, node.dtype, node.name)
        elif node.kind == EAGER:
            externals[i] = External("eager", node, node.shape, node.dtype)
        else:
            steps.append(Step(node._op, tuple(slot[id(x)] for x in node.inputs), i,
                              node.dtype, node.shape,
                              tuple(slot[id(c)] for c in node.control_inputs),
                              name=node.name))
    return Program(tuple(steps), externals, tuple(slot[id(f)] for f in fetches), len(order))


def literal(program: Program, slot: int):
    """The value of `slot` if it can never change (else None): an eager leaf that needs no
    gradient and holds a read-only array of its own (a Python number in an expression, or a
    value constant folding computed). Other eager tensors are read anew each run."""
    e = program.externals.get(slot)
    if e is None or e.kind != EAGER:
        return None
    return e.ref.array if is_literal(e.ref) else None


def is_literal(t) -> bool:
    """An eager tensor that can never change: no gradient, no history, a read-only array
    of its own (the JIT keys such inputs by value)."""
    arr = t.array
    return not (t.requires_grad or t._op is not None or arr.base is not None or
                arr.flags.writeable)


def rename(steps, mapping: dict) -> list:
    """`steps` reading (and waiting for) `mapping[s]` instead of each slot s in `mapping`:
    how a rewrite makes the users of a replaced value use its replacement. Fetches are
    renamed with `[mapping.get(f, f) for f in fetches]`."""
    if not mapping:
        return list(steps)
    out = []
    for s in steps:
        ins = tuple(mapping.get(i, i) for i in s.inputs)
        ctl = tuple(mapping.get(c, c) for c in s.control)
        out.append(s if ins == s.inputs and ctl == s.control else s.replace(inputs=ins,
                                                                              control=ctl))
    return out


def value_reads(step: Step) -> tuple:
    """The slots a step reads for their values; not those its kernel reads only the shape of
    (ones_like's input, broadcast_to's target, ...)."""
    skip = SHAPE_ONLY.get(type(step.op), ())
    return tuple(i for k, i in enumerate(step.inputs) if k not in skip) if skip else step.inputs


def is_pure(step: Step, program: Program) -> bool:
    """Neither stateful nor writing an input nor ordered by control edges, and its value is
    not overwritten later: it depends on its inputs' values alone, so a rewrite may compute
    it once, share it, replace it or remove it."""
    return (not getattr(step.op, "stateful", False) and step.kernel is None
            and getattr(step.op, "writes_input", None) is None and not step.control
            and step.output not in program.written_in_place)
