"""Attention kernels: the [..., T, S] scores are masked and normalized in place.

float32 and float64 scores go through the row loops of `_attention_loops` (three passes over
the scores: scale and mask; the exponentials and their sum, shifted by the max; normalize;
float64 takes NumPy's exp as a pass of its own), other dtypes and masks whose
batch dims broadcast only partly through NumPy (eight passes).

`attention` and `attention_grad` (softmax(q k^T * scale + mask) v and its dq, dk, dv) cut
the longest batch axis (nanoGPT's batch) into chunks of `CHUNK_BYTES` of q, which the kernel
pool's threads take in turn, so each thread runs whole heads with one-thread products:
OpenBLAS threads a 128 x 128 x 64 product poorly, and a run pays the hand-off once. A chunk's
heads stay in L2 from its copies to its products. Within a chunk the queries go in blocks of
`BLOCK`; a causal block multiplies only the keys up to its last query (at T = 128 and
blocks of 32, 5/8 of the products' work), and its scores (a few hundred KB) stay in cache
between the product, the softmax and the product with v. The backward recomputes each
block's weights (one product more, as flash attention), so the forward keeps nothing but its
output. Keeping each row's logsumexp too, as PyTorch's flash backward does, would make the
backward's softmax (scale, max, exponentials and sum, normalize) one pass of exponentials:
at the GPT's shapes that pass took 0.33 ms against 0.43-0.50 in a 3.5-4.3 ms backward (1
thread, 2026-12-05), 3-4 %, too little for a second, packed output of the op.

q, k and v are read where they are (nanoGPT's heads are strided views of one Linear(C, 3C)
output), and the output and packed gradients are laid out like q (`_laid_out_like`): for
those heads [B, T, H, D] in memory, so the caller's transpose(1, 2).contiguous().view(B, T,
C) and the gradients' way back to [B, T, C] are views, not copies."""
import functools
import itertools
import math

import numpy as np

from ...ops import attention
from . import parallel
from .registry import kernel

BLOCK = 64       # causal: queries per block (at T = 128, 1/4 of the products skipped; 32
#                  skips 3/8 but its smaller products ran slower in all, 1 thread)
WIDE_BLOCK = 128  # other attention: blocks only bound the scores kept in cache
# Heads go in chunks of about this many bytes of q (two of the GPT's batch entries: [2, 4,
# 128, 64] float32), so a chunk's q, k, v, g and gradients take about the 2 MB of L2: at
# batch 16, one chunk of all 16 entries took 10-30 % more CPU than chunks of 2 (1 thread).
CHUNK_BYTES = 1 << 18
# An entry of the scores costs some 2 (D + Dv) flops of products besides its softmax: about
# this many elementwise passes' worth, which `parallel.MIN_ELEMENTS` is counted in.
WORK_PER_SCORE = 8
# The weights' gradient reads g and p and writes the result: about two passes' worth, so
# the scores of attention written out by hand ([8, 4, 128, 128]) go to the pool.
WEIGHTS_GRAD_PASSES = 2


@functools.lru_cache(maxsize=64)
def _above_diagonal(queries: int, keys: int) -> np.ndarray:
    """The causal mask's masked entries (key j > query i), built once per (T, S)."""
    hidden = np.triu(np.ones((queries, keys), bool), 1)
    hidden.flags.writeable = False
    return hidden


@functools.cache
def _loops():
    from . import _attention_loops     # imports Numba: on first use
    return _attention_loops


def _rows_mask(mask, shape):
    """The mask as a C-contiguous [1 or B, T, S] array for scores of `shape` [..., T, S]
    (B: the batch dims flattened), or None when it broadcasts to more than the scores."""
    if np.broadcast_shapes(shape, mask.shape) != shape:
        return None
    if all(d == 1 for d in mask.shape[:-2]):     # one [T, S] mask for every batch entry
        plane = mask.reshape(mask.shape[-2:]) if mask.ndim > 2 else mask
        return np.ascontiguousarray(np.broadcast_to(plane, shape[-2:]))[None]
    return np.ascontiguousarray(np.broadcast_to(mask, shape)).reshape(-1, *shape[-2:])


@kernel(attention.AttentionWeights, widen=0)
def attention_weights(op, q, k, mask=None):
    scores = np.matmul(q, np.swapaxes(k, -1, -2))
    if scores.dtype in (np.float32, np.float64) and scores.size:
        rows_mask = np.zeros((1, 1, 1), bool) if mask is None else _rows_mask(mask,
                                                                              scores.shape)
        if rows_mask is not None:
            if rows_mask.dtype != np.bool_:
                rows_mask = rows_mask.astype(scores.dtype, copy=False)
            rows = scores.reshape(-1, *scores.shape[-2:])
            _softmax_block(rows, op, 0, rows_mask, mask is not None)
            return scores
    return _weights_numpy(op, scores, mask)


def _weights_numpy(op, scores, mask):
    scores *= op.scale
    if mask is not None:
        if np.broadcast_shapes(scores.shape, mask.shape) != scores.shape:
            scores = np.array(np.broadcast_to(scores, np.broadcast_shapes(scores.shape,
                                                                          mask.shape)))
        if mask.dtype == np.bool_:
            np.copyto(scores, -np.inf, where=~mask)
        else:
            scores += mask
    if op.causal:
        np.copyto(scores, -np.inf, where=_above_diagonal(*scores.shape[-2:]))
    top = scores.max(-1, keepdims=True)
    empty = np.isneginf(top)       # a row with every key masked: zeros, as PyTorch's
    if empty.any():
        top[empty] = 0.0
    scores -= top
    np.exp(scores, out=scores)
    total = scores.sum(-1, keepdims=True)
    if empty.any():
        total[empty] = 1.0
    scores /= total
    return scores


@kernel(attention.AttentionWeightsGrad, out=True, widen=0)
def attention_weights_grad(op, g, p, out=None):
    """p * (g - sum(g * p)) * scale: one pass over rows (float32/64, C-contiguous), else in
    one buffer with NumPy (the row sums taken from g * p written where the result goes)."""
    if (g.dtype == p.dtype and g.dtype in (np.float32, np.float64) and g.size
            and g.flags.c_contiguous and p.flags.c_contiguous
            and (out is None or out.flags.c_contiguous and out.dtype == g.dtype)):
        out = np.empty_like(g) if out is None else out
        width, scale, loop = g.shape[-1], g.dtype.type(op.scale), _loops().weights_grad
        g_rows, p_rows, out_rows = (a.reshape(-1, width) for a in (g, p, out))
        parallel.split(lambda a, b: loop(g_rows[a:b], p_rows[a:b], scale, out_rows[a:b]),
                       len(out_rows), g.size * WEIGHTS_GRAD_PASSES, blas=False)
        return out
    out = np.multiply(g, p, out=out)
    row = np.add.reduce(out, axis=-1, keepdims=True)
    np.subtract(g, row, out=out)
    out *= p
    if op.scale != 1.0:   # softmax's own backward (scale 1): one pass fewer
        out *= op.scale
    return out


def _softmax_block(s, op, first, mask, has_mask):
    """s [n, rows, keys] <- softmax(s * scale + mask) per row, in place; row i is query
    first + i (causal: keys past it masked) and reads row first + i of mask [1 or n, T,
    >= keys]. The mask goes to the loop read only (a free view), C-contiguous, bool or s's
    dtype: one compilation per mask dtype, not one more per layout and writability."""
    if mask.flags.writeable:
        mask = mask.view()
        mask.flags.writeable = False
    f = s.dtype.type
    _loops().softmax_scores(s, f(op.scale), op.causal, first, mask, has_mask, f(-math.inf))
    if s.dtype != np.float32:
        np.exp(s, out=s)
        _loops().normalize_rows(s, op.causal, first)


def _blocks(queries: int, keys: int, causal: bool, mask):
    """(first query, stop, keys used) per block of queries. Causal blocks use the keys up to
    their last query (top-left aligned), blocks under one bool mask for every head (as a
    causal mask spelled out) those up to the last one it keeps: the rest are masked."""
    one_bool = (mask is not None and mask.dtype == np.bool_ and mask.ndim == 3
                and mask.shape[0] == 1)
    size = BLOCK if causal or one_bool else WIDE_BLOCK
    for i in range(0, queries, size):
        stop = min(i + size, queries)
        used = min(stop, keys) if causal else keys
        if one_bool:
            kept = np.flatnonzero(mask[0, i:stop, :used].any(0))
            used = int(kept[-1]) + 1 if kept.size else 0
        yield i, stop, used


def _heads(q, k, v, mask, g=None):
    """q, k, v (and g) as views over the broadcast batch dims, at least one (no copy here:
    a product's left operand may be a [T, D] slice of any row stride, such as a head of
    nanoGPT's split, viewed and transposed Linear(C, 3C) output; a right operand is copied
    per piece, as OpenBLAS multiplies by a strided one some 1.4x slower); the mask as a
    C-contiguous [1, T, S] (one for every entry) or batch + [T, S] array (bool, or q's
    dtype); and the batch shape."""
    batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2],
                                () if mask is None else mask.shape[:-2])
    views = [np.broadcast_to(x, batch + x.shape[-2:]) for x in ((q, k, v) if g is None
                                                               else (q, k, v, g))]
    if not batch:
        views = [x[None] for x in views]
    if mask is None:
        rows_mask = np.zeros((1, 1, 1), bool)
    else:
        rows_mask = _rows_mask(mask, batch + (q.shape[-2], k.shape[-2]))
        if rows_mask.shape[0] != 1 or not batch:
            rows_mask = rows_mask.reshape(views[0].shape[:-2] + rows_mask.shape[-2:])
        if rows_mask.dtype != np.bool_:
            rows_mask = rows_mask.astype(q.dtype, copy=False)
    return views, rows_mask, batch


def _cut_axis(shape) -> int:
    """The batch axis the pieces cut: the longest (the batch of nanoGPT's [B, H, T, D])."""
    return max(range(len(shape) - 2), key=lambda i: shape[i])


def _piece_mask(rows_mask, cut: int, a: int, b: int):
    """The mask of entries a:b of batch axis `cut` as [1 or n, T, S] rows, C-contiguous (a
    cut past the first axis slices it: copied once per piece, so that the loop compiles one
    layout)."""
    if rows_mask.ndim == 3 and rows_mask.shape[0] == 1:
        return rows_mask
    part = rows_mask[(slice(None),) * cut + (slice(a, b),)]
    return np.ascontiguousarray(np.reshape(part, (-1,) + part.shape[-2:]))


def _laid_out_like(ref, shape, dtype, fill=np.empty):
    """A new array of `shape` whose axes lie in memory in the order of ref's (by stride):
    attention's output for q = x.view(B, T, H, D).transpose(1, 2) is [B, H, T, D] over
    [B, T, H, D] memory, so the caller's transpose(1, 2).contiguous() is free (as PyTorch
    lays it out), and so are its gradient's for the reshapes back to [B, T, C]."""
    # a length-1 axis has any stride (NumPy's broadcast_to gives it 0): outermost
    strides = [st if n > 1 else math.inf for st, n in zip(ref.strides, ref.shape)]
    order = sorted(range(len(shape)), key=lambda i: -strides[i])
    if 0 in strides or order == list(range(len(shape))):
        return fill(shape, dtype)
    return fill([shape[i] for i in order], dtype).transpose(np.argsort(order))


def _transposed(x):
    """x [n, rows, cols] as a C-contiguous [n, cols, rows]: OpenBLAS multiplies by it some
    1.6x faster than by the transposed view (q k^T at 128 x 128 x 64, one thread). A strided
    x (a head of nanoGPT's split) is copied as it is first: NumPy's transposing copy from
    it took 0.25 ms at [8, 4, 128, 64], the two copies 0.165."""
    return np.ascontiguousarray(np.ascontiguousarray(x).swapaxes(-1, -2))


def _in_pieces(piece, q, cut: int, scores: int) -> None:
    """piece(start, stop) over chunks of q's batch axis `cut`, each about `CHUNK_BYTES` of q,
    on the pool's threads when the work of all the `scores` is worth it: each thread takes
    the next chunk when it is done with one, so a thread that starts late takes fewer."""
    length = q.shape[cut]
    entry = max(1, q.itemsize * math.prod(q.shape) // length)
    size = max(1, min(CHUNK_BYTES // entry, -(-length // parallel.threads())))
    chunks = [(a, min(a + size, length)) for a in range(0, length, size)]
    taken = itertools.count()

    def take(_start, _stop):     # the chunks in turn, whatever part `run` handed this thread
        n = next(taken)
        while n < len(chunks):
            piece(*chunks[n])
            n = next(taken)
    if parallel.worth_it(scores * WORK_PER_SCORE, len(chunks)):
        parallel.run(take, len(chunks))
    else:
        take(0, len(chunks))


@kernel(attention.Attention, widen=0)
def attention_(op, q, k, v, mask=None):
    """softmax(q k^T * scale + mask) v, block by block (module docstring)."""
    (qf, kf, vf), rows_mask, batch = _heads(q, k, v, mask)
    shape, queries, keys = qf.shape[:-2], qf.shape[-2], kf.shape[-2]
    has_mask = mask is not None
    # no blocks without queries or keys; a head dim of 0 still has blocks (its scores are
    # all 0: the weights are uniform over the keys kept)
    blocks = list(_blocks(queries, keys, op.causal, rows_mask if has_mask else None)
                  if math.prod(shape) and queries and keys else [])
    # a block whose every key is masked is skipped: its rows are zeros
    fill = np.empty if blocks and all(b[2] for b in blocks) else np.zeros
    out = _laid_out_like(qf, qf.shape[:-1] + vf.shape[-1:], qf.dtype, fill)
    if not blocks:
        return out.reshape(batch + out.shape[-2:])
    cut = _cut_axis(qf.shape)

    def piece(a, b):
        at = (slice(None),) * cut + (slice(a, b),)
        m = _piece_mask(rows_mask, cut, a, b)
        q_, v_, o_ = qf[at], np.ascontiguousarray(vf[at]), out[at]   # see `_heads`
        k_t = _transposed(kf[at])
        for i, stop, used in blocks:
            if not used:       # every key masked: zeros
                continue
            s = np.matmul(q_[..., i:stop, :], k_t[..., :used])
            _softmax_block(s.reshape(-1, stop - i, used), op, i, m,
                           has_mask)
            np.matmul(s, v_[..., :used, :], out=o_[..., i:stop, :])
    _in_pieces(piece, qf, cut, math.prod(shape) * queries * keys)
    return out.reshape(batch + out.shape[-2:])


@kernel(attention.AttentionGrad, widen=0)
def attention_grad(op, g, q, k, v, mask=None):
    """[dq; dk; dv] of attention packed along the rows (see `AttentionGrad`): per block of
    queries, the weights p again, then dv += p^T g, ds = p * (g v^T - sum(...)) * scale,
    dq = ds k, dk += ds^T q."""
    (qf, kf, vf, gf), rows_mask, batch = _heads(q, k, v, mask, g)
    shape, queries, keys = qf.shape[:-2], qf.shape[-2], kf.shape[-2]
    depth, depth_v = qf.shape[-1], vf.shape[-1]
    has_mask = mask is not None
    every = list(_blocks(queries, keys, op.causal, rows_mask if has_mask else None)
                 if math.prod(shape) and queries and keys else [])   # as in `attention_`
    # the block using the most keys first: its products with p and ds are written straight
    # into dv and dk, the others' added to them
    blocks = sorted((b for b in every if b[2]), key=lambda b: -b[2])
    # zeros only where nothing writes: rows of skipped blocks (every key masked), keys no
    # block uses, the columns past the shorter of D and Dv
    whole = (blocks and len(blocks) == len(every) and blocks[0][2] == keys
             and depth == depth_v)
    grads = _laid_out_like(qf, shape + (queries + 2 * keys, max(depth, depth_v)), qf.dtype,
                           np.empty if whole else np.zeros)
    if not blocks:
        return grads.reshape(batch + grads.shape[-2:])
    dq = grads[..., :queries, :depth]
    dk = grads[..., queries:queries + keys, :depth]
    dv = grads[..., queries + keys:, :depth_v]
    scale = qf.dtype.type(op.scale)
    cut = _cut_axis(qf.shape)

    def piece(a, b):
        at = (slice(None),) * cut + (slice(a, b),)
        m = _piece_mask(rows_mask, cut, a, b)
        q_, k_, g_ = (np.ascontiguousarray(x[at]) for x in (qf, kf, gf))   # see `_heads`
        dq_, dk_, dv_ = dq[at], dk[at], dv[at]
        k_t, v_t = _transposed(k_), _transposed(vf[at])
        for n_block, (i, stop, used) in enumerate(blocks):
            qb, gb, kb = q_[..., i:stop, :], g_[..., i:stop, :], k_[..., :used, :]
            p = np.matmul(qb, k_t[..., :used])
            rows = p.reshape(-1, stop - i, used)
            _softmax_block(rows, op, i, m, has_mask)
            dp = np.matmul(gb, v_t[..., :used])
            ds = np.empty_like(dp)    # not in place: aliasing keeps the loop from vectorizing
            _loops().weights_grad(dp.reshape(-1, used), p.reshape(-1, used), scale,
                                  ds.reshape(-1, used))
            np.matmul(ds, kb, out=dq_[..., i:stop, :])
            if n_block == 0:
                np.matmul(p.swapaxes(-1, -2), gb, out=dv_[..., :used, :])
                np.matmul(ds.swapaxes(-1, -2), qb, out=dk_[..., :used, :])
            else:
                dv_[..., :used, :] += np.matmul(p.swapaxes(-1, -2), gb)
                dk_[..., :used, :] += np.matmul(ds.swapaxes(-1, -2), qb)
    _in_pieces(piece, qf, cut, math.prod(shape) * queries * keys)
    return grads.reshape(batch + grads.shape[-2:])
