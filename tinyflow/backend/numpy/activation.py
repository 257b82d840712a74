"""GELU, leaky ReLU and their gradients in one pass each (see _fast_math for the float32
erf), cut across the kernel pool's threads when large (an MLP's hidden activation: 1M entries
in the GPT step, some 1 ms on one thread)."""
import functools
import math

import numpy as np

from ...ops import activation as a
from ...ops.clamp import Clamp, ClampGrad
from ...ops.fused import GeluGradSum
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


@kernel(GeluGradSum, widen=0)
def gelu_grad_sum(op, g, x):
    """The gradient's rows and their column sums; float32 rows of one shape in one Numba
    pass (pieces of whole row blocks on the pool's threads: sums independent of the thread
    count), anything else by `gelu_grad` then a sum."""
    shape = np.broadcast_shapes(g.shape, x.shape)
    width = shape[-1]
    rows = math.prod(shape[:-1])
    out = np.empty((rows + 1, width), np.result_type(g, x))
    if not (g.dtype == x.dtype == np.float32 and g.shape == x.shape and rows):
        dh = gelu_grad(op, g, x).reshape(rows, width)
        out[:rows] = dh
        out[rows] = dh.sum(axis=0)
        return out
    from . import _fast_math_loops as loops
    g2, x2 = np.ascontiguousarray(g).reshape(rows, width), np.ascontiguousarray(x).reshape(
        rows, width)
    body, block, parts = loops.BINARY32["gelu_tanh_grad" if op.approximate == "tanh"
                                        else "gelu_grad"], loops.SUM_BLOCK, []

    def blocks(k0, k1):
        r0, r1, part = k0 * block, min(k1 * block, rows), np.zeros(width)
        loops.binary32_column_sums(body, g2[r0:r1], x2[r0:r1], out[r0:r1], part)
        parts.append((k0, part))
    parallel.split(blocks, -(-rows // block), rows * width, blas=False)
    out[rows] = sum(part for _, part in sorted(parts, key=lambda kp: kp[0]))
    return out


@kernel(a.LeakyRelu, widen=0)
def leaky_relu(op, x):
    return _flat_pieces("leaky_relu_flat", op.slope, x)


@kernel(a.LeakyReluGrad, widen=0)
def leaky_relu_grad(op, g, y):
    return _flat_pieces("leaky_relu_grad_flat", op.slope, g, y)


def _flat_pieces(name: str, slope: float, *xs: np.ndarray) -> np.ndarray:
    """The Numba loop `name` over float arrays of one shape and dtype, flat pieces on the
    pool's threads (DCGAN's discriminator, 1M float32: 0.3 ms against 2.9 for the composed
    compare, multiply and where); other inputs (broadcast, mixed dtypes) by NumPy."""
    dtype = xs[0].dtype
    if not _flat_floats(xs):
        x = xs[-1]
        return np.where(x > 0, xs[0], xs[0] * np.asarray(slope, dtype=np.result_type(*xs)))
    from . import _fast_math_loops as loops
    return _flat_loop(getattr(loops, name), (dtype.type(slope),), *xs)


def _flat_floats(xs) -> bool:
    """Whether the flat loops take these arrays: float32 or float64, of one shape and dtype."""
    dtype = xs[0].dtype
    return dtype in parallel.FLOATS and all(x.dtype == dtype and x.shape == xs[0].shape
                                            for x in xs)


def _flat_loop(loop, scalars: tuple, *xs: np.ndarray) -> np.ndarray:
    """loop(*xs, *scalars, out) over the flattened arrays (see `_flat_floats`), in pieces on
    the pool's threads when large."""
    flat = [np.ascontiguousarray(x).reshape(-1) for x in xs]
    out = np.empty(xs[0].shape, xs[0].dtype)
    res = out.reshape(-1)
    parallel.split(lambda a, b: loop(*(f[a:b] for f in flat), *scalars, res[a:b]), res.size,
                   blas=False)
    return out


@kernel(Clamp)
def clamp(op, x):
    """One Numba pass for float32/float64 (float16 and bfloat16 through float32, exactly:
    each value is x or a limit, and the op holds the limits already rounded to x's type);
    integers by np.clip."""
    if x.dtype.kind in "iu":
        return np.clip(x, op.low, op.high)
    low = -np.inf if op.low is None else op.low
    high = np.inf if op.high is None else op.high
    if low != low or high != high:   # a NaN limit: every value NaN, as PyTorch's
        return np.full(x.shape, np.nan, x.dtype)
    wide = x if x.dtype in parallel.FLOATS else x.astype(np.float32)
    from . import _fast_math_loops as loops
    out = _flat_loop(loops.clamp_flat, (wide.dtype.type(low), wide.dtype.type(high)), wide)
    return out if wide is x else out.astype(x.dtype)


@kernel(ClampGrad)
def clamp_grad(op, g, y):
    """One Numba pass where g and y are float32/float64 of one shape and dtype; else NumPy's
    compares and `where` (a broadcast g, reduced floats)."""
    low = -np.inf if op.low is None else op.low
    high = np.inf if op.high is None else op.high
    if _flat_floats((g, y)):
        from . import _fast_math_loops as loops
        kind = g.dtype.type
        return _flat_loop(loops.clamp_grad_flat, (kind(low), kind(high), op.hard, kind(0)),
                          g, y)
    with np.errstate(invalid="ignore"):
        passes = (~((y <= low) | (y >= high)) if op.hard   # as the loop (a NaN limit too)
                  else (y >= low) & (y <= high))
    return np.where(passes, g, np.zeros((), g.dtype)).astype(np.result_type(g, y), copy=False)
