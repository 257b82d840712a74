"""tf.while_loop: trip counts decided by the data, in a Session and eagerly, and tf.gradients
through the loop against float64 finite differences."""
import collections

import numpy as np
import pytest

import tinyflow as tf
from finite_differences import numeric_grad


def test_trip_count_is_fed_and_the_gradient_runs_back_over_every_trip():
    n = tf.placeholder(tf.int32, [])
    x = tf.placeholder(tf.float64, [3])
    trips, y = tf.while_loop(lambda i, y: i < n, lambda i, y: (i + 1, y * x + 1.0),
                             [tf.constant(0), tf.ones([3], tf.float64)])
    loss = tf.reduce_sum(y * y)
    grad, = tf.gradients(loss, [x])
    xv = np.array([0.5, 1.5, -2.0])

    def reference(xv, count):
        y = np.ones(3)
        for _ in range(count):
            y = y * xv + 1
        return y

    with tf.Session() as sess:
        for count in (0, 1, 4):
            got_trips, got_y, got_grad = sess.run([trips, y, grad], {n: count, x: xv})
            assert got_trips == count
            np.testing.assert_allclose(got_y, reference(xv, count))
            expected = numeric_grad(lambda v: (reference(v, count) ** 2).sum(), xv)
            np.testing.assert_allclose(got_grad, expected, rtol=1e-6, atol=1e-8)


def test_newtons_method_stops_when_converged_and_differentiates_the_root():
    """A TF1-style iterative algorithm: the trip count depends on the value fed."""
    a = tf.placeholder(tf.float64, [])

    def not_converged(k, x):
        return tf.logical_and(tf.abs(x * x - a) > 1e-12, k < 100)

    steps, root = tf.while_loop(not_converged, lambda k, x: (k + 1, 0.5 * (x + a / x)),
                                (tf.constant(0), tf.constant(1.0, tf.float64)))
    d_root, = tf.gradients(root, a)
    with tf.Session() as sess:
        for value in (2.0, 50.0):
            k, r, d = sess.run([steps, root, d_root], {a: value})
            np.testing.assert_allclose(r, np.sqrt(value), rtol=1e-12)
            np.testing.assert_allclose(d, 0.5 / np.sqrt(value), rtol=1e-6)
        assert sess.run(steps, {a: 2.0}) < sess.run(steps, {a: 50.0})


def _greedy_decoder(embeddings, w_in, w_hh, w_out, h0, eos: int, max_len: int):
    """A greedy RNN decoder: feed back the argmax token until it is eos (or max_len)."""
    batch = tf.shape(h0)[0]

    def not_done(t, token, h, score, finished):
        return tf.logical_not(tf.reduce_all(finished))

    def step(t, token, h, score, finished):
        x = tf.gather(embeddings, token)
        h = tf.tanh(tf.matmul(x, w_in) + tf.matmul(h, w_hh))
        logits = tf.matmul(h, w_out)
        token = tf.cast(tf.argmax(logits, axis=1), tf.int32)
        best = tf.reduce_max(tf.nn.log_softmax(logits), axis=1)
        score = score + tf.where(finished, tf.zeros_like(best), best)
        return t + 1, token, h, score, tf.logical_or(finished, tf.equal(token, eos))

    start = tf.zeros([batch], tf.int32)
    done = tf.zeros([batch], tf.bool)
    score0 = tf.zeros([batch], tf.float64)
    t, _, h, score, _ = tf.while_loop(not_done, step, [0, start, h0, score0, done],
                                      maximum_iterations=max_len)
    return t, h, score


def _decode_numpy(emb, w_in, w_hh, w_out, h, eos, max_len):
    token = np.zeros(len(h), int)
    score, finished, t = np.zeros(len(h)), np.zeros(len(h), bool), 0
    while not finished.all() and t < max_len:
        h = np.tanh(emb[token] @ w_in + h @ w_hh)
        logits = h @ w_out
        token = logits.argmax(1)
        shifted = logits - logits.max(1, keepdims=True)
        best = (shifted - np.log(np.exp(shifted).sum(1, keepdims=True))).max(1)
        score += np.where(finished, 0.0, best)
        finished |= token == eos
        t += 1
    return t, h, score


def test_greedy_rnn_decoder_program_matches_numpy_and_its_gradient_is_numeric():
    rng = np.random.default_rng(0)
    values = {"emb": rng.normal(size=(5, 3)), "w_in": rng.normal(size=(3, 4)),
              "w_hh": rng.normal(size=(4, 4)) * 0.5, "w_out": rng.normal(size=(4, 5))}
    weights = {k: tf.Variable(v) for k, v in values.items()}
    h0 = tf.placeholder(tf.float64, [None, 4])
    t, h, score = _greedy_decoder(weights["emb"], weights["w_in"], weights["w_hh"],
                                  weights["w_out"], h0, eos=2, max_len=6)
    loss = tf.reduce_sum(score) + tf.reduce_sum(h * h)
    grads = tf.gradients(loss, [weights["w_hh"], weights["emb"], h0])
    h0v = rng.normal(size=(3, 4))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got_t, got_h, got_score, *got_grads = sess.run([t, h, score, *grads], {h0: h0v})
    want_t, want_h, want_score = _decode_numpy(*values.values(), h0v, 2, 6)
    assert got_t == want_t and got_t > 1
    np.testing.assert_allclose(got_h, want_h, rtol=1e-10)
    np.testing.assert_allclose(got_score, want_score, rtol=1e-10)

    def numpy_loss(**changed):
        v = {**values, **{k: x for k, x in changed.items() if k != "h0"}}
        _, h, score = _decode_numpy(*v.values(), changed.get("h0", h0v), 2, 6)
        return score.sum() + (h * h).sum()

    for got, key, x in zip(got_grads, ("w_hh", "emb", "h0"),
                           (values["w_hh"], values["emb"], h0v)):
        expected = numeric_grad(lambda v: numpy_loss(**{key: v}), x)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


def test_nested_loops_with_a_captured_variable_differentiate():
    w = tf.Variable(np.array([[0.9, 0.1], [0.2, 0.8]]))
    h0 = tf.placeholder(tf.float64, [None, 2])

    def outer(t, h):
        inner = tf.while_loop(lambda j, z: j < 2,
                              lambda j, z: (j + 1, tf.tanh(tf.matmul(z, w))), [0, h])
        return t + 1, inner[1]

    trips, h = tf.while_loop(lambda t, h: t < 100, outer, [0, h0], maximum_iterations=3)
    loss = tf.reduce_sum(h * h)
    d_w, d_h0 = tf.gradients(loss, [w, h0])
    wv, h0v = np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([[0.3, -0.7], [1.0, 0.5]])

    def reference(wv, h0v):
        h = h0v
        for _ in range(6):
            h = np.tanh(h @ wv)
        return (h * h).sum()

    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got_trips, got_loss, got_w, got_h0 = sess.run([trips, loss, d_w, d_h0], {h0: h0v})
    assert got_trips == 3
    np.testing.assert_allclose(got_loss, reference(wv, h0v))
    np.testing.assert_allclose(got_w, numeric_grad(lambda v: reference(v, h0v), wv), rtol=1e-6)
    np.testing.assert_allclose(got_h0, numeric_grad(lambda v: reference(wv, v), h0v),
                               rtol=1e-6)


def test_shape_invariants_let_a_loop_variable_grow():
    m0 = tf.placeholder(tf.float32, [1, 2])
    i0 = tf.constant(0)
    _, m = tf.while_loop(lambda i, m: i < 3, lambda i, m: [i + 1, tf.concat([m, m], axis=0)],
                         [i0, m0], shape_invariants=[i0.get_shape(), tf.TensorShape([None, 2])])
    assert m.shape.as_list() == [None, 2]
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(m, {m0: [[1, 2]]}), np.tile([[1, 2]], (8, 1)))
    with pytest.raises(ValueError, match="loop variable 1 of shape .*shape invariant"):
        tf.while_loop(lambda i, m: i < 3, lambda i, m: [i + 1, tf.concat([m, m], axis=0)],
                      [i0, m0])


def test_a_shape_the_graph_did_not_fix_is_checked_on_every_trip():
    x = tf.placeholder(tf.float32, [None])
    _, y = tf.while_loop(lambda i, y: i < 2, lambda i, y: (i + 1, tf.boolean_mask(y, y > 0)),
                         [0, x], shape_invariants=[tf.TensorShape([]), tf.TensorShape([3])])
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {x: [1, 2, 3]}), [1, 2, 3])
        with pytest.raises(ValueError, match="after trip 1 .*loop variable 1 .*shape \\[2\\]"):
            sess.run(y, {x: [1, -2, 3]})


def test_nested_structures_single_variables_and_limits():
    pair = collections.namedtuple("Pair", "j, k")
    x = tf.placeholder(tf.int32, [])
    i, p = tf.while_loop(lambda i, p: i < 10, lambda i, p: (i + 1, pair(p.j + p.k, p.j - p.k)),
                         (x, pair(tf.constant(1), tf.constant(2))))
    assert isinstance(p, pair)
    single = tf.while_loop(lambda v: v < 1000, lambda v: v * 3, [x])
    same = tf.while_loop(lambda v: v < 1000, lambda v: [v * 3], [x], return_same_structure=True)
    limited = tf.while_loop(lambda v: v < 1000, lambda v: v * 3, [x], maximum_iterations=x)
    with tf.Session() as sess:
        got = sess.run([i, p.j, p.k, single, same, limited], {x: 2})
    j, k = 1, 2
    for _ in range(8):
        j, k = j + k, j - k
    assert got[:3] == [10, j, k]
    assert got[3] == 1458 and got[4] == [1458] and got[5] == 18


def test_eager_loops_run_in_python_and_autograd_records_every_trip():
    out = tf.while_loop(lambda k: k < 10, lambda k: k * 2, [tf.constant(1)])
    assert out.kind == "eager" and int(out) == 16
    x = tf.tensor([0.5, -1.0], dtype=tf.float64, requires_grad=True)
    _, y = tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, y * x + 1), [0, x])
    y.sum().backward()
    xv = np.array([0.5, -1.0])
    np.testing.assert_allclose(y.detach().numpy(), ((xv * xv + 1) * xv + 1) * xv + 1)
    np.testing.assert_allclose(x.grad.numpy(), 4 * xv ** 3 + 2 * xv + 1)


def test_loop_errors_name_the_mistake():
    x = tf.placeholder(tf.float32, [2])
    with pytest.raises(ValueError, match="body returned 1 loop variables for 2"):
        tf.while_loop(lambda i, v: i < 3, lambda i, v: [i + 1], [0, x])
    with pytest.raises(TypeError, match="loop variable 0 int64, but it entered the loop as "
                                        "int32"):
        tf.while_loop(lambda i, v: i < 3, lambda i, v: [tf.cast(i, tf.int64), v], [0, x])
    with pytest.raises(TypeError, match="cond must return a bool scalar"):
        tf.while_loop(lambda v: tf.reduce_sum(v), lambda v: v, [x])
    with pytest.raises(ValueError, match="loop_vars is empty"):
        tf.while_loop(lambda: True, lambda: (), [])
    v = tf.Variable(0.0)
    with pytest.raises(ValueError, match="body writes a variable"):
        tf.while_loop(lambda i: i < 3, lambda i: [tf.assign(v, 1.0) * 0 + i],
                      [tf.placeholder(tf.float32, [])])
    _, y = tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * v), [0, x])
    first, = tf.gradients(tf.reduce_sum(y), x)
    with pytest.raises(NotImplementedError, match="second order"):
        tf.gradients(tf.reduce_sum(first), x)


def test_a_compiled_function_traces_the_loop_and_its_gradient():
    def f(x):
        _, y = tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, y * x + 1), [0, x])
        return y.sum()

    compiled = tf.compile(f)
    for values in ([0.5, 1.0], [0.5, 1.0, 2.0]):
        x = tf.tensor(values, dtype=tf.float64, requires_grad=True)
        compiled(x).backward()
        xv = np.array(values)
        np.testing.assert_allclose(x.grad.numpy(), 4 * xv ** 3 + 2 * xv + 1)


def test_the_gradient_is_the_same_on_every_run():
    """The kept iterates hold the loop's input arrays; a run must not reuse their memory
    before the gradient has read them (runs after the first once did)."""
    x = tf.placeholder(tf.float64, [3])
    _, y = tf.while_loop(lambda i, y: i < 1, lambda i, y: (i + 1, y * y),
                         [tf.constant(0), tf.sin(x)])
    g, = tf.gradients(tf.reduce_sum(tf.exp(y) + 1.0), x)
    xv = np.array([0.1, 0.2, 0.3])
    expected = np.exp(np.sin(xv) ** 2) * 2 * np.sin(xv) * np.cos(xv)
    with tf.Session() as sess:
        for _ in range(3):
            np.testing.assert_allclose(sess.run(g, {x: xv}), expected, rtol=1e-12)


def test_a_loop_output_that_is_a_kept_iterate_is_its_own_array():
    """b takes c's value as is: the loop's output b is the array of the last trip's c,
    which the gradient reads (a planned run does not write into a loop's output)."""
    x = tf.placeholder(tf.float64, [3])
    _, a, b, _ = tf.while_loop(lambda i, a, b, c: i < 3,
                               lambda i, a, b, c: (i + 1, a * c, c, c * 1.5),
                               [tf.constant(0), tf.sin(x), tf.cos(x), tf.cos(x) + 1.0])
    g, = tf.gradients(tf.reduce_sum(tf.exp(a) * 2.0 + tf.exp(b) * 3.0), x)
    xv = np.array([0.1, 0.2, 0.3])

    def f(v):
        a, c = np.sin(v), np.cos(v) + 1.0
        return np.sum(np.exp(a * c ** 3 * 1.5 ** 3) * 2.0 + np.exp(c * 1.5 ** 2) * 3.0)
    with tf.Session() as sess:
        for _ in range(3):
            np.testing.assert_allclose(sess.run(g, {x: xv}), numeric_grad(f, xv), rtol=1e-6)


def test_the_gradient_uses_the_forward_runs_random_draws():
    """The reverse rule reads the body's draws of the same run, not new ones: d(x * u)/dx
    is that u, and a dropout's gradient is zero where the forward dropped."""
    x = tf.placeholder(tf.float64, [4])
    _, y = tf.while_loop(lambda i, y: i < 2,
                         lambda i, y: (i + 1, y * tf.random_uniform([4], dtype=tf.float64)),
                         [tf.constant(0), x])
    g, = tf.gradients(tf.reduce_sum(y), x)
    w = tf.placeholder(tf.float64, [64])
    _, z = tf.while_loop(lambda i, z: i < 1, lambda i, z: (i + 1, tf.nn.dropout(z, 0.5)),
                         [tf.constant(0), w])
    h, = tf.gradients(tf.reduce_sum(z), w)
    with tf.Session() as sess:
        yv, gv, zv, hv = sess.run([y, g, z, h], {x: np.ones(4), w: np.ones(64)})
    np.testing.assert_allclose(gv, yv, rtol=1e-12)
    assert 0 < np.count_nonzero(zv) < 64
    np.testing.assert_allclose(hv, zv, rtol=1e-12)   # 2 where kept, 0 where dropped


def test_a_loop_inside_a_cond_branch_reads_an_outer_tensor():
    x = tf.placeholder(tf.float64, [])
    p = tf.placeholder(tf.bool, [])
    out = tf.cond(p, lambda: tf.while_loop(lambda i, y: i < 2, lambda i, y: (i + 1, y * x),
                                           [0, x])[1], lambda: x)
    g, = tf.gradients(out, x)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run([out, g], {x: 1.1, p: True}),
                                   [1.1 ** 3, 3 * 1.1 ** 2])
        np.testing.assert_allclose(sess.run([out, g], {x: 1.1, p: False}), [1.1, 1.0])


def test_a_loop_built_without_back_prop_stops_the_gradient():
    x = tf.placeholder(tf.float64, [2])
    _, y = tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * 2), [0, x],
                         back_prop=False)
    assert tf.gradients(tf.reduce_sum(y), x) == [None]
    g, = tf.gradients(tf.reduce_sum(y * x), x)   # only the path around the loop
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(g, {x: [1.0, 2.0]}), [8.0, 16.0])


def test_a_loop_over_constants_with_effects_runs_when_the_session_runs(capsys):
    """body is called once; a print in it prints at every run, not while building, and a
    variable made in it is the graph's; a loop over data with no effects is computed at
    once, as an op on constants."""
    i = tf.while_loop(lambda i: i < 2, lambda i: tf.Print(i + 1, [i], "trip "), [tf.constant(0)])
    shown = tf.Print(tf.constant(1.0), [], "constant ")
    calls = []

    def body(i, h):
        calls.append(1)
        w = tf.get_variable("w", [2, 2], dtype=tf.float64, initializer=tf.ones_initializer())
        return i + 1, tf.matmul(h, w)
    _, h = tf.while_loop(lambda i, h: i < 3, body, [tf.constant(0), tf.constant(np.ones((1, 2)))])
    assert len(calls) == 1 and capsys.readouterr().err == ""
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(2):
            assert sess.run([i, shown]) == [2, 1.0]
        np.testing.assert_allclose(sess.run(h), [[8.0, 8.0]])
    err = capsys.readouterr().err
    assert err.count("trip ") == 4 and err.count("constant ") == 2
    pure = tf.while_loop(lambda k: k < 10, lambda k: k * 2, [tf.constant(1)])
    assert pure.kind == "eager" and int(pure) == 16


def test_a_nested_loops_draws_are_kept_for_the_gradient():
    x = tf.placeholder(tf.float64, [4])

    def outer(i, y):
        _, z = tf.while_loop(lambda j, z: j < 2, lambda j, z: (
            j + 1, z * tf.random_uniform([4], dtype=tf.float64)), [0, y])
        return i + 1, z
    _, y = tf.while_loop(lambda i, y: i < 2, outer, [0, x])
    g, = tf.gradients(tf.reduce_sum(y), x)
    with tf.Session() as sess:
        yv, gv = sess.run([y, g], {x: np.ones(4)})
    np.testing.assert_allclose(gv, yv, rtol=1e-12)     # the product of the four draws


def test_a_loop_computed_at_once_leaves_nothing_in_the_graph():
    graph = tf.get_default_graph()
    before = [n.name for n in graph.nodes]
    k, total = tf.while_loop(lambda k, s: k < 4, lambda k, s: (k + 1, s + tf.cast(k, tf.float64)),
                             [tf.constant(0), tf.constant(0.5, tf.float64)])
    assert (int(k), float(total)) == (4, 6.5)
    assert [n.name for n in graph.nodes] == before
    x = tf.placeholder(tf.float64, [], name="x")    # names are as if no loop had been built
    _, y = tf.while_loop(lambda k, s: k < 2, lambda k, s: (k + 1, s * x), [0, x])
    assert x.name == "x:0" and y.name.startswith("while/")
    with tf.Session() as sess:
        assert sess.run(y, {x: 3.0}) == 27.0


def test_one_backward_loop_serves_every_loop_variable_of_a_gradient():
    """Two loop variables reach the loss: one tf.gradients call runs one backward loop (not
    one per variable); a second call makes its own."""
    x, w = tf.placeholder(tf.float64, [3]), tf.placeholder(tf.float64, [])
    _, a, b = tf.while_loop(lambda i, a, b: i < 3,
                            lambda i, a, b: (i + 1, a * w + b, b * x), [0, x, x * 2])
    graph = tf.get_default_graph()

    def backward_loops() -> int:
        return sum(1 for n in graph.nodes if n._op is not None
                   and n._op.name == "while_loop_grad")

    grads = tf.gradients(tf.reduce_sum(a * a) + tf.reduce_sum(b), [x, w])
    assert backward_loops() == 1
    grad_b, = tf.gradients(tf.reduce_sum(b), x)
    assert backward_loops() == 2

    def loss(xv, wv, only_b=False):
        a, b = xv, xv * 2
        for _ in range(3):
            a, b = a * wv + b, b * xv
        return b.sum() if only_b else (a * a).sum() + b.sum()

    xv, wv = np.array([0.5, -1.0, 2.0]), 0.7
    with tf.Session() as sess:
        gx, gw, gb = sess.run([*grads, grad_b], {x: xv, w: wv})
    np.testing.assert_allclose(gx, numeric_grad(lambda v: loss(v, wv), xv), rtol=1e-6)
    np.testing.assert_allclose(gw, numeric_grad(lambda v: loss(xv, v), np.array(wv)), rtol=1e-6)
    np.testing.assert_allclose(gb, numeric_grad(lambda v: loss(v, wv, True), xv), rtol=1e-6)
