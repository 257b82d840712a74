"""The linear-algebra rewrites (passes/merge_matmuls.py, fold_batchnorm.py, reassociate.py)
on the lectures' examples: each plans as the rewrite says, computes what the unoptimized
session computes (values and gradients), and leaves programs it must not touch unchanged."""
import numpy as np
import pytest

import tinyflow as tf
from tinyflow import passes
import tinyflow as torch
from tinyflow.ops.conv import Conv2d, Conv2dBias
from tinyflow.ops.linalg import Affine, MatMul
from tinyflow.ops.normalization import BatchNormEval

RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def variable(*shape):
    return tf.Variable(rand(*shape))


def run_both(fetches, feed):
    """(optimized values, reference values, the optimized plan's program)."""
    results = []
    for optimize in (True, False):
        with tf.Session(optimize=optimize) as sess:
            sess.run(tf.global_variables_initializer())
            results.append(sess.run(fetches, feed))
            if optimize:
                program = sess.make_plan(fetches, list(feed)).program
    return results[0], results[1], program


def reference_program(fetches, feed):
    with tf.Session(optimize=False) as sess:
        return sess.make_plan(fetches, list(feed)).program


def assert_close(got, want, tol=1e-4):
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


def count(program, op_class):
    return sum(isinstance(s.op, op_class) for s in program.steps)


def notes(program, name):
    return [message for pass_name, message in program.log if pass_name == name]


def assert_untouched(fetches, feed, name):
    """Pass `name` changed nothing: the optimized plan is what the other passes make alone."""
    with tf.Session() as sess:
        program = sess.make_plan(fetches, list(feed)).program
    assert not notes(program, name)
    without = passes.optimize(reference_program(fetches, feed), skip=(name,))
    assert list(map(repr, program.steps)) == list(map(repr, without.steps))  # ops: by value


# ---- merged matmuls ---------------------------------------------------------------------

def test_qkv_projections_of_one_input_plan_as_one_matmul():
    h = tf.placeholder(tf.float32, [None, 16])
    q, k, v = (tf.matmul(h, variable(16, n)) for n in (8, 8, 12))
    feed = {h: rand(5, 16)}
    got, want, program = run_both([q, k, v], feed)
    assert count(program, MatMul) == 1
    assert count(reference_program([q, k, v], feed), MatMul) == 3
    assert notes(program, "merge_matmuls") == [
        "merged 3 products sharing an input into 1 (their weights concatenated each run)"]
    assert_close(got, want)


def test_merged_qkv_gives_the_same_gradients():
    h = tf.placeholder(tf.float32, [4, 16])
    weights = [variable(16, 8) for _ in range(3)]
    q, k, v = (tf.matmul(h, w) for w in weights)
    scores = tf.nn.softmax(tf.matmul(q, k, transpose_b=True))
    loss = tf.reduce_sum(tf.matmul(scores, v) ** 2)
    fetches = [loss] + tf.gradients(loss, weights + [h])
    got, want, program = run_both(fetches, {h: rand(4, 16)})
    assert notes(program, "merge_matmuls")
    assert_close(got, want)


def test_linear_layers_over_one_input_merge_weights_and_biases():
    x = tf.placeholder(tf.float32, [6, 16])
    layers = [torch.nn.Linear(16, n) for n in (8, 8, 4)]
    outs = [layer(x) for layer in layers]
    got, want, program = run_both(outs, {x: rand(6, 16)})
    assert count(program, Affine) == 1
    assert_close(got, want)


def test_products_sharing_the_right_operand_stack_the_weights_rows():
    x = tf.placeholder(tf.float32, [16, 3])
    a = tf.matmul(variable(16, 5), x, transpose_a=True)
    b = tf.matmul(variable(7, 16), x)
    c = tf.matmul(variable(16, 2), x, transpose_a=True)
    got, want, program = run_both([a, b, c], {x: rand(16, 3)})
    assert count(program, MatMul) == 2        # b's flags differ: it stays apart
    assert_close(got, want)


@pytest.mark.parametrize("case", ["flags", "dtypes", "weight from a feed", "one product"])
def test_products_that_cannot_merge_are_left_alone(case):
    h = tf.placeholder(tf.float32, [4, 16])
    w1 = variable(16, 8)
    if case == "flags":
        w2 = variable(8, 16)
        outs = [tf.matmul(h, w1), tf.matmul(h, w2, transpose_b=True)]
    elif case == "dtypes":
        h64 = tf.cast(h, tf.float64)
        outs = [tf.matmul(h64, tf.Variable(rand(16, 8).astype(np.float64))),
                tf.matmul(h, w1)]
    elif case == "weight from a feed":
        g = tf.placeholder(tf.float32, [16, 8])
        outs = [tf.matmul(h, w1), tf.matmul(h, g)]
    else:
        outs = [tf.matmul(h, w1)]
    feed = {h: rand(4, 16)}
    if case == "weight from a feed":
        feed[g] = rand(16, 8)
    assert_untouched(outs, feed, "merge_matmuls")


# ---- batch norm folded into the conv ----------------------------------------------------

def tf1_conv_bn():
    x = tf.placeholder(tf.float32, [None, 6, 6, 3])
    w = variable(3, 3, 3, 4)
    y = tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="SAME")
    mean, beta, gamma = variable(4), variable(4), variable(4)
    var = tf.Variable(np.abs(rand(4)) + 0.5)
    return x, w, y, tf.nn.batch_normalization(y, mean, var, beta, gamma, 1e-3)


def full_size(program, shape):
    """Steps over the whole batch (of unknown size) with this shape per example."""
    return sum(s.shape == (None,) + shape for s in program.steps)


def test_tf1_conv_and_batch_normalization_fold_into_one_conv():
    x, w, _, z = tf1_conv_bn()
    feed = {x: rand(2, 6, 6, 3)}
    got, want, program = run_both([z], feed)
    assert count(program, Conv2d) == 0 and count(program, Conv2dBias) == 1
    # NHWC: transpose in, conv, transpose out, then mul and add before; now the mul is in
    # the weights, the add the conv's bias
    assert full_size(program, (6, 6, 4)) == 1
    assert full_size(reference_program([z], feed), (6, 6, 4)) == 3
    assert notes(program, "fold_batchnorm") == [
        "folded 1 per-channel scale/shift chain(s) into the weights of the step before: "
        "2 full-size step(s) fewer"]
    assert_close(got, want)


def test_batch_norm_under_a_gradient_stays_as_written():
    """Training graphs keep the chain: the backward pass reads its intermediates (here
    `sum_to` reads the conv's output for its shape), so the fold is inference-only."""
    x, w, _, z = tf1_conv_bn()
    loss = tf.reduce_sum(z * z)
    fetches = [loss] + tf.gradients(loss, [w])
    feed = {x: rand(2, 6, 6, 3)}
    assert_untouched(fetches, feed, "fold_batchnorm")
    got, want, _ = run_both(fetches, feed)
    assert_close(got, want, 1e-3)


def eval_modules(x, bias=True):
    conv, bn = torch.nn.Conv2d(3, 4, 3, padding=1, bias=bias), torch.nn.BatchNorm2d(4)
    bn.running_mean.data[...] = rand(4)
    bn.running_var.data[...] = np.abs(rand(4)) + 0.5
    bn.weight.data[...], bn.bias.data[...] = rand(4), rand(4)
    conv.eval(), bn.eval()
    return conv, bn


@pytest.mark.parametrize("bias", [True, False])
def test_eager_conv2d_and_batchnorm2d_in_eval_fold_into_one_conv(bias):
    """With or without the conv's bias (ResNet's convs have none), one conv with a bias."""
    x = tf.placeholder(tf.float32, [None, 3, 6, 6])
    conv, bn = eval_modules(x, bias)
    z = bn(conv(x))
    feed = {x: rand(2, 3, 6, 6)}
    got, want, program = run_both([z], feed)
    assert count(program, Conv2dBias) == 1
    assert full_size(program, (4, 6, 6)) == 1                     # the conv with its bias
    reference = reference_program([z], feed)
    assert full_size(reference, (4, 6, 6)) == 2      # conv, batch_norm_eval (x * scale + shift)
    assert count(reference, BatchNormEval) == 1
    assert_close(got, want)
    with torch.no_grad():   # and it is what the eager modules compute
        np.testing.assert_allclose(got[0], bn(conv(torch.tensor(feed[x]))).numpy(),
                                   rtol=1e-4, atol=1e-4)


def test_linear_and_batchnorm1d_fold_into_the_linear_layer():
    x = tf.placeholder(tf.float32, [None, 8])
    lin, bn = torch.nn.Linear(8, 6), torch.nn.BatchNorm1d(6)
    bn.running_mean.data[...], bn.running_var.data[...] = rand(6), np.abs(rand(6)) + 0.5
    bn.eval()
    z = 1.0 - bn(lin(x)) * 2.0
    got, want, program = run_both([z], {x: rand(5, 8)})
    assert full_size(program, (6,)) == 1                          # the affine alone
    assert_close(got, want)


def test_linear_then_batchnorm1d_across_a_transpose_folds_and_runs():
    """bn(linear(x).transpose(1, 2)) (BatchNorm1d over a sequence's features): the transposes
    after the folded bias add read the product, not the add that no longer runs (the
    optimized session raised "axes don't match array")."""
    x = tf.placeholder(tf.float32, [None, 4, 5])
    lin, bn = torch.nn.Linear(5, 4), torch.nn.BatchNorm1d(4)
    bn.running_mean.data[...], bn.running_var.data[...] = rand(4), np.abs(rand(4)) + 0.5
    bn.eval()
    z = bn(lin(x).transpose(1, 2)).transpose(1, 2)
    feed = rand(2, 4, 5)
    got, want, _ = run_both([z], {x: feed})
    assert_close(got, want)
    with torch.no_grad():
        np.testing.assert_allclose(got[0], bn(lin(torch.tensor(feed)).transpose(1, 2))
                                   .transpose(1, 2).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", ["training batch norm", "batch statistics",
                                  "intermediate fetched", "intermediate read elsewhere",
                                  "weight larger than the output"])
def test_batch_norm_that_must_not_fold_is_left_alone(case):
    if case == "training batch norm":
        x = tf.placeholder(tf.float32, [4, 3, 6, 6])
        conv, bn = eval_modules(x)
        bn.train()
        fetches = [bn(conv(x))]
    elif case == "weight larger than the output":    # scaling it would cost more than it saves
        x = tf.placeholder(tf.float32, [2, 3, 2, 2])   # 108 weights, 32 outputs
        conv, bn = eval_modules(x, bias=False)
        fetches = [bn(conv(x))]
    else:
        x, w, y, z = tf1_conv_bn()
        fetches = [z]
        if case == "batch statistics":
            mean = tf.reduce_mean(y, [0, 1, 2])
            var = tf.reduce_mean((y - mean) ** 2, [0, 1, 2])
            fetches = [tf.nn.batch_normalization(y, mean, var, None, None, 1e-3)]
        elif case == "intermediate fetched":
            fetches = [z, y]
        else:
            fetches = [z, tf.reduce_sum(y)]
    feed = {x: rand(4, 6, 6, 3) if x.shape[-1] == 3 else rand(*[d or 4 for d in x.shape])}
    assert_untouched(fetches, feed, "fold_batchnorm")
    got, want, _ = run_both(fetches, feed)
    assert_close(got, want)


# ---- re-associated matmul chains ----------------------------------------------------------

def test_matrix_matrix_vector_runs_as_matrix_times_matrix_vector():
    m1, m2 = variable(64, 48), variable(48, 64)
    v = tf.placeholder(tf.float32, [64, 1])
    s = tf.matmul(tf.matmul(m1, m2), v)
    feed = {v: rand(64, 1)}
    got, want, program = run_both([s], feed)
    first, second = [st for st in program.steps if isinstance(st.op, MatMul)]
    slot = {e.name: n for n, e in program.externals.items()}
    assert first.inputs == (slot[m2.name], slot[v.name])            # M2 @ v first
    assert second.inputs == (slot[m1.name], first.output)
    before = 2 * 64 * 48 * 64 + 2 * 64 * 64 * 1      # (M1 @ M2) @ v
    after = 2 * 48 * 64 * 1 + 2 * 64 * 48 * 1        # M1 @ (M2 @ v)
    assert notes(program, "reassociate") == [
        f"re-associated 1 matmul chain(s), {before - after} fewer FLOPs"]
    assert_close(got, want)


def test_row_vector_times_matrix_chain_and_transposed_products():
    m1, m2, m3 = variable(48, 64), variable(40, 48), variable(40, 64)
    u = tf.placeholder(tf.float32, [64, 1])
    t = tf.matmul(tf.matmul(m1, m2, transpose_a=True, transpose_b=True), m3)  # (64, 64)
    s = tf.matmul(u, t, transpose_a=True)                                   # u^T t
    r = tf.matmul(t, u, transpose_a=True)                                   # t^T u
    for fetch in (s, r):
        got, want, program = run_both([fetch], {u: rand(64, 1)})
        assert notes(program, "reassociate")
        assert all(st.shape != (64, 64) for st in program.steps)   # no n x n product left
        assert_close(got, want, 1e-3)


def test_reassociated_chain_gives_the_same_gradients():
    m1, m2 = variable(32, 32), variable(32, 32)
    v = tf.placeholder(tf.float32, [32, 1])
    loss = tf.reduce_sum(tf.matmul(tf.matmul(m1, m2), v) ** 2)
    fetches = [loss] + tf.gradients(loss, [m1, m2])    # no gradient reads M1 @ M2
    got, want, program = run_both(fetches, {v: rand(32, 1)})
    assert notes(program, "reassociate")
    assert_close(got, want, 1e-3)


@pytest.mark.parametrize("case", ["fetched", "read elsewhere", "unknown shape",
                                  "no cheaper", "gradient reads it"])
def test_chains_that_must_keep_their_order_are_left_alone(case):
    m1, m2 = variable(32, 32), variable(32, 32)
    v = tf.placeholder(tf.float32, [32, None] if case == "unknown shape" else [32, 1])
    if case == "no cheaper":
        m1, v = variable(1, 32), tf.placeholder(tf.float32, [32, 32])
    t = tf.matmul(m1, m2)
    s = tf.matmul(t, v)
    fetches = {"fetched": [s, t], "read elsewhere": [s, tf.reduce_sum(t)]}.get(case, [s])
    if case == "gradient reads it":
        fetches = tf.gradients(tf.reduce_sum(s), [v])   # d/dv reads M1 @ M2
    feed = {v: rand(32, 32) if case == "no cheaper" else rand(32, 1)}
    assert_untouched(fetches, feed, "reassociate")


def transposed_if(flag, rows, cols):
    return variable(cols, rows) if flag else variable(rows, cols)


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("tt", [False, True])
@pytest.mark.parametrize("tv", [False, True])
@pytest.mark.parametrize("vector_first", [False, True])
def test_every_transpose_flag_combination_reassociates_to_the_same_value(
        ta, tb, tt, tv, vector_first):
    """t = op(A) op(B) is (20 x 24); the vector is multiplied on either side of op(t)."""
    t = tf.matmul(transposed_if(ta, 20, 30), transposed_if(tb, 30, 24), ta, tb)
    rows, other = (24, 20) if tt else (20, 24)      # op(t) is (rows x other)
    if vector_first:                  # op(v) (1 x rows) @ op(t)
        v = tf.placeholder(tf.float32, [rows, 1] if tv else [1, rows])
        s = tf.matmul(v, t, transpose_a=tv, transpose_b=tt)
        feed = {v: rand(*v.shape)}
    else:                             # op(t) @ op(v), op(v) is (other x 1)
        v = tf.placeholder(tf.float32, [1, other] if tv else [other, 1])
        s = tf.matmul(t, v, transpose_a=tt, transpose_b=tv)
        feed = {v: rand(*v.shape)}
    got, want, program = run_both([s], feed)
    assert notes(program, "reassociate")
    assert_close(got, want, 1e-3)


@pytest.mark.parametrize("shared_first", [False, True])
@pytest.mark.parametrize("th", [False, True])
@pytest.mark.parametrize("tw", [False, True])
def test_every_transpose_flag_combination_merges_to_the_same_values(shared_first, th, tw):
    h = tf.placeholder(tf.float32, [16, 4] if th else [4, 16])   # op(h) is (4 x 16)
    outs = []
    for n in (3, 5, 6):
        if shared_first:   # op(h) @ op(W), W gives n columns
            outs.append(tf.matmul(h, transposed_if(tw, 16, n), th, tw))
        else:              # op(W) @ op(h): (n x 4) @ (4 x 16)
            outs.append(tf.matmul(transposed_if(tw, n, 4), h, tw, th))
    got, want, program = run_both(outs, {h: rand(*h.shape)})
    assert count(program, MatMul) == 1
    assert_close(got, want)


@pytest.mark.parametrize("tb", [False, True])
def test_matmul_then_per_channel_scale_and_shift_fold_into_the_weight(tb):
    x = tf.placeholder(tf.float32, [None, 8])
    w = transposed_if(tb, 8, 6)
    var, gamma, beta = tf.Variable(np.abs(rand(6)) + 0.5), variable(6), variable(1, 6)
    z = 2.0 - tf.matmul(x, w, transpose_b=tb) / tf.sqrt(var) * gamma + beta
    got, want, program = run_both([z], {x: rand(5, 8)})
    assert full_size(program, (6,)) == 2                          # matmul, one bias add
    assert_close(got, want)


def test_a_chain_two_bases_could_claim_is_folded_once():
    """`(v @ W1) * (v @ W2)` with every operand a parameter: either product is a per-channel
    scale of the other; the chain is folded into one of them, not into both (found by the
    property tests: the second fold read the product the first had removed)."""
    v, w1, w2 = variable(1, 3), variable(3, 2), variable(3, 2)
    x = tf.placeholder(tf.float32, [None, 3])
    out = [tf.matmul(v, w1) * tf.matmul(v, w2), tf.matmul(x, w1)]
    got, want, program = run_both(out, {x: rand(2, 3)})
    assert_close(got, want)
    assert len(notes(program, "fold_batchnorm")) <= 1


# ---- residual gradients joined with layer norm's backward -------------------------------

def _pre_norm_block(batch, residual_first):
    """x + tanh(layer_norm(x)) (or the terms swapped) and the gradients of its square sum."""
    import tinyflow.nn.functional as F
    x = tf.placeholder(tf.float32, [batch, 3, 8])
    w, c = variable(8), variable(8)
    f = tf.tanh(F.layer_norm(x, (8,), w, c))
    y = x + f if residual_first else f + x
    y = y + tf.tanh(F.layer_norm(y, (8,), w, c))     # a second block, normalizing an add
    return tf.gradients(tf.reduce_sum(y * y), [x, w, c]), {x: rand(2, 3, 8)}


@pytest.mark.parametrize("residual_first", [False, True])
def test_a_layer_norms_input_gradient_absorbs_the_residual_add(residual_first):
    from tinyflow.ops.fused import LayerNormGradsAdd
    fetches, feed = _pre_norm_block(2, residual_first)
    got, want, program = run_both(fetches, feed)
    assert count(program, LayerNormGradsAdd) == 2
    assert notes(program, "residual_grads") == [
        "joined 2 residual gradient add(s) with layer norm backward"]
    assert_close(got, want)


def test_a_layer_norm_of_unknown_batch_keeps_its_residual_add():
    fetches, feed = _pre_norm_block(None, True)
    assert_untouched(fetches, feed, "residual_grads")


# ---- a GELU's gradient and the bias gradient before it ----------------------------------

def _gelu_layer(approximate, bias_shape=(5,)):
    """gelu(x @ W + b) of a static x (as a 3-D x @ W reshaped: the GPT's MLP) and its
    gradients."""
    import tinyflow.nn.functional as F
    x = tf.placeholder(tf.float32, [2, 3, 4])
    w, b = variable(4, 5), variable(*bias_shape)
    h = tf.reshape(tf.matmul(tf.reshape(x, [6, 4]), w), [2, 3, 5])
    y = F.gelu(h + b, approximate=approximate)
    return tf.gradients(tf.reduce_sum(y * y), [x, w, b]), {x: rand(2, 3, 4)}


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_a_gelu_gradient_and_its_bias_sum_are_one_step(approximate):
    from tinyflow.ops.fused import GeluGradSum
    from tinyflow.ops.reduce import Sum
    from tinyflow.ops.shape import SumTo
    fetches, feed = _gelu_layer(approximate)
    got, want, program = run_both(fetches, feed)
    assert count(program, GeluGradSum) == 1 and not count(program, (Sum, SumTo))
    assert notes(program, "bias_grads") == ["joined 1 bias gradient sum(s) with their GELU "
                                            "gradient"]
    assert_close(got, want)


def test_a_bias_along_another_axis_keeps_its_sum():
    fetches, feed = _gelu_layer("tanh", bias_shape=(3, 1))
    assert_untouched(fetches, feed, "bias_grads")


# ---- a residual add and the layer norm of its sum ---------------------------------------

def test_a_residual_add_and_the_layer_norm_of_its_sum_are_one_step():
    from tinyflow.ops.fused import AddLayerNorm
    from tinyflow.ops.normalization import LayerNorm
    fetches, feed = _pre_norm_block(2, True)
    got, want, program = run_both(fetches, feed)
    assert count(program, AddLayerNorm) == 1 and count(program, LayerNorm) == 1
    assert notes(program, "add_layer_norm") == ["joined 1 add(s) with the layer norm of the "
                                                "sum"]
    assert_close(got, want)


def test_a_broadcasting_add_keeps_its_layer_norm():
    import tinyflow.nn.functional as F
    x = tf.placeholder(tf.float32, [4, 8])
    y = F.layer_norm(x + variable(8), (8,), variable(8), variable(8))
    assert_untouched([y], {x: rand(4, 8)}, "add_layer_norm")
