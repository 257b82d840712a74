"""fp8 delayed scaling in a graph: a fake_quantize step with an amax history updates state
when it runs, so the graph rewrites (cse, constant_fold, dce, the JIT's plan search) must
neither merge, fold, drop nor rerun it; the optimized session equals the reference one."""
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
