"""The GPT step's row and elementwise kernels on the kernel pool (forced on: two threads,
every size cut) give what they give on one thread: layer norm forward, its input and
parameter gradients (apart and as one op), GELU (exact and tanh) and its gradient, softmax
over long rows (attention written out by hand; also PyTorch's values) and
batched products."""
from __future__ import annotations

import numpy as np
import pytest

from tinyflow.backend.numpy import parallel
from tinyflow.core.kernels import numpy_kernels
from tinyflow.ops import activation, normalization, state
from tinyflow.ops.fused import LayerNormGradsAdd

from pool_helpers import force_pool


def _twice(monkeypatch, run):
    """run() on one thread, then with the pool forced on; both results and the pool's calls."""
    monkeypatch.setattr(parallel, "threads", lambda: 1)
    alone = run()
    monkeypatch.undo()
    calls = force_pool(monkeypatch, 1, [])
    return alone, run(), calls


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_norm_and_its_gradients_in_pieces(monkeypatch, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 70, 24)).astype(dtype)    # 210 rows: pieces not block-aligned
    g = rng.standard_normal(x.shape).astype(dtype)
    w, b = rng.standard_normal(24).astype(dtype), rng.standard_normal(24).astype(dtype)
    k = numpy_kernels

    def run():
        return (k[normalization.LayerNorm](normalization.LayerNorm(eps=1e-5), x, w, b),
                k[normalization.LayerNormGrad](normalization.LayerNormGrad(eps=1e-5),
                                               g, x, w),
                k[normalization.LayerNormParamGrad](
                    normalization.LayerNormParamGrad(dims=1, eps=1e-5), g, x),
                k[normalization.LayerNormGrads](normalization.LayerNormGrads(eps=1e-5),
                                                g, x, w))
    alone, pieces, calls = _twice(monkeypatch, run)
    rtol = 1e-5 if dtype == np.float32 else 1e-12   # the fused loop sums in another order
    for one, two in zip(alone, pieces):   # the sums too: their parts do not follow threads
        np.testing.assert_array_equal(one, two)
    both = pieces[3]        # all three gradients from one loop: dx's rows, then the sums
    np.testing.assert_array_equal(both[:-2].reshape(x.shape), alone[1])
    np.testing.assert_allclose(both[-2:], alone[2], rtol=rtol)
    assert calls.count("normalization.py") == 4, calls


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_norm_gradients_with_a_residual_in_pieces(monkeypatch, dtype):
    """The eager sweep's join of a residual gradient (autodiff/reverse.py): the same bits
    on one thread and two, dx's rows those of `LayerNormGrads` plus r."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 70, 24)).astype(dtype)
    g, r = (rng.standard_normal(x.shape).astype(dtype) for _ in range(2))
    w = rng.standard_normal(24).astype(dtype)
    op = LayerNormGradsAdd(eps=1e-5)
    alone, pieces, calls = _twice(monkeypatch,
                                  lambda: numpy_kernels[LayerNormGradsAdd](op, g, x, w, r))
    np.testing.assert_array_equal(alone, pieces)
    assert calls.count("normalization.py") == 1, calls
    plain = numpy_kernels[normalization.LayerNormGrads](normalization.LayerNormGrads(eps=1e-5),
                                                        g, x, w)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(pieces[:-2], plain[:-2] + r.reshape(-1, 24), rtol=rtol,
                               atol=rtol)
    np.testing.assert_array_equal(pieces[-2:], plain[-2:])


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_and_its_gradient_in_pieces(monkeypatch, approximate):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 5, 7)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    k = numpy_kernels

    def run():
        return (k[activation.Gelu](activation.Gelu(approximate=approximate), x),
                k[activation.GeluGrad](activation.GeluGrad(approximate=approximate), g, x))
    alone, pieces, calls = _twice(monkeypatch, run)
    for a, b in zip(alone, pieces):
        np.testing.assert_array_equal(a, b)
    assert len(calls) == 2, calls


def test_adamw_update_in_pieces(monkeypatch):
    """The update is cut among the pool's threads (session 17: ~1.7x faster there); the
    same bits as on one thread."""
    rng = np.random.default_rng(2)
    start = [rng.standard_normal((33, 9)).astype(np.float32) for _ in range(2)]
    grad = rng.standard_normal((33, 9)).astype(np.float32)
    op = state.AdamStep(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, step=3.0, weight_decay=0.1)

    def run():
        p, m = (a.copy() for a in start)
        v = np.abs(start[1]) * 0.1
        numpy_kernels[state.AdamStep](op, p, grad, m, v)
        return p, m, v
    alone, pieces, calls = _twice(monkeypatch, run)
    for a, b in zip(alone, pieces):
        np.testing.assert_array_equal(a, b)
    assert calls == ["state.py"], calls


def test_softmax_of_long_rows_matches_torch_in_pieces(monkeypatch):
    """The row loops' softmax (rows >= 32 long, >= 16k values): PyTorch's values, NaN for a
    row of -inf or one holding NaN or +inf, and the same result on the pool's threads."""
    torch = pytest.importorskip("torch")
    from tinyflow.ops import nn
    x = np.random.default_rng(3).standard_normal((2, 3, 64, 64)).astype(np.float32)
    x[..., np.triu_indices(64, 1)[0], np.triu_indices(64, 1)[1]] = -np.inf
    x[0, 0, 3], x[0, 1, 5, 7], x[1, 1, 2, 0] = -np.inf, np.nan, np.inf
    op = nn.Softmax(axis=-1)

    def run():
        return (numpy_kernels[nn.Softmax](op, x),)
    alone, pieces, calls = _twice(monkeypatch, run)
    want = torch.softmax(torch.tensor(x), -1).numpy()
    np.testing.assert_allclose(alone[0], want, rtol=2e-6, atol=1e-7, equal_nan=True)
    assert np.isnan(alone[0]).any(-1).sum() == 3
    np.testing.assert_array_equal(alone[0], pieces[0])
    assert calls == ["nn.py"], calls


def test_float32_exponential_of_the_row_loops():
    """`exp32` (the float32 softmax loops' exponential): within 1e-7 relative of exp down to
    float32's smallest normal number, 0 below (and at -inf), NaN kept."""
    from tinyflow.backend.numpy import _attention_loops
    x = np.concatenate([np.linspace(-87.33, 0, 20_001, dtype=np.float32),
                        np.float32([-0.0, -87.4, -1e4, -np.inf, np.nan])])
    got = np.array([_attention_loops.exp32(v) for v in x])
    assert got[-5] == 1 and (got[-4:-1] == 0).all() and np.isnan(got[-1])
    np.testing.assert_allclose(got[:-5], np.exp(x[:-5].astype(np.float64)), rtol=1e-7, atol=0)


@pytest.mark.parametrize("offset", [0.0, 1e4, 1e6])
def test_float32_cross_entropy_rows_of_large_logits(offset):
    """The float32 row loop's loss against float64 when the logits are large: the shift by
    the row's largest value must not cancel (it did once the compiler reassociated it)."""
    from tinyflow.backend.numpy import _attention_loops
    rng = np.random.default_rng(6)
    x = (rng.standard_normal((64, 128)) + offset).astype(np.float32)
    ids = rng.integers(0, 128, 64)
    loss = np.empty(64, np.float32)
    _attention_loops.cross_entropy_rows32(x, ids, loss)
    x64 = x.astype(np.float64)
    top = x64.max(1)
    want = np.log(np.exp(x64 - top[:, None]).sum(1)) - (x64[np.arange(64), ids] - top)
    np.testing.assert_allclose(loss, want, rtol=0, atol=2e-6)


@pytest.mark.parametrize("shapes", [((3, 4, 5, 6), (4, 7, 6)), ((1, 4, 5, 6), (3, 1, 7, 6))])
def test_batched_matmul_in_pieces(monkeypatch, shapes):
    """q @ k^T of attention written out by hand: whole matrices per thread, batch dims
    broadcast, the values of np.matmul."""
    from tinyflow.ops import linalg
    rng = np.random.default_rng(4)
    a, b = (rng.standard_normal(s).astype(np.float32) for s in shapes)
    op = linalg.MatMul(transpose_a=False, transpose_b=True)

    def run():
        return (numpy_kernels[linalg.MatMul](op, a, b),)
    alone, pieces, calls = _twice(monkeypatch, run)
    np.testing.assert_array_equal(alone[0], np.matmul(a, b.swapaxes(-1, -2)))
    np.testing.assert_array_equal(alone[0], pieces[0])
    assert calls == ["linalg.py"], calls



def test_attention_written_out_by_hand_in_pieces(monkeypatch):
    """The kernels between the products of `q @ k.transpose(-2, -1)`, `masked_fill`,
    `softmax`, `@ v`, at odd sizes: the scale (Mul), masked_fill (Where) and its gradient, the
    softmax's gradient, a bias gradient's sum (on one thread: memory-bound) and split's
    gradient (nanoGPT's q, k, v) give PyTorch's values, and the same in pieces on the pool's
    threads."""
    torch = pytest.importorskip("torch")
    from tinyflow.ops import attention, math as m, reduce as r, shape as s
    rng = np.random.default_rng(5)
    att = rng.standard_normal((3, 2, 7, 9)).astype(np.float32)
    g = rng.standard_normal(att.shape).astype(np.float32)
    p = np.asarray(torch.softmax(torch.tensor(att), -1))
    mask = np.triu(np.ones((7, 9), bool), 1)[None, None]
    parts = [rng.standard_normal((3, 5, 4)).astype(np.float32) for _ in range(3)]
    split = s.GetItemGrads(indices=tuple((slice(None), slice(None), slice(4 * i, 4 * i + 4))
                                         for i in range(3)))
    k = numpy_kernels

    def run():
        return (k[m.Mul](m.Mul(), att, np.float32(0.125)),
                k[m.Where](m.Where(), mask, np.float32(-np.inf), att),
                k[m.Where](m.Where(), mask, np.float32(0), g),
                k[attention.AttentionWeightsGrad](attention.AttentionWeightsGrad(scale=0.5),
                                                  g, p),
                k[r.Sum](r.Sum(axis=(0,), keepdims=False), g.reshape(21, 18)),
                k[s.GetItemGrads](split, np.empty((3, 5, 12), np.float32), *parts))
    alone, pieces, calls = _twice(monkeypatch, run)
    for a, b in zip(alone, pieces):
        np.testing.assert_array_equal(a, b)
    t_att, t_g, t_p, t_mask = (torch.tensor(a) for a in (att, g, p, mask))
    want = [t_att * 0.125, t_att.masked_fill(t_mask, -np.inf), t_g.masked_fill(t_mask, 0),
            t_p * (t_g - (t_g * t_p).sum(-1, keepdim=True)) * 0.5,
            t_g.reshape(21, 18).sum(0), torch.cat([torch.tensor(x) for x in parts], 2)]
    for got, expected in zip(alone, want):
        np.testing.assert_allclose(got, expected.numpy(), rtol=1e-5, atol=1e-6)
    assert calls == ["parallel.py", "math.py", "math.py", "attention.py", "shape.py"], calls


@pytest.mark.parametrize("ignore_index", [None, 3])
def test_cross_entropy_of_long_rows_matches_torch_in_pieces(monkeypatch, ignore_index):
    """A language model's loss (rows >= 32 long, >= 16k logits) and its gradient, at odd
    sizes: PyTorch's values (ignored labels give 0), the same in pieces."""
    torch = pytest.importorskip("torch")
    from tinyflow.ops import nn
    rng = np.random.default_rng(6)
    logits = (3 * rng.standard_normal((37, 3, 151))).astype(np.float32)
    labels = rng.integers(0, 151, (37, 3))
    g = rng.standard_normal(labels.shape).astype(np.float32)
    forward = nn.SparseSoftmaxCrossEntropy(ignore_index=ignore_index)
    backward = nn.SparseSoftmaxCrossEntropyGrad(ignore_index=ignore_index)

    def run():
        return (numpy_kernels[type(forward)](forward, labels, logits),
                numpy_kernels[type(backward)](backward, g, labels, logits))
    alone, pieces, calls = _twice(monkeypatch, run)
    for a, b in zip(alone, pieces):
        np.testing.assert_array_equal(a, b)
    x = torch.tensor(logits).requires_grad_()
    loss = torch.nn.functional.cross_entropy(
        x.reshape(-1, 151), torch.tensor(labels).reshape(-1), reduction="none",
        ignore_index=-100 if ignore_index is None else ignore_index).reshape(labels.shape)
    loss.backward(torch.tensor(g))
    np.testing.assert_allclose(alone[0], loss.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(alone[1], x.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert calls == ["nn.py", "nn.py"], calls


@pytest.mark.parametrize("threads", [1, 2])
def test_large_where_is_numpys(monkeypatch, threads):
    """where from WHERE_COPIES_FROM elements (two copies, in pieces on two threads): np.where's
    values and dtype, the condition and either operand broadcast, NaN and -inf kept."""
    from tinyflow.backend.numpy import math as kernels
    from tinyflow.ops import math as m
    monkeypatch.setattr(parallel, "threads", lambda: threads)
    monkeypatch.setattr(parallel, "MIN_ELEMENTS", 1 << 16)   # these arrays cut on two threads
    rng = np.random.default_rng(8)
    y = rng.standard_normal((5, 3, 67, 131)).astype(np.float32)
    assert y.size >= kernels.WHERE_COPIES_FROM
    y[0, 0, 0, :3] = np.nan
    passes = []          # the one-pass loop's calls: a value, one mask for every batch entry
    loop = kernels._where_loop()
    monkeypatch.setattr(kernels, "_where_loop", lambda: lambda *a: passes.append(1) or loop(*a))
    for shape, one_pass in (((1, 3, 67, 131), True), ((67, 131), True), ((5, 1, 67, 131), False)):
        cond = rng.random(shape) < 0.5
        for dtype in (np.float32, np.float64):
            yd = y.astype(dtype)
            for x in (dtype(-np.inf), rng.standard_normal((131,)).astype(dtype)):
                for args in ((cond, x, yd), (cond, yd, x)):
                    passes.clear()
                    got = numpy_kernels[m.Where](m.Where(), *args)
                    np.testing.assert_array_equal(got, np.where(*args))
                    assert got.dtype == dtype
                    assert bool(passes) == (one_pass and np.ndim(x) == 0), (shape, args[1:])


def test_large_masked_fill_matches_torch_and_finite_differences():
    """masked_fill of [2, 2, 128, 128] float64 scores under one [128, 128] mask (the one-pass
    where, forward and gradient): PyTorch's values and gradient, and the gradient along a
    random direction against central differences."""
    import tinyflow as tf
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x, w, d = (rng.standard_normal((2, 2, 128, 128)) for _ in range(3))
    mask = np.triu(np.ones((128, 128), bool), 1)
    results = []
    for lib in (tf, torch):
        xt = lib.tensor(x, requires_grad=True)
        y = xt.masked_fill(lib.tensor(mask), -1e30)
        (y * lib.tensor(w)).sum().backward()
        results.append((y.detach().numpy(), xt.grad.numpy()))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)

    def loss(v):
        return float((tf.tensor(v).masked_fill(tf.tensor(mask), 0.5) * tf.tensor(w)).sum())
    eps = 1e-6
    numeric = (loss(x + eps * d) - loss(x - eps * d)) / (2 * eps)
    np.testing.assert_allclose(numeric, (results[0][1] * d).sum(), rtol=1e-6)
