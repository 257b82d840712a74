"""x ** 2 and x ** 1 (`h.pow(2)` in pytorch/examples' forward-forward MNIST, and its
gradient's x ** 1) as a product and a copy, x ** 0.5 and x ** -0.5 as sqrt and 1 / sqrt:
PyTorch's bits, specials included."""
import numpy as np
import pytest
import torch

import tinyflow
from torch_oracle import gradcheck


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("exponent", [2, 2.0, 1, 1.0])
@pytest.mark.parametrize("size", [7, 300_000])          # small, and large (pooled)
def test_square_and_first_power_are_torchs_bits(dtype, exponent, size):
    x = np.random.default_rng(0).standard_normal(size).astype(dtype) * 1e3
    x[:6] = [-0.0, np.nan, np.inf, -np.inf, 1e30, -3e-30]
    ours = tinyflow.tensor(x).pow(exponent).numpy()
    theirs = torch.tensor(x).pow(exponent).numpy()
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours.view(f"u{x.itemsize}"), theirs.view(f"u{x.itemsize}"))
    np.testing.assert_array_equal((tinyflow.tensor(x) ** exponent).numpy(), ours)


def test_square_in_place_and_gradients():
    x = np.random.default_rng(1).standard_normal((3, 4))
    t = tinyflow.tensor(x.copy())
    t.pow_(2)
    np.testing.assert_array_equal(t.numpy(), x * x)
    gradcheck(lambda a: a.pow(2) + a ** 1.0, x)
    gradcheck(lambda a: (a * a).pow(2).mean(1), x)


@pytest.mark.parametrize("exponent", [0.5, -0.5])
def test_square_root_powers_at_signed_zeros_are_torchs_values_and_gradients(exponent):
    """torch computes x ** -0.5 as 1 / sqrt(x): -inf at -0.0 (C's pow gives +inf), and so the
    gradient of x ** 0.5, 0.5 * x ** -0.5, is -inf there."""
    values = [-0.0, 0.0, 4.0]
    mine = tinyflow.tensor(values, requires_grad=True)
    theirs = torch.tensor(values, requires_grad=True)
    for x in (mine, theirs):
        (x ** exponent).sum().backward()
    assert (mine ** exponent).tolist() == (theirs ** exponent).tolist()
    assert np.signbit((mine ** exponent).detach().numpy()).tolist() == \
        np.signbit((theirs ** exponent).detach().numpy()).tolist()
    assert mine.grad.tolist() == theirs.grad.tolist()
    gradcheck(lambda a: a ** exponent, np.random.default_rng(2).random((3, 4)) + 0.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [7, 300_000])
def test_square_root_powers_are_sqrt_and_its_reciprocal(dtype, size):
    """x ** 0.5 is sqrt(x), x ** -0.5 is 1 / sqrt(x), as torch computes them (NumPy's power
    differs in the last bit for about a third of float32 inputs). torch's large-array sqrt
    is itself up to 1 ulp from the correctly rounded one on this machine: compared within
    that."""
    x = np.random.default_rng(3).standard_normal(size).astype(dtype) * 1e3
    x[:6] = [-0.0, np.nan, np.inf, -np.inf, 0.0, -3e-30]
    with np.errstate(invalid="ignore", divide="ignore"):
        root = np.sqrt(x)
        references = {0.5: root, -0.5: np.divide(1, root)}
    for exponent, reference in references.items():
        ours = tinyflow.tensor(x).pow(exponent).numpy()
        np.testing.assert_array_equal(ours, reference)
        np.testing.assert_array_equal(np.signbit(ours[~np.isnan(ours)]),
                                      np.signbit(reference[~np.isnan(reference)]))
        theirs = torch.tensor(x).pow(exponent).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=2 * np.finfo(dtype).eps, atol=0)


def test_a_tensor_exponent_of_a_half_is_cs_pow_as_torchs():
    """torch takes the sqrt path for a Python number exponent only: x ** tensor(-0.5) is C's
    pow, +inf at -0.0 and 0 at -inf, and so is the gradient of x ** tensor(0.5) (+inf at
    -0.0). (x ** tensor(0.5) itself is NumPy's power, which takes the sqrt path.)"""
    values = [-0.0, float("-inf"), 0.0, 4.0]
    results = []
    for lib in (torch, tinyflow):
        x = lib.tensor(values, requires_grad=True)
        lib.pow(x, lib.tensor(0.5)).sum().backward()
        results.append([lib.pow(x, lib.tensor(-0.5)).detach().numpy(), x.grad.numpy()])
    for theirs, mine in zip(*results):
        np.testing.assert_array_equal(mine, theirs)
        assert np.signbit(mine).tolist() == np.signbit(theirs).tolist()


@pytest.mark.parametrize("exponent", [0.5, -0.5])
def test_square_root_powers_of_a_0_d_tensor_and_their_gradients(exponent):
    """A 0-d x (a norm's sum before its root: triplet_margin_loss of 1-D inputs) is still an
    array through sqrt and 1 / sqrt (NumPy makes scalars of 0-d results)."""
    def run(lib):
        x = lib.tensor(2.25, dtype=lib.float64, requires_grad=True)
        y = x ** exponent
        y.backward()
        return y.detach().numpy(), x.grad.numpy()
    for ours, theirs in zip(run(tinyflow), run(torch)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-15)
    gradcheck(lambda a: a ** exponent, np.array(2.25))
