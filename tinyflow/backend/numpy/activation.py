"""GELU and its gradient in one pass each (see _fast_math for the float32 erf), cut along
the first axis across the kernel pool's threads when large (an MLP's hidden activation:
1M entries in the GPT step, some 1 ms on one thread)."""
import functools

import numpy as np

from ...ops import activation as a
from . import _fast_math, parallel
from .registry import kernel


def _pointwise(name: str, *xs: np.ndarray) -> np.ndarray:
    """_fast_math.call(name, *xs), through `parallel.ufunc` (pieces of the first axis when
    large) when the inputs share a float dtype: each piece still takes call's flat float32
    loops, which Numba's disk cache serves whole (its ufuncs are rebuilt in every process)."""
    dtype = xs[0].dtype
    if dtype in parallel.FLOATS and all(x.dtype == dtype for x in xs):
        return parallel.ufunc(functools.partial(_fast_math.call, name), *xs)
    return _fast_math.call(name, *xs)


@kernel(a.Gelu, widen=0)
def gelu(op, x):
    return _pointwise("gelu_tanh" if op.approximate == "tanh" else "gelu", x)


@kernel(a.GeluGrad, widen=0)
def gelu_grad(op, g, x):
    return _pointwise("gelu_tanh_grad" if op.approximate == "tanh" else "gelu_grad", g, x)
