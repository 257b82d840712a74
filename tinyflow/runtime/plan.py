"""A plan: the executor of the compiled program for some fetches given some feed keys.

Built once per (fetches, feed keys): lowering and the graph rewrites (`passes.optimize`).
For each set of feed shapes a planned run (the default) then runs the per-shape pipeline
(`passes.plan_for_shapes`: recording, folding, fused updates, scheduling, buffers,
recomputation under a budget), binds the kernels that write variables, and runs the code
`passes.codegen` generates. `planned=False` keeps the plain loop over the rewritten program as
the reference the tests compare against. What a plan owns: the loads (feeds, variables,
eager tensors) and the variables' arrays its assigns write.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .. import passes
from ..backend.numpy.registry import KERNELS
from ..core.errors import UninitializedVariableError
from ..core.op import kernel_error
from ..ops.dataset import host_states
from ..ops.linalg import MatMul
from ..ops.state import Assign, FusedUpdate
from ..passes import lower
from ..passes.memory import MemoryStats, writes_in_place
from ..passes.program import op_name
from ..passes.report import PlanReport, kernel_costs, pass_notes


class MemoryBudgetError(MemoryError):
    """The planned peak of a plan exceeds the session's memory budget."""


@dataclass
class Compiled:
    """A plan for one set of feed shapes: the generated `run`, its memory, which fetches to
    copy before handing them out, and the program it runs."""
    run: object
    stats: MemoryStats
    copy: list
    program: passes.Program
    buffers: object = None    # the buffer plan (a profile regenerates the code with it)


class Plan:
    """Compiled execution of `fetches` given values for `feed_keys`.

    Args:
        fetches: tensors whose values `run` returns (control-only nodes give None).
        feed_keys: tensors whose values are supplied at run time; nothing upstream of them runs.
        variables: the session's variable store (TF1 variable -> array), read and written.
        planned: run the per-shape pipeline and generated code (else the plain loop).
        memory_budget: bytes the planned peak may not exceed (None: no limit).
        optimize: run the graph rewrites (`passes.REWRITES`); False keeps the graph as written.
        skip: names of rewrites left out (the JIT's search tries plans without some).
        writes: (fetch index, eager tensor) pairs: the caller stores that fetch into that
            tensor, so the planned run may compute it into the tensor's own array (then
            the fetch is that array; passes/write_state.py).
    """

    def __init__(self, fetches: list, feed_keys: tuple, variables: dict, planned: bool = True,
                 memory_budget=None, optimize: bool = True, skip=(), writes=()) -> None:
        program = lower(fetches, feed_keys)
        if optimize:
            program = passes.optimize(program, skip=skip)
        self.program = program
        self.steps = program.steps
        self.num_slots = program.num_slots
        self.fetch_slots = list(program.fetches)
        # A shape read from data (passes/fold_shapes.shapes_from_values) is not fixed by the
        # feed shapes the compiled plans are keyed on: such a program runs the plain loop.
        self.planned = planned and not passes.shapes_from_values(program)
        self.memory_budget = memory_budget
        self._source = (list(fetches), tuple(feed_keys), optimize, skip)   # for report()
        self._variables = variables
        self._compiled: dict[tuple, Compiled] = {}   # feed-shape signature -> compiled
        self._owned: dict = {}    # variable -> the array this plan's assigns write in place

        self.feed_slots = [None] * len(feed_keys)
        self.variable_loads, self.eager_loads, self.const_loads = [], [], []
        read = set(program.fetches)
        for step in program.steps:
            target = step.op.writes_input if isinstance(step.op, Assign) else None
            read.update(i for k, i in enumerate(step.inputs) if k != target)
        for i, ext in program.externals.items():
            if ext.kind == "feed":
                self.feed_slots[ext.ref] = i
            elif ext.kind == "variable":
                if i in read:
                    self.variable_loads.append((i, ext.ref))
            elif ext.kind == "eager":
                self.eager_loads.append((i, ext.ref))
            elif ext.kind == "const":
                self.const_loads.append((i, ext.ref))
            else:
                raise NotImplementedError(f"external of kind {ext.kind}")
        self._copy_fetch = [program.externals.get(s) is not None and
                            program.externals[s].kind != "feed"
                            for s in self.fetch_slots]           # never hand out state
        self._shaped = [s for s, _ in self.variable_loads + self.eager_loads] + [
            s for s in self.feed_slots if s is not None]   # their shapes key the buffers
        self._host_states = host_states(program.steps)     # and the next tf.data elements'
        eager_slot = {id(t): s for s, t in self.eager_loads}
        self._writes = {self.fetch_slots[k]: eager_slot[id(t)] for k, t in writes
                        if id(t) in eager_slot}    # fetched slot -> slot of its tensor
        self._reference = [self._reference_kernel(s) for s in program.steps]
        self._writes_nothing = not any(        # no assign, update, random draw, amax history
            s.op.stateful or getattr(s.op, "writes_input", None) is not None
            for s in program.steps)

    # ---- running -------------------------------------------------------------------------
    def run(self, feed_values: list) -> list:
        if not self.planned:
            return self._run_reference(feed_values)
        values = self._load(feed_values)
        key = self._shape_key(values)
        compiled = self._compiled.get(key)
        if compiled is None:
            # A program that writes nothing hands out its recording run's values: the
            # first call of a new shape runs the kernels once, not twice.
            fetched = [] if self._writes_nothing else None
            compiled = self._compiled[key] = self._compile(values, fetched)
            if fetched is not None:
                return [_fetched(v, c) for v, c in zip(fetched, compiled.copy)]
        return [_fetched(v, c) for v, c in zip(compiled.run(values), compiled.copy)]

    def _shape_key(self, values: list) -> tuple:
        key = tuple([values[s].shape for s in self._shaped])
        if self._host_states:
            return key + tuple(h.shape_key() for h in self._host_states)
        return key

    def _compiled_for(self, values: list) -> Compiled:
        key = self._shape_key(values)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(values)
        return compiled

    def _compile(self, values: list, fetched: list = None) -> Compiled:
        """The per-shape pipeline, the budget check, the kernels bound, the code generated
        (`fetched` receives the recording run's fetched values)."""
        program, buffers = passes.plan_for_shapes(self.program, values, self.memory_budget,
                                                  self._writes, fetched)
        budget = self.memory_budget
        if budget is not None and buffers.stats.peak_bytes > budget:
            raise MemoryBudgetError(
                f"the plan for {len(self.fetch_slots)} fetch(es) needs a planned peak of "
                f"{buffers.stats.peak_bytes} bytes of intermediate values, over the "
                f"session's memory budget of {budget} bytes")
        run = passes.codegen(self._bind(program), buffers)
        copy = [a or b for a, b in zip(buffers.fetch_copy, self._copy_fetch)]
        return Compiled(run, buffers.stats, copy, program, buffers)

    def _load(self, feed_values: list) -> list:
        values = [None] * self.num_slots
        for s, v in zip(self.feed_slots, feed_values):
            if s is not None:
                values[s] = v
        variables = self._variables
        for s, var in self.variable_loads:
            try:
                values[s] = variables[var]
            except KeyError:
                raise UninitializedVariableError(
                    f"uninitialized variable {var.name} is read before its initializer "
                    f"ran; run tf.global_variables_initializer() first") from None
        for s, t in self.eager_loads:
            values[s] = t.array
        for s, value in self.const_loads:
            values[s] = value
        return values

    def _run_reference(self, feed_values: list) -> list:
        """The plain loop: fresh arrays from every kernel, each dropped after its last use."""
        values = self._load(feed_values)
        for step, kernel, dead in zip(self.steps, self._reference, self.program.dead_after):
            args = [values[i] for i in step.inputs]
            try:
                result = kernel(step.op, *args)
            except (ValueError, TypeError, IndexError) as e:   # a symbolic size, fed wrong
                raise kernel_error(step.op, args, e) from None
            if step.dtype is not None and result.dtype != step.dtype.np:
                result = result.astype(step.dtype.np)
            values[step.output] = result
            for i in dead:
                values[i] = None
        return [_fetched(values[s], copy) for s, copy in zip(self.fetch_slots, self._copy_fetch)]

    # ---- inspection ----------------------------------------------------------------------
    def memory(self, feed_values: list = None) -> MemoryStats:
        """Planned peak bytes for these feeds (default: the last compiled feed shapes), found
        by a recording run that writes no state; call before running to check a budget."""
        if feed_values is None:
            if self._compiled:
                return next(reversed(self._compiled.values())).stats
            if any(s is not None for s in self.feed_slots):
                raise ValueError("memory() needs feed values the first time")
            feed_values = []
        return self._compiled_for(self._load(feed_values)).stats

    def kernels(self, feed_values: list) -> list:
        """The op names of the kernels a run with these feeds executes, in order."""
        if not self.planned:
            return [op_name(s.op) for s in self.steps]
        return [op_name(s.op) for s in self._compiled_for(self._load(feed_values)).program.steps]

    def report(self, feed_values: list) -> PlanReport:
        """What the passes changed, and per kernel FLOPs, bytes moved and arithmetic intensity
        with the rewrites and without (the same fetches planned with `optimize=False` and no
        memory budget), for these feeds. Compiles (a recording run, no state written) but
        runs nothing."""
        fetches, feed_keys, optimized, skip = self._source
        before = Plan(fetches, feed_keys, self._variables, optimize=False)
        after = self._compiled_for(self._load(feed_values)).program
        rewrites = [name for name, _ in passes.REWRITES if name not in skip] if optimized \
            else []
        return PlanReport(pass_notes(after, rewrites),
                          kernel_costs(before._compiled_for(before._load(feed_values)).program),
                          kernel_costs(after))

    def profile(self, feed_values: list, runs: int = 5, clock=time.perf_counter) -> list:
        """(op name, output shape, seconds, FLOPs) of each kernel of the planned program for these
        feeds, in execution order: the least of `runs` runs of a timed copy of the generated
        code (the least: what other processes' load inflates least; `clock=time.process_time`
        times CPU rather than wall time). The runs are real: they write state (a training
        step steps)."""
        compiled = self._compiled_for(self._load(feed_values))
        timings = [0.0] * len(compiled.program.steps)
        best = [float("inf")] * len(timings)
        run = passes.codegen(self._bind(compiled.program), compiled.buffers, timings, clock)
        for _ in range(runs):
            run(self._load(feed_values))
            best = [min(b, t) for b, t in zip(best, timings)]
            timings[:] = [0.0] * len(timings)
        return [(op_name(s.op), s.record.shape, t, s.record.flops)
                for s, t in zip(compiled.program.steps, best)]

    # ---- kernels that write variables ----------------------------------------------------
    def _variable_written(self, step, program):
        """The TF1 variable `step` writes, if it writes one."""
        w = getattr(step.op, "writes_input", None)
        target = None if w is None else program.externals.get(step.inputs[w])
        return target.ref if target is not None and target.kind == "variable" else None

    def _reference_kernel(self, step):
        """The reference loop's kernel: an assign to a variable stores the value (a copy when
        it is a feed, a variable or a constant: the store never aliases them)."""
        target = self._variable_written(step, self.program)
        if target is None:
            return step.kernel or KERNELS[type(step.op)]
        store = self._variables
        if not isinstance(step.op, Assign):     # computed from the old value, on a copy
            kernel = step.kernel or KERNELS[type(step.op)]

            def write_variable(op, old, *args):
                value = store[target] = kernel(op, np.array(old), *args)
                return value
            return write_variable
        copy = step.inputs[1] in self.program.externals

        def assign_variable(op, _old, value):
            value = np.array(value) if copy else np.asarray(value)
            store[target] = value
            return value
        return assign_variable

    def _bind(self, program):
        """`program` with kernels for the steps writing variables: in place into the
        variable's own array where `writes_in_place` allows, else into a new array."""
        in_place = writes_in_place(program)
        steps = []
        for step in program.steps:
            target = self._variable_written(step, program)
            if target is not None:
                bind = self._assign_into if isinstance(step.op, Assign) else self._update_into
                step = step.replace(kernel=bind(target, step.output in in_place))
            steps.append(step)
        return program.with_steps(steps)

    def _assign_into(self, target, in_place: bool):
        """Copies into the variable's own array when nothing reads the old value later in the
        run (values may live in reused buffers, so they are never stored as is)."""
        store, owned = self._variables, self._owned

        def assign_variable(op, _old, value):
            current = store.get(target)
            if (in_place and current is not None and owned.get(target) is current
                    and current.shape == np.shape(value)):
                np.copyto(current, value)
                return current
            current = store[target] = owned[target] = np.array(value, dtype=target.dtype.np)
            return current
        return assign_variable

    def _update_into(self, target, in_place: bool):
        """A `FusedUpdate` of a variable: block by block into its own array where it may, else
        (first run, or the product reads the variable) as the separate steps would, into a
        new array."""
        store, owned = self._variables, self._owned
        fused, product = KERNELS[FusedUpdate], KERNELS[MatMul]

        def fused_update(op, w, a, b, lr, out=None):
            current = store.get(target)
            if (in_place and current is w and owned.get(target) is current
                    and not np.may_share_memory(a, w) and not np.may_share_memory(b, w)):
                return fused(op, w, a, b, lr, out=out)
            g = product(op, a, b)
            value = w - (np.multiply(lr, g) if op.lr_first else np.multiply(g, lr))
            current = store[target] = owned[target] = np.array(value, dtype=target.dtype.np)
            return current
        return fused_update


def _fetched(value, copy: bool):
    """What `Session.run` hands out: NumPy scalars for 0-d values (as TF1), arrays otherwise."""
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return value[()]
        return np.array(value) if copy else value
    return value
