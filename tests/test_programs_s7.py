"""What other people's programs needed, round 7 (issues 13/14): pytorch/examples (mnist,
mnist_rnn, vae, regression, time_sequence_prediction, word_language_model, siamese_network)
and the TF1 examples of TensorFlow-Examples, run with only their import lines changed. Each
test reproduces the pattern that failed, written here, with PyTorch as the oracle.
"""
import warnings

import numpy as np
import pytest
import torch

import tinyflow


# ---- Dropout2d after an LSTM's last step (pytorch/examples mnist_rnn) ---------------------

def _dropped_pattern(lib, shape):
    """Which elements dropout2d zeroed, as a NumPy bool array (same seed per library)."""
    lib.manual_seed(0)
    x = lib.ones(*shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = lib.nn.functional.dropout2d(x, 0.5, True)
    return y.numpy() == 0


@pytest.mark.parametrize("shape", [(64, 48), (16, 12, 5), (8, 6, 3, 4)])
@pytest.mark.parametrize("lib", [torch, tinyflow], ids=["torch", "tinyflow"])
def test_dropout2d_mask_is_per_sample_and_channel_as_torch(lib, shape):
    """PyTorch's mask is shaped [N, C, 1, ...] whatever the rank: a 2-D [N, C] input is
    dropped element by element (it was dropped whole here), a 3-D one is read as [N, C, L]."""
    dropped = _dropped_pattern(lib, shape)
    per_channel = dropped.reshape(shape[0], shape[1], -1)
    assert (per_channel == per_channel[:, :, :1]).all()        # constant over the rest
    mask = per_channel[:, :, 0]
    assert 0.25 < mask.mean() < 0.75
    assert (mask != mask[:, :1]).any() and (mask != mask[:1, :]).any()   # varies over N and C


@pytest.mark.parametrize("ndim, warns", [(2, True), (3, True), (4, False)])
def test_dropout2d_warns_for_the_same_ranks_as_torch(ndim, warns):
    shape = (4, 3, 2, 2)[:ndim]
    for lib in (torch, tinyflow):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.nn.Dropout2d(0.5)(lib.ones(*shape))
        assert any("dropout2d" in str(w.message) for w in caught) == warns, lib.__name__
