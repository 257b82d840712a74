"""tinyflow.nn.functional against torch.nn.functional, driven by one table (FUNCTIONS); float64
finite-difference checks of the compositions; second order of the losses; nn.init."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest
import torch

import tinyflow
import tinyflow as tf
from tinyflow import nn
from tinyflow.nn import functional as F

from torch_oracle import (ATOL, RTOL, X, Given, Ids, Mask, assert_close, compare, gradcheck,
                          positive, probabilities, unit_interval)


@dataclass
class FnCase:
    """`fn(lib, *inputs, **kwargs)` runs with lib = torch or tinyflow; inputs are specs."""
    name: str
    fn: Callable
    inputs: tuple
    kwargs: dict = field(default_factory=dict)
    rtol: float = RTOL
    atol: float = ATOL
    why: str = ""  # the reason for a looser tolerance


def f(name: str, **bound) -> Callable:
    """Call F.<name> of whichever library, with fixed keyword arguments."""
    return lambda L, *args, **kw: getattr(L.nn.functional, name)(*args, **bound, **kw)


def C(name, fn, *inputs, **kw) -> FnCase:
    return FnCase(name, fn, inputs, **kw)


def wide(rng, shape):
    return rng.uniform(-30, 30, shape)


W4 = Given(np.array([0.5, 1.0, 2.0, 1.5], np.float32))
LABELS = Given(np.array([1, 0, 3, 1, 2]))

FUNCTIONS = [
    # ---- activations ---------------------------------------------------------------------------
    C("relu", f("relu"), X(3, 4)),
    C("relu6", f("relu6"), X(3, 4, domain=lambda r, s: r.uniform(-9, 9, s))),
    C("leaky_relu", f("leaky_relu", negative_slope=0.1), X(3, 4)),
    C("elu", f("elu", alpha=1.5), X(3, 4, domain=wide)),
    C("gelu", f("gelu"), X(3, 4)),
    C("gelu_tanh", f("gelu", approximate="tanh"), X(3, 4)),
    C("silu", f("silu"), X(3, 4)),
    C("mish", f("mish"), X(3, 4)),
    C("logsigmoid", f("logsigmoid"), X(3, 4)),
    C("softsign", f("softsign"), X(3, 4)),
    C("hardtanh", f("hardtanh", min_val=-0.5, max_val=0.8), X(3, 4)),
    C("glu", f("glu", dim=1), X(3, 6)),
    C("softplus", f("softplus"), X(3, 4, domain=wide)),
    C("softplus_far_negative", f("softplus", beta=2.0), X(3, 4, domain=lambda r, s: r.uniform(
        -40, -5, s)), atol=0, why="values of 1e-35..1e-5: compared relatively"),
    C("tanh", f("tanh"), X(3, 4)),
    C("sigmoid", f("sigmoid"), X(3, 4)),
    C("softmax_dim0", f("softmax", dim=0), X(3, 4)),
    C("softmax_dim1", f("softmax", dim=1), X(2, 3, 4)),
    C("softmax_float64", lambda L, x: L.nn.functional.softmax(x, -1, dtype=L.float64), X(3, 4)),
    C("log_softmax", f("log_softmax", dim=-1), X(3, 4, domain=wide)),
    # ---- linear, convolution, pooling ---------------------------------------------------------
    C("linear", f("linear"), X(5, 4), X(3, 4), X(3)),
    C("linear_no_bias_3d", f("linear"), X(2, 5, 4), X(3, 4)),
    C("linear_1d", f("linear"), X(4), X(3, 4), X(3)),
    C("conv2d", f("conv2d"), X(2, 3, 6, 5), X(4, 3, 3, 3), X(4)),
    C("conv2d_stride_pad_dilation", f("conv2d", stride=(2, 1), padding=(1, 2), dilation=2),
      X(2, 2, 7, 7), X(3, 2, 3, 2)),
    C("conv2d_groups", f("conv2d", groups=3, padding=1), X(1, 6, 5, 5), X(3, 2, 3, 3), X(3)),
    C("conv2d_same", f("conv2d", padding="same"), X(1, 2, 5, 6), X(3, 2, 2, 3)),
    C("conv2d_unbatched", f("conv2d"), X(2, 5, 5), X(3, 2, 3, 3)),
    C("conv1d", f("conv1d", stride=2, padding=1), X(2, 3, 9), X(4, 3, 3), X(4)),
    C("conv1d_same", f("conv1d", padding="same", dilation=2), X(2, 3, 9), X(4, 3, 3)),
    C("max_pool2d", f("max_pool2d", kernel_size=3, stride=2, padding=1), X(2, 3, 7, 6)),
    C("max_pool2d_unbatched", f("max_pool2d", kernel_size=2), X(3, 4, 4)),
    C("avg_pool2d", f("avg_pool2d", kernel_size=(2, 3), ceil_mode=True), X(2, 3, 5, 7)),
    C("adaptive_avg_pool2d", f("adaptive_avg_pool2d", output_size=(3, 2)), X(2, 3, 7, 5)),
    # ---- normalization, dropout, embedding --------------------------------------------------
    C("dropout_eval", f("dropout", p=0.4, training=False), X(3, 4)),
    C("layer_norm", lambda L, x, w, b: L.nn.functional.layer_norm(x, (3, 4), w, b),
      X(2, 3, 4), X(3, 4), X(3, 4)),
    C("layer_norm_plain", f("layer_norm", normalized_shape=[4], eps=0.1), X(5, 4)),
    C("batch_norm_training", f("batch_norm", training=True, momentum=0.3),
      X(4, 3, 2, 2), Given(np.zeros(3, np.float32)), Given(np.ones(3, np.float32)),
      X(3), X(3)),
    C("batch_norm_eval", f("batch_norm"), X(4, 3, 5),
      X(3, grad=False), X(3, grad=False, domain=positive), X(3), X(3)),
    C("group_norm", lambda L, x, w, b: L.nn.functional.group_norm(x, 3, w, b),
      X(2, 6, 2, 2), X(6), X(6)),
    C("rms_norm", lambda L, x, w: L.nn.functional.rms_norm(x, (4,), w, eps=1e-6), X(3, 4),
      X(4)),
    C("rms_norm_default_eps", lambda L, x: L.nn.functional.rms_norm(x, [4]), X(3, 4)),
    C("embedding", f("embedding"), Ids(7, 2, 3), X(7, 4)),
    C("embedding_padding_idx", f("embedding", padding_idx=2),
      Given(np.array([[2, 1], [2, 6]])), X(7, 4)),
    C("one_hot", f("one_hot", num_classes=5), Ids(5, 2, 3)),
    C("one_hot_inferred", f("one_hot"), Given(np.array([0, 3, 1]))),
    C("normalize", f("normalize", dim=-1), X(3, 4)),
    C("cosine_similarity", f("cosine_similarity"), X(3, 4), X(3, 4)),
    # ---- padding and attention ----------------------------------------------------------------
    C("pad_constant", f("pad", pad=(1, 2), value=0.5), X(2, 3)),
    C("pad_two_dims", f("pad", pad=(1, 0, 2, 1)), X(2, 3, 4)),
    C("pad_crop", f("pad", pad=(-1, 2, 1, -1)), X(3, 4)),
    C("pad_reflect", f("pad", pad=(2, 1, 1, 2), mode="reflect"), X(1, 2, 4, 5)),
    C("pad_replicate", f("pad", pad=(3, 1), mode="replicate"), X(2, 2, 4)),
    C("pad_circular", f("pad", pad=(1, 2, 2, 0), mode="circular"), X(1, 1, 3, 4)),
    C("sdpa", f("scaled_dot_product_attention"), X(2, 3, 4, 8), X(2, 3, 5, 8), X(2, 3, 5, 6)),
    C("sdpa_bool_mask", f("scaled_dot_product_attention"), X(2, 4, 8), X(2, 5, 8),
      X(2, 5, 8), kwargs=dict(attn_mask=Given(~Mask(4, 5).draw(np.random.default_rng(0))))),
    C("sdpa_float_mask_scale", f("scaled_dot_product_attention", scale=0.3), X(2, 4, 8),
      X(2, 5, 8), X(2, 5, 8), kwargs=dict(attn_mask=X(4, 5))),
    C("sdpa_causal", f("scaled_dot_product_attention", is_causal=True), X(2, 2, 5, 4),
      X(2, 2, 5, 4), X(2, 2, 5, 4)),
    C("sdpa_causal_rectangular", f("scaled_dot_product_attention", is_causal=True),
      X(1, 3, 4), X(1, 6, 4), X(1, 6, 4)),
    C("sdpa_gqa", f("scaled_dot_product_attention", enable_gqa=True), X(1, 4, 3, 4),
      X(1, 2, 5, 4), X(1, 2, 5, 4)),
    # ---- losses -------------------------------------------------------------------------------
    C("cross_entropy", f("cross_entropy"), X(5, 4), Ids(4, 5)),
    C("cross_entropy_wide_logits", f("cross_entropy"), X(5, 4, domain=wide), Ids(4, 5)),
    C("cross_entropy_unbatched", f("cross_entropy"), X(4), Given(np.array(2))),
    C("cross_entropy_none", f("cross_entropy", reduction="none"), X(5, 4), Ids(4, 5)),
    C("cross_entropy_weight", f("cross_entropy"), X(5, 4), Ids(4, 5), kwargs=dict(weight=W4)),
    C("cross_entropy_ignore_index", f("cross_entropy", ignore_index=1), X(5, 4), LABELS),
    C("cross_entropy_ignore_weight_sum", f("cross_entropy", ignore_index=3, reduction="sum"),
      X(5, 4), LABELS, kwargs=dict(weight=W4)),
    C("cross_entropy_smoothing", f("cross_entropy", label_smoothing=0.2), X(5, 4), Ids(4, 5)),
    C("cross_entropy_smoothing_weight_ignore", f("cross_entropy", label_smoothing=0.3,
                                                 ignore_index=0), X(5, 4), LABELS,
      kwargs=dict(weight=W4)),
    C("cross_entropy_smoothing_none", f("cross_entropy", label_smoothing=0.1, reduction="none",
                                        ignore_index=2), X(5, 4), LABELS),
    C("cross_entropy_spatial", f("cross_entropy"), X(2, 4, 3, 2), Ids(4, 2, 3, 2)),
    C("cross_entropy_spatial_smoothing", f("cross_entropy", label_smoothing=0.2),
      X(2, 4, 3), Ids(4, 2, 3), kwargs=dict(weight=W4)),
    C("cross_entropy_probs", f("cross_entropy"), X(5, 4),
      X(5, 4, grad=False, domain=probabilities)),
    C("cross_entropy_probs_weight_smoothing", f("cross_entropy", label_smoothing=0.2,
                                                reduction="sum"),
      X(5, 4), X(5, 4, domain=probabilities), kwargs=dict(weight=W4)),
    C("cross_entropy_probs_spatial_none", f("cross_entropy", reduction="none"), X(2, 4, 3),
      X(2, 4, 3, grad=False, domain=probabilities)),
    C("nll_loss", f("nll_loss", ignore_index=0), X(5, 4), LABELS, kwargs=dict(weight=W4)),
    C("nll_loss_spatial_sum", f("nll_loss", reduction="sum"), X(2, 4, 3), Ids(4, 2, 3)),
    C("mse_loss", f("mse_loss"), X(3, 4), X(3, 4)),
    C("mse_loss_sum", f("mse_loss", reduction="sum"), X(3, 4), X(3, 4)),
    C("mse_loss_none", f("mse_loss", reduction="none"), X(3, 4), X(3, 4)),
    C("l1_loss", f("l1_loss"), X(3, 4), X(3, 4)),
    C("smooth_l1_loss", f("smooth_l1_loss", beta=0.5), X(3, 4), X(3, 4)),
    C("smooth_l1_loss_beta0", f("smooth_l1_loss", beta=0.0), X(3, 4), X(3, 4)),
    C("huber_loss", f("huber_loss", delta=0.5, reduction="sum"), X(3, 4), X(3, 4)),
    C("binary_cross_entropy", f("binary_cross_entropy"), X(3, 4, domain=unit_interval),
      X(3, 4, domain=unit_interval), kwargs=dict(weight=X(4, grad=False, domain=positive))),
    C("bce_with_logits", f("binary_cross_entropy_with_logits"), X(3, 4, domain=wide),
      X(3, 4, domain=unit_interval)),
    C("bce_with_logits_pos_weight", f("binary_cross_entropy_with_logits", reduction="none"),
      X(3, 4, domain=wide), X(3, 4, domain=unit_interval),
      kwargs=dict(weight=X(3, 1, grad=False, domain=positive),
                  pos_weight=X(4, grad=False, domain=positive))),
    C("kl_div", f("kl_div", reduction="batchmean"), X(3, 4),
      X(3, 4, grad=False, domain=probabilities)),
    C("kl_div_log_target", f("kl_div", reduction="sum", log_target=True), X(3, 4), X(3, 4)),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("case", FUNCTIONS, ids=[c.name for c in FUNCTIONS])
def test_function_matches_torch(case):
    compare(lambda *a, **k: case.fn(torch, *a, **k), lambda *a, **k: case.fn(tinyflow, *a, **k),
            case.inputs, case.kwargs, rtol=case.rtol, atol=case.atol)


def test_looser_tolerances_say_why():
    for case in FUNCTIONS:
        assert (case.rtol, case.atol) == (RTOL, ATOL) or case.why, case.name


def test_batch_norm_updates_the_running_statistics_like_torch():
    x = np.random.default_rng(0).standard_normal((6, 3, 4)).astype(np.float32) * 2 + 1
    stats = {}
    for lib in (torch, tinyflow):
        mean, var = lib.zeros(3), lib.ones(3)
        lib.nn.functional.batch_norm(lib.tensor(x), mean, var, training=True, momentum=0.3)
        stats[lib.__name__] = (np.asarray(mean), np.asarray(var))
    for ours, theirs in zip(stats["tinyflow"], stats["torch"]):
        assert_close(ours, theirs, "running statistic")


def test_argument_errors():
    x = tf.randn(3, 4)
    with pytest.raises(IndexError, match="target class 7 is out of range for 4 classes"):
        F.cross_entropy(x, tf.tensor([0, 7, 1]))
    with pytest.raises(ValueError, match="reduction='avg' is unknown"):
        F.mse_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, tf.tensor([0, 1, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"dropout: p=.* is not a probability; give 0 <= p <= 1"):
        F.dropout(x, -0.1)
    with pytest.raises(ValueError, match="strided"):
        F.conv2d(tf.randn(1, 1, 5, 5), tf.randn(1, 1, 3, 3), stride=2, padding="same")
    with pytest.raises(RuntimeError, match=r"expected input with shape \[\*, 5\]"):
        F.layer_norm(x, (5,))
    with pytest.raises(ValueError, match="has 1 value per channel, so its variance is undefined"):
        nn.BatchNorm1d(4)(tf.randn(1, 4))
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(4)(tf.randn(2, 4))


def test_legacy_reduction_flags():
    x, y = tf.randn(3, 4), tf.randn(3, 4)
    assert F.mse_loss(x, y, size_average=False).item() == pytest.approx(
        F.mse_loss(x, y, reduction="sum").item())
    assert F.mse_loss(x, y, reduce=False).shape == (3, 4)


def test_dropout_on_a_placeholder_draws_anew_each_run():
    x = tf.placeholder(tf.float32, [None, 100])
    y = F.dropout(x, 0.5)
    with tf.Session() as sess:
        feed = {x: np.ones((4, 100), np.float32)}
        a, b = sess.run(y, feed), sess.run(y, feed)
    assert set(np.unique(a)) <= {0.0, 2.0} and not np.array_equal(a, b)


# ---- float64 finite differences of the compositions ------------------------------------------

RNG = np.random.default_rng(7)


def _r(*shape):
    return RNG.standard_normal(shape)


GRADCHECKS = {
    "gelu": (lambda x: F.gelu(x), _r(3, 4)),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), _r(3, 4)),
    "silu_softplus": (lambda x: F.softplus(F.silu(x), beta=2.0), _r(3, 4)),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (4,), w, b), _r(3, 4), _r(4), _r(4)),
    "batch_norm": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                   _r(4, 3, 2), _r(3), _r(3)),
    "group_norm": (lambda x, w: F.group_norm(x, 2, w), _r(2, 4, 3), _r(4)),
    "cross_entropy_smoothing": (
        lambda x: F.cross_entropy(x, tf.tensor([1, 0, 3, 1]), label_smoothing=0.2), _r(4, 5)),
    "cross_entropy_weight_ignore_smoothing": (
        lambda x, w: F.cross_entropy(x, tf.tensor([1, 0, 3, 1]), weight=w, ignore_index=0,
                                     label_smoothing=0.1),
        _r(4, 5), RNG.uniform(0.5, 2, 5)),
    "cross_entropy_probs": (lambda x, p: F.cross_entropy(x, p, label_smoothing=0.3),
                            _r(3, 4), probabilities(RNG, (3, 4))),
    "sdpa_masked": (lambda q, k, v: F.scaled_dot_product_attention(
        q, k, v, attn_mask=tf.tensor(np.tril(np.ones((3, 4), bool)))),
        _r(2, 3, 4), _r(2, 4, 4), _r(2, 4, 2)),
    "sdpa_float_mask": (lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, m),
                        _r(3, 2), _r(4, 2), _r(4, 3), _r(3, 4)),
    "bce_with_logits": (lambda x, y: F.binary_cross_entropy_with_logits(
        x, y, pos_weight=tf.tensor([2.0, 0.5, 1.0], dtype=tf.float64)),
        _r(2, 3) * 5, RNG.uniform(0, 1, (2, 3))),
    "pad_reflect": (lambda x: F.pad(x, (2, 1), mode="reflect"), _r(2, 4)),
}


@pytest.mark.parametrize("name", list(GRADCHECKS))
def test_gradcheck_float64(name):
    fn, *arrays = GRADCHECKS[name]
    gradcheck(fn, *arrays)


# ---- second order ------------------------------------------------------------------------------

SECOND_ORDER = {
    "cross_entropy": (lambda L, x, t: L.nn.functional.cross_entropy(x, t), "ids"),
    "cross_entropy_weight_smoothing": (
        lambda L, x, t: L.nn.functional.cross_entropy(
            x, t, weight=L.tensor([0.5, 1.0, 2.0, 1.5]), label_smoothing=0.2, ignore_index=3),
        "ids"),
    "cross_entropy_probs": (lambda L, x, t: L.nn.functional.cross_entropy(x, t), "probs"),
    "mse_loss": (lambda L, x, t: L.nn.functional.mse_loss(x, t), "float"),
    "mse_loss_sum": (lambda L, x, t: L.nn.functional.mse_loss(x * x, t, reduction="sum"),
                     "float"),
}


@pytest.mark.parametrize("name", list(SECOND_ORDER))
def test_double_backward_matches_torch(name):
    fn, kind = SECOND_ORDER[name]
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    t = {"ids": rng.integers(0, 4, 5), "probs": probabilities(rng, (5, 4)).astype(np.float32),
         "float": rng.standard_normal((5, 4)).astype(np.float32)}[kind]
    v = rng.standard_normal((5, 4)).astype(np.float32)
    grads = {}
    for lib in (torch, tinyflow):
        xs = lib.tensor(x, requires_grad=True)
        ts = lib.tensor(t, requires_grad=kind == "float")
        (g,) = lib.autograd.grad(fn(lib, xs, ts), xs, create_graph=True)
        (g * lib.tensor(v)).sum().backward()
        grads[lib.__name__] = [np.asarray(g.detach()), np.asarray(xs.grad)] + (
            [np.asarray(ts.grad)] if kind == "float" else [])
    for ours, theirs in zip(grads["tinyflow"], grads["torch"]):
        assert_close(ours, theirs, name)


# ---- nn.init ------------------------------------------------------------------------------------

def test_calculate_gain_and_fans_match_torch():
    for args in [("linear",), ("conv2d",), ("sigmoid",), ("tanh",), ("relu",),
                 ("leaky_relu",), ("leaky_relu", 0.2), ("selu",)]:
        assert nn.init.calculate_gain(*args) == pytest.approx(torch.nn.init.calculate_gain(*args))
    for shape in [(3, 5), (8, 4, 3, 3), (2, 6, 5)]:
        assert nn.init._calculate_fan_in_and_fan_out(tf.zeros(*shape)) == \
            torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(*shape))
    with pytest.raises(ValueError, match="init: a 1-D tensor has no fan_in / fan_out"):
        nn.init.xavier_uniform_(tf.zeros(5))
    with pytest.raises(ValueError, match="calculate_gain: nonlinearity .swish. is unknown"):
        nn.init.calculate_gain("swish")


def test_init_statistics():
    tf.manual_seed(0)
    w = tf.zeros(400, 300)
    std = {"kaiming_fan_out_relu": math.sqrt(2 / 400), "xavier": math.sqrt(2 / 700),
           "kaiming_in_a": math.sqrt(2 / (1 + 0.5 ** 2) / 300)}
    assert nn.init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu") is w
    assert abs(np.abs(w.numpy()).max() - math.sqrt(3) * std["kaiming_fan_out_relu"]) < 1e-3
    nn.init.kaiming_normal_(w, a=0.5)
    assert abs(w.numpy().std() / std["kaiming_in_a"] - 1) < 0.02
    nn.init.xavier_normal_(w)
    assert abs(w.numpy().std() / std["xavier"] - 1) < 0.02
    nn.init.xavier_uniform_(w, gain=2.0)
    assert abs(np.abs(w.numpy()).max() / (2 * math.sqrt(6 / 700)) - 1) < 1e-3
    nn.init.trunc_normal_(w, mean=1.0, std=2.0, a=-1.0, b=2.0)
    assert w.numpy().min() >= -1.0 and w.numpy().max() <= 2.0
    nn.init.normal_(w, 3.0, 0.5)
    assert abs(w.numpy().mean() - 3) < 0.01 and abs(w.numpy().std() - 0.5) < 0.01
    nn.init.uniform_(w, -2, -1)
    assert w.numpy().min() >= -2 and w.numpy().max() <= -1
    assert w.dtype == tf.float32


def test_orthogonal_constant_eye():
    tf.manual_seed(0)
    for shape in [(4, 6), (6, 4), (3, 2, 2)]:
        w = nn.init.orthogonal_(tf.zeros(*shape), gain=2.0).numpy().reshape(shape[0], -1)
        small = w @ w.T if shape[0] <= w.shape[1] else w.T @ w
        assert np.allclose(small, 4 * np.eye(len(small)), atol=1e-5)
    w = tf.zeros(2, 3)
    assert np.all(nn.init.constant_(w, 0.3).numpy() == np.float32(0.3))
    assert np.all(nn.init.ones_(w).numpy() == 1) and np.all(nn.init.zeros_(w).numpy() == 0)
    assert np.array_equal(nn.init.eye_(w).numpy(), np.eye(2, 3))


def test_init_works_in_place_on_parameters_without_history():
    p = nn.Parameter(tf.zeros(3, 4))
    nn.init.kaiming_uniform_(p, a=math.sqrt(5))
    assert p.requires_grad and p.is_leaf and p.grad_fn is None and np.any(p.detach().numpy() != 0)
    g = tinyflow.Generator().manual_seed(5)
    a = nn.init.normal_(tf.zeros(3), generator=g).numpy().copy()
    g.manual_seed(5)
    assert np.array_equal(nn.init.normal_(tf.zeros(3), generator=g).numpy(), a)


@pytest.mark.parametrize("float_mask", [False, True])
def test_attention_with_a_fully_masked_query_row_is_zero_as_torchs(float_mask):
    """A padded query with no key to attend gives zeros (PyTorch's safe softmax), and its
    NaN-free gradient does not poison every key's."""
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal(s) for s in ((1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 4)))
    keep = np.ones((3, 5), bool)
    keep[1] = False
    mask = np.where(keep, 0.0, -np.inf) if float_mask else keep
    outs = []
    for lib, fn in ((torch, torch.nn.functional), (tinyflow, tinyflow.nn.functional)):
        ts = [lib.tensor(a, requires_grad=True) for a in (q, k, v)]
        out = fn.scaled_dot_product_attention(*ts, attn_mask=lib.tensor(mask))
        out.sum().backward()
        outs.append([out.detach().numpy()] + [t.grad.numpy() for t in ts])
    for theirs, ours in zip(*outs):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_ignore_index_under_compile_matches_torch(reduction):
    """A compiled step cannot see its labels: the fused loss decides per example which count
    (nanoGPT's ignore_index=-1), with torch's values and gradients."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    for ids in ([0, -1, 3, 4, -1, 2], [1, 2, 3, 4, 0, 1]):
        a = torch.tensor(x, requires_grad=True)
        want = torch.nn.functional.cross_entropy(a, torch.tensor(ids), ignore_index=-1,
                                                 reduction=reduction)
        want.sum().backward()

        @tinyflow.compile(fullgraph=True)
        def step(x, y):
            loss = F.cross_entropy(x, y, ignore_index=-1, reduction=reduction)
            loss.sum().backward()
            return loss

        b = tf.tensor(x, requires_grad=True)
        got = step(b, tf.tensor(ids))
        assert_close(got.detach().numpy(), want.detach().numpy(), "loss")
        assert_close(b.grad.numpy(), a.grad.numpy(), "logits.grad")
    with pytest.raises(IndexError, match=r"sparse_softmax_cross_entropy: label ids must be in "
                                         r"\[0, 5\)"):
        step(tf.tensor(x, requires_grad=True), tf.tensor([0, -1, 9, 1, 1, 1]))



IN_PLACE = {   # F.<name>(x, ..., inplace=True) and the module with inplace=True
    "relu": (lambda F, x: F.relu(x, inplace=True), lambda nn: nn.ReLU(inplace=True)),
    "relu6": (lambda F, x: F.relu6(x * 8, inplace=True), lambda nn: nn.ReLU6(inplace=True)),
    "leaky_relu": (lambda F, x: F.leaky_relu(x, 0.2, inplace=True),
                   lambda nn: nn.LeakyReLU(0.2, inplace=True)),
    "elu": (lambda F, x: F.elu(x, inplace=True), lambda nn: nn.ELU(inplace=True)),
    "silu": (lambda F, x: F.silu(x, inplace=True), lambda nn: nn.SiLU(inplace=True)),
    "mish": (lambda F, x: F.mish(x, inplace=True), lambda nn: nn.Mish(inplace=True)),
    "hardtanh": (lambda F, x: F.hardtanh(x, -0.5, 0.5, inplace=True),
                 lambda nn: nn.Hardtanh(-0.5, 0.5, inplace=True)),
}


@pytest.mark.parametrize("name", sorted(IN_PLACE))
def test_inplace_activations_write_into_their_input_as_torch(name):
    """inplace=True changes the caller's tensor (eager, compiled, through a module) and
    the gradient still flows, as PyTorch's."""
    functional, module = IN_PLACE[name]
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    outcomes = []
    for L, LF in ((torch, torch.nn.functional), (tinyflow, F)):
        a = L.tensor(x, requires_grad=True)
        b = a * 2
        functional(LF, b)
        (b * L.tensor(x)).sum().backward()
        c = L.tensor(x) * 1
        module(L.nn)(c)

        def step(v):
            w = v * 3
            functional(LF, w)
            return w
        compiled = (tinyflow.compile(step) if L is tinyflow else step)(L.tensor(x))
        outcomes.append([t.detach().numpy() for t in (b, a.grad, c, compiled)])
    for got, expected in zip(*outcomes[::-1]):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("w_shape,x_shape,wrt", [
    (None, [3, 2, 4], "xwb"), (None, [None, 2, 4], "xwb"), (None, [3, 2, 4], "wb"),
    ([2, 4], [None, 2, 4], "xwb"), ([4], [3, 2, 4], "w")])
def test_layer_norm_gradients_in_a_graph_of_unknown_shapes(w_shape, x_shape, wrt):
    """A symbolic layer norm whose scale has no static shape (or x unknown dims) still
    differentiates: the gradients equal torch's for the fed arrays."""
    rng = np.random.default_rng(0)
    xv, wv, bv = rng.normal(size=(3, 2, 4)), rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
    if w_shape == [4]:
        wv, bv = wv[0], bv[0]
    x = tf.placeholder(tf.float64, x_shape)
    w, b = tf.placeholder(tf.float64, w_shape), tf.placeholder(tf.float64, w_shape)
    y = tf.ops.normalization.layer_norm(x, w, b)
    wanted = [v for k, v in zip("xwb", (x, w, b)) if k in wrt]
    grads = tf.gradients(tf.reduce_sum(y * y * y), wanted)
    with tf.Session() as sess:
        got = sess.run(grads, {x: xv, w: wv, b: bv})
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (xv, wv, bv))
    torch.nn.functional.layer_norm(tx, tw.shape, tw, tb).pow(3).sum().backward()
    for k, g in zip([k for k in "xwb" if k in wrt], got):
        np.testing.assert_allclose(g, {"x": tx, "w": tw, "b": tb}[k].grad.numpy(), rtol=1e-9,
                                   atol=1e-10)


@pytest.mark.parametrize("scale_grad,second_order", [(True, False), (False, False),
                                                     (True, True)])
def test_eager_residual_stream_through_layer_norm_as_torch(scale_grad, second_order):
    """Pre-norm blocks x + f(layer_norm(x)) in eager: the residual's and the layer norm's
    partial adjoints of x add up to torch's gradient, with and without the scale's and
    shift's, and through second order."""
    rng = np.random.default_rng(0)
    xv, mv = rng.normal(size=(3, 5, 4)), rng.normal(size=(4, 4)) * 0.5
    wv, bv = 1 + 0.1 * rng.normal(size=4), 0.1 * rng.normal(size=4)
    results = []
    for lib in (torch, tinyflow):
        x, m = (lib.tensor(v, requires_grad=True) for v in (xv, mv))
        w, b = (lib.tensor(v, requires_grad=scale_grad) for v in (wv, bv))
        h = x
        for _ in range(2):
            h = h + lib.tanh(lib.nn.functional.layer_norm(h, (4,), w, b) @ m)
        loss = (h * h * h).sum()
        if second_order:
            gx = lib.autograd.grad(loss, [x, m, w, b], create_graph=True)[0]
            loss = (gx * gx).sum()
        loss.backward()
        results.append([t.grad.numpy() for t in (x, m) + ((w, b) if scale_grad else ())])
    for got, expected in zip(results[1], results[0]):
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-10)


def test_eval_batch_norm_without_running_statistics_is_refused():
    with pytest.raises(ValueError, match="running_mean and running_var must be defined in "
                                         "evaluation mode"):
        F.batch_norm(tf.ones(2, 3), None, None, training=False)
