"""Normalization over some axes as one op, and its gradient as one op: the core of layer,
group and instance norm. Composed from primitive ops it is five ops forward and about twenty
backward, each a full pass over the activations; fused it is one kernel each way."""
from __future__ import annotations

from ..core.op import Op, apply, as_tensor
from ..core.shapes import broadcast_shapes, normalize_axes
from ..core.tensor import Tensor
from .math import check_floating, sqrt
from .reduce import reduce_mean


def _check(op: Op, *xs: Tensor) -> None:
    check_floating(*xs)
    for x in xs:
        if x.shape is not None:
            normalize_axes(op.axes, len(x.shape))


def normalize_composed(x: Tensor, axes: tuple, eps: float) -> tuple:
    """(x - mean) / sqrt(biased var + eps) over `axes` with primitive ops, and 1 / sqrt(...)."""
    centered = x - reduce_mean(x, axes, keepdims=True)
    std = sqrt(reduce_mean(centered * centered, axes, keepdims=True) + eps)
    return centered / std, 1 / std


class Normalize(Op):
    """(x - mean) / sqrt(var + eps) over `axes`, with the biased variance (as layer norm)."""
    name = "normalize"
    saves_output = False
    axes: tuple[int, ...]
    eps: float

    def infer(self, x):
        _check(self, x)
        return x.shape, x.dtype

    def vjp(self, g, out, x):
        return (apply(NormalizeGrad(axes=self.axes, eps=self.eps), g, x),)

    def jvp(self, t, out, x):
        # The Jacobian (I - 1 1^T / n - y y^T / n) / std is symmetric: J t = J^T t.
        return apply(NormalizeGrad(axes=self.axes, eps=self.eps), t[0], x)


class NormalizeGrad(Op):
    """normalize_grad(g, x) = (g - mean(g) - y mean(g y)) / std, y = normalize(x)."""
    name = "normalize_grad"
    composed = True       # derivatives: autodiff differentiates compose()
    axes: tuple[int, ...]
    eps: float

    def infer(self, g, x):
        _check(self, g, x)
        if g.shape is not None and x.shape is not None and (
                len(g.shape) != len(x.shape) or any(a is not None and b is not None and a != b
                                                    for a, b in zip(g.shape, x.shape))):
            raise ValueError(f"g {g.shape} must have the shape of x {x.shape}")
        return broadcast_shapes(g.shape, x.shape), x.dtype

    def compose(self, g, x):
        y, inv_std = normalize_composed(x, self.axes, self.eps)
        return inv_std * (g - reduce_mean(g, self.axes, keepdims=True)
                          - y * reduce_mean(g * y, self.axes, keepdims=True))


def normalize(x, axes, eps: float = 1e-5, name=None) -> Tensor:
    axes = (axes,) if isinstance(axes, int) else tuple(int(a) for a in axes)
    return apply(Normalize(axes=axes, eps=float(eps)), as_tensor(x), name=name)
