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


def test_tensor_methods_spelled_like_torch_functions():
    a = np.array([[1.0, -2.0], [3.0, 4.0]])
    for call in (lambda x: x.absolute(), lambda x: x.arctan2(x + 10),
                 lambda x: x.true_divide(2), lambda x: x.broadcast_to((3, 2, 2)),
                 lambda x: x.diag_embed(), lambda x: x.diagflat(), lambda x: x.dist(x * 0, 3),
                 lambda x: x.matrix_power(3), lambda x: x.pinverse(), lambda x: x.qr()[1],
                 lambda x: x[0].vdot(x[1]), lambda x: x.hardshrink(2.5),
                 lambda x: x.addmm_(x * 2, x + 1), lambda x: x[None].baddbmm_(x[None] * 2, x[None] + 1),
                 lambda x: x.absolute_(), lambda x: x.true_divide_(4.0)):
        np.testing.assert_allclose(call(tf.tensor(a.copy())).numpy(),
                                   call(torch.tensor(a.copy())).numpy(), rtol=1e-12)
    x = tf.ones(2)
    assert x.is_cpu and x.get_device() == -1 and x.is_same_size(tf.zeros(2))


@pytest.mark.parametrize("wrap", [False, True])
@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (7, 3), (3, 3, 3)])
def test_fill_diagonal_matches_torch(shape, wrap):
    x, want = tf.zeros(shape), torch.zeros(shape)
    assert x.fill_diagonal_(-5.0, wrap=wrap) is x
    want.fill_diagonal_(-5.0, wrap=wrap)
    np.testing.assert_array_equal(x.numpy(), want.numpy())
    with pytest.raises(RuntimeError, match=r"fill_diagonal_: .* got shape \[2, 3, 3\]"):
        tf.zeros(2, 3, 3).fill_diagonal_(1.0)


def test_in_place_draws_follow_their_distributions():
    tf.manual_seed(0)
    x = tf.zeros(20000, dtype=tf.float64)
    assert abs(float(x.exponential_(4.0).mean()) - 0.25) < 0.01
    assert abs(float(x.log_normal_(0.0, 0.5).log().mean())) < 0.02
    assert abs(float(x.cauchy_(3.0, 0.1).median()) - 3.0) < 0.01
    values = x.geometric_(0.25).numpy()
    assert values.min() == 1 and abs(values.mean() - 4.0) < 0.1
    assert set(np.unique(x.random_(3).numpy())) == {0.0, 1.0, 2.0}
    assert set(np.unique(x.random_(5, 7).numpy())) == {5.0, 6.0}
    assert set(np.unique(x.random_(**{"from": -2}, to=0).numpy())) == {-2.0, -1.0}
    top = tf.zeros(20000).random_().numpy()
    assert top.max() > 2 ** 20 and top.max() <= 2 ** 24 and np.all(top == np.round(top))
    small = tf.zeros(5000, dtype=tf.int8).random_().numpy()
    assert small.min() >= 0 and small.max() == 127
    with pytest.raises(NotImplementedError, match="exponential_"):
        tf.zeros(3, dtype=tf.int64).exponential_()
    with pytest.raises(RuntimeError, match="random_: expects 'from' < 'to'"):
        x.random_(4, 4)
    with pytest.raises(RuntimeError, match=r"geometric_: expects p in \(0, 1\)"):
        x.geometric_(1.5)


@pytest.mark.parametrize("dtype, low, high", [
    ("int8", 0, 300), ("uint8", -3, 3), ("bool", 0, 5), ("float16", 0, 70000),
    ("float16", -70000, 0)])
def test_random_refuses_bounds_its_dtype_cannot_hold(dtype, low, high):
    """The draws would be cast into the dtype and wrap around (int8's 200 -> -56): refused,
    as torch refuses them."""
    with pytest.raises(RuntimeError, match="out of bounds"):
        torch.zeros(3, dtype=getattr(torch, dtype)).random_(low, high)
    with pytest.raises(RuntimeError, match=r"random_: .* out of bounds"):
        tf.zeros(3, dtype=getattr(tf, dtype)).random_(low, high)
    with pytest.raises(RuntimeError, match=r"randint: .* out of bounds"):
        tf.randint(low, high, (3,), dtype=getattr(tf, dtype))


@pytest.mark.parametrize("call, name", [
    (lambda x: x.exponential_(0.0), "exponential_"),
    (lambda x: x.exponential_(-1.0), "exponential_"),
    (lambda x: x.log_normal_(1.0, 0.0), "log_normal_"),
    (lambda x: x.log_normal_(1.0, -2.0), "log_normal_"),
    (lambda x: x.cauchy_(0.0, -1.0), "cauchy_")])
def test_in_place_draws_refuse_bad_parameters_naming_the_function(call, name):
    with pytest.raises(RuntimeError):
        call(torch.zeros(3))
    with pytest.raises(RuntimeError, match=f"{name}: expects"):
        call(tf.zeros(3))


@pytest.mark.parametrize("name, args", [
    ("normal_", ()), ("uniform_", ()), ("exponential_", ()), ("log_normal_", ()),
    ("cauchy_", ()), ("geometric_", (0.5,)), ("random_", ()), ("bernoulli_", ()),
    ("fill_diagonal_", (1.0,)), ("fill_", (1.0,)), ("zero_", ())])
def test_in_place_fills_of_a_graph_tensor_are_refused_naming_the_op(name, args):
    """A TF1 placeholder with an unknown dim had reached NumPy (a bare TypeError about
    None)."""
    x = tf.placeholder(tf.float32, [None, 3])
    with pytest.raises(TypeError, match=f"{'fill_' if name == 'zero_' else name}: in-place "
                                        f"operations need an eager tensor"):
        getattr(x, name)(*args)


def test_rrelu_training_under_compile_draws_at_each_call():
    step = tf.compile(lambda x: F.rrelu(x, 0.1, 0.3, training=True))
    x = -tf.ones(200)
    first, second = step(x).numpy(), step(x).numpy()
    assert -0.3 <= first.min() and first.max() <= -0.1 and not np.array_equal(first, second)


def test_torch_norm_functions_take_their_cudnn_argument_and_torch_shapes():
    """torch.layer_norm and torch.group_norm have a sixth argument, cudnn_enable(d), that F's
    lack (code printed by tracers passes it); x.broadcast_to takes sizes as torch's does."""
    x = np.linspace(-1, 1, 24).reshape(2, 4, 3)
    for call in (lambda m, t: m.layer_norm(t, (3,), None, None, 1e-5, False),
                 lambda m, t: m.group_norm(t, 2, None, None, 1e-5, True),
                 lambda m, t: t[0, 0].broadcast_to(2, 3)):
        np.testing.assert_allclose(call(tf, tf.tensor(x)).numpy(),
                                   call(torch, torch.tensor(x)).numpy(), rtol=1e-10, atol=1e-12)
    assert tf.broadcast_shapes() == torch.broadcast_shapes() == ()


def test_torch_rrelu_takes_a_generator_fifth():
    """torch.rrelu(x, lower, upper, training, generator): F.rrelu's fifth is inplace, so the
    generator there wrote x in place."""
    def draw(m, name):
        x = m.full((50,), -1.0)
        y = getattr(m, name)(x, 0.1, 0.3, True, m.Generator().manual_seed(7))
        return x, y
    for m in (tf, torch):
        x, y = draw(m, "rrelu")
        assert float(x.sum()) == -50 and not np.array_equal(x.numpy(), y.numpy())
        np.testing.assert_array_equal(draw(m, "rrelu")[1].numpy(), y.numpy())
        x, y = draw(m, "rrelu_")
        assert y is x and -0.3 <= float(x.min()) and float(x.max()) <= -0.1
