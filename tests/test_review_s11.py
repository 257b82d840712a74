"""Defects the session-11 review proved in the merged work, each pinned by the case that
showed it (torch 2.13 or TF1's documented behaviour as the reference)."""
import glob
import importlib
import marshal
import warnings

import numpy as np
import pytest
import torch

import tinyflow as tf
import tinyflow as tt

codegen = importlib.import_module("tinyflow.passes.codegen")   # (passes.codegen: a function)


def test_a_write_into_as_strided_under_autograd_is_refused_not_lost():
    x = tt.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = x * 1
    with pytest.raises(RuntimeError, match="in-place modification of this view"):
        y.as_strided((2, 2), (1, 3), 1).mul_(10)
    np.testing.assert_array_equal(y.detach().numpy(), np.arange(6.0).reshape(2, 3))


def test_a_compiled_call_runs_forward_hooks_added_before_or_after_compiling():
    tt.manual_seed(0)
    lin, seen = tt.nn.Linear(3, 2), []
    handle = lin.register_forward_hook(lambda m, a, o: seen.append(1))
    f = tt.compile(lambda x: lin(x).sum())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # the graph break's one-line report
        for _ in range(3):
            f(tt.ones(1, 3))
        assert len(seen) == 3                 # once per call, as eagerly
        handle.remove()
        g = tt.compile(lambda x: lin(x).sum())
        plain = g(tt.ones(1, 3)).item()
        lin.register_forward_hook(lambda m, a, o: o * 0)
        assert plain != 0 and g(tt.ones(1, 3)).item() == 0   # the guard saw the new hook


def test_tf1_clip_by_norm_of_a_zero_row_has_gradient_one():
    with tf.Graph().as_default():
        w = tf.Variable(np.zeros((2, 3), np.float32))
        grad, = tf.gradients(tf.reduce_sum(tf.clip_by_norm(w, 1.0, axes=[1])), [w])
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            np.testing.assert_array_equal(sess.run(grad), np.ones((2, 3), np.float32))


def test_tf1_clip_by_global_norm_of_an_infinite_norm_is_nan():
    with tf.Graph().as_default():
        clipped, norm = tf.clip_by_global_norm([tf.constant([np.inf, 1.0])], 1.0)
        with tf.Session() as sess, np.errstate(invalid="ignore"):
            values, n = sess.run([clipped[0], norm])
    assert np.isnan(values).all() and np.isinf(n)


@pytest.mark.parametrize("p", [3.0, 0.5, 1.5])
def test_vector_norm_and_normalize_of_a_zero_row_have_torch_gradients(p):
    x = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])
    results = []
    for lib in (tt, torch):
        t = lib.tensor(x, requires_grad=True)
        n = lib.linalg.vector_norm(t, ord=p, dim=1)
        (n * lib.tensor([2.0, 3.0], dtype=lib.float64)).sum().backward()
        g_norm = t.grad.numpy().copy()
        t.grad = None
        lib.nn.functional.normalize(t, p=p, dim=1).mul(lib.tensor([[1.0, 2.0, 3.0]],
                                                              dtype=lib.float64)).sum().backward()
        results.append((n.detach().numpy(), g_norm, t.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10)


def test_a_plan_cache_file_that_is_not_code_is_recompiled(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYFLOW_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(codegen, "CACHED_CHARS", 0)

    def run():
        with tf.Graph().as_default():
            x = tf.placeholder(tf.float32, (3,))
            y = tf.reduce_sum(tf.exp(x) * 2.0 + x)
            return tf.Session().run(y, {x: np.ones(3, np.float32)})

    first = run()
    [path] = glob.glob(str(tmp_path / "**" / "plan_*"), recursive=True)
    with open(path, "wb") as f:
        f.write(marshal.dumps(None))
    assert run() == first
    with open(path, "rb") as f:
        assert marshal.load(f) is not None     # rewritten as code


def test_multi_margin_loss_of_a_1d_input_has_its_targets_shape_and_1d_pools_refuse_ints():
    x = np.array([0.3, -1.2, 0.8, 0.1], np.float32)
    for target in ([2], 2):
        ours = tt.nn.functional.multi_margin_loss(tt.tensor(x), tt.tensor(target),
                                                   reduction="none")
        theirs = torch.nn.functional.multi_margin_loss(torch.tensor(x), torch.tensor(target),
                                                       reduction="none")
        assert tuple(ours.shape) == tuple(theirs.shape)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    for pool in ("adaptive_max_pool1d", "adaptive_avg_pool1d"):
        with pytest.raises(RuntimeError, match="int64"):
            getattr(tt.nn.functional, pool)(tt.ones(1, 2, 5, dtype=tt.int64), 2)


def test_tf1_batch_norm_regularizers_reach_the_regularization_losses():
    with tf.Graph().as_default():
        x = tf.constant(np.ones((4, 3), np.float32))
        tf.layers.batch_normalization(x, gamma_regularizer=lambda g: 2.0 * tf.reduce_sum(g),
                                      training=True)
        tf.contrib.layers.batch_norm(x, param_regularizers={"beta": lambda b: 1.0 +
                                                            tf.reduce_sum(b)})
        losses = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            assert sorted(sess.run(losses)) == [1.0, 6.0]    # beta zeros; gamma three ones
        with pytest.raises(NotImplementedError, match="gamma_constraint"):
            tf.layers.batch_normalization(x, gamma_constraint=lambda g: g)
