"""x ** 2 and x ** 1 (`h.pow(2)` in pytorch/examples' forward-forward MNIST, and its
gradient's x ** 1) as a product and a copy: PyTorch's bits, specials included."""
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
