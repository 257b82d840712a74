"""Precision in graphs and autocast's cast cache. fp8 delayed scaling: a fake_quantize step
with an amax history updates state when it runs, so the graph rewrites (cse, constant_fold,
dce, the JIT's plan search) and the recording run must neither merge, fold, drop nor rerun
it. autocast around graph construction casts eager parameters on every run (not once while
the graph is built), and eagerly casts a parameter once per autocast region."""
from __future__ import annotations

import numpy as np

import tinyflow
import tinyflow as tf

F = tinyflow.nn.functional
RUNS = 3


def _fp8_graph():
    """Two fp8 layers with equal constant weights on one input, the first applied twice,
    and the input's gradient; the recipe holds the per-layer histories."""
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((6, 8)).astype(np.float32)
    recipe = tinyflow.Fp8Recipe(amax_history_len=4 * RUNS)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [4, 8])
        w_a, w_b = tf.constant(weight), tf.constant(weight)
        with tinyflow.fp8_autocast(fp8_recipe=recipe):
            y = F.linear(x, w_a) + F.linear(x, w_b) + F.linear(x, w_a)
        loss = tf.reduce_sum(y * y)
        grad, = tf.gradients(loss, [x])
    return graph, x, (w_a, w_b), recipe, [loss, grad]


def _run(optimize: bool):
    graph, x, weights, recipe, fetches = _fp8_graph()
    sess = tf.Session(graph=graph, optimize=optimize)
    rng = np.random.default_rng(1)
    values = [sess.run(fetches, {x: rng.standard_normal((4, 8)).astype(np.float32)
                                 * (1 + run)}) for run in range(RUNS)]
    histories = [[list(h.amaxes) for h in recipe.histories_of(w)] for w in weights]
    return values, histories


def test_fp8_histories_survive_the_rewrites():
    (got, got_hist), (want, want_hist) = _run(True), _run(False)
    for g, w in zip(got, want):
        for a, b in zip(g, w):
            np.testing.assert_allclose(a, b, rtol=1e-5)
    assert got_hist == want_hist
    a, b = want_hist
    assert [len(h) for h in a] == [2 * RUNS] * 3   # layer a runs twice a step: x, w, grad
    assert [len(h) for h in b] == [RUNS] * 3


def test_a_history_makes_fake_quantize_stateful():
    quantize, e4m3 = tinyflow.ops.quantize.FakeQuantize, tinyflow.float8_e4m3fn
    history = tinyflow.core.modes.AmaxHistory(2)
    assert not quantize(dtype=e4m3, grad_dtype=None, margin=0).stateful
    assert quantize(dtype=e4m3, grad_dtype=None, margin=0, history=history).stateful
    assert quantize(dtype=None, grad_dtype=e4m3, margin=0, grad_history=history).stateful


def _train_linear_graph(autocast: bool) -> list:
    """Losses of three SGD steps of an nn.Linear (eager parameters) in a TF1 graph."""
    graph = tf.Graph()
    with graph.as_default():
        tinyflow.manual_seed(0)
        layer = tinyflow.nn.Linear(4, 3)
        x = tf.placeholder(tf.float32, [2, 4])
        with tinyflow.autocast("cpu", dtype=tf.bfloat16, enabled=autocast):
            y = layer(x)
        loss = tf.reduce_sum(tf.cast(y, tf.float32) ** 2)
        train = tf.train.GradientDescentOptimizer(0.02).minimize(
            loss, var_list=list(layer.parameters()))
        sess = tf.Session(graph=graph)
    feed = {x: np.ones((2, 4), np.float32)}
    losses = []
    for _ in range(3):
        losses.append(float(sess.run(loss, feed)))
        sess.run(train, feed)
    return losses


def test_graph_autocast_casts_eager_parameters_on_every_run():
    low, full = _train_linear_graph(True), _train_linear_graph(False)
    assert low[2] < 0.2 * low[0]          # the updated weights reach the bf16 product
    np.testing.assert_allclose(low, full, rtol=2e-2)


def test_autocast_casts_a_parameter_once_per_region():
    layer, x = tinyflow.nn.Linear(4, 3), tinyflow.ones(2, 4)
    grads = []
    for cache in (True, False):
        layer.zero_grad()
        with tinyflow.autocast("cpu", dtype=tf.bfloat16, cache_enabled=cache):
            first, again = (tinyflow.ops.autocast_inputs(layer.weight)[0] for _ in range(2))
            assert (first is again) == cache
            loss = sum(layer(x * k).float().sum() for k in (1.0, 2.0, 3.0))
        loss.backward()                    # three uses of one cached copy: gradients add up
        grads.append(layer.weight.grad.numpy().copy())
    np.testing.assert_array_equal(*grads)
    with tinyflow.autocast("cpu", dtype=tf.bfloat16):
        before = tinyflow.ops.autocast_inputs(layer.weight)[0]
        with tinyflow.no_grad():
            layer.weight.mul_(2.0)         # written in place: cast anew
        after = tinyflow.ops.autocast_inputs(layer.weight)[0]
        assert after is not before
        np.testing.assert_array_equal(after.float().detach().numpy(),
                                      2 * before.float().detach().numpy())
    with tinyflow.autocast("cpu", dtype=tf.bfloat16):
        assert tinyflow.ops.autocast_inputs(layer.weight)[0] is not after   # a new region
