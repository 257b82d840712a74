"""Convolution by Winograd's minimal filtering F(2x2, rxr): fewer multiplications per output.

im2col + GEMM spends r * r * C multiply-adds per output and channel, and its GEMM already
runs near OpenBLAS's peak, so a 5x5 layer cannot get faster that way. Winograd computes each
2x2 block of outputs from an S x S window (S = r + 1) as A^T [(G w G^T) * (B^T d B)] A: per
tile S * S products instead of 4 * r * r (36 against 100 for 5x5, 2.8x fewer). The products
are S * S independent GEMMs over tiles, [tiles, C] @ [C, O], which run at full speed when a
block of tiles stays in cache; the transforms B^T d B and A^T M A are Numba loops with the
channels innermost (`_conv_loops.winograd_*`).

- A, G, B come from Toom-Cook at the points 0, 1, -1, 2, -2 and infinity (the usual small
  set). In float32 the transforms scale terms up to 16x before the sums: results differ
  from the direct sum by ~1e-5 of the largest value (tests allow 2e-5; float64: 1e-11).
- The input gradient is the forward's adjoint: g's tiles A dY A^T (as for the weight
  gradient), S * S GEMMs [tiles, O] @ [O, C] with (G w G^T)^T, then B (.) B^T per tile added
  back into the padded input where the windows overlap (`winograd_input_adjoint`). (As a
  forward convolution of g with the flipped weight it transformed 6x6 windows of g's 64
  channels and transposed g to NHWC: 11.1 against ~8 ms on the CNN's layer.)
- The weight gradient runs the forward backwards: the transformed gradient tiles A dY A^T
  and the input tiles B^T d B give (G w G^T)'s gradient as S * S GEMMs [C, tiles] @
  [tiles, O] summed over blocks, then G^T (.) G per (o, c).

Used for one group, stride 1, no dilation, square kernels in RADII, more than one input
channel (a one-channel layer's GEMM would have K = 1).
"""
from __future__ import annotations

import functools

import numpy as np

from . import parallel
from ._conv_numba import nhwc_padded, padded_buffer, scratch

TILE = 2                 # outputs per tile side (the loops are written for F(2x2, 5x5))
RADII = (5,)             # kernel sizes that take this path
POINTS = (0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5)
# Tiles per block: the block's transformed input [S * S, tiles, C] and products [S * S,
# tiles, O] stay in L2. One-thread sweep on the CNN's 32->64 layer (loaded machine): 49-147
# tiles (1-3 images) within noise, 392 10-20 % slower, 784 nearly 2x (all tiles at once:
# the GEMMs alone 2.5x slower).
BLOCK_TILES = 98


def applies(op, kernel_hw, channels: int, dtype) -> bool:
    return (op.groups == 1 and op.stride == (1, 1) and op.dilation == (1, 1)
            and kernel_hw[0] == kernel_hw[1] and kernel_hw[0] in RADII and channels > 1
            and np.dtype(dtype) in (np.dtype(np.float32), np.dtype(np.float64)))


@functools.cache
def matrices(r: int, dtype) -> tuple:
    """(A^T [TILE, S], G [S, r], B^T [S, S]) of F(TILE, r) in dtype."""
    size = TILE + r - 1
    points = np.array(POINTS[:size - 1])

    def evaluation(columns):   # polynomial of `columns` coefficients at the points and infinity
        e = np.zeros((size, columns))
        e[:-1] = points[:, None] ** np.arange(columns)
        e[-1, -1] = 1
        return e
    at, g, bt = evaluation(TILE).T, evaluation(r), np.linalg.inv(evaluation(size)).T
    return tuple(np.ascontiguousarray(m, dtype=dtype) for m in (at, g, bt))


def _tiles(out_hw) -> tuple:
    return tuple(-(-n // TILE) for n in out_hw)


def _tile_pads(pads, hw, tiles, r) -> tuple:
    """pads extended after the input so every tile's window lies inside the padded input."""
    return tuple((before, t * TILE + r - 1 - before - n)
                 for (before, _), n, t in zip(pads, hw, tiles))


def _loops():
    """The Numba loops' module, imported on first use (it imports Numba)."""
    from . import _conv_loops
    return _conv_loops


def _image_blocks(start, stop, tiles_per_image):
    step = max(1, BLOCK_TILES // tiles_per_image)
    for n0 in range(start, stop, step):
        yield n0, min(stop, n0 + step)


def conv2d(x, w, b, pads):
    """conv2d at stride 1 of x [N, C, H, W] and w [O, C, r, r] plus b [O] (or None)."""
    n, c, h, wd = x.shape
    o, _, r, _ = w.shape
    size = TILE + r - 1
    out_hw = (h + sum(pads[0]) - r + 1, wd + sum(pads[1]) - r + 1)
    th, tw = _tiles(out_hw)
    at, gm, bt = matrices(r, x.dtype)
    u = np.ascontiguousarray((gm @ w @ gm.T).transpose(2, 3, 1, 0)).reshape(size * size, c, o)
    bias = np.zeros(o, x.dtype) if b is None else np.ascontiguousarray(b, dtype=x.dtype)
    tile_pads = _tile_pads(pads, (h, wd), (th, tw), r)
    xp = padded_buffer(x, tile_pads)
    out = np.empty((n, o) + out_hw, x.dtype)
    loops = _loops()

    def piece(start, stop):
        nhwc_padded(x, tile_pads, xp, start, stop)
        for n0, n1 in _image_blocks(start, stop, th * tw):
            tiles = (n1 - n0) * th * tw
            v = scratch("winograd input", (size * size, tiles, c), x.dtype)
            loops.winograd_input(xp, bt, n0, n1, th, tw, TILE, v)
            products = scratch("winograd product", (size * size, tiles, o), x.dtype)
            np.matmul(v, u, out=products)
            loops.winograd_output(products, at, bias, n0, th, tw, out)
    parallel.split(piece, n, out.size * r * r * c)
    return out


def grad_input(g, w, x_shape, pads):
    """The input gradient of conv2d at stride 1, the forward's adjoint: g's tiles A dY A^T,
    the products with (G w G^T)^T, then B (.) B^T of each tile added back into the padded
    input (windows overlap) and written to NCHW."""
    n, c, h, wd = x_shape
    o, _, r, _ = w.shape
    size = TILE + r - 1
    th, tw = _tiles(g.shape[2:])
    at, gm, bt = matrices(r, g.dtype)
    ut = np.ascontiguousarray((gm @ w @ gm.T).transpose(2, 3, 0, 1)).reshape(size * size, o, c)
    tile_pads = _tile_pads(pads, (h, wd), (th, tw), r)
    (top, _), (left, _) = tile_pads
    dxp = scratch("padded", (n, th * TILE + r - 1, tw * TILE + r - 1, c), g.dtype)
    dx = np.empty(x_shape, g.dtype)
    loops = _loops()

    def piece(start, stop):
        dxp[start:stop] = 0
        for n0, n1 in _image_blocks(start, stop, th * tw):
            tiles = (n1 - n0) * th * tw
            dm = scratch("winograd product", (size * size, tiles, o), g.dtype)
            loops.winograd_grad_tiles(g, at, n0, n1, th, tw, dm)
            dv = scratch("winograd input", (size * size, tiles, c), g.dtype)
            np.matmul(dm, ut, out=dv)
            loops.winograd_input_adjoint(dv, bt, n0, n1, th, tw, TILE, dxp)
        dx[start:stop] = dxp[start:stop, top:top + h, left:left + wd].transpose(0, 3, 1, 2)
    parallel.split(piece, n, g.size * r * r * c)
    return dx


def grad_weight(x, g, gw, gb, pads) -> None:
    """The weight gradient into gw [O, C, r, r] and, if gb is given, the bias gradient into
    gb [O]."""
    n, c, h, wd = x.shape
    o, _, r, _ = gw.shape
    size = TILE + r - 1
    th, tw = _tiles(g.shape[2:])
    at, gm, bt = matrices(r, x.dtype)
    tile_pads = _tile_pads(pads, (h, wd), (th, tw), r)
    xp = padded_buffer(x, tile_pads)
    loops = _loops()
    parts = {}

    def piece(start, stop):
        sums = np.zeros((size * size, c, o), x.dtype)
        product = np.empty_like(sums)
        nhwc_padded(x, tile_pads, xp, start, stop)
        for n0, n1 in _image_blocks(start, stop, th * tw):
            tiles = (n1 - n0) * th * tw
            v = scratch("winograd input", (size * size, tiles, c), x.dtype)
            loops.winograd_input(xp, bt, n0, n1, th, tw, TILE, v)
            dm = scratch("winograd product", (size * size, tiles, o), x.dtype)
            loops.winograd_grad_tiles(g, at, n0, n1, th, tw, dm)
            sums += np.matmul(v.transpose(0, 2, 1), dm, out=product)
        parts[start] = sums
    parallel.split(piece, n, g.size * r * r * c)
    du = sum(parts.values()).reshape(size, size, c, o).transpose(3, 2, 0, 1)
    gw[...] = gm.T @ du @ gm     # (einsum's one loop over all six axes: ~10x slower)
    if gb is not None:
        gb[...] = parallel.add_reduce(g, axis=(0, 2, 3))
