"""The TF1 surface third-party programs type: TensorShape, dropout with a keep_prob
placeholder, keyword creation, tf.pad, control dependencies, identity, no_op,
sigmoid_cross_entropy_with_logits and cond. Each test states TF1's documented
behaviour; PyTorch 2.13 is the oracle where the maths is the same."""
import numpy as np
import pytest
import torch as real_torch

import tinyflow as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()


@pytest.fixture(params=[False, True], ids=["reference", "optimized"])
def session(request):
    with tf.Session(optimize=request.param) as sess:
        yield sess


# ---- TensorShape -----------------------------------------------------------------------------

def test_get_shape_is_a_tensorshape_as_tf1():
    """TF1: get_shape()/.shape is a TensorShape; as_list() gives ints and None; ndims the rank;
    indexing gives a Dimension whose .value is the int; it compares equal to lists/tuples."""
    x = tf.placeholder(tf.float32, [None, 784])
    s = x.get_shape()
    assert isinstance(s, tf.TensorShape) and isinstance(x.shape, tf.TensorShape)
    assert s.as_list() == [None, 784] and s.ndims == 2
    assert s[1].value == 784 and int(s[1]) == 784 and s[0] is None
    assert s == (None, 784) and s == [None, 784] and s != [None, 10]
    assert s[1:] == (784,) and isinstance(s[1:], tf.TensorShape)
    assert not s.is_fully_defined() and s.num_elements() is None
    w = tf.Variable(tf.zeros([784, 10]))
    assert w.get_shape().as_list() == [784, 10] and w.get_shape().num_elements() == 7840
    y = tf.matmul(x, w)
    assert y.get_shape().as_list() == [None, 10]
    n, d = y.shape                     # unpacking gives plain values
    assert n is None and d == 10 and type(d) is int


def test_tensorshape_merging_and_unknown_rank():
    """TF1: merge_with takes the more specific dims, refuses clashes (ValueError);
    TensorShape(None) has ndims None and as_list() raises ValueError."""
    s = tf.TensorShape([None, 3])
    assert s.merge_with([2, None]) == (2, 3)
    assert s.is_compatible_with([5, 3]) and not s.is_compatible_with([5, 4])
    with pytest.raises(ValueError, match="not compatible"):
        s.merge_with([2, 4])
    assert s.concatenate([7]).as_list() == [None, 3, 7]
    unknown = tf.TensorShape(None)
    assert unknown.ndims is None
    with pytest.raises(ValueError, match="unknown TensorShape"):
        unknown.as_list()
    assert tf.placeholder(tf.float32).get_shape().ndims is None
    assert tf.zeros(shape=tf.TensorShape([2, 3])).shape == (2, 3)


def test_set_shape_makes_the_static_shape_specific():
    """TF1: set_shape merges the given shape into the static one; a clash is a ValueError."""
    x = tf.placeholder(tf.float32)
    x.set_shape([None, 784])
    assert x.get_shape().as_list() == [None, 784]
    x.set_shape([32, None])
    assert x.shape == (32, 784)
    with pytest.raises(ValueError, match="not compatible"):
        x.set_shape([32, 10])
    with pytest.raises(tf.FeedError, match="shape"):
        with tf.Session() as sess:
            sess.run(x, {x: np.zeros((32, 10), np.float32)})


# ---- dropout ---------------------------------------------------------------------------------

def test_dropout_with_a_keep_prob_placeholder(session):
    """TF1: keep_prob may be a scalar placeholder (0.5 when training, 1.0 when testing); kept
    elements are scaled by 1 / keep_prob, the rest are 0; out of (0, 1] at run time is
    refused."""
    x = tf.placeholder(tf.float32, [None, 4000])
    keep = tf.placeholder(tf.float32)
    y = tf.nn.dropout(x, keep)
    ones = np.ones((2, 4000), np.float32)
    train = session.run(y, {x: ones, keep: 0.5})
    assert set(np.unique(train)) == {0.0, 2.0}
    assert 0.45 < (train == 0).mean() < 0.55
    np.testing.assert_array_equal(session.run(y, {x: ones, keep: 1.0}), ones)
    with pytest.raises(ValueError, match=r"keep_prob must be in \(0, 1\]"):
        session.run(y, {x: ones, keep: 0.0})


# ---- creation and pad ------------------------------------------------------------------------

def test_creation_by_keyword():
    """TF1: tf.zeros(shape, dtype=tf.float32), tf.ones(shape=..., dtype=...)."""
    assert tf.zeros(shape=[2, 3]).shape == (2, 3)
    assert tf.ones(shape=(2,), dtype=tf.int32).tolist() == [1, 1]
    assert tf.zeros([2], tf.int32).dtype is tf.int32
    with pytest.raises(TypeError, match="shape"):
        tf.zeros(2, shape=[2])


@pytest.mark.parametrize("mode", ["CONSTANT", "REFLECT", "SYMMETRIC", "reflect"])
def test_pad_as_numpy_pads(mode, session):
    """TF1 documents tf.pad's modes as NumPy's constant/reflect/symmetric."""
    value = np.arange(12, dtype=np.float32).reshape(3, 4)
    x = tf.placeholder(tf.float32, [3, 4])
    paddings = [[1, 2], [2, 1]]
    y = tf.pad(x, paddings, mode=mode) if mode != "CONSTANT" else \
        tf.pad(x, tf.constant(paddings), constant_values=7)
    want = np.pad(value, paddings, mode=mode.lower(), **(
        {"constant_values": 7} if mode == "CONSTANT" else {}))
    np.testing.assert_array_equal(session.run(y, {x: value}), want)


def test_pad_refuses_bad_paddings():
    x = tf.placeholder(tf.float32, [3, 4])
    with pytest.raises(ValueError, match="1 pad pairs for a rank-2 input"):
        tf.pad(x, [[1, 1]])
    with pytest.raises(ValueError, match=r"paddings must have shape \[2, 2\]"):
        tf.pad(x, [[1, 1]], "SYMMETRIC")
    with pytest.raises(ValueError, match=r"must be in \[0, 2\]"):
        tf.pad(x, [[3, 0], [0, 0]], "REFLECT")
    with pytest.raises(ValueError, match="mode"):
        tf.pad(x, [[1, 1], [0, 0]], "WRAP")


# ---- control dependencies, identity, no_op ---------------------------------------------------

def test_control_dependencies_run_the_update_first(session):
    """TF1: ops made inside control_dependencies run after the given ops; tf.identity
    inside the block reads the value after the update."""
    v = tf.Variable(1.0)
    update = tf.assign_add(v, 10.0)
    with tf.control_dependencies([update]):
        after = tf.identity(v)
        noop = tf.no_op()
    session.run(tf.global_variables_initializer())
    assert session.run(after) == 11.0
    session.run(noop)
    assert session.run(v) == 21.0
    with tf.control_dependencies([update]):
        with tf.control_dependencies(None):     # None clears the outer dependencies
            plain = tf.identity(v)
    assert session.run(plain) == 21.0


def test_control_dependencies_refuses_non_ops():
    with pytest.raises(TypeError, match="Tensor or Operation"):
        with tf.control_dependencies([3]):
            pass
    other = tf.Graph()
    with other.as_default():
        foreign = tf.placeholder(tf.float32)
    with pytest.raises(ValueError, match="belongs to another graph than this one"):
        with tf.control_dependencies([foreign]):
            pass


# ---- losses ----------------------------------------------------------------------------------

def test_sigmoid_cross_entropy_matches_torch(session):
    """TF1: elementwise max(x, 0) - x z + log(1 + exp(-|x|)), which is PyTorch's
    binary_cross_entropy_with_logits(reduction='none'); stable for large |x|."""
    rng = np.random.default_rng(0)
    logits = (rng.standard_normal((4, 5)) * 30).astype(np.float32)
    labels = rng.random((4, 5)).astype(np.float32)
    x, z = tf.placeholder(tf.float32, [4, 5]), tf.placeholder(tf.float32, [4, 5])
    loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x)
    grad = tf.gradients(tf.reduce_sum(loss), x)[0]
    got, got_grad = session.run([loss, grad], {x: logits, z: labels})
    tx = real_torch.tensor(logits, requires_grad=True)
    want = real_torch.nn.functional.binary_cross_entropy_with_logits(
        tx, real_torch.tensor(labels), reduction="none")
    want.sum().backward()
    np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_grad, tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="named arguments"):
        tf.nn.sigmoid_cross_entropy_with_logits(z, x)
    with pytest.raises(ValueError, match="same shape"):
        tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.zeros([4]), logits=x)


# ---- cond and while_loop ---------------------------------------------------------------------

def test_cond_selects_the_branch_and_its_gradient(session):
    """TF1: tf.cond(pred, true_fn, false_fn) has the value of the chosen branch; the gradient
    flows only through the chosen branch."""
    pred = tf.placeholder(tf.bool, [])
    x = tf.placeholder(tf.float32, [3])
    y = tf.cond(pred, lambda: x * 2.0, lambda: tf.square(x))
    g = tf.gradients(tf.reduce_sum(y), x)[0]
    value = np.array([1.0, 2.0, 3.0], np.float32)
    out, grad = session.run([y, g], {pred: True, x: value})
    np.testing.assert_array_equal(out, value * 2)
    np.testing.assert_array_equal(grad, [2, 2, 2])
    out, grad = session.run([y, g], {pred: False, x: value})
    np.testing.assert_array_equal(out, value ** 2)
    np.testing.assert_array_equal(grad, 2 * value)
    pair = tf.cond(pred, lambda: (x, x + 1.0), lambda: (x - 1.0, x))
    np.testing.assert_array_equal(session.run(pair[0], {pred: False, x: value}), value - 1)


def test_cond_runs_only_the_taken_branchs_assigns(session):
    """TF1: only the ops of the taken branch run, so an assign in the other branch does not
    change its variable."""
    pred = tf.placeholder(tf.bool, [])
    a, b = tf.Variable(0.0), tf.Variable(0.0)
    out = tf.cond(pred, lambda: tf.assign_add(a, 1.0), lambda: tf.assign_add(b, 1.0))
    session.run(tf.global_variables_initializer())
    session.run(out, {pred: True})
    session.run(out, {pred: True})
    assert session.run(out, {pred: False}) == 1.0
    assert session.run([a, b]) == [2.0, 1.0]


def test_cond_refuses_what_tf1_refuses():
    """TF1: pred must be a tensor (a Python bool is a TypeError), the branches must return
    the same structure and dtype."""
    x = tf.placeholder(tf.float32, [2])
    with pytest.raises(TypeError, match="Python bool"):
        tf.cond(True, lambda: x, lambda: x)
    pred = tf.placeholder(tf.bool, [])
    with pytest.raises(ValueError, match="same structure"):
        tf.cond(pred, lambda: (x, x), lambda: x)
    with pytest.raises(ValueError, match="float32 and int32"):
        tf.cond(pred, lambda: x, lambda: tf.cast(x, tf.int32))


# ---- optimizers and older spellings of TF1 tutorials -------------------------------------------

def _tf1_minimize(optimizer, steps=4):
    """Values of w after each step of minimizing sum(w * c + w**2) with `optimizer`."""
    w0 = np.array([[0.5, -1.0], [2.0, 0.25]], np.float64)
    c = np.array([[1.0, -2.0], [0.5, 3.0]], np.float64)
    w = tf.Variable(w0)
    train = optimizer.minimize(tf.reduce_sum(w * c + w * w))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out = []
        for _ in range(steps):
            sess.run(train)
            out.append(sess.run(w))
    return w0, c, out


@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_rmsprop_optimizer_is_tf1s(momentum, centered):
    """TF1's ApplyRMSProp: mean square starting at ones, epsilon inside the root, the rate
    inside the momentum (not PyTorch's RMSprop)."""
    lr, rho, eps = 0.01, 0.9, 1e-10
    w, c, got = _tf1_minimize(tf.train.RMSPropOptimizer(lr, decay=rho, momentum=momentum,
                                                        centered=centered))
    ms, mom, mg = np.ones_like(w), np.zeros_like(w), np.zeros_like(w)
    for step in got:
        g = c + 2 * w
        ms = ms + (g * g - ms) * (1 - rho)
        mg = mg + (g - mg) * (1 - rho)
        denom = ms - mg * mg + eps if centered else ms + eps
        mom = momentum * mom + lr * g / np.sqrt(denom)
        w = w - mom
        np.testing.assert_allclose(step, w, rtol=1e-12)


def test_adagrad_optimizer_is_tf1s():
    """TF1's Adagrad: the accumulator starts at initial_accumulator_value, no epsilon."""
    w, c, got = _tf1_minimize(tf.train.AdagradOptimizer(0.1, initial_accumulator_value=0.5))
    acc = np.full_like(w, 0.5)
    for step in got:
        g = c + 2 * w
        acc = acc + g * g
        w = w - 0.1 * g / np.sqrt(acc)
        np.testing.assert_allclose(step, w, rtol=1e-12)
    with pytest.raises(ValueError, match="initial_accumulator_value"):
        tf.train.AdagradOptimizer(0.1, initial_accumulator_value=0.0)


def test_arg_max_and_arg_min_take_dimension_and_output_type(session):
    x = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], np.float32)
    hi, lo = tf.arg_max(x, 1), tf.arg_min(x, dimension=0, output_type=tf.int32)
    got_hi, got_lo = session.run([hi, lo])
    np.testing.assert_array_equal(got_hi, [1, 0])
    np.testing.assert_array_equal(got_lo, [0, 1, 0])
    assert got_hi.dtype == np.int64 and got_lo.dtype == np.int32
    with pytest.raises(TypeError, match="output_type"):
        tf.arg_max(x, 1, output_type=tf.float32)
