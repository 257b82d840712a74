"""Pooling kernels: one strided slice of the padded input per kernel tap, never a Python loop
over output pixels.

Max pooling keeps the first maximum of each window (strictly greater values replace it, and
NaN wins, as in PyTorch); its gradient and select kernels recompute that argmax as a tap
number per output, so nothing but x needs saving between forward and backward.
"""
import numpy as np

from ...ops import conv, pool
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


def _argmax_taps(op, x):
    """The tap number of each window's first maximum (padding is -inf: never chosen over an
    input element)."""
    xp, _, out = _padded(op, x, -np.inf)
    best, arg = None, None
    for tap, index in _taps(op, out):
        values = xp[index]
        if best is None:
            best, arg = values.copy(), np.zeros(values.shape, np.intp)
            continue
        wins = (values > best) | (np.isnan(values) & ~np.isnan(best))
        best[wins] = values[wins]
        arg[wins] = tap
    return arg


@kernel(pool.MaxPool2d)
def max_pool2d(op, x):
    xp, _, out = _padded(op, x, -np.inf)
    result = None
    for _, index in _taps(op, out):
        result = xp[index].copy() if result is None else np.maximum(result, xp[index])
    return result


@kernel(pool.MaxPool2dSelect)
def max_pool2d_select(op, t, x):
    arg = _argmax_taps(op, x)
    tp, _, out = _padded(op, t, 0)
    result = np.zeros(arg.shape, t.dtype)
    for tap, index in _taps(op, out):
        np.copyto(result, tp[index], where=arg == tap)
    return result


@kernel(pool.MaxPool2dGrad)
def max_pool2d_grad(op, g, x):
    arg = _argmax_taps(op, x)
    return _scatter(op, x.shape, lambda tap: np.where(arg == tap, g, 0).astype(g.dtype))


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


@kernel(pool.AvgPool2d)
def avg_pool2d(op, x):
    xp, _, out = _padded(op, x, 0)
    total = None
    for _, index in _taps(op, out):
        total = xp[index].copy() if total is None else total + xp[index]
    return total / _divisor(op, x.shape[2:], out).astype(x.dtype)


@kernel(pool.AvgPool2dGrad)
def avg_pool2d_grad(op, g, ref):
    share = g / _divisor(op, ref.shape[2:], g.shape[2:]).astype(g.dtype)
    return _scatter(op, ref.shape, lambda tap: share)
