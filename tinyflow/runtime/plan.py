"""A plan: the nodes a set of fetches needs, in order, as a flat list of kernel calls over
numbered value slots. Built once per (fetches, feed keys); running it does no graph walking
and no dictionary look-ups per op, and drops each value after its last use."""
from __future__ import annotations

import numpy as np

from ..backend.numpy.registry import KERNELS
from ..core.errors import FeedError, UninitializedVariableError
from ..core.graph import topo_sort
from ..core.tensor import EAGER, PLACEHOLDER, VARIABLE, Tensor


class Plan:
    """Compiled execution of `fetches` given values for `feed_keys`.

    Args:
        fetches: tensors whose values `run` returns (control-only nodes give None).
        feed_keys: tensors whose values are supplied at run time; nothing upstream of them runs.
        variables: the session's variable store (TF1 variable -> array), read and written.
    """

    def __init__(self, fetches: list, feed_keys: tuple, variables: dict) -> None:
        stop = {id(k) for k in feed_keys}
        order = topo_sort(fetches, include_control=True, stop=stop)
        slot = {id(n): i for i, n in enumerate(order)}
        self.num_slots = len(order)
        self.feed_slots = [slot.get(id(k)) for k in feed_keys]
        self.fetch_slots = [slot[id(f)] for f in fetches]
        self.variable_loads: list[tuple[int, Tensor]] = []
        self.eager_loads: list[tuple[int, Tensor]] = []
        self.steps: list[tuple] = []
        self._variables = variables

        read = _read_ids(order, fetches)
        for node in order:
            i = slot[id(node)]
            if id(node) in stop:
                continue
            if node.kind == PLACEHOLDER:
                raise FeedError(f"placeholder {node.name} (shape {node.shape}, "
                                f"{node.dtype.name}) must be fed a value in feed_dict: "
                                f"it is needed by the fetches")
            if node.kind == VARIABLE:
                if id(node) in read:
                    self.variable_loads.append((i, node))
            elif node.kind == EAGER:
                self.eager_loads.append((i, node))
            else:
                ins = tuple(slot[id(x)] for x in node.inputs)
                self.steps.append((self._kernel_for(node), node.op, ins, i, node.dtype))
        self._free_after = _last_uses(self.steps, set(self.fetch_slots))
        loaded = {s for s, _ in self.variable_loads + self.eager_loads}
        self._copy_fetch = [s in loaded for s in self.fetch_slots]  # never hand out state

    def _kernel_for(self, node: Tensor):
        writes = getattr(node.op, "writes_input", None)
        if writes is not None and node.inputs[writes].kind == VARIABLE:
            target = node.inputs[writes]
            copy = node.inputs[1 - writes].kind != "node"  # never alias a feed or a variable
            store = self._variables

            def assign_variable(op, _old, value):
                value = np.array(value) if copy else np.asarray(value)
                store[target] = value
                return value
            return assign_variable
        return KERNELS[type(node.op)]

    def run(self, feed_values: list) -> list:
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
        for (kernel, op, ins, out, dtype), free in zip(self.steps, self._free_after):
            result = kernel(op, *[values[i] for i in ins])
            if dtype is not None and result.dtype != dtype.np:
                result = result.astype(dtype.np)
            values[out] = result
            for i in free:
                values[i] = None
        return [_fetched(values[s], copy) for s, copy in zip(self.fetch_slots, self._copy_fetch)]


def _fetched(value, copy: bool):
    """What `Session.run` hands out: NumPy scalars for 0-d values (as TF1), arrays otherwise."""
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return value[()]
        return np.array(value) if copy else value
    return value


def _read_ids(order: list, fetches: list) -> set:
    """Ids of the tensors whose value is read (as opposed to only assigned to)."""
    read = {id(f) for f in fetches}
    for node in order:
        if node.op is None:
            continue
        writes = getattr(node.op, "writes_input", None)
        for k, x in enumerate(node.inputs):
            if k != writes:
                read.add(id(x))
    return read


def _last_uses(steps: list, keep: set) -> list:
    """For each step, the slots whose last reader it is (and that are not fetched)."""
    last: dict[int, int] = {}
    for n, (_, _, ins, _, _) in enumerate(steps):
        for i in ins:
            last[i] = n
    free: list[list[int]] = [[] for _ in steps]
    for i, n in last.items():
        if i not in keep:
            free[n].append(i)
    return [tuple(f) for f in free]
