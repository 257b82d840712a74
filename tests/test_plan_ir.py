"""The runtime's per-shape stages as passes on the IR: every pass's program verifies,
`Plan.kernels` lists what a run executes, `Plan.report` what the passes changed and what
each kernel costs, and `FusedUpdate` is an op like the others."""
import numpy as np
import pytest

import tinyflow as tf
import tinyflow.passes as passes
from op_table import TABLE
from tinyflow.ops.state import FusedUpdate

LR = 0.5


def _seed_program(batch=100, grouped=True):
    """The specification's softmax regression step (bench/seed_step.py), on random data;
    `grouped`: run through `tf.group` (the update's value is not fetched, so it is fused)."""
    x = tf.placeholder(tf.float32, [None, 784])
    W = tf.Variable(tf.zeros([784, 10]))
    y = tf.nn.softmax(tf.matmul(x, W))
    y_ = tf.placeholder(tf.float32, [None, 10])
    cross_entropy = tf.reduce_mean(-tf.reduce_sum(y_ * tf.log(y), reduction_indices=[1]))
    W_grad = tf.gradients(cross_entropy, [W])[0]
    train_step = tf.assign(W, W - LR * W_grad)
    rng = np.random.default_rng(0)
    feed = {x: rng.random((batch, 784), dtype=np.float32),
            y_: np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]}
    return tf.group(train_step) if grouped else train_step, feed


def _mlp(sizes=(20, 32, 16, 5), batch=8, **session):
    x = tf.placeholder(tf.float32, [None, sizes[0]])
    y_ = tf.placeholder(tf.float32, [None, sizes[-1]])
    h = x
    for k, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        init = np.random.default_rng(k).normal(0, 0.3, (n_in, n_out)).astype(np.float32)
        h = tf.matmul(h, tf.Variable(init)) + tf.Variable(tf.zeros([n_out]))
        h = tf.nn.relu(h) if k < len(sizes) - 2 else h
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=h))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    sess = tf.Session(**session)
    sess.run(tf.global_variables_initializer())
    rng = np.random.default_rng(1)
    feed = {x: rng.random((batch, sizes[0]), dtype=np.float32),
            y_: np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], batch)]}
    return sess, train, loss, feed


# ---- the per-shape pipeline verifies after each pass -----------------------------------

def test_each_per_shape_pass_is_verified(monkeypatch):
    """A per-shape pass that breaks the program is named by the verifier."""
    train, feed = _seed_program()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        plan = sess.make_plan(train, list(feed))
        program, _ = passes.plan_for_shapes(plan.program, plan._load(list(feed.values())))
        program.verify()
        assert [n for n, _ in program.log].count("fuse_updates") == 1

        def drop_first(program):     # reads of its value now dangle
            return program.with_steps(program.steps[1:])
        monkeypatch.setattr(passes, "fuse_updates", drop_first)
        with pytest.raises(passes.VerifyError, match="after pass fuse_updates: step"):
            sess.make_plan(train, list(feed)).kernels(list(feed.values()))


def test_fold_shapes_leaves_only_data_reads():
    """After folding, no step reads a value only for its shape: those inputs are constant
    stand-ins (no memory), and values that depend only on shapes are constants."""
    train, feed = _seed_program()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        plan = sess.make_plan(train, list(feed))
        program, _ = passes.plan_for_shapes(plan.program, plan._load(list(feed.values())))
    from tinyflow.backend.numpy.registry import SHAPE_ONLY
    consts = {s: e for s, e in program.externals.items() if e.kind == "const"}
    assert consts
    for step in program.steps:
        for k in SHAPE_ONLY.get(type(step.op), ()):
            stand_in = consts[step.inputs[k]].ref
            assert stand_in.strides == (0,) * stand_in.ndim


# ---- kernels() -------------------------------------------------------------------------

def test_kernels_of_the_seed_step():
    for grouped in (True, False):
        train, feed = _seed_program(grouped=grouped)
        kernels = {}
        for planned in (True, False):
            with tf.Session(planned=planned) as sess:
                sess.run(tf.global_variables_initializer())
                kernels[planned] = sess.make_plan(train, list(feed)).kernels(list(feed.values()))
        planned, plain = kernels[True], kernels[False]
        if grouped:   # the weight gradient is computed inside the update, block by block
            assert planned.count("fused_update") == 1 and "assign" not in planned
            assert planned.count("matmul") == 1 and planned[-2:] == ["fused_update", "no_op"]
        else:         # the update's value is fetched: it stays as written
            assert "fused_update" not in planned and planned[-1] == "assign"
            assert planned.count("matmul") == 2
        assert plain.count("matmul") == 2 and "assign" in plain
        # values that depend only on the batch size (the loss's seed, counts) are folded,
        # and the loss itself, read by the gradient only for its shape, is not computed
        assert planned[0] == plain[0] == "matmul" and len(planned) < len(plain) - 3
        assert "broadcast_to" in plain and "broadcast_to" not in planned
        assert "log" in plain and "log" not in planned and "neg" not in planned


def test_kernels_are_what_a_run_executes(monkeypatch):
    """Each kernel a planned run calls, in order, traced around the generated code's calls."""
    from tinyflow.backend.numpy.registry import KERNELS
    calls, codegen = [], passes.codegen

    def traced(step):
        kernel = step.kernel or KERNELS[type(step.op)]

        def call(op, *args, **kwargs):
            calls.append(op.name)
            return kernel(op, *args, **kwargs)
        return step.replace(kernel=call)

    def traced_codegen(program, buffers):
        return codegen(program.with_steps([traced(s) for s in program.steps]), buffers)
    monkeypatch.setattr(passes, "codegen", traced_codegen)
    sess, train, loss, feed = _mlp()
    plan = sess.make_plan([train, loss], list(feed))
    calls.clear()     # (the initializers ran through it too)
    plan.run(list(feed.values()))
    kernels = plan.kernels(list(feed.values()))
    assert calls == kernels
    assert kernels.count("fused_update") == 3 and kernels.count("assign") == 3  # W, b
    assert len(kernels) < len(plan.steps)


# ---- report() --------------------------------------------------------------------------

def test_report_of_the_seed_step():
    train, feed = _seed_program()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        plan = sess.make_plan(train, list(feed))
        report = plan.report(list(feed.values()))
        kernels = plan.kernels(list(feed.values()))
    assert [c.op for c in report.after] == kernels
    assert {name for name, _ in report.passes} >= {name for name, _ in passes.REWRITES}
    assert ("fuse_updates", "fused 1 update(s) of 4 step(s)") in report.passes
    dead = [n for name, n in report.passes if name in ("dce", "dce (after fold_shapes)")]
    assert sum(int(n.split()[1]) for n in dead) == 10     # the loss chain: computed, not read
    forward, update = report.after[0], report.after[-2]
    assert forward.op == "matmul" and forward.flops == 2 * 100 * 784 * 10
    assert forward.bytes == 4 * (100 * 784 + 784 * 10 + 100 * 10)
    assert forward.intensity == pytest.approx(forward.flops / forward.bytes)
    # the product's FLOPs and the scale and subtract (one per element each)
    assert update.op == "fused_update" and update.flops == 2 * 784 * 100 * 10 + 2 * 7840
    # reads w, x and the logits' gradient and lr; writes w
    assert update.bytes == 4 * (7840 + 100 * 784 + 100 * 10 + 1 + 7840)
    total = report.total_after
    assert total.flops == sum(c.flops for c in report.after)
    assert total.flops <= report.total_before.flops
    text = str(report)
    assert "fuse_updates" in text and "fused_update" in text and "after / before" in text
    assert len(text.splitlines()) == 1 + len(report.passes) + 2 * 3 + len(report.before) \
        + len(report.after) + 1


def test_report_of_the_seed_step_as_written():
    """`sess.run(train_step)` fetches the update's value: nothing is fused, and without
    rewrites that change it the kernels cost what they cost before."""
    train, feed = _seed_program(grouped=False)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        report = sess.make_plan(train, list(feed)).report(list(feed.values()))
    assert "fuse_updates" not in dict(report.passes)
    assert [c.op for c in report.after][-4:] == ["matmul", "mul", "sub", "assign"]
    assert report.after[-1].flops == 0 and report.after[-1].bytes == 2 * 4 * 7840
    assert report.total_after.flops <= report.total_before.flops


def test_report_of_an_mlp_with_recomputation():
    sizes = (32,) * 16 + (10,)
    sess, train, loss, feed = _mlp(sizes, batch=256)
    unbudgeted = sess.make_plan([train, loss], list(feed))
    need = unbudgeted.memory(list(feed.values())).peak_bytes
    base = sum(c.flops for c in unbudgeted.report(list(feed.values())).after)
    sess, train, loss, feed = _mlp(sizes, batch=256, memory_budget=need // 2)
    plan = sess.make_plan([train, loss], list(feed))
    report = plan.report(list(feed.values()))
    notes = dict(report.passes)
    stats = plan.memory()
    assert f"{stats.recomputed_steps} step(s)" in notes["recompute"]
    assert len(report.after) == len(plan.kernels(list(feed.values())))
    # against the same rewrites without a budget: the budget adds the recomputation
    added = sum(c.flops for c in report.after) - base
    assert added == stats.recomputed_flops > 0
    assert sum(c.op == "fused_update" for c in report.after) == len(sizes) - 1


def test_report_and_kernels_write_no_state():
    sess, train, loss, feed = _mlp()
    before = {v: a.copy() for v, a in sess.variables.items()}
    plan = sess.make_plan([train, loss], list(feed))
    plan.report(list(feed.values()))
    plan.kernels(list(feed.values()))
    for v, a in sess.variables.items():
        np.testing.assert_array_equal(a, before[v])


# ---- FusedUpdate, the op ---------------------------------------------------------------

def test_fused_update_is_a_tabled_stateful_op():
    op = FusedUpdate(transpose_a=True)
    assert op.stateful and op.writes_input == 0 and not op.differentiable
    assert tf.core.op.OPS["fused_update"] is FusedUpdate
    assert any(case.registered_op == "fused_update" for case in TABLE)


def test_fused_update_eager_writes_in_place_over_blocks():
    """Eagerly, the kernel overwrites w in place, a block of rows at a time (several here)."""
    from tinyflow.ops.state import fused_update
    rng = np.random.default_rng(0)
    w = rng.normal(size=(5000, 20))
    a, b = rng.normal(size=(3, 5000)), rng.normal(size=(3, 20))
    want = w - 0.1 * (a.T @ b)
    t = tf.Tensor(w.copy())
    out = fused_update(t, a, b, 0.1, transpose_a=True)
    np.testing.assert_allclose(t.numpy(), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-12, atol=1e-12)
def test_a_reshape_of_a_kernels_output_is_seen_as_a_view_of_its_planned_buffer():
    """NumPy keeps a transposed input's memory order, so `transpose(x) * c` recorded without
    a buffer is not C-ordered and its reshape copies; in the planned run the product is
    written into a C-ordered buffer and the reshape is a view of it, which must keep the
    buffer alive while the fetched reshape is still to be returned."""
    x = tf.placeholder(tf.float32, [None, 4])
    flat = tf.reshape(tf.transpose(x) * 0.5, [-1])
    later = [tf.tanh(x) * 3.0, tf.exp(x) - 1.0, tf.sqrt(tf.abs(x)) + 2.0]
    xs = np.random.default_rng(0).uniform(-1, 1, (3, 4)).astype(np.float32)
    got = tf.Session().run([flat] + later, {x: xs})
    np.testing.assert_allclose(got[0], (xs.T * 0.5).reshape(-1), rtol=1e-6)
