"""The fused LSTM and its gradient op (tinyflow/ops/rnn.py)."""
from __future__ import annotations

import numpy as np

import tinyflow as tf
from tinyflow.core.op import apply
from tinyflow.ops import rnn as rnn_ops
from tinyflow.ops import rnn_cell as cell_ops

from .common import A, ErrorInput, OpCase, S, positive

CASES: list[OpCase] = []


def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_lstm(xw, h0, c0, w, bias, hidden):
    """The textbook recurrence in float64, one step at a time, batch-major; packed as the
    op packs it: [T + 1, 6, H, B] (planes h c i f g o), slot 0 holding h0 and c0."""
    batch = h0.shape[0]
    h, c = h0.astype(np.float64), c0.astype(np.float64)
    xs = xw.astype(np.float64).T.reshape(-1, batch, 4 * hidden)      # [T, B, 4H]
    zero = np.zeros_like(h)
    slots = [np.stack([h, c, zero, zero, zero, zero])]
    for x_t in xs:
        pre = x_t + bias.astype(np.float64) + h @ w.astype(np.float64).T
        i, f, g, o = np.split(pre, 4, axis=-1)
        i, f, g, o = _np_sigmoid(i), _np_sigmoid(f), np.tanh(g), _np_sigmoid(o)
        c = f * c + i * g
        h = o * np.tanh(c)
        slots.append(np.stack([h, c, i, f, g, o]))
    return np.stack(slots, 0).transpose(0, 1, 3, 2).astype(xw.dtype)   # [T + 1, 6, H, B]


def np_lstm_grad(g, out, w, hidden):
    """Backpropagation through time written out per step from the packed states; g is the
    adjoint of the h and c planes only (the gates carry no gradient)."""
    g, out, w = (a.astype(np.float64).transpose(1, 0, 3, 2) if a.ndim == 4 else
                 a.astype(np.float64) for a in (g, out, w))          # [6, T + 1, B, H]
    dh, dc = np.zeros(out.shape[2:]), np.zeros(out.shape[2:])
    rows = []
    for s in reversed(range(1, out.shape[1])):
        _, c, i, f, gg, o = out[:, s]
        gh, gc = g[:2, s]
        tanh_c, c_prev = np.tanh(c), out[1, s - 1]
        dh = dh + gh
        dc = dc + gc + dh * o * (1 - tanh_c ** 2)
        d_pre = np.concatenate([dc * gg * i * (1 - i), dc * c_prev * f * (1 - f),
                                dc * i * (1 - gg ** 2), dh * tanh_c * o * (1 - o)], -1)
        dc = dc * f
        rows.append(d_pre)
        dh = d_pre @ w
    last = np.zeros_like(rows[0])
    last[:, :hidden] = dc + g[1, 0]
    last[:, hidden:2 * hidden] = g[0, 0]
    return np.stack(rows[::-1] + [last]).transpose(2, 0, 1).astype(out.dtype)  # [4H, T+1, B]


def lstm_states(xw, h0, c0, w, bias, hidden):
    """The differentiable planes h and c (the gate planes carry no gradient: ops/rnn.py)."""
    return rnn_ops.lstm(xw, h0, c0, w, bias, hidden=hidden)[:, :2]


def np_lstm_states(*args, hidden):
    return np_lstm(*args, hidden)[:, :2]


def lstm_grad(g, out, w, hidden):
    return apply(rnn_ops.LstmGrad(hidden=hidden), g, out, w)


LSTM_SAMPLES = (S(A(12, 8), A(2, 3), A(2, 3), A(12, 3), A(12), hidden=3),
                S(A(8, 3), A(3, 2, layout="T"), A(3, 2), A(8, 2, layout="step"), A(8),
                  hidden=2),
                S(A(8, 6, layout="step"), A(2, 2), A(2, 2, layout="step"), A(8, 2),
                  A(8, layout="step"), hidden=2))

CASES += [
    OpCase("lstm_packed", rnn_ops.lstm, np_lstm, LSTM_SAMPLES, op="lstm", grad=False,
           atol=1e-5),
    OpCase("lstm", lstm_states, np_lstm_states, LSTM_SAMPLES,
           second_order=False,  # the fused backward has no rule of its own (as with cuDNN)
           dynamic=False,  # forward mode unrolls over a known number of steps (reverse mode
           atol=1e-5,      # with unknown sizes: test_nn's LSTM-in-a-graph test)
           errors=(ErrorInput(S(A(12, 8), A(2, 3), A(2, 3), A(12, 4), A(12), hidden=3),
                              tf.ShapeError,
                              r"^lstm: w_hh must have shape \(12, 3\) \(None: any\), got "
                              r"\(12, 4\)"),
                   ErrorInput(S(A(11, 8), A(2, 3), A(2, 3), A(12, 3), A(12), hidden=3),
                              tf.ShapeError,
                              r"^lstm: xw must have shape \(12, 8\) \(None: any\), got "
                              r"\(11, 8\)"),
                   ErrorInput(S(A(12, 8), A(2, 3), A(2, 3), A(12, 3), A(11), hidden=3),
                              tf.ShapeError,
                              r"^lstm: bias must have shape \(12,\) \(None: any\), got "
                              r"\(11,\)"),
                   ErrorInput(S(A(12, 7), A(2, 3), A(2, 3), A(12, 3), A(12), hidden=3),
                              tf.ShapeError,
                              r"^lstm: xw has 7 columns, not a multiple of the batch size 2"),
                   ErrorInput(S(A(12, 8, dtype=tf.int32), A(2, 3), A(2, 3), A(12, 3), A(12),
                                hidden=3), tf.DTypeError,
                              r"^lstm: needs one floating dtype for all inputs, got int32, "
                              r"float32, float32, float32, float32"))),
    OpCase("lstm_grad", lstm_grad, np_lstm_grad,
           (S(A(4, 2, 3, 2), A(4, 6, 3, 2, domain=positive), A(12, 3), hidden=3),
            S(A(3, 2, 2, 2, layout="step"), A(3, 6, 2, 2), A(8, 2), hidden=2)),
           grad=False, atol=1e-5),  # differentiating it again is refused (see ops/rnn.py)
]


# ---- one step (ops/rnn_cell.py) ----------------------------------------------------------

def np_lstm_cell(xw, hw, c):
    """Planes h', c', i, f, g, o, tanh(c') of one step, in float64."""
    i, f, g, o = np.split(xw.astype(np.float64) + hw, 4, axis=-1)
    i, f, g, o = _np_sigmoid(i), _np_sigmoid(f), np.tanh(g), _np_sigmoid(o)
    c_new = f * c + i * g
    return np.stack([o * np.tanh(c_new), c_new, i, f, g, o, np.tanh(c_new)]).astype(xw.dtype)


def lstm_cell_states(xw, hw, c):
    """h' and c' stacked: the planes that carry gradient."""
    return tf.stack(list(cell_ops.lstm_cell(xw, hw, c)))


def np_lstm_cell_grad(dh, dc, xw, hw, c):
    _, _, i, f, g, o, tanh_c = np_lstm_cell(xw.astype(np.float64), hw, c)
    d_c = dc + dh * o * (1 - tanh_c ** 2)
    return np.concatenate([d_c * g * i * (1 - i), d_c * c * f * (1 - f), d_c * i * (1 - g * g),
                           dh * tanh_c * o * (1 - o), d_c * f], -1).astype(xw.dtype)


def lstm_cell_grad(dh, dc, xw, hw, c):
    """The gradient op beside the forward whose gates it reads (as LstmCell.vjp calls it)."""
    return apply(cell_ops.LstmCellGrad(), dh, dc, apply(cell_ops.LstmCell(), xw, hw, c),
                 xw, hw, c)


CELL_SAMPLES = (S(A(2, 12), A(2, 12), A(2, 3)),
                S(A(8), A(8, layout="step"), A(2)),                      # unbatched
                S(A(2, 3, 8, layout="step"), A(2, 3, 8), A(2, 3, 2, layout="T")))

CASES += [
    OpCase("lstm_cell_packed", lambda *a: apply(cell_ops.LstmCell(), *a), np_lstm_cell,
           CELL_SAMPLES, op="lstm_cell", grad=False, atol=1e-5),
    OpCase("lstm_cell", lstm_cell_states, lambda *a: np_lstm_cell(*a)[:2], CELL_SAMPLES,
           dynamic=False,  # derivatives slice by H, which graphs know (the weights fix it;
           atol=1e-5,      # test_nn: LSTMCell on a placeholder of unknown batch size)
           errors=(ErrorInput(S(A(2, 12), A(2, 12), A(2, 4)), tf.ShapeError,
                              r"^lstm_cell: the gate inputs need 4 x the state's last axis"),
                   ErrorInput(S(A(2, 12), A(3, 12), A(2, 3)), tf.ShapeError,
                              r"^lstm_cell: inputs must agree on every axis but the last"),
                   ErrorInput(S(A(2, 12), A(2, 12, dtype=tf.float64), A(2, 3)), tf.DTypeError,
                              r"^lstm_cell: needs one floating dtype for all inputs, got "
                              r"float32, float64, float32"))),
    OpCase("lstm_cell_grad", lstm_cell_grad, np_lstm_cell_grad,
           (S(A(2, 3), A(2, 3), A(2, 12), A(2, 12, diff=False), A(2, 3)),   # hw: as xw
            S(A(2), A(2, layout="step"), A(8, layout="step"), A(8, diff=False), A(2))),
           dynamic=False, atol=1e-5),  # as lstm_cell
]


def np_gru_cell(xw, hw, h):
    """Planes h', r, z, n of one GRU step, in float64."""
    x_r, x_z, x_n = np.split(xw.astype(np.float64), 3, axis=-1)
    h_r, h_z, h_n = np.split(hw.astype(np.float64), 3, axis=-1)
    r, z = _np_sigmoid(x_r + h_r), _np_sigmoid(x_z + h_z)
    n = np.tanh(x_n + r * h_n)
    return np.stack([(1 - z) * n + z * h, r, z, n]).astype(xw.dtype)


def np_gru_cell_grad(dh, xw, hw, h):
    _, r, z, n = np_gru_cell(xw.astype(np.float64), hw, h)
    h_n = np.split(hw.astype(np.float64), 3, axis=-1)[2]
    d_n = dh * (1 - z) * (1 - n * n)
    d_r = d_n * h_n * r * (1 - r)
    d_z = dh * (h - n) * z * (1 - z)
    return np.concatenate([d_r, d_z, d_n, d_r, d_z, d_n * r, dh * z], -1).astype(xw.dtype)


def gru_cell_grad(dh, xw, hw, h):
    return apply(cell_ops.GruCellGrad(), dh, apply(cell_ops.GruCell(), xw, hw, h), xw, hw, h)


GRU_SAMPLES = (S(A(2, 9), A(2, 9), A(2, 3)),
               S(A(6), A(6, layout="step"), A(2)),
               S(A(2, 3, 6, layout="step"), A(2, 3, 6), A(2, 3, 2, layout="T")))

CASES += [
    OpCase("gru_cell_packed", lambda *a: apply(cell_ops.GruCell(), *a), np_gru_cell,
           GRU_SAMPLES, op="gru_cell", grad=False, atol=1e-5),
    OpCase("gru_cell", cell_ops.gru_cell, lambda *a: np_gru_cell(*a)[0], GRU_SAMPLES,
           dynamic=False, atol=1e-5,   # as lstm_cell
           errors=(ErrorInput(S(A(2, 9), A(2, 8), A(2, 3)), tf.ShapeError,
                              r"^gru_cell: the gate inputs need 3 x the state's last axis"),)),
    OpCase("gru_cell_grad", gru_cell_grad, np_gru_cell_grad,
           (S(A(2, 3), A(2, 9), A(2, 9), A(2, 3)),
            S(A(2, layout="step"), A(6, layout="step"), A(6), A(2))),
           dynamic=False, atol=1e-5),  # as lstm_cell
]
