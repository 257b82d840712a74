"""TF1 graphs built inside a compiled function (they had failed with "belong to different
graphs": the trace took the TF1 ops as its own). A TF1 op is a node of its graph, as
eagerly; `tf.Session.run` is a graph break, so the function runs as compiled pieces and the
session runs on every call with that call's values, its variables kept across calls."""
import warnings

import numpy as np
import pytest

import tinyflow as tf
import tinyflow as torch


def scaled(x):
    """Doubles `x` through a TF1 graph of its own, times a counter the session keeps."""
    g = tf.Graph()
    with g.as_default():
        a = tf.placeholder(tf.float32, [3])
        with tf.Session() as sess:
            r = sess.run(a * 2, {a: x + 1})     # fed a traced value
    return torch.tensor(r) * x


def _calls(fn, n=3):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [fn(torch.tensor(np.arange(3, dtype=np.float32) + k)).numpy() for k in range(n)]


def test_a_tf1_graph_run_inside_equals_eager_each_call():
    fn = torch.compile(scaled)
    for got, want in zip(_calls(fn), _calls(scaled)):
        np.testing.assert_allclose(got, want)
    assert fn.stats.split_calls == 3 and fn.stats.eager_calls == 0
    assert any("tf.Session.run" in reason for _, reason in fn.breaks)


def test_a_session_variable_advances_every_call():
    counter = tf.Variable(0.0)
    bump = tf.assign_add(counter, 1.0)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())

    def step(x):
        return x * float(sess.run(bump))

    fn = torch.compile(step)
    got = _calls(fn, 4)
    assert [float(v[1]) for v in got] == [1.0, 4.0, 9.0, 16.0]   # (1 + k) * count
    assert sess.run(counter) == 4.0


def test_fullgraph_names_the_session_run():
    with pytest.raises(RuntimeError, match="tf.Session.run"):
        torch.compile(scaled, fullgraph=True)(torch.tensor(np.ones(3, np.float32)))


def test_a_session_run_after_a_write_runs_the_call_eagerly():
    """The call's writes are deferred to its end: a session run after one runs eagerly."""
    def step(w):
        w.add_(1)
        return scaled(w)

    ws = [torch.tensor(np.zeros(3, np.float32)) for _ in range(2)]
    fn = torch.compile(step)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = [fn(ws[0]).numpy() for _ in range(2)]
    want = [step(ws[1]).numpy() for _ in range(2)]
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b)
    assert fn.stats.eager_calls == 2



@pytest.mark.parametrize("draw", [tf.random_uniform, tf.random_normal, tf.truncated_normal])
@pytest.mark.parametrize("of_x", [False, True])
def test_a_tf1_draw_returned_from_a_compiled_function_is_a_graph_tensor_as_eagerly(draw, of_x):
    """A TF1 draw is a node of the default graph (it draws anew on every run), so `x +
    tf.random_uniform(tf.shape(x))` is one eagerly, and the compiled function returns it too,
    with that call's x: it had failed with a KeyError in jit/pieces.py."""
    fn = torch.compile(lambda x: x + draw(tf.shape(x) if of_x else [3, 2]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = [fn(torch.full((3, 2), float(k))) for k in (10, 20)]
    with tf.Session() as sess:
        for k, r in zip((10, 20), results):
            assert r.kind != "eager" and r.shape == (3, 2)
            first, second = sess.run(r) - k, sess.run(r) - k
            assert np.all(np.abs(first) < 8) and not np.array_equal(first, second)
