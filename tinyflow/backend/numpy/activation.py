"""GELU and its gradient in one pass each (see _fast_math for the float32 erf)."""
from ...ops import activation as a
from . import _fast_math
from .registry import kernel


@kernel(a.Gelu, widen=0)
def gelu(op, x):
    return _fast_math.call("gelu_tanh" if op.approximate == "tanh" else "gelu", x)


@kernel(a.GeluGrad, widen=0)
def gelu_grad(op, g, x):
    return _fast_math.call("gelu_tanh_grad" if op.approximate == "tanh" else "gelu_grad", g, x)
