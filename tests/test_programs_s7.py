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


# ---- torch.save(model) / torch.load under safe_globals (word_language_model) -------------

class _TiedLM(tinyflow.nn.Module):
    """An embedding, an RNN and a decoder sharing the embedding's weight, as the tied LMs."""

    def __init__(self, kind="LSTM", vocab=11, width=6):
        super().__init__()
        self.encoder = tinyflow.nn.Embedding(vocab, width)
        self.rnn = getattr(tinyflow.nn, kind)(width, width, 2)
        self.decoder = tinyflow.nn.Linear(width, vocab)
        self.decoder.weight = self.encoder.weight
        self.activation = tinyflow.nn.functional.relu       # a function kept as an attribute
        self.kind = kind

    def forward(self, tokens):
        out, _ = self.rnn(self.encoder(tokens))
        return self.decoder(self.activation(out))


_LM_GLOBALS = [_TiedLM, tinyflow.nn.modules.sparse.Embedding, tinyflow.nn.modules.rnn.LSTM,
               tinyflow.nn.modules.rnn.GRU, tinyflow.nn.modules.linear.Linear,
               tinyflow.nn.functional.relu]


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_whole_model_saves_and_loads_under_safe_globals(tmp_path, kind):
    tinyflow.manual_seed(0)
    model = _TiedLM(kind)
    tokens = tinyflow.tensor([[1, 2, 3], [4, 5, 6]])
    tinyflow.save(model, tmp_path / "m.pt")
    with tinyflow.serialization.safe_globals(_LM_GLOBALS):
        back = tinyflow.load(tmp_path / "m.pt")
    back.rnn.flatten_parameters()           # what programs call after loading an RNN
    assert type(back) is _TiedLM and type(back.rnn) is type(model.rnn) and back.kind == kind
    assert back.decoder.weight is back.encoder.weight                   # still tied
    assert isinstance(back.encoder.weight, tinyflow.nn.Parameter)
    assert back.encoder.weight.requires_grad
    np.testing.assert_array_equal(back(tokens).detach().numpy(), model(tokens).detach().numpy())
    back.eval()
    assert not back.training and model.training   # an object of its own, not the saved one
    assert tinyflow.serialization.get_safe_globals() == []               # context undone


def test_loading_a_model_without_allowing_its_class_names_it(tmp_path):
    tinyflow.save(_TiedLM(), tmp_path / "m.pt")
    with pytest.raises(tinyflow.serialization.UnsafeGlobalError, match="_TiedLM.*safe_globals"):
        tinyflow.load(tmp_path / "m.pt")
    with tinyflow.serialization.safe_globals(_LM_GLOBALS[:1]):            # the rest missing
        with pytest.raises(tinyflow.serialization.UnsafeGlobalError, match="Embedding"):
            tinyflow.load(tmp_path / "m.pt")
    back = tinyflow.load(tmp_path / "m.pt", weights_only=False)         # the user trusts it
    assert type(back) is _TiedLM


def test_a_lambda_attribute_is_refused_at_save_naming_where_it_sits(tmp_path):
    model = _TiedLM()
    model.activation = lambda x: x
    with pytest.raises(TypeError, match="activation.*lambda"):
        tinyflow.save(model, tmp_path / "m.pt")


def test_torch_module_paths_that_safe_globals_lists_name():
    """word_language_model's allow-list spells these paths (attribute errors before)."""
    nn = tinyflow.nn
    assert nn.modules.activation.MultiheadAttention is nn.MultiheadAttention
    assert isinstance(nn.MultiheadAttention(8, 2).out_proj,
                      nn.modules.linear.NonDynamicallyQuantizableLinear)
    assert nn.modules.transformer.TransformerEncoderLayer is nn.TransformerEncoderLayer
    assert torch.nn.modules.linear.NonDynamicallyQuantizableLinear.__module__ == \
        "torch.nn.modules.linear"


# ---- torchvision's MNIST dataset and transforms (pytorch/examples mnist, vae, mnist_rnn) --

def test_vision_mnist_with_to_tensor_and_normalize_batches_as_torchvision():
    from tinyflow.datasets import get_mnist
    from tinyflow.datasets.vision import datasets, transforms
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    test = datasets.MNIST("../data", train=False, transform=tf)
    assert len(test) == 10000 and test.classes[3] == "3 - three"
    assert test.data.dtype == tinyflow.uint8 and tuple(test.data.shape) == (10000, 28, 28)
    assert test.targets.dtype == tinyflow.int64
    loader = tinyflow.utils.data.DataLoader(test, batch_size=5)
    x, y = next(iter(loader))
    assert x.dtype == tinyflow.float32 and tuple(x.shape) == (5, 1, 28, 28)
    assert y.dtype == tinyflow.int64
    ref = get_mnist(flatten=False, onehot=False).test
    want = (ref.images[:5, None] - np.float32(0.1307)) / np.float32(0.3081)
    np.testing.assert_allclose(x.numpy(), want, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(y.numpy(), ref.labels[:5])
    # the same transforms on torch tensors give torch's numbers (torchvision is not installed)
    t = torch.from_numpy(test.data.numpy()[:5, None].astype(np.float32) / 255)
    np.testing.assert_allclose(x.numpy(), ((t - 0.1307) / 0.3081).numpy(), rtol=1e-6,
                               atol=1e-6)


def test_to_tensor_of_a_color_image_and_a_bad_one():
    from tinyflow.datasets.vision import transforms
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)      # [H, W, C]
    out = transforms.ToTensor()(image)
    np.testing.assert_allclose(out.numpy(), image.transpose(2, 0, 1) / np.float32(255))
    with pytest.raises(ValueError, match="ToTensor.*shape"):
        transforms.ToTensor()(np.zeros(3))
