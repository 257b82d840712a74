"""Forward-mode autodiff: push tangents through the graph in topological order (`jvp`)."""
from __future__ import annotations

from ..core.graph import topo_sort
from ..core.op import apply, as_tensor, sum_terms
from ..ops.creation import zeros_like
from ..ops.shape import broadcast_to
from .composed import traced


def forward_gradients(ys, xs, tangents) -> list:
    """Tangents of `ys` given `tangents` of `xs` (Jacobian-vector products); None if unconnected.

    Args:
        ys: a tensor or list of tensors.
        xs: a tensor or list of tensors the ys depend on.
        tangents: one tangent per x, of the x's shape.
    """
    single = not isinstance(ys, (list, tuple))
    ys = [ys] if single else list(ys)
    xs = list(xs) if isinstance(xs, (list, tuple)) else [xs]
    tangents = list(tangents) if isinstance(tangents, (list, tuple)) else [tangents]
    if len(tangents) != len(xs):
        raise ValueError(f"forward_gradients: {len(tangents)} tangents for {len(xs)} xs")
    tangent = {id(x): as_tensor(t, dtype=x.dtype) for x, t in zip(xs, tangents)}
    for node in topo_sort(ys):
        if id(node) in tangent or node._op is None or not node._op.differentiable:
            continue
        ts = tuple(tangent.get(id(i)) for i in node.inputs)
        if all(t is None for t in ts):
            continue
        t = _jvp(node, ts)
        if t is None:
            continue
        if node._op.broadcasts and not (t.shape == node.shape and t.shape is not None
                                       and None not in t.shape):
            t = broadcast_to(t, node)
        tangent[id(node)] = t
    out = [tangent.get(id(y)) for y in ys]
    _refuse_unrecorded(ys, xs, out)
    return out


def _refuse_unrecorded(ys, xs, out) -> None:
    """On eager tensors, None would mean "unconnected" only if the tape had recorded the
    ys: when no x required grad there is no tape, and None would be a silent wrong answer."""
    if any(x.is_symbolic for x in xs) or any(x.requires_grad for x in xs):
        return
    for y, t in zip(ys, out):
        if t is None and not y.is_symbolic:
            raise RuntimeError(
                "forward_gradients: the eager xs do not require grad, so no history was "
                "recorded from them to the ys; create them with requires_grad=True before "
                "computing the ys (or use torch.autograd.functional.jvp(func, inputs, v))")


def _jvp(node, tangents: tuple):
    """The node's op's forward rule: the op itself for linear ops, the tangent of its
    composition for composed ops, else its `jvp`."""
    op = node._op
    if op.linearity is not None:
        return _linear_jvp(op, tangents, node.inputs)
    if not op.composed:
        return op.jvp(tangents, node, *node.inputs)
    y, xs = traced(op, node.inputs)
    pairs = [(x, t) for x, t in zip(xs, tangents) if t is not None]
    return forward_gradients([y], [x for x, _ in pairs], [t for _, t in pairs])[0]


def _linear_jvp(op, tangents: tuple, inputs: tuple):
    """A linear op's tangent is the op applied to the tangents (zeros for missing ones); a
    multilinear op's, the sum over k of the op with input k replaced by its tangent. Only the
    first `op.linear_inputs` inputs take tangents (the rest are indices or shapes)."""
    n = len(inputs) if op.linear_inputs is None else op.linear_inputs
    if op.linearity == "multilinear":
        return sum_terms([apply(op, *inputs[:k], t, *inputs[k + 1:])
                          for k, t in enumerate(tangents[:n]) if t is not None])
    if all(t is None for t in tangents[:n]):
        return None
    ts = [zeros_like(x) if t is None else t for t, x in zip(tangents[:n], inputs)]
    return apply(op, *ts, *inputs[n:])
