"""A hand-written SGD step and gradient clipping over large parameters (word_language_model:
`clip_grad_norm_(params, 0.25)`, then `p.add_(p.grad, alpha=-lr)` per parameter) touch each
parameter-sized array as few times as torch does: `add_`/`sub_` with an alpha run one fused
kernel writing the parameter (no product, sum and copy back), and the 2-norm reads each
gradient without a copy of its absolute values."""
import tracemalloc

import numpy as np
import pytest
import torch

import tinyflow as tf
from tinyflow.core.kernels import numpy_kernels


@pytest.fixture
def kernel_calls(monkeypatch):
    """The names of the kernels run, in order."""
    calls = []
    for cls, kernel in list(numpy_kernels.items()):
        def counted(op, *arrays, _kernel=kernel, **kw):
            calls.append(type(op).__name__)
            return _kernel(op, *arrays, **kw)
        monkeypatch.setitem(numpy_kernels, cls, counted)
    return calls


def _pair(lib, shape, dtype, seed):
    rng = np.random.default_rng(seed)
    return [lib.from_numpy(rng.standard_normal(shape).astype(dtype)) for _ in range(2)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,alpha", [("add_", -20.0), ("sub_", 0.5), ("add_", 3)])
def test_scaled_inplace_update_is_one_kernel_into_the_buffer(kernel_calls, name, alpha, dtype):
    p, g = _pair(tf, (300, 200), dtype, 0)
    tp, tg = _pair(torch, (300, 200), dtype, 0)
    buffer, view = p.numpy(), p[1]
    with tf.no_grad():
        kernel_calls.clear()
        out = getattr(p, name)(g, alpha=alpha)
    getattr(tp, name)(tg, alpha=alpha)
    assert kernel_calls == ["FusedElementwise"]
    assert out is p and p.numpy() is buffer
    np.testing.assert_allclose(p.numpy(), tp.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(view.numpy(), p.numpy()[1])   # views see the write


def test_scaled_inplace_update_of_itself_and_of_an_overlapping_view():
    x = tf.arange(12.0)
    tx = torch.arange(12.0)
    x.add_(x, alpha=0.5)
    tx.add_(tx, alpha=0.5)
    np.testing.assert_array_equal(x.numpy(), tx.numpy())
    y, ty = tf.arange(12.0), torch.arange(12.0)
    y[1:].add_(y[:-1], alpha=2.0)       # overlapping: NumPy's buffered path, torch's values
    ty[1:].add_(ty[:-1].clone(), alpha=2.0)
    np.testing.assert_array_equal(y.numpy(), ty.numpy())


def test_scaled_inplace_update_broadcasts_and_keeps_integer_rules():
    x, tx = tf.ones(3, 4), torch.ones(3, 4)
    x.add_(tf.arange(4.0), alpha=-2.0)
    tx.add_(torch.arange(4.0), alpha=-2.0)
    np.testing.assert_array_equal(x.numpy(), tx.numpy())
    i = tf.arange(4)
    i.add_(tf.arange(4), alpha=3)
    np.testing.assert_array_equal(i.numpy(), np.arange(4) * 4)
    with pytest.raises(RuntimeError, match="alpha"):
        tf.arange(4).add_(tf.arange(4), alpha=0.5)


def test_clip_grad_norm_reads_gradients_without_copies():
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((1000, 200)).astype(np.float32) for _ in range(2)]
    params = [tf.from_numpy(a.copy()).requires_grad_() for a in arrays]
    tparams = [torch.from_numpy(a.copy()).requires_grad_() for a in arrays]
    for p, t, a in zip(params, tparams, arrays):
        p.grad, t.grad = tf.from_numpy(-a), torch.from_numpy(-a.copy())
    tracemalloc.start()
    try:
        total = tf.nn.utils.clip_grad_norm_(params, 0.25)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    expect = torch.nn.utils.clip_grad_norm_(tparams, 0.25)
    assert peak < arrays[0].nbytes // 4      # NumPy reports its buffers to tracemalloc
    np.testing.assert_allclose(float(total), float(expect), rtol=1e-5)
    for p, t in zip(params, tparams):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-8)
