"""The eager reverse sweep joins a pre-norm block's residual gradient with its layer norm's
input gradient in one kernel (`LayerNormGradsAdd`, autodiff/reverse.py): the gradients are
PyTorch's and the finite differences', the join happens where it may, and the sweep falls
back to the plain rule where it may not."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import tinyflow as tf
from tinyflow.core.kernels import numpy_kernels
from tinyflow.ops.fused import LayerNormGradsAdd

from finite_differences import numeric_grad


@pytest.fixture
def joins(monkeypatch):
    """The list that gets an entry for each `LayerNormGradsAdd` kernel call."""
    calls, kernel = [], numpy_kernels[LayerNormGradsAdd]

    def counted(op, *arrays, **kw):
        calls.append(arrays[1].shape)
        return kernel(op, *arrays, **kw)
    monkeypatch.setitem(numpy_kernels, LayerNormGradsAdd, counted)
    return calls


def _block(lib, x, w, b, m, width):
    """Two pre-norm residual steps on x (the second one's layer norm sharing w, b), squared
    and summed."""
    f = lib.nn.functional
    h = x + f.layer_norm(x, (width,), w, b) @ m
    h = h + lib.tanh(f.layer_norm(h, (width,), w, b))
    return (h * h).sum()


def _arrays(dtype, shape):
    rng = np.random.default_rng(1)
    width = shape[-1]
    return (rng.standard_normal(shape).astype(dtype), rng.standard_normal(width).astype(dtype),
            rng.standard_normal(width).astype(dtype),
            rng.standard_normal((width, width)).astype(dtype))


def _grads(lib, arrays, need=(True, True, True)):
    x, w, b, m = (lib.tensor(a, requires_grad=n) for a, n in zip(arrays, need + (False,)))
    _block(lib, x, w, b, m, arrays[0].shape[-1]).backward()
    return [t.grad.numpy() if n else None for t, n in zip((x, w, b), need)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 5, 7), (1, 33), (2, 1, 1, 13)])
def test_joined_gradients_match_torch(joins, dtype, shape):
    arrays = _arrays(dtype, shape)
    mine, theirs = _grads(tf, arrays), _grads(torch, arrays)
    tol = 2e-4 if dtype == np.float32 else 1e-11
    for a, t in zip(mine, theirs):
        np.testing.assert_allclose(a, t, rtol=tol, atol=tol)
    assert len(joins) == 2, joins          # both layer norms' inputs had a residual partial


def test_joined_input_gradient_matches_finite_differences(joins):
    x, w, b, m = _arrays(np.float64, (2, 3, 4))
    mine = _grads(tf, (x, w, b, m))[0]

    def loss(x_):
        return float(_block(tf, tf.tensor(x_), tf.tensor(w), tf.tensor(b), tf.tensor(m),
                            4).numpy())
    np.testing.assert_allclose(mine, numeric_grad(loss, x), rtol=1e-6, atol=1e-7)
    assert len(joins) == 2


def test_no_join_without_parameter_gradients(joins):
    """Frozen scale and shift: the layer norm's rule takes its dx-only kernel, unjoined."""
    arrays = _arrays(np.float64, (4, 6))
    need = (True, False, False)
    mine = _grads(tf, arrays, need)
    theirs = _grads(torch, arrays, need)
    np.testing.assert_allclose(mine[0], theirs[0], rtol=1e-11, atol=1e-11)
    assert joins == []


def test_no_join_when_the_layer_norm_reads_x_first(joins):
    """x's only other reader comes after the layer norm's gradient: nothing to join."""
    rng = np.random.default_rng(2)
    x0, w0 = rng.standard_normal((3, 5)), rng.standard_normal(5)

    def loss(lib):
        x, w = lib.tensor(x0, requires_grad=True), lib.tensor(w0, requires_grad=True)
        y = lib.nn.functional.layer_norm(x, (5,), w)
        (y * y).sum().backward()
        return x.grad.numpy(), w.grad.numpy()
    for a, t in zip(loss(tf), loss(torch)):
        np.testing.assert_allclose(a, t, rtol=1e-11, atol=1e-11)
    assert joins == []


def test_joined_second_order_gradient_matches_torch(joins):
    """create_graph: the joined op is differentiated through its composition."""
    arrays = _arrays(np.float64, (2, 5))

    def grad_of_grad(lib, xs):
        x, w, b, m = (lib.tensor(a, requires_grad=True) for a in xs)
        gx, gw, gb = lib.autograd.grad(_block(lib, x, w, b, m, 5), [x, w, b],
                                       create_graph=True)
        ((gx * gx).sum() + (gw * gb).sum()).backward()
        return [t.grad.numpy() for t in (x, w, b)]
    mine = grad_of_grad(tf, arrays)
    theirs = grad_of_grad(torch, arrays)
    for a, t in zip(mine, theirs):
        np.testing.assert_allclose(a, t, rtol=1e-9, atol=1e-9)
    assert joins, "the first backward joined nothing"
