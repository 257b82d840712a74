"""Elementwise fusion: the pass (passes/fuse_elementwise.py) groups elementwise steps into one
`FusedElementwise` step, whose generated Numba kernel (backend/numpy/fused.py) equals the
members' NumPy kernels and is cached on disk so a second process compiles nothing."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import tinyflow as tf
from tinyflow.backend.numpy import _fused_codegen as codegen
from tinyflow.backend.numpy import fused as fused_kernels
from tinyflow.backend.numpy.registry import KERNELS
from tinyflow.ops import math as m
from tinyflow.ops.activation import Gelu
from tinyflow.ops.fused import FusedElementwise

N = 1 << 15    # above fused_kernels.MIN_SIZE: the generated kernel runs, not the fallback
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module", autouse=True)
def cache_dir(tmp_path_factory):
    """One fresh kernel cache for this module (compiles once per run, then loads)."""
    path = str(tmp_path_factory.mktemp("tinyflow_cache"))
    old = os.environ.get("TINYFLOW_CACHE_DIR")
    os.environ["TINYFLOW_CACHE_DIR"] = path
    yield path
    if old is None:
        del os.environ["TINYFLOW_CACHE_DIR"]
    else:
        os.environ["TINYFLOW_CACHE_DIR"] = old


def _run_both(fetches, feed):
    """(optimized plan's op names, optimized values, reference values) in one graph. The
    optimized values are the second run's: the first hands out the recording run's."""
    sess, ref = tf.Session(), tf.Session(optimize=False)
    plan = sess.make_plan(fetches, list(feed))
    names = [s.op.name for s in plan.program.steps]
    recorded = sess.run(fetches, feed)
    planned = sess.run(fetches, feed)
    for a, b in zip(recorded, planned):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    return names, planned, ref.run(fetches, feed)


def _feeds(rng, *shapes, dtype=np.float32):
    phs = [tf.placeholder(tf.as_dtype(dtype), s) for s in shapes]
    return phs, {p: rng.standard_normal(s).astype(dtype) for p, s in zip(phs, shapes)}


def test_lecture_example_plans_as_one_kernel():
    rng = np.random.default_rng(0)
    with tf.Graph().as_default():
        (A, B, C, D), feed = _feeds(rng, *[(N,)] * 4)
        E = D + (A + B) * C
        names, got, want = _run_both([E], feed)
        assert names == ["fused[add,mul,add]"]
        np.testing.assert_allclose(got[0], want[0], rtol=1e-6, atol=1e-6)
        plan = tf.Session(optimize=False).make_plan([E], [A, B, C, D])
        assert [s.op.name for s in plan.program.steps] == ["add", "mul", "add"]


def test_bias_and_activation_chains():
    rng = np.random.default_rng(1)
    with tf.Graph().as_default():
        (x, W, b), feed = _feeds(rng, (256, 64), (64, 128), (128,))
        h = tf.nn.relu(tf.matmul(x, W) + b) * 0.5
        s = tf.sigmoid(tf.matmul(x, W) - b)       # exp inside: stays out of groups
        names, got, want = _run_both([h, s], feed)
        assert names.count("fused[add,relu,mul]") == 1 and "sigmoid" in names
        assert "fused[sub]" not in names          # a group of one stays as it was
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_broadcasting_inputs():
    rng = np.random.default_rng(2)
    with tf.Graph().as_default():
        (x, row, col, s), feed = _feeds(rng, (128, 300), (300,), (128, 1), ())
        y = tf.maximum((x - row) * col, s) / 3.0 + tf.abs(row)
        names, got, want = _run_both([y], feed)
        assert len(names) == 1 and names[0].startswith("fused[")
        np.testing.assert_allclose(got[0], want[0], rtol=1e-6, atol=1e-6)


def test_gradients_through_fused_groups():
    rng = np.random.default_rng(3)
    with tf.Graph().as_default():
        (x, y), feed = _feeds(rng, (512, 64), (512, 32))
        W = tf.Variable(rng.standard_normal((64, 32)).astype(np.float32) * 0.1)
        b = tf.Variable(np.zeros(32, np.float32))
        h = tf.nn.relu(tf.matmul(x, W) + b) * 2.0 - y
        loss = tf.reduce_sum(h * h)
        grads = tf.gradients(loss, [W, b])
        sess, ref = tf.Session(), tf.Session(optimize=False)
        for s in (sess, ref):
            s.run(tf.global_variables_initializer())
        names = [st.op.name for st in sess.make_plan(grads, list(feed)).program.steps]
        fused = [n for n in names if n.startswith("fused[")]
        assert fused and any("relu_grad" in n for n in fused), names   # backward fuses too
        for g, w in zip(sess.run(grads, feed), ref.run(grads, feed)):
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-3)


def test_optimize_false_fuses_nothing_and_fetched_values_stay():
    rng = np.random.default_rng(4)
    with tf.Graph().as_default():
        (a, b), feed = _feeds(rng, (64,), (64,))
        t = a * b
        u = tf.exp(t + 1.0)
        plan = tf.Session(optimize=False).make_plan([u], list(feed))
        assert not any(s.op.name.startswith("fused") for s in plan.program.steps)
        names, got, want = _run_both([t, t + a - b], feed)   # t is fetched: not absorbed
        assert names == ["mul", "fused[add,sub]"]
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)


def test_planned_run_hands_the_fused_kernel_out_buffers(monkeypatch):
    """Within a planned run the fused step writes into the arena (out=), also in place over
    a dying input, and gives the reference's values."""
    calls = []
    real = KERNELS[FusedElementwise]

    def spy(op, *arrays, out=None):
        calls.append(out is not None and any(out is a or np.shares_memory(out, a)
                                             for a in arrays))
        return real(op, *arrays, out=out)
    monkeypatch.setitem(KERNELS, FusedElementwise, spy)
    rng = np.random.default_rng(5)
    with tf.Graph().as_default():
        (x, W, c), feed = _feeds(rng, (256, 128), (128, 128), (128,))
        h = tf.matmul(x, W)                           # dies at the fused step
        y = tf.reduce_sum((h + c) * c - 1.0, axis=1)
        names, got, want = _run_both([y], feed)
        assert "fused[add,mul,sub]" in names
        assert calls and calls[-1], calls             # out= given, over h's buffer
        np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-4)


def _group(num_inputs, *members):
    ops, args = zip(*members)
    return FusedElementwise(members=ops, args=args, num_inputs=num_inputs)


GROUPS = [
    # D + (A + B) * C
    (_group(4, (m.Add(), (0, 1)), (m.Mul(), (4, 2)), (m.Add(), (3, 5))), 4),
    # relu_grad(g * s, relu(x - b)) + max(x, s) - min(x, b) / |s|
    (_group(4, (m.Mul(), (0, 1)), (m.Sub(), (2, 3)), (m.Relu(), (5,)), (m.ReluGrad(), (4, 6)),
            (m.Maximum(), (2, 1)), (m.Add(), (7, 8)), (m.Minimum(), (2, 3)), (m.Abs(), (1,)),
            (m.Div(), (10, 11)), (m.Sub(), (9, 12))), 4),
    # the libm members: sigmoid(tanh(x) * exp(y)) + log(y^2 + 1) - sqrt(y^2) ** x + neg(x)
    (_group(2, (m.Tanh(), (0,)), (m.Exp(), (1,)), (m.Mul(), (2, 3)), (m.Sigmoid(), (4,)),
            (m.Square(), (1,)), (m.Log1p(), (6,)), (m.Add(), (5, 7)), (m.Sqrt(), (6,)),
            (m.Pow(), (9, 0)), (m.Sub(), (8, 10)), (m.Neg(), (0,)), (m.Add(), (11, 12)),
            (m.Expm1(), (13,)), (m.Sin(), (14,)), (m.Cos(), (15,)), (m.Log(), (16,))), 2),
]
SHAPES = {4: [[(3000, 11)] * 4, [(7, 1, 40), (1, 30, 40), (), (40,)], [(), (), (), ()]],
          2: [[(50, 60), (60,)]]}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("group,arity", GROUPS, ids=[g.name[:30] for g, _ in GROUPS])
def test_generated_kernel_equals_member_evaluation(group, arity, dtype):
    rng = np.random.default_rng(6)
    tol = dict(rtol=2e-6, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-13)
    for shapes in SHAPES[arity]:
        arrays = [rng.uniform(-1, 1, s).astype(dtype) for s in shapes]
        arrays[0] = np.asfortranarray(arrays[0])       # a non-contiguous input
        want = fused_kernels.evaluate_members(group, arrays)
        out = np.empty(np.broadcast_shapes(*shapes), dtype)
        got = fused_kernels.run_generated(group, arrays, out)
        assert got is out and got.dtype == dtype
        np.testing.assert_allclose(got, want, **tol)
        same = [k for k, a in enumerate(arrays) if a.shape == out.shape and a.ndim]
        if same:                                       # in place over an input
            inplace = arrays[same[-1]].copy()
            args = arrays[:same[-1]] + [inplace] + arrays[same[-1] + 1:]
            fused_kernels.run_generated(group, args, inplace)
            np.testing.assert_allclose(inplace, want, **tol)


def test_in_place_input_is_read_through_the_output():
    """An input that is the output's own buffer is loaded through the output's array (two
    names for one buffer keep LLVM from vectorizing); values equal the NumPy members'."""
    group = GROUPS[0][0]
    rng = np.random.default_rng(2)
    arrays = [rng.uniform(-1, 1, (300, 400)).astype(np.float32) for _ in range(4)]
    want = fused_kernels.evaluate_members(group, arrays)
    target = arrays[2].copy()
    args = arrays[:2] + [target] + arrays[3:]
    dims, view, inputs, patterns = codegen.collapse(target.shape, target, args)
    assert codegen.in_place_reads([("out", view)], inputs, patterns) == ((2, "out"),)
    assert codegen.in_place_reads([("out", view.copy())], inputs, patterns) == ()
    fused_kernels.run_generated(group, args, target)
    np.testing.assert_allclose(target, want, rtol=2e-6, atol=2e-6)
    text = codegen.source(group, "float32", 1, patterns, reads=((2, "out"),))
    assert "x2 = out[i0]" in text and "a2[" not in text


def test_kernel_dispatch_and_fallback():
    group = GROUPS[0][0]
    big = [np.ones(N, np.float32)] * 4
    assert fused_kernels.covered(group, big)
    mixed = big[:3] + [np.ones(N, np.float64)]          # mixed dtypes: the NumPy evaluation
    assert not fused_kernels.covered(group, mixed)
    got = KERNELS[FusedElementwise](group, *mixed)
    assert got.dtype == np.float64 and np.all(got == 3)
    ints = [np.ones(N, np.int32)] * 4
    assert KERNELS[FusedElementwise](group, *ints).dtype == np.int32
    gelu = FusedElementwise(members=(m.Add(), Gelu(approximate="none")),
                            args=((0, 1), (2,)), num_inputs=2)
    assert not fused_kernels.covered(gelu, big[:2])  # no template: member by member
    with pytest.raises(ValueError, match="member 1 \\(mul\\) reads \\(5, 2\\)"):
        FusedElementwise(members=(m.Add(), m.Mul()), args=((0, 1), (5, 2)), num_inputs=3)


def test_disk_cache_serves_a_second_process(cache_dir):
    group = GROUPS[0][0]
    arrays = [np.full((300, 100), 0.5, np.float32), np.float32(2.0) * np.ones(100, np.float32),
              np.ones((300, 100), np.float32), np.ones((300, 1), np.float32)]
    want = fused_kernels.run_generated(group, arrays, np.empty((300, 100), np.float32))
    before = sorted(os.listdir(cache_dir)) + sorted(os.listdir(os.path.join(cache_dir,
                                                                            "__pycache__")))
    script = f"""
import json, sys, time
import numpy as np
sys.path.insert(0, {ROOT!r})
from tinyflow.backend.numpy import fused as fk
from tinyflow.ops import math as m
from tinyflow.ops.fused import FusedElementwise
group = FusedElementwise(members=(m.Add(), m.Mul(), m.Add()), args=((0, 1), (4, 2), (3, 5)),
                         num_inputs=4)
arrays = [np.full((300, 100), 0.5, np.float32), np.float32(2.0) * np.ones(100, np.float32),
          np.ones((300, 100), np.float32), np.ones((300, 1), np.float32)]
t = time.perf_counter()
out = fk.run_generated(group, arrays, np.empty((300, 100), np.float32))
seconds = time.perf_counter() - t
stats = next(iter(fk.codegen._loaded.values())).kernel.stats
print(json.dumps(dict(hits=sum(stats.cache_hits.values()), misses=sum(stats.cache_misses.values()),
                      seconds=seconds, out=out.tolist())))
"""
    env = dict(os.environ, TINYFLOW_CACHE_DIR=cache_dir)
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["misses"] == 0 and report["hits"] == 1, report
    np.testing.assert_array_equal(np.array(report["out"], np.float32), want)
    after = sorted(os.listdir(cache_dir)) + sorted(os.listdir(os.path.join(cache_dir,
                                                                           "__pycache__")))
    assert after == before           # nothing written: loaded, not compiled


def test_sgd_weight_update_is_left_to_the_blocked_update():
    """`assign(W, W - lr * matmul(...))` stays as it is for the runtime's blocked in-place
    update (passes/fuse_updates.py); the bias's `b - lr * sum_to(...)` fuses."""
    rng = np.random.default_rng(7)
    with tf.Graph().as_default():
        (x, y_), feed = _feeds(rng, (32, 20), (32, 5))
        W, b = tf.Variable(np.zeros((20, 5), np.float32)), tf.Variable(np.zeros(5, np.float32))
        loss = tf.reduce_mean(tf.square(tf.nn.relu(tf.matmul(x, W) + b) - y_))
        train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
        sess = tf.Session()
        names = [s.op.name for s in sess.make_plan([train], list(feed)).program.steps]
        assert "fused[mul,sub]" in names
        assert any(names[k - 3:k + 1] == ["matmul", "mul", "sub", "assign"]
                   for k, name in enumerate(names) if name == "assign"), names


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sum_of_elementwise_values_is_one_kernel(dtype):
    """sum(x * y) and sum(relu(x - b) * w) add the values up as they are computed; a
    reduction over some axes, or one whose input is read elsewhere, is left alone."""
    rng = np.random.default_rng(8)
    with tf.Graph().as_default():
        (x, y, b, w), feed = _feeds(rng, (300, 200), (300, 200), (200,), (300, 1), dtype=dtype)
        fetches = [tf.reduce_sum(x * y), tf.reduce_sum(tf.nn.relu(x - b) * w, keepdims=True),
                   tf.reduce_sum(x + y, axis=1)]
        names, got, want = _run_both(fetches, feed)
        assert names == ["fused[mul,sum]", "fused[sub,relu,mul,sum]", "add", "sum"], names
        for g, v in zip(got, want):
            assert g.dtype == dtype and g.shape == v.shape
            np.testing.assert_allclose(g, v, rtol=1e-5 if dtype == np.float32 else 1e-12)
        grads = tf.gradients(fetches[1], [x, w])
        for g, v in zip(tf.Session().run(grads, feed), tf.Session(optimize=False).run(grads,
                                                                                     feed)):
            np.testing.assert_allclose(g, v, rtol=1e-5, atol=1e-5)


def test_generated_sum_equals_member_evaluation():
    from tinyflow.ops.fused import FusedSum
    rng = np.random.default_rng(9)
    group = GROUPS[1][0]
    op = FusedSum(members=group.members, args=group.args, num_inputs=4, keepdims=True)
    for dtype in (np.float32, np.float64):
        arrays = [rng.uniform(-1, 1, s).astype(dtype)
                  for s in [(200, 70), (70,), (200, 1), ()]]
        arrays[0] = np.asfortranarray(arrays[0])
        want = np.sum(fused_kernels.evaluate_members(op, arrays).astype(np.float64),
                      keepdims=True)
        out = np.empty((1, 1), dtype)
        got = fused_kernels.run_generated(op, arrays, out)
        assert got is out
        np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == np.float32 else 1e-13)


def test_broadcast_inputs_are_read_as_compact_c_arrays():
    """x * gamma + beta (layer norm's affine): the rows of gamma and a column are passed as
    C-contiguous arrays over the loop dims they walk (so the loop vectorizes); a transposed
    input stays a strided view, one broadcast value a scalar; all equal NumPy."""
    rng = np.random.default_rng(10)
    op = FusedElementwise(members=(m.Mul(), m.Add(), m.Mul()), args=((0, 1), (4, 2), (5, 3)),
                          num_inputs=4)
    x = rng.uniform(-1, 1, (256, 300)).astype(np.float32)
    column = x[:, :1].copy()
    cases = {"row, column": ([x, x[0], column, np.float32(2.0)], ((0, 1), (1,), (0,), ())),
             "transposed": ([x.T.copy().T, x[0], x[0], np.broadcast_to(x[0, 0], x.shape)],
                            (None, (1,), (1,), ())),
             "strided": ([x[:, ::2], x[0, ::2], column, x[:, ::2]], (None, None, (0,), None))}
    for name, (arrays, patterns) in cases.items():
        shape = np.broadcast_shapes(*[np.shape(a) for a in arrays])
        arrays = [np.asarray(a) for a in arrays]
        out = np.empty(shape, np.float32)
        assert codegen.collapse(shape, out, arrays)[3] == patterns, name
        got = fused_kernels.run_generated(op, arrays, out)
        want = fused_kernels.evaluate_members(op, arrays)
        np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=name)
