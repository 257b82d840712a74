"""What other people's programs needed, round 23 (kuangliu's pytorch-cifar models, nanoGPT's
model.py with generate(), the "What is torch.nn really?" tutorial), run with only their import
lines changed: a layer size computed with `/` (kuangliu's ShuffleNet under Python 3) is
refused naming the parameter's shape, with torch's exception class, where NumPy's message
named nothing. torch is the oracle.
"""
import numpy as np
import pytest
import torch

import tinyflow


@pytest.mark.parametrize("layer", [lambda nn: nn.Conv2d(4, 24 / 4, 1, groups=2),
                                   lambda nn: nn.Linear(3, 2.0),
                                   lambda nn: nn.BatchNorm2d(4.0),
                                   lambda nn: nn.Embedding(10.0, 3)],
                         ids=["conv", "linear", "batch_norm", "embedding"])
def test_a_fractional_layer_size_is_refused_naming_the_shape(layer):
    with pytest.raises(TypeError):
        layer(torch.nn)
    with pytest.raises(TypeError, match=r"a parameter of shape \[.*\.0.*whole number"):
        layer(tinyflow.nn)


def test_whole_number_sizes_of_any_integer_kind_still_build():
    for lib in (torch, tinyflow):
        assert lib.nn.Linear(np.int64(3), np.int32(2)).weight.shape == (2, 3)
        assert lib.nn.Conv2d(4, 6, 1, groups=2).weight.shape == (6, 2, 1, 1)
