"""What other people's programs needed, round 11: lucidrains' vit-pytorch (NaViT pads its
patch sequences with torch.nn.utils.rnn.pad_sequence), yunjey's pytorch-tutorial and karpathy's
ng-video-lecture, run with only their import lines changed. Each test reproduces the pattern,
written here, with PyTorch as the oracle.
"""
import numpy as np
import pytest
import torch

import tinyflow
from torch_oracle import assert_close, copy_state, gradcheck, param_pairs

TRNN, FRNN = torch.nn.utils.rnn, tinyflow.nn.utils.rnn


def _sequences(lengths, features=3, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((n, features)).astype(np.float32) for n in lengths]
    return ([torch.tensor(a, requires_grad=True) for a in arrays],
            [tinyflow.tensor(a, requires_grad=True) for a in arrays])


def _weights(shape, seed=1):
    w = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return torch.tensor(w), tinyflow.tensor(w)


def _check_grads(theirs, ours):
    for i, (t, o) in enumerate(zip(theirs, ours)):
        assert_close(o.grad.numpy(), t.grad.numpy(), f"sequence {i} gradient")


# ---- pad_sequence (vit-pytorch's NaViT) -------------------------------------------------------

@pytest.mark.parametrize("batch_first,value,side", [(False, 0.0, "right"), (True, -1.5, "right"),
                                                    (True, 2.0, "left")])
def test_pad_sequence_values_and_gradients_match_torch(batch_first, value, side):
    theirs, ours = _sequences([4, 1, 3])
    t = TRNN.pad_sequence(theirs, batch_first=batch_first, padding_value=value,
                          padding_side=side)
    o = FRNN.pad_sequence(ours, batch_first=batch_first, padding_value=value,
                          padding_side=side)
    assert tuple(o.shape) == tuple(t.shape)
    assert_close(o.detach().numpy(), t.detach().numpy(), "padded")
    wt, wo = _weights(tuple(t.shape))
    (t * wt).sum().backward()
    (o * wo).sum().backward()
    _check_grads(theirs, ours)


# ---- packing and unpacking -------------------------------------------------------------------

@pytest.mark.parametrize("lengths,enforce", [([4, 3, 1], True), ([2, 4, 1, 4], False)])
def test_pack_and_pad_packed_round_trip_as_torch(lengths, enforce):
    theirs, ours = _sequences(lengths)
    tp = TRNN.pack_padded_sequence(TRNN.pad_sequence(theirs, batch_first=True), lengths,
                                   batch_first=True, enforce_sorted=enforce)
    op = FRNN.pack_padded_sequence(FRNN.pad_sequence(ours, batch_first=True), lengths,
                                   batch_first=True, enforce_sorted=enforce)
    assert_close(op.data.detach().numpy(), tp.data.detach().numpy(), "packed data")
    for name in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        t, o = getattr(tp, name), getattr(op, name)
        assert (o is None) == (t is None), name
        if t is not None:
            assert o.dtype is tinyflow.int64
            np.testing.assert_array_equal(o.numpy(), t.numpy(), name)
    t, tl = TRNN.pad_packed_sequence(tp, padding_value=-1.0, total_length=6)
    o, ol = FRNN.pad_packed_sequence(op, padding_value=-1.0, total_length=6)
    assert_close(o.detach().numpy(), t.detach().numpy(), "unpacked")
    np.testing.assert_array_equal(ol.numpy(), tl.numpy())
    wt, wo = _weights(tuple(t.shape))
    (t * wt).sum().backward()
    (o * wo).sum().backward()
    _check_grads(theirs, ours)
    for a, b in zip(FRNN.unpack_sequence(op), TRNN.unpack_sequence(tp)):
        assert_close(a.detach().numpy(), b.detach().numpy(), "unpack_sequence")


def test_packing_refuses_unsorted_lengths_and_empty_sequences_as_torch():
    for lib, unsorted, empty in (
            (torch, "must be sorted in decreasing order", "has to be greater than 0"),
            (tinyflow, r"lengths \[1, 3\] are not longest first", r"every length must be >= 1")):
        x = lib.zeros(3, 2, 1)
        with pytest.raises(RuntimeError, match=unsorted):
            lib.nn.utils.rnn.pack_padded_sequence(x, [1, 3])
        with pytest.raises(RuntimeError, match=empty):
            lib.nn.utils.rnn.pack_padded_sequence(x, [3, 0])


# ---- recurrent layers over packed sequences --------------------------------------------------

@pytest.mark.parametrize("kind,options", [
    ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("GRU", dict(bidirectional=True)),
    ("RNN", dict(num_layers=2)),
    ("LSTM", dict(proj_size=2)),
])
@pytest.mark.parametrize("with_hx", [False, True])
def test_recurrent_layers_run_packed_sequences_as_torch(kind, options, with_hx):
    """Each sequence stops at its own length (h_n is its last valid state) and the reverse
    direction starts at its own end; the batch given unsorted."""
    lengths = [2, 4, 1]
    theirs, ours = _sequences(lengths)
    tm = getattr(torch.nn, kind)(3, 4, **options)
    om = getattr(tinyflow.nn, kind)(3, 4, **options)
    copy_state(tm, om)
    hx = ()
    if with_hx:
        layers = options.get("num_layers", 1) * (2 if options.get("bidirectional") else 1)
        width = options.get("proj_size") or 4
        shapes = [(layers, 3, width)] + ([(layers, 3, 4)] if kind == "LSTM" else [])
        pairs = [_weights(s, seed=5 + i) for i, s in enumerate(shapes)]
        hx = (tuple(p[0] for p in pairs) if kind == "LSTM" else pairs[0][0],
              tuple(p[1] for p in pairs) if kind == "LSTM" else pairs[0][1])
    tp = TRNN.pack_sequence(theirs, enforce_sorted=False)
    op = FRNN.pack_sequence(ours, enforce_sorted=False)
    tout, th = tm(tp, *hx[:1])
    oout, oh = om(op, *hx[1:])
    assert isinstance(oout, FRNN.PackedSequence)
    assert_close(oout.data.detach().numpy(), tout.data.detach().numpy(), "packed output")
    th, oh = (th if kind == "LSTM" else (th,)), (oh if kind == "LSTM" else (oh,))
    for i, (t, o) in enumerate(zip(th, oh)):
        assert_close(o.detach().numpy(), t.detach().numpy(), f"final state {i}")
    tpad, _ = TRNN.pad_packed_sequence(tout, batch_first=True)
    opad, _ = FRNN.pad_packed_sequence(oout, batch_first=True)
    wt, wo = _weights(tuple(tpad.shape))
    ((tpad * wt).sum() + sum(s.sum() for s in th)).backward()
    ((opad * wo).sum() + sum(s.sum() for s in oh)).backward()
    _check_grads(theirs, ours)
    for name, t, o in param_pairs(tm, om):
        assert_close(o.grad.numpy(), t.grad.numpy(), name, rtol=1e-4, atol=1e-5)


# ---- in-place writes into views under autograd (vit-pytorch's CCT: x += pos_emb) -------------

VIEWS = {
    "einops rearrange b c h w -> b (h w) c": lambda y: y.reshape(2, 3, 2, 2).flatten(2)
    .transpose(1, 2),
    "transpose": lambda y: y.transpose(0, 2),
    "row of a transpose (a view of a view)": lambda y: y.transpose(0, 2)[1],
    "squeeze": lambda y: y[:1].squeeze(0),
    "unsqueeze of a column": lambda y: y[..., 2].unsqueeze(1),
    "permute of a slice": lambda y: y[:, 1:].permute(2, 0, 1),
}


@pytest.mark.parametrize("case", list(VIEWS))
def test_in_place_add_into_a_view_differentiates_as_torch(case):
    """The base takes the write and the view's new history: the gradient reaches both the
    values before the write and what was added."""
    results = []
    for lib in (torch, tinyflow):
        w = lib.tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 10, requires_grad=True)
        base = w * 2
        view = VIEWS[case](base)
        added = lib.tensor(np.linspace(-1, 1, view.numel(), dtype=np.float32)
                           .reshape(tuple(view.shape)), requires_grad=True)
        view += added
        ((view * view).sum() + (base * base.detach()).sum()).backward()
        results.append([base.detach().numpy(), w.grad.numpy(), added.grad.numpy()])
    for name, t, o in zip(("base", "w.grad", "added.grad"), *results):
        assert_close(o, t, name)


# ---- Hardswish / Hardsigmoid (vit-pytorch's LeViT) ------------------------------------------

@pytest.mark.parametrize("name", ["hardswish", "hardsigmoid"])
def test_hard_activations_match_torch_values_and_gradients_at_their_corners(name):
    """Values and gradients at and between the corners -3 and 3, as torch's kernels."""
    points = np.array([-4.0, -3.0, -2.5, 0.0, 1.0, 3.0, 3.5], np.float32)
    t = torch.tensor(points, requires_grad=True)
    o = tinyflow.tensor(points, requires_grad=True)
    tout, oout = getattr(torch.nn.functional, name)(t), getattr(tinyflow.nn.functional, name)(o)
    tout.sum().backward()
    oout.sum().backward()
    assert oout.dtype is tinyflow.float32
    assert_close(oout.detach().numpy(), tout.detach().numpy(), name)
    assert_close(o.grad.numpy(), t.grad.numpy(), f"{name} gradient")
    module = getattr(tinyflow.nn, {"hardswish": "Hardswish", "hardsigmoid": "Hardsigmoid"}[name])
    assert_close(module()(o).detach().numpy(), tout.detach().numpy(), f"nn.{module.__name__}")
    gradcheck(getattr(tinyflow.nn.functional, name), np.linspace(-3.7, 3.9, 9))


# ---- torch.nn.attention (vit-pytorch's ViViT: sdpa_kernel around its attention) --------------

def test_sdpa_kernel_takes_torchs_backends_and_leaves_attention_as_it_is():
    from tinyflow.nn.attention import SDPBackend, sdpa_kernel
    assert {b.name: int(b) for b in SDPBackend} == \
        {k: int(b) for k, b in torch.nn.attention.SDPBackend.__members__.items()}
    q = tinyflow.tensor(np.random.default_rng(0).standard_normal((1, 2, 3, 4)).astype(np.float32))
    plain = tinyflow.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True)
    with sdpa_kernel([SDPBackend.MATH, SDPBackend.FLASH_ATTENTION]):
        chosen = tinyflow.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True)
    with sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION):
        pass
    np.testing.assert_array_equal(chosen.numpy(), plain.numpy())
    for lib, says in ((torch, "must be an instance of SDPBackend"),
                      (tinyflow, "sdpa_kernel: backends is a str; give an SDPBackend")):
        with pytest.raises(AssertionError, match=says):
            with lib.nn.attention.sdpa_kernel("MATH"):
                pass


# ---- forward hooks (vit-pytorch's Recorder and Extractor) ------------------------------------

def _hooked(lib):
    nn = lib.nn
    net = nn.Sequential(nn.Linear(3, 4), nn.Softmax(dim=-1), nn.Linear(4, 2))
    seen, handles = [], []
    handles.append(net[1].register_forward_hook(lambda m, args, out: seen.append(out.detach())))
    handles.append(net[0].register_forward_pre_hook(lambda m, args: (args[0] * 2,)))
    handles.append(net[2].register_forward_hook(lambda m, args, out: out + 1))
    handles.append(net[2].register_forward_hook(lambda m, args, kwargs, out: out * 3,
                                                with_kwargs=True))
    handles.append(net[2].register_forward_hook(lambda m, args, out: seen.append(out.detach()),
                                                prepend=True))
    return net, seen, handles


def test_forward_hooks_see_and_replace_inputs_and_outputs_as_torch():
    (tnet, tseen, th), (onet, oseen, oh) = _hooked(torch), _hooked(tinyflow)
    copy_state(tnet, onet)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    t, o = tnet(torch.tensor(x)), onet(tinyflow.tensor(x))
    assert_close(o.detach().numpy(), t.detach().numpy(), "hooked output")
    assert len(oseen) == len(tseen) == 2
    for a, b in zip(oseen, tseen):
        assert_close(a.numpy(), b.numpy(), "what a hook saw")
    t.sum().backward()
    o.sum().backward()
    for name, tp, op in param_pairs(tnet, onet):
        assert_close(op.grad.numpy(), tp.grad.numpy(), name)
    for handle in th + oh:
        handle.remove()
    t, o = tnet(torch.tensor(x)), onet(tinyflow.tensor(x))
    assert_close(o.detach().numpy(), t.detach().numpy(), "output after remove()")
    assert len(oseen) == 2 and "_forward_hooks" not in onet[2].__dict__
