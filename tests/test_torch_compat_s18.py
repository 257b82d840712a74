"""Session 18's PyTorch gaps, PyTorch as the oracle: Python's `float` / `int` / `bool` as a
dtype argument (TF1 keeps reading `float` as float32), relu6 and hardtanh keeping -0.0,
`Size` refusing dims that are not whole numbers, and softmaxes of infs answered without
NumPy warnings."""
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinyflow  # noqa: E402


# ---- Python types as dtypes: float -> float64, int -> int64, bool -> bool -----------------

MADE_WITH_DTYPE = {
    "zeros": lambda L, d: L.zeros(2, dtype=d),
    "ones": lambda L, d: L.ones(2, 3, dtype=d),
    "empty": lambda L, d: L.empty(2, dtype=d),
    "full": lambda L, d: L.full((2,), 1, dtype=d),
    "arange": lambda L, d: L.arange(3, dtype=d),
    "tensor": lambda L, d: L.tensor([1, 2], dtype=d),
    "as_tensor": lambda L, d: L.as_tensor([1, 0], dtype=d),
    "eye": lambda L, d: L.eye(2, dtype=d),
    "zeros_like": lambda L, d: L.zeros_like(L.zeros(2), dtype=d),
    "full_like": lambda L, d: L.full_like(L.zeros(2), 1, dtype=d),
    "randint": lambda L, d: L.randint(0, 3, (2,), dtype=d),
    "new_zeros": lambda L, d: L.zeros(2).new_zeros(2, dtype=d),
    "new_tensor": lambda L, d: L.zeros(2).new_tensor([1], dtype=d),
    "x.to(d)": lambda L, d: L.zeros(2).to(d),
    "x.to(dtype=d)": lambda L, d: L.zeros(2).to(dtype=d),
    "promote_types": lambda L, d: L.zeros(1, dtype=L.promote_types(d, L.float32)),
}
FLOAT_ONLY = {
    "randn": lambda L, d: L.randn(2, dtype=d),
    "rand": lambda L, d: L.rand(2, dtype=d),
    "sum(dtype=)": lambda L, d: L.ones(2).sum(dtype=d),
    "linspace": lambda L, d: L.linspace(0, 1, 3, dtype=d),
    "F.softmax(dtype=)": lambda L, d: L.nn.functional.softmax(L.ones(2), 0, dtype=d),
    "nn.Linear(dtype=)": lambda L, d: L.nn.Linear(2, 2, dtype=d).weight,
    "nn.Embedding(dtype=)": lambda L, d: L.nn.Embedding(2, 2, dtype=d).weight,
    "Module.to(d)": lambda L, d: L.nn.Linear(2, 2).to(d).weight,
}


def _name(dtype) -> str:
    return str(dtype).rsplit(".", 1)[-1]


@pytest.mark.parametrize("python_type", [float, int, bool], ids=lambda t: t.__name__)
@pytest.mark.parametrize("case", MADE_WITH_DTYPE)
def test_a_python_type_as_dtype_reads_as_torch_reads_it(case, python_type):
    try:
        want = MADE_WITH_DTYPE[case](torch, python_type).dtype
    except (NotImplementedError, RuntimeError):
        pytest.skip(f"PyTorch has no {case} of {python_type.__name__}")
    assert _name(MADE_WITH_DTYPE[case](tinyflow, python_type).dtype) == _name(want)


@pytest.mark.parametrize("case", FLOAT_ONLY)
def test_python_float_as_dtype_is_float64_in_float_only_functions(case):
    assert _name(FLOAT_ONLY[case](torch, float).dtype) == "float64"
    assert FLOAT_ONLY[case](tinyflow, float).dtype is tinyflow.float64


def test_finfo_of_python_float_is_double_precision():
    assert tinyflow.finfo(float).eps == torch.finfo(float).eps == np.finfo(np.float64).eps


def test_tf1_still_reads_python_float_as_float32():
    tf = tinyflow
    x = tf.placeholder(float, [None])
    assert x.dtype is tf.float32
    assert tf.constant(1.0, dtype=float).dtype is tf.float32
    assert tf.cast(tf.constant(1), float).dtype is tf.float32
    assert tf.Variable(1.0, dtype=float).dtype is tf.float32
    assert tf.as_dtype(float) is tf.float32


# ---- relu6 / hardtanh: -0.0 at a limit of 0 stays -0.0 -----------------------------------

def test_relu6_and_hardtanh_keep_negative_zero_and_torch_gradient():
    values = [-0.0, 0.0, -1.0, 6.0, 7.0, 3.0, float("nan"), -2.0, 2.0]
    for fn in (lambda L, x: L.nn.functional.relu6(x),
               lambda L, x: L.nn.functional.hardtanh(x, 0.0, 6.0),
               lambda L, x: L.nn.functional.hardtanh(x, -2.0, 2.0),
               lambda L, x: L.nn.ReLU6()(x)):
        results = []
        for L in (torch, tinyflow):
            x = L.tensor(values, requires_grad=True)
            y = fn(L, x)
            y.backward(L.arange(1.0, 10.0))
            results.append((y.detach().numpy(), x.grad.numpy()))
        (want, want_grad), (got, grad) = results
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
        np.testing.assert_array_equal(grad, want_grad)


def test_tf1_relu6_keeps_negative_zero_in_a_graph():
    tf = tinyflow
    x = tf.placeholder(tf.float32, [None])
    with tf.Session() as sess:
        out = sess.run(tf.nn.relu6(x), {x: [-0.0, 7.0, 2.5]})
    np.testing.assert_array_equal(np.signbit(out), [True, False, False])
    np.testing.assert_array_equal(out, [0.0, 6.0, 2.5])


def test_hardtanh_gradient_matches_finite_differences_in_float64():
    x = np.array([-1.7, -0.4, 0.3, 0.9, 1.6])   # away from the limits, where it has a slope
    t = tinyflow.tensor(x, requires_grad=True)
    tinyflow.nn.functional.hardtanh(t * t, -1.0, 1.0).sum().backward()
    eps = 1e-6
    f = lambda v: np.clip(v * v, -1.0, 1.0)  # noqa: E731
    numeric = (f(x + eps) - f(x - eps)) / (2 * eps)
    np.testing.assert_allclose(t.grad.numpy(), numeric, rtol=1e-6, atol=1e-8)


# ---- torch.Size takes whole numbers only ------------------------------------------------

@pytest.mark.parametrize("dims", [[2.5], [3.0], ["a"], [2, None]], ids=str)
def test_size_refuses_dims_that_are_not_whole_numbers(dims):
    with pytest.raises(TypeError):
        torch.Size(dims)
    with pytest.raises(TypeError, match=r"Size: each dim must be a whole number; dim \d"):
        tinyflow.Size(dims)


def test_size_takes_what_has_an_index_as_torch():
    for dims in ([True], [np.int64(3), 2], [-1], (), [4, 5]):
        want, got = torch.Size(dims), tinyflow.Size(dims)
        assert list(got) == list(want)
        assert all(type(d) is int for d in got)
    assert tinyflow.Size([tinyflow.tensor(3)]) == (3,)
    x = tinyflow.zeros(2, 3)
    assert x.size()[1:] == tinyflow.Size([3]) and x.size() + (4,) == (2, 3, 4)


# ---- inf - inf and friends: NaN, silently ------------------------------------------------

# (inf - inf in an eager add / sub / mul still warns: silencing NumPy there costs every call)
INF_CASES = {
    "log_softmax": lambda L, x: L.log_softmax(x, 0),
    "F.log_softmax of -inf": lambda L, x: L.nn.functional.log_softmax(-x, 0),
    "softmax": lambda L, x: L.softmax(x, 0),
    "F.softmax of -inf": lambda L, x: L.nn.functional.softmax(-x, -1),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", INF_CASES)
def test_inf_minus_inf_is_nan_without_warnings(case, dtype):
    results = []
    for L in (torch, tinyflow):
        x = L.tensor([float("inf"), float("inf")], dtype=getattr(L, dtype))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            results.append(INF_CASES[case](L, x).numpy())
    np.testing.assert_array_equal(results[1], results[0])
