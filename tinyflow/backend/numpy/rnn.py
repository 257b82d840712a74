"""The LSTM recurrence and its backpropagation through time, one loop over steps each.

Per step only what is sequential runs: one [B, H] x [H, 4H] product and the cell. For
float32 and float64 the cell is one Numba loop over [B, H] (gates, state, output, and
backwards the gate adjoints written straight into the result's batch-major rows), with the
float32 sigmoid and tanh of `_fast_math_loops` (no libm call: the loop stays SIMD). Otherwise it
is a few NumPy passes, all in place. Gates are kept gate-major ([4, B, H] per step, `Lstm`'s packed
layout) so every elementwise pass runs over contiguous memory: NumPy takes 3-4x longer on
row-strided slices of a [B, 4H] array. The four gates share one sigmoid pass,
tanh(x) = 2 sigmoid(2x) - 1, as NumPy's exp is several times faster than its tanh.
"""

import numpy as np

from ...ops import rnn
from .registry import kernel


def _cells():
    """(forward cell, backward cell): Numba loops in `_fast_math_loops`, imported on first
    use; each precision compiles (or loads from the disk cache) its own specialization."""
    from . import _fast_math_loops
    return _fast_math_loops.lstm_forward, _fast_math_loops.lstm_backward


def _bits(dtype):
    """32 or 64 for the Numba cells, None where NumPy passes run instead."""
    return 32 if dtype == np.float32 else 64 if dtype == np.float64 else None


def _contiguous(*arrays):
    return tuple(np.ascontiguousarray(a) for a in arrays)


def _gate_major(a: np.ndarray, gates: int) -> np.ndarray:
    """[..., B, G*H] -> a view [..., G, B, H]."""
    *lead, batch, width = a.shape
    a = a.reshape(*lead, batch, gates, width // gates)
    return np.swapaxes(a, -3, -2)


@kernel(rnn.Lstm, widen=0)
def lstm(op, xw, h0, c0, w_hh):
    bits = _bits(xw.dtype)
    if bits is None or not xw.dtype == h0.dtype == c0.dtype == w_hh.dtype:
        return _lstm_numpy(op, xw, h0, c0, w_hh)
    xw, h0, c0 = _contiguous(xw, h0, c0)
    steps, batch, _ = xw.shape
    out = np.empty((steps, 7, batch, op.hidden), xw.dtype)   # h c i f g o tanh(c)
    product = np.empty((batch, 4 * op.hidden), xw.dtype)
    forward = _cells()[0]
    w_t = np.ascontiguousarray(w_hh.T)   # [H, 4H]: OpenBLAS is ~1.5x faster than on w_hh.T
    h, c = h0, c0
    for t in range(steps):
        np.matmul(h, w_t, out=product)
        forward(product, xw[t], c, out[t])
        h, c = out[t, 0], out[t, 1]
    return out


def _lstm_numpy(op, xw, h0, c0, w_hh):
    steps, batch, _ = xw.shape
    H = op.hidden
    out = np.empty((steps, 7, batch, H), xw.dtype)          # h c i f g o tanh(c)
    xw4 = np.ascontiguousarray(_gate_major(xw, 4))          # [T, 4, B, H]
    product = np.empty((batch, 4 * H), xw.dtype)
    h, c = h0, c0
    with np.errstate(over="ignore"):                        # exp(-x) = inf: sigmoid 0
        for t in range(steps):
            row = out[t]
            gates = row[2:6]
            np.matmul(h, w_hh.T, out=product)
            np.add(_gate_major(product, 4), xw4[t], out=gates)
            g = row[4]
            g *= 2
            np.negative(gates, out=gates)
            np.exp(gates, out=gates)
            gates += 1
            np.reciprocal(gates, out=gates)
            g *= 2
            g -= 1
            i, f, o = row[2], row[3], row[5]
            c_new, h_new, tanh_c = row[1], row[0], row[6]
            np.multiply(f, c, out=c_new)
            ig = product[:, :H].reshape(batch, H)
            np.multiply(i, g, out=ig)
            c_new += ig
            np.tanh(c_new, out=tanh_c)
            np.multiply(o, tanh_c, out=h_new)
            h, c = h_new, c_new
    return out


@kernel(rnn.LstmGrad, widen=0)
def lstm_grad(op, g, out, h0, c0, w_hh):
    bits = _bits(out.dtype)
    if bits is None or not (
            g.dtype == out.dtype == h0.dtype == c0.dtype == w_hh.dtype):
        return _lstm_grad_numpy(op, g, out, h0, c0, w_hh)
    g, out, c0 = _contiguous(g, out, c0)
    steps, _, batch, H = out.shape
    grads = np.empty((steps + 1, batch, 4 * H), out.dtype)   # rows: d_pre per step, then dc0
    dh = np.zeros((batch, H), out.dtype)
    dc = np.zeros((batch, H), out.dtype)
    backward, one = _cells()[1], out.dtype.type(1)
    for t in reversed(range(steps)):
        backward(dh, dc, g[t], out[t], out[t - 1, 1] if t else c0, grads[t], one)
        np.matmul(grads[t], w_hh, out=dh)
    grads[steps] = 0
    grads[steps, :, :H] = dc
    return grads


def _lstm_grad_numpy(op, g, out, h0, c0, w_hh):
    steps, _, batch, H = out.shape
    d_pre = np.empty((steps, 4, batch, H), out.dtype)
    dh = np.zeros((batch, H), out.dtype)            # from step t + 1 through the recurrence
    dc = np.zeros((batch, H), out.dtype)
    s1 = np.empty((2, batch, H), out.dtype)
    s2 = np.empty((batch, H), out.dtype)
    flat = np.empty((batch, 4 * H), out.dtype)      # one step's d_pre, batch-major
    for t in reversed(range(steps)):
        row, g_row, d = out[t], g[t], d_pre[t]
        i, f, gg, o, tanh_c = row[2], row[3], row[4], row[5], row[6]
        c_prev = out[t - 1, 1] if t else c0
        dh += g_row[0]
        dc += g_row[1]
        np.multiply(dh, tanh_c, out=d[3])           # o
        t1 = s1[0]                                  # dc += (dh o + g_tanh_c) (1 - tanh_c^2)
        np.multiply(dh, o, out=t1)
        t1 += g_row[6]
        np.multiply(tanh_c, tanh_c, out=s2)
        np.subtract(1, s2, out=s2)
        t1 *= s2
        dc += t1
        np.multiply(dc, gg, out=d[0])               # i
        np.multiply(dc, c_prev, out=d[1])           # f
        np.multiply(dc, i, out=d[2])                # g
        d += g_row[2:6]                             # adjoints of the activated gates
        np.subtract(1, row[2:4], out=s1)            # sigmoid slopes a (1 - a): i, f
        s1 *= row[2:4]
        d[:2] *= s1
        np.subtract(1, o, out=s2)                   # o
        s2 *= o
        d[3] *= s2
        np.multiply(gg, gg, out=s2)                 # tanh slope 1 - g^2
        np.subtract(1, s2, out=s2)
        d[2] *= s2
        dc *= f                                     # into c_{t-1}
        np.copyto(_gate_major(flat, 4), d)
        np.matmul(flat, w_hh, out=dh)
    grads = np.zeros((steps + 1, batch, 4 * H), out.dtype)
    np.copyto(_gate_major(grads[:steps], 4), d_pre)
    grads[steps, :, :H] = dc
    return grads
