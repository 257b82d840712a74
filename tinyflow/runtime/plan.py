"""A plan: the nodes a set of fetches needs, in order, as a flat list of kernel calls over
numbered value slots. Built once per (fetches, feed keys); running it does no graph walking
and no dictionary look-ups per op, and drops each value after its last use.

A planned run (the default) also records one execution per feed-shape signature, assigns
preallocated buffers by liveness (`memory.py`) and runs generated straight-line code
(`codegen.py`) whose kernels write into them; `planned=False` keeps the plain loop as the
reference the tests compare against.
"""
from __future__ import annotations

import numpy as np

from ..backend.numpy.linalg import subtract_product_blocks
from ..backend.numpy.registry import KERNELS, SHAPE_ONLY
from .. import passes
from ..core.errors import UninitializedVariableError
from ..core.random import generator
from ..core.tensor import Tensor
from ..passes import lower
from .checkpoint import forward_flops, recompute, segmentations, step_flops
from .codegen import compile_run
from .fusion import fuse_updates
from .memory import MemoryStats, Record, plan_buffers, value_reads
from .schedule import dependencies, greedy_orders, state_dependencies


_FOLD_BYTES = 1 << 16   # larger shape-only constants are recomputed (they would pin memory)


class MemoryBudgetError(MemoryError):
    """The planned peak of a plan exceeds the session's memory budget."""


class Plan:
    """Compiled execution of `fetches` given values for `feed_keys`.

    Args:
        fetches: tensors whose values `run` returns (control-only nodes give None).
        feed_keys: tensors whose values are supplied at run time; nothing upstream of them runs.
        variables: the session's variable store (TF1 variable -> array), read and written.
        planned: preallocate buffers by liveness and run generated code (else the plain loop).
        memory_budget: bytes the planned peak may not exceed (None: no limit).
        optimize: run the graph rewrites (`passes.REWRITES`); False keeps the graph as written.
    """

    def __init__(self, fetches: list, feed_keys: tuple, variables: dict, planned: bool = True,
                 memory_budget=None, optimize: bool = True) -> None:
        program = lower(fetches, feed_keys)
        if optimize:
            program = passes.optimize(program)
        self.program = program
        self.num_slots = program.num_slots
        self.feed_slots = [None] * len(feed_keys)
        self.fetch_slots = list(program.fetches)
        self.variable_loads: list[tuple[int, Tensor]] = []
        self.eager_loads: list[tuple[int, Tensor]] = []
        self._variables = variables
        self.planned = planned
        self.memory_budget = memory_budget
        self._compiled: dict[tuple, tuple] = {}   # feed-shape signature -> (run, stats, copy)
        self._owned: dict = {}    # variable -> the array this plan's assigns write in place
        self._targets: dict = {}  # step index of a planned assign -> its variable

        read = set(program.fetches)
        for step in program.steps:
            writes = getattr(step.op, "writes_input", None)
            read.update(i for k, i in enumerate(step.inputs) if k != writes)
        for i, ext in program.externals.items():
            if ext.kind == "feed":
                self.feed_slots[ext.ref] = i
            elif ext.kind == "variable":
                if i in read:
                    self.variable_loads.append((i, ext.ref))
            elif ext.kind == "eager":
                self.eager_loads.append((i, ext.ref))
            else:
                raise NotImplementedError(f"external of kind {ext.kind}")
        self.steps: list[tuple] = [(self._kernel_for(s, program), s.op, s.inputs, s.output,
                                    s.dtype) for s in program.steps]
        self._control: list[tuple] = [s.control for s in program.steps]
        self._free_after = _last_uses(self.steps, set(self.fetch_slots))
        loaded = {s for s, _ in self.variable_loads + self.eager_loads}
        self._copy_fetch = [s in loaded for s in self.fetch_slots]  # never hand out state
        produced = {s[3] for s in self.steps}
        self._external = sorted(s for s in range(self.num_slots) if s not in produced)
        self._shaped = [s for s, _ in self.variable_loads + self.eager_loads] + [
            s for s in self.feed_slots if s is not None]   # their shapes key the buffers
        self._in_place = [False] * len(self.steps)
        if planned:
            self._plan_assigns()

    def _kernel_for(self, step, program):
        writes = getattr(step.op, "writes_input", None)
        target = None if writes is None else program.externals.get(step.inputs[writes])
        if target is not None and target.kind == "variable":
            source = program.externals.get(step.inputs[1 - writes])
            copy = source is not None     # never alias a feed, a variable or a constant
            target = target.ref
            store = self._variables

            def assign_variable(op, _old, value):
                value = np.array(value) if copy else np.asarray(value)
                store[target] = value
                return value
            assign_variable.target = target
            return assign_variable
        return step.kernel or KERNELS[type(step.op)]

    def _plan_assigns(self) -> None:
        """Planned assigns copy into the variable's own array when nothing reads the old value
        later in the run (values may live in reused buffers, so they are never stored as is);
        `_compile` decides which may, once it knows what aliases what."""
        for n, (kernel, op, ins, out, dtype) in enumerate(self.steps):
            target = getattr(kernel, "target", None)
            if target is not None:
                self.steps[n] = (self._assign_into(target, n), op, ins, out, dtype)

    def _assign_into(self, target: Tensor, n: int):
        store, owned, in_place = self._variables, self._owned, self._in_place
        self._targets[n] = target

        def assign_variable(op, _old, value):
            current = store.get(target)
            if (in_place[n] and current is not None and owned.get(target) is current
                    and current.shape == np.shape(value)):
                np.copyto(current, value)
                return current
            current = store[target] = owned[target] = np.array(value, dtype=target.dtype.np)
            return current
        return assign_variable

    def _update_into(self, n: int, matmul_kernel):
        """Kernel of a `FusedUpdate` replacing the assign at step n: block by block into the
        variable's own array where the assign could write in place, else (first run, or the
        product reads the variable) as the separate steps would, into a new array."""
        target = self._targets.get(n)
        if target is None:
            return None
        store, owned, in_place = self._variables, self._owned, self._in_place

        def fused_update(op, w, a, b, lr, out):
            current = store.get(target)
            if (in_place[n] and current is w and owned.get(target) is current
                    and not np.may_share_memory(a, w) and not np.may_share_memory(b, w)):
                subtract_product_blocks(op.matmul, w, a, b, lr, out, op.lr_first)
                return w
            g = matmul_kernel(op.matmul, a, b)
            value = w - (np.multiply(lr, g) if op.lr_first else np.multiply(g, lr))
            current = store[target] = owned[target] = np.array(value, dtype=target.dtype.np)
            return current
        return fused_update

    def run(self, feed_values: list) -> list:
        if not self.planned:
            return self._run_reference(feed_values)
        values = self._load(feed_values)
        key = tuple([values[s].shape for s in self._shaped])
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(values)
        run, _, copy = compiled
        return [_fetched(v, c) for v, c in zip(run(values), copy)]

    def memory(self, feed_values: list = None) -> MemoryStats:
        """Planned peak bytes for these feeds (default: the last compiled feed shapes), found
        by a recording run that writes no state; call before running to check a budget."""
        if feed_values is None:
            if not self._compiled:
                feed_values = []
                if any(s is not None for s in self.feed_slots):
                    raise ValueError("memory() needs feed values the first time")
            else:
                return next(reversed(self._compiled.values()))[1]
        values = self._load(feed_values)
        key = tuple([values[s].shape for s in self._shaped])
        if key not in self._compiled:
            self._compiled[key] = self._compile(values)
        return self._compiled[key][1]

    def _compile(self, values: list) -> tuple:
        """Record one side-effect-free execution, pick the order with the smallest planned
        peak, plan its buffers, check the budget, generate its code."""
        folded: dict = {}
        records = self._record(list(values), folded)
        keep = [k for k, s in enumerate(self.steps) if s[3] not in folded]
        all_steps, records = [self.steps[k] for k in keep], [records[k] for k in keep]
        external = set(self._external) | set(folded)
        state = {s for s, _ in self.variable_loads + self.eager_loads} | set(folded)
        control = [self._control[k] for k in keep]
        all_steps, records, control, keep = fuse_updates(
            all_steps, records, control, keep, self.fetch_slots,
            {s: folded[s] if s in folded else values[s] for s in external}, self._update_into)
        order, steps, recs, bp, in_place = self._choose(all_steps, records, control, keep,
                                                        external, state)
        bp.stats.flops = sum(r.flops for r in recs)
        bp.stats.forward_flops = forward_flops(steps, recs)
        budget = self.memory_budget
        if budget is not None and bp.stats.peak_bytes > budget:   # then recompute
            # in the best order found, so that "late" means late in that order
            origin = [keep[k] for k in order]
            control = [control[k] for k in order]
            best = None
            for lengths in segmentations(steps, recs):
                new_steps, new_recs, new_control, source = recompute(
                    steps, recs, control, external, self.fetch_slots, self.num_slots, lengths)
                if source.count(None) == 0:
                    continue
                new_origin = [None if k is None else origin[k] for k in source]
                choice = self._choose(new_steps, new_recs, new_control, new_origin,
                                      external, state)
                choice[3].stats.recomputed_steps = source.count(None)
                choice[3].stats.recomputed_flops = sum(
                    r.flops for r, k in zip(new_recs, source) if k is None)
                if best is None or _cost(choice[3].stats, budget) < _cost(best[3].stats, budget):
                    best = choice
            if best is not None and best[3].stats.peak_bytes < bp.stats.peak_bytes:
                flops = bp.stats.flops, bp.stats.forward_flops
                order, steps, recs, bp, in_place = best
                bp.stats.flops, bp.stats.forward_flops = flops
        for k, flag in in_place.items():
            self._in_place[k] = flag
        if budget is not None and bp.stats.peak_bytes > budget:
            raise MemoryBudgetError(
                f"the plan for {len(self.fetch_slots)} fetch(es) needs a planned peak of "
                f"{bp.stats.peak_bytes} bytes of intermediate values, over the session's "
                f"memory budget of {budget} bytes")
        arena = np.empty(bp.buffers[0], np.uint8)
        buffers = [None if o is None else
                   arena[o:o + r.nbytes].view(r.dtype).reshape(r.shape)
                   for o, r in zip(bp.out_buffer, recs)]   # each step's view of the arena
        pooled = {steps[n][3] for n, b in enumerate(bp.out_buffer) if b is not None}
        free = [tuple(s for s in f if s not in pooled)
                for f in _last_uses(steps, set(self.fetch_slots), value_reads)]
        run = compile_run(steps, bp.out_buffer, recs, self._external, folded,
                          self.fetch_slots, free, buffers)
        copy = [a or b for a, b in zip(bp.fetch_copy, self._copy_fetch)]
        return run, bp.stats, copy

    def _choose(self, all_steps, records, control, origin, external, state) -> tuple:
        """The candidate order with the smallest planned peak, its buffers, and which assigns
        may then write in place, by index in `self.steps` (`origin`: each step's index
        there, or None for a recomputed copy)."""
        extra, readers, fetched = state_dependencies(all_steps, records, control,
                                                     self.fetch_slots)
        deps = dependencies(all_steps, extra)
        best = None
        candidates = [list(range(len(all_steps)))]
        candidates += greedy_orders(all_steps, records, deps, self.fetch_slots)
        for order in candidates:
            steps = [all_steps[k] for k in order]
            recs = [records[k] for k in order]
            bp = plan_buffers(steps, recs, self.fetch_slots, external, state)
            if best is None or bp.stats.peak_bytes < best[3].stats.peak_bytes:
                best = (order, steps, recs, bp)
        order, steps, recs, bp = best
        position = {k: p for p, k in enumerate(order)}
        in_place = {}
        for k, (_, op, ins, _, _) in enumerate(all_steps):
            w = getattr(op, "writes_input", None)
            if w is not None and origin[k] is not None:
                t = ins[w]
                in_place[origin[k]] = t not in fetched and all(
                    position[m] < position[k] for m in readers[t] if m != k)
        return order, steps, recs, bp, in_place

    def _record(self, values: list, folded: dict) -> list:
        """Run the steps once, writing no variable and no random state, noting each result's
        shape, dtype and aliasing. Small values that depend only on shapes (counts, gradient
        seeds) are constant for a feed-shape signature: they go into `folded`."""
        rng = generator().bit_generator
        saved = rng.state
        records = []
        constant = {s for s in self._external if passes.literal(self.program, s) is not None}
        fetched = set(self.fetch_slots)
        try:
            for (kernel, op, ins, out, dtype), free in zip(self.steps, self._free_after):
                args = [values[i] for i in ins]
                writes = getattr(op, "writes_input", None)
                result = args[1 - writes] if writes is not None else kernel(op, *args)
                cast = dtype is not None and hasattr(result, "dtype") and \
                    result.dtype != dtype.np
                if cast:
                    result = result.astype(dtype.np)
                values[out] = result
                aliases = () if writes is not None else tuple(
                    i for i in ins if isinstance(values[i], np.ndarray)
                    and isinstance(result, np.ndarray) and np.may_share_memory(values[i], result))
                is_array = isinstance(result, np.ndarray)
                dummies = {k: _stand_in(args[k]) for k in SHAPE_ONLY.get(type(op), ())}
                records.append(Record(
                    shape=result.shape if is_array else None,
                    dtype=result.dtype if is_array else None,
                    nbytes=result.nbytes if is_array and writes is None else 0, cast=cast,
                    aliases=aliases, dummies=dummies,
                    flops=0 if writes is not None else step_flops(op, args, result)))
                if (writes is None and not op.stateful and out not in fetched
                        and all(i in constant for i in value_reads(op, ins))):
                    constant.add(out)
                    if aliases or not is_array or result.nbytes <= _FOLD_BYTES:
                        folded[out] = result
                for i in free:
                    values[i] = None
        finally:
            rng.state = saved
        return records

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
                    f"attempting to use uninitialized variable {var.name}: run its "
                    f"initializer (tf.global_variables_initializer()) first") from None
        for s, t in self.eager_loads:
            values[s] = t.array
        return values

    def _run_reference(self, feed_values: list) -> list:
        """The plain loop: fresh arrays from every kernel, each dropped after its last use."""
        values = self._load(feed_values)
        for (kernel, op, ins, out, dtype), free in zip(self.steps, self._free_after):
            result = kernel(op, *[values[i] for i in ins])
            if dtype is not None and result.dtype != dtype.np:
                result = result.astype(dtype.np)
            values[out] = result
            for i in free:
                values[i] = None
        return [_fetched(values[s], copy) for s, copy in zip(self.fetch_slots, self._copy_fetch)]


def _cost(stats: MemoryStats, budget: int) -> tuple:
    """Which recomputation to keep: the least extra compute within the budget, else the
    smallest peak."""
    if stats.peak_bytes <= budget:
        return (0, stats.recomputed_flops, stats.peak_bytes)
    return (1, stats.peak_bytes, stats.recomputed_flops)


def _fetched(value, copy: bool):
    """What `Session.run` hands out: NumPy scalars for 0-d values (as TF1), arrays otherwise."""
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return value[()]
        return np.array(value) if copy else value
    return value


def _stand_in(value):
    """An array of value's shape and dtype that takes no memory, for shape-only inputs."""
    arr = np.asarray(value)
    return np.broadcast_to(np.zeros((), arr.dtype), arr.shape)


def _last_uses(steps: list, keep: set, reads=lambda op, ins: ins) -> list:
    """For each step, the slots whose last reader it is (and that are not fetched)."""
    last: dict[int, int] = {}
    for n, (_, op, ins, _, _) in enumerate(steps):
        for i in reads(op, ins):
            last[i] = n
    free: list[list[int]] = [[] for _ in steps]
    for i, n in last.items():
        if i not in keep:
            free[n].append(i)
    return [tuple(f) for f in free]
