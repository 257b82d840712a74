"""Split pieces' gradients scattered without their reshapes (passes/scatter_tiles.py): the
q/k/v split of a fused projection, viewed per head and transposed, compiles to one
`scatter_tiles` step (no `getitem_grads`, no copying `reshape_to`), and the compiled
gradients equal eager ones; pieces that cannot be written through a view keep the copies."""
from __future__ import annotations

import numpy as np

import tinyflow as torch
from tinyflow.passes.program import op_name

RNG = np.random.default_rng(0)
B, T, HEADS, DH = 2, 5, 3, 4
D = HEADS * DH


def heads(x):
    """(B, T, D) -> (B, HEADS, T, DH), as nanoGPT's attention views q, k and v."""
    return x.view(B, T, HEADS, DH).transpose(1, 2)


def qkv_step(x, w):
    q, k, v = (x @ w).split(D, dim=2)
    y = heads(q) * heads(k).tanh() + heads(v).sigmoid()
    loss = (y * y).sum()
    loss.backward()
    return loss


def program_of(compiled):
    (entry,) = [e for es in compiled._cache.values() for e in es]
    return next(iter(entry.plan._compiled.values())).program


def leaves():
    x = torch.Tensor(RNG.standard_normal((B, T, D)).astype(np.float32), requires_grad=True)
    w = torch.Tensor(RNG.standard_normal((D, 3 * D)).astype(np.float32), requires_grad=True)
    return x, w


def compiled_as_eager(step):
    """`step` compiled, after checking that its loss and gradients equal eager's."""
    x, w = leaves()
    expected = step(x, w).detach().numpy()
    grads = x.grad.numpy(), w.grad.numpy()
    x.grad = w.grad = None
    compiled = torch.compile(step)
    np.testing.assert_allclose(compiled(x, w).detach().numpy(), expected, rtol=1e-5)
    for got, want in zip((x.grad.numpy(), w.grad.numpy()), grads):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    return compiled


def test_transposed_pieces_scatter_in_one_step_and_equal_eager():
    compiled = compiled_as_eager(qkv_step)
    names = [op_name(s.op) for s in program_of(compiled).steps]
    assert "scatter_tiles" in names and "getitem_grads" not in names
    assert "reshape_to" not in [op_name(s.op) for s in program_of(compiled).steps
                                if s.record.shape == (B, T, D) and not s.record.aliases]


def test_pieces_that_no_view_reaches_keep_their_reshape():
    # Each piece's gradient arrives as (B, T * D): a (B, T, D) slice of the (B, T, 3D)
    # gradient cannot be viewed in that shape (its rows are not adjacent), so the copies stay.
    def step(x, w):
        q, k, v = (x @ w).split(D, dim=2)
        loss = sum(p.reshape(B, T * D).tanh().sum() for p in (q, k, v))
        loss.backward()
        return loss
    names = [op_name(s.op) for s in program_of(compiled_as_eager(step)).steps]
    assert "getitem_grads" in names and "scatter_tiles" not in names
