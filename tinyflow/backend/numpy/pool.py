"""Pooling kernels. Windows that tile the input (kernel == stride, no padding: the common 2x2)
are a reshape, reduced across the tile's rows (contiguous) and then its columns, and their
average-pool gradient is one broadcast copy. Other average pooling takes one strided slice
of the padded input per kernel tap, never a Python loop over output pixels.

Max pooling keeps the first maximum of each window (strictly greater values replace it), and
any NaN replaces it, so the last NaN wins, as in PyTorch's CPU kernels. Other than the tiled forward and gradient, it runs as Numba loops
(maximum, argmax, gradient) that recompute the argmax, so nothing but x needs saving between
forward and backward; the tiled gradient is one Numba pass over NCHW planes.
"""
import numpy as np

from ...ops import conv, pool
from . import _conv_numba, parallel
from .registry import kernel


def _frame(op, hw) -> tuple:
    """Padding ((top, bottom), (left, right)), output (Ho, Wo) and the size of a buffer that
    holds the padded input and every window (ceil_mode windows may hang past the padding)."""
    pads, out, size = [], [], []
    for axis in (0, 1):
        args = (hw[axis], op.kernel[axis], op.stride[axis], op.dilation[axis])
        p = conv.axis_pads(op.padding, axis, *args)
        o = conv.axis_out(*args, p, op.ceil_mode)
        reach = (o - 1) * op.stride[axis] + op.dilation[axis] * (op.kernel[axis] - 1) + 1
        pads.append(p)
        out.append(o)
        size.append(max(reach, p[0] + hw[axis]))
    return tuple(pads), tuple(out), tuple(size)


def _taps(op, out):
    """(tap number, index of the padded buffer that each output reads at that tap)."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = op.kernel, op.stride, op.dilation, out
    for i in range(kh):
        rows = slice(i * dh, i * dh + sh * (ho - 1) + 1, sh)
        for j in range(kw):
            yield i * kw + j, (Ellipsis, rows, slice(j * dw, j * dw + sw * (wo - 1) + 1, sw))


def _padded(op, x, fill):
    """x inside a buffer of `fill`; the buffer, its padding and the output size."""
    pads, out, size = _frame(op, x.shape[2:])
    (top, _), (left, _) = pads
    xp = np.full(x.shape[:2] + size, fill, x.dtype)
    xp[:, :, top:top + x.shape[2], left:left + x.shape[3]] = x
    return xp, pads, out


def _scatter(op, ref_shape, parts):
    """Sum `parts` (tap number -> values per output) into the input positions they came from."""
    pads, out, size = _frame(op, ref_shape[2:])
    (top, _), (left, _) = pads
    xp = None
    for tap, index in _taps(op, out):
        part = parts(tap)
        if xp is None:
            xp = np.zeros(ref_shape[:2] + size, part.dtype)
        xp[index] += part
    return xp[:, :, top:top + ref_shape[2], left:left + ref_shape[3]]


def _tiles(op, hw):
    """(Ho, Wo) if the windows tile the input without overlap or padding (kernel == stride,
    no dilation, no window past the edge), else None: pooling is then a reshape."""
    if op.stride != op.kernel or op.padding != ((0, 0), (0, 0)) or (
            op.dilation != (1, 1) and op.kernel != (1, 1)):
        return None
    out = tuple(size // k for size, k in zip(hw, op.kernel))
    if op.ceil_mode and any(o * k != size for o, k, size in zip(out, op.kernel, hw)):
        return None
    return out if min(out) > 0 else None


def _tile_view(op, x, out):
    """x [N, C, H, W] cropped to the tiles, as [N, C, Ho, kH, Wo, kW] (a view)."""
    (kh, kw), (ho, wo) = op.kernel, out
    return x[:, :, :ho * kh, :wo * kw].reshape(x.shape[:2] + (ho, kh, wo, kw))


def _tile_reduce(op, x, out, ufunc, result=None):
    """ufunc (maximum or add) over each tile: across its rows first, whole contiguous input
    rows at a time, then across the columns of that kW times smaller result (into `result`
    if given). (A reduction over axes (3, 5) of the tile view takes ten times longer.)"""
    tiles = _tile_view(op, x, out)
    rows = tiles[:, :, :, 0]
    for i in range(1, op.kernel[0]):
        rows = ufunc(rows, tiles[:, :, :, i])
    if op.kernel[1] == 1:
        if result is None:
            return rows[..., 0].copy()
        result[...] = rows[..., 0]
        return result
    result = ufunc(rows[..., 0], rows[..., 1], out=result)
    for j in range(2, op.kernel[1]):
        ufunc(result, rows[..., j], out=result)
    return result


def _max_pool(which, op, x, g=None):
    pads, out, _ = _frame(op, x.shape[2:])
    return _conv_numba.max_pool(which, x, op.kernel, op.stride, op.dilation, pads, out, g)


@kernel(pool.MaxPool2d)
def max_pool2d(op, x):
    out = _tiles(op, x.shape[2:])
    if out is not None:
        result = np.empty(x.shape[:2] + out, x.dtype)
        parallel.split(lambda n0, n1: _tile_reduce(op, x[n0:n1], out, np.maximum,
                                                   result[n0:n1]), x.shape[0], x.size,
                       blas=False)
        return result
    return _max_pool("forward", op, x)


@kernel(pool.MaxPool2dSelect)
def max_pool2d_select(op, t, x):
    arg = _max_pool("argmax", op, x)
    n, c = x.shape[:2]
    planes = np.ascontiguousarray(t).reshape(n, c, -1)
    return np.take_along_axis(planes, arg.reshape(n, c, -1), axis=2).reshape(arg.shape)


@kernel(pool.MaxPool2dGrad)
def max_pool2d_grad(op, g, x):
    if _tiles(op, x.shape[2:]) is not None and x.dtype == g.dtype and x.dtype in (
            np.float32, np.float64):
        return _conv_numba.tile_max_pool_grad(x, g, op.kernel)
    return _max_pool("backward", op, x, g)


def _divisor(op, hw, out):
    """[Ho, Wo] window sizes, PyTorch's rule: a window counts the padding it covers (if
    count_include_pad) but never what hangs past the padding in ceil_mode."""
    counts = []
    pads = _frame(op, hw)[0]
    for axis in (0, 1):
        size, k, s = hw[axis], op.kernel[axis], op.stride[axis]
        before, after = pads[axis]
        start = np.arange(out[axis]) * s - before
        end = np.minimum(start + k, size + after)
        if not op.count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, size)
        counts.append(end - start)
    return np.outer(counts[0], counts[1])


@kernel(pool.AvgPool2d, widen=0)
def avg_pool2d(op, x):
    out = _tiles(op, x.shape[2:])
    if out is not None:
        total = _tile_reduce(op, x, out, np.add)
        return total / np.asarray(op.kernel[0] * op.kernel[1], x.dtype)
    xp, _, out = _padded(op, x, 0)
    total = None
    for _, index in _taps(op, out):
        total = xp[index].copy() if total is None else total + xp[index]
    return total / _divisor(op, x.shape[2:], out).astype(x.dtype)


@kernel(pool.AvgPool2dGrad, widen=0)
def avg_pool2d_grad(op, g, ref):
    out = _tiles(op, ref.shape[2:])
    if out is not None:
        dx = np.zeros(ref.shape, g.dtype)
        share = g / np.asarray(op.kernel[0] * op.kernel[1], g.dtype)
        _tile_view(op, dx, out)[...] = share[:, :, :, None, :, None]
        return dx
    share = g / _divisor(op, ref.shape[2:], g.shape[2:]).astype(g.dtype)
    return _scatter(op, ref.shape, lambda tap: share)
