"""Forward-mode autodiff: push tangents through the graph in topological order (`jvp`)."""
from __future__ import annotations

from ..core.graph import topo_sort
from ..core.op import as_tensor
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
        if id(node) in tangent or node.op is None or not node.op.differentiable:
            continue
        ts = tuple(tangent.get(id(i)) for i in node.inputs)
        if all(t is None for t in ts):
            continue
        t = _jvp(node, ts)
        if t is None:
            continue
        if node.op.broadcasts and not (t.shape == node.shape and t.shape is not None
                                       and None not in t.shape):
            t = broadcast_to(t, node)
        tangent[id(node)] = t
    out = [tangent.get(id(y)) for y in ys]
    return out


def _jvp(node, tangents: tuple):
    """The node's op's forward rule, or the tangent of its composition (`composed` ops)."""
    if not node.op.composed:
        return node.op.jvp(tangents, node, *node.inputs)
    y, xs = traced(node.op, node.inputs)
    pairs = [(x, t) for x, t in zip(xs, tangents) if t is not None]
    return forward_gradients([y], [x for x, _ in pairs], [t for _, t in pairs])[0]
