"""Softmax-family kernels, all max-subtracted so large logits do not overflow."""
import functools

import numpy as np

from ...ops import nn
from . import _quiet, parallel, rows
from .registry import kernel


def _log_softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


# Rows at least this long (and arrays at least this large) go through the row loops of
# `_attention_loops` (float32: the max, the exponentials and their sum, normalize, each row
# in cache; float64: shift by the max, NumPy's exp, normalize; NumPy's takes five passes over
# memory): the scores of attention written out by hand [B, H, T, T], a model's logits
ROW_LOOPS_FROM = (32, 1 << 14)
SOFTMAX_PASSES = 3              # of work per element, as parallel.MIN_ELEMENTS counts it


@functools.cache
def _attention_loops():
    from . import _attention_loops     # imports Numba: on first use
    return _attention_loops


@kernel(nn.Softmax, out=True, widen=0)
def softmax(op, x, out=None):
    """Short rows over the last axis (a classifier's 10 classes) take the row loops, as
    compiled code does (`rows.py`: NumPy's five calls cost more than their arithmetic
    there); long rows (attention written out by hand) the attention row loops in pieces;
    other inputs NumPy's ufuncs."""
    if out is None and rows.covered(x, op.axis):
        return rows.softmax_rows(op, x)
    if (x.ndim and op.axis in (-1, x.ndim - 1) and x.shape[-1] >= ROW_LOOPS_FROM[0]
            and x.size >= ROW_LOOPS_FROM[1] and x.dtype in (np.float32, np.float64)
            and x.flags.c_contiguous and (out is None or out.flags.c_contiguous
                                          and out.dtype == x.dtype)):
        return _softmax_long_rows(x, out)
    return numpy_softmax(op, x, out)


def _softmax_long_rows(x, out=None):
    out = np.empty_like(x) if out is None else out
    out_rows, loops = out.reshape(-1, x.shape[-1]), _attention_loops()
    x_rows, minus_inf = x.reshape(out_rows.shape), x.dtype.type(-np.inf)

    def piece(a, b):
        if x.dtype == np.float32:
            loops.softmax_rows32(x_rows[a:b], out_rows[a:b])
            return
        loops.shifted_rows(x_rows[a:b], out_rows[a:b], minus_inf)
        np.exp(out_rows[a:b], out=out_rows[a:b])
        loops.normalize_rows(out_rows[None, a:b], False, 0)
    parallel.split(piece, len(out_rows), x.size * SOFTMAX_PASSES, blas=False)
    return out


def numpy_softmax(op, x, out=None):
    # the ufuncs' reduce, not np.max / np.sum: their Python wrappers cost more than a small
    # batch's arithmetic
    # (initial=-inf: a row of no elements is empty, not an error)
    token = _quiet.enter()   # a row of infs (inf - inf) gives NaN silently, as PyTorch's
    try:
        e = np.subtract(x, np.maximum.reduce(x, axis=op.axis, keepdims=True, initial=-np.inf),
                        out=out)
        np.exp(e, out=e)
        e /= np.add.reduce(e, axis=op.axis, keepdims=True)
    finally:
        _quiet.leave(token)
    return e


def _long_last_axis(op, x, *others) -> bool:
    """Whether the row loops take this softmax-family op: float32/64, C-contiguous arrays of
    one dtype (`others`: None or like x), over the last axis, with long rows and many
    elements (ROW_LOOPS_FROM)."""
    return (x.ndim > 0 and op.axis in (-1, x.ndim - 1) and x.shape[-1] >= ROW_LOOPS_FROM[0]
            and x.size >= ROW_LOOPS_FROM[1] and x.dtype in (np.float32, np.float64)
            and x.flags.c_contiguous
            and all(a is None or a.flags.c_contiguous and a.dtype == x.dtype and
                    a.shape == x.shape for a in others))


def _rows_in_one_piece(op, x, out) -> bool:
    """Whether log_softmax runs its row loop in one call: float32, C-contiguous, over the
    last axis, fewer elements than ROW_LOOPS_FROM[1] (a char-RNN's row of 60 at batch 1,
    a classifier's [100, 10]), where NumPy's six calls (~13 us) cost far more than the
    arithmetic and the loop's call ~1 us. Not float64: its loop sums in order, and a
    confident row's top log-probability (-log(1 + tiny)) would lose digits that NumPy's
    pairwise sum keeps."""
    return (0 < x.size < ROW_LOOPS_FROM[1] and x.dtype == np.float32
            and op.axis in (-1, x.ndim - 1) and x.flags.c_contiguous
            and (out is None or out.flags.c_contiguous and out.dtype == x.dtype))


@kernel(nn.LogSoftmax, inplace=True, widen=0)
def log_softmax(op, x, out=None):
    """`_log_softmax`'s arithmetic, into `out` (which may be x: a loss's logits, dying); a
    row of infs gives NaN silently, as PyTorch's. Long rows (a language model's logits) take
    a row loop in parallel pieces: two reads and a write where NumPy makes six passes;
    small arrays take the same loop in one call."""
    one_piece = _rows_in_one_piece(op, x, out)
    if one_piece or _long_last_axis(op, x, out):
        out = np.empty_like(x) if out is None else out
        loop = (_attention_loops().log_softmax_rows32 if x.dtype == np.float32
                else _row_loops().log_softmax)
        if x.ndim == 2:
            x_rows, out_rows = x, out
        else:
            x_rows, out_rows = x.reshape(-1, x.shape[-1]), out.reshape(-1, x.shape[-1])
        if one_piece:   # (the loops warn of nothing: NumPy's error state is not needed)
            loop(x_rows, out_rows)
            return out
        token = _quiet.enter()
        try:
            parallel.split(lambda a, b: loop(x_rows[a:b], out_rows[a:b]), len(x_rows),
                           x.size * SOFTMAX_PASSES, blas=False)
        finally:
            _quiet.leave(token)
        return out
    token = _quiet.enter()
    try:
        shifted = np.subtract(x, np.max(x, axis=op.axis, keepdims=True, initial=-np.inf),
                              out=out)
        if shifted.size:
            shifted -= np.log(np.sum(np.exp(shifted), axis=op.axis, keepdims=True))
    finally:
        _quiet.leave(token)
    return shifted


@kernel(nn.LogSoftmaxGrad, out=True, widen=0)
def log_softmax_grad(op, g, y, out=None):
    """g - exp(y) * sum(g, -1): rows in parallel pieces (float32/64, C-contiguous), else
    NumPy's ufuncs."""
    if g.ndim and g.size and _long_last_axis(_LAST, y, g, out):
        out = np.empty_like(g) if out is None else out
        width = g.shape[-1]
        loop = (_attention_loops().log_softmax_grad_rows32 if g.dtype == np.float32
                else _row_loops().log_softmax_grad)
        g_rows, y_rows, out_rows = (a.reshape(-1, width) for a in (g, y, out))
        parallel.split(lambda a, b: loop(g_rows[a:b], y_rows[a:b], out_rows[a:b]),
                       len(out_rows), g.size * SOFTMAX_PASSES, blas=False)
        return out
    total = np.add.reduce(g, axis=-1, keepdims=True)
    e = np.exp(y, out=out)
    e *= total
    return np.subtract(g, e, out=e)


class _LAST:   # what _long_last_axis reads of an op: the axis
    axis = -1


@functools.cache
def _row_loops():
    from . import _row_loops     # imports Numba: on first use
    return _row_loops


@kernel(nn.SoftmaxCrossEntropy, widen=1)
def softmax_cross_entropy(op, labels, logits):
    if (logits.ndim == 2 and labels.shape == logits.shape and logits.dtype == labels.dtype
            and logits.dtype in (np.float32, np.float64) and logits.size):
        out = np.empty(logits.shape[0], logits.dtype)
        _row_loops().cross_entropy(np.ascontiguousarray(labels), np.ascontiguousarray(logits), out)
        return out
    return -np.sum(labels * _log_softmax(logits, -1), axis=-1)


def _class_ids(labels, classes, ignore_index):
    """The labels, checked to be in [0, classes), and where they count (None: all do).
    Labels equal to ignore_index (PyTorch's) become class 0 and count nowhere."""
    kept = None
    if ignore_index is not None and labels.size and (labels == ignore_index).any():
        kept = labels != ignore_index
        labels = np.where(kept, labels, 0)
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise IndexError(f"sparse_softmax_cross_entropy: label ids must be in [0, {classes}), "
                         f"got values in [{labels.min()}, {labels.max()}]")
    return labels, kept


@kernel(nn.SparseSoftmaxCrossEntropy, widen=1)
def sparse_softmax_cross_entropy(op, labels, logits, weight=None):
    """log(sum(exp(x - max))) - (x[label] - max) per example: the exponentials in one
    buffer, and no full log-softmax array (only the picked logits are needed). Short rows (a
    classifier's 10 classes) take one loop (`rows.py`: NumPy's dozen calls cost more). Then
    the class weights and the reduction, if any."""
    loss = _example_losses(op, labels, logits)
    if weight is None and op.reduction == "none":
        return loss
    factors = _factors(op, labels, weight, loss.dtype)
    if factors is not None:
        loss = loss * factors
    if op.reduction == "none":
        return loss
    total = np.add.reduce(loss, axis=None)
    if op.reduction == "mean":
        count = loss.size if factors is None else np.add.reduce(factors, axis=None)
        with np.errstate(divide="ignore", invalid="ignore"):   # none counts: NaN, as PyTorch
            total = total / count
    return np.array(total, loss.dtype)


def _factors(op, labels, weight, dtype):
    """Each example's factor in the loss: its class weight (1 without one), 0 where its
    label is ignored; None if every factor is 1. Ids out of range are clipped here: the
    per-example kernels refuse them, naming the op."""
    kept = None
    if op.ignore_index is not None and labels.size:
        kept = labels != op.ignore_index
        if kept.all():
            kept = None
    if weight is None:
        return None if kept is None else kept.astype(dtype)
    if kept is None:
        return np.take(weight, labels, mode="clip")
    return np.where(kept, np.take(weight, np.where(kept, labels, 0), mode="clip"),
                    dtype.type(0))


def _example_grads(op, g, labels, weight, dtype):
    """g per example for the per-example kernels: g times each example's factor, over the
    factors' sum for 'mean' (0 where that sum is 0: an all-ignored batch's gradient is 0)."""
    factors = _factors(op, labels, weight, dtype)
    if op.reduction == "none":
        return g if factors is None else g * factors
    if factors is None:
        scale = g / labels.size if op.reduction == "mean" and labels.size else g
        return np.full(labels.shape, scale, dtype)
    if op.reduction == "mean":
        count = np.add.reduce(factors, axis=None)
        g = g / count if count else g * 0
    return np.multiply(factors, g, dtype=dtype)


def _example_losses(op, labels, logits):
    """The unweighted loss of each example (0 where its label is ignored)."""
    loss = rows.sparse_xent_rows(logits, labels, op.ignore_index)
    if loss is not None:
        return loss
    labels, kept = _class_ids(labels, logits.shape[-1], op.ignore_index)
    if _long_rows(logits):
        loss = _cross_entropy_long_rows(labels, logits)
    else:
        top = np.max(logits, axis=-1, keepdims=True)
        e = np.subtract(logits, top)
        np.exp(e, out=e)
        picked = np.take_along_axis(logits, labels[..., None], axis=-1)
        picked -= top
        loss = np.log(np.sum(e, axis=-1)) - picked[..., 0]
    return loss if kept is None else np.where(kept, loss, loss.dtype.type(0))


def _long_rows(x) -> bool:
    """Whether x's rows (last axis) take the row loops: float32/64, C-contiguous, long rows
    of a large enough array (a language model's logits)."""
    return (x.ndim and x.shape[-1] >= ROW_LOOPS_FROM[0] and x.size >= ROW_LOOPS_FROM[1]
            and x.dtype in (np.float32, np.float64) and x.flags.c_contiguous)


def _cross_entropy_long_rows(labels, logits):
    """The loss above in pieces of rows on the pool's threads: the max taken in the pass
    that shifts (the row loops'), the same values."""
    x, ids = logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)
    loss, shift = np.empty(len(x), logits.dtype), _attention_loops().shifted_rows

    def piece(a, b):
        if x.dtype == np.float32:     # the exponentials summed in the loop, none stored
            _attention_loops().cross_entropy_rows32(x[a:b], ids[a:b], loss[a:b])
            return
        e = np.empty((b - a, x.shape[1]), x.dtype)
        shift(x[a:b], e, x.dtype.type(-np.inf))
        picked = e[np.arange(b - a), ids[a:b]]
        np.exp(e, out=e)
        np.log(np.add.reduce(e, axis=-1), out=loss[a:b])
        loss[a:b] -= picked
    parallel.split(piece, len(x), x.size * SOFTMAX_PASSES, blas=False)
    return loss.reshape(labels.shape)


@kernel(nn.SparseSoftmaxCrossEntropyGrad, widen=2)
def sparse_softmax_cross_entropy_grad(op, g, labels, logits, weight=None):
    """g * (softmax(logits) - one_hot(labels)), the softmax scaled by g / sum in place and g
    taken off at each label (g is 0 at ignored labels); short rows in one loop, as above.
    A weight or a reduction makes g each example's share first."""
    if weight is not None or op.reduction != "none":
        g = _example_grads(op, g, labels, weight, logits.dtype)
    out = rows.sparse_xent_grad_rows(g, labels, logits, op.ignore_index)
    if out is not None:
        return out
    labels, kept = _class_ids(labels, logits.shape[-1], op.ignore_index)
    if kept is not None:
        g = np.where(kept, g, g.dtype.type(0))
    if _long_rows(logits) and g.shape == labels.shape and g.dtype == logits.dtype:
        return _cross_entropy_grad_long_rows(g, labels, logits)
    out = np.empty(logits.shape, logits.dtype)    # C order (rows below are views of it)
    np.subtract(logits, np.max(logits, axis=-1, keepdims=True), out=out)
    np.exp(out, out=out)
    scale = np.divide(g, np.sum(out, axis=-1))
    out *= scale[..., None]
    flat = out.reshape(-1, out.shape[-1])
    flat[np.arange(len(flat)), labels.reshape(-1)] -= g.reshape(-1)
    return out


def _cross_entropy_grad_long_rows(g, labels, logits):
    """The gradient above in pieces of rows on the pool's threads, the max taken in the
    pass that shifts (the row loops'): the same values."""
    x, ids, g = logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), g.reshape(-1)
    out = np.empty(logits.shape, logits.dtype)
    out_rows, shift = out.reshape(x.shape), _attention_loops().shifted_rows

    def piece(a, b):
        o = out_rows[a:b]
        if x.dtype == np.float32:
            _attention_loops().cross_entropy_grad_rows32(g[a:b], ids[a:b], x[a:b], o)
            return
        shift(x[a:b], o, x.dtype.type(-np.inf))
        np.exp(o, out=o)
        o *= np.divide(g[a:b], np.add.reduce(o, axis=-1))[:, None]
        o[np.arange(b - a), ids[a:b]] -= g[a:b]
    parallel.split(piece, len(x), x.size * SOFTMAX_PASSES, blas=False)
    return out
