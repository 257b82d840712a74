"""TF1's recurrent networks (tf.nn.rnn_cell, tf.nn.static_rnn / dynamic_rnn and the
bidirectional forms, tf.contrib.rnn) against NumPy written from TF1's cell equations (gate
order i, j, f, o; forget_bias on f; GRU's r, u gates), TF1's sequence_length semantics
(outputs zero past each length, state carried), finite differences in float64, and
torch.nn.LSTM with the weights mapped."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import tinyflow as tf
from tinyflow.contrib import rnn

B, T, D, H = 3, 5, 4, 6
LENGTHS = np.array([5, 2, 3], np.int32)


def sig(x):
    return 1 / (1 + np.exp(-x))


def np_basic_lstm(x, state, w, forget_bias=1.0):
    (c, h), (kernel, bias) = state, w
    i, j, f, o = np.split(np.concatenate([x, h], 1) @ kernel + bias, 4, 1)
    c = c * sig(f + forget_bias) + sig(i) * np.tanh(j)
    h = np.tanh(c) * sig(o)
    return h, (c, h)


def np_gru(x, h, w):
    gate_kernel, gate_bias, cand_kernel, cand_bias = w
    r, u = np.split(sig(np.concatenate([x, h], 1) @ gate_kernel + gate_bias), 2, 1)
    cand = np.tanh(np.concatenate([x, r * h], 1) @ cand_kernel + cand_bias)
    h = u * h + (1 - u) * cand
    return h, h


def np_basic_rnn(x, h, w):
    h = np.tanh(np.concatenate([x, h], 1) @ w[0] + w[1])
    return h, h


def np_unroll(step, xs, state, w, lengths=None):
    """TF1's static_rnn: past an example's length its output is 0 and its state is kept."""
    outputs = []
    for t, x in enumerate(xs):
        out, new = step(x, state, w)
        if lengths is not None:
            done = (t >= lengths)[:, None]
            out = np.where(done, 0.0, out)
            new = tuple(np.where(done, a, b) for a, b in zip(state, new)) \
                if isinstance(new, tuple) else np.where(done, state, new)
        outputs.append(out)
        state = new
    return outputs, state


def np_reverse(xs, lengths):
    """tf.reverse_sequence over a list of steps: each example's first `length` reversed."""
    x = np.stack(xs, 1)
    out = x.copy()
    for b, n in enumerate(lengths):
        out[b, :n] = x[b, :n][::-1]
    return list(np.moveaxis(out, 1, 0))


@pytest.fixture
def graph():
    tf.reset_default_graph()
    yield tf.get_default_graph()
    tf.reset_default_graph()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def set_values(sess, cell, rng, scale=0.5):
    """Random values for the cell's variables, loaded into the session; returned in order."""
    values = []
    for v in cell.variables:
        values.append(rng.uniform(-scale, scale, tuple(v.shape)))
        v.load(values[-1], sess)
    return values


def inputs(rng, dtype=np.float64):
    return rng.uniform(-1, 1, (B, T, D)).astype(dtype)


def test_contrib_rnn_is_tf_nn_rnn_cell():
    assert rnn.BasicLSTMCell is tf.nn.rnn_cell.BasicLSTMCell is tf.contrib.rnn.BasicLSTMCell
    assert rnn.static_rnn is tf.nn.static_rnn
    assert tf.nn.LSTMCell is not tf.nn.rnn_cell.LSTMCell    # torch.nn's stays torch's


def test_unstack_gives_the_steps_and_their_gradient(graph, rng):
    x = tf.placeholder(tf.float64, [None, T, D])
    steps = tf.unstack(x, T, 1)
    assert len(steps) == T and steps[0].shape == (None, D)
    loss = sum(tf.reduce_sum(s * (k + 1.0)) for k, s in enumerate(steps))
    (g,) = tf.gradients(loss, [x])
    value = inputs(rng)
    with tf.Session() as sess:
        got, grad = sess.run([steps, g], {x: value})
    np.testing.assert_array_equal(np.stack(got, 1), value)
    np.testing.assert_array_equal(grad, np.broadcast_to(np.arange(1.0, T + 1)[None, :, None],
                                                        value.shape))
    with pytest.raises(ValueError, match="unknown; give num="):
        tf.unstack(x, axis=0)


def test_basic_lstm_static_rnn_matches_tf1_equations(graph, rng):
    x = tf.placeholder(tf.float64, [None, T, D])
    cell = rnn.BasicLSTMCell(H, forget_bias=0.7)
    outputs, state = rnn.static_rnn(cell, tf.unstack(x, T, 1), dtype=tf.float64)
    assert [v.name for v in tf.trainable_variables()] == [
        "rnn/basic_lstm_cell/kernel:0", "rnn/basic_lstm_cell/bias:0"]
    assert cell.kernel.shape == (D + H, 4 * H) and cell.bias.shape == (4 * H,)
    assert isinstance(state, rnn.LSTMStateTuple)
    value = inputs(rng)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        bias = sess.run(cell.bias)
        assert not bias.any()                                      # TF1: the bias starts at 0
        w = set_values(sess, cell, rng)
        got_out, got_c, got_h = sess.run([outputs, state.c, state.h], {x: value})
    want_out, (want_c, want_h) = np_unroll(
        lambda x, s, w: np_basic_lstm(x, s, w, 0.7), list(np.moveaxis(value, 1, 0)),
        (np.zeros((B, H)), np.zeros((B, H))), w)
    np.testing.assert_allclose(np.stack(got_out), np.stack(want_out), rtol=1e-12)
    np.testing.assert_allclose(got_c, want_c, rtol=1e-12)
    np.testing.assert_allclose(got_h, want_h, rtol=1e-12)


@pytest.mark.parametrize("fused", [True, False])
def test_dynamic_rnn_sequence_length_zeros_outputs_and_carries_state(graph, rng, fused):
    """The fused LSTM op (BasicLSTMCell) and the cell unrolled step by step (a subclass with
    its own `call`) give TF1's masking, an empty sequence included."""
    class Unfused(tf.nn.rnn_cell.BasicLSTMCell):
        def call(self, inputs, state):
            return super().call(inputs, state)

    x = tf.placeholder(tf.float64, [None, T, D])
    lengths = tf.placeholder(tf.int32, [None])
    start = tf.nn.rnn_cell.LSTMStateTuple(tf.placeholder(tf.float64, [None, H]),
                                          tf.placeholder(tf.float64, [None, H]))
    cell = (tf.nn.rnn_cell.BasicLSTMCell if fused else Unfused)(H)
    assert cell.fusable() == fused
    outputs, state = tf.nn.dynamic_rnn(cell, x, sequence_length=lengths, initial_state=start)
    assert outputs.shape == (None, T, H)
    value = inputs(rng)
    starts = tuple(rng.uniform(-1, 1, (B, H)) for _ in range(2))
    lengths_value = np.array([5, 0, 2], np.int32)
    with tf.Session() as sess:
        w = set_values(sess, cell, rng)
        got, c, h = sess.run([outputs, state.c, state.h],
                             {x: value, lengths: lengths_value, start.c: starts[0],
                              start.h: starts[1]})
    want, (want_c, want_h) = np_unroll(np_basic_lstm, list(np.moveaxis(value, 1, 0)), starts,
                                       w, lengths_value)
    np.testing.assert_allclose(got, np.stack(want, 1), rtol=1e-12)
    assert not got[1].any() and not got[2, 2:].any() and got[2, 1].all()
    np.testing.assert_allclose(h, want_h, rtol=1e-12)
    np.testing.assert_allclose(h[2], got[2, 1], rtol=1e-12)   # the state at the last valid step
    np.testing.assert_allclose(c[1], starts[0][1], rtol=1e-12)   # length 0: the initial state
    np.testing.assert_allclose(c, want_c, rtol=1e-12)


@pytest.mark.parametrize("make,step,names", [
    (lambda: tf.nn.rnn_cell.GRUCell(H), np_gru,
     ["rnn/gru_cell/gates/kernel:0", "rnn/gru_cell/gates/bias:0",
      "rnn/gru_cell/candidate/kernel:0", "rnn/gru_cell/candidate/bias:0"]),
    (lambda: tf.nn.rnn_cell.BasicRNNCell(H), np_basic_rnn,
     ["rnn/basic_rnn_cell/kernel:0", "rnn/basic_rnn_cell/bias:0"]),
])
def test_gru_and_basic_rnn_cells(graph, rng, make, step, names):
    x = tf.placeholder(tf.float64, [None, T, D])
    cell = make()
    outputs, state = tf.nn.dynamic_rnn(cell, x, sequence_length=LENGTHS, dtype=tf.float64)
    assert [v.name for v in tf.trainable_variables()] == names
    value = inputs(rng)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        if isinstance(cell, tf.nn.rnn_cell.GRUCell):
            np.testing.assert_array_equal(sess.run(cell.gate_bias), 1.0)   # TF1's start
        w = set_values(sess, cell, rng)
        got, final = sess.run([outputs, state], {x: value})
    want, want_state = np_unroll(step, list(np.moveaxis(value, 1, 0)), np.zeros((B, H)), w,
                                 LENGTHS)
    np.testing.assert_allclose(got, np.stack(want, 1), rtol=1e-12)
    np.testing.assert_allclose(final, want_state, rtol=1e-12)


def test_lstm_cell_peepholes_clip_and_projection(graph, rng):
    P = 3
    x = tf.placeholder(tf.float64, [None, T, D])
    cell = tf.nn.rnn_cell.LSTMCell(H, use_peepholes=True, cell_clip=0.4, num_proj=P,
                                   proj_clip=0.3, forget_bias=0.5)
    outputs, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float64)
    assert [v.name for v in tf.trainable_variables()] == [
        "rnn/lstm_cell/kernel:0", "rnn/lstm_cell/bias:0", "rnn/lstm_cell/w_f_diag:0",
        "rnn/lstm_cell/w_i_diag:0", "rnn/lstm_cell/w_o_diag:0",
        "rnn/lstm_cell/projection/kernel:0"]
    assert cell.kernel.shape == (D + P, 4 * H) and outputs.shape == (None, T, P)

    def step(x, state, w):
        kernel, bias, w_f, w_i, w_o, proj = w
        c, h = state
        i, j, f, o = np.split(np.concatenate([x, h], 1) @ kernel + bias, 4, 1)
        c = np.clip(sig(f + 0.5 + w_f * c) * c + sig(i + w_i * c) * np.tanh(j), -0.4, 0.4)
        h = np.clip((sig(o + w_o * c) * np.tanh(c)) @ proj, -0.3, 0.3)
        return h, (c, h)

    value = inputs(rng)
    with tf.Session() as sess:
        w = set_values(sess, cell, rng, scale=1.0)
        got, c = sess.run([outputs, state.c], {x: value})
    want, (want_c, _) = np_unroll(step, list(np.moveaxis(value, 1, 0)),
                                  (np.zeros((B, H)), np.zeros((B, P))), w)
    np.testing.assert_allclose(got, np.stack(want, 1), rtol=1e-12)
    np.testing.assert_allclose(c, want_c, rtol=1e-12)
    assert np.abs(c).max() == pytest.approx(0.4)   # the clip is reached, so it is tested


def test_multi_rnn_cell_stacks_cells(graph, rng):
    x = tf.placeholder(tf.float64, [None, T, D])
    cells = [tf.nn.rnn_cell.BasicLSTMCell(H), tf.nn.rnn_cell.GRUCell(H)]
    outputs, state = tf.nn.dynamic_rnn(tf.nn.rnn_cell.MultiRNNCell(cells), x,
                                       sequence_length=LENGTHS, dtype=tf.float64)
    assert [v.name for v in tf.trainable_variables()][:3] == [
        "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel:0",
        "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias:0",
        "rnn/multi_rnn_cell/cell_1/gru_cell/gates/kernel:0"]
    value = inputs(rng)
    with tf.Session() as sess:
        w_lstm, w_gru = set_values(sess, cells[0], rng), set_values(sess, cells[1], rng)
        got, (lstm_state, gru_state) = sess.run([outputs, state], {x: value})

    def step(x, state, w):
        out, lstm = np_basic_lstm(x, state[0], w_lstm)
        out, gru = np_gru(out, state[1], w_gru)
        return out, (lstm, gru)

    xs = list(np.moveaxis(value, 1, 0))
    want, want_state = [], ((np.zeros((B, H)),) * 2, np.zeros((B, H)))
    for t, x_t in enumerate(xs):   # the masking of a nested state, written out
        out, new = step(x_t, want_state, None)
        done = (t >= LENGTHS)[:, None]
        want.append(np.where(done, 0.0, out))
        want_state = (tuple(np.where(done, a, b) for a, b in zip(want_state[0], new[0])),
                      np.where(done, want_state[1], new[1]))
    np.testing.assert_allclose(got, np.stack(want, 1), rtol=1e-12)
    np.testing.assert_allclose(lstm_state.h, want_state[0][1], rtol=1e-12)
    np.testing.assert_allclose(gru_state, want_state[1], rtol=1e-12)


def test_bidirectional_rnns_reverse_within_each_length(graph, rng):
    x = tf.placeholder(tf.float64, [None, T, D])
    fw, bw = tf.nn.rnn_cell.BasicLSTMCell(H), tf.nn.rnn_cell.BasicLSTMCell(H)
    (out_fw, out_bw), (state_fw, state_bw) = tf.nn.bidirectional_dynamic_rnn(
        fw, bw, x, sequence_length=LENGTHS, dtype=tf.float64)
    fw2, bw2 = rnn.BasicLSTMCell(H), rnn.BasicLSTMCell(H)
    static_out, _, static_bw = rnn.static_bidirectional_rnn(
        fw2, bw2, tf.unstack(x, T, 1), dtype=tf.float64, sequence_length=LENGTHS)
    assert [v.name for v in fw.variables + bw.variables] == [
        "bidirectional_rnn/fw/basic_lstm_cell/kernel:0",
        "bidirectional_rnn/fw/basic_lstm_cell/bias:0",
        "bidirectional_rnn/bw/basic_lstm_cell/kernel:0",
        "bidirectional_rnn/bw/basic_lstm_cell/bias:0"]
    value = inputs(rng)
    with tf.Session() as sess:
        w_fw, w_bw = set_values(sess, fw, rng), set_values(sess, bw, rng)
        for mine, other in zip(fw.variables + bw.variables, fw2.variables + bw2.variables):
            other.load(sess.run(mine), sess)
        got_fw, got_bw, h_bw, got_static, h_static = sess.run(
            [out_fw, out_bw, state_bw.h, static_out, static_bw.h], {x: value})
    xs = list(np.moveaxis(value, 1, 0))
    zeros = (np.zeros((B, H)),) * 2
    want_fw, _ = np_unroll(np_basic_lstm, xs, zeros, w_fw, LENGTHS)
    want_bw, (_, want_h_bw) = np_unroll(np_basic_lstm, np_reverse(xs, LENGTHS), zeros, w_bw,
                                        LENGTHS)
    want_bw = np_reverse(want_bw, LENGTHS)
    np.testing.assert_allclose(got_fw, np.stack(want_fw, 1), rtol=1e-12)
    np.testing.assert_allclose(got_bw, np.stack(want_bw, 1), rtol=1e-12)
    np.testing.assert_allclose(h_bw, want_h_bw, rtol=1e-12)
    np.testing.assert_allclose(np.stack(got_static, 1),
                               np.concatenate([got_fw, got_bw], 2), rtol=1e-12)
    np.testing.assert_allclose(h_static, h_bw, rtol=1e-12)


def test_gradients_match_finite_differences(graph, rng):
    """d loss / d (kernel, inputs) through a masked, bidirectional, stacked graph."""
    x = tf.placeholder(tf.float64, [B, T, D])
    cells = [tf.nn.rnn_cell.GRUCell(H), tf.nn.rnn_cell.BasicLSTMCell(H)]
    (out_fw, out_bw), _ = tf.nn.bidirectional_dynamic_rnn(
        cells[0], cells[1], x, sequence_length=LENGTHS, dtype=tf.float64)
    weights = rng.uniform(-1, 1, (B, T, H))
    loss = tf.reduce_sum(tf.tanh(out_fw) * weights) + tf.reduce_sum(out_bw * out_bw)
    wrt = [x, cells[0].gate_kernel, cells[1].kernel]
    grads = tf.gradients(loss, wrt)
    value = inputs(rng)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run(grads, {x: value})
        values = [value] + sess.run(wrt[1:])

        def f(k, array):
            if k:
                wrt[k].load(array, sess)
            out = sess.run(loss, {x: array if k == 0 else values[0]})
            if k:
                wrt[k].load(values[k], sess)
            return out

        for k, base in enumerate(values):
            for index in list(np.ndindex(base.shape))[::7][:12]:
                e = np.zeros_like(base)
                e[index] = 1e-6
                numeric = (f(k, base + e) - f(k, base - e)) / 2e-6
                assert got[k][index] == pytest.approx(numeric, rel=1e-6, abs=1e-8), (k, index)
    assert not got[0][1, 2:].any()    # padding steps get no gradient


def test_lstm_matches_torch_with_weights_mapped(graph, rng):
    """TF's kernel [D + H, 4H] in gate order i, j, f, o with forget_bias is torch.nn.LSTM's
    weight_ih / weight_hh in order i, f, g, o with forget_bias in the f bias."""
    x = tf.placeholder(tf.float64, [None, T, D])
    cell = rnn.BasicLSTMCell(H, forget_bias=1.0)
    outputs, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float64)
    loss = tf.reduce_sum(outputs * outputs) + tf.reduce_sum(state.c)
    grads = tf.gradients(loss, [x, cell.kernel, cell.bias])
    value = inputs(rng)
    with tf.Session() as sess:
        kernel, bias = set_values(sess, cell, rng)
        got_out, got_grads = sess.run([outputs, grads], {x: value})
    order = np.concatenate([np.arange(H) + k * H for k in (0, 2, 1, 3)])   # i, f, j, o
    lstm = torch.nn.LSTM(D, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(kernel[:D, order].T.copy()))
        lstm.weight_hh_l0.copy_(torch.from_numpy(kernel[D:, order].T.copy()))
        lstm.bias_ih_l0.copy_(torch.from_numpy(bias[order] + np.r_[0, 1.0, 0, 0].repeat(H)))
        lstm.bias_hh_l0.zero_()
    tx = torch.from_numpy(value).requires_grad_()
    out, (_, c) = lstm(tx)
    (out.pow(2).sum() + c.sum()).backward()
    np.testing.assert_allclose(got_out, out.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(got_grads[0], tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    grad_kernel = np.concatenate([lstm.weight_ih_l0.grad.numpy().T,
                                  lstm.weight_hh_l0.grad.numpy().T])
    unorder = np.argsort(order)
    np.testing.assert_allclose(got_grads[1], grad_kernel[:, unorder], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got_grads[2], lstm.bias_ih_l0.grad.numpy()[unorder],
                               rtol=1e-9, atol=1e-12)


def test_trains_and_reuses_variables_across_steps(graph, rng):
    """One kernel serves every step; SGD on it lowers a loss (the tutorial's use)."""
    x = tf.placeholder(tf.float32, [None, T, D])
    y = tf.placeholder(tf.float32, [None, 2])
    cell = rnn.BasicLSTMCell(H)
    outputs, _ = rnn.static_rnn(cell, tf.unstack(x, T, 1), dtype=tf.float32)
    assert len(tf.trainable_variables()) == 2
    w = tf.Variable(tf.random_normal([H, 2]))
    logits = tf.matmul(outputs[-1], w)
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=y))
    train = tf.train.AdamOptimizer(0.05).minimize(loss)
    data = rng.uniform(-1, 1, (16, T, D)).astype(np.float32)
    labels = np.eye(2, dtype=np.float32)[(data[:, :, 0].sum(1) > 0).astype(int)]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss, {x: data, y: labels})
        for _ in range(30):
            sess.run(train, {x: data, y: labels})
        assert sess.run(loss, {x: data, y: labels}) < 0.5 * first


def test_dropout_wrapper_and_zero_state(graph):
    x = tf.placeholder(tf.float32, [4, T, D])
    keep = tf.placeholder(tf.float32, [])
    base = tf.nn.rnn_cell.BasicLSTMCell(H)
    cell = tf.nn.rnn_cell.DropoutWrapper(base, output_keep_prob=keep)
    state = cell.zero_state(4, tf.float32)
    assert state.c.shape == (4, H)
    outputs, _ = tf.nn.dynamic_rnn(cell, x, initial_state=state)
    assert cell.variables == base.variables and len(base.variables) == 2
    value = np.ones((4, T, D), np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        full = sess.run(outputs, {x: value, keep: 1.0})
        dropped = sess.run(outputs, {x: value, keep: 0.5})
    assert np.isin(dropped, [0.0]).any() and full.all()
    kept = dropped != 0
    np.testing.assert_allclose(dropped[kept], 2 * full[kept], rtol=1e-6)


def test_bad_inputs_say_what_is_wrong(graph):
    cell = tf.nn.rnn_cell.BasicLSTMCell(H)
    with pytest.raises(ValueError, match="number of time steps .* must be known"):
        tf.nn.bidirectional_dynamic_rnn(cell, cell, tf.placeholder(tf.float32, [None, None, D]),
                                        dtype=tf.float32)
    with pytest.raises(ValueError, match=r"must be \[batch, time, depth\]"):
        tf.nn.dynamic_rnn(cell, tf.placeholder(tf.float32, [None, D]), dtype=tf.float32)
    with pytest.raises(TypeError, match="dtype float64 differs from the inputs' float32"):
        tf.nn.dynamic_rnn(cell, tf.placeholder(tf.float32, [None, T, D]), dtype=tf.float64)
    with pytest.raises(ValueError, match="sequence_length must be a 1-D integer tensor"):
        tf.nn.dynamic_rnn(cell, tf.placeholder(tf.float32, [None, T, D]),
                          sequence_length=tf.placeholder(tf.float32, [None]))
    with pytest.raises(TypeError, match="TF1 cells build graphs"):
        cell(tf.ones((2, D)), cell.zero_state(2, tf.float32))
    with pytest.raises(NotImplementedError, match="state_is_tuple=False"):
        tf.nn.rnn_cell.BasicLSTMCell(H, state_is_tuple=False)
    with pytest.raises(ValueError, match="same cell object appears twice"):
        tf.nn.rnn_cell.MultiRNNCell([cell, cell])


def test_time_major_and_a_run_time_zero_state(graph, rng):
    x = tf.placeholder(tf.float64, [None, T, D])
    cell = tf.nn.rnn_cell.GRUCell(H)
    batch_major, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float64, scope="a")
    start = cell.zero_state(tf.shape(x)[0], tf.float64)
    time_major, _ = tf.nn.dynamic_rnn(cell, tf.transpose(x, [1, 0, 2]), initial_state=start,
                                      time_major=True, scope="b")
    assert len(tf.trainable_variables()) == 4 and time_major.shape == (T, None, H)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        a, b, zero = sess.run([batch_major, time_major, start], {x: inputs(rng)})
    np.testing.assert_array_equal(np.swapaxes(b, 0, 1), a)
    assert zero.shape == (B, H) and not zero.any()


class Accumulator(tf.nn.rnn_cell.RNNCell):
    """A user's cell in TF1's protocol: h' = h + x @ w."""

    state_size = property(lambda self: 2)
    output_size = property(lambda self: 2)

    def build(self, inputs_shape):
        self.w = self.add_variable("w", [inputs_shape[-1], 2], initializer=0.5)

    def call(self, inputs, state):
        new = state + tf.matmul(inputs, self.w)
        return new, new


def test_a_user_cell_subclass(graph, rng):
    x = tf.placeholder(tf.float64, [None, T, D])
    outputs, state = tf.nn.dynamic_rnn(Accumulator(name="acc"), x, sequence_length=LENGTHS,
                                       dtype=tf.float64)
    assert [v.name for v in tf.trainable_variables()] == ["rnn/acc/w:0"]
    value = inputs(rng)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        final = sess.run(state, {x: value})
    mask = np.arange(T)[None, :] < LENGTHS[:, None]
    np.testing.assert_allclose(final, np.repeat(0.5 * (value * mask[:, :, None]).sum((1, 2))
                                                [:, None], 2, 1), rtol=1e-12)


def test_residual_wrapper_adds_the_input(graph, rng):
    x = tf.placeholder(tf.float64, [None, T, H])
    base = rnn.GRUCell(H)
    plain, _ = tf.nn.dynamic_rnn(base, x, dtype=tf.float64, scope="a")
    wrapped, _ = tf.nn.dynamic_rnn(rnn.ResidualWrapper(base), x, dtype=tf.float64, scope="b")
    value = rng.uniform(-1, 1, (B, T, H))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        a, b = sess.run([plain, wrapped], {x: value})
    np.testing.assert_allclose(b, a + value, rtol=1e-12)   # the state is the cell's own


def test_last_valid_output_by_shape_range_and_gather(graph, rng):
    """dynamic_rnn.py's indexing: tf.shape(outputs)[0] (a run-time batch), tf.range of it,
    and TF1's tf.gather(params, indices) of rows (torch's gather(input, dim, index) stays)."""
    x = tf.placeholder(tf.float64, [None, T, D])
    lengths = tf.placeholder(tf.int32, [None])
    outputs, state = tf.nn.dynamic_rnn(rnn.BasicLSTMCell(H), x, sequence_length=lengths,
                                       dtype=tf.float64)
    batch = tf.shape(outputs)[0]
    index = tf.range(0, batch) * T + (lengths - 1)
    last = tf.gather(tf.reshape(outputs, [-1, H]), index)
    assert index.dtype is tf.int32
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got, h = sess.run([last, state.h], {x: inputs(rng), lengths: LENGTHS})
    np.testing.assert_array_equal(got, h)
    rows = np.arange(12.0).reshape(3, 4)
    picks = np.array([[0, 1], [2, 3], [1, 1]])
    np.testing.assert_array_equal(tf.gather(tf.tensor(rows), 1, tf.tensor(picks)).numpy(),
                                  np.take_along_axis(rows, picks, 1))
    np.testing.assert_array_equal(tf.gather(rows, [3, 0], axis=1).numpy(), rows[:, [3, 0]])


def test_tf_gather_by_keywords():
    """TF1 code often names gather's arguments: tf.gather(params=..., indices=..., axis=...)."""
    rows = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(tf.gather(params=tf.tensor(rows), indices=[2, 0]).numpy(),
                                  rows[[2, 0]])
    np.testing.assert_array_equal(
        tf.gather(params=tf.tensor(rows), indices=[3], axis=1).numpy(), rows[:, [3]])


@pytest.mark.parametrize("time_major", [False, True])
def test_dynamic_rnn_over_a_time_dim_known_only_when_run_is_a_loop(graph, rng, time_major):
    """No static time dim: TF1's while loop over TensorArrays, with TF1's masking, the
    unrolled version's variable names, and its gradient against finite differences."""
    from finite_differences import numeric_grad
    x = tf.placeholder(tf.float64, [None, None, D])
    lengths = tf.placeholder(tf.int32, [None])
    cell = tf.nn.rnn_cell.BasicLSTMCell(H)
    outputs, state = tf.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float64,
                                       time_major=time_major)
    assert [v.name for v in cell.variables] == ["rnn/basic_lstm_cell/kernel:0",
                                                "rnn/basic_lstm_cell/bias:0"]
    loss = tf.reduce_sum(outputs ** 2) + tf.reduce_sum(state.c)
    dx, = tf.gradients(loss, x)
    value, lengths_value = inputs(rng)[:, :4], np.array([4, 0, 2], np.int32)
    fed = np.moveaxis(value, 1, 0) if time_major else value

    def reference(v):
        start = (np.zeros((B, H)), np.zeros((B, H)))
        outs, (c, h) = np_unroll(np_basic_lstm, list(np.moveaxis(v, 1, 0)), start, w,
                                 lengths_value)
        return np.stack(outs, 1), c, (np.stack(outs) ** 2).sum() + c.sum()

    with tf.Session() as sess:
        w = set_values(sess, cell, rng)
        got, c, got_dx = sess.run([outputs, state.c, dx], {x: fed, lengths: lengths_value})
    want, want_c, _ = reference(value)
    np.testing.assert_allclose(np.moveaxis(got, 0, 1) if time_major else got, want, rtol=1e-12)
    np.testing.assert_allclose(c, want_c, rtol=1e-12)
    want_dx = numeric_grad(lambda v: reference(v)[2], value)
    np.testing.assert_allclose(np.moveaxis(got_dx, 0, 1) if time_major else got_dx, want_dx,
                               rtol=1e-6, atol=1e-9)
