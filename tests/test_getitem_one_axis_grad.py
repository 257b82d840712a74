"""The gradient of x[..., index_array] on one axis (F.pad's reflect / replicate / circular
modes, `x[:, [2, 0, 2]]`) as slice adds in index order: PyTorch's values, repeats summed."""
import numpy as np
import pytest
import torch

import tinyflow
from tinyflow.backend.numpy import shape as shape_kernels
from torch_oracle import X, compare, gradcheck

F, TF = torch.nn.functional, tinyflow.nn.functional


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_padding_gradients_match_torch(mode):
    compare(lambda x: F.pad(x, (4, 3, 2, 4), mode=mode),
            lambda x: TF.pad(x, (4, 3, 2, 4), mode=mode), [X(2, 3, 9, 8)])
    compare(lambda x: torch.nn.ReflectionPad2d(4)(x), lambda x: tinyflow.nn.ReflectionPad2d(4)(x),
            [X(2, 5, 12, 11)])


@pytest.mark.parametrize("index", [[2, 0, 2, -1, 2], [1], list(range(5))[::-1]])
def test_repeated_and_negative_indices_accumulate_like_torch(index):
    compare(lambda x: x[:, index], lambda x: x[:, index], [X(3, 5, 4)])
    compare(lambda x: x[:, :, index], lambda x: x[:, :, index], [X(3, 4, 5)])
    compare(lambda x: x[index], lambda x: x[index], [X(5, 2)])


def test_long_index_arrays_keep_the_scatter_add():
    index = np.random.default_rng(0).integers(0, 50, shape_kernels.SLICE_ADDS_UP_TO + 1)
    compare(lambda x: x[:, index], lambda x: x[:, index], [X(2, 50)])


def test_gradient_by_finite_differences():
    x = np.random.default_rng(1).standard_normal((2, 3, 4))
    gradcheck(lambda a: TF.pad(a, (2, 1), mode="reflect") ** 2, x)
    gradcheck(lambda a: a[:, [0, 2, 0, -1]] * a[:, [1, 1, 2, 0]], x)
