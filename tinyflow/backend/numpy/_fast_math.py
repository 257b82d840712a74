"""Transcendental functions as Numba ufuncs that vectorize: float32 versions are branch-free
rational and polynomial approximations (no libm call, so LLVM emits SIMD code); float64
versions call libm's erf and exp for full precision. The Numba code is in `_fast_math_loops`.

float32 erf: erf(x) = x P(x^2) / Q(x^2) on [-4, 4] (clamped beyond, where erf rounds to +-1),
coefficients fitted by iteratively reweighted least squares against math.erf; max
absolute error 6e-8 in exact arithmetic, 4e-7 evaluated in float32.
float32 exp(-y), y in [0, 18]: e^(-y/16) by its Taylor polynomial, squared four times.
float32 tanh(u) = sign(u) (1 - e) / (1 + e) with e = exp(-2|u|) (exp_neg32 above): the tanh
GELU in one pass, where NumPy takes eight over the activation.
"""
import functools

import numpy as np


@functools.cache
def ufunc(name: str, bits: int):
    """The float32 or float64 ufunc for `name`, compiled on first use and cached on disk
    (the Numba side, `_fast_math_loops`, is imported here: `import tinyflow` skips Numba)."""
    from . import _fast_math_loops
    return _fast_math_loops.vectorized(name, bits)


def loops():
    """`_fast_math_loops`, imported on first use (it imports Numba)."""
    from . import _fast_math_loops
    return _fast_math_loops


def call(name: str, *xs: np.ndarray, out=None) -> np.ndarray:
    """The float64 ufunc if any input is float64, else the float32 one (other dtypes compute
    in float32); `out` as for any ufunc."""
    if any(x.dtype == np.float64 for x in xs):
        return ufunc(name, 64)(*xs, out=out)
    xs = [x.astype(np.float32, copy=False) for x in xs]
    flat = _flat_loop(name, xs, out)
    if flat is not None:
        return flat
    return ufunc(name, 32)(*xs, out=out)


def _flat_loop(name: str, xs: list, out):
    """The float32 result by the loops Numba's disk cache serves whole (`unary32`,
    `binary32`), for C-contiguous inputs of one shape (and such an `out`); None for other
    calls (broadcasting, strides), which take the ufunc."""
    from . import _fast_math_loops as loops
    body = (loops.UNARY32 if len(xs) == 1 else loops.BINARY32).get(name)
    shape = xs[0].shape
    if body is None or not all(x.shape == shape and x.flags.c_contiguous for x in xs):
        return None
    if out is None:
        out = np.empty(shape, np.float32)
    elif not (out.shape == shape and out.dtype == np.float32 and out.flags.c_contiguous):
        return None
    flat = [x.reshape(-1) for x in xs]
    (loops.unary32 if len(xs) == 1 else loops.binary32)(body, *flat, out.reshape(-1))
    return out
