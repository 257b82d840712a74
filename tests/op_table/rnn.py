"""The fused LSTM and its gradient op (tinyflow/ops/rnn.py)."""
from __future__ import annotations

import numpy as np

import tinyflow as tf
from tinyflow.core.op import apply
from tinyflow.ops import rnn as rnn_ops

from .common import A, ErrorInput, OpCase, S, positive

CASES: list[OpCase] = []


def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_lstm(xw, h0, c0, w, hidden):
    """The textbook recurrence in float64, one step at a time."""
    h, c, rows = h0.astype(np.float64), c0.astype(np.float64), []
    for x_t in xw.astype(np.float64):
        pre = x_t + h @ w.astype(np.float64).T
        i, f, g, o = np.split(pre, 4, axis=-1)
        i, f, g, o = _np_sigmoid(i), _np_sigmoid(f), np.tanh(g), _np_sigmoid(o)
        c = f * c + i * g
        h = o * np.tanh(c)
        rows.append(np.stack([h, c, i, f, g, o, np.tanh(c)]))
    return np.stack(rows).astype(xw.dtype)


def np_lstm_grad(g, out, h0, c0, w, hidden):
    """Backpropagation through time written out per step from the packed states."""
    g, out, w = g.astype(np.float64), out.astype(np.float64), w.astype(np.float64)
    dh, dc = np.zeros(h0.shape), np.zeros(c0.shape)
    rows = []
    for t in reversed(range(out.shape[0])):
        _, c, i, f, gg, o, tanh_c = out[t]
        gh, gc, gi, gf, gg_, go, g_tanh_c = g[t]
        c_prev = out[t - 1][1] if t else c0
        dh = dh + gh
        dc = dc + gc + (dh * o + g_tanh_c) * (1 - tanh_c ** 2)
        d_pre = np.concatenate([(dc * gg + gi) * i * (1 - i), (dc * c_prev + gf) * f * (1 - f),
                                (dc * i + gg_) * (1 - gg ** 2),
                                (dh * tanh_c + go) * o * (1 - o)], -1)
        dc = dc * f
        rows.append(d_pre)
        dh = d_pre @ w
    last = np.zeros_like(rows[0])
    last[:, :dc.shape[1]] = dc
    return np.stack(rows[::-1] + [last]).astype(out.dtype)


def lstm_grad(g, out, h0, c0, w, hidden):
    return apply(rnn_ops.LstmGrad(hidden=hidden), g, out, h0, c0, w)


CASES += [
    OpCase("lstm", rnn_ops.lstm, np_lstm,
           (S(A(4, 2, 12), A(2, 3), A(2, 3), A(12, 3), hidden=3),
            S(A(1, 3, 8), A(3, 2, layout="T"), A(3, 2), A(8, 2, layout="step"), hidden=2),
            S(A(3, 2, 8, layout="step"), A(2, 2), A(2, 2, layout="step"), A(8, 2),
              hidden=2)),
           second_order=False,  # the fused backward has no rule of its own (as with cuDNN)
           dynamic=False,  # forward mode unrolls over a known number of steps (reverse mode
           atol=1e-5,      # with unknown sizes: test_nn's LSTM-in-a-graph test)
           errors=(ErrorInput(S(A(4, 2, 12), A(2, 3), A(2, 3), A(12, 4), hidden=3),
                              tf.ShapeError,
                              r"^lstm: w_hh must have shape \(12, 3\) \(None: any\), got "
                              r"\(12, 4\)"),
                   ErrorInput(S(A(4, 2, 11), A(2, 3), A(2, 3), A(12, 3), hidden=3),
                              tf.ShapeError,
                              r"^lstm: xw must have shape \(4, 2, 12\) \(None: any\), got "
                              r"\(4, 2, 11\)"),
                   ErrorInput(S(A(4, 2, 12, dtype=tf.int32), A(2, 3), A(2, 3), A(12, 3),
                                hidden=3), tf.DTypeError,
                              r"^lstm: needs one floating dtype for all inputs, got int32, "
                              r"float32, float32, float32"))),
    OpCase("lstm_grad", lstm_grad, np_lstm_grad,
           (S(A(3, 7, 2, 3), A(3, 7, 2, 3, domain=positive), A(2, 3), A(2, 3), A(12, 3),
              hidden=3),
            S(A(2, 7, 2, 2, layout="step"), A(2, 7, 2, 2), A(2, 2, layout="T"), A(2, 2),
              A(8, 2), hidden=2)),
           grad=False, atol=1e-5),  # differentiating it again is refused (see ops/rnn.py)
]
