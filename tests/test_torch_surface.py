"""Everyday PyTorch tensor methods and torch.* functions beyond the core set (sorting, scans,
triangles, tiling, views by index, tensor factories, devices, torch.save/load), run on
PyTorch and on tinyflow and compared: values, dtypes and gradients."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import tinyflow

from torch_oracle import X, Given, Ids, compare, positive

TIES = np.array([[3.0, 1.0, 3.0, 2.0, 1.0], [0.5, 0.5, -1.0, 2.0, 0.5]], np.float32)

CASES = [
    ("cumsum", lambda L, x: L.cumsum(x, 1), [X(3, 4)]),
    ("cumsum_method_dim0", lambda L, x: x.cumsum(0), [X(3, 4)]),
    ("tril", lambda L, x: L.tril(x), [X(4, 4)]),
    ("tril_batched_offset", lambda L, x: x.tril(-1), [X(2, 3, 5)]),
    ("triu", lambda L, x: L.triu(x, 1), [X(4, 6)]),
    ("causal_mask", lambda L, x: x.masked_fill(L.triu(L.ones(4, 4), 1).bool(), -1e9)
     .softmax(-1), [X(4, 4)]),
    ("sort", lambda L, x: L.sort(x, 1), [X(3, 5)]),
    ("sort_descending_dim0", lambda L, x: x.sort(0, descending=True), [X(4, 3)]),
    ("argsort", lambda L, x: L.argsort(x, dim=-1, descending=True), [X(3, 5)]),
    ("sort_stable_ties", lambda L, x: L.sort(x, stable=True), [Given(TIES)]),
    ("topk", lambda L, x: L.topk(x, 3), [X(4, 6)]),
    ("topk_smallest_dim0", lambda L, x: x.topk(2, dim=0, largest=False), [X(5, 3)]),
    ("flip", lambda L, x: L.flip(x, (0, 2)), [X(2, 3, 4)]),
    ("flip_method", lambda L, x: x.flip(-1), [X(3, 4)]),
    ("roll", lambda L, x: L.roll(x, 2, 1), [X(3, 5)]),
    ("roll_two_dims", lambda L, x: x.roll((1, -2), (0, 1)), [X(3, 5)]),
    ("roll_flat", lambda L, x: x.roll(3), [X(2, 4)]),
    ("narrow", lambda L, x: L.narrow(x, 1, 1, 2), [X(3, 5)]),
    ("select", lambda L, x: x.select(1, 2), [X(3, 5)]),
    ("unbind", lambda L, x: L.unbind(x, 1), [X(2, 3)]),
    ("repeat", lambda L, x: x.repeat(2, 3), [X(2, 3)]),
    ("repeat_new_dims", lambda L, x: x.repeat(2, 1, 2), [X(3)]),
    ("tile", lambda L, x: L.tile(x, (2,)), [X(2, 3)]),
    ("unflatten", lambda L, x: x.unflatten(1, (2, 3)), [X(4, 6)]),
    ("movedim", lambda L, x: L.movedim(x, 0, 2), [X(2, 3, 4)]),
    ("outer", lambda L, a, b: L.outer(a, b), [X(3), X(4)]),
    ("dot", lambda L, a, b: L.dot(a, b), [X(5), X(5)]),
    ("addmm", lambda L, c, a, b: L.addmm(c, a, b, beta=0.5, alpha=2.0), [X(3), X(2, 4), X(4, 3)]),
    ("lerp", lambda L, a, b: L.lerp(a, b, 0.3), [X(3, 4), X(3, 4)]),
    ("where_method", lambda L, x, y: x.where(x > 0, y), [X(3, 4), X(3, 4)]),
    ("maximum_method", lambda L, x, y: x.maximum(y) + x.minimum(y), [X(3, 4), X(3, 4)]),
    ("floor_ceil_round", lambda L, x: x.floor() + x.ceil() + x.round() + L.round(x * 7, decimals=1)
     + x, [X(3, 4)]),
    ("round_half_even", lambda L, x: L.round(x), [Given(np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5],
                                                               np.float32))]),
    ("isnan_isinf_isfinite", lambda L, x: (L.isnan(x), L.isinf(x), x.isfinite()),
     [Given(np.array([1.0, np.nan, np.inf, -np.inf, 0.0], np.float32))]),
    ("broadcast_to", lambda L, x: L.broadcast_to(x, (2, 3, 4)), [X(3, 1)]),
    ("log1p_expm1_log2_log10", lambda L, x: L.log1p(x) + x.expm1() + L.log2(x) + x.log10(),
     [X(3, 4, domain=positive)]),
    ("atan2", lambda L, y, x: L.atan2(y, x), [X(3, 4), X(4)]),
    ("remainder_and_percent", lambda L, x, y: L.remainder(x, y) + x % 1.5, [X(3, 4), X(4)]),
    ("fmod", lambda L, x, y: L.fmod(x, y), [X(3, 4), X(4)]),
    ("floor_divide_operator", lambda L, x: (x // 0.7, 7 // (x.abs() + 1)), [X(3, 4, grad=False)]),
    ("mask_operators", lambda L, x: (((x > 0) & (x < 1)) | ~(x > -0.5), (x > 0) ^ (x > 1),
                                     L.logical_and(x > 0, x < 1), L.logical_xor(x > 0, x < 0.5)),
     [X(3, 4)]),
    ("clip_clamp_min_max", lambda L, x: L.clip(x, -0.5, 0.5) + x.clamp_min(0) + L.clamp_max(x, 0),
     [X(3, 4)]),
    ("count_nonzero", lambda L, x: (L.count_nonzero(x), x.count_nonzero(0)),
     [Given(np.array([[0.0, 1.0], [2.0, 0.0], [3.0, 4.0]], np.float32))]),
    ("type_as", lambda L, x, i: i.type_as(x) * x, [X(3), Ids(5, 3)]),
    ("new_full_zeros_ones", lambda L, x: (x.new_full((2,), 3.5), x.new_zeros(2, 3),
                                          x.new_ones((1, 2)), x.new_tensor([1, 2])), [X(3)]),
    # PyTorch's keywords for the second operand and for alpha
    ("maximum_other_kw", lambda L, x, y: x.maximum(other=y), [X(3, 4), X(3, 4)]),
    ("pow_exponent_kw", lambda L, x: x.pow(exponent=2), [X(3, 4)]),
    ("sub_other_alpha", lambda L, x, y: x.sub(other=y, alpha=2), [X(3, 4), X(3, 4)]),
    ("add_alpha", lambda L, x, y: L.add(x, y, alpha=0.5), [X(3, 4), X(3, 4)]),
    ("atan2_other_kw", lambda L, x, y: x.atan2(other=y), [X(3, 4), X(3, 4)]),
    ("lt_other_kw", lambda L, x, y: x.lt(other=y), [X(3, 4), X(3, 4)]),
]


@pytest.mark.parametrize("name,fn,inputs", CASES, ids=[c[0] for c in CASES])
def test_matches_torch(name, fn, inputs):
    compare(lambda *a: fn(torch, *a), lambda *a: fn(tinyflow, *a), inputs)


def test_multinomial_samples_like_a_language_model():
    tinyflow.manual_seed(0)
    logits = tinyflow.tensor([[2.0, 0.0, -1.0, 0.5]])
    top = logits.topk(2)
    probs = logits.masked_fill(logits < top.values[:, -1:], -float("inf")).softmax(-1)
    ids = tinyflow.multinomial(probs, 200, replacement=True).numpy()
    assert set(np.unique(ids)) == {0, 3}       # top-k 2 keeps classes 0 and 3 only


def test_devices_are_the_cpu():
    x = tinyflow.ones(2)
    assert x.device == "cpu" and x.device.type == "cpu" and not x.is_cuda
    assert tinyflow.device("cpu") == x.device and repr(tinyflow.device("cpu")) == \
        "device(type='cpu')"
    assert not tinyflow.cuda.is_available() and tinyflow.cuda.device_count() == 0
    assert x.to(x.device) is x
    cuda = tinyflow.device("cuda:0")             # written as in torch; nothing lives there
    assert repr(cuda) == repr(torch.device("cuda:0")) and str(cuda) == "cuda:0"
    assert tinyflow.device("cuda").index is None and cuda.type == "cuda"
    for put in (lambda: x.to(cuda), lambda: tinyflow.ones(2, device=cuda),
                lambda: tinyflow.nn.Linear(2, 2).to(cuda)):
        with pytest.raises(RuntimeError, match="'cuda:0' is not available"):
            put()
    with pytest.raises(RuntimeError, match="'cdua' is not available"):
        tinyflow.device("cdua")
    assert x.nelement() == 2 and x.element_size() == 4


def test_save_and_load_a_state_dict(tmp_path):
    model = tinyflow.nn.Linear(3, 2)
    path = str(tmp_path / "model.pt")
    tinyflow.save(model.state_dict(), path)
    again = tinyflow.nn.Linear(3, 2)
    again.load_state_dict(tinyflow.load(path))
    np.testing.assert_array_equal(again.weight.detach().numpy(), model.weight.detach().numpy())
    header = open(path, "rb").read(9)             # safetensors: u64 header length, then JSON
    assert header[8:9] == b"{" and int.from_bytes(header[:8], "little") > 0
    with pytest.raises(TypeError, match=r"entry 'extra/1' is a list_iterator.*never a pickle"):
        tinyflow.save({"extra": [1, iter([])]}, path)   # (a whole Module: test_programs_s7)
    with pytest.raises(TypeError, match=r"'extra' has a key \(1, 2\) of type tuple"):
        tinyflow.save({"extra": {(1, 2): 3}}, path)


def test_a_training_checkpoint_round_trips_as_torch_save_does(tmp_path):
    """The tutorials' checkpoint (epoch, model and optimizer state, the loss tensor): what
    torch.load gives back for torch.save's file, without a pickle."""
    model = tinyflow.nn.Sequential(tinyflow.nn.Linear(3, 4), tinyflow.nn.Linear(4, 1))
    opt = tinyflow.optim.Adam(model.parameters(), lr=0.01)
    x = tinyflow.randn(5, 3)
    for _ in range(2):
        opt.zero_grad()
        loss = model(x).pow(2).mean()
        loss.backward()
        opt.step()
    path = str(tmp_path / "ckpt.pt")
    shared = tinyflow.ones(2)
    saved = {"epoch": 2, "model_state_dict": model.state_dict(),
             "optimizer_state_dict": opt.state_dict(), "loss": loss.detach(),
             "history": [0.5, float("inf"), None, "note"], "sizes": (3, 4),
             "array": np.arange(3.0), "scalar": np.float32(1.5), "twice": [shared, shared]}
    tinyflow.save(saved, path)
    back = tinyflow.load(path)
    assert back["epoch"] == 2 and back["history"] == [0.5, float("inf"), None, "note"]
    assert back["sizes"] == (3, 4) and type(back["sizes"]) is tuple
    np.testing.assert_array_equal(back["array"], np.arange(3.0))
    assert isinstance(back["array"], np.ndarray)
    assert back["scalar"] == np.float32(1.5) and back["scalar"].dtype == np.float32
    assert back["twice"][0] is back["twice"][1]
    assert back["loss"].item() == loss.item()
    assert list(back["optimizer_state_dict"]["state"]) == [0, 1, 2, 3]   # int keys stay int

    model2 = tinyflow.nn.Sequential(tinyflow.nn.Linear(3, 4), tinyflow.nn.Linear(4, 1))
    opt2 = tinyflow.optim.Adam(model2.parameters(), lr=0.5)
    model2.load_state_dict(back["model_state_dict"])
    opt2.load_state_dict(back["optimizer_state_dict"])
    for m, o in ((model, opt), (model2, opt2)):      # both take the same next step
        o.zero_grad()
        m(x).pow(2).mean().backward()
        o.step()
    for a, b in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_tf1_atan2_by_keyword_takes_y_first():
    y, x = tinyflow.tensor([1.0, 2.0]), tinyflow.tensor([2.0, 1.0])
    np.testing.assert_allclose(tinyflow.atan2(y=y, x=x).numpy(), np.arctan2([1, 2], [2, 1]),
                               rtol=1e-6)


def test_tf1_spellings_of_the_same_functions():
    x = tinyflow.placeholder(tinyflow.float32, [2, 4])
    a = np.array([[3.0, 1.0, 2.0, 0.0], [1.0, 4.0, 0.0, 2.0]], np.float32)
    with tinyflow.Session() as sess:
        out = sess.run([tinyflow.cumsum(x, axis=1, exclusive=True),
                        tinyflow.cumsum(x, 1, reverse=True),
                        tinyflow.sort(x, direction="DESCENDING"),
                        tinyflow.argsort(x, axis=0),
                        tinyflow.roll(x, shift=1, axis=1),
                        tinyflow.tile(x, [1, 2])], {x: a})
    np.testing.assert_array_equal(out[0], np.cumsum(a, 1) - a)
    np.testing.assert_array_equal(out[1], np.cumsum(a[:, ::-1], 1)[:, ::-1])
    np.testing.assert_array_equal(out[2], -np.sort(-a, 1))
    np.testing.assert_array_equal(out[3], np.argsort(a, 0, kind="stable"))
    np.testing.assert_array_equal(out[4], np.roll(a, 1, 1))
    np.testing.assert_array_equal(out[5], np.tile(a, (1, 2)))


EINSUMS = [("bhqd,bhkd->bhqk", [X(2, 2, 3, 4), X(2, 2, 5, 4)]),   # attention scores
           ("...ij,...jk->...ik", [X(2, 3, 4), X(4, 5)]),
           ("ij->", [X(3, 4)]), ("ii->i", [X(3, 3)]), ("ii", [X(3, 3)]),
           ("bi,bi->b", [X(4, 3), X(4, 3)]), ("ij,kj", [X(2, 3), X(4, 3)])]


@pytest.mark.parametrize("equation,inputs", EINSUMS, ids=[e[0] for e in EINSUMS])
def test_einsum_matches_torch(equation, inputs):
    if len(set(equation.split("->")[0])) < len(equation.split("->")[0].replace(",", "")) \
            and "," not in equation:   # a repeated index: forward only (no gradient rule)
        inputs = [X(*spec.shape, grad=False) for spec in inputs]
    compare(lambda *a: torch.einsum(equation, *a), lambda *a: tinyflow.einsum(equation, *a),
            inputs)


def test_einsum_with_a_repeated_index_has_no_gradient():
    # einsum's errors on bad operands are error inputs of its entry in tests/op_table/
    with pytest.raises(NotImplementedError, match="repeated index"):
        tinyflow.einsum("ii->i", tinyflow.ones(2, 2, requires_grad=True)).sum().backward()


def test_bitwise_operators_on_integers_are_bitwise_not_logical():
    """(test_torch_semantics_s7.py checks every operator and dtype against torch)"""
    assert (tinyflow.tensor([1, 2]) & tinyflow.tensor([3, 1])).tolist() == [1, 0]


def test_finfo_iinfo_and_default_dtype():
    assert tinyflow.finfo(tinyflow.float32).eps == torch.finfo(torch.float32).eps
    assert tinyflow.finfo(tinyflow.float16).max == torch.finfo(torch.float16).max
    assert tinyflow.iinfo(tinyflow.int64).max == torch.iinfo(torch.int64).max
    assert tinyflow.get_default_dtype() is tinyflow.float32


def test_softmax_takes_torch_dim_and_tf_axis():
    x = np.array([[1.0, 2.0, 0.5], [3.0, 5.0, -1.0]], np.float32)
    for dim in (0, 1):
        np.testing.assert_allclose(tinyflow.softmax(tinyflow.tensor(x), dim=dim).numpy(),
                                   torch.softmax(torch.tensor(x), dim=dim).numpy(), rtol=1e-6)
        np.testing.assert_allclose(tinyflow.log_softmax(tinyflow.tensor(x), dim).numpy(),
                                   torch.log_softmax(torch.tensor(x), dim).numpy(), rtol=1e-6)
    np.testing.assert_allclose(tinyflow.softmax(tinyflow.tensor(x), axis=0).numpy(),
                               torch.softmax(torch.tensor(x), 0).numpy(), rtol=1e-6)


_RNG = np.random.default_rng(0)
PRINTED = [np.array([[-1.2247652, -1.5951896, 0.17413308], [-0.5879857, 3.3569326, -1.69888]],
                    np.float32),
           np.array([1., 2., 3.], np.float32), np.array(3.5, np.float32), np.array(-0.5),
           np.array([1e-5, 1.], np.float32), np.array([1e9, 2.], np.float32),
           np.array([123456.789, 0.5]), np.array([1e-3, 2e-3]), np.array([-0.0, 0.5], np.float32),
           np.array([np.inf, -np.inf, np.nan, 1.5], np.float32), np.array([2., np.inf]),
           np.zeros(3, np.float32), np.zeros((0,), np.float32), np.ones((2, 0)),
           np.arange(6).reshape(2, 3), np.array([5, -3, 100]), np.arange(3, dtype=np.int32),
           np.array([[True, False], [False, False]]), np.linspace(0, 1, 5),
           _RNG.standard_normal((2, 20)).astype(np.float32),
           _RNG.standard_normal((3, 4, 5)).astype(np.float32),
           np.arange(2000, dtype=np.float32), np.arange(3000).reshape(3, 1000),
           _RNG.standard_normal((10, 10, 12)).astype(np.float32)]


@pytest.mark.parametrize("values", PRINTED, ids=lambda a: f"{a.dtype}{list(a.shape)}")
def test_tensors_print_as_torch_prints_them(values):
    import torch
    assert str(tinyflow.tensor(values)) == str(torch.tensor(values))
    assert repr(tinyflow.tensor(values)) == repr(torch.tensor(values))


def test_printing_shows_requires_grad_and_grad_fn_as_torch():
    x = tinyflow.ones(2, requires_grad=True)
    assert repr(x) == "tensor([1., 1.], requires_grad=True)"
    assert repr((x * 2).sum()) == "tensor(4., grad_fn=<SumBackward0>)"
    assert repr(x.double().detach()) == "tensor([1., 1.], dtype=torch.float64)"


def test_size_is_a_tuple_printing_as_torch_size():
    x = tinyflow.rand(3, 28, 28)
    assert str(x.size()) == str(torch.rand(3, 28, 28).size()) == "torch.Size([3, 28, 28])"
    assert x.size() == (3, 28, 28) and x.size(1) == 28 and x.size().numel() == 2352
    assert tinyflow.zeros(tinyflow.Size([2, 3])).shape == (2, 3)


def test_a_layers_device_argument_is_checked():
    for make in (lambda d: tinyflow.nn.Linear(2, 2, device=d),
                 lambda d: tinyflow.nn.Conv2d(1, 1, 3, device=d),
                 lambda d: tinyflow.nn.Embedding(4, 2, device=d)):
        assert make("cpu") is not None and make(tinyflow.device("cpu")) is not None
        with pytest.raises(RuntimeError, match="'cuda' is not available"):
            make(tinyflow.device("cuda"))
