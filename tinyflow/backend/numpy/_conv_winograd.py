"""Convolution by Winograd's minimal filtering F(m x m, r x r): fewer multiplications per output.

im2col + GEMM spends r * r * C multiply-adds per output and channel, and its GEMM already
runs near OpenBLAS's peak, so a 3x3 or 5x5 layer cannot get faster that way. Winograd
computes each m x m block of outputs from an S x S window (S = m + r - 1) as
A^T [(G w G^T) * (B^T d B)] A: per tile S * S products instead of m * m * r * r. Both sizes
use S = 6, so one set of transform loops serves both: F(2x2, 5x5) (36 against 100, 2.8x
fewer) and F(4x4, 3x3) (36 against 144, 4x fewer). The products are S * S independent
GEMMs over tiles, [tiles, C] @ [C, O], which run at full speed when a block of tiles stays
in cache; the transforms B^T d B and A^T M A are Numba loops with the channels innermost
(`_conv_loops.winograd_*`).

- A, G, B come from Toom-Cook at the points 0, 1, -1, 1/2, -2 and infinity (both sizes at
  the same six, so B is one matrix). In float32 the transforms scale terms before the sums;
  with 1/2 in place of the usual 2 the results' error was ~3x smaller for both sizes (max
  ~2e-6 of the largest value against float64 on 32-channel layers, against 6e-6 with
  0, +-1, +-2; tests allow 2e-5; float64: 1e-11).
- The input gradient is the forward's adjoint: g's tiles A dY A^T (as for the weight
  gradient), S * S GEMMs [tiles, O] @ [O, C] with (G w G^T)^T, then B (.) B^T per tile added
  back into the padded input where the windows overlap (`winograd_input_adjoint`). (As a
  forward convolution of g with the flipped weight it transformed 6x6 windows of g's 64
  channels and transposed g to NHWC: 11.1 against ~8 ms on the CNN's 5x5 layer.)
- The weight gradient runs the forward backwards: the transformed gradient tiles A dY A^T
  and the input tiles B^T d B give (G w G^T)'s gradient as S * S GEMMs [C, tiles] @
  [tiles, O] summed over blocks, then G^T (.) G per (o, c).

Used for one group, stride 1, no dilation, square kernels in TILES, with at least
MIN_CHANNELS input and output channels (a one-channel layer's GEMM would have K = 1; a
narrow layer's transforms cost more than its GEMMs save).
"""
from __future__ import annotations

import functools
import threading

import numpy as np

from . import _conv_numba, parallel
from ._conv_numba import Shared, nhwc_padded, padded_buffer, scratch, sum_parts

# kernel size -> outputs per tile side m; both give windows of S = 6, which the transform
# loops are written for
TILES = {5: 2, 3: 4}
# Kernel size -> fewest (input, output) channels for which the GEMMs saved outweigh the
# transforms. 3x3 fwd + bwd at batch 64, one thread, CPU time against im2col (loaded
# machine): C/O 3/16 1.46x, 8/8 1.15x, 16/32 at 14x14 1.04x, 16/16 at 28x28 0.79x, 32/64
# 0.80x, 64/64 at 8x8 0.63x and at 28x28 0.52x, 128/128 at 7x7 0.86x. 5x5 fwd + bwd, CPU
# time at one thread against im2col (quiet, 2026-12-07): C/O 3/6 at 32x32 1.75x (batch 4)
# and 2.10x (64), 6/16 at 14x14 1.41x (4) and 1.86x (64), 16/32 0.89-1.04x, 32/64 at 7x7
# 0.85x; at two threads 3/6 1.38x, 8/16 at 28x28 1.44x, 6/16 1.87x, 16/32 0.98-1.07x,
# 24/48 0.88x (LeNet's 3->6->16 layers had taken Winograd at 1.4-2x the time). Into 3 or 4
# channels the alternative is the direct path (`_conv_direct`): from 3 channels it wins
# (3/4 at 32x32, 3.0x and 3.8x), from 16 and 32 Winograd does (0.86x, 0.72x at 28x28).
MIN_CHANNELS = {5: (16, 2), 3: (32, 32)}
POINTS = (0.0, 1.0, -1.0, 0.5, -2.0)   # and infinity
# Tiles per block: the block's transformed input [S * S, tiles, C] and products [S * S,
# tiles, O] stay in L2. One-thread sweep on the CNN's 32->64 layer (loaded machine): 49-147
# tiles (1-3 images) within noise, 392 10-20 % slower, 784 nearly 2x (all tiles at once:
# the GEMMs alone 2.5x slower).
BLOCK_TILES = 98


# Fewest tiles (images x tiles per image) over which one weight transform G w G^T (S * S * C
# * O values written, then transposed) is worth making; and the fewest times fewer products
# than im2col's (r * r per output against S * S per tile: a tile mostly past a small output
# wastes its products). One thread, CPU ms fwd + bwd, winograd | im2col, at C = O: 3x3 at
# 4x4 (one tile an image) n8 c256 14.3 | 9.9, n16 c128 4.0 | 3.3, n24 4.8 | 4.1, n32 4.5 |
# 5.2, n64 7.3 | 9.9; 3x3 n64 c256 at 2x2 (ratio 1) 25.3 | 13.5, c512 at 1x1 131 | 47 (a
# ResNet-18 on MNIST-sized images spent 7x torch's time there); 5x5 n64 c32 at 3x3 (ratio
# 1.56) 2.0 | 1.7, at 7x7 (2.1) 6.2 | 6.9.
MIN_TILES = 32
MIN_SAVING = 2.0
# The work of making the transformed weight (`_transformed_weight`) in tiles of the
# convolution's: the caller's piece, which makes it (`_conv_numba.Shared`), takes that many
# fewer tiles. Measured on two threads (quiet 2-core VM, batch 64): it made the caller's
# half of 128 -> 128 3x3 at 4x4 (one tile an image) 0.44 ms longer than the other's
# (0.43 ms alone, one BLAS thread), of 64 -> 64 at 7x7 (4 tiles) 0.2 ms (0.07 alone).
WEIGHT_TILES = 24
# Most tiles (images x tiles per image) of a forward that makes its backward's transformed
# weight (`_forward_weight`): the transform is ~1/tiles of the GEMMs' multiply-adds, and
# the backward's, made in its run, held up all of fast_neural_style's 128 -> 128 layers
# (32 tiles), not measurably the CNN's 32 -> 64 layer at batch 64 (1024 tiles).
HAND_ON_TILES = 256


def applies(op, kernel_hw, channels: int, out_channels: int, dtype, images: int,
            out_hw) -> bool:
    r = kernel_hw[0]
    if not (op.groups == 1 and op.stride == (1, 1) and op.dilation == (1, 1)
            and kernel_hw[1] == r and r in TILES
            and channels >= MIN_CHANNELS[r][0] and out_channels >= MIN_CHANNELS[r][1]
            and np.dtype(dtype) in (np.dtype(np.float32), np.dtype(np.float64))):
        return False
    th, tw = _tiles(out_hw, TILES[r])
    size = TILES[r] + r - 1
    return (images * th * tw >= MIN_TILES
            and r * r * out_hw[0] * out_hw[1] >= MIN_SAVING * size * size * th * tw)


@functools.cache
def matrices(r: int, dtype) -> tuple:
    """(A^T [m, S], G [S, r], B^T [S, S]) of F(m, r) in dtype, m = TILES[r]."""
    m = TILES[r]
    size = m + r - 1
    points = np.array(POINTS[:size - 1])

    def evaluation(columns):   # polynomial of `columns` coefficients at the points and infinity
        e = np.zeros((size, columns))
        e[:-1] = points[:, None] ** np.arange(columns)
        e[-1, -1] = 1
        return e
    at, g, bt = evaluation(m).T, evaluation(r), np.linalg.inv(evaluation(size)).T
    return tuple(np.ascontiguousarray(m, dtype=dtype) for m in (at, g, bt))


@functools.cache
def _weight_matrix(r: int, dtype) -> np.ndarray:
    """G (x) G [S * S, r * r]: (G w G^T) of every (o, c) as one product with w's taps."""
    gm = matrices(r, dtype)[1]
    return np.kron(gm, gm)


def _transformed_weight(w, order) -> np.ndarray:
    """G w G^T of every (o, c) of w [O, C, r, r], as [S * S, C, O] (order "co") or
    [S * S, O, C] ("oc"): the memo's (`_conv_numba.WeightMemo`) if it has w's bits, else made."""
    made = _conv_numba.weight_memo.find(w, order)
    return _made_weight(w, order) if made is None else made


def _made_weight(w, order) -> np.ndarray:
    """`_transformed_weight` made by a Numba loop (`_conv_loops.winograd_weight`; "oc" is
    "co" of w's transpose) and kept in the memo (read only, never written after);
    a weight being trained is not kept: made in the scratch of the thread that makes it (a
    fresh 2.4 MB on 128 -> 128 3x3 cost page faults on every call), read only during the run
    that made it."""
    o, c, r, _ = w.shape
    shape = ((TILES[r] + r - 1) ** 2,) + ((o, c) if order == "oc" else (c, o))
    memo = _conv_numba.weight_memo
    keep = memo.wanted(w, order) and memo.wanted(w, "co")   # "co": the forward's, trained?
    made = np.empty(shape, w.dtype) if keep else scratch("winograd weight", shape, w.dtype)
    _loops().winograd_weight(np.ascontiguousarray(w), matrices(r, w.dtype)[1], made,
                             order == "oc")
    if keep:
        memo.keep(w, order, made)
    return made


def _forward_weight(w, tiles: int) -> tuple:
    """The forward's transformed weight ("co", `_shared_weight`) and, for a weight being
    trained (no longer kept, `WeightMemo.wanted`), a call that makes the input gradient's
    ("oc") and keeps it for this step's backward (`WeightMemo.slot`: in the array of the
    step before), which finds it while w keeps the bits it was made from (else None).
    Made in the backward's run, "oc" delayed every piece of it: fast_neural_style's
    128 -> 128 3x3 layers at 16x16, batch 2, one image a thread, waited ~0.5 ms for it in
    each backward. The forward's second piece makes it while the first makes "co". Only
    for runs of at most HAND_ON_TILES tiles, where the transform is a sizeable share."""
    shared = _shared_weight(w, "co")
    memo = _conv_numba.weight_memo
    if shared.value is not None or memo.wanted(w, "co") or tiles > HAND_ON_TILES:
        return shared, None
    o, c, r, _ = w.shape
    oc = memo.slot(w, "oc", ((TILES[r] + r - 1) ** 2, o, c))
    if oc is None:      # no room in the memo: the backward makes its own
        return shared, None
    lock = threading.Lock()

    def hand_on():
        if lock.acquire(blocking=False):    # once, by whichever piece comes first
            _loops().winograd_weight(np.ascontiguousarray(w), matrices(r, w.dtype)[1], oc,
                                     True)
            memo.keep(w, "oc", oc)
    return shared, hand_on


def _shared_weight(w, order) -> Shared:
    """The transformed weight for a run's pieces: the memo's, or made by the first piece that
    asks (`Shared`), which then takes fewer tiles (`_split`)."""
    shared = Shared(lambda: _made_weight(w, order))
    shared.value = _conv_numba.weight_memo.find(w, order)
    return shared


def _tiles(out_hw, m) -> tuple:
    return tuple(-(-n // m) for n in out_hw)


def _tile_pads(pads, hw, tiles, r) -> tuple:
    """pads extended after the input so every tile's window lies inside the padded input."""
    return tuple((before, t * TILES[r] + r - 1 - before - n)
                 for (before, _), n, t in zip(pads, hw, tiles))


def _loops():
    """The Numba loops' module, imported on first use (it imports Numba)."""
    from . import _conv_loops
    return _conv_loops


def _split(piece, n, tiles_per_image, work, weights: Shared, even=False) -> None:
    """piece(start, stop) over the batch on the threads (`parallel.split`), the first piece
    (the caller's, which makes the transformed weight unless the memo had it) WEIGHT_TILES
    tiles shorter, but keeping at least one image (d <= n - 2: at batch 2 a shift of one
    left the caller only the weight, and the pool thread both images after waiting); no
    shift if `even` (the other pieces make a weight too, `_forward_weight`)."""
    d = 0 if weights.value is not None or even else min(max(0, n - 2), n // 2,
                                                round(WEIGHT_TILES / tiles_per_image))
    parallel.split(lambda a, b: piece(max(0, a - d), max(0, b - d)), n + d, work)


def _image_blocks(start, stop, tiles_per_image):
    step = max(1, BLOCK_TILES // tiles_per_image)
    for n0 in range(start, stop, step):
        yield n0, min(stop, n0 + step)


def conv2d(x, w, b, pads):
    """conv2d at stride 1 of x [N, C, H, W] and w [O, C, r, r] plus b [O] (or None)."""
    n, c, h, wd = x.shape
    o, _, r, _ = w.shape
    m = TILES[r]
    size = m + r - 1
    out_hw = (h + sum(pads[0]) - r + 1, wd + sum(pads[1]) - r + 1)
    th, tw = _tiles(out_hw, m)
    at, _, bt = matrices(r, x.dtype)
    bias = np.zeros(o, x.dtype) if b is None else np.ascontiguousarray(b, dtype=x.dtype)
    tile_pads = _tile_pads(pads, (h, wd), (th, tw), r)
    xp = padded_buffer(x, tile_pads)
    out = np.empty((n, o) + out_hw, x.dtype)
    loops = _loops()
    weights, hand_on = _forward_weight(w, n * th * tw)

    def piece(start, stop):
        if start == 0:      # the caller's piece: the others start later (`Shared`)
            weights.get()
        elif hand_on is not None:   # while the caller's makes "co"
            hand_on()
        nhwc_padded(x, tile_pads, xp, start, stop)
        for n0, n1 in _image_blocks(start, stop, th * tw):
            tiles = (n1 - n0) * th * tw
            v = scratch("winograd input", (size * size, tiles, c), x.dtype)
            loops.winograd_input(xp, bt, n0, n1, th, tw, m, v)
            products = scratch("winograd product", (size * size, tiles, o), x.dtype)
            np.matmul(v, weights.get(), out=products)
            loops.winograd_output(products, at, bias, n0, th, tw, m, out)
    _split(piece, n, th * tw, out.size * r * r * c, weights, hand_on is not None)
    if hand_on is not None:     # not yet if the run had one piece
        hand_on()
    return out


def grad_input(g, w, x_shape, pads):
    """The input gradient of conv2d at stride 1, the forward's adjoint: g's tiles A dY A^T,
    the products with (G w G^T)^T, then B (.) B^T of each tile added back into the padded
    input (windows overlap) and written to NCHW."""
    n, c, h, wd = x_shape
    o, _, r, _ = w.shape
    m = TILES[r]
    size = m + r - 1
    th, tw = _tiles(g.shape[2:], m)
    at, _, bt = matrices(r, g.dtype)
    weights = _shared_weight(w, "oc")
    tile_pads = _tile_pads(pads, (h, wd), (th, tw), r)
    (top, _), (left, _) = tile_pads
    dxp = scratch("padded", (n, th * m + r - 1, tw * m + r - 1, c), g.dtype)
    dx = np.empty(x_shape, g.dtype)
    loops = _loops()

    def piece(start, stop):
        if start == 0:      # the caller's piece: the others start later (`Shared`)
            weights.get()
        dxp[start:stop] = 0
        for n0, n1 in _image_blocks(start, stop, th * tw):
            tiles = (n1 - n0) * th * tw
            dm = scratch("winograd product", (size * size, tiles, o), g.dtype)
            loops.winograd_grad_tiles(g, at, n0, n1, th, tw, m, dm)
            dv = scratch("winograd input", (size * size, tiles, c), g.dtype)
            np.matmul(dm, weights.get(), out=dv)
            loops.winograd_input_adjoint(dv, bt, n0, n1, th, tw, m, dxp)
        dx[start:stop] = dxp[start:stop, top:top + h, left:left + wd].transpose(0, 3, 1, 2)
    _split(piece, n, th * tw, g.size * r * r * c, weights)
    return dx


def grad_weight(x, g, gw, gb, pads) -> None:
    """The weight gradient into gw [O, C, r, r] and, if gb is given, the bias gradient into
    gb [O]."""
    n, c, h, wd = x.shape
    o, _, r, _ = gw.shape
    m = TILES[r]
    size = m + r - 1
    th, tw = _tiles(g.shape[2:], m)
    at, _, bt = matrices(r, x.dtype)
    tile_pads = _tile_pads(pads, (h, wd), (th, tw), r)
    xp = padded_buffer(x, tile_pads)
    loops = _loops()

    def part_sum(start, stop):
        # the first block's product is written as the sum (a part of one or two images at
        # 16 tiles each, fast_neural_style's 128 -> 128 layers, has one block): no zeros
        # and no added pass over S * S * C * O values; later blocks' go through scratch
        sums = scratch("winograd weight sums", (size * size, c, o), x.dtype)
        nhwc_padded(x, tile_pads, xp, start, stop)
        for k, (n0, n1) in enumerate(_image_blocks(start, stop, th * tw)):
            tiles = (n1 - n0) * th * tw
            v = scratch("winograd input", (size * size, tiles, c), x.dtype)
            loops.winograd_input(xp, bt, n0, n1, th, tw, m, v)
            dm = scratch("winograd product", (size * size, tiles, o), x.dtype)
            loops.winograd_grad_tiles(g, at, n0, n1, th, tw, m, dm)
            if k == 0:
                np.matmul(v.transpose(0, 2, 1), dm, out=sums)
            else:
                sums += np.matmul(v.transpose(0, 2, 1), dm,
                                  out=scratch("winograd weight block", sums.shape, x.dtype))
        # G^T (.) G of this part's sum (linear: the parts' results add up), and the bias
        # gradient of its images: no product after the run, where it would wake OpenBLAS's
        # second thread (`_conv_numba.Shared`), and no second pass over g
        return (_weight_matrix(r, x.dtype).T @ sums.reshape(size * size, c * o),
                None if gb is None else np.add.reduce(g[start:stop], (0, 2, 3)))
    ordered = sum_parts(part_sum, n, g.shape[2] * g.shape[3], g.size * r * r * c)
    gw[...] = sum(s for s, _ in ordered).reshape(r, r, c, o).transpose(3, 2, 0, 1)
    if gb is not None:
        gb[...] = sum(b for _, b in ordered)
