"""PyTorch's other spellings of one function: `torch.relu_(x)` (the method `x.relu_()`),
`torch.conv2d` (F.conv2d), `F.hardtanh_(x)` (`F.hardtanh(x, inplace=True)`), and the
shrink / randomized-ReLU activations, each against torch."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as TF  # noqa: E402

import tinyflow as tf  # noqa: E402
import tinyflow.nn.functional as F  # noqa: E402

X = np.array([[-2.5, -0.75, -0.25, 0.0], [0.2, 0.5, 0.9, 3.0]])
POSITIVE = np.array([[0.1, 0.3, 0.5, 0.7], [0.9, 0.2, 0.4, 0.6]])   # inside every domain
IN_PLACE_UNARY = ("abs_", "acos_", "arccos_", "arcsin_", "arctan_", "asin_", "atan_",
                  "ceil_", "cos_", "cosh_", "deg2rad_", "erf_", "erfc_", "exp2_", "exp_",
                  "expm1_", "fix_", "floor_", "frac_", "log10_", "log1p_", "log2_", "log_",
                  "logit_", "nan_to_num_", "neg_", "negative_", "rad2deg_", "reciprocal_",
                  "relu_", "round_", "rsqrt_", "sigmoid_", "sin_", "sinc_", "sinh_",
                  "sqrt_", "square_", "tan_", "tanh_", "trunc_", "zero_", "arcsinh_",
                  "asinh_", "atanh_", "arctanh_", "i0_", "selu_", "celu_")


@pytest.mark.parametrize("name", IN_PLACE_UNARY)
def test_torch_level_in_place_function_writes_its_argument(name):
    x = tf.tensor(POSITIVE.copy())
    got = getattr(tf, name)(x)
    want = torch.tensor(POSITIVE.copy())
    getattr(torch, name)(want)
    assert got is x
    np.testing.assert_allclose(x.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("call", [
    lambda m, x: m.clamp_(x, -0.5, 0.5), lambda m, x: m.clamp_min_(x, 0.1),
    lambda m, x: m.clamp_max_(x, 0.1), lambda m, x: m.clip_(x, max=1.0),
    lambda m, x: m.fill_(x, 7.0), lambda m, x: m.threshold_(x, 0.1, 9.0),
    lambda m, x: m.xlogy_(x, 2.0)])
def test_torch_level_in_place_functions_with_arguments(call):
    x, want = tf.tensor(X.copy()), torch.tensor(X.copy())
    assert call(tf, x) is x
    call(torch, want)
    np.testing.assert_allclose(x.numpy(), want.numpy(), rtol=1e-12)


def test_torch_functions_spelled_like_methods_and_functional():
    a = np.arange(24.0).reshape(2, 3, 4)
    for call in (lambda m, x: m.clone(x), lambda m, x: m.select(x, 1, 2),
                 lambda m, x: m.unflatten(x, 2, (2, 2)), lambda m, x: m.positive(x),
                 lambda m, x: m.arcsinh(x), lambda m, x: m.max_pool1d(x, 2),
                 lambda m, x: m.avg_pool1d(x, 2), lambda m, x: m.selu(x - 10),
                 lambda m, x: m.layer_norm(x, (4,)), lambda m, x: m.hardshrink(x - 10, 3.0),
                 lambda m, x: m.pixel_shuffle(m.reshape(x, (1, 4, 3, 2)), 2)):
        np.testing.assert_allclose(call(tf, tf.tensor(a)).numpy(),
                                   call(torch, torch.tensor(a)).numpy(), rtol=1e-12)
    w = np.linspace(-1, 1, 2 * 3 * 3).reshape(2, 3, 3)
    np.testing.assert_allclose(tf.conv1d(tf.tensor(a), tf.tensor(w), padding=1).numpy(),
                               torch.conv1d(torch.tensor(a), torch.tensor(w), padding=1).numpy(),
                               rtol=1e-12)
    assert tf.is_signed(tf.tensor([1])) and not tf.is_signed(tf.tensor([1], dtype=tf.uint8))


def test_torch_batch_norm_and_embedding_take_their_own_argument_order():
    x = np.random.default_rng(0).standard_normal((4, 3, 5))
    stats = [np.array([0.1, -0.2, 0.3]), np.array([1.5, 0.5, 2.0])]
    affine = [np.array([1.0, 2.0, -1.0]), np.array([0.0, 0.5, 0.25])]

    def run(m, training):
        mean, var = (m.tensor(v.copy()) for v in stats)
        out = m.batch_norm(m.tensor(x), *(m.tensor(v) for v in affine), mean, var,
                           training, 0.3, 1e-4, False)
        return out.numpy(), mean.numpy(), var.numpy()

    for training in (False, True):
        for got, want in zip(run(tf, training), run(torch, training)):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    weight, ids = np.arange(12.0).reshape(4, 3), np.array([[3, 0], [1, 3]])
    for padding_idx in (-1, 3):
        got = tf.embedding(tf.tensor(weight), tf.tensor(ids), padding_idx)
        want = torch.embedding(torch.tensor(weight), torch.tensor(ids), padding_idx)
        np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("name, args", [
    ("relu_", ()), ("elu_", (0.5,)), ("leaky_relu_", (0.2,)), ("hardtanh_", (-0.5, 0.75)),
    ("celu_", (2.0,)), ("selu_", ()), ("threshold_", (0.1, -3.0)), ("rrelu_", (0.1, 0.3))])
def test_functional_in_place_spellings_write_the_input(name, args):
    x, want = tf.tensor(X.copy()), torch.tensor(X.copy())
    assert getattr(F, name)(x, *args) is x
    getattr(TF, name)(want, *args)
    np.testing.assert_allclose(x.numpy(), want.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name, lambd", [("hardshrink", 0.5), ("hardshrink", 0.25),
                                         ("softshrink", 0.5), ("softshrink", 0.0)])
def test_shrink_values_and_gradients_match_torch(name, lambd):
    values = np.concatenate([X.ravel(), [-0.5, 0.5, -0.25, 0.25, np.nan]])
    x, t = tf.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    y, want = getattr(F, name)(x, lambd), getattr(TF, name)(t, lambd)
    np.testing.assert_allclose(y.detach().numpy(), want.detach().numpy(), rtol=1e-12)
    (y * tf.tensor(np.arange(values.size, dtype=float))).sum().backward()
    (want * torch.arange(values.size, dtype=torch.float64)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    module = getattr(tf.nn, name.capitalize())(lambd)
    assert repr(module) == repr(getattr(torch.nn, name.capitalize())(lambd))
    if name == "softshrink":
        with pytest.raises(RuntimeError, match="softshrink: lambd must be >= 0"):
            F.softshrink(x, -1.0)


def test_rrelu_draws_a_slope_per_negative_element_while_training():
    tf.manual_seed(0)
    x = tf.tensor(-np.ones(4000), requires_grad=True)
    y = F.rrelu(x, 0.1, 0.3, training=True)
    slopes = -y.detach().numpy()
    assert 0.1 <= slopes.min() and slopes.max() <= 0.3 and np.std(slopes) > 0.05
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), slopes)   # the drawn slope is the gradient
    assert not np.array_equal(F.rrelu(x, 0.1, 0.3, training=True).detach().numpy(), -slopes)
    positive = tf.tensor([0.5, 2.0])
    np.testing.assert_array_equal(F.rrelu(positive, training=True).numpy(), [0.5, 2.0])
    module = tf.nn.RReLU(0.1, 0.3).eval()   # eval: the mean slope, as torch
    np.testing.assert_allclose(module(tf.tensor(X)).numpy(),
                               torch.nn.RReLU(0.1, 0.3).eval()(torch.tensor(X)).numpy())
    assert repr(tf.nn.RReLU(0.1, 0.3, inplace=True)) == repr(
        torch.nn.RReLU(0.1, 0.3, inplace=True))
    with pytest.raises(RuntimeError, match="rrelu: lower bound must be <= upper bound"):
        F.rrelu(x, 0.5, 0.1, training=True)


def test_rrelu_on_a_graph_draws_at_each_run():
    p = tf.placeholder(tf.float64, [None])
    y = F.rrelu(p, 0.1, 0.3, training=True)
    with tf.Session() as sess:
        first, second = (sess.run(y, {p: -np.ones(50)}) for _ in range(2))
    assert -0.3 <= first.min() and first.max() <= -0.1 and not np.array_equal(first, second)
