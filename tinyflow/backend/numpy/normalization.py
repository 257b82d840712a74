"""Normalization over some axes and its gradient, each one kernel.

When the axes are the trailing ones (layer norm, group norm) the data is a stack of rows and
a Numba loop does each row in cache: two passes forward, three backward, instead of a dozen
NumPy passes over the whole array. When they are all axes but one (batch norm's N, H, W
around C), the data is [outer, C, inner] and a Numba loop does one channel at a time, with
float64 sums (a channel holds N*H*W values). Other axes take the NumPy path.
"""
import math

import numpy as np

from ...ops import normalization as n
from ...ops.fused import AddLayerNorm, LayerNormGradsAdd
from . import parallel
from .registry import kernel


def _row_loops():
    """(forward, backward, parameter gradients) over the rows of a [rows, width] array with
    a scale and shift per column (Numba, on first use)."""
    from . import _norm_loops
    return _norm_loops.rows_forward, _norm_loops.rows_backward, _norm_loops.rows_param_grad


def _as_channels(op, x):
    """x as a C-contiguous [outer, C, inner] array if the axes are all but one, else None."""
    axes = sorted(a % x.ndim for a in op.axes)
    kept = [a for a in range(x.ndim) if a not in axes]
    if len(kept) != 1 or x.size == 0 or x.dtype not in (np.float32, np.float64):
        return None
    c = kept[0]
    return np.ascontiguousarray(x).reshape(math.prod(x.shape[:c]), x.shape[c], -1)


def _vector(v) -> np.ndarray:
    """A scale or shift as a C-contiguous 1-D array (a strided one copied: its few values
    cost less than the loop's second compilation for an 'A' layout)."""
    return np.ravel(v)


def _constants(rows, eps):
    return np.array([1 / rows.shape[1], eps, 1], rows.dtype)


def _as_rows(op, x):
    """x as a C-contiguous [rows, width] array if the axes are the trailing ones, else None."""
    axes = sorted(a % x.ndim for a in op.axes)
    if not axes or axes != list(range(x.ndim - len(axes), x.ndim)) or x.size == 0:
        return None
    width = math.prod(x.shape[x.ndim - len(axes):])
    return np.ascontiguousarray(x).reshape(-1, width)


def _normalized(x, axes, eps):
    """(y, 1 / std) with y = (x - mean) / std, in x's float dtype."""
    y = x - x.mean(axis=axes, keepdims=True)
    var = np.mean(np.square(y), axis=axes, keepdims=True)
    var += eps
    inv_std = np.sqrt(var, out=var)
    np.reciprocal(inv_std, out=inv_std)
    y *= inv_std
    return y, inv_std


@kernel(n.Normalize, widen=0)
def normalize(op, x):
    rows = _as_rows(op, x)
    if rows is None:
        channels = _as_channels(op, x)
        if channels is None:
            return _normalized(x, op.axes, op.eps)[0]
        y = np.empty_like(channels)     # batch norm's loop with weight 1 and bias 0
        ones, zeros = _unit_affine(channels)
        _per_channel(_batch_norm_loops().forward, channels, channels, ones, zeros, op.eps, y)
        return y.reshape(x.shape)
    y = np.empty_like(rows)
    ones, zeros = _unit_affine(rows[:1])      # layer norm's loop with scale 1 and shift 0
    _row_loops()[0](rows, _constants(rows, op.eps), ones, zeros, y)
    return y.reshape(x.shape)


@kernel(n.NormalizeGrad, widen=0)
def normalize_grad(op, g, x):
    rows = _as_rows(op, x)
    channels = _as_channels(op, x) if rows is None and g.shape == x.shape else None
    if channels is not None:
        dx = np.empty_like(channels)
        g_channels = np.ascontiguousarray(g, dtype=channels.dtype).reshape(channels.shape)
        sums = np.empty((2, channels.shape[1]), channels.dtype)
        _per_channel(_batch_norm_loops().input_grad, channels, g_channels, channels,
                     _unit_affine(channels)[0], op.eps, dx, sums)
        return dx.reshape(x.shape)
    if rows is None or g.shape != x.shape:
        y, inv_std = _normalized(x, op.axes, op.eps)
        g_y = np.mean(g * y, axis=op.axes, keepdims=True)
        y *= g_y
        dx = np.subtract(g, g.mean(axis=op.axes, keepdims=True))
        dx -= y
        dx *= inv_std
        return dx
    g_rows = np.ascontiguousarray(g, dtype=rows.dtype).reshape(rows.shape)
    dx = np.empty_like(rows)
    _row_loops()[1](g_rows, rows, _constants(rows, op.eps), _unit_affine(rows[:1])[0], dx,
                    False, _NO_SUMS, 1)
    return dx.reshape(x.shape)


# ---- layer norm: rows over the trailing dims, a scale and shift per column --------------

def _layer_rows(x, width: int):
    """x as a C-contiguous [rows, width] array in float32 or float64."""
    return np.ascontiguousarray(x).reshape(-1, width)


# A row's loops pass over it two to four times (moments, then the result): about this many
# elementwise passes' worth per element, which `parallel.MIN_ELEMENTS` is counted in (a
# GPT's [1024, 256] activations go to two threads, where one cheap pass over them would not).
ROW_PASSES = 3


def _in_row_pieces(piece, rows) -> None:
    """piece(start, stop) over the rows of `rows` [n, width], on the pool's threads when
    the work is worth it."""
    parallel.split(piece, rows.shape[0], rows.size * ROW_PASSES, blas=False)


@kernel(n.LayerNorm, widen=0)
def layer_norm(op, x, w, b):
    if x.size == 0:
        return np.empty_like(x)
    rows = _layer_rows(x, w.size)
    y = np.empty_like(rows)
    loop, c, w, b = _row_loops()[0], _constants(rows, op.eps), _vector(w), _vector(b)
    _in_row_pieces(lambda r0, r1: loop(rows[r0:r1], c, w, b, y[r0:r1]), rows)
    return y.reshape(x.shape)


@kernel(AddLayerNorm, widen=0)
def add_layer_norm(op, a, b, w, bias):
    """The sum and its layer norm, stacked, from one loop over a and b."""
    out = np.empty((2,) + a.shape, np.result_type(a, b))
    if a.size:
        from ._norm_loops import rows_add_forward as loop
        rows_a, rows_b = _layer_rows(a, w.size), _layer_rows(b, w.size)
        s, y = out[0].reshape(rows_a.shape), out[1].reshape(rows_a.shape)
        c, w, bias = _constants(rows_a, op.eps), _vector(w), _vector(bias)
        _in_row_pieces(lambda r0, r1: loop(rows_a[r0:r1], rows_b[r0:r1], c, w, bias,
                                           s[r0:r1], y[r0:r1]), rows_a)
    return out


@kernel(n.LayerNormGrad, widen=0)
def layer_norm_grad(op, g, x, w):
    if x.size == 0:
        return np.zeros_like(x)
    rows, g_rows = _layer_rows(x, w.size), _layer_rows(g, w.size)
    dx = np.empty_like(rows)
    loop, c, w = _row_loops()[1], _constants(rows, op.eps), _vector(w)
    _in_row_pieces(lambda r0, r1: loop(g_rows[r0:r1], rows[r0:r1], c, w, dx[r0:r1], False,
                                       _NO_SUMS, 1), rows)
    return dx.reshape(x.shape)


@kernel(n.LayerNormParamGrad, widen=0)
def layer_norm_param_grad(op, g, x):
    shape = x.shape[x.ndim - op.dims:]
    sums = np.zeros((2, math.prod(shape)), np.float64)
    if x.size:
        rows, g_rows = _layer_rows(x, sums.shape[1]), _layer_rows(g, sums.shape[1])
        loop, c = _row_loops()[2], _constants(rows, op.eps)
        _in_param_pieces(lambda r0, r1, parts, span: loop(g_rows[r0:r1], rows[r0:r1], c,
                                                          parts, span), rows, sums)
    return sums.astype(x.dtype).reshape((2,) + shape)


@kernel(n.LayerNormGrads, widen=0)
def layer_norm_grads(op, g, x, w):
    """dx's rows, then the scale's and shift's gradients, from one loop over g and x."""
    return _layer_norm_grads(op, g, x, w, None)


@kernel(LayerNormGradsAdd, widen=0)
def layer_norm_grads_add(op, g, x, w, r):
    """`layer_norm_grads` with r added to dx's rows in the same loop."""
    return _layer_norm_grads(op, g, x, w, r)


def _layer_norm_grads(op, g, x, w, r):
    lead = x.shape[:x.ndim - w.ndim]
    out = np.empty((math.prod(lead) + 2, w.size), x.dtype)
    sums = np.zeros((2, w.size), np.float64)
    if x.size:
        rows, g_rows = _layer_rows(x, w.size), _layer_rows(g, w.size)
        c, w_flat = _constants(rows, op.eps), _vector(w)
        dx = out[:len(rows)]
        if r is None:
            loop = _row_loops()[1]
            _in_param_pieces(lambda r0, r1, parts, span: loop(
                g_rows[r0:r1], rows[r0:r1], c, w_flat, dx[r0:r1], True, parts, span),
                rows, sums)
        else:
            from ._norm_loops import rows_backward_add as loop
            res = _layer_rows(r, w.size)
            _in_param_pieces(lambda r0, r1, parts, span: loop(
                g_rows[r0:r1], rows[r0:r1], c, w_flat, dx[r0:r1], parts, span, res[r0:r1]),
                rows, sums)
    out[len(out) - 2:] = sums
    return out.reshape((len(out),) + w.shape)


_NO_SUMS = np.zeros((1, 2, 0), np.float64)    # the row loop's sums, when it computes dx only


# Rows of a float64 partial sum of the parameter gradients: at least this many of the row
# loop's blocks, and no more than `MAX_PARTS` partial sums in all. The parts depend on the
# rows alone, so the gradients have the same bits on any number of threads.
PART_BLOCKS = 4
MAX_PARTS = 64


def _in_param_pieces(piece, rows, sums) -> None:
    """piece(r0, r1, parts, span) over rows r0:r1 of `rows`, adding the parameter gradients
    of each `span` of its rows into one of `parts` (float64 [n, 2, width]), on the pool's
    threads when worth it, each thread whole parts; the parts are then added into `sums`
    in order: the same sums, to the bit, whatever the thread count."""
    block = _param_block()
    span = block * max(PART_BLOCKS, -(-len(rows) // (block * MAX_PARTS)))
    parts = np.zeros((-(-len(rows) // span),) + sums.shape, sums.dtype)
    parallel.split(lambda k0, k1: piece(k0 * span, min(k1 * span, len(rows)), parts[k0:k1],
                                        span), len(parts), rows.size * ROW_PASSES,
                   blas=False)
    for part in parts:
        sums += part


def _param_block() -> int:
    from . import _norm_loops
    return _norm_loops.PARAM_BLOCK


# ---- batch norm in training mode: per channel, channels split among the threads ---------
# Backward, one loop gives dx and the per-channel sums (the weight and bias gradients) that
# dx needs: BatchNormGrads returns all three, BatchNormGrad only dx.

def _batch_norm_loops():
    from . import _batch_norm_loops
    return _batch_norm_loops


def _channels_of(x) -> np.ndarray:
    """x [N, C, ...] as a C-contiguous [N, C, inner] array."""
    return np.ascontiguousarray(x).reshape(x.shape[0], x.shape[1], math.prod(x.shape[2:]))


def _unit_affine(cube) -> tuple:
    """Weight 1 and bias 0 per channel (axis 1; per column of [1, width] rows): batch norm's
    and layer norm's loops as a plain normalization."""
    return np.ones(cube.shape[1], cube.dtype), np.zeros(cube.shape[1], cube.dtype)


def _per_channel(loop, x, *args) -> None:
    """loop(*args, c0, c1) over parts of the channels, on several threads when x is large.
    x counts once toward the pool's threshold: counting the training loops' passes (2-4)
    sent MobileNet's 170k-512k-element batch norms to two threads, and train forward +
    backward got slower there (idle machine, 2026-12-07: [8, 96, 16, 16] 1.48 -> 1.94 ms,
    [8, 32, 32, 32] 1.73 -> 2.22, [8, 24, 32, 32] 1.40 -> 1.80; eval 0.11 -> 0.36)."""
    parallel.split(lambda c0, c1: loop(*args, c0, c1), x.shape[1], x.size, blas=False)


@kernel(n.BatchMoments, widen=0)
def channel_moments(op, x):
    cube = _channels_of(x)
    out = np.empty((2, cube.shape[1]), x.dtype)
    _per_channel(_batch_norm_loops().moments, cube, cube, out)
    return out


@kernel(n.BatchNorm, widen=0)
def normalize_channels(op, x, w, b):
    cube = _channels_of(x)
    y = np.empty_like(cube)
    _per_channel(_batch_norm_loops().forward, cube, cube, _vector(w), _vector(b), op.eps, y)
    return y.reshape(x.shape)


@kernel(n.BatchNormTracked, widen=0)
def normalize_channels_tracked(op, x, w, b, running_mean, running_var, count, saved):
    """`normalize_channels`, and the running statistics and the count updated in place (the
    statistics are x's widened dtype, which `widened` passes as they are, as it passes
    saved: float64 [2, C], each channel's mean and 1 / std for the backward)."""
    cube = _channels_of(x)
    y = np.empty_like(cube)
    stats = np.empty((2, cube.shape[1]), cube.dtype)
    _per_channel(_batch_norm_loops().forward_stats, cube, cube, _vector(w), _vector(b),
                 op.eps, y, stats, saved)
    count += 1
    values = cube.shape[0] * cube.shape[2]
    if values:      # an empty batch has no statistics: PyTorch keeps the running ones
        _fold_running(running_mean, running_var, stats, values,
                      1.0 / int(count) if op.momentum is None else op.momentum)
    return y.reshape(x.shape)


def _fold_running(running_mean, running_var, stats, values: int, factor: float) -> None:
    """PyTorch's update with its rounding, in the statistics' dtype P: r = m * batch +
    (1 - m) * r with m = P(factor), the mean's terms in P; the unbiased variance
    (sum / (n - 1)) divided in P, times m in float64 (NumPy here: Numba's loops contract
    products and sums into FMAs, which round differently)."""
    p = running_mean.dtype.type
    momentum = p(factor)
    running_mean *= p(1) - momentum
    running_mean += momentum * stats[0]
    unbiased = stats[1] / p(values - 1)
    running_var[...] = np.float64(momentum) * unbiased + (p(1) - momentum) * running_var


@kernel(n.BatchNormGrad, widen=0)
def normalize_channels_grad(op, g, x, w):
    cube = _channels_of(x)
    dx = np.empty_like(cube)
    sums = np.empty((2, cube.shape[1]), cube.dtype)
    _per_channel(_batch_norm_loops().input_grad, cube, _channels_of(g), cube, _vector(w),
                 op.eps, dx, sums)
    return dx.reshape(x.shape)


@kernel(n.BatchNormGrads, widen=0)
def normalize_channels_grads(op, g, x, w):
    return _channel_grads(_batch_norm_loops().input_grad, g, x, w, op.eps)


@kernel(n.BatchNormGradsSaved, widen=0)
def normalize_channels_grads_saved(op, g, x, w, saved):
    """`normalize_channels_grads` with the forward's mean and 1 / std (saved [2, C])."""
    return _channel_grads(_batch_norm_loops().input_grad_saved, g, x, w, saved)


def _channel_grads(loop, g, x, w, stats) -> np.ndarray:
    """dx (flat) then the [2, C] sums, from loop(g, x, w, stats, dx, sums, c0, c1); stats:
    eps, or the saved mean and 1 / std."""
    cube = _channels_of(x)
    both = np.empty(x.size + 2 * cube.shape[1], cube.dtype)
    dx, sums = both[:x.size].reshape(cube.shape), both[x.size:].reshape(2, -1)
    _per_channel(loop, cube, _channels_of(g), cube, _vector(w), stats, dx, sums)
    return both


@kernel(n.BatchNormParamGrad, widen=0)
def normalize_channels_param_grad(op, g, x):
    cube = _channels_of(x)
    out = np.empty((2, cube.shape[1]), x.dtype)
    _per_channel(_batch_norm_loops().param_grad, cube, _channels_of(g), cube, op.eps, out)
    return out


@kernel(n.ChannelAffine, widen=0)
def channel_affine(op, x, scale, shift):
    cube = _channels_of(x)
    y = np.empty_like(cube)
    _per_channel(_batch_norm_loops().affine, cube, cube, _vector(scale), _vector(shift), y)
    return y.reshape(x.shape)


@kernel(n.BatchNormScale, widen=0)
def batch_norm_scale(op, var, w):
    return 1 / np.sqrt(var + op.eps) * w    # the composition's rounding, step by step


@kernel(n.BatchNormEval, widen=0)
def batch_norm_eval(op, x, mean, var, w, b):
    """The [C] scale and shift in x's dtype (as PyTorch's), then one pass over x."""
    scale = batch_norm_scale(op, var, w)
    return channel_affine(op, x, scale, b - mean * scale)
