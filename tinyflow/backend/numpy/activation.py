"""GELU and its gradient in one pass each (see _fast_math for the float32 erf)."""
import numpy as np

from ...ops import activation as a
from . import _fast_math
from .registry import kernel


def _tanh_parts(x):
    """tanh(sqrt(2/pi) (x + 0.044715 x^3)) and the derivative of its argument."""
    x2 = x * x
    t = np.tanh(a._SQRT_2_OVER_PI * x * (1 + a._CUBIC * x2))
    return t, a._SQRT_2_OVER_PI * (1 + 3 * a._CUBIC * x2)


@kernel(a.Gelu, widen=0)
def gelu(op, x):
    if op.approximate == "tanh":
        t, _ = _tanh_parts(x)
        t += 1
        t *= x
        t *= 0.5
        return t
    return _fast_math.call("gelu", x)


@kernel(a.GeluGrad, widen=0)
def gelu_grad(op, g, x):
    if op.approximate == "tanh":
        t, du = _tanh_parts(x)
        slope = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
        return g * slope
    return _fast_math.call("gelu_grad", g, x)
