"""Normalization over some axes and its gradient, each one kernel over NumPy passes."""
import numpy as np

from ...ops import normalization as n
from .registry import kernel


def _normalized(x, axes, eps):
    """(y, 1 / std) with y = (x - mean) / std, in x's float dtype."""
    y = x - x.mean(axis=axes, keepdims=True)
    var = np.mean(np.square(y), axis=axes, keepdims=True)
    var += eps
    inv_std = np.sqrt(var, out=var)
    np.reciprocal(inv_std, out=inv_std)
    y *= inv_std
    return y, inv_std


@kernel(n.Normalize)
def normalize(op, x):
    return _normalized(x, op.axes, op.eps)[0]


@kernel(n.NormalizeGrad)
def normalize_grad(op, g, x):
    y, inv_std = _normalized(x, op.axes, op.eps)
    g_y = np.mean(g * y, axis=op.axes, keepdims=True)
    y *= g_y
    dx = np.subtract(g, g.mean(axis=op.axes, keepdims=True))
    dx -= y
    dx *= inv_std
    return dx
