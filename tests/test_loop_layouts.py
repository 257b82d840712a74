"""The Numba loops of pooling, attention, batch and layer norm and Winograd's weight
transform see each array in one layout (C-contiguous; the attention mask read only), so a
fresh clone compiles each loop once per dtype: transposed, strided or writable inputs used
to compile a specialization each (Numba types an array by its layout), which made most of
the cold test run's compile time. Checked on the signatures each loop has in this process
after inputs of every odd layout went through the front end."""
from __future__ import annotations

import numpy as np
import pytest

import tinyflow as torch
from tinyflow.nn import functional as F

oracle = pytest.importorskip("torch")


def _arrays(loop, arg=None):
    """The array types of every signature `loop` has in this process (argument `arg`)."""
    return [t for sig in loop.signatures
            for t in (sig if arg is None else (sig[arg],)) if hasattr(t, "layout")]


def _assert_c(loop, arg=None):
    odd = [t for t in _arrays(loop, arg) if t.layout != "C"]
    assert not odd, f"{loop.py_func.__name__} compiled for {odd}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_loops_take_c_arrays(dtype):
    rng = np.random.default_rng(0)
    base = torch.tensor(rng.standard_normal((2, 3, 8, 12)).astype(dtype),
                        requires_grad=True)
    reversed_axes = torch.tensor(rng.standard_normal((12, 8, 3, 2)).astype(dtype),
                                 requires_grad=True)
    for x in (base.transpose(2, 3), base[..., ::2], reversed_axes.permute(3, 2, 1, 0)):
        y = F.max_pool2d(x, 3, stride=2, padding=1)    # not tiles: the Numba loops
        ref = oracle.nn.functional.max_pool2d(oracle.tensor(x.detach().numpy()), 3, 2, 1)
        np.testing.assert_array_equal(y.detach().numpy(), ref.numpy())
        y.sum().backward()
    from tinyflow.backend.numpy import _conv_loops
    for loop in (_conv_loops.pool_forward, _conv_loops.pool_backward):
        _assert_c(loop)


def test_attention_mask_one_layout():
    """A float and a bool mask over several query blocks (each block's rows were an 'A'
    slice of the mask) reach the loop C-contiguous and read only."""
    rng = np.random.default_rng(1)
    q, k, v = (torch.tensor(rng.standard_normal((2, 2, 80, 8)).astype(np.float32),
                            requires_grad=True) for _ in range(3))
    keep = np.tril(np.ones((80, 80), bool))
    keep[:, :3] = True
    for mask in (torch.tensor(np.where(keep, 0.0, -1e9).astype(np.float32)),
                 torch.tensor(keep)):
        F.scaled_dot_product_attention(q, k, v, attn_mask=mask).sum().backward()
    from tinyflow.backend.numpy import _attention_loops
    masks = _arrays(_attention_loops.softmax_scores, 4)
    assert masks and all(m.layout == "C" and not m.mutable for m in masks), masks


def test_norm_loops_take_c_vectors():
    """Strided weights and biases (every other entry of a longer one)."""
    rng = np.random.default_rng(2)
    w, b = (torch.tensor(rng.standard_normal(12).astype(np.float32), requires_grad=True)
            for _ in range(2))
    x = torch.tensor(rng.standard_normal((4, 6, 5)).astype(np.float32), requires_grad=True)
    (F.layer_norm(x, (5,), w[::2][:5], b[::2][:5]).sum()
     + F.batch_norm(x, None, None, w[::2], b[::2], training=True).sum()).backward()
    from tinyflow.backend.numpy import _batch_norm_loops, _norm_loops
    for loop in (_norm_loops.rows_forward, _norm_loops.rows_backward,
                 _batch_norm_loops.forward, _batch_norm_loops.input_grad):
        _assert_c(loop)


def test_winograd_weight_loop_takes_c_weights():
    """The input gradient's transform reads the weight transposed (a view, before)."""
    rng = np.random.default_rng(3)
    x = torch.tensor(rng.standard_normal((8, 32, 8, 8)).astype(np.float32),
                     requires_grad=True)
    w = torch.tensor(rng.standard_normal((32, 32, 3, 3)).astype(np.float32),
                     requires_grad=True)
    F.conv2d(x, w, padding=1).square().sum().backward()
    from tinyflow.backend.numpy import _conv_loops
    assert _conv_loops.winograd_weight.signatures
    _assert_c(_conv_loops.winograd_weight)


def test_a_mask_cut_to_one_head_per_piece_stays_c():
    """The kernel pool cuts [B, H] attention into pieces along the heads; a piece of one head
    of a per-head mask was an 'A' view ([B, T, S] with the heads' stride), which compiled the
    softmax loop again (and made the layout test above depend on which tests ran before)."""
    from tinyflow.backend.numpy.attention import _piece_mask
    mask = np.ones((2, 4, 5, 6), bool)
    part = _piece_mask(mask, 1, 2, 3)
    assert part.shape == (2, 5, 6) and part.flags.c_contiguous


def _ids(loop, arg):
    return {t.dtype.name for t in _arrays(loop, arg)}


def test_id_loops_take_int64_ids():
    """Int32 and uint8 class ids (the sparse cross-entropy's row loops) and int32 embedding
    ids (its gradient's row scatter) reach the loops as int64: one compilation per float
    type, not one more per integer type."""
    from tinyflow.backend.numpy import _row_loops, indexing, rows
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    ref = oracle.nn.functional.cross_entropy(oracle.tensor(x, requires_grad=True),
                                             oracle.tensor(np.arange(6) % 5), reduction="none")
    for labels in (np.arange(6, dtype=np.int32) % 5, np.arange(6, dtype=np.uint8) % 5):
        np.testing.assert_allclose(rows.sparse_xent_rows(x, labels, None),
                                   ref.detach().numpy(), rtol=1e-5)
        assert rows.sparse_xent_grad_rows(np.ones(6, np.float32), labels, x, None) is not None
    assert _ids(_row_loops.sparse_cross_entropy, 1) == {"int64"}
    assert _ids(_row_loops.sparse_cross_entropy_grad, 2) == {"int64"}
    weight = torch.tensor(rng.standard_normal((7, 3)).astype(np.float32), requires_grad=True)
    ids = np.array([[1, 6, 1], [0, -1, 2]], np.int32)
    F.embedding(torch.tensor(ids), weight).square().sum().backward()
    want = oracle.tensor(weight.detach().numpy(), requires_grad=True)
    oracle.nn.functional.embedding(oracle.tensor(ids % 7, dtype=oracle.int64),
                                   want).square().sum().backward()
    np.testing.assert_allclose(weight.grad.numpy(), want.grad.numpy(), rtol=1e-6)
    assert _ids(indexing._add_rows(), 1) == {"int64"}


def test_outer_loop_takes_c_columns_rows_and_biases():
    """One input feature sliced out of a wider input, and a strided bias (Linear's product
    of a column and a row, `linalg._outer`)."""
    rng = np.random.default_rng(5)
    wide = rng.standard_normal((40, 3)).astype(np.float32)
    w = rng.standard_normal((32, 2)).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    x, w1 = wide[:, 1:2], w[:, 1:]
    got = F.linear(torch.tensor(wide)[:, 1:2], torch.tensor(w)[:, 1:], torch.tensor(b)[::2])
    np.testing.assert_allclose(got.numpy(), x @ w1.T + b[::2], rtol=1e-6)
    row = torch.tensor(w.T)[1:]                              # [1, 32], a row of a transpose
    np.testing.assert_allclose((torch.tensor(wide)[:, 1:2] @ row).numpy(), x @ w1.T, rtol=1e-6)
    from tinyflow.backend.numpy import _product_loops
    assert _product_loops.outer.signatures
    _assert_c(_product_loops.outer)
