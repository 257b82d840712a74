"""Megatron-style tensor parallelism on 2 and 4 workers: column- and row-parallel linear
layers, the MLP block and self-attention with the heads split equal one device (PyTorch as
the oracle, float64, 1e-5) in output, input gradient and every weight shard's gradient, with
one all-reduce forward and one backward per block."""
from __future__ import annotations

import functools

import numpy as np
import pytest

ray = pytest.importorskip("ray")
torch = pytest.importorskip("torch")

import tinyflow.distributed as dist  # noqa: E402
from tinyflow.distributed.tensor_parallel import (ParallelMLP,  # noqa: E402
                                                  ParallelSelfAttention, TensorParallel)

pytestmark = pytest.mark.usefixtures("local_ray")

D, HIDDEN, HEADS, B, T = 8, 16, 4, 2, 5


@pytest.fixture(scope="module")
def pool(local_ray):
    g = dist.Group(4, timeout=20.0)
    yield g.workers
    g.shutdown()


def _weights(seed, *shapes):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) / np.sqrt(s[-1]) for s in shapes]


def _torch(*arrays):
    return [torch.tensor(a, requires_grad=True) for a in arrays]


def _check(results, out, x, grad_out, full_grads, shard_of):
    """Every worker: the full output and input gradient; its shard of each weight gradient."""
    for r, res in enumerate(results):
        np.testing.assert_allclose(res["out"], out, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(res["x_grad"], x.grad.numpy(), rtol=1e-5, atol=1e-5)
        for name, full in full_grads.items():
            np.testing.assert_allclose(res["grads"][name], shard_of(name, full, r),
                                       rtol=1e-5, atol=1e-5, err_msg=f"worker {r}: {name}")
        assert (res["forward_all_reduces"], res["backward_all_reduces"]) == (1, 1)


@pytest.mark.parametrize("workers", [2, 4])
def test_parallel_mlp_equals_one_device(pool, workers):
    w1, b1, w2, b2 = _weights(workers, (HIDDEN, D), (HIDDEN,), (D, HIDDEN), (D,))
    x, g = _weights(10, (B, T, D), (B, T, D))
    tp = TensorParallel(functools.partial(ParallelMLP.from_full, w1=w1, b1=b1, w2=w2, b2=b2),
                        group=dist.Group(workers, timeout=20.0, workers=pool))
    results = tp.forward_backward(x, g)
    tx, tw1, tb1, tw2, tb2 = _torch(x, w1, b1, w2, b2)
    out = torch.nn.functional.gelu(tx @ tw1.T + tb1) @ tw2.T + tb2
    out.backward(torch.tensor(g))
    k = HIDDEN // workers

    def shard_of(name, full, r):
        rows = slice(r * k, (r + 1) * k)
        return {"fc1.weight": lambda: full[rows], "fc1.bias": lambda: full[rows],
                "fc2.weight": lambda: full[:, rows], "fc2.bias": lambda: full}[name]()
    grads = {"fc1.weight": tw1, "fc1.bias": tb1, "fc2.weight": tw2, "fc2.bias": tb2}
    _check(results, out.detach().numpy(), tx, g,
           {n: t.grad.numpy() for n, t in grads.items()}, shard_of)
    # without an input gradient to compute, the backward all-reduce is not needed
    assert [r["forward_all_reduces"] for r in tp.forward_backward(x, None)] == [1] * workers
    tp.shutdown()


@pytest.mark.parametrize("workers, causal", [(2, False), (4, True)])
def test_parallel_attention_splits_heads_and_equals_one_device(pool, workers, causal):
    wq, wk, wv, wo = _weights(workers, *[(D, D)] * 4)
    bq, bk, bv, bo = _weights(workers + 1, *[(D,)] * 4)
    x, g = _weights(11, (B, T, D), (B, T, D))
    make = functools.partial(ParallelSelfAttention.from_full, num_heads=HEADS, wq=wq, wk=wk,
                             wv=wv, wo=wo, bq=bq, bk=bk, bv=bv, bo=bo, causal=causal)
    tp = TensorParallel(make, group=dist.Group(workers, timeout=20.0, workers=pool))
    results = tp.forward_backward(x, g)
    tx, *tw = _torch(x, wq, wk, wv, wo, bq, bk, bv, bo)
    tq, tk, tv, to, tbq, tbk, tbv, tbo = tw
    dh = D // HEADS

    def heads(y):
        return y.reshape(B, T, HEADS, dh).transpose(1, 2)
    q, k, v = heads(tx @ tq.T + tbq), heads(tx @ tk.T + tbk), heads(tx @ tv.T + tbv)
    scores = q @ k.transpose(-2, -1) / np.sqrt(dh)
    if causal:
        scores = scores.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1),
                                    float("-inf"))
    out = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(B, T, D) @ to.T + tbo
    out.backward(torch.tensor(g))
    rows = D // workers                                 # = (HEADS / workers) heads x dh

    def shard_of(name, full, r):
        own = slice(r * rows, (r + 1) * rows)
        if name == "qkv.weight":
            return np.concatenate([tq.grad.numpy()[own], tk.grad.numpy()[own],
                                   tv.grad.numpy()[own]])
        if name == "qkv.bias":
            return np.concatenate([tbq.grad.numpy()[own], tbk.grad.numpy()[own],
                                   tbv.grad.numpy()[own]])
        return full[:, own] if name == "out.weight" else full
    _check(results, out.detach().numpy(), tx, g,
           {"qkv.weight": None, "qkv.bias": None, "out.weight": to.grad.numpy(),
            "out.bias": tbo.grad.numpy()}, shard_of)
    tp.shutdown()


def test_uneven_split_is_refused(pool):
    w1, b1, w2, b2 = _weights(0, (HIDDEN + 1, D), (HIDDEN + 1,), (D, HIDDEN + 1), (D,))
    make = functools.partial(ParallelMLP.from_full, w1=w1, b1=b1, w2=w2, b2=b2)
    with pytest.raises(dist.CollectiveError,
                       match="ColumnParallelLinear out_features: 17 is not divisible by the "
                             "group size 2"):
        TensorParallel(make, group=dist.Group(2, timeout=20.0, workers=pool))
