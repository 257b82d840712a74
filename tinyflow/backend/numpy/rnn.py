"""The LSTM recurrence and its backpropagation through time, one loop over steps each.

For float32 and float64 each loop is one Numba call (`_fast_math_loops.lstm_forward_steps`,
`lstm_backward_steps`) that calls OpenBLAS's ?gemm itself (`blas.gemm_address`): no Python
between steps and no GIL held, so the kernel pool's threads run pieces of it at once: at a
batch of 128 or more each batch half's recurrence (`_by_columns`), below that each half of
the hidden rows, each step's pieces taken by whichever thread reaches them first
(`_by_rows`). Without
that symbol (NumPy built on another BLAS) it is a Python loop over steps: NumPy's matmul,
then the Numba cell.

Each step is hidden-major ([rows, batch], see `ops/rnn.py`): per step the one
sequential product is w_hh [4H, H] times h^T [H, B] (backwards w_hh^T times the gate
adjoints [4H, B]), shapes OpenBLAS ran 15-25% faster than the batch-major h [B, H] times
w_hh^T on two threads here (H 256, B 32), 5-10% on one. At 32 columns or fewer, on
OpenBLAS's SkylakeX-family kernels, each product is cut into blocks small enough for its
AVX-512 small-matrix kernels (`_blocks`), which skip packing w_hh: 25-30% faster per step
at H 256, B 32 (each hidden-row piece's share too). The packed states are step-major, so each step's planes are one contiguous [6, H, B] block and the
cell's passes run over contiguous memory. Backwards, the gate adjoints' home [4H, T + 1, B]
puts a step's rows 6.5 KB apart (T 50), which the product read a third slower (the 50
steps' products 8.0 against 5.9 ms, one thread): the cell writes them to a contiguous
[4H, B] buffer that the product reads, then copies them home (lstm_grad at H 256, B 32,
one thread, in one quiet process alternating: 9.4 -> 8.85 ms). For float32 and float64 the cell is one Numba
loop (gates, state, output; backwards the gate adjoints), with the float32 sigmoid and tanh
of `_fast_math_loops` (no libm call: the loop stays SIMD).
Otherwise it is a few NumPy passes, all in place; the four gates share one sigmoid pass,
tanh(x) = 2 sigmoid(2x) - 1, as NumPy's exp is several times faster than its tanh.
"""

import ctypes
import functools
from typing import Optional

import numpy as np

from ...ops import rnn, rnn_cell
from . import blas, parallel
from .registry import kernel


@functools.cache
def _loops():
    """`_fast_math_loops` (the cells and the recurrences), imported on first use; each
    precision compiles (or loads from the disk cache) its own specialization."""
    from . import _fast_math_loops
    return _fast_math_loops


COLUMN_BLOCK = 16   # columns per cut unit: a multiple of the widest SIMD vector (16 floats)
MIN_PIECE_COLUMNS = 64   # fewest batch columns per piece (see _by_columns)
MIN_PIECE_ROWS = 64      # fewest hidden rows per piece (see _by_rows)
SMALL_PRODUCT = 1_000_000   # m n k at most this: OpenBLAS's AVX-512 kernels do not pack
SMALL_PRODUCT_COLUMNS = 32  # blocks only up to this many batch columns (at 64 they lost 10%)
DEPTH_BLOCK = 128           # inner terms per block


def _blocks(m: int, n: int, k: int) -> tuple:
    """(rows, depth) of the blocks the recurrence's [m, k] x [k, n] products are cut into
    (`_fast_math_loops.gemm_blocks`). OpenBLAS's SkylakeX-family kernels multiply products
    of m n k <= SMALL_PRODUCT without packing the [m, k] operand; a per-step product with
    w_hh as that operand repacks all of w_hh (1 MB at H 256) every step. Measured at H 256,
    B 32 (the 50 steps' products alone, one thread, float32, loaded machine): forward
    6.9 -> 4.9 ms, backward 8.9 -> 6.2 ms (blocks of 240 rows x 128 terms; one block of 1e6
    m n k or more: no gain); at B 64 the blocks lost 5-10 %, so wider pieces and other
    OpenBLAS kernels keep one product."""
    if n > SMALL_PRODUCT_COLUMNS or not blas.small_products_unpacked():
        return m, k
    depth = min(k, DEPTH_BLOCK)
    most = max(16, SMALL_PRODUCT // (max(n, 1) * depth) // 16 * 16)
    rows = -(-m // -(-m // most))                 # equal blocks: m / ceil(m / most), up
    return min(m, (rows + 15) // 16 * 16), depth  # in 16-row multiples (<= most)


def _plan(batch: int, hidden: int, size: int) -> Optional[list]:
    """How the recurrence is cut: None when by batch columns (`_by_columns`, from 128
    columns, when `size` elements are worth it: `parallel.worth_it`), else the hidden rows'
    cuts [0, ..., hidden]: one piece, or one per kernel thread (`_by_rows`)."""
    if parallel.worth_it(size, min(batch // COLUMN_BLOCK, batch // MIN_PIECE_COLUMNS)):
        return None
    pieces = min(parallel.threads(), hidden // MIN_PIECE_ROWS)
    if not (parallel.worth_it(size, pieces) and _yield_address() is not None):
        pieces = 1
    return [a for a, _ in parallel.bounds(hidden, pieces)] + [hidden]


def _split(steps, plan: Optional[list], batch: int, hidden: int, units: int) -> None:
    """steps(cuts, b0, b1, sync, piece) runs the whole recurrence (`units` steps) for batch
    columns [b0, b1), its hidden rows cut at `cuts`, as `_plan` says: once per batch-column
    piece, once per row piece (`_by_rows`), or once."""
    if plan is None:
        whole = np.array([0, hidden], np.int64)
        _by_columns(lambda b0, b1: steps(whole, b0, b1, _sync(1, units), 0), batch)
    elif len(plan) > 2:
        _by_rows(steps, np.array(plan, np.int64), batch, units)
    else:
        steps(np.array(plan, np.int64), 0, batch, _sync(1, units), 0)


@functools.cache
def _yield_address() -> Optional[int]:
    """The address of the C library's sched_yield (a row piece's wait gives the core up
    with it), or None where there is none (then the rows are not cut)."""
    return _c_function("sched_yield")


@functools.cache
def _c_function(name: str) -> Optional[int]:
    try:
        return ctypes.cast(getattr(ctypes.CDLL(None), name), ctypes.c_void_p).value
    except (AttributeError, OSError, TypeError):
        return None


def _barrier() -> tuple:
    """The waits' last arguments (`_fast_math_loops.wait_for`): sched_yield's address (0:
    none; then no rows are cut, nothing waits) and usleep's (0: none; then it only yields)."""
    return _yield_address() or 0, _c_function("usleep") or 0


def _sync(pieces: int, units: int) -> np.ndarray:
    """The zeroed int64 counters of `units` steps cut in `pieces`: per step a claim count
    per piece and a done count (`_fast_math_loops.lstm_forward_steps`)."""
    return np.zeros(units * (pieces + 1) if pieces > 1 else 1, np.int64)


def _by_rows(steps, cuts: np.ndarray, batch: int, units: int) -> None:
    """The recurrence once per kernel thread over disjoint hidden rows, all at once: each
    runs its rows' share of every step's product (w_hh's rows i f g o of its hidden rows,
    on one BLAS thread) and their cells; a step's pieces start once every piece of the
    step before is done, as the product reads every row of the state. Where OpenBLAS's two
    threads shared only the product (1.35-1.55x its one-thread speed on [1024, 256] x
    [256, 32], and a hand-off per step), this also halves the cells, which ran on one core,
    and no product is narrowed (the batch-column pieces ran 16-column products, ~18% slower
    per column). No thread waits on another that has not started a piece: whichever thread
    reaches a step's piece first runs it (`lstm_forward_steps`), so a thread the OS does
    not run (a loaded machine), a pool run by another user thread, or a pool thread that
    starts late leaves the recurrence to the threads that run. With a barrier every
    thread waited for its partner every step, and one that did not come for ~16 s (a pool
    thread kept from the GIL, say) made the kernel raise. nn.LSTM(128, 256) on [50, 32]
    beside 4 busy processes on 2 cores (bench/loaded.py, 4 runs of 3 processes each,
    medians ms forward / backward): barrier 78-154 / 88-183, this 44-64 / 56-80 (one
    thread: 37 / 61); quiet, the same within noise (8.6-12.3 / 14.2-17.9 against
    10.9-11.6 / 16.1-18.2)."""
    sync = _sync(len(cuts) - 1, units)
    parallel.run(lambda p, _: steps(cuts, 0, batch, sync, p), len(cuts) - 1, len(cuts) - 1,
                 take=True)


def _by_columns(columns, batch: int) -> None:
    """columns(b0, b1) runs the whole recurrence for batch columns [b0, b1), once per
    kernel thread over disjoint column ranges at once. The batch rows of an LSTM never
    meet, so a piece needs nothing from another until the end, and the pool's hand-off is
    paid once per sequence where OpenBLAS's two threads paid one per step's small product
    (1.35-1.55x its one-thread speed there). Only the all-Numba recurrence is cut: it holds
    no GIL between steps (a Python loop per piece serialized the pieces on it). Cuts fall
    on multiples of COLUMN_BLOCK; results agree cut or not within rounding (a column in
    LLVM's vector body when cut may fall in its scalar remainder uncut). Each piece's products run on one BLAS thread: a 16-column
    product costs ~18% more per column than a 32-column one (the weights are packed per
    call). Measured at batch 32 (bench/lstm_kernel.py, 2026-12-05, machine loaded by other
    work) the two 16-column halves lost to one recurrence on OpenBLAS's two threads at load
    3.5-5 (20-29 ms against 17-18) and won only at load 17 (119 against 329): so pieces
    have at least MIN_PIECE_COLUMNS columns, and batches under 128 are cut by rows."""
    blocks = batch // COLUMN_BLOCK
    pieces = min(blocks, batch // MIN_PIECE_COLUMNS)

    def piece(a, b):
        columns(a * COLUMN_BLOCK, batch if b == blocks else b * COLUMN_BLOCK)
    parallel.run(piece, blocks, pieces)


def _numba(*arrays) -> bool:
    """Whether the Numba cells run: float32 or float64, one dtype for all."""
    dtype = arrays[0].dtype
    return dtype in (np.float32, np.float64) and all(a.dtype == dtype for a in arrays)


def _steps(xw: np.ndarray, batch: int, gates: int) -> np.ndarray:
    """xw [4H, T * B] as a C-contiguous [4H, T, B] (the cells index it per step)."""
    if batch == 0 or xw.shape[1] % batch:
        raise ValueError(f"lstm: xw has {xw.shape[1]} columns, not a multiple of the batch "
                         f"size {batch}")
    return np.ascontiguousarray(xw).reshape(gates, xw.shape[1] // batch, batch)


@kernel(rnn.Lstm, widen=0)
def lstm(op, xw, h0, c0, w_hh, bias):
    H = op.hidden
    batch = h0.shape[0]
    xw = _steps(xw, batch, 4 * H)
    steps = xw.shape[1]
    out = np.empty((steps + 1, 6, H, batch), xw.dtype)   # planes h c i f g o; slot 0: h0, c0
    out[0, 2:] = 0
    out[0, 0] = h0.T
    out[0, 1] = c0.T
    product = np.empty((4 * H, batch), xw.dtype)
    if _numba(xw, h0, c0, w_hh, bias):
        loops, c = _loops(), np.ascontiguousarray(c0.T)
        bias = np.ascontiguousarray(bias)
        w_hh = np.ascontiguousarray(w_hh)
        address = blas.gemm_address(xw.dtype)
        if address is None:
            for t in range(steps):
                np.matmul(w_hh, out[t, 0], out=product)
                loops.lstm_forward(product, xw, bias, c, out, t, 0, H, 0, batch)
            return out

        plan = _plan(batch, H, out.size)
        cuts = [0, H] if plan is None else plan
        most = max(b - a for a, b in zip(cuts, cuts[1:]))
        if len(cuts) == 2:
            w_rows, product = w_hh[None], product[None]
        else:   # per row piece w_hh's rows i f g o of its hidden rows, and their product
            w_rows = np.zeros((len(cuts) - 1, 4 * most, H), xw.dtype)
            for q, (j0, j1) in enumerate(zip(cuts, cuts[1:])):
                w_rows[q, :4 * (j1 - j0)] = w_hh.reshape(4, H, H)[:, j0:j1].reshape(-1, H)
            product = np.empty((len(cuts) - 1, 4 * most, batch), xw.dtype)

        def rows(cuts, b0, b1, sync, piece):
            loops.lstm_forward_steps(address, w_rows, xw, bias, c, out, product, cuts, b0, b1,
                                     *_blocks(4 * most, b1 - b0, H), sync, piece, *_barrier())
        _split(rows, plan, batch, H, steps)
        return out
    bias = bias[:, None]
    gates = product.reshape(4, H, batch)
    with np.errstate(over="ignore"):                       # exp(-x) = inf: sigmoid 0
        for t in range(steps):
            np.matmul(w_hh, out[t, 0], out=product)
            product += xw[:, t]
            product += bias
            gates[2] *= 2                                  # tanh(x) = 2 sigmoid(2x) - 1
            np.negative(product, out=product)
            np.exp(product, out=product)
            product += 1
            np.reciprocal(product, out=product)
            gates[2] *= 2
            gates[2] -= 1
            s = out[t + 1]
            s[2:] = gates
            i, f, g, o = gates
            np.multiply(f, out[t, 1], out=s[1])
            i *= g
            s[1] += i
            np.tanh(s[1], out=s[0])
            s[0] *= o
    return out


@kernel(rnn.LstmGrad, widen=0)
def lstm_grad(op, g, out, w_hh):
    slots, _, H, batch = out.shape
    steps = slots - 1
    grads = np.empty((4 * H, slots, batch), out.dtype)   # [:, t]: step t; [:, T]: h0, c0
    dh = np.zeros((H, batch), out.dtype)    # adjoints reaching slot t + 1 via the recurrence
    dc = np.zeros((H, batch), out.dtype)
    w_t = w_hh.T     # [H, 4H]: a view for NumPy's matmul; the Numba loops take a C copy
    zero = np.zeros((2, H, batch), out.dtype)   # the adjoint of the slots before g's
    if _numba(g, out, w_hh):
        g, out = np.ascontiguousarray(g), np.ascontiguousarray(out)
        loops, one = _loops(), out.dtype.type(1)
        address = blas.gemm_address(out.dtype)
        step = np.empty((2, 4 * H, batch), out.dtype)   # step t's gate adjoints, contiguous
        if address is None:
            for t in reversed(range(steps)):
                loops.lstm_backward(dh, dc, g, out, t, grads, step[0], one, 0, H, 0, batch,
                                    zero)
                if t:
                    np.matmul(w_t, step[0], out=dh)
        else:
            w_t = np.ascontiguousarray(w_t)
            plan = _plan(batch, H, out.size)
            most = H if plan is None else max(b - a for a, b in zip(plan, plan[1:]))
            _split(lambda cuts, b0, b1, sync, piece: loops.lstm_backward_steps(
                address, w_t, dh, dc, g, out, grads, step, one, cuts, b0, b1,
                *_blocks(most, b1 - b0, 4 * H), sync, piece, *_barrier(), zero),
                plan, batch, H, steps)
    else:
        _lstm_grad_numpy(g, out, w_t, grads, dh, dc, zero)
    g0 = g[0] if len(g) == slots else zero
    grads[:H, steps] = dc + (g0[1] if len(g0) == 2 else 0)
    grads[H:2 * H, steps] = g0[0]
    grads[2 * H:, steps] = 0
    return grads


def _lstm_grad_numpy(g, out, w_t, grads, dh, dc, zero):
    """The backward cell as NumPy passes (dtypes the Numba cell does not take); g holds
    the h and c planes' adjoint (or h's alone) of the last len(g) slots, `zero` the
    earlier ones' (see `ops/rnn.py`)."""
    H, steps, first = out.shape[2], out.shape[0] - 1, len(out) - len(g)
    t1, t2 = np.empty_like(dh), np.empty_like(dh)
    for t in reversed(range(steps)):
        s, d = out[t + 1], grads[:, t].reshape(4, H, -1)
        gs = g[t + 1 - first] if t + 1 >= first else zero
        i, f, gg, o = s[2], s[3], s[4], s[5]
        dh += gs[0]
        np.tanh(s[1], out=t1)                       # tanh(c)
        np.multiply(dh, t1, out=d[3])               # o
        np.multiply(t1, t1, out=t2)                 # dc += dh o (1 - tanh(c)^2)
        np.subtract(1, t2, out=t2)
        t2 *= o
        t2 *= dh
        dc += t2
        if len(gs) == 2:                            # else h's adjoint alone: c's zero
            dc += gs[1]
        np.multiply(dc, gg, out=d[0])               # i
        np.multiply(dc, out[t, 1], out=d[1])        # f
        np.multiply(dc, i, out=d[2])                # g
        for k, a in ((0, i), (1, f), (3, o)):       # sigmoid slopes a (1 - a)
            np.subtract(1, a, out=t2)
            t2 *= a
            d[k] *= t2
        np.multiply(gg, gg, out=t2)                 # tanh slope 1 - g^2
        np.subtract(1, t2, out=t2)
        d[2] *= t2
        dc *= f                                     # into c at slot t
        if t:
            np.matmul(w_t, grads[:, t], out=dh)


def _rows_of(a: np.ndarray) -> np.ndarray:
    """a [..., k] as C-contiguous rows [N, k] (a view when it already is)."""
    return np.ascontiguousarray(a).reshape(-1, a.shape[-1])


def _packed_step(loop, planes: int, xw, hw, state) -> np.ndarray:
    """[planes, ..., H] from one Numba pass over the rows of xw, hw and the state."""
    out = np.empty((planes,) + state.shape, state.dtype)
    if state.size:
        loop(_rows_of(xw), _rows_of(hw), _rows_of(state),
             out.reshape(planes, -1, state.shape[-1]))
    return out


@kernel(rnn_cell.LstmCell, widen=0)
def lstm_cell(op, xw, hw, c):
    """Gates, c', h' and tanh(c') in one pass (see `_fast_math_loops.lstm_cell`)."""
    return _packed_step(_loops().lstm_cell, rnn_cell.LSTM_PLANES, xw, hw, c)


@kernel(rnn_cell.LstmCellGrad, widen=0)
def lstm_cell_grad(op, dh, dc, out, xw, hw, c):
    H = c.shape[-1]
    grads = np.empty(c.shape[:-1] + (5 * H,), c.dtype)
    if c.size:
        _loops().lstm_cell_grad(_rows_of(dh), _rows_of(dc),
                                np.ascontiguousarray(out).reshape(rnn_cell.LSTM_PLANES, -1, H),
                                _rows_of(c), grads.reshape(-1, 5 * H), c.dtype.type(1))
    return grads


@kernel(rnn_cell.GruCell, widen=0)
def gru_cell(op, xw, hw, h):
    return _packed_step(_loops().gru_cell, rnn_cell.GRU_PLANES, xw, hw, h)


@kernel(rnn_cell.GruCellGrad, widen=0)
def gru_cell_grad(op, dh, out, xw, hw, h):
    H = h.shape[-1]
    grads = np.empty(h.shape[:-1] + (7 * H,), h.dtype)
    if h.size:
        _loops().gru_cell_grad(_rows_of(dh),
                               np.ascontiguousarray(out).reshape(rnn_cell.GRU_PLANES, -1, H),
                               _rows_of(hw), _rows_of(h), grads.reshape(-1, 7 * H),
                               h.dtype.type(1))
    return grads
