"""Session 17's PyTorch gaps, with PyTorch as the oracle: softmax-like functions of a 0-d
tensor through every spelling (values and gradients, float32 and float64)."""
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinyflow  # noqa: E402


# ---- softmax of a 0-d tensor: one element along dim 0 or -1 ------------------------------

SCALAR_SOFTMAX = {
    "F.softmax": lambda L, x: L.nn.functional.softmax(x, 0),
    "F.softmax dim=-1": lambda L, x: L.nn.functional.softmax(x, dim=-1),
    "F.log_softmax": lambda L, x: L.nn.functional.log_softmax(x, -1),
    "F.softmin": lambda L, x: L.nn.functional.softmin(x, 0),
    "nn.Softmax": lambda L, x: L.nn.Softmax(dim=0)(x),
    "nn.LogSoftmax": lambda L, x: L.nn.LogSoftmax(dim=-1)(x),
    "special.softmax": lambda L, x: L.special.softmax(x, 0),
    "special.log_softmax": lambda L, x: L.special.log_softmax(x, -1),
    "F.softmax without dim": lambda L, x: L.nn.functional.softmax(x),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", SCALAR_SOFTMAX)
def test_softmax_of_a_zero_dim_tensor_as_torch(case, dtype):
    results = []
    for L in (torch, tinyflow):
        x = L.tensor(1.7, dtype=getattr(L, dtype), requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # the deprecated implicit dim
            y = SCALAR_SOFTMAX[case](L, x)
        (y * 3.0).backward()
        results.append((y.shape, y.dtype, y.item(), x.grad.item()))
    (want_shape, want_dtype, want, want_grad), (shape, got_dtype, got, grad) = results
    assert tuple(shape) == tuple(want_shape) == ()
    assert got_dtype.name == dtype == str(want_dtype).removeprefix("torch.")
    assert (got, grad) == (want, want_grad)


def test_softmax_of_a_zero_dim_tensor_refuses_dim_1():
    with pytest.raises(IndexError, match="dim 1 is out of range for a 0-D tensor"):
        tinyflow.nn.functional.softmax(tinyflow.tensor(2.0), 1)
    with pytest.raises(IndexError, match="dim -2 is out of range for a 0-D tensor"):
        tinyflow.nn.functional.log_softmax(tinyflow.tensor(2.0), -2)


def test_softmax_of_tensors_with_dims_is_unchanged():
    x = np.random.default_rng(0).standard_normal((3, 4))
    for dim in (0, 1, -1):
        np.testing.assert_allclose(
            tinyflow.nn.functional.softmax(tinyflow.tensor(x), dim).numpy(),
            torch.nn.functional.softmax(torch.tensor(x), dim).numpy(), rtol=1e-12)


# ---- Categorical with +inf logits: the validation error, and no NumPy warning first -------

def test_categorical_with_infinite_logits_fails_validation_without_a_warning():
    logits = [0.0, float("inf")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # a RuntimeWarning from NumPy would fail here
        with pytest.raises(ValueError, match=r"Categorical: parameter logits .* outside"):
            tinyflow.distributions.Categorical(logits=tinyflow.tensor(logits))
        got = tinyflow.distributions.Categorical(logits=tinyflow.tensor(logits),
                                                 validate_args=False).logits
    want = torch.distributions.Categorical(logits=torch.tensor(logits),
                                           validate_args=False).logits
    np.testing.assert_array_equal(got.numpy(), want.numpy())


# ---- torch.Size: slices, concatenations and repeats stay Sizes ----------------------------

SIZE_EXPRESSIONS = ("s[1:]", "s[0]", "s[-1]", "s[::-1]", "s + (5,)", "(5,) + s", "s * 2",
                    "2 * s", "s == (2, 3, 4)", "s.numel()", "s[1:].numel()", "s[:0]")


@pytest.mark.parametrize("expression", SIZE_EXPRESSIONS)
def test_size_operations_as_torch(expression):
    want = eval(expression, {"s": torch.zeros(2, 3, 4).size()})
    got = eval(expression, {"s": tinyflow.zeros(2, 3, 4).size()})
    assert repr(got) == repr(want)


def test_size_refuses_a_list_as_tuple_does():
    with pytest.raises(TypeError):
        tinyflow.zeros(2, 3).size() + [1]
    with pytest.raises(TypeError):
        [1] + tinyflow.zeros(2, 3).size()
