"""More torch.nn APIs against PyTorch in float64: parametrizations (weight and spectral norm,
old and new spellings), and the layers and losses added with them. Values, gradients of
inputs and parameters, and state_dict keys, from one table per kind."""
from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
import torch
import torch.nn.utils.prune  # noqa: F401  (not imported by torch.nn.utils)

import tinyflow
from tinyflow import nn

from torch_oracle import X, Given, compare, copy_state, param_pairs, randomize

TOL = dict(rtol=1e-10, atol=1e-12)


class D(X):
    """A float64 normal input that needs grad."""

    def draw(self, rng):
        return rng.standard_normal(self.shape)


def G(*values, dtype=np.int64):
    return Given(np.array(values, dtype))


def _close(ours, theirs, what=""):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), err_msg=what,
                               **TOL)


def _same_module(tm, m):
    """Same state_dict keys; torch's values loaded into ours."""
    assert list(m.state_dict()) == list(tm.state_dict())
    m.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})


def _check_calls(tm, m, x, calls=2):
    """`calls` forward + backward passes (a power iteration each, in training): outputs,
    parameter gradients and buffers equal."""
    for _ in range(calls):
        t_out, out = tm(torch.tensor(x)), m(tinyflow.tensor(x))
        _close(out, t_out, "output")
        w = np.random.default_rng(3).standard_normal(tuple(t_out.shape))
        (t_out * torch.tensor(w)).sum().backward()
        (out * tinyflow.tensor(w)).sum().backward()
    for (k, t), (k2, p) in zip(tm.named_parameters(), m.named_parameters()):
        assert k == k2
        _close(p.grad, t.grad, k)
    for (k, t), (_, b) in zip(tm.named_buffers(), m.named_buffers()):
        _close(b, t, k)


def _wn(L, m, **kw):
    return L.nn.utils.parametrizations.weight_norm(m, **kw)


def _sn(L, m, **kw):
    return L.nn.utils.parametrizations.spectral_norm(m, **kw)


def _remove(L, m):
    return L.nn.utils.parametrize.remove_parametrizations(m, "weight")


# (name, layer, reparametrize, undo, input shape)
PARAMETRIZED = [
    ("weight_norm", lambda L: L.nn.Linear(3, 4), _wn, _remove, (5, 3)),
    ("weight_norm_conv_dim1", lambda L: L.nn.Conv2d(2, 3, 2), lambda L, m: _wn(L, m, dim=1),
     _remove, (1, 2, 4, 4)),
    ("weight_norm_whole", lambda L: L.nn.Linear(3, 4), lambda L, m: _wn(L, m, dim=None),
     _remove, (5, 3)),
    ("weight_norm_minus1_is_whole", lambda L: L.nn.Conv1d(2, 3, 2),
     lambda L, m: _wn(L, m, dim=-1), _remove, (2, 2, 5)),
    ("spectral_norm", lambda L: L.nn.Linear(3, 4), _sn, _remove, (5, 3)),
    ("spectral_norm_3_steps", lambda L: L.nn.Conv2d(2, 3, 2),
     lambda L, m: _sn(L, m, n_power_iterations=3), _remove, (1, 2, 3, 3)),
    ("spectral_norm_conv_transpose", lambda L: L.nn.ConvTranspose2d(2, 3, 2), _sn, _remove,
     (1, 2, 3, 3)),
    ("spectral_norm_eval", lambda L: L.nn.Linear(3, 4), lambda L, m: _sn(L, m).eval(),
     _remove, (5, 3)),
    ("old_weight_norm", lambda L: L.nn.Linear(3, 4), lambda L, m: L.nn.utils.weight_norm(m),
     lambda L, m: L.nn.utils.remove_weight_norm(m), (5, 3)),
    ("old_weight_norm_dim1", lambda L: L.nn.Conv1d(2, 3, 2),
     lambda L, m: L.nn.utils.weight_norm(m, dim=1),
     lambda L, m: L.nn.utils.remove_weight_norm(m), (2, 2, 4)),
    ("old_spectral_norm", lambda L: L.nn.Linear(3, 4), lambda L, m: L.nn.utils.spectral_norm(m),
     lambda L, m: L.nn.utils.remove_spectral_norm(m), (5, 3)),
    ("old_spectral_norm_conv_transpose", lambda L: L.nn.ConvTranspose1d(2, 3, 2),
     lambda L, m: L.nn.utils.spectral_norm(m, n_power_iterations=2),
     lambda L, m: L.nn.utils.remove_spectral_norm(m), (2, 2, 4)),
]


@pytest.mark.filterwarnings("ignore:.*weight_norm.*is deprecated")
@pytest.mark.parametrize("name,make,wrap,undo,shape", PARAMETRIZED,
                         ids=[c[0] for c in PARAMETRIZED])
def test_parametrized_layer_matches_torch(name, make, wrap, undo, shape):
    tm, m = wrap(torch, make(torch).double()), wrap(tinyflow, make(tinyflow).double())
    _same_module(tm, m)
    assert repr(m) == repr(tm)
    x = np.random.default_rng(0).standard_normal(shape)
    _check_calls(tm, m, x)
    undo(torch, tm)
    undo(tinyflow, m)
    assert type(m).__name__ == type(tm).__name__
    assert list(m.state_dict()) == list(tm.state_dict())
    _close(m.weight, tm.weight, "weight after removal")


class Symmetric(torch.nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).transpose(0, 1)


class TfSymmetric(nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).transpose(0, 1)


class TfScaled(nn.Module):
    """Two parametrizations in a chain; right_inverse lets `weight = value` set the original."""

    def forward(self, x):
        return 2.0 * x

    def right_inverse(self, x):
        return x / 2.0


def test_register_parametrization_own_module():
    P = nn.utils.parametrize
    m = nn.Linear(3, 3).double()
    w0 = m.weight.detach().numpy().copy()
    original = m.weight
    P.register_parametrization(m, "weight", TfSymmetric())
    assert P.is_parametrized(m) and P.is_parametrized(m, "weight")
    assert not P.is_parametrized(m, "bias")
    assert P.type_before_parametrizations(m) is nn.Linear
    assert m.parametrizations.weight.original is original   # an optimizer's reference holds
    w = m.weight.detach().numpy()
    np.testing.assert_array_equal(w, w.T)
    np.testing.assert_array_equal(np.triu(w), np.triu(w0))
    P.register_parametrization(m, "weight", TfScaled())
    np.testing.assert_array_equal(m.weight.detach().numpy(), 2 * w)
    target = np.arange(9.0).reshape(3, 3)
    target = target + target.T
    m.weight = tinyflow.tensor(target)
    np.testing.assert_allclose(m.weight.detach().numpy(), target)
    m(tinyflow.ones(2, 3, dtype=tinyflow.float64)).sum().backward()
    # d/dW = 2 (two rows of ones); W = 2 (triu(O) + triu(O, 1)^T): the upper triangle of O
    # reads both its own place and its mirror
    ones = np.ones((3, 3))
    np.testing.assert_allclose(original.grad.numpy(), 4 * (np.triu(ones) + np.triu(ones, 1)))
    with P.cached():
        assert m.weight is m.weight
    assert m.weight is not m.weight
    P.remove_parametrizations(m, "weight", leave_parametrized=False)
    assert type(m) is nn.Linear and m.weight is original
    np.testing.assert_allclose(m.weight.detach().numpy(), target / 2)
    assert list(m.state_dict()) == ["bias", "weight"]   # as torch: re-registered last


def test_parametrized_and_pruned_modules_deepcopy():
    """copy.deepcopy (EMA and target networks): same outputs, own originals and masks."""
    import copy
    m = nn.Sequential(_wn(tinyflow, nn.Linear(3, 4)), nn.ReLU(),
                      nn.utils.prune.l1_unstructured(nn.Linear(4, 2), "weight", 3))
    c = copy.deepcopy(m)
    x = tinyflow.randn(5, 3)
    np.testing.assert_array_equal(c(x).detach().numpy(), m(x).detach().numpy())
    assert type(c[0]).__name__ == "ParametrizedLinear" and nn.utils.prune.is_pruned(c)
    assert c[0].parametrizations.weight.original1 is not m[0].parametrizations.weight.original1
    assert c[2].weight_mask is not m[2].weight_mask


def test_parametrized_buffer_stays_a_buffer():
    P = nn.utils.parametrize
    m = nn.BatchNorm1d(3)
    P.register_parametrization(m, "running_var", TfScaled())
    assert "parametrizations.running_var.original" in m.state_dict()
    assert not any("running_var" in k for k, _ in m.named_parameters())
    # right_inverse halves the original, so the parametrized value is the buffer's own
    np.testing.assert_allclose(m.parametrizations.running_var.original.numpy(), [0.5] * 3)
    np.testing.assert_allclose(m.running_var.numpy(), [1.0] * 3)


def test_parametrized_module_trains_like_torch():
    """Two SGD steps on a weight-normed layer: the originals move as torch's."""
    tm = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(4, 2).double())
    m = nn.utils.parametrizations.weight_norm(nn.Linear(4, 2).double())
    _same_module(tm, m)
    x = np.random.default_rng(1).standard_normal((6, 4))
    opt = tinyflow.optim.SGD(m.parameters(), lr=0.1)
    for _ in range(2):
        tm(torch.tensor(x)).pow(2).sum().backward()
        m(tinyflow.tensor(x)).pow(2).sum().backward()
        with torch.no_grad():   # torch's SGD by hand: its first step() costs ~1 s of imports
            for p in tm.parameters():
                p -= 0.1 * p.grad
                p.grad = None
        opt.step()
        opt.zero_grad()
    for k, v in tm.state_dict().items():
        _close(m.state_dict()[k], v, k)


F = "nn.functional."
# (name, call with L = torch or tinyflow, input specs)
FUNCTIONS = [
    ("embedding_bag_2d_mean", lambda L, i, w: L.nn.functional.embedding_bag(i, w),
     [G([1, 2, 4], [4, 3, 1]), D(6, 3)]),
    ("embedding_bag_2d_max_padding", lambda L, i, w: L.nn.functional.embedding_bag(
        i, w, mode="max", padding_idx=4), [G([1, 4, 0], [4, 4, 4], [5, 5, 2]), D(6, 3)]),
    ("embedding_bag_2d_sum_weights", lambda L, i, w, p: L.nn.functional.embedding_bag(
        i, w, mode="sum", per_sample_weights=p), [G([1, 2, 4], [4, 3, 1]), D(6, 3), D(2, 3)]),
    ("embedding_bag_offsets_mean_empty_bag", lambda L, i, o, w: L.nn.functional.embedding_bag(
        i, w, o), [G(1, 2, 2, 5, 0), G(0, 2, 2), D(6, 3)]),
    ("embedding_bag_offsets_sum_last_offset_weights", lambda L, i, o, w, p:
     L.nn.functional.embedding_bag(i, w, o, mode="sum", per_sample_weights=p,
                                   include_last_offset=True, padding_idx=2),
     [G(1, 2, 2, 5, 0), G(0, 3, 3, 5), D(6, 3), D(5)]),
    ("embedding_bag_offsets_max", lambda L, i, o, w: L.nn.functional.embedding_bag(
        i, w, o, mode="max", padding_idx=-1), [G(1, 5, 2, 5, 0, 3), G(0, 1, 3, 3), D(6, 3)]),
    ("embedding_bag_offsets_mean_padding", lambda L, i, o, w: L.nn.functional.embedding_bag(
        i, w, o, padding_idx=0), [G(0, 0, 2, 5, 0), G(0, 2), D(6, 3)]),
    ("embedding_bag_offsets_max_all_empty", lambda L, i, o, w: L.nn.functional.embedding_bag(
        i, w, o, mode="max"), [G(), G(0, 0), D(6, 3)]),
    ("embedding_bag_max_ties_one_row", lambda L, i, w: L.nn.functional.embedding_bag(
        i, w, mode="max"), [G([1, 1, 2, 0], [3, 4, 4, 5]),
                            X(6, 3, domain=lambda rng, shape: np.round(rng.standard_normal(shape)))]),
    ("multilabel_margin_repeats_and_no_labels", lambda L, x, t:
     L.nn.functional.multilabel_margin_loss(x, t),
     [D(3, 4), G([1, 1, -1, 2], [-1, 0, 1, 2], [3, 0, 2, 1])]),
    ("ctc_all_targets_empty", lambda L, x, t: L.nn.functional.ctc_loss(
        x.log_softmax(2), t, [3, 2], [0, 0]), [D(3, 2, 2), Given(np.zeros((2, 0), np.int64))]),
    ("ctc_all_targets_empty_sum", lambda L, x, t: L.nn.functional.ctc_loss(
        x.log_softmax(2), t, [3], [0], reduction="sum"), [D(3, 1, 2), G()]),
]


@pytest.mark.parametrize("name,fn,specs", FUNCTIONS, ids=[c[0] for c in FUNCTIONS])
def test_function_matches_torch(name, fn, specs):
    compare(lambda *a: fn(torch, *a), lambda *a: fn(tinyflow, *a), specs, **TOL)


# (name, build with L, input specs): torch's (randomized) parameters are copied into ours
MODULES = [
    ("EmbeddingBag", lambda L: L.nn.EmbeddingBag(6, 3), [G(1, 2, 2, 5), G(0, 3)]),
    ("EmbeddingBag_max_padding", lambda L: L.nn.EmbeddingBag(
        6, 3, mode="max", padding_idx=1, include_last_offset=True),
     [G(1, 2, 2, 5), G(0, 1, 4)]),
    ("EmbeddingBag_sum_2d", lambda L: L.nn.EmbeddingBag(6, 3, mode="sum"),
     [G([1, 2], [2, 5]), None, D(2, 2)]),
    ("LocalResponseNorm", lambda L: L.nn.LocalResponseNorm(2, 0.5, 1.0, 0.5), [D(2, 4, 3, 3)]),
    ("FeatureAlphaDropout_eval", lambda L: L.nn.FeatureAlphaDropout(0.2).eval(),
     [D(2, 3, 4)]),
    ("MultiLabelMarginLoss", lambda L: L.nn.MultiLabelMarginLoss(reduction="none"),
     [D(2, 3), G([2, -1, 0], [0, 1, -1])]),
    ("TripletMarginWithDistanceLoss", lambda L: L.nn.TripletMarginWithDistanceLoss(swap=True),
     [D(4, 3), D(4, 3), D(4, 3)]),
    ("TripletMarginWithDistanceLoss_l1", lambda L: L.nn.TripletMarginWithDistanceLoss(
        distance_function=L.nn.PairwiseDistance(p=1.0), margin=2.0, reduction="sum"),
     [D(4, 3), D(4, 3), D(4, 3)]),
    ("SyncBatchNorm_5d", lambda L: L.nn.SyncBatchNorm(3), [D(2, 3, 2, 1, 2)]),
    ("SyncBatchNorm_eval_2d", lambda L: L.nn.SyncBatchNorm(3, affine=False).eval(), [D(4, 3)]),
    ("BatchNorm3d", lambda L: L.nn.BatchNorm3d(2, momentum=None), [D(2, 2, 2, 1, 3)]),
    ("CTCLoss", lambda L: L.nn.CTCLoss(blank=1, zero_infinity=True),
     [Given(np.log(np.full((5, 2, 3), 1 / 3))), G([0, 2], [2, 2]), G(5, 3), G(2, 2)]),
]


@pytest.mark.parametrize("name,make,specs", MODULES, ids=[c[0] for c in MODULES])
def test_module_matches_torch(name, make, specs):
    torch.manual_seed(0)
    tm, m = make(torch).double(), make(tinyflow).double()
    randomize(tm, np.random.default_rng(1))
    copy_state(tm, m)
    assert repr(m) == repr(tm)
    compare(tm, m, specs, params=param_pairs(tm, m), **TOL)


def test_embedding_bag_defaults_are_torchs():
    bag = nn.EmbeddingBag(50, 200, padding_idx=3)
    w = bag.weight.detach().numpy()
    assert not w[3].any() and abs(w.std() - 1) < 0.02
    frozen = nn.EmbeddingBag.from_pretrained(tinyflow.ones(4, 2), mode="sum")
    assert not frozen.weight.requires_grad and frozen.mode == "sum"


def test_embedding_bag_memory_follows_the_ids():
    """1000 one-id bags and one of 2000 ids: no [bags, longest bag, dim] padding (was 430 MiB)."""
    rng = np.random.default_rng(0)
    w = tinyflow.tensor(rng.standard_normal((100, 16)).astype(np.float32), requires_grad=True)
    lengths = np.array([1] * 1000 + [2000])
    ids = tinyflow.tensor(rng.integers(0, 100, lengths.sum()))
    offsets = tinyflow.tensor(np.concatenate([[0], np.cumsum(lengths)[:-1]]))
    for mode in ("sum", "max"):
        nn.functional.embedding_bag(ids[:3], w, offsets[:2], mode=mode).sum().backward()  # warm
        tracemalloc.start()
        nn.functional.embedding_bag(ids, w, offsets, mode=mode).sum().backward()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 4 * 2 ** 20, (mode, peak)


def test_multilabel_margin_memory_follows_the_labels():
    """N=16, C=1000, 5 labels a row: hinge terms [N, 5, C], not [N, C, C] (was 519 MiB)."""
    rng = np.random.default_rng(0)
    x = tinyflow.tensor(rng.standard_normal((16, 1000)).astype(np.float32), requires_grad=True)
    t = np.full((16, 1000), -1)
    t[:, :5] = rng.integers(0, 1000, (16, 5))
    nn.functional.multilabel_margin_loss(x[:2, :3], tinyflow.tensor(t[:2, :3] % 3)).backward()
    tracemalloc.start()
    nn.functional.multilabel_margin_loss(x, tinyflow.tensor(t)).backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 * 2 ** 20, peak


def test_local_response_norm_names_a_bad_size():
    for size in (0, 2.5):
        with pytest.raises((ValueError, TypeError), match="local_response_norm: size"):
            nn.functional.local_response_norm(tinyflow.ones(1, 3, 2), size)


def test_embedding_bag_refuses_a_last_offset_short_of_the_ids():
    with pytest.raises(ValueError, match="include_last_offset.*number of ids 3"):
        nn.functional.embedding_bag(tinyflow.tensor([1, 2, 3]), tinyflow.ones(5, 2),
                                    tinyflow.tensor([0, 1]), include_last_offset=True)
    with pytest.raises(IndexError, match="embedding_bag: id 7 .* weight of shape"):
        nn.functional.embedding_bag(tinyflow.tensor([1, 7]), tinyflow.ones(3, 2),
                                    tinyflow.tensor([0]))


# (name, lazy layer with L, input shape)
LAZY = [
    ("LazyLinear", lambda L: L.nn.LazyLinear(4), (2, 5, 3)),
    ("LazyLinear_no_bias", lambda L: L.nn.LazyLinear(2, bias=False), (3,)),
    ("LazyConv2d", lambda L: L.nn.LazyConv2d(4, 3, padding=1), (2, 3, 5, 4)),
    ("LazyConv2d_groups_unbatched", lambda L: L.nn.LazyConv2d(4, 2, groups=2, bias=False),
     (4, 3, 3)),
    ("LazyConv1d", lambda L: L.nn.LazyConv1d(2, 3, stride=2), (2, 3, 7)),
]


@pytest.mark.parametrize("name,make,shape", LAZY, ids=[c[0] for c in LAZY])
def test_lazy_layer_becomes_torchs_layer(name, make, shape):
    tm, m = make(torch).double(), make(tinyflow).double()
    assert repr(m) == repr(tm) and m.has_uninitialized_params()
    assert isinstance(m.weight, nn.UninitializedParameter)
    x = np.random.default_rng(0).standard_normal(shape)
    tm(torch.tensor(x))
    m(tinyflow.tensor(x))
    assert type(m).__name__ == type(tm).__name__ and repr(m) == repr(tm)
    assert type(m.weight) is nn.Parameter and m.weight.dtype == tinyflow.float64
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in tm.state_dict().items()}
    bound = 1 / np.sqrt(np.prod(m.weight.shape[1:]))   # kaiming_uniform(a=sqrt(5)), as torch
    assert 0 < np.abs(m.weight.detach().numpy()).max() <= bound
    copy_state(tm, m)
    compare(tm, m, [D(*shape)], params=param_pairs(tm, m), **TOL)


def test_lazy_layer_trains_with_an_optimizer_made_before_its_first_call():
    m = nn.Sequential(nn.LazyLinear(3), nn.ReLU(), nn.LazyLinear(1))
    opt = tinyflow.optim.SGD(m.parameters(), lr=0.1)
    x = tinyflow.randn(8, 5)
    m(x).pow(2).mean().backward()
    before = m[0].weight.detach().numpy().copy()
    opt.step()
    assert m[0].weight.shape == (3, 5) and not np.allclose(m[0].weight.detach().numpy(), before)


def test_lazy_layer_loads_a_state_dict_as_torch():
    state = {"weight": np.ones((3, 5)), "bias": np.zeros(3)}
    tm, m = torch.nn.LazyLinear(3), nn.LazyLinear(3)
    tm.load_state_dict({k: torch.tensor(v, dtype=torch.float32) for k, v in state.items()})
    m.load_state_dict(state)
    assert repr(m) == repr(tm) and type(m).__name__ == type(tm).__name__ == "LazyLinear"
    np.testing.assert_array_equal(m(tinyflow.ones(2, 5)).detach().numpy(), np.full((2, 3), 5.0))
    assert type(m) is nn.Linear


def test_convert_sync_batchnorm_as_torch():
    def build(L):
        return L.nn.Sequential(L.nn.Conv2d(1, 3, 1), L.nn.BatchNorm2d(3),
                               L.nn.Sequential(L.nn.BatchNorm1d(2, affine=False)),
                               L.nn.InstanceNorm2d(3))
    tm = torch.nn.SyncBatchNorm.convert_sync_batchnorm(build(torch))
    m = build(tinyflow)
    m[1].eval()
    weight, mean = m[1].weight, m[1].running_mean
    m = nn.SyncBatchNorm.convert_sync_batchnorm(m)
    assert [type(c).__name__ for c in m.modules()] == [type(c).__name__ for c in tm.modules()]
    assert list(m.state_dict()) == list(tm.state_dict())
    assert m[1].weight is weight and m[1].running_mean is mean and not m[1].training


def _l1(L, m, amount, **kw):
    return L.nn.utils.prune.l1_unstructured(m, "weight", amount, **kw)


# (name, layer with L, prune it with L, input shape)
PRUNED = [
    ("l1_fraction", lambda L: L.nn.Linear(5, 4), lambda L, m: _l1(L, m, 0.3), (3, 5)),
    ("l1_count_then_fraction_conv", lambda L: L.nn.Conv2d(2, 3, 2),
     lambda L, m: _l1(L, _l1(L, m, 7), 0.5), (1, 2, 3, 3)),
    ("l1_importance_scores", lambda L: L.nn.Linear(4, 3), lambda L, m: _l1(
        L, m, 5, importance_scores=L.arange(12.0).reshape(3, 4).flip(1)), (2, 4)),
    ("custom_mask_then_l1", lambda L: L.nn.Linear(3, 3), lambda L, m: _l1(
        L, L.nn.utils.prune.custom_from_mask(m, "weight", L.eye(3)), 1), (2, 3)),
    ("identity", lambda L: L.nn.Linear(3, 2), lambda L, m: L.nn.utils.prune.identity(
        m, "weight"), (2, 3)),
    ("bias_l1", lambda L: L.nn.Linear(3, 4), lambda L, m: L.nn.utils.prune.l1_unstructured(
        m, "bias", 0.5), (2, 3)),
]


@pytest.mark.parametrize("name,make,prune,shape", PRUNED, ids=[c[0] for c in PRUNED])
def test_pruned_layer_matches_torch(name, make, prune, shape):
    tm, m = make(torch).double(), make(tinyflow).double()
    copy_state(tm, m)
    prune(torch, tm)
    prune(tinyflow, m)
    assert nn.utils.prune.is_pruned(m)
    assert list(m.state_dict()) == list(tm.state_dict())
    for k, v in tm.state_dict().items():
        _close(m.state_dict()[k], v, k)
    compare(tm, m, [D(*shape)], params=param_pairs(tm, m), **TOL)
    tensor = "bias" if name.startswith("bias") else "weight"
    torch.nn.utils.prune.remove(tm, tensor)
    nn.utils.prune.remove(m, tensor)
    assert list(m.state_dict()) == list(tm.state_dict()) and not nn.utils.prune.is_pruned(m)
    _close(getattr(m, tensor), getattr(tm, tensor), "after remove")


def test_global_unstructured_as_torch():
    def build(L):
        L.manual_seed(0)
        return L.nn.Sequential(L.nn.Linear(4, 6), L.nn.Linear(6, 3)).double()
    tm, m = build(torch), build(tinyflow)
    copy_state(tm, m)
    for L, net in ((torch, tm), (tinyflow, m)):
        L.nn.utils.prune.l1_unstructured(net[1], "weight", 0.2)
        L.nn.utils.prune.global_unstructured([(net[0], "weight"), (net[1], "weight")],
                                             L.nn.utils.prune.L1Unstructured, amount=10)
    assert list(m.state_dict()) == list(tm.state_dict())
    for k, v in tm.state_dict().items():
        _close(m.state_dict()[k], v, k)


def test_random_unstructured_prunes_that_many():
    m = nn.Linear(10, 10)
    nn.utils.prune.random_unstructured(m, "weight", 0.25)
    nn.utils.prune.random_unstructured(m, "weight", 15)
    mask = m.weight_mask.numpy()
    assert mask.sum() == 100 - 25 - 15 and set(np.unique(mask)) == {0.0, 1.0}
    np.testing.assert_array_equal(m.weight.detach().numpy(),
                                  m.weight_orig.detach().numpy() * mask)


BAD = [
    ("parametrize_missing", lambda L: L.nn.utils.parametrize.register_parametrization(
        L.nn.Linear(2, 2), "weights", L.nn.Identity())),
    ("parametrize_shape", lambda L: L.nn.utils.parametrize.register_parametrization(
        L.nn.Linear(3, 2), "weight", L.nn.Flatten(0))),
    ("remove_not_parametrized", lambda L: L.nn.utils.parametrize.remove_parametrizations(
        L.nn.Linear(2, 2), "weight")),
    ("remove_weight_norm_twice", lambda L: L.nn.utils.parametrize.remove_parametrizations(
        _wn(L, L.nn.Linear(2, 2)), "weight", leave_parametrized=False)),
    ("spectral_norm_dim", lambda L: _sn(L, L.nn.Linear(2, 2), dim=2)),
    ("old_weight_norm_twice", lambda L: L.nn.utils.weight_norm(
        L.nn.utils.weight_norm(L.nn.Linear(2, 2)))),
    ("old_weight_norm_missing", lambda L: L.nn.utils.weight_norm(L.nn.Linear(2, 2), "w")),
    ("remove_old_weight_norm_missing", lambda L: L.nn.utils.remove_weight_norm(
        L.nn.Linear(2, 2))),
    ("old_spectral_norm_twice", lambda L: L.nn.utils.spectral_norm(
        L.nn.utils.spectral_norm(L.nn.Linear(2, 2)))),
    ("old_spectral_norm_missing", lambda L: L.nn.utils.spectral_norm(L.nn.Linear(2, 2), "w")),
    ("spectral_norm_missing", lambda L: _sn(L, L.nn.Linear(2, 2), name="w")),
    ("weight_norm_missing", lambda L: _wn(L, L.nn.Linear(2, 2), name="w")),
    ("remove_old_spectral_norm_missing", lambda L: L.nn.utils.remove_spectral_norm(
        L.nn.Linear(2, 2))),
    ("embedding_bag_2d_offsets", lambda L: L.nn.functional.embedding_bag(
        L.tensor([[1, 2]]), L.ones(3, 2), L.tensor([0]))),
    ("embedding_bag_1d_no_offsets", lambda L: L.nn.functional.embedding_bag(
        L.tensor([1, 2]), L.ones(3, 2))),
    ("embedding_bag_offsets_start", lambda L: L.nn.functional.embedding_bag(
        L.tensor([1, 2]), L.ones(3, 2), L.tensor([1]))),
    ("embedding_bag_weights_mean", lambda L: L.nn.functional.embedding_bag(
        L.tensor([[1, 2]]), L.ones(3, 2), per_sample_weights=L.ones(1, 2))),
    ("embedding_bag_mode", lambda L: L.nn.functional.embedding_bag(
        L.tensor([[1, 2]]), L.ones(3, 2), mode="min")),
    ("embedding_bag_2d_no_ids", lambda L: L.nn.functional.embedding_bag(
        L.zeros(3, 0, dtype=L.int64), L.ones(3, 2))),
    ("embedding_bag_id_range", lambda L: L.nn.functional.embedding_bag(
        L.tensor([1, 7]), L.ones(3, 2), L.tensor([0]))),
    ("embedding_bag_float_ids", lambda L: L.nn.functional.embedding_bag(
        L.tensor([[1.0, 2.0]]), L.ones(3, 2))),
    ("embedding_bag_3d", lambda L: L.nn.functional.embedding_bag(
        L.tensor([[[1, 2]]]), L.ones(3, 2))),
    ("EmbeddingBag_padding_idx", lambda L: L.nn.EmbeddingBag(3, 2, padding_idx=3)),
    ("local_response_norm_size_0", lambda L: L.nn.functional.local_response_norm(
        L.ones(1, 3, 2), 0)),
    ("local_response_norm_size_float", lambda L: L.nn.functional.local_response_norm(
        L.ones(1, 3, 2), 2.5)),
    ("local_response_norm_2d", lambda L: L.nn.functional.local_response_norm(L.ones(2, 3), 2)),
    ("feature_alpha_dropout_1d", lambda L: L.nn.functional.feature_alpha_dropout(
        L.ones(3), 0.5, True)),
    ("multilabel_margin_target_shape", lambda L: L.nn.functional.multilabel_margin_loss(
        L.ones(2, 3), L.zeros(2, 2, dtype=L.int64))),
    ("multilabel_margin_target_range", lambda L: L.nn.functional.multilabel_margin_loss(
        L.ones(2, 3), L.full((2, 3), 3, dtype=L.int64))),
    ("multilabel_margin_3d", lambda L: L.nn.functional.multilabel_margin_loss(
        L.ones(2, 3, 1), L.zeros(2, 3, 1, dtype=L.int64))),
    ("triplet_distance_margin", lambda L: L.nn.functional.triplet_margin_with_distance_loss(
        L.ones(2, 3), L.ones(2, 3), L.ones(2, 3), margin=0.0)),
    ("triplet_distance_ranks", lambda L: L.nn.functional.triplet_margin_with_distance_loss(
        L.ones(2, 3), L.ones(2, 3), L.ones(3))),
    ("TripletMarginWithDistanceLoss_margin", lambda L: L.nn.TripletMarginWithDistanceLoss(
        margin=-1.0)),
    ("SyncBatchNorm_1d", lambda L: L.nn.SyncBatchNorm(3)(L.ones(3))),
    ("LazyConv2d_groups", lambda L: L.nn.LazyConv2d(4, 1, groups=2)(L.ones(1, 3, 2, 2))),
    ("prune_amount_negative", lambda L: _l1(L, L.nn.Linear(2, 2), -1)),
    ("prune_amount_fraction", lambda L: _l1(L, L.nn.Linear(2, 2), 1.5)),
    ("prune_amount_too_many", lambda L: _l1(L, L.nn.Linear(2, 2), 5)),
    ("prune_amount_type", lambda L: _l1(L, L.nn.Linear(2, 2), "half")),
    ("prune_missing", lambda L: L.nn.utils.prune.l1_unstructured(L.nn.Linear(2, 2), "w", 1)),
    ("prune_remove_unpruned", lambda L: L.nn.utils.prune.remove(L.nn.Linear(2, 2), "weight")),
    ("ctc_rank", lambda L: L.nn.functional.ctc_loss(
        L.ones(2, 3, 4, 5), L.ones(3, 2, dtype=L.int64), [2, 2, 2], [1, 1, 1])),
    ("ctc_input_length", lambda L: L.nn.functional.ctc_loss(
        L.ones(4, 2, 3), L.ones(2, 2, dtype=L.int64), [5, 4], [1, 1])),
    ("ctc_target_length", lambda L: L.nn.functional.ctc_loss(
        L.ones(4, 2, 3), L.ones(2, 2, dtype=L.int64), [4, 4], [3, 1])),
    ("ctc_blank", lambda L: L.nn.functional.ctc_loss(
        L.ones(4, 2, 3), L.ones(2, 2, dtype=L.int64), [4, 4], [1, 1], blank=3)),
    ("ctc_batch", lambda L: L.nn.functional.ctc_loss(
        L.ones(4, 2, 3), L.ones(2, 2, dtype=L.int64), [4, 4, 4], [1, 1])),
    ("feature_alpha_dropout_p", lambda L: L.nn.functional.feature_alpha_dropout(
        L.ones(2, 3), 1.5, True)),
]


@pytest.mark.filterwarnings("ignore:.*weight_norm.*is deprecated")
@pytest.mark.parametrize("name,call", BAD, ids=[c[0] for c in BAD])
def test_bad_input_is_refused_as_torch(name, call):
    with pytest.raises(Exception) as expected:
        call(torch)
    with pytest.raises(type(expected.value)):
        call(tinyflow)


def test_old_weight_norm_warns_as_torch():
    with pytest.warns(FutureWarning, match="nn.utils.weight_norm"):
        nn.utils.weight_norm(nn.Linear(2, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.utils.parametrizations.weight_norm(nn.Linear(2, 2))


def test_feature_alpha_dropout_drops_whole_channels():
    """Training: one decision per channel; a dropped channel sits at -alpha a (1 - p), a kept
    one is a x + alpha a p; mean 0 and variance 1 kept for unit normal inputs."""
    p, alpha = 0.25, 1.7580993408473766
    a = ((alpha * alpha * p + 1) * (1 - p)) ** -0.5
    x = tinyflow.randn(40, 50, 30, dtype=tinyflow.float64, requires_grad=True)
    out = nn.FeatureAlphaDropout(p)(x)
    out.sum().backward()
    g = x.grad.numpy()
    assert np.all(g.min(-1) == g.max(-1))   # per channel
    dropped = g[..., 0] == 0
    assert 0.2 < dropped.mean() < 0.3
    y, xs = out.detach().numpy(), x.detach().numpy()
    np.testing.assert_allclose(y[dropped], -alpha * a * (1 - p), rtol=1e-12)
    np.testing.assert_allclose(y[~dropped], a * xs[~dropped] + alpha * a * p, rtol=1e-12)
    assert abs(y.mean()) < 0.05 and abs(y.var() - 1) < 0.05
