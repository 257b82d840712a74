"""F.scaled_dot_product_attention as one op each way (ops.dot_product_attention and its
gradient op) against PyTorch: outputs and every gradient, causal, with bool and float masks
(broadcast or per head, rows with every key masked), without a mask, odd and unequal
lengths, one to three batch dims, GQA, float64, float32 and the reduced floats, with the
kernel pool forced on (each test then checks that the threaded path ran) and off. Then the
paths that must keep working: second derivatives, forward mode, TF1 graphs,
`tinyflow.compile`, and nn.MultiheadAttention without weights reaching the same op."""
from __future__ import annotations

import numpy as np
import pytest

import tinyflow as tf
from tinyflow import nn
from tinyflow.backend.numpy import attention as attention_kernels, parallel
from tinyflow.core.kernels import numpy_kernels
from tinyflow.nn import functional as F
from tinyflow.ops.attention import Attention, AttentionGrad

from pool_helpers import force_pool

torch = pytest.importorskip("torch")
TOL = {np.float64: dict(rtol=1e-9, atol=1e-9), np.float32: dict(rtol=2e-4, atol=2e-5)}


class Calls(list):
    """The source files of the threaded kernel calls; forced: the pool was forced on."""
    forced = False


@pytest.fixture(params=["pool", "one thread"])
def pool(request, monkeypatch):
    """The kernel pool forced on (2 threads, every size cut) or off; either way the attention
    kernels take the heads one batch entry at a time (the threads several chunks in turn;
    the other tests' tiny heads run the default chunks, one or one per thread)."""
    calls = Calls()
    if request.param == "pool":
        force_pool(monkeypatch, 1, calls)
    else:
        monkeypatch.setattr(parallel, "threads", lambda: 1)
    monkeypatch.setattr(attention_kernels, "CHUNK_BYTES", 1)
    calls.forced = request.param == "pool"
    return calls


def _random(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def _both(arrays, dtype, **kwargs):
    """Output and q, k, v gradients (for a random output weighting) from both libraries."""
    mask = kwargs.pop("attn_mask", None)
    results = []
    for lib in (tf, torch):
        ts = [lib.tensor(a, requires_grad=True) for a in arrays]
        m = None if mask is None else lib.tensor(mask)
        y = lib.nn.functional.scaled_dot_product_attention(*ts, attn_mask=m, **kwargs)
        w = np.random.default_rng(9).standard_normal(tuple(y.shape)).astype(dtype)
        (y * lib.tensor(w)).sum().backward()
        results.append([np.asarray(y.detach().numpy())] + [t.grad.numpy() for t in ts])
    return results


def _check(arrays, dtype, **kwargs):
    ours, theirs = _both(arrays, dtype, **kwargs)
    for name, got, want in zip(("output", "dq", "dk", "dv"), ours, theirs):
        assert got.shape == want.shape, name
        assert got.dtype == want.dtype, name
        scale = max(1.0, float(np.abs(want).max()))
        np.testing.assert_allclose(got / scale, want / scale, **TOL[dtype], err_msg=name)


def _threaded(pool, pieces: int) -> None:
    """The forward and the backward each cut their heads among threads (pool on)."""
    if pool.forced:
        assert pool.count("attention.py") == (2 if pieces > 1 else 0), pool


SHAPES = [  # (batch dims, T, S, D, Dv)
    ((2, 3), 7, 7, 8, 8),
    ((3,), 33, 33, 16, 16),
    ((1, 2), 130, 130, 8, 8),     # past two causal blocks, a ragged last one
    ((2,), 1, 1, 4, 4),
    ((2, 2), 5, 9, 6, 3),         # T != S, Dv != D
    ((2, 1, 2), 9, 4, 4, 5),      # three batch dims, T > S
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch,t,s,d,dv", SHAPES)
@pytest.mark.parametrize("causal", [True, False])
def test_no_mask_and_causal_match_torch(pool, dtype, batch, t, s, d, dv, causal):
    rng = np.random.default_rng(t * 31 + s)
    arrays = [_random(rng, batch + shape, dtype) for shape in ((t, d), (s, d), (s, dv))]
    _check(arrays, dtype, is_causal=causal)
    _threaded(pool, int(np.prod(batch)))


MASKS = {   # name: mask shape for batch (2, 3), T 6, S 7 (bool: True may attend)
    "shared": (6, 7),
    "per_batch": (2, 1, 6, 7),
    "per_head": (2, 3, 6, 7),
    "per_key": (1, 7),
}


@pytest.mark.parametrize("kind", ["bool", "float"])
@pytest.mark.parametrize("name", list(MASKS))
def test_masks_match_torch(pool, kind, name):
    rng = np.random.default_rng(5)
    arrays = [_random(rng, (2, 3, n, 4), np.float32) for n in (6, 7, 7)]
    keep = rng.random(MASKS[name]) < 0.6
    mask = keep if kind == "bool" else np.where(keep, rng.standard_normal(keep.shape), -1e4)
    _check(arrays, np.float32, attn_mask=mask.astype(bool if kind == "bool" else np.float32))
    _threaded(pool, 6)


@pytest.mark.parametrize("t", [7, 130])
def test_spelled_out_causal_mask_and_masked_rows_match_torch(pool, t):
    """A [T, T] bool mask: lower triangle (blocks skip the keys it masks, as is_causal), with
    the last rows masked entirely (their outputs and gradients are zeros, as PyTorch's)."""
    rng = np.random.default_rng(t)
    arrays = [_random(rng, (2, 2, t, 8), np.float32) for _ in range(3)]
    keep = np.tril(np.ones((t, t), bool))
    keep[-3:] = False
    ours, theirs = _both(arrays, np.float32, attn_mask=keep)
    for got, want in zip(ours, theirs):
        np.testing.assert_allclose(got, want, **TOL[np.float32])
    assert not ours[0][:, :, -3:].any()
    _threaded(pool, 4)


@pytest.mark.parametrize("kwargs", [dict(scale=0.5), {}, dict(scale=0.5, is_causal=True),
                                    dict(attn_mask=np.tril(np.ones((5, 6), bool)))])
def test_head_dim_zero_averages_the_values_as_torch(pool, kwargs):
    """q and k of last size 0: every score is 0, so each output row is the mean of v over
    the keys it may attend (a kernel once skipped such heads and returned zeros)."""
    rng = np.random.default_rng(4)
    arrays = [_random(rng, (2, 3, n, d), np.float64) for n, d in ((5, 0), (6, 0), (6, 4))]
    ours, theirs = _both(arrays, np.float64, **kwargs)
    for got, want in zip(ours, theirs):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, **TOL[np.float64])
    assert np.abs(ours[0]).min() > 0
    _threaded(pool, 6)


def test_broadcast_batch_dims_and_gqa_match_torch(pool):
    rng = np.random.default_rng(2)
    q = _random(rng, (2, 4, 5, 8), np.float32)
    k, v = _random(rng, (1, 4, 6, 8), np.float32), _random(rng, (4, 6, 8), np.float32)
    _check([q, k, v], np.float32)
    k, v = _random(rng, (2, 2, 6, 8), np.float32), _random(rng, (2, 2, 6, 8), np.float32)
    _check([q, k, v], np.float32, enable_gqa=True, is_causal=True)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_reduced_floats_compute_in_float32(dtype):
    rng = np.random.default_rng(4)
    arrays = [_random(rng, (2, 2, 9, 8), np.float32) for _ in range(3)]
    ys = []
    for lib in (tf, torch):
        ts = [lib.tensor(a).to(getattr(lib, dtype)).requires_grad_() for a in arrays]
        y = lib.nn.functional.scaled_dot_product_attention(*ts, is_causal=True)
        y.float().sum().backward()
        assert y.dtype == getattr(lib, dtype)
        ys.append([y.float().detach().numpy()] + [t.grad.float().numpy() for t in ts])
    for got, want in zip(*ys):
        np.testing.assert_allclose(got, want, rtol=2e-2, atol=2e-2)


def test_sdpa_is_one_op_each_way():
    q, k, v = (tf.tensor(np.ones((2, 3, 4), np.float32), requires_grad=True) for _ in "qkv")
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert type(y._op).__name__ == "Attention" and y._op.causal


@pytest.mark.parametrize("causal", [True, False])
def test_second_derivatives_match_torch(causal):
    """grad of grad through the gradient op (autodiff differentiates its composition)."""
    rng = np.random.default_rng(1)
    arrays = [_random(rng, (2, 5, 3), np.float64) for _ in range(3)]
    w = rng.standard_normal((2, 5, 3))
    got = []
    for lib in (tf, torch):
        ts = [lib.tensor(a, requires_grad=True) for a in arrays]
        y = lib.nn.functional.scaled_dot_product_attention(*ts, is_causal=causal)
        grads = lib.autograd.grad((y * lib.tensor(w)).sum(), ts, create_graph=True)
        sum((g * g).sum() for g in grads).backward()
        got.append([t.grad.numpy() for t in ts])
    for ours, theirs in zip(*got):
        np.testing.assert_allclose(ours, theirs, **TOL[np.float64])


def test_func_grad_of_grad_and_jvp_match_torch():
    rng = np.random.default_rng(6)
    q, k, v, tq, tv = (_random(rng, (2, 4, 3), np.float64) for _ in range(5))

    def loss(lib):
        return lambda q: (lib.nn.functional.scaled_dot_product_attention(
            q, lib.tensor(k), lib.tensor(v), is_causal=True) ** 2).sum()
    ours = tf.func.grad(lambda q: tf.func.grad(loss(tf))(q).sum())(tf.tensor(q))
    theirs = torch.func.grad(lambda q: torch.func.grad(loss(torch))(q).sum())(torch.tensor(q))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), **TOL[np.float64])

    def attend(lib):
        return lambda q, v: lib.nn.functional.scaled_dot_product_attention(
            q, lib.tensor(k), v, attn_mask=lib.tensor(np.tril(np.ones((4, 4), bool))))
    _, t_ours = tf.func.jvp(attend(tf), (tf.tensor(q), tf.tensor(v)),
                            (tf.tensor(tq), tf.tensor(tv)))
    _, t_theirs = torch.func.jvp(attend(torch), (torch.tensor(q), torch.tensor(v)),
                                 (torch.tensor(tq), torch.tensor(tv)))
    np.testing.assert_allclose(t_ours.numpy(), t_theirs.numpy(), **TOL[np.float64])


def test_float_mask_gradient_matches_torch():
    rng = np.random.default_rng(8)
    arrays = [_random(rng, (2, 5, 4), np.float64) for _ in range(3)] + [
        _random(rng, (5, 5), np.float64)]
    got = []
    for lib in (tf, torch):
        ts = [lib.tensor(a, requires_grad=True) for a in arrays]
        (lib.nn.functional.scaled_dot_product_attention(*ts) ** 2).sum().backward()
        got.append([t.grad.numpy() for t in ts])
    for ours, theirs in zip(*got):
        np.testing.assert_allclose(ours, theirs, **TOL[np.float64])


def test_graph_mode_and_compile_match_eager():
    rng = np.random.default_rng(7)
    arrays = [_random(rng, (2, 2, 6, 4), np.float32) for _ in range(3)]
    keep = np.tril(np.ones((6, 6), bool))

    def step(q, k, v):
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=tf.tensor(keep))
        loss = (y * y).sum()
        loss.backward()
        return loss

    results = {}
    for name, fn in (("eager", step), ("compile", tf.compile(step))):
        for _ in range(2):       # the compiled step: traced, then run from its plan
            ts = [tf.tensor(a, requires_grad=True) for a in arrays]
            loss = fn(*ts)
        results[name] = [loss.detach().numpy()] + [t.grad.numpy() for t in ts]
    g = tf.Graph()
    with g.as_default():
        ph = [tf.placeholder(tf.float32, [None, 2, 6, 4]) for _ in range(3)]
        y = F.scaled_dot_product_attention(*ph, attn_mask=tf.constant(keep))
        loss = tf.reduce_sum(y * y)
        results["graph"] = tf.Session().run([loss] + tf.gradients(loss, ph),
                                            dict(zip(ph, arrays)))
    for name in ("compile", "graph"):
        for a, b in zip(results[name], results["eager"]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=name)


def test_multihead_attention_without_weights_runs_the_fused_op(monkeypatch):
    """nn.MultiheadAttention(need_weights=False) with one mask reaches the same kernels, and
    matches PyTorch's module (the same parameters) output and gradients."""
    calls = []
    for op in (Attention, AttentionGrad):
        def counted(*args, _kernel=numpy_kernels[op], _name=op.__name__, **kwargs):
            calls.append(_name)
            return _kernel(*args, **kwargs)
        monkeypatch.setitem(numpy_kernels, op, counted)
    rng = np.random.default_rng(3)
    x = _random(rng, (2, 5, 8), np.float32)
    mask = np.triu(np.ones((5, 5), bool), 1)           # True: masked out (MHA's convention)
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    ours = nn.MultiheadAttention(8, 2, batch_first=True)
    ours.load_state_dict({n: tf.tensor(p.detach().numpy())
                          for n, p in theirs.state_dict().items()})
    outs = []
    for lib, module in ((tf, ours), (torch, theirs)):
        xs = lib.tensor(x, requires_grad=True)
        y = module(xs, xs, xs, attn_mask=lib.tensor(mask), need_weights=False)[0]
        (y * y).sum().backward()
        outs.append([y.detach().numpy(), xs.grad.numpy()])
    assert calls == ["Attention", "AttentionGrad"]
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, **TOL[np.float32])


@pytest.mark.parametrize("shape,batch_first", [((5, 2, 8), False), ((2, 5, 8), True),
                                               ((5, 8), False)])
@pytest.mark.parametrize("need_weights", [False, True])
def test_multihead_self_attention_projects_once_and_matches_torch(monkeypatch, shape,
                                                                   batch_first, need_weights):
    """One tensor as query, key and value: one product with in_proj_weight [3E, E] (as
    PyTorch's packed in-projection), split into q, k, v; output, weights and the gradients
    of the input and every parameter as PyTorch's, in float64."""
    products = []
    linear = F.linear
    monkeypatch.setattr(F, "linear", lambda x, w, b=None: products.append(w.shape) or
                        linear(x, w, b))
    x = _random(np.random.default_rng(6), shape, np.float64)
    torch.manual_seed(1)
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=batch_first).double()
    ours = nn.MultiheadAttention(8, 2, batch_first=batch_first, dtype=tf.float64)
    ours.load_state_dict({n: tf.tensor(p.detach().numpy())
                          for n, p in theirs.state_dict().items()})
    mask = np.triu(np.ones((5, 5), bool), 1)
    results = []
    for lib, module in ((tf, ours), (torch, theirs)):
        xs = lib.tensor(x, requires_grad=True)
        y, w = module(xs, xs, xs, attn_mask=lib.tensor(mask), need_weights=need_weights)
        (y * y).sum().backward()
        results.append([y.detach().numpy(), xs.grad.numpy()] +
                       [p.grad.numpy() for p in module.parameters()] +
                       ([w.detach().numpy()] if need_weights else []))
    assert products[0] == (24, 8)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, **TOL[np.float64])


@pytest.mark.parametrize("b", [1, 2])   # 1: the pieces cut the heads
@pytest.mark.parametrize("mask", [None, "per head"])
def test_nanogpt_heads_of_one_projection_match_torch(pool, mask, b):
    """q, k, v as nanoGPT spells them (one [B, T, 3C] tensor split, viewed and transposed):
    read in place, the output laid out [B, T, H, D] so that transpose(1, 2) is C-contiguous
    (its .contiguous() is free), and the gradients likewise; values as PyTorch's."""
    t, heads, d = 9, 3, 4
    rng = np.random.default_rng(5)
    x = _random(rng, (b, t, 3 * heads * d), np.float32)
    m = None if mask is None else rng.random((b, heads, t, t)) > 0.3
    results = []
    for lib in (tf, torch):
        xt = lib.tensor(x, requires_grad=True)
        q, k, v = (y.view(b, t, heads, d).transpose(1, 2) for y in xt.split(heads * d, dim=2))
        y = lib.nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=None if m is None else lib.tensor(m), is_causal=m is None)
        out = y.transpose(1, 2)
        if lib is tf:
            assert out.detach().numpy().flags.c_contiguous
        w = np.random.default_rng(9).standard_normal(tuple(out.shape)).astype(np.float32)
        (out.contiguous().view(b, t, heads * d) * lib.tensor(w.reshape(b, t, -1))).sum(
            ).backward()
        results.append((np.asarray(y.detach().numpy()), xt.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, **TOL[np.float32])
    _threaded(pool, heads)
