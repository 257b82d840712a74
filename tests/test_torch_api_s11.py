"""PyTorch APIs added in session 11 (aminmax, std_mean/var_mean, gcd/lcm/nextafter, sinc,
isposinf/isneginf, conv_transpose1d, 1-D adaptive pools, normalize with any p, interpolate's
'nearest-exact' and 'area', four losses, `//=` and `%=`) and behaviours fixed to match
PyTorch's: each case runs on PyTorch and on tinyflow and compares values, dtypes, shapes,
gradients, or the error raised."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import tinyflow

INF = math.inf


def _outputs(out) -> list:
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _outputs(o)]
    return [out]


def _same(got, want) -> None:
    got, want = _outputs(got), _outputs(want)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype.name == str(w.dtype).split(".")[-1], f"{g.dtype.name} != {w.dtype}"
        assert tuple(g.shape) == tuple(w.shape)
        # float32 values of order 1 round to ~1e-7 absolute: a sum that cancels near 0 has
        # no relative precision left (ConvTranspose1d's 1.1e-4 differed by 7e-9)
        rtol, atol = {"float64": (1e-10, 1e-12), "float32": (1e-5, 1e-6)}.get(
            g.dtype.name, (1e-3, 1e-12))
        np.testing.assert_allclose(g.detach().double().numpy(), w.detach().double().numpy(),
                                   rtol=rtol, atol=atol, equal_nan=True)


def _int(L, values, dtype="int64"):
    return L.tensor(values, dtype=getattr(L, dtype))


def _x(L):
    return L.tensor([[1.0, 5.0, 5.0, -2.0], [0.5, 3.0, -1.0, 2.0], [4.0, 4.0, 0.0, 1.0]])


VALUES = {
    "gcd": lambda L: L.gcd(_int(L, [12, -18, 0, 7, -4]), _int(L, [8, 12, 0, -21, 0], "int32")),
    "lcm": lambda L: L.lcm(_int(L, [12, -18, 0, 7]), _int(L, [8, 12, 5, -21])),
    "lcm wraps": lambda L: L.lcm(_int(L, [2 ** 40]), _int(L, [2 ** 40 - 1])),
    "lcm uint8": lambda L: _int(L, [12, 18], "uint8").lcm(_int(L, [238, 14], "uint8")),
    "nextafter": lambda L: L.nextafter(L.tensor([1.0, 0.0, -1.0, 2.0]),
                                       L.tensor([2.0, 1.0, 0.0, 2.0])),
    "nextafter promotes": lambda L: L.nextafter(L.tensor([1.0]),
                                                L.tensor([2.0], dtype=L.float64)),
    "nextafter float16": lambda L: L.nextafter(L.tensor([1.0, -1.0], dtype=L.float16),
                                               L.tensor([2.0, -2.0], dtype=L.float16)),
    "sinc": lambda L: L.sinc(L.tensor([0.0, 0.5, 1.0, -2.5, 1e-9])),
    "sinc of ints": lambda L: L.sinc(_int(L, [0, 1, 2])),
    "isposinf": lambda L: L.isposinf(L.tensor([1.0, INF, -INF, math.nan])),
    "isneginf": lambda L: L.tensor([1.0, INF, -INF, math.nan]).isneginf(),
    "isposinf of ints": lambda L: L.isposinf(_int(L, [1, 2])),
    "isneginf of bools": lambda L: L.isneginf(L.tensor([True])),
    "aminmax": lambda L: L.aminmax(_x(L)),
    "aminmax dim": lambda L: L.aminmax(_x(L), dim=1, keepdim=True),
    "aminmax keepdim all": lambda L: _x(L).aminmax(keepdim=True),
    "aminmax ints": lambda L: L.aminmax(_int(L, [[1, 5], [3, 2]]), dim=0),
    "aminmax bools": lambda L: L.aminmax(L.tensor([True, False])),
    "aminmax 0-d": lambda L: L.aminmax(L.tensor(3.0), dim=0, keepdim=True),
    "aminmax empty rows": lambda L: L.aminmax(L.zeros(0, 3), dim=1),
    "var_mean": lambda L: L.var_mean(_x(L)),
    "var_mean dim keepdim": lambda L: L.var_mean(_x(L), 1, keepdim=True),
    "var_mean unbiased positional": lambda L: L.var_mean(_x(L), 1, False),
    "var_mean unbiased only": lambda L: L.var_mean(_x(L), False),
    "var_mean correction": lambda L: L.var_mean(_x(L), dim=(0, 1), correction=2),
    "std_mean": lambda L: L.std_mean(_x(L), dim=0),
    "std_mean empty dims": lambda L: L.std_mean(_x(L), dim=[]),
    "std_mean float16": lambda L: L.std_mean(_x(L).half(), 1),
    "std_mean bfloat16": lambda L: L.std_mean(_x(L).bfloat16()),
    # behaviours fixed to match PyTorch's
    "fmod by infinities": lambda L: L.fmod(L.tensor([1.5, -1.5, -0.0, INF, -2.0]),
                                           L.tensor([INF, INF, -INF, INF, -INF])),
    "fmod by a Python infinity": lambda L: L.fmod(L.tensor([1.5, -1.5, 0.0]), INF),
    "add bools alpha": lambda L: L.add(L.tensor([True, False]), L.tensor([True, True]),
                                       alpha=2),
    "add bools alpha 0": lambda L: L.tensor([True, False]).add(L.tensor([True, True]),
                                                               alpha=0),
    "add bool and int alpha": lambda L: L.add(L.tensor([True, False]), L.tensor([1, 1]),
                                              alpha=2),
    "add int and float alpha float": lambda L: L.add(L.tensor([1, 2]), L.tensor([1.0, 1.0]),
                                                     alpha=0.5),
    "nanmedian 0-d keepdim": lambda L: L.nanmedian(L.tensor(3.0), 0, keepdim=True),
    "lerp 0-d float64 weight": lambda L: L.lerp(L.tensor([1.0, 2.0]), L.tensor([3.0, 4.0]),
                                                L.tensor(0.5, dtype=L.float64)),
    "isclose ints": lambda L: L.isclose(L.tensor([1, 2]), L.tensor([1, 3])),
    "hypot int and float": lambda L: L.hypot(L.tensor([3, 4]), L.tensor([4.0, 3.0])),
    "max of bools": lambda L: L.tensor([[False, True]]).max(1),
    # the size kept, the scale not 1: sources floor(j / 1.1) (PyTorch's backward copies)
    "interpolate nearest same size": lambda L: L.nn.functional.interpolate(
        L.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]]), scale_factor=1.1, mode="nearest"),
}


@pytest.mark.parametrize("case", VALUES)
def test_values_dtypes_and_shapes_as_torch(case):
    _same(VALUES[case](tinyflow), VALUES[case](torch))


def _floats(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape)


F_CASES = {   # name -> (fn(L, F, *inputs), float64 arrays that require grad)
    "conv_transpose1d": (lambda L, F, x, w, b: F.conv_transpose1d(
        x, w, b, stride=2, padding=1, output_padding=1), (_floats(0, 2, 4, 5),
                                                          _floats(1, 4, 3, 3), _floats(2, 3))),
    "conv_transpose1d groups dilation unbatched": (lambda L, F, x, w: F.conv_transpose1d(
        x, w, stride=3, groups=2, dilation=2), (_floats(3, 4, 5), _floats(4, 4, 1, 3))),
    "adaptive_avg_pool1d": (lambda L, F, x: F.adaptive_avg_pool1d(x, 3), (_floats(5, 2, 3, 7),)),
    "adaptive_avg_pool1d unbatched": (lambda L, F, x: F.adaptive_avg_pool1d(x, 4),
                                      (_floats(6, 3, 7),)),
    "adaptive_max_pool1d indices": (lambda L, F, x: F.adaptive_max_pool1d(x, 3, True),
                                    (_floats(7, 2, 3, 7),)),
    "adaptive_max_pool1d upsampling": (lambda L, F, x: F.adaptive_max_pool1d(x, 9, True),
                                       (_floats(8, 3, 7),)),
    "adaptive_max_pool1d ties": (lambda L, F, x: F.adaptive_max_pool1d(x, 2, True),
                                 (np.array([[1.0, 3.0, 3.0, 3.0, 0.0]]),)),
    "normalize p=1": (lambda L, F, x: F.normalize(x, p=1), (_floats(9, 3, 4),)),
    "normalize p=inf": (lambda L, F, x: F.normalize(x, p=INF, dim=0), (_floats(10, 3, 4),)),
    "normalize p=3": (lambda L, F, x: F.normalize(x, p=3, dim=-1), (_floats(11, 3, 4),)),
    "margin_ranking_loss": (lambda L, F, a, b: F.margin_ranking_loss(
        a, b, L.tensor([1.0, -1.0, 1.0, -1.0, 1.0], dtype=L.float64), margin=0.3,
        reduction="none"), (_floats(12, 5), _floats(13, 5))),
    "margin_ranking_loss long target": (lambda L, F, a, b: F.margin_ranking_loss(
        a, b, L.tensor([1, -1, 1, -1, 1])), (_floats(12, 5), _floats(13, 5))),
    "cosine_embedding_loss": (lambda L, F, a, b: F.cosine_embedding_loss(
        a, b, L.tensor([1, -1, 0, -1]), margin=0.2, reduction="sum"),
        (_floats(14, 4, 3), _floats(15, 4, 3))),
    "cosine_embedding_loss one pair": (lambda L, F, a, b: F.cosine_embedding_loss(
        a, b, L.tensor(-1)), (_floats(16, 3), _floats(17, 3))),
    "multi_margin_loss": (lambda L, F, x: F.multi_margin_loss(
        x, L.tensor([0, 3, 1, 2, 2]), reduction="none"), (_floats(18, 5, 4),)),
    "multi_margin_loss p=2 weight": (lambda L, F, x: F.multi_margin_loss(
        x, L.tensor([0, 3, 1, 2, 2]), p=2, margin=0.7,
        weight=L.tensor([0.5, 1.0, 2.0, 0.1], dtype=L.float64)), (_floats(19, 5, 4),)),
    "multi_margin_loss unbatched": (lambda L, F, x: F.multi_margin_loss(
        x, L.tensor(2), reduction="sum"), (_floats(20, 4),)),
    "poisson_nll_loss": (lambda L, F, x: F.poisson_nll_loss(
        x, L.tensor(np.abs(_floats(21, 3, 4)) * 3)), (_floats(22, 3, 4),)),
    "poisson_nll_loss rates full": (lambda L, F, x: F.poisson_nll_loss(
        x, L.tensor([0.0, 1.0, 3.0, 5.0], dtype=L.float64), log_input=False, full=True,
        reduction="none"), (np.abs(_floats(23, 4)) + 0.1,)),
    "interpolate area 4-D": (lambda L, F, x: F.interpolate(x, size=(3, 4), mode="area"),
                             (_floats(24, 1, 2, 7, 6),)),
    "interpolate area 5-D scale": (lambda L, F, x: F.interpolate(
        x, scale_factor=0.5, mode="area"), (_floats(25, 1, 1, 4, 5, 6),)),
    "interpolate area 3-D upsampling": (lambda L, F, x: F.interpolate(x, size=9, mode="area"),
                                        (_floats(26, 1, 2, 4),)),
    "interpolate nearest-exact": (lambda L, F, x: F.interpolate(
        x, size=(5, 3), mode="nearest-exact"), (_floats(27, 1, 2, 7, 6),)),
    "interpolate nearest-exact scale": (lambda L, F, x: F.interpolate(
        x, scale_factor=1.7, mode="nearest-exact"), (_floats(28, 1, 2, 5),)),
    "interpolate nearest-exact x2": (lambda L, F, x: F.interpolate(
        x, scale_factor=2, mode="nearest-exact"), (_floats(29, 1, 1, 3, 2),)),
    "sinc": (lambda L, F, x: L.sinc(x), (np.array([0.0, 0.3, 1.0, -2.5]),)),
    "aminmax ties share": (lambda L, F, x: L.aminmax(x), (np.array([1.0, 5, 5, 2, 1]),)),
    "aminmax dim": (lambda L, F, x: L.aminmax(x, dim=0), (_floats(31, 3, 2),)),
    "std_mean": (lambda L, F, x: L.std_mean(x, 1, keepdim=True), (_floats(32, 3, 4),)),
    "var_mean": (lambda L, F, x: L.var_mean(x, correction=0), (_floats(33, 3, 4),)),
    "logit": (lambda L, F, x: L.logit(x), (np.array([-0.5, 0.0, 0.3, 1.0, 1.5, 1e-3]),)),
    "logit eps": (lambda L, F, x: L.logit(x, 0.01),
                  (np.array([-0.5, 0.0, 0.3, 1.0, 1.5, 1e-3]),)),
    "logit eps 0": (lambda L, F, x: x.logit(eps=0.0), (np.array([-0.5, 0.0, 0.3, 1.0, 1.5]),)),
    "fmod by infinities": (lambda L, F, x, y: L.fmod(x, y),
                           (np.array([1.5, -1.5, 2.0]), np.array([INF, -INF, 0.7]))),
    "nextafter": (lambda L, F, x, y: L.nextafter(x, y),
                  (np.array([1.0, 0.0, -1.0, 3.0]), np.array([2.0, 0.0, 0.0, -5.0]))),
}


@pytest.mark.parametrize("case", F_CASES)
def test_values_and_gradients_as_torch(case):
    fn, arrays = F_CASES[case]
    outs, leaves = [], []
    for L in (torch, tinyflow):
        xs = [L.tensor(a, requires_grad=True) for a in arrays]
        out = fn(L, L.nn.functional, *xs)
        floats = [o for o in _outputs(out) if o.dtype in (L.float32, L.float64)]
        weights = [np.linspace(0.5, 2.0, o.numel()).reshape(tuple(o.shape)) for o in floats]
        sum((o * L.tensor(w)).sum() for o, w in zip(floats, weights)).backward()
        outs.append(out)
        leaves.append([x.grad for x in xs])
    _same(outs[1], outs[0])
    _same(leaves[1], leaves[0])


MODULES = {   # name -> (fn(nn) -> module, input array)
    "ConvTranspose1d": (lambda nn: nn.ConvTranspose1d(4, 6, 3, stride=2, groups=2,
                                                      output_padding=1), _floats(40, 2, 4, 5)),
    "AdaptiveAvgPool1d": (lambda nn: nn.AdaptiveAvgPool1d(3), _floats(41, 2, 3, 8)),
    "AdaptiveMaxPool1d": (lambda nn: nn.AdaptiveMaxPool1d(3, return_indices=True),
                          _floats(42, 2, 3, 8)),
}


@pytest.mark.parametrize("case", MODULES)
def test_modules_as_torch(case):
    make, array = MODULES[case]
    torch.manual_seed(0)    # torch's initial weights: the same case every run
    theirs, ours = make(torch.nn), make(tinyflow.nn)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert repr(ours) == repr(theirs)
    _same(ours(tinyflow.tensor(array, dtype=tinyflow.float32)),
          theirs(torch.tensor(array, dtype=torch.float32)))


LOSS_MODULES = {   # name -> (fn(nn) -> module, fn(L) -> inputs)
    "MarginRankingLoss": (lambda nn: nn.MarginRankingLoss(margin=0.5, reduction="sum"),
                          lambda L: (L.tensor([0.5, 2.0]), L.tensor([1.0, 0.0]),
                                     L.tensor([1.0, -1.0]))),
    "CosineEmbeddingLoss": (lambda nn: nn.CosineEmbeddingLoss(0.1),
                            lambda L: (L.tensor([[1.0, 2.0], [0.0, 1.0]]),
                                       L.tensor([[2.0, 1.0], [1.0, 1.0]]), L.tensor([1, -1]))),
    "MultiMarginLoss": (lambda nn: nn.MultiMarginLoss(p=2, weight=torch.tensor([1.0, 2.0, 3.0])
                                                      if nn is torch.nn else
                                                      tinyflow.tensor([1.0, 2.0, 3.0])),
                        lambda L: (L.tensor([[0.1, 0.5, -0.2], [1.0, 0.0, 0.3]]),
                                   L.tensor([2, 0]))),
    "PoissonNLLLoss": (lambda nn: nn.PoissonNLLLoss(log_input=False, full=True,
                                                    reduction="none"),
                       lambda L: (L.tensor([0.5, 2.0, 3.0]), L.tensor([0.0, 2.0, 7.0]))),
}


@pytest.mark.parametrize("case", LOSS_MODULES)
def test_loss_modules_as_torch(case):
    make, inputs = LOSS_MODULES[case]
    _same(make(tinyflow.nn)(*inputs(tinyflow)), make(torch.nn)(*inputs(torch)))


ERRORS = {   # name -> fn(L, F); both raise, tinyflow's error an instance of the class named
    "gcd of floats": (lambda L, F: L.gcd(L.tensor([1.0]), L.tensor([2.0])), RuntimeError),
    "lcm of bools": (lambda L, F: L.lcm(L.tensor([True]), L.tensor([True])), RuntimeError),
    "nextafter of ints": (lambda L, F: L.nextafter(L.tensor([1]), L.tensor([2])),
                          RuntimeError),
    "aminmax of empty": (lambda L, F: L.aminmax(L.zeros(0, 3)), RuntimeError),
    "std_mean of ints": (lambda L, F: L.std_mean(L.tensor([1, 2, 3])), RuntimeError),
    "conv_transpose1d 4-D input": (lambda L, F: F.conv_transpose1d(L.zeros(1, 2, 3, 4),
                                                                   L.zeros(2, 2, 3)),
                                   RuntimeError),
    "adaptive_avg_pool1d 4-D": (lambda L, F: F.adaptive_avg_pool1d(L.zeros(1, 2, 3, 4), 2),
                                RuntimeError),
    "adaptive_max_pool1d 1-D": (lambda L, F: F.adaptive_max_pool1d(L.zeros(4), 2),
                                RuntimeError),
    "margin_ranking_loss dims": (lambda L, F: F.margin_ranking_loss(
        L.zeros(2, 2), L.zeros(4), L.zeros(4)), RuntimeError),
    "margin_ranking_loss reduction": (lambda L, F: F.margin_ranking_loss(
        L.zeros(4), L.zeros(4), L.ones(4), reduction="bogus"), ValueError),
    "cosine_embedding_loss 3-D": (lambda L, F: F.cosine_embedding_loss(
        L.zeros(1, 3, 5), L.zeros(1, 3, 5), L.ones(3)), RuntimeError),
    "multi_margin_loss p=3": (lambda L, F: F.multi_margin_loss(
        L.zeros(3, 4), L.tensor([0, 1, 2]), p=3), ValueError),
    "multi_margin_loss float target": (lambda L, F: F.multi_margin_loss(
        L.zeros(3, 4), L.tensor([0.0, 1.0, 2.0])), RuntimeError),
    "multi_margin_loss target out of range": (lambda L, F: F.multi_margin_loss(
        L.zeros(3, 4), L.tensor([0, 4, 1])), (RuntimeError, IndexError)),
    "multi_margin_loss target size": (lambda L, F: F.multi_margin_loss(
        L.zeros(3, 4), L.tensor([0, 1])), RuntimeError),
    "multi_margin_loss weight size": (lambda L, F: F.multi_margin_loss(
        L.zeros(3, 4), L.tensor([0, 1, 2]), weight=L.ones(3)), RuntimeError),
    "interpolate area align_corners": (lambda L, F: F.interpolate(
        L.zeros(1, 1, 4), size=2, mode="area", align_corners=True), ValueError),
    "add int alpha float": (lambda L, F: L.add(L.tensor([1, 2]), L.tensor([1, 1]), alpha=0.5),
                            RuntimeError),
    "add float alpha True": (lambda L, F: L.add(L.tensor([1.0]), L.tensor([1.0]), alpha=True),
                             RuntimeError),
    "sub bool alpha": (lambda L, F: L.sub(L.tensor([1.0, 2.0]), L.tensor([True, True]),
                                          alpha=2), RuntimeError),
    "lerp end float64": (lambda L, F: L.lerp(L.tensor([1.0]), L.tensor([3.0], dtype=L.float64),
                                             0.5), RuntimeError),
    "lerp 0-d end float64": (lambda L, F: L.lerp(L.tensor([1.0]),
                                                 L.tensor(3.0, dtype=L.float64), 0.5),
                             RuntimeError),
    "lerp weight float64": (lambda L, F: L.lerp(L.tensor([1.0]), L.tensor([3.0]),
                                                L.tensor([0.5], dtype=L.float64)), RuntimeError),
    "lerp ints": (lambda L, F: L.lerp(L.tensor([1]), L.tensor([3]), 0.5), RuntimeError),
    "isclose float32 float64": (lambda L, F: L.isclose(L.tensor([1.0]),
                                                       L.tensor(1.0, dtype=L.float64)),
                                RuntimeError),
    "isclose int32 int64": (lambda L, F: L.isclose(L.tensor([1], dtype=L.int32),
                                                   L.tensor([1])), RuntimeError),
    "isclose to a number": (lambda L, F: L.isclose(L.tensor([3.0]), 3), TypeError),
    "isclose of a number": (lambda L, F: L.isclose(3.0, L.tensor([3.0])), TypeError),
    "isclose method to a number": (lambda L, F: L.tensor([3.0]).isclose(3.0), TypeError),
    "allclose to a number": (lambda L, F: L.allclose(L.tensor([3.0]), 3), TypeError),
    "allclose float32 float64": (lambda L, F: L.allclose(L.tensor([1.0]),
                                                         L.tensor([1.0], dtype=L.float64)),
                                 RuntimeError),
    "allclose shapes": (lambda L, F: L.allclose(L.ones(2), L.ones(3)), RuntimeError),
    "hypot ints": (lambda L, F: L.hypot(L.tensor([3]), L.tensor([4])), RuntimeError),
    "argmax of bools": (lambda L, F: L.tensor([False, True]).argmax(), RuntimeError),
    "argmin of bools dim": (lambda L, F: L.argmin(L.tensor([[False, True]]), 1), RuntimeError),
    "topk of bools": (lambda L, F: L.tensor([False, True]).topk(1), RuntimeError),
    "abs of bools": (lambda L, F: L.abs(L.tensor([False, True])), RuntimeError),
    "//= float into ints": (lambda L, F: L.tensor([7, 8]).__ifloordiv__(2.5), RuntimeError),
    "%= float tensor into ints": (lambda L, F: L.tensor([7, 8]).__imod__(L.tensor([2.5])),
                                  RuntimeError),
}


@pytest.mark.parametrize("case", ERRORS)
def test_errors_as_torch(case):
    fn, error = ERRORS[case]
    with pytest.raises(Exception):   # noqa: B017  (the oracle raises)
        fn(torch, torch.nn.functional)
    with pytest.raises(error):
        fn(tinyflow, tinyflow.nn.functional)


def test_writes_into_overlapping_unfold_windows_reach_the_base_or_are_refused():
    bases = []
    for L in (torch, tinyflow):
        x = L.arange(8.0)
        windows = x.unfold(0, 4, 2)       # [0:4], [2:6], [4:8]: they overlap
        windows[0, 3] = 100.0             # one element: x[3]
        windows[2] = -1.0                 # a window that does not overlap itself: x[4:8]
        bases.append(x.clone())
        windows.fill_(5.0)                # one value everywhere
        bases.append(x)
    _same(bases[2:], bases[:2])
    with pytest.raises(RuntimeError, match="one write would land in several elements"):
        windows.add_(1.0)   # PyTorch adds twice where windows share (an order-dependent sum)


@pytest.mark.parametrize("dtype", ["int64", "float32"])
def test_floor_divide_and_remainder_in_place_reach_views_as_torch(dtype):
    results = []
    for L in (torch, tinyflow):
        x = L.tensor([7, -8, 9, 10], dtype=getattr(L, dtype))
        view = x[1:]
        x //= 2
        floor = view.clone()
        x %= 3
        results.append((x, floor, view))
    _same(results[1], results[0])
