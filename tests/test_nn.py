"""tinyflow.nn Modules against torch.nn, driven by one table (MODULES), plus the Module API:
registration, state_dict / load_state_dict, train/eval, dtype casts, default
initializations, and Modules applied to TF1 placeholders."""
from __future__ import annotations

import copy
import math
import pickle
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest
import torch

import tinyflow
import tinyflow as tf
from tinyflow import nn
from tinyflow.nn import functional as F

from torch_oracle import (ATOL, RTOL, X, Given, Ids, Mask, assert_close, compare, copy_state,
                          param_pairs, positive, randomize, unit_interval)


@dataclass
class ModuleCase:
    """`make(lib)` builds the module with lib = torch or tinyflow; `inputs` are specs."""
    name: str
    make: Callable
    inputs: tuple
    kwargs: dict = field(default_factory=dict)
    train: bool = True
    rtol: float = RTOL
    atol: float = ATOL
    why: str = ""          # the reason for a looser tolerance
    repr: bool = True      # repr(module) equals PyTorch's


def M(name, make, *inputs, **kw) -> ModuleCase:
    return ModuleCase(name, make, inputs, **kw)


def mod(cls: str, *args, **kwargs) -> Callable:
    """Build nn.<cls>(*args, **kwargs) of whichever library."""
    return lambda L: getattr(L.nn, cls)(*args, **kwargs)


# Builders for the cases that need more than one constructor call (L: torch or tinyflow).

def mlp(L):
    return L.nn.Sequential(L.nn.Linear(4, 8), L.nn.ReLU(), L.nn.LayerNorm(8), L.nn.Linear(8, 2))


def inplace_relu(L):
    return L.nn.Sequential(L.nn.Linear(4, 3), L.nn.ReLU(inplace=True))


def small_cnn(L):
    return L.nn.Sequential(L.nn.Conv2d(1, 4, 3, padding=1), L.nn.BatchNorm2d(4), L.nn.ReLU(),
                           L.nn.MaxPool2d(2), L.nn.Flatten(), L.nn.Linear(36, 3))


def distinct_values(rng, shape):
    """No ties inside a pooling window (PyTorch and tinyflow may pick different maxima)."""
    n = int(np.prod(shape))
    return rng.permutation(n).reshape(shape) / n


CAUSAL_5 = np.triu(np.full((5, 5), -np.inf, np.float32), 1)


def transformer_decoder(L):
    layer = L.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    return L.nn.TransformerDecoder(layer, 2, norm=L.nn.LayerNorm(8))


def transformer_encoder(L):
    layer = L.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    return L.nn.TransformerEncoder(layer, 2, norm=L.nn.LayerNorm(8), enable_nested_tensor=False)


def weighted_cross_entropy(L):
    return L.nn.CrossEntropyLoss(weight=L.tensor([0.5, 1.0, 2.0, 1.5]), label_smoothing=0.2)


def weighted_nll(L):
    return L.nn.NLLLoss(weight=L.tensor([0.5, 1.0, 2.0, 1.5]), reduction="none")


def weighted_bce_with_logits(L):
    return L.nn.BCEWithLogitsLoss(weight=L.tensor([1.0, 2.0, 0.5, 1.0]),
                                  pos_weight=L.tensor([3.0, 1.0, 0.5, 2.0]), reduction="none")


MHA_TOL = dict(atol=5e-6, why="softmax of products summed in another order")

MODULES = [
    # ---- linear, conv, pooling -------------------------------------------------------------
    M("linear", mod("Linear", 4, 3), X(5, 4)),
    M("linear_no_bias", mod("Linear", 4, 3, bias=False), X(5, 4)),
    M("linear_3d_input", mod("Linear", 4, 3), X(2, 5, 4)),
    M("linear_1d_input", mod("Linear", 4, 3), X(4)),
    M("identity", mod("Identity"), X(3, 2)),
    M("conv2d", mod("Conv2d", 3, 4, 3), X(2, 3, 7, 6)),
    M("conv2d_stride_pad", mod("Conv2d", 3, 4, 3, stride=2, padding=1), X(2, 3, 7, 6)),
    M("conv2d_rect", mod("Conv2d", 2, 3, (2, 3), stride=(1, 2), padding=(1, 0)),
      X(2, 2, 5, 7)),
    M("conv2d_same_dilated", mod("Conv2d", 2, 3, 3, padding="same", dilation=2),
      X(1, 2, 7, 7)),
    M("conv2d_same_even_kernel", mod("Conv2d", 2, 3, 4, padding="same"), X(1, 2, 6, 5)),
    M("conv2d_valid", mod("Conv2d", 2, 3, 3, padding="valid"), X(1, 2, 5, 5)),
    M("conv2d_groups_no_bias", mod("Conv2d", 4, 6, 3, groups=2, bias=False),
      X(2, 4, 5, 5)),
    M("conv2d_reflect", mod("Conv2d", 2, 3, 3, padding=1, padding_mode="reflect"),
      X(1, 2, 5, 5)),
    M("conv2d_circular", mod("Conv2d", 2, 3, 3, padding=2, padding_mode="circular"),
      X(1, 2, 5, 5)),
    M("conv2d_unbatched", mod("Conv2d", 2, 3, 3), X(2, 5, 5)),
    M("conv1d", mod("Conv1d", 3, 4, 3, stride=2, padding=1), X(2, 3, 9)),
    M("maxpool2d", mod("MaxPool2d", 2), X(2, 3, 6, 6)),
    M("maxpool2d_ceil_pad", mod("MaxPool2d", 3, stride=2, padding=1, ceil_mode=True),
      X(2, 3, 6, 7)),
    M("maxpool2d_dilation", mod("MaxPool2d", 2, stride=1, dilation=2), X(1, 2, 6, 6)),
    M("avgpool2d", mod("AvgPool2d", 2), X(2, 3, 6, 6)),
    M("avgpool2d_no_pad_count", mod("AvgPool2d", 3, 2, 1, count_include_pad=False),
      X(2, 3, 7, 6)),
    M("avgpool2d_divisor", mod("AvgPool2d", 2, divisor_override=3), X(1, 2, 4, 4)),
    M("adaptive_avgpool2d", mod("AdaptiveAvgPool2d", (2, 3)), X(2, 3, 5, 7)),
    M("adaptive_avgpool2d_global", mod("AdaptiveAvgPool2d", 1), X(2, 3, 5, 4)),
    M("adaptive_avgpool2d_none", mod("AdaptiveAvgPool2d", (None, 2)), X(1, 2, 3, 5)),
    M("flatten", mod("Flatten"), X(2, 3, 4)),
    M("flatten_0_1", mod("Flatten", 0, 1), X(2, 3, 4)),
    M("unflatten", mod("Unflatten", 1, (2, 3)), X(4, 6)),
    # ---- normalization -----------------------------------------------------------------------
    M("batchnorm1d", mod("BatchNorm1d", 4), X(8, 4)),
    M("batchnorm1d_3d", mod("BatchNorm1d", 3), X(4, 3, 5)),
    M("batchnorm2d", mod("BatchNorm2d", 3), X(4, 3, 5, 5)),
    M("batchnorm2d_eval", mod("BatchNorm2d", 3), X(4, 3, 5, 5), train=False),
    M("batchnorm2d_eval_empty_batch", mod("BatchNorm2d", 3), X(0, 3, 5, 5), train=False),
    M("batchnorm1d_eval", mod("BatchNorm1d", 4), X(6, 4), train=False),
    M("batchnorm2d_no_affine", mod("BatchNorm2d", 3, affine=False), X(2, 3, 4, 4)),
    M("batchnorm2d_cumulative", mod("BatchNorm2d", 3, momentum=None), X(2, 3, 4, 4)),
    M("batchnorm2d_no_stats", mod("BatchNorm2d", 3, track_running_stats=False),
      X(2, 3, 4, 4)),
    M("batchnorm2d_no_stats_eval", mod("BatchNorm2d", 3, track_running_stats=False),
      X(2, 3, 4, 4), train=False),
    M("layernorm", mod("LayerNorm", 4), X(5, 4)),
    M("layernorm_2d_shape", mod("LayerNorm", (3, 4), eps=1e-3), X(2, 3, 4)),
    M("layernorm_no_affine", mod("LayerNorm", 4, elementwise_affine=False), X(3, 4)),
    M("layernorm_no_bias", mod("LayerNorm", 4, bias=False), X(3, 4)),
    M("groupnorm", mod("GroupNorm", 2, 4), X(3, 4, 5)),
    M("rmsnorm", mod("RMSNorm", 4), X(3, 4)),
    # ---- embedding, dropout, activations -------------------------------------------------------
    M("embedding", mod("Embedding", 10, 3), Ids(10, 4, 5)),
    M("embedding_padding", mod("Embedding", 10, 3, padding_idx=0),
      Given(np.array([[0, 2, 0], [5, 0, 9]]))),
    M("embedding_negative_padding", mod("Embedding", 6, 2, padding_idx=-1),
      Given(np.array([5, 1, 5]))),
    M("dropout_eval", mod("Dropout", 0.5), X(4, 5), train=False),
    M("dropout_p0", mod("Dropout", 0.0), X(4, 5)),
    M("relu", mod("ReLU"), X(4, 5)),
    M("relu6", mod("ReLU6"), X(4, 5, domain=lambda r, s: r.uniform(-9, 9, s))),
    M("leaky_relu", mod("LeakyReLU", 0.2), X(4, 5)),
    M("elu", mod("ELU", 0.7), X(4, 5)),
    M("gelu", mod("GELU"), X(4, 5)),
    M("gelu_tanh", mod("GELU", approximate="tanh"), X(4, 5)),
    M("silu", mod("SiLU"), X(4, 5)),
    M("softplus", mod("Softplus", beta=2.0, threshold=3.0), X(4, 5)),
    M("tanh", mod("Tanh"), X(4, 5)),
    M("sigmoid", mod("Sigmoid"), X(4, 5)),
    M("softmax", mod("Softmax", dim=1), X(3, 4, 2)),
    M("log_softmax", mod("LogSoftmax", dim=-1), X(3, 4)),
    # ---- containers ----------------------------------------------------------------------------
    M("sequential_mlp", mlp, X(5, 4)),
    M("sequential_inplace_relu", inplace_relu, X(5, 4)),
    M("sequential_cnn", small_cnn, X(2, 1, 6, 6)),
    # ---- recurrent -------------------------------------------------------------------------------
    M("lstm", mod("LSTM", 4, 5), X(6, 3, 4)),
    M("lstm_2_layers_batch_first_h0", mod("LSTM", 4, 5, 2, batch_first=True),
      X(3, 6, 4), (X(2, 3, 5), X(2, 3, 5))),
    M("lstm_bidirectional", mod("LSTM", 3, 4, 2, bidirectional=True), X(5, 2, 3)),
    M("lstm_unbatched", mod("LSTM", 3, 4), X(5, 3), (X(1, 4), X(1, 4))),
    M("lstm_no_bias", mod("LSTM", 3, 4, bias=False), X(5, 2, 3)),
    M("lstm_cell", mod("LSTMCell", 3, 4), X(2, 3), (X(2, 4), X(2, 4))),
    M("lstm_cell_no_state", mod("LSTMCell", 3, 4), X(2, 3)),
    M("lstm_cell_unbatched", mod("LSTMCell", 3, 4), X(3), (X(4), X(4))),
    M("gru", mod("GRU", 4, 5, 2, bidirectional=True, batch_first=True), X(2, 6, 4)),
    M("gru_h0", mod("GRU", 3, 4), X(5, 2, 3), X(1, 2, 4)),
    M("gru_cell", mod("GRUCell", 3, 4), X(2, 3), X(2, 4)),
    M("gru_cell_unbatched", mod("GRUCell", 3, 4), X(3), X(4)),
    M("rnn_relu", mod("RNN", 3, 4, 2, nonlinearity="relu"), X(5, 2, 3)),
    M("rnn_cell", mod("RNNCell", 3, 4), X(2, 3)),
    # ---- attention -------------------------------------------------------------------------------
    M("mha", mod("MultiheadAttention", 8, 2), X(5, 3, 8), X(6, 3, 8), X(6, 3, 8),
      **MHA_TOL),
    M("mha_self_batch_first", mod("MultiheadAttention", 8, 4, batch_first=True),
      X(2, 5, 8), X(2, 5, 8), X(2, 5, 8), **MHA_TOL),
    M("mha_cross_batch_first_padding", mod("MultiheadAttention", 6, 2, batch_first=True),
      X(3, 4, 6), X(3, 5, 6), X(3, 5, 6), kwargs=dict(key_padding_mask=Mask(3, 5),
                                                      need_weights=False), **MHA_TOL),
    M("mha_key_padding_mask", mod("MultiheadAttention", 6, 2), X(4, 2, 6), X(5, 2, 6),
      X(5, 2, 6), kwargs=dict(key_padding_mask=Mask(2, 5)), **MHA_TOL),
    M("mha_float_masks", mod("MultiheadAttention", 6, 3), X(4, 2, 6), X(5, 2, 6),
      X(5, 2, 6), kwargs=dict(attn_mask=X(4, 5, grad=False),
                              key_padding_mask=X(2, 5, grad=False)), **MHA_TOL),
    M("mha_causal", mod("MultiheadAttention", 6, 2), X(4, 2, 6), X(4, 2, 6),
      X(4, 2, 6), kwargs=dict(attn_mask=Given(np.triu(np.ones((4, 4), bool), 1)),
                              is_causal=True), **MHA_TOL),
    M("mha_3d_mask_per_head", mod("MultiheadAttention", 6, 2), X(4, 2, 6),
      X(5, 2, 6), X(5, 2, 6), kwargs=dict(attn_mask=Mask(4, 4, 5)), **MHA_TOL),
    M("mha_weights_per_head", mod("MultiheadAttention", 6, 2), X(4, 2, 6),
      X(5, 2, 6), X(5, 2, 6), kwargs=dict(average_attn_weights=False), **MHA_TOL),
    M("mha_no_weights", mod("MultiheadAttention", 6, 2), X(4, 2, 6), X(5, 2, 6),
      X(5, 2, 6), kwargs=dict(need_weights=False), **MHA_TOL),
    M("mha_kdim_vdim_no_bias", mod("MultiheadAttention", 6, 2, bias=False, kdim=4,
                                                                 vdim=3),
      X(4, 2, 6), X(5, 2, 4), X(5, 2, 3), **MHA_TOL),
    M("mha_unbatched", mod("MultiheadAttention", 6, 2), X(4, 6), X(5, 6), X(5, 6),
      **MHA_TOL),
    M("transformer_layer_post_norm", mod("TransformerEncoderLayer", 8, 2, 16, dropout=0.0),
      X(5, 3, 8), **MHA_TOL),
    M("transformer_layer_pre_norm_gelu_causal",
      mod("TransformerEncoderLayer", 8, 4, 12, dropout=0.0, activation="gelu",
          batch_first=True, norm_first=True),
      X(2, 5, 8), kwargs=dict(src_mask=Given(np.triu(np.full((5, 5), -np.inf, np.float32), 1)),
                              is_causal=True), **MHA_TOL),
    M("transformer_encoder_padding_final_norm", transformer_encoder, X(2, 4, 8),
      kwargs=dict(src_key_padding_mask=Mask(2, 4)), **MHA_TOL),
    M("transformer_decoder_layer_post_norm_causal",
      mod("TransformerDecoderLayer", 8, 2, 16, dropout=0.0),
      X(5, 3, 8), X(4, 3, 8), kwargs=dict(tgt_mask=Given(CAUSAL_5),
                                          memory_key_padding_mask=Mask(3, 4)), **MHA_TOL),
    M("transformer_decoder_layer_pre_norm_gelu",
      mod("TransformerDecoderLayer", 8, 4, 12, dropout=0.0, activation="gelu",
          batch_first=True, norm_first=True),
      X(2, 5, 8), X(2, 3, 8), kwargs=dict(tgt_key_padding_mask=Mask(2, 5)), **MHA_TOL),
    M("transformer_decoder_final_norm", transformer_decoder, X(2, 5, 8), X(2, 4, 8),
      kwargs=dict(tgt_mask=Given(CAUSAL_5), tgt_is_causal=True), **MHA_TOL),
    M("transformer_encoder_decoder", mod("Transformer", 8, 2, 2, 2, 16, dropout=0.0),
      X(6, 2, 8), X(5, 2, 8), kwargs=dict(tgt_mask=Given(CAUSAL_5),
                                          src_key_padding_mask=Mask(2, 6)), **MHA_TOL),
    M("transformer_batch_first_pre_norm", mod("Transformer", 8, 4, 1, 2, 12, dropout=0.0,
                                              batch_first=True, norm_first=True),
      X(2, 6, 8), X(2, 5, 8), **MHA_TOL),
    M("conv_transpose", mod("ConvTranspose2d", 3, 4, 3), X(2, 3, 5, 5)),
    M("conv_transpose_stride_pad_outpad", mod("ConvTranspose2d", 4, 2, 3, stride=2, padding=1,
                                              output_padding=1), X(2, 4, 4, 5)),
    M("conv_transpose_groups_dilation_no_bias",
      mod("ConvTranspose2d", 4, 6, (2, 3), stride=(1, 2), groups=2, dilation=2, bias=False),
      X(1, 4, 3, 4)),
    M("conv_transpose_unbatched", mod("ConvTranspose2d", 2, 3, 2, stride=2), X(2, 3, 3)),
    M("maxpool1d", mod("MaxPool1d", 3, 2, padding=1), X(2, 3, 9, domain=distinct_values)),
    M("maxpool1d_unbatched_dilation", mod("MaxPool1d", 2, dilation=2), X(3, 8,
                                                                        domain=distinct_values)),
    M("mish", mod("Mish"), X(3, 4)),
    M("logsigmoid", mod("LogSigmoid"), X(3, 4)),
    M("softsign", mod("Softsign"), X(3, 4)),
    M("hardtanh", mod("Hardtanh", -0.5, 0.8), X(3, 4)),
    M("glu", mod("GLU", 0), X(4, 3)),
    # ---- losses ------------------------------------------------------------------------------
    M("cross_entropy", mod("CrossEntropyLoss"), X(5, 4), Ids(4, 5)),
    M("cross_entropy_weight_smoothing", weighted_cross_entropy, X(5, 4), Ids(4, 5)),
    M("cross_entropy_ignore", mod("CrossEntropyLoss", ignore_index=1),
      X(5, 4), Given(np.array([1, 0, 3, 1, 2]))),
    M("cross_entropy_sum_spatial", mod("CrossEntropyLoss", reduction="sum"),
      X(2, 4, 3, 3), Ids(4, 2, 3, 3)),
    M("cross_entropy_probs", mod("CrossEntropyLoss", label_smoothing=0.1),
      X(5, 4), X(5, 4, grad=False, domain=lambda r, s: r.dirichlet(np.ones(4), 5))),
    M("nll", weighted_nll, X(5, 4), Ids(4, 5)),
    M("mse", mod("MSELoss"), X(3, 4), X(3, 4)),
    M("l1_sum", mod("L1Loss", reduction="sum"), X(3, 4), X(3, 4)),
    M("smooth_l1", mod("SmoothL1Loss", beta=0.5), X(3, 4), X(3, 4)),
    M("huber", mod("HuberLoss", delta=0.7), X(3, 4), X(3, 4)),
    M("bce", mod("BCELoss"), X(3, 4, domain=unit_interval),
      X(3, 4, grad=False, domain=unit_interval)),
    M("bce_with_logits", mod("BCEWithLogitsLoss"), X(3, 4),
      X(3, 4, grad=False, domain=unit_interval)),
    M("bce_with_logits_weights", weighted_bce_with_logits, X(3, 4),
      X(3, 4, grad=False, domain=unit_interval)),
    M("kl_div", mod("KLDivLoss", reduction="batchmean"), X(3, 4),
      X(3, 4, grad=False, domain=positive)),
]


def _build(case: ModuleCase):
    torch.manual_seed(0)
    tm, m = case.make(torch), case.make(tinyflow)
    randomize(tm, np.random.default_rng(1))
    copy_state(tm, m)
    tm.train(case.train)
    m.train(case.train)
    return tm, m


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("case", MODULES, ids=[c.name for c in MODULES])
def test_module_matches_torch(case):
    tm, m = _build(case)
    assert list(m.state_dict()) == list(tm.state_dict())
    if case.repr:
        assert repr(m) == repr(tm)
    compare(tm, m, case.inputs, case.kwargs, params=param_pairs(tm, m), rtol=case.rtol,
            atol=case.atol)
    for key, value in tm.state_dict().items():  # running statistics after the step
        assert_close(m.state_dict()[key].numpy(), value.numpy(), f"state {key}")


def test_looser_tolerances_say_why():
    for case in MODULES:
        assert (case.rtol, case.atol) == (RTOL, ATOL) or case.why, case.name


# ---- Parameter and registration ---------------------------------------------------------------

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.block = nn.Sequential(nn.ReLU(), nn.Linear(3, 2))
        self.scale = nn.Parameter(tf.ones(2))
        self.register_buffer("steps", tf.zeros(()))
        self.register_buffer("cache", tf.zeros(2), persistent=False)

    def forward(self, x):
        return self.block(self.fc1(x)) * self.scale


def test_parameter_is_a_tensor_that_requires_grad():
    p = nn.Parameter(tf.randn(2, 3))
    assert isinstance(p, tf.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert not nn.Parameter(tf.zeros(2), requires_grad=False).requires_grad
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(tf.tensor([1, 2]))
    y = (p * 2).sum()
    y.backward()
    assert type(p * 2) is tf.Tensor and np.allclose(p.grad.numpy(), 2)


def test_registration_and_traversal():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "scale", "fc1.weight", "fc1.bias", "block.1.weight", "block.1.bias"]
    assert [n for n, _ in net.named_buffers()] == ["steps", "cache"]
    assert list(net.state_dict()) == ["scale", "steps", "fc1.weight", "fc1.bias",
                                      "block.1.weight", "block.1.bias"]
    assert [n for n, _ in net.named_children()] == ["fc1", "block"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "block", "block.0", "block.1"]
    assert len(list(net.modules())) == 5 and len(list(net.parameters(recurse=False))) == 1
    net.fc1 = None
    assert "fc1" not in dict(net.named_children())
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'scale'"):
        net.scale = tf.ones(2)
    net.extra = nn.Parameter(tf.zeros(1))
    assert "extra" in dict(net.named_parameters())
    del net.extra
    assert "extra" not in dict(net.named_parameters())
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        net.missing
    with pytest.raises(KeyError, match="already exists"):
        net.register_buffer("block", tf.zeros(1))


def test_assigning_before_init_fails():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)
            super().__init__()

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Bad()


def test_tied_parameters_are_listed_once():
    enc, dec = nn.Linear(4, 4), nn.Linear(4, 4)
    dec.weight = enc.weight
    model = nn.Sequential(enc, dec)
    assert len(list(model.parameters())) == 3
    assert len(model.state_dict()) == 4  # state_dict keeps both names, as PyTorch


def test_repr_matches_torch_for_a_nested_model():
    def make(L):
        return L.nn.Sequential(L.nn.Conv2d(1, 8, 3, padding=1, bias=False),
                               L.nn.BatchNorm2d(8), L.nn.ReLU(inplace=True),
                               L.nn.Sequential(L.nn.Dropout(0.25), L.nn.Linear(8, 2)),
                               L.nn.Embedding(10, 3, padding_idx=0),
                               L.nn.LSTM(3, 4, num_layers=2, batch_first=True),
                               L.nn.ModuleList([L.nn.Tanh(), L.nn.GELU("tanh")]),
                               L.nn.ModuleDict({"a": L.nn.Identity()}),
                               L.nn.CrossEntropyLoss())
    assert repr(make(tinyflow)) == repr(make(torch))


def test_containers():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    seq.append(nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear)
    assert isinstance(seq[1:], nn.Sequential) and len(seq[1:]) == 2
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight",
                                                      "2.bias"]
    assert seq(tf.randn(4, 2)).shape == (4, 1)
    del seq[1]
    assert list(seq._modules) == ["0", "1"]
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    layers.append(nn.Linear(2, 1))
    assert len(layers) == 4 and len(list(layers.parameters())) == 8
    assert [type(m).__name__ for m in layers[2:]] == ["Linear", "Linear"]
    heads = nn.ModuleDict({"a": nn.Linear(2, 1)})
    heads["b"] = nn.Linear(2, 3)
    assert list(heads.keys()) == ["a", "b"] and "b" in heads
    assert [n for n, _ in heads.named_parameters()][:2] == ["a.weight", "a.bias"]
    from collections import OrderedDict
    named = nn.Sequential(OrderedDict(fc=nn.Linear(2, 2), act=nn.Tanh()))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]
    params = nn.ParameterList([nn.Parameter(tf.zeros(2)), tf.ones(3)])
    assert [tuple(p.shape) for p in params.parameters()] == [(2,), (3,)]


# ---- state_dict ------------------------------------------------------------------------------

def test_state_dict_is_detached_and_shares_memory():
    model = nn.Linear(3, 2)
    sd = model.state_dict()
    assert not sd["weight"].requires_grad
    with tf.no_grad():
        model.weight.fill_(1.5)
    assert np.all(sd["weight"].numpy() == 1.5)
    assert model.state_dict(keep_vars=True)["weight"] is model.weight


def test_load_state_dict_copies_in_place_and_reports_keys():
    model, other = Net(), Net()
    weight = model.fc1.weight
    result = model.load_state_dict(other.state_dict())
    assert model.fc1.weight is weight
    assert np.array_equal(weight.detach().numpy(), other.fc1.weight.detach().numpy())
    assert result.missing_keys == [] and result.unexpected_keys == []
    sd = other.state_dict()
    del sd["fc1.bias"]
    sd["extra.weight"] = np.zeros(2)
    result = model.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["fc1.bias"] and result.unexpected_keys == ["extra.weight"]


def test_load_state_dict_errors_name_the_keys():
    model = nn.Sequential(nn.Linear(3, 2))
    with pytest.raises(RuntimeError, match=r'keys missing from the state_dict: "0.bias"') as e:
        model.load_state_dict({"0.weight": np.zeros((2, 3)), "1.weight": np.zeros(1)})
    assert 'keys the module does not have: "1.weight"' in str(e.value)
    assert "load_state_dict into Sequential (strict=True)" in str(e.value)
    with pytest.raises(RuntimeError, match=r"0.weight: the state_dict holds shape \[4, 3\], "
                                           r"the module \[2, 3\]"):
        model.load_state_dict({"0.weight": np.zeros((4, 3)), "0.bias": np.zeros(2)},
                              strict=False)


def test_state_dict_round_trips_with_torch():
    def make(L):
        return L.nn.Sequential(L.nn.Conv2d(1, 2, 3), L.nn.BatchNorm2d(2), L.nn.Flatten(),
                               L.nn.Linear(8, 3))
    tm, m = make(torch), make(tinyflow)
    m.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    tm.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in
                        m.state_dict().items()})
    assert m.state_dict()["1.num_batches_tracked"].dtype == tf.int64
    x = np.random.default_rng(0).standard_normal((2, 1, 4, 4)).astype(np.float32)
    assert_close(m(tf.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(), "output")


def test_deepcopy_and_pickle():
    model = Net()
    clone = copy.deepcopy(model)
    assert clone.fc1.weight is not model.fc1.weight
    assert isinstance(clone.fc1.weight, nn.Parameter)
    assert np.array_equal(clone.fc1.weight.detach().numpy(), model.fc1.weight.detach().numpy())
    restored = pickle.loads(pickle.dumps(model))
    x = tf.randn(2, 4)
    assert np.allclose(restored(x).detach().numpy(), model(x).detach().numpy())


# ---- modes, grads, dtypes -------------------------------------------------------------------

def test_train_eval_switches_dropout_and_batchnorm():
    model = nn.Sequential(nn.BatchNorm1d(50), nn.Dropout(0.5))
    x = tf.randn(400, 50) * 3 + 1
    assert model.training and all(m.training for m in model.modules())
    y = model(x).detach().numpy()
    zeros = np.mean(y == 0)
    assert 0.45 < zeros < 0.55
    kept = y[y != 0]  # batch-normalized, then scaled by 1 / (1 - p)
    assert abs(np.mean(kept ** 2) - 4.0) < 0.3
    bn = model[0]
    assert int(bn.num_batches_tracked) == 1
    assert np.allclose(bn.running_mean.numpy(), 0.1 * x.numpy().mean(0), atol=1e-5)
    assert model.eval() is model and not any(m.training for m in model.modules())
    y_eval = model(x).detach().numpy()
    expect = (x.numpy() - bn.running_mean.numpy()) / np.sqrt(bn.running_var.numpy() + 1e-5)
    assert np.allclose(y_eval, expect, atol=1e-5)
    assert int(bn.num_batches_tracked) == 1


def test_dropout_functional_scales_and_is_fresh_each_call():
    x = tf.ones(1000, 10)
    a, b = F.dropout(x, 0.3).numpy(), F.dropout(x, 0.3).numpy()
    assert set(np.unique(a)) <= {0.0, np.float32(1 / 0.7)}
    assert abs(a.mean() - 1.0) < 0.03 and not np.array_equal(a, b)
    assert F.dropout(x, 0.3, training=False) is x
    assert np.all(F.dropout(x, 1.0).numpy() == 0)
    with pytest.raises(ValueError, match="dropout: p=1.5 is not a probability"):
        nn.Dropout(1.5)


def test_dropout_gradient_follows_the_mask():
    x = tf.ones(50, 20, requires_grad=True)
    y = F.dropout(x, 0.5)
    y.sum().backward()
    assert np.array_equal(x.grad.numpy(), y.detach().numpy())


def test_zero_grad_and_requires_grad():
    model = nn.Linear(3, 2)
    model(tf.randn(4, 3)).sum().backward()
    assert model.weight.grad is not None
    model.zero_grad(set_to_none=False)
    assert np.all(model.weight.grad.numpy() == 0)
    model.zero_grad()
    assert model.weight.grad is None
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())
    assert not model(tf.randn(4, 3)).requires_grad


def test_to_double_keeps_parameter_identity():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    weight = model[0].weight
    assert model.to(tf.float64) is model
    assert model[0].weight is weight and weight.dtype == tf.float64
    assert model[1].running_mean.dtype == tf.float64
    assert model[1].num_batches_tracked.dtype == tf.int64  # integers are not cast
    out = model(tf.randn(4, 3, dtype=tf.float64))
    assert out.dtype == tf.float64
    out.sum().backward()
    assert weight.grad.dtype == tf.float64
    model.float()
    assert weight.dtype == tf.float32 and weight.grad.dtype == tf.float32
    assert model.to("cpu") is model
    with pytest.raises(RuntimeError, match="not available"):
        model.to("cuda")
    with pytest.raises(TypeError, match="floating point"):
        model.to(tf.int64)


def test_apply_visits_every_module():
    model = nn.Sequential(nn.Linear(3, 3), nn.Sequential(nn.Linear(3, 3)))

    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.weight, 0.5)

    model.apply(init_weights)
    assert all(np.all(p.detach().numpy() == 0.5) for n,
               p in model.named_parameters() if "weight" in n)


def test_custom_module_trains_with_autograd():
    tf.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    x = tf.randn(64, 2)
    y = x[:, :1] * x[:, 1:]
    first = None
    for _ in range(200):
        loss = F.mse_loss(model(x), y)
        first = loss.item() if first is None else first
        model.zero_grad()
        loss.backward()
        with tf.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
    assert loss.item() < 0.3 * first


# ---- default initializations -------------------------------------------------------------------

def _within(t, bound) -> bool:
    a = t.detach().numpy()
    return np.abs(a).max() <= bound and np.abs(a).max() > 0.9 * bound


def test_default_initializations_have_pytorchs_statistics():
    tf.manual_seed(0)
    lin = nn.Linear(256, 128)
    assert _within(lin.weight, 1 / 16) and _within(lin.bias, 1 / 16)
    assert abs(lin.weight.detach().numpy().std() - 1 / 16 / math.sqrt(3)) < 0.002
    conv = nn.Conv2d(16, 32, 3)
    assert _within(conv.weight, 1 / 12) and _within(conv.bias, 1 / 12)
    emb = nn.Embedding(1000, 16, padding_idx=3)
    w = emb.weight.detach().numpy()
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02 and np.all(w[3] == 0)
    lstm = nn.LSTM(8, 25, 2)
    assert all(_within(p, 1 / 5) for p in lstm.parameters())
    mha = nn.MultiheadAttention(32, 4)
    assert _within(mha.in_proj_weight, math.sqrt(6 / (32 + 96)))
    assert np.all(mha.in_proj_bias.detach().numpy() == 0)
    assert np.all(mha.out_proj.bias.detach().numpy() == 0)
    assert _within(mha.out_proj.weight, 1 / math.sqrt(32))
    ln, bn = nn.LayerNorm(5), nn.BatchNorm2d(5)
    for norm in (ln, bn):
        assert np.all(norm.weight.detach().numpy() == 1) and np.all(norm.bias.detach().numpy() == 0)
    assert np.all(bn.running_var.numpy() == 1) and bn.num_batches_tracked.dtype == tf.int64


def test_manual_seed_makes_initialization_repeatable():
    tf.manual_seed(3)
    a = nn.Linear(4, 4).weight.detach().numpy().copy()
    tf.manual_seed(3)
    assert np.array_equal(nn.Linear(4, 4).weight.detach().numpy(), a)


# ---- Modules on TF1 placeholders --------------------------------------------------------------

def _mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.LayerNorm(8), nn.Linear(8, 3))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cls", ["LSTMCell", "GRUCell"])
def test_cell_double_backward_matches_torch(cls, dtype):
    """Two steps of a cell, then the gradient of a function of the gradients (create_graph):
    the fused cells' backward is differentiable (ops/rnn_cell.py)."""
    rng = np.random.default_rng(5)
    tm = getattr(torch.nn, cls)(3, 4).to(getattr(torch, dtype))
    randomize(tm, rng)
    m = getattr(nn, cls)(3, 4).to(getattr(tf, dtype))
    copy_state(tm, m)
    arrays = [rng.standard_normal(s).astype(dtype) for s in ((2, 3), (2, 4), (2, 4))]

    def run(lib, cell, params):
        x, h, c = (lib.tensor(a, requires_grad=True) for a in arrays)
        state = (h, c) if cls == "LSTMCell" else h
        for _ in range(2):
            state = cell(x, state)
        out = state[0] * state[1] if cls == "LSTMCell" else state * state
        inputs = [x, h, c][:3 if cls == "LSTMCell" else 2] + params
        grads = lib.autograd.grad(out.sum(), inputs, create_graph=True)
        second = lib.autograd.grad(sum((g * g).sum() for g in grads), inputs)
        return [t.detach().numpy() for t in grads + second]
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    for ours, theirs in zip(run(tf, m, list(m.parameters())),
                            run(torch, tm, list(tm.parameters()))):
        np.testing.assert_allclose(ours, theirs, **tol)


@pytest.mark.parametrize("cls", ["LSTMCell", "GRUCell"])
def test_cell_state_without_grad_does_not_keep_the_workspace(cls):
    """Under no_grad a cell's h' (and c') own their memory: a loop keeping every step's h'
    must not keep every step's packed gate planes alive too; values as with gradients."""
    cell = getattr(nn, cls)(3, 4)
    x, h = tf.randn(2, 3), tf.randn(2, 4)
    state = (h, tf.randn(2, 4)) if cls == "LSTMCell" else h
    with tf.no_grad():
        quiet = cell(x, state)
    recorded = cell(x, state)
    for q, r in zip(*(s if cls == "LSTMCell" else (s,) for s in (quiet, recorded))):
        owner = q.numpy()
        while owner.base is not None:
            owner = owner.base
        assert owner.nbytes == q.numpy().nbytes
        np.testing.assert_array_equal(q.numpy(), r.detach().numpy())


def test_cell_on_placeholders_of_unknown_batch():
    cell = nn.LSTMCell(3, 4)
    rng = np.random.default_rng(2)
    xs, hs, cs = (rng.standard_normal(s).astype(np.float32) for s in ((5, 3), (5, 4), (5, 4)))
    x, h, c = (tf.placeholder(tf.float32, [None, n]) for n in (3, 4, 4))
    h1, c1 = cell(x, (h, c))
    grads = tf.gradients(tf.reduce_sum(h1 * c1), [x, cell.weight_hh])
    eager = [tf.tensor(a, requires_grad=True) for a in (xs, hs, cs)]
    e1, f1 = cell(eager[0], (eager[1], eager[2]))
    eager_grads = tf.autograd.grad((e1 * f1).sum(), [eager[0], cell.weight_hh])
    with tf.Session() as sess:
        values = sess.run(grads, {x: xs, h: hs, c: cs})
    for got, want in zip(values, eager_grads):
        assert_close(got, want.numpy(), "gradient")


def test_module_on_placeholders_matches_eager_and_reads_parameters_by_reference():
    tf.manual_seed(0)
    model = _mlp()
    rng = np.random.default_rng(0)
    xs, ys = rng.standard_normal((6, 4)).astype(np.float32), rng.integers(0, 3, 6)
    x = tf.placeholder(tf.float32, [None, 4])
    y = tf.placeholder(tf.int64, [None])
    loss = F.cross_entropy(model(x), y)
    params = list(model.parameters())
    grads = tf.gradients(loss, params)
    eager = F.cross_entropy(model(tf.tensor(xs)), tf.tensor(ys))
    eager.backward()
    with tf.Session() as sess:
        values = sess.run([loss] + grads, {x: xs, y: ys})
        assert_close(values[0], eager.detach().numpy(), "loss")
        for p, g in zip(params, values[1:]):
            assert_close(g, p.grad.numpy(), "gradient")
        with tf.no_grad():
            model[3].bias.add_(1.0)  # a graph reads the parameter's current value
        logits = sess.run(model(x), {x: xs})
        assert_close(logits, model(tf.tensor(xs)).detach().numpy(), "logits after update")


def test_graph_training_loop_with_module_parameters():
    tf.manual_seed(1)
    model = _mlp()
    rng = np.random.default_rng(1)
    xs = rng.standard_normal((32, 4)).astype(np.float32)
    ys = (xs[:, 0] > 0).astype(np.int64) + (xs[:, 1] > 0)
    x, y = tf.placeholder(tf.float32, [None, 4]), tf.placeholder(tf.int64, [None])
    loss = F.cross_entropy(model(x), y)
    params = list(model.parameters())
    updates = [tf.assign_sub(p, 0.2 * g) for p, g in zip(params, tf.gradients(loss, params))]
    step = tf.group(*updates)
    with tf.Session() as sess:
        first = sess.run(loss, {x: xs, y: ys})
        for _ in range(60):
            sess.run(step, {x: xs, y: ys})
        last = sess.run(loss, {x: xs, y: ys})
    assert last < 0.5 * first
    eager = F.cross_entropy(model(tf.tensor(xs)), tf.tensor(ys)).item()
    assert abs(eager - last) < 1e-5  # the session trained the eager parameters in place


def test_recurrent_and_attention_modules_on_placeholders():
    tf.manual_seed(2)
    lstm, mha = nn.LSTM(3, 4, batch_first=True), nn.MultiheadAttention(4, 2, batch_first=True)
    xs = np.random.default_rng(2).standard_normal((2, 5, 3)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 5, 3])
    out, (h, c) = lstm(x)
    att, weights = mha(out, out, out)
    grads = tf.gradients(tf.reduce_sum(att), list(lstm.parameters()))
    e_out, _ = lstm(tf.tensor(xs))
    e_att, e_weights = mha(e_out, e_out, e_out)
    e_att.sum().backward()
    with tf.Session() as sess:
        values = sess.run([att, weights] + grads, {x: xs})
    assert_close(values[0], e_att.detach().numpy(), "attention output")
    assert_close(values[1], e_weights.detach().numpy(), "attention weights")
    for p, g in zip(lstm.parameters(), values[2:]):
        assert_close(g, p.grad.numpy(), "lstm gradient")


def test_lstm_graph_takes_sequences_of_any_length():
    """The fused LSTM needs neither the batch nor the number of steps when the graph is
    built: one graph runs sequences of 3 and 7 steps, with the eager module's gradients."""
    tf.manual_seed(4)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    x = tf.placeholder(tf.float32, [None, None, 3])
    out, (h, c) = lstm(x)
    loss = tf.reduce_sum(out * out) + tf.reduce_sum(h) + tf.reduce_sum(c * c)
    grads = tf.gradients(loss, list(lstm.parameters()))
    rng = np.random.default_rng(4)
    with tf.Session() as sess:
        for steps, batch in ((3, 2), (7, 1)):
            xs = rng.standard_normal((steps, batch, 3)).astype(np.float32)
            values = sess.run([out] + grads, {x: xs})
            for p in lstm.parameters():
                p.grad = None
            e_out, (e_h, e_c) = lstm(tf.tensor(xs))
            ((e_out * e_out).sum() + e_h.sum() + (e_c * e_c).sum()).backward()
            assert values[0].shape == (steps, batch, 8)
            assert_close(values[0], e_out.detach().numpy(), "output")
            for p, g in zip(lstm.parameters(), values[1:]):
                assert_close(g, p.grad.numpy(), "lstm gradient")


def test_batchnorm_on_placeholders_updates_running_stats_via_update_ops():
    bn = nn.BatchNorm1d(3)
    xs = np.random.default_rng(3).standard_normal((10, 3)).astype(np.float32) + 2
    x = tf.placeholder(tf.float32, [None, 3])  # the count for unbiasing is taken per run
    y = bn(x)
    updates = tf.get_default_graph().get_collection("update_ops")
    assert len(updates) == 2
    with tf.Session() as sess:
        out = sess.run([y] + updates, {x: xs})[0]
    expect = (xs - xs.mean(0)) / np.sqrt(xs.var(0) + 1e-5)
    assert_close(out, expect, "normalized", atol=1e-5)
    assert_close(bn.running_mean.numpy(), 0.1 * xs.mean(0), "running mean")
    assert_close(bn.running_var.numpy(), 0.9 + 0.1 * xs.var(0, ddof=1), "running var")
    bn.eval()
    with tf.Session() as sess:
        out = sess.run(bn(x), {x: xs})
    expect = (xs - bn.running_mean.numpy()) / np.sqrt(bn.running_var.numpy() + 1e-5)
    assert_close(out, expect, "eval", atol=1e-5)


def test_causal_mask_matches_torch_transformer_mask():
    np.testing.assert_array_equal(nn.Transformer.generate_square_subsequent_mask(4).numpy(),
                                  torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())


def test_transformer_refuses_mismatched_src_and_tgt_naming_the_shapes():
    model = nn.Transformer(8, 2, 1, 1, 16, dropout=0.0)
    with pytest.raises(RuntimeError, match=r"differ in batch size.*\(6, 2, 8\).*\(5, 3, 8\)"):
        model(tf.zeros(6, 2, 8), tf.zeros(5, 3, 8))
    with pytest.raises(RuntimeError, match=r"must be d_model \(8\).*\(5, 2, 4\)"):
        model(tf.zeros(6, 2, 8), tf.zeros(5, 2, 4))
    assert all(p.abs().max().item() > 0 for p in model.parameters() if p.dim() > 1)


def test_dropout2d_zeroes_whole_channels_and_scales_the_rest():
    tf.manual_seed(0)
    layer = nn.Dropout2d(0.5)
    out = layer(tf.ones(8, 16, 3, 3)).numpy()
    per_channel = out.reshape(8, 16, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))
    assert 0.3 < (per_channel[..., 0] == 0).mean() < 0.7
    layer.eval()
    assert np.array_equal(layer(tf.ones(2, 3, 2, 2)).numpy(), np.ones((2, 3, 2, 2)))


def test_batch_norm_of_a_constant_or_nan_channel_matches_torch():
    """A dead ReLU channel (all zeros) has variance 0: no crash, PyTorch's values; a NaN in a
    channel gives that channel NaN, as PyTorch."""
    x = np.random.default_rng(0).standard_normal((4, 3, 5, 5)).astype(np.float32)
    x[:, 1] = 0.0
    x[2, 2, 1, 1] = np.nan
    ours = nn.BatchNorm2d(3)(tinyflow.tensor(x)).detach().numpy()
    theirs = torch.nn.BatchNorm2d(3)(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    assert np.isnan(ours[:, 2]).all() and np.isfinite(ours[:, :2]).all()


def test_cell_gradient_ops_refuse_adjoints_not_shaped_like_the_state():
    """Their kernels index dh, dc and out row by row without bounds checks."""
    from tinyflow.ops import rnn_cell
    rng = np.random.default_rng(0)
    xw, hw, c = (tf.tensor(rng.standard_normal(s)) for s in ((3, 8), (3, 8), (3, 2)))
    out = tf.apply(rnn_cell.LstmCell(), xw, hw, c)
    small = tf.tensor(np.ones((1, 2)))
    with pytest.raises(tf.ShapeError, match=r"dh has shape \(1, 2\), expected \(3, 2\)"):
        tf.apply(rnn_cell.LstmCellGrad(), small, c, out, xw, hw, c)
    with pytest.raises(tf.ShapeError, match=r"out has shape \(7, 3, 2\), expected \(4, 3, 2\)"):
        tf.apply(rnn_cell.GruCellGrad(), c, out, tf.tensor(rng.standard_normal((3, 6))),
                 tf.tensor(rng.standard_normal((3, 6))), c)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_training_batch_norm_is_one_op_with_pytorchs_running_statistics(momentum,
                                                                        monkeypatch):
    """Eagerly, a training BatchNorm2d's forward is one op (normalizing, running statistics
    and count in one kernel: no moments pass, getitems or small update ops), its backward
    one kernel and four views (given the forward's per-channel mean and 1 / std, so it does
    not compute them from x again), and its statistics, outputs and gradients are
    PyTorch's; momentum=None averages cumulatively."""
    from tinyflow.core.kernels import numpy_kernels
    ran = []
    for cls in list(numpy_kernels):
        def counted(op, *arrays, _kernel=numpy_kernels[cls], **kw):
            ran.append(type(op).__name__)
            return _kernel(op, *arrays, **kw)
        monkeypatch.setitem(numpy_kernels, cls, counted)
    rng = np.random.default_rng(5)
    ours, theirs = nn.BatchNorm2d(3, momentum=momentum), torch.nn.BatchNorm2d(3, momentum=momentum)
    for step in range(3):
        x = (rng.normal(size=(4, 3, 5, 5)) * 3 + 2).astype(np.float32)
        xa, xb = tf.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        del ran[:]
        ya = ours(xa)
        assert ran == ["BatchNormTracked"]
        yb = theirs(xb)
        np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), rtol=1e-5, atol=1e-5)
        del ran[:]
        ya.backward(tf.tensor(x))
        yb.backward(torch.tensor(x))
        if step == 0:   # one kernel for all three gradients, four views of its output
            assert sorted(ran) == ["BatchNormGradsSaved", "GetItem", "GetItem", "GetItem",
                                   "Reshape"], ran
        np.testing.assert_allclose(xa.grad.numpy(), xb.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(ours.running_mean.numpy(), theirs.running_mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), rtol=1e-6)
    assert int(ours.num_batches_tracked) == 3


def test_training_batch_norm_second_order_is_pytorchs():
    """create_graph through a training BatchNorm2d (its backward given the forward's
    statistics): the gradient of a gradient norm in x and in the weight is PyTorch's, as
    the saved statistics' own dependence on x counts."""
    rng = np.random.default_rng(11)
    x, c = rng.normal(size=(4, 3, 3, 3)) * 2 + 1, rng.normal(size=(4, 3, 3, 3))
    grads = []
    for lib, bn in ((tf, nn.BatchNorm2d(3).double()), (torch, torch.nn.BatchNorm2d(3).double())):
        with lib.no_grad():
            bn.weight.copy_(lib.tensor(np.array([0.5, -1.5, 2.0])))
        xa = lib.tensor(x, requires_grad=True)
        y = bn(xa)
        gx, = lib.autograd.grad((y * y * lib.tensor(c)).sum(), xa, create_graph=True)
        (gx * gx).sum().backward()
        grads.append((xa.grad.detach().numpy(), bn.weight.grad.detach().numpy(),
                      bn.bias.grad.detach().numpy()))
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-10)


def test_training_batch_norm_of_an_empty_batch_leaves_the_running_statistics():
    """An empty batch (N = 0) has no statistics: PyTorch returns the empty output, counts the
    batch and leaves running_mean and running_var as they were (no NaN), in the one-op
    module path and in F.batch_norm; the weight and bias gradients are 0, not NaN."""
    for momentum in (0.1, None):
        bn = nn.BatchNorm2d(3, momentum=momentum)
        x = tf.tensor(np.zeros((0, 3, 4, 4), np.float32), requires_grad=True)
        y = bn(x)
        assert y.shape == (0, 3, 4, 4)
        assert int(bn.num_batches_tracked) == 1
        np.testing.assert_array_equal(bn.running_mean.numpy(), np.zeros(3, np.float32))
        np.testing.assert_array_equal(bn.running_var.numpy(), np.ones(3, np.float32))
        y.sum().backward()
        assert x.grad.shape == (0, 3, 4, 4)
        for p in (bn.weight, bn.bias):
            np.testing.assert_array_equal(p.grad.numpy(), np.zeros(3, np.float32))
    mean, var = tf.tensor(np.zeros(3, np.float32)), tf.tensor(np.ones(3, np.float32))
    w, b = (tf.tensor(np.ones(3, np.float32), requires_grad=True) for _ in range(2))
    y = F.batch_norm(tf.tensor(np.zeros((0, 3, 2), np.float32), requires_grad=True), mean,
                     var, w, b, training=True)
    assert y.shape == (0, 3, 2)
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.zeros(3, np.float32))
    np.testing.assert_array_equal(mean.numpy(), np.zeros(3, np.float32))
    np.testing.assert_array_equal(var.numpy(), np.ones(3, np.float32))
