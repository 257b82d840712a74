"""Planned execution (pooled buffers, in place, out=, generated code) gives the same values
and gradients as the plain reference loop, for every entry of the op table, and never hands
out or keeps an array that a later run overwrites."""
import importlib
import zlib

import numpy as np
import pytest

import tinyflow as tf
from op_table import TABLE, make_array


def _cases():
    params = []
    for case in TABLE:
        for index in range(len(case.samples)):
            params.append(pytest.param(case, index, id=f"{case.name}-{index}"))
    return params


def _arrays(case, index, salt):
    rng = np.random.default_rng(zlib.crc32(f"{case.name}-{index}-{salt}".encode()))
    dtype = case.dtypes[0]
    return [make_array(arg, dtype, rng) for arg in case.samples[index].args]


def _graph(case, index, arrays):
    """Placeholders, the case's outputs, and gradients of a weighted sum of them."""
    phs = [tf.placeholder(tf.as_dtype(a.dtype), a.shape) for a in arrays]
    out = case.fn(*phs, **case.samples[index].kwargs)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    fetches = [o for o in outs if o is not None]
    diff = [k for k, arg in enumerate(case.samples[index].args) if arg.diff]
    if case.grad and diff:
        floats = [o for o in fetches if o.dtype.is_floating]
        if floats:
            loss = tf.reduce_sum(floats[0] * floats[0])
            for o in floats[1:]:
                loss = loss + tf.reduce_sum(o * 2.0)
            grads = tf.gradients(loss, [phs[k] for k in diff])
            fetches += [g for g in grads if g is not None]
    return phs, fetches


@pytest.mark.parametrize("case,index", _cases())
def test_planned_matches_reference(case, index):
    a1, a2 = _arrays(case, index, "one"), _arrays(case, index, "two")
    graph = tf.Graph()
    with graph.as_default():
        phs, fetches = _graph(case, index, a1)
        if not fetches:
            return
        ref, planned = tf.Session(planned=False), tf.Session()
        want1 = [np.array(v) for v in ref.run(fetches, dict(zip(phs, a1)))]
        want2 = [np.array(v) for v in ref.run(fetches, dict(zip(phs, a2)))]
        stateful = any(getattr(f._op, "stateful", False) for f in fetches)
        got1 = planned.run(fetches, dict(zip(phs, a1)))
        kept = [np.array(v) for v in got1]
        got2 = planned.run(fetches, dict(zip(phs, a2)))
        got3 = planned.run(fetches, dict(zip(phs, a1)))
    tol = dict(rtol=1e-6, atol=1e-6)
    for k, (g1, g2, g3, k1) in enumerate(zip(got1, got2, got3, kept)):
        np.testing.assert_array_equal(g1, k1, err_msg=f"fetch {k} overwritten by a later run")
        if stateful:
            continue
        np.testing.assert_allclose(g1, want1[k], **tol, err_msg=f"fetch {k}, first run")
        np.testing.assert_allclose(g2, want2[k], **tol, err_msg=f"fetch {k}, second run")
        np.testing.assert_allclose(g3, want1[k], **tol, err_msg=f"fetch {k}, third run")
    for a, b in zip(a1, _arrays(case, index, "one")):
        np.testing.assert_array_equal(a, b, err_msg="a feed was written")


def test_first_run_of_a_pure_plan_runs_each_kernel_once(monkeypatch):
    """A program that writes nothing hands out its recording run's values on the first run
    of a shape (one run of the kernels, not two); one with an assign or a random draw runs
    again, as the recording run writes nothing."""
    from tinyflow.backend.numpy.registry import KERNELS
    from tinyflow.ops.linalg import MatMul
    calls = []
    real = KERNELS[MatMul]

    def counting(op, *args, **kwargs):
        calls.append(1)
        return real(op, *args, **kwargs)
    monkeypatch.setitem(KERNELS, MatMul, counting)
    rng = np.random.default_rng(3)
    a, b = (rng.standard_normal((8, 8)).astype(np.float32) for _ in range(2))
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, (8, 8))
        w = tf.Variable(b)
        y = tf.matmul(x, w)
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
        got = sess.run(y, {x: a})
        assert len(calls) == 1
        np.testing.assert_allclose(got, a @ b, rtol=1e-5)
        np.testing.assert_allclose(sess.run(y, {x: a}), a @ b, rtol=1e-5)
        assert len(calls) == 2
        calls.clear()
        update = tf.assign(w, tf.matmul(x, w))
        sess.run(update, {x: a})
        assert len(calls) == 2      # recorded, then run: the assign writes the variable
        np.testing.assert_allclose(sess.run(w), a @ b, rtol=1e-5)


def test_long_plan_code_compiled_once_per_machine(monkeypatch, tmp_path):
    """A long generated plan is compiled once and its code kept in the cache directory: a new
    plan of the same program loads it (the compiler is not called) and computes the same; an
    unreadable file is compiled again."""
    codegen_module = importlib.import_module("tinyflow.passes.codegen")   # (not the function)
    monkeypatch.setenv("TINYFLOW_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(codegen_module, "CACHED_CHARS", 0)
    a = np.arange(12, dtype=np.float32).reshape(3, 4)

    def run():
        with tf.Graph().as_default():
            x = tf.placeholder(tf.float32, (3, 4))
            y = tf.reduce_sum(tf.exp(x) * 2.0 + x, axis=1)
            return tf.Session().run(y, {x: a})
    expected = np.sum(np.exp(a) * 2.0 + a, axis=1)
    np.testing.assert_allclose(run(), expected, rtol=1e-6)
    files = [f for f in tmp_path.iterdir() if f.name.startswith("plan_")]
    assert len(files) == 1
    compiled = []
    monkeypatch.setattr(codegen_module, "compile", lambda *args: compiled.append(args) or
                        compile(*args), raising=False)
    np.testing.assert_allclose(run(), expected, rtol=1e-6)
    assert compiled == []
    files[0].write_bytes(b"\x00")
    np.testing.assert_allclose(run(), expected, rtol=1e-6)
    assert len(compiled) == 1
