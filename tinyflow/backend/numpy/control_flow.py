"""while_loop kernels: a small interpreter runs the condition's and body's sub-programs
node by node (each node's own kernel), and the loops around it."""
from __future__ import annotations

import numpy as np

from ...core.shapes import is_compatible
from ...core.tensor import EAGER
from ...ops import control_flow as cf
from .registry import KERNELS, kernel
from .tensor_array import own


def run_subprogram(sub: cf.Subprogram, values: dict, what: str) -> list:
    """The outputs of `sub` with `values` (id(tensor) -> array: its parameters and the
    captures) bound; `values` also receives every node's value."""
    for node in sub.order:
        op = node._op
        args = [_value(x, values) for x in node.inputs]
        try:
            result = KERNELS[type(op)](op, *args)
        except Exception as e:
            raise type(e)(f"while_loop {what}: {op.name} ({node.name}) failed: {e}") from e
        if node.dtype is not None and (not isinstance(result, np.ndarray)
                                       or result.dtype != node.dtype.np):
            result = np.asarray(result, dtype=node.dtype.np)
        values[id(node)] = result
    return [None if t is None else _value(t, values) for t in sub.outputs]


def _value(t, values: dict):
    value = values.get(id(t), _MISSING)
    if value is not _MISSING:
        return value
    if t.kind == EAGER:
        return t.array
    raise RuntimeError(f"while_loop: {t.name} has no value inside the loop (a tensor made "
                       f"by another loop's body?)")


_MISSING = object()


def _bind(params, arrays, values: dict) -> dict:
    for p, a in zip(params, arrays):
        values[id(p)] = a
    return values


def _check_trip(op: cf.WhileLoop, new: list, trip: int) -> None:
    """The body kept every loop variable's dtype and shape invariant."""
    for k, (a, (shape, dtype)) in enumerate(zip(new, op.invariants)):
        if a.dtype != dtype.np or not is_compatible(shape, a.shape):
            raise ValueError(f"while_loop: after trip {trip} the body made loop variable {k} "
                             f"{a.dtype.name} of shape {list(a.shape)}, but its invariant is "
                             f"{dtype.name} of shape {shape} (give shape_invariants to let a "
                             f"dimension change)")


@kernel(cf.WhileLoop)
def while_loop(op, *inputs):
    n, m = len(op.invariants), len(op.captures)
    state, outer = list(inputs[:n]), inputs[n:n + m]
    limit = int(inputs[-1]) if op.bounded else None
    captured = _bind(op.captures, outer, {})
    iterates, kept = ([state], []) if op.keep_iterates else (None, None)
    if op.owned:   # (the kept first iterate keeps the input arrays)
        state = [own(a) if k in op.owned else a for k, a in enumerate(state)]
    trips = 0
    while limit is None or trips < limit:
        go, = run_subprogram(op.cond, _bind(op.cond.params, state, dict(captured)), "cond")
        if not bool(go):
            break
        values = _bind(op.body.params, state, dict(captured))
        state = run_subprogram(op.body, values, "body")
        trips += 1
        _check_trip(op, state, trips)
        if iterates is not None:
            iterates.append(state)
            kept.append([values[id(node)] for node in op.kept])
    # The iterates hold the loop's input arrays (the initial values, the captures):
    # `while_loop_grad` takes those as inputs, so a planned run keeps them unchanged for it.
    if op.owned:   # plain arrays out: the loop's own buffers stay inside it
        state = [np.asarray(a) for a in state]
    return cf.LoopResult(state, iterates, kept, outer if op.keep_iterates else None)


@kernel(cf.LoopVar)
def loop_var(op, result, *inputs):
    return result.final[op.index]


@kernel(cf.WhileLoopGrad)
def while_loop_grad(op, result, *inputs):
    """Backpropagation through the kept iterates: adjoints of the loop variables flow from
    the last trip to the first; the captures' adjoints are summed over the trips."""
    floating = op.floating
    adjoints = {k: np.zeros_like(result.final[k]) for k in floating}
    for k, g in zip(op.indices, inputs[len(inputs) - len(op.indices):]):
        adjoints[k] = np.asarray(g, dtype=result.final[k].dtype)
    captured = _bind(op.captures, inputs[:len(op.captures)], {})   # (then the loop's inputs)
    totals = [None] * len(op.wrt)
    sub = op.backward
    for state, drawn in zip(reversed(result.iterates[:-1]), reversed(result.kept)):
        values = _bind(sub.params, [*state, *(adjoints[k] for k in floating), *drawn],
                       dict(captured))
        grads = run_subprogram(sub, values, "gradient")
        for k, d in zip(floating, grads):
            adjoints[k] = np.zeros_like(state[k]) if d is None else d
        for j, d in enumerate(grads[len(floating):]):
            if d is not None:
                totals[j] = d if totals[j] is None else totals[j] + d
    initial = [adjoints.get(k) for k in range(len(result.final))]
    totals = [np.zeros_like(result.captures[j]) if d is None else d   # no trip ran
              for j, d in zip(op.wrt, totals)]
    return (*initial, *totals)


@kernel(cf.GradPart)
def grad_part(op, grads):
    return grads[op.index]
