"""Convolution kernels: im2col in an NHWC layout, then one 2-D GEMM per group and block.

The input is copied once into a zero-padded [N, H, W, C] buffer. A window of it is then kH
runs of kW * C contiguous values, so the columns of a block of output pixels, one row per
(n, h, w) laid out [pixels, G, kH * kW * Cg], are a single fast strided copy. A block is a
few images (BLOCK_BYTES of columns, so they stay in cache and the buffer is reused), and
each group's product [pixels, Kg] @ [Kg, Og] is one BLAS call with a long K (pixel-major:
W @ columns^T ran 20% slower in OpenBLAS).

Each kernel cuts the batch among the threads (`parallel.split`): a thread pads, copies and
multiplies its own images with one BLAS thread, in its own scratch buffers, so the copies
run on every core and no GEMM pays OpenBLAS's hand-off (each block's GEMM is small). The
forward does so only when each thread's products have as many rows as the weight has outputs
(`_split_images`): on small images OpenBLAS's own threads, sharing one packing of the
weight, are faster, unless the pixel pairs (below) can cut the output channels instead. No
kernel runs a product on OpenBLAS's threads right before or after its pieces: OpenBLAS's
second thread then spins on the core the pool thread needs (`_conv_numba.Shared`).

- The weight gradient reuses that layout: [Og, pixels] @ [pixels, Kg], summed over blocks;
  g's rows of a block are copied [G, Og, pixels] (runs of Wo, as g is NCHW). With a bias
  (`Conv2dGradWeightBias`) the bias gradient is summed from those rows while they are in
  cache. The forward's columns are not kept for it: they are kH * kW times the input (40 MB
  on the 32->64 5x5 layer at batch 64), and products reading them back from memory ran
  ~2 ms slower than rebuilding them (~1 ms) from the cached input.
- The input gradient is the same layout backwards: per block, the columns g @ w
  [pixels, Og] @ [Og, Kg] are added back into a padded NHWC buffer (col2im) by a Numba loop.
  (At stride 1 it could also be a convolution of g with the flipped weight, but that copies
  O / C times more columns and measured slower on the W3 layers.)
- Taps whose windows read only zero padding at every output are cut from the kernel first
  (`_live_taps`), in all three kernels: a 3x3 layer at a 1x1 output is one product with its
  centre tap, as a ResNet's last layers on 28x28 images are.
- Small images take fewer products than im2col's over padding: per (output, input pixel)
  pair at stride 1 (`_conv2d_pairs`), per region of outputs reading the same taps at
  stride 2 (`_conv2d_regions`); a strided 1x1 kernel reads only every s-th pixel. A single
  output pixel is one product of the live taps' weight with the window's values, the
  threads each gathering and multiplying a part of the output channels
  (`_conv2d_one_pixel`).
- One input channel (a first layer) takes tap-major columns, and each image's product
  [O, taps] @ [taps, pixels] is written straight into the NCHW output.
- 5x5 kernels at stride 1 with 16 or more input channels take Winograd F(2x2, 5x5) instead,
  and 3x3 ones with 32 or more input and output channels F(4x4, 3x3) (`_conv_winograd`:
  2.8x and 4x fewer multiplications; this im2col's GEMMs already ran near OpenBLAS's peak,
  so nothing else could close the gap to oneDNN on those layers).
- Depthwise layers (groups == C == O) are computed directly, per (image, channel) plane
  (`_conv_depthwise`): im2col's per-group GEMM there has N = 1.
- 1 to 4 output channels at stride 1 (an image model's RGB output layer), or up to 16 from
  at most 4 input channels (LeNet's 3 -> 6), are computed directly, without columns
  (`_conv_direct`): im2col's copy of kH * kW values per input value was the work there, for
  a GEMM with N = 3.
"""
import functools

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ...ops import conv
from . import (_conv_depthwise, _conv_direct, _conv_numba, _conv_pointwise, _conv_winograd,
               parallel)
from ._conv_numba import nhwc_padded, padded_buffer, scratch as _buffer, sum_parts
from .registry import kernel

# Of columns per block: half a core's L2, so a block's columns and OpenBLAS's packed copy
# of them share it. bench/conv_gemm.py-style sweep at one thread (2026-12-05, loaded
# machine, CPU time): the three kernels of the 32->64 layers took 3.5 % (5x5) and 9 % (3x3)
# less than with 2 MB (4 MB: slower still); the one-channel layers did not change.
# A block is at least as large as the weight (or weight gradient), which OpenBLAS packs again
# for every product: 256 -> 256 3x3 at 2x2 (a 2.4 MB weight), batch 64, forward 3.9 ms with
# 1 MB blocks, 3.1 with one block (one thread, CPU time).
BLOCK_BYTES = 1 << 20


def _geometry(op, hw, khw) -> tuple:
    """((top, bottom), (left, right)) padding and (Ho, Wo) for run-time sizes."""
    pads, out = [], []
    for axis in (0, 1):
        args = (hw[axis], khw[axis], op.stride[axis], op.dilation[axis])
        pads.append(conv.axis_pads(op.padding, axis, *args))
        out.append(conv.axis_out(*args, pads[-1]))
    return tuple(pads), tuple(out)


def _live_taps(op, hw, khw) -> tuple:
    """(pads, (Ho, Wo), (rows, cols)): `_geometry` with the kernel cut to the taps whose windows
    reach the input at some output, rows and cols slicing its axes. A tap that reads only zero
    padding adds nothing to the output and gets a zero weight gradient: a 3x3 layer at a 1x1
    output (padding 1) is its centre tap, one product instead of nine. Padding shrinks by the
    taps cut before; a cut that would need negative padding (dilation) is not made."""
    pads, out = _geometry(op, hw, khw)
    cut, live_pads = [], []
    for axis in (0, 1):
        (before, after), n, size, k = pads[axis], out[axis], hw[axis], khw[axis]
        s, d = op.stride[axis], op.dilation[axis]
        lo = 0   # taps before lo read only leading padding, at every output
        while lo < min(k - 1, before // d) and lo * d - before + (n - 1) * s < 0:
            lo += 1
        hi = k   # taps from hi on read only trailing padding
        while hi - 1 > lo and (hi - 1) * d - before >= size:
            hi -= 1
        cut.append(slice(lo, hi))
        live_pads.append((before - lo * d, max(0, after - (k - hi) * d)))
    return tuple(live_pads), out, tuple(cut)


def _blocks(start: int, stop: int, ho: int, row_bytes: int, block_bytes: int = 0):
    """(n0, n1, a0, a1): images n0:n1 of start:stop while whole images fit in block_bytes
    (BLOCK_BYTES if more) of columns, else output rows a0:a1 of one image at a time."""
    block_bytes = max(block_bytes, BLOCK_BYTES)
    if ho * row_bytes <= block_bytes:
        step = block_bytes // (ho * row_bytes)
        for n0 in range(start, stop, step):
            yield n0, min(stop, n0 + step), 0, ho
        return
    step = max(1, block_bytes // row_bytes)
    for n0 in range(start, stop):
        for a0 in range(0, ho, step):
            yield n0, n0 + 1, a0, min(ho, a0 + step)


def _column_blocks(xp, khw, out, stride, dilation, groups, start, stop, block_bytes=0):
    """(block, columns) of images start:stop of padded NHWC xp, block by block (`_blocks`), in
    one reused scratch buffer: [pixels, G, kH * kW * Cg] (pixel-major: a window's kW * C values
    are one contiguous run). With a single channel that run is only kW long, and tap-major
    columns [G, kH * kW * Cg, pixels], runs of Wo pixels, copy faster. Each block's source is
    a slice of one strided view of all windows (made once: as_strided costs 15 us a call)."""
    (kh, kw), (ho, wo), (sh, sw), (dh, dw) = khw, out, stride, dilation
    n, c = xp.shape[0], xp.shape[3]
    cg = c // groups
    s0, s1, s2, s3 = xp.strides
    pixels, pixel_strides = (n, ho, wo), (s0, sh * s1, sw * s2)
    taps, tap_strides = (groups, kh, kw, cg), (cg * s3, dh * s1, dw * s2, s3)
    if c == 1:
        windows = as_strided(xp, taps + pixels, tap_strides + pixel_strides, writeable=False)
    else:
        windows = as_strided(xp, pixels + taps, pixel_strides + tap_strides, writeable=False)
    row_bytes = wo * kh * kw * c * xp.itemsize
    for n0, n1, a0, a1 in _blocks(start, stop, ho, row_bytes, block_bytes):
        if c == 1:
            cols = _buffer("columns", taps + (n1 - n0, a1 - a0, wo), xp.dtype)
            cols[...] = windows[..., n0:n1, a0:a1, :]
            yield (n0, n1, a0, a1), cols.reshape(groups, kh * kw * cg, -1)
        else:
            cols = _buffer("columns", (n1 - n0, a1 - a0, wo) + taps, xp.dtype)
            cols[...] = windows[n0:n1, a0:a1]
            yield (n0, n1, a0, a1), cols.reshape(-1, groups, kh * kw * cg)


def _grad_rows(g, block, groups):
    """The block's rows of g [N, O, Ho, Wo] as [G, pixels, Og], pixels in the columns' order:
    a transposed view of a scratch copy [G, Og, pixels], whose runs of Wo (or whole images)
    copy 2-3x faster than transposing g to NHWC (4-byte runs); BLAS reads it transposed."""
    n0, n1, a0, a1 = block
    n, o, _, wo = g.shape
    part = g[n0:n1, :, a0:a1].reshape(n1 - n0, groups, o // groups, a1 - a0, wo)
    rows = _buffer("grad", (groups, o // groups, n1 - n0, a1 - a0, wo), g.dtype)
    rows[...] = part.transpose(1, 2, 0, 3, 4)
    return rows.reshape(groups, o // groups, -1).transpose(0, 2, 1)


def _common(*arrays):
    dtype = np.result_type(*arrays)
    return [a.astype(dtype, copy=False) for a in arrays]


# A multiply-add of im2col's forward or input gradient counts as 1/MACS_PER_ELEMENT of the
# kernel pool's unit of work (an elementwise pass's element): each piece pads, copies and
# multiplies in Python between small NumPy calls that hold the GIL, packs the weight again,
# and waits for the pool's thread. LeNet's 6 -> 16 5x5 at batch 4 (0.96M multiply-adds each
# way) lost on two pieces: both of LeNet's forward convolutions took 0.56 ms at two threads
# on an idle machine, 0.51 at one thread on a busy one (`op_threads.py --min`); the layer's
# fwd | bwd alone, fastest of 500 at two threads, load 2-7, two pieces -> one: 562-666 ->
# 295-374 us | 946-988 -> 642-720 us (one thread: 309 | 731). Unmeasured idle: 1-2M.
MACS_PER_ELEMENT = 4


def _split_images(piece, n: int, work: int, rows: int = 0, columns: int = 0) -> None:
    """piece(start, stop) over parts of the batch, on several threads when `work` (output
    elements times taps) is worth it and each thread's products would have at least as many
    `rows` (pixels) as the weight has `columns` (outputs); else one piece here, whose
    products OpenBLAS threads itself. Each of our threads packs the whole weight again,
    where OpenBLAS's threads share one packing: on a ResNet's small images (2x2 outputs,
    batch 64, two threads) cutting the batch made 256 -> 256 3x3 2.04 ms against 1.49
    without, 512 -> 512 at 1x1 1.03 against 0.80 (one thread 1.86 and 0.87)."""
    if rows and rows < parallel.threads() * columns:
        piece(0, n)
    else:
        parallel.split(piece, n, work // MACS_PER_ELEMENT)


def _tap_major(w, groups):
    """w [O, Cg, kH, kW] as [G, Og, kH * kW * Cg], taps in the columns' order. NumPy's
    transposing copy moves single values, ~1 ns each on one core: in parts of O on the pool's
    threads (`parallel.copy`) when large. DCGAN's 256 <-> 512 4x4 weights (8 MB), cold as in
    its training step, one thread against two: 2.2 against 1.3 ms (min of 10, quiet)."""
    o, cg, kh, kw = w.shape
    return parallel.copy(w.transpose(0, 2, 3, 1)).reshape(groups, o // groups, -1)


@kernel(conv.Conv2d, widen=0)
def conv2d(op, x, w):
    return _conv2d(op, *_common(x, w), None)


@kernel(conv.Conv2dBias, widen=0)
def conv2d_bias(op, x, w, b):
    x, w, b = _common(x, w, b)
    return _conv2d(op, x, w, b)


def _conv2d(op, x, w, b):
    """conv2d of x and w, plus b [O] (or None) added as each block's output is written."""
    n = x.shape[0]
    pads, (ho, wo), (live_rows, live_cols) = _live_taps(op, x.shape[2:], w.shape[2:])
    weight, w = w, w[:, :, live_rows, live_cols]
    o, cg, kh, kw = w.shape
    groups, og = op.groups, o // op.groups
    if _conv_depthwise.applies(op, x.shape[1], o, x.dtype):
        return _conv_depthwise.conv2d(op, x, w, b, pads, (ho, wo))
    if _conv_pointwise.applies((kh, kw), pads, x.dtype) and (groups > 1 or (ho, wo) != (1, 1)):
        # (one output pixel: `_conv2d_one_pixel` multiplies the whole batch at once)
        return _conv_pointwise.conv2d(op, x, w, b, (ho, wo))
    if _conv_winograd.applies(op, (kh, kw), x.shape[1], o, x.dtype, n, (ho, wo)):
        return _conv_winograd.conv2d(x, w, b, pads)
    if _conv_direct.applies(op, (kh, kw), x.shape[1], o, x.dtype, pads, (ho, wo)):
        return _conv_direct.conv2d(x, w, b, pads, (ho, wo))
    stride = op.stride
    if (kh, kw) == (1, 1) and pads == ((0, 0), (0, 0)) and stride != (1, 1):
        # a strided 1x1 kernel (a ResNet's downsample) reads every s-th pixel only: the
        # padded NHWC copy then moves those, not s * s times as many. Batch 64, two threads,
        # quiet, in the ResNet's eval step (min of 27 steps, three processes each): 64 -> 128
        # at 7x7 0.48-0.50 ms against 0.48-0.53, 128 -> 256 at 4x4 0.40-0.42 against
        # 0.43-0.46, 256 -> 512 at 2x2 0.26-0.27 against 0.29
        x, stride = x[:, :, ::stride[0], ::stride[1]], (1, 1)
    if (ho, wo) == (1, 1) and groups == 1:
        return _conv2d_one_pixel(x, w, b, pads, op.dilation)
    regions = _regions(stride, op.dilation, groups, x.shape[2:], (kh, kw), pads, (ho, wo))
    if regions is not None and min(x.shape[1], o) >= REGION_MIN_CHANNELS:
        cut = (live_rows.start, live_rows.stop, live_cols.start, live_cols.stop)
        return _conv2d_regions(x, w, b, (weight, cut), pads, regions, stride, (ho, wo))
    pairs = _pixel_pairs(stride, op.dilation, groups, x.shape[2:], (kh, kw), pads,
                         (ho, wo))
    if pairs is not None and min(x.shape[1], o) >= PAIR_MIN_CHANNELS:
        return _conv2d_pairs(x, w, b, pairs, (ho, wo))
    wt = _tap_major(w, groups)
    out = np.empty((n, groups, og, ho, wo), x.dtype)
    bias = None if b is None else b.reshape(groups, 1, og)
    xp = padded_buffer(x, pads)

    def piece(start, stop):
        nhwc_padded(x, pads, xp, start, stop)
        for (n0, n1, a0, a1), cols in _column_blocks(xp, (kh, kw), (ho, wo), stride,
                                                     op.dilation, groups, start, stop,
                                                     wt.nbytes):
            if x.shape[1] == 1:     # tap-major columns [1, Kg, pixels] (one channel: one
                # group): per image [O, Kg] @ [Kg, rows], straight into out's rows a0:a1,
                # 2x faster than one product and a copy (an output 32 times the input)
                images = cols.reshape(kh * kw, n1 - n0, -1).transpose(1, 0, 2)
                rows = out.reshape(n, o, ho * wo)[n0:n1, :, a0 * wo:a1 * wo]
                np.matmul(wt[0], images, out=rows)
                if b is not None:   # the block is still in cache
                    rows += b[:, None]
                continue
            res = _buffer("product", (groups, cols.shape[0], og), x.dtype)
            # pixel-major [G, pixels, Og]; BLAS reads wt transposed (a second, [G, Kg, Og]
            # copy of the weight cost more than it saved: 7.4 against 5.0 ms on 512 -> 512
            # 3x3 at 64 pixels, 2.5 against 2.2 ms on 64 -> 64 at 3136)
            np.matmul(cols.transpose(1, 0, 2), wt.transpose(0, 2, 1), out=res)
            if bias is not None:   # into the block while in cache: contiguous rows of Og
                # (adding during the transposed copy ran 2x slower than the copy itself)
                res += bias
            out[n0:n1, :, :, a0:a1] = res.reshape(groups, n1 - n0, a1 - a0, wo, og).transpose(
                1, 0, 4, 2, 3)
    _split_images(piece, n, out.size * kh * kw * cg, n * ho * wo, og)
    return out.reshape(n, o, ho, wo)


# Small images (a ResNet's 3x3 layers at 2x2 on 28x28 inputs): im2col multiplies every
# tap by zero padding where a window hangs over the edge; 9 taps at each of 2x2 outputs are
# 36 products [pixels, C] @ [C, O] where only 16 (output, input pixel) pairs read the input.
# `_conv2d_pairs` does those 16 as GEMMs (then [N, C] @ [C, O]). Batch 64, one thread, CPU ms,
# pairs | im2col | torch: 256 -> 256 at 2x2 1.93 | 2.96 | 2.20; 128 -> 256 stride 2, 4x4 to
# 2x2 (25 pairs against 36 products) 1.51 | 1.60 | 1.39. Used for one group, at most
# PAIR_MAX_PAIRS pairs, when im2col would do PAIR_MIN_SAVING times the products, with
# PAIR_MIN_CHANNELS channels or more (each GEMM is one NumPy call).
PAIR_MAX_PAIRS = 64
PAIR_MIN_SAVING = 1.4
PAIR_MIN_CHANNELS = 32
# Fewest input times output channels of a thread's products for the pairs to cut the output
# channels among threads. Two threads, batch 64, quiet 2-core VM, in the ResNet: 256 -> 256
# at 2x2 (16 pairs, 256 x 128 a thread) 1.63-1.83 -> 1.49-1.69 ms; 128 -> 256 stride 2, 4x4
# to 2x2 (25 pairs, 128 x 128) 1.45-1.63 -> 1.65-1.67, slower than OpenBLAS's threads.
PAIR_CUT_MIN = 256 * 128


@functools.lru_cache(maxsize=256)   # (bounded: every geometry a program meets is a key)
def _pixel_pairs(stride, dilation, groups, hw, khw, pads, out_hw):
    """((p, ((q, tap), ...)), ...): for each output pixel p the input pixels q its window reads
    and the tap (index into kH * kW) that reads each; None when im2col does fewer products
    than PAIR_MIN_SAVING times as many, or there are too many pairs, or groups. Cached per
    geometry: it loops over taps in Python."""
    if groups != 1 or out_hw[0] * out_hw[1] > PAIR_MAX_PAIRS:
        return None
    (kh, kw), (h, w) = khw, hw
    found = []
    for a in range(out_hw[0]):
        for b in range(out_hw[1]):
            reads = []
            for i in range(kh):
                for j in range(kw):
                    y = a * stride[0] - pads[0][0] + i * dilation[0]
                    x = b * stride[1] - pads[1][0] + j * dilation[1]
                    if 0 <= y < h and 0 <= x < w:
                        reads.append((y * w + x, i * kw + j))
            found.append((a * out_hw[1] + b, tuple(reads)))
    count = sum(len(reads) for _, reads in found)
    if count > PAIR_MAX_PAIRS or count * PAIR_MIN_SAVING > out_hw[0] * out_hw[1] * kh * kw:
        return None
    return tuple(found)


def _conv2d_pairs(x, w, b, pairs, out_hw):
    """conv2d as one GEMM per (output pixel, input pixel) pair: out[:, :, p]^T = sum over the
    pair's q of w[:, :, tap] @ x[:, :, q]^T, w as [O, taps, C] (a tap's [O, C] is a strided
    view BLAS reads as it is) and x as [Q, C, N], outputs [P, O, N]. (The other way round,
    [N, C] @ [C, O] products of 64 rows, OpenBLAS ran 256 -> 256 at 2x2 28 % slower: 0.81
    against 0.59 ms for a thread's 16 products, batch 64, one thread.) On several threads
    each takes a part of the output channels, relaid out there (2.4 MB on 256 -> 256, a
    slow transposing copy): a thread packs only its part of the weight. (Cutting the batch,
    each thread packed all of it: 256 -> 256 at 2x2, batch 64, 2.04 ms against 1.49 with
    OpenBLAS's two threads on each product.)"""
    n, c = x.shape[:2]
    o, _, kh, kw = w.shape
    xq = np.ascontiguousarray(x.reshape(n, c, x.shape[2] * x.shape[3]).transpose(2, 1, 0))
    res = np.empty((len(pairs), o, n), x.dtype)

    def piece(o0, o1):
        wt = _buffer("pair weight", (o1 - o0, kh, kw, c), x.dtype)
        wt[...] = w[o0:o1].transpose(0, 2, 3, 1)
        wt = wt.reshape(o1 - o0, kh * kw, c)
        part = _buffer("pair product", (o1 - o0, n), x.dtype)
        for p, reads in pairs:
            into = res[p, o0:o1]
            for k, (q, tap) in enumerate(reads):
                np.matmul(wt[:, tap], xq[q], out=into if k == 0 else part)
                if k:
                    into += part
            if not reads:       # a window over padding only
                into[...] = 0
            if b is not None:
                into += b[o0:o1, None]
    if c * o < PAIR_CUT_MIN * parallel.threads():
        piece(0, o)         # here, each product on OpenBLAS's threads
    else:
        parallel.split(piece, o, n * c * o * sum(len(reads) for _, reads in pairs))
    return np.ascontiguousarray(res.transpose(2, 1, 0)).reshape((n, o) + tuple(out_hw))


def _conv2d_one_pixel(x, w, b, pads, dilation):
    """conv2d with a single output pixel (a ResNet's last layers on 28x28 inputs: 3x3 at 1x1,
    or 2x2 -> 1x1 at stride 2) as out^T [O, N] = w [O, taps * C] @ columns^T, columns the
    [N, taps * C] values the one window reads. The live taps of w are a strided gather that
    touches every cache line of the whole weight (9.4 MB for 512 -> 512 3x3, from L3 in a
    model cycling through its layers): the threads each gather and multiply a part of the
    output channels, as the pixel pairs do. Batch 64, two threads, quiet, six cold
    512 -> 512 weights: 0.62 ms a call against 1.18 by im2col (its gather alone 0.66)."""
    n, c = x.shape[:2]
    o, _, kh, kw = w.shape
    xp = padded_buffer(x, pads)
    nhwc_padded(x, pads, xp, 0, n)
    window = xp[:, :(kh - 1) * dilation[0] + 1:dilation[0], :(kw - 1) * dilation[1] + 1:dilation[1]]
    cols = np.ascontiguousarray(window).reshape(n, kh * kw * c)    # (not -1: n may be 0)
    res = np.empty((o, n), x.dtype)

    def piece(o0, o1):
        part = _buffer("one-pixel weight", (o1 - o0, kh, kw, c), x.dtype)
        part[...] = w[o0:o1].transpose(0, 2, 3, 1)
        np.matmul(part.reshape(o1 - o0, -1), cols.T, out=res[o0:o1])
        if b is not None:
            res[o0:o1] += b[o0:o1, None]
    if c * o * kh * kw < PAIR_CUT_MIN * parallel.threads():
        piece(0, o)         # here, the product on OpenBLAS's threads
    else:
        parallel.run(piece, o)
    return np.ascontiguousarray(res.T).reshape(n, o, 1, 1)


# Small images at stride 2 (a ResNet's 128 -> 256 3x3 layer on 28x28 inputs, 4x4 -> 2x2):
# im2col multiplies zero padding where windows hang over the edge (11 of 36 products). The
# outputs whose windows read the same taps (per axis: the first row, the middle rows, the
# last row) form rectangular regions; `_conv2d_regions` builds each region's columns from
# its live taps only and multiplies them by those taps of the weight (kept between calls in
# eval), one GEMM per region: the pixel pairs' products in 4 GEMMs instead of 25 small ones.
# Batch 64, two threads, quiet: alone (min of 80 calls, three processes) 1.10-1.29 ms
# against 1.31-1.40 by the pairs; in the ResNet's eval step (min of 27) 1.45-1.51 against
# 1.61-1.76. At stride 1 the pairs stay: 256 -> 256 at 2x2 was even alone but 0.1-0.2 ms
# slower in the model (likely its memo check and 4.2 MB of region weights read from memory). The
# 7x7 -> 4x4 layer is 9 regions, smaller GEMMs than cutting its batch among the threads:
# 1.38-1.44 against 1.08-1.14, so at most REGION_MAX regions. For one group without
# dilation, when im2col does at least REGION_MIN_SAVING times the products.
REGION_MIN_SAVING = 1.15
REGION_MAX = 4
REGION_MIN_CHANNELS = 32


def _axis_runs(n, s, k, before, size):
    """((a0, a1), (i0, i1)) per run of outputs a0:a1 of one axis whose windows read the input
    at taps i0:i1 (the others read padding); None if some window reads only padding."""
    runs = []
    for a in range(n):
        lo, hi = max(0, before - a * s), min(k, size + before - a * s)
        if hi <= lo:
            return None
        if runs and runs[-1][1] == (lo, hi):
            runs[-1] = ((runs[-1][0][0], a + 1), (lo, hi))
        else:
            runs.append(((a, a + 1), (lo, hi)))
    return runs


@functools.lru_cache(maxsize=256)   # (bounded: every geometry a program meets is a key)
def _regions(stride, dilation, groups, hw, khw, pads, out_hw):
    """(((a0, a1), (b0, b1), (i0, i1), (j0, j1)), ...): output rows a0:a1 and columns b0:b1
    read the input only at taps i0:i1, j0:j1; None where im2col does fewer than
    REGION_MIN_SAVING times their products, or more than REGION_MAX regions, or groups or
    dilation."""
    if groups != 1 or dilation != (1, 1) or stride == (1, 1):
        return None
    axes = [_axis_runs(out_hw[axis], stride[axis], khw[axis], pads[axis][0], hw[axis])
            for axis in (0, 1)]
    if None in axes or len(axes[0]) * len(axes[1]) > REGION_MAX:
        return None
    live = [sum((a1 - a0) * (i1 - i0) for (a0, a1), (i0, i1) in runs) for runs in axes]
    if live[0] * live[1] * REGION_MIN_SAVING > out_hw[0] * out_hw[1] * khw[0] * khw[1]:
        return None
    return tuple((rows, cols, taps_i, taps_j) for rows, taps_i in axes[0]
                 for cols, taps_j in axes[1])


def _region_weights(w, source, regions):
    """Each region's taps of w [O, C, kH, kW] as [O, taps * C] (the columns' order), in one
    array: the memo's (`_conv_numba.WeightMemo`, keyed by the layer's whole weight and the
    taps `_live_taps` cut w to, `source` = (weight, cut)) when weight still has the bits they
    came from (a model in eval), else made (and kept unless weight is being trained). The
    cut is in the key: one weight at two paddings can give the same regions of other taps."""
    (weight, cut), memo = source, _conv_numba.weight_memo
    purpose = ("regions", cut, regions)
    made = memo.find(weight, purpose)
    if made is not None:
        return made
    o, c = w.shape[:2]
    sizes = [(i1 - i0) * (j1 - j0) * c for _, _, (i0, i1), (j0, j1) in regions]
    keep = memo.wanted(weight, purpose)
    shape = (o * sum(sizes),)
    made = np.empty(shape, w.dtype) if keep else _buffer("region weights", shape, w.dtype)
    start = 0
    for size, (_, _, (i0, i1), (j0, j1)) in zip(sizes, regions):
        part = made[start:start + o * size].reshape(o, i1 - i0, j1 - j0, c)
        part[...] = w[:, :, i0:i1, j0:j1].transpose(0, 2, 3, 1)
        start += o * size
    if keep:
        memo.keep(weight, purpose, made)
    return made


def _conv2d_regions(x, w, b, source, pads, regions, stride, out_hw):
    """conv2d by regions of outputs (`_regions`): per region, columns [pixels, taps * C] of
    its live taps only and one GEMM with those taps of the weight, its result written into
    the region's rows and columns of the NCHW output. Each GEMM runs on OpenBLAS's threads
    (giving the threads whole regions, each GEMM on one, measured the same)."""
    n, c = x.shape[:2]
    o, _, kh, kw = w.shape
    (ho, wo), (sh, sw) = out_hw, stride
    weights = _region_weights(w, source, regions)
    xp = padded_buffer(x, pads)
    nhwc_padded(x, pads, xp, 0, n)
    s0, s1, s2, s3 = xp.strides
    windows = as_strided(xp, (n, ho, wo, kh, kw, c), (s0, sh * s1, sw * s2, s1, s2, s3),
                         writeable=False)
    out = np.empty((n, o, ho, wo), x.dtype)
    start = 0
    for (a0, a1), (b0, b1), (i0, i1), (j0, j1) in regions:
        cols = _buffer("columns", (n, a1 - a0, b1 - b0, i1 - i0, j1 - j0, c), x.dtype)
        cols[...] = windows[:, a0:a1, b0:b1, i0:i1, j0:j1]
        taps = (i1 - i0) * (j1 - j0) * c
        res = _buffer("product", (cols.size // taps, o), x.dtype)
        np.matmul(cols.reshape(-1, taps), weights[start:start + o * taps].reshape(o, taps).T,
                  out=res)
        start += o * taps
        if b is not None:
            res += b
        out[:, :, a0:a1, b0:b1] = res.reshape(n, a1 - a0, b1 - b0, o).transpose(0, 3, 1, 2)
    return out


@kernel(conv.Conv2dGradWeight, widen=0)
def conv2d_grad_weight(op, x, g, ref):
    x, g = _common(x, g)
    gw = np.empty(ref.shape, x.dtype)
    _grad_weight(op, x, g, gw, None)
    return gw


@kernel(conv.Conv2dGradWeightBias, widen=0)
def conv2d_grad_weight_bias(op, x, g, ref):
    x, g = _common(x, g)
    both = np.empty(ref.size + ref.shape[0], x.dtype)
    _grad_weight(op, x, g, both[:ref.size].reshape(ref.shape), both[ref.size:])
    return both


# The weight gradient's product has Og rows: with few output channels and many taps the
# taps are the rows instead, [Kg, pixels] @ [pixels, Og] (the result's relayout then moves
# single values, cheap on a small weight). The whole kernel, one thread, min of 60 calls in
# three processes alternated with the other way: a GAN's 16 -> 32 4x4 at stride 2 (batch 8,
# 32x32 in; Og = 32, Kg = 256) 2.05-2.51 against 2.63-3.19 ms, LeNet's 6 -> 16 5x5 (batch 4)
# 0.227-0.230 against 0.239-0.293 (a reviewer's forward + backward A/B: even). At Og = 64 (32 -> 64 4x4, 16x16 in) it ran 4.0 against
# 1.7 ms; 16 x 48 taps (3 -> 16 4x4) 0.46 against 0.43 in a bare product. So the taps are the
# rows when Kg >= TAP_ROWS_FROM * Og and Og is at most TAP_ROWS_MAX_OUT.
TAP_ROWS_FROM = 4
TAP_ROWS_MAX_OUT = 32


def _ones(size: int, dtype) -> np.ndarray:
    ones = _buffer("ones", (size,), dtype)
    ones[...] = 1
    return ones


def _grad_weight(op, x, g, gw, gb) -> None:
    """The weight gradient into gw (shaped like the weight) and, if gb is given, the bias
    gradient (g summed over all axes but the channels) into gb [O], from g's blocks while
    they are in cache. Taps that read only padding get zeros.

    Each group's product is [Og, pixels] @ [pixels, Kg], g's rows as copied: [Og, Kg] is a
    tap-major weight, whose relayout to [O, Cg, kH, kW] moves runs of Cg (the [Kg, Og]
    product's moved single values: 256 -> 256 3x3 at 256 pixels 5.1 against 2.4 ms, 512 ->
    512 at 64 pixels 24 against 8). A block's columns are at least as large as that product
    (a deep layer at a small image: one block, not many short products each summed)."""
    pads, out_hw, (live_rows, live_cols) = _live_taps(op, x.shape[2:], gw.shape[2:])
    if gw[:, :, live_rows, live_cols].shape != gw.shape:
        gw[...] = 0
        gw = gw[:, :, live_rows, live_cols]
    o, cg, kh, kw = gw.shape
    groups = op.groups
    if _conv_depthwise.applies(op, x.shape[1], o, x.dtype):
        _conv_depthwise.grad_weight(op, x, g, gw, gb, pads)
        return
    if _conv_pointwise.applies((kh, kw), pads, x.dtype):
        _conv_pointwise.grad_weight(op, x, g, gw, gb)
        return
    if _conv_winograd.applies(op, (kh, kw), x.shape[1], o, x.dtype, x.shape[0], out_hw):
        _conv_winograd.grad_weight(x, g, gw, gb, pads)
        return
    if _conv_direct.applies(op, (kh, kw), x.shape[1], o, x.dtype, pads, out_hw):
        _conv_direct.grad_weight(x, g, gw, gb, pads)
        return
    xp = padded_buffer(x, pads)
    og, kg = o // groups, kh * kw * cg
    tap_rows = x.shape[1] > 1 and kg >= TAP_ROWS_FROM * og and og <= TAP_ROWS_MAX_OUT

    def part_sum(start, stop):
        # (the first block's product writes the sums: zeros only where they are added to)
        fresh = np.zeros if x.shape[1] == 1 or start == stop else np.empty
        sums = fresh((groups, kg, og) if tap_rows else (groups, og, kg), x.dtype)
        bias = None if gb is None else np.zeros(o, x.dtype)
        nhwc_padded(x, pads, xp, start, stop)
        blocks = _column_blocks(xp, (kh, kw), out_hw, op.stride, op.dilation, groups,
                                start, stop, sums.nbytes)
        if x.shape[1] == 1:     # tap-major columns: one product per image with g as it is
            for (n0, n1, a0, a1), cols in blocks:
                per_image = cols.reshape(kh * kw, n1 - n0, -1).transpose(1, 2, 0)
                part = g[n0:n1, :, a0:a1].reshape(n1 - n0, o, -1)
                sums[0] += np.matmul(part, per_image).sum(axis=0)
                if bias is not None:    # a product with ones: BLAS sums faster than a reduce
                    bias += np.matmul(part, _ones(part.shape[2], x.dtype)).sum(axis=0)
        else:
            product = _buffer("product", sums.shape, sums.dtype)
            for k, (block, cols) in enumerate(blocks):
                rows = _grad_rows(g, block, groups)     # [G, pixels, Og]
                if tap_rows:    # [G, Kg, pixels] @ [G, pixels, Og]
                    pair = cols.transpose(1, 2, 0), rows
                else:           # [G, Og, pixels] @ [G, pixels, Kg]
                    pair = rows.transpose(0, 2, 1), cols.transpose(1, 0, 2)
                if k == 0:
                    np.matmul(*pair, out=sums)
                else:
                    sums += np.matmul(*pair, out=product)
                if bias is not None:
                    flat = rows.transpose(0, 2, 1).reshape(o, -1)
                    bias += np.matmul(flat, _ones(flat.shape[1], x.dtype))
        return sums, bias
    parts = sum_parts(part_sum, x.shape[0], out_hw[0] * out_hw[1], g.size * kh * kw * cg)
    sums = parts[0][0]
    for part, _ in parts[1:]:   # in batch order, into the first part's (its own) array
        sums += part
    if tap_rows:    # [G, Kg, Og]: a small weight, its relayout moving single values
        gw[...] = sums.reshape(groups, kh, kw, cg, og).transpose(0, 4, 3, 1, 2).reshape(
            gw.shape)
    else:   # back to [O, Cg, kH, kW] in parts of O on the threads, as `_tap_major` (8 MB:
        # 3.1 against 1.8 ms)
        parallel.copy(sums.reshape(o, kh, kw, cg).transpose(0, 3, 1, 2), out=gw)
    if gb is not None:
        gb[...] = sum(b for _, b in parts)


@kernel(conv.Conv2dGradInput, widen=0)
def conv2d_grad_input(op, g, w, ref):
    g, w = _common(g, w)
    n, c, h, wd = ref.shape
    pads, out_hw, (live_rows, live_cols) = _live_taps(op, (h, wd), w.shape[2:])
    w = w[:, :, live_rows, live_cols]     # the other taps write only into padding
    o, cg, kh, kw = w.shape
    groups = op.groups
    if _conv_depthwise.applies(op, c, o, g.dtype):
        return _conv_depthwise.grad_input(op, g, w, ref.shape, pads)
    if _conv_pointwise.applies((kh, kw), pads, g.dtype):
        return _conv_pointwise.grad_input(op, g, w, ref.shape)
    if _conv_winograd.applies(op, (kh, kw), c, o, g.dtype, n, out_hw):
        return _conv_winograd.grad_input(g, w, ref.shape, pads)
    if _conv_direct.applies(op, (kh, kw), c, o, g.dtype, pads, out_hw):
        return _conv_direct.grad_input(g, w, ref.shape, pads)
    (top, bottom), (left, right) = pads
    dxp = _buffer("padded", (n, top + h + bottom, left + wd + right, c), g.dtype)
    dx = np.empty(ref.shape, g.dtype)
    wk = _tap_major(w, groups)

    def piece(start, stop):
        dxp[start:stop] = 0
        if c == 1:
            _one_channel_col2im(op, g, w, dxp, start, stop)
        else:
            row_bytes = out_hw[1] * groups * wk.shape[2] * g.itemsize
            for block in _blocks(start, stop, out_hw[0], row_bytes, wk.nbytes):
                rows = _grad_rows(g, block, groups)
                dcols = _buffer("product", (groups, rows.shape[1], wk.shape[2]), g.dtype)
                np.matmul(rows, wk, out=dcols)  # [G, pixels, Kg]
                _conv_numba.col2im(dcols, dxp, block, out_hw[1], op.stride, op.dilation,
                                   (kh, kw))
        dx[start:stop] = dxp[start:stop, top:top + h, left:left + wd].transpose(0, 3, 1, 2)
    _split_images(piece, n, g.size * kh * kw * cg)
    return dx


def _one_channel_col2im(op, g, w, dxp, start, stop) -> None:
    """The input gradient of a one-channel input, images start:stop, added into padded dxp
    [N, Hp, Wp, 1]: tap-major columns w^T @ g per image (no transpose of g), added back one
    tap at a time in runs of Wo, as the forward's columns are copied."""
    n, o, ho, wo = g.shape
    kh, kw = w.shape[2:]
    (sh, sw), (dh, dw) = op.stride, op.dilation
    wk = w.reshape(o, kh * kw).T  # [taps, O]
    for n0, n1, a0, a1 in _blocks(start, stop, ho, wo * kh * kw * g.itemsize):
        part = g[n0:n1, :, a0:a1].reshape(n1 - n0, o, -1)
        dcols = _buffer("product", (n1 - n0, kh * kw, part.shape[2]), g.dtype)
        np.matmul(wk, part, out=dcols)  # [images, taps, pixels]
        taps = dcols.reshape(n1 - n0, kh, kw, a1 - a0, wo)
        for i in range(kh):
            rows = slice(a0 * sh + i * dh, (a1 - 1) * sh + i * dh + 1, sh)
            for j in range(kw):
                dxp[n0:n1, rows, j * dw:j * dw + (wo - 1) * sw + 1:sw, 0] += taps[:, i, j]
