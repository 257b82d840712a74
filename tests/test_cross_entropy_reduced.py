"""F.cross_entropy on class ids as one op each way (session 28, issue 14: the CIFAR
tutorial's LeNet at batch 4): the weights, the ignored ids and the reduction inside the
sparse cross-entropy op and its gradient op, against PyTorch."""
import numpy as np
import pytest
import torch

import tinyflow as tf
from tinyflow.core.kernels import numpy_kernels as KERNELS
from tinyflow.ops.math import Div
from tinyflow.ops.nn import SparseSoftmaxCrossEntropy, SparseSoftmaxCrossEntropyGrad
from tinyflow.ops.reduce import Mean, Sum
from tinyflow.ops.shape import BroadcastTo

F = tf.nn.functional


def test_cross_entropy_is_one_op_forward_and_one_backward(monkeypatch):
    x = tf.tensor(np.random.default_rng(0).standard_normal((4, 10)).astype(np.float32),
                  requires_grad=True)
    loss = F.cross_entropy(x, tf.tensor([1, 0, 9, 3]))
    assert type(loss._op) is SparseSoftmaxCrossEntropy and loss._op.reduction == "mean"
    assert loss.inputs[1] is x
    seen = []
    for cls in (SparseSoftmaxCrossEntropyGrad, Div, BroadcastTo, Mean, Sum):
        def spy(op, *arrays, _kernel=KERNELS[cls], **kw):
            seen.append(type(op))
            return _kernel(op, *arrays, **kw)
        monkeypatch.setitem(KERNELS, cls, spy)
    loss.backward()
    assert seen == [SparseSoftmaxCrossEntropyGrad]


CASES = [dict(), dict(reduction="sum"), dict(reduction="none"),
         dict(weight=True), dict(weight=True, reduction="sum"),
         dict(weight=True, reduction="none", ignore_index=2),
         dict(ignore_index=2), dict(weight=True, ignore_index=2)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spatial", [False, True])
@pytest.mark.parametrize("kwargs", CASES)
def test_values_and_gradients_match_torch(kwargs, spatial, dtype):
    rng = np.random.default_rng(len(CASES) * spatial + CASES.index(kwargs))
    shape, ids = ((3, 5, 2, 2), (3, 2, 2)) if spatial else ((6, 5), (6,))
    x = rng.standard_normal(shape).astype(dtype)
    t = rng.integers(0, 5, ids)
    t.reshape(-1)[:2] = 2     # ignored where ignore_index=2
    w = rng.uniform(0.5, 2, 5).astype(dtype)
    v = rng.standard_normal(ids if kwargs.get("reduction") == "none" else ()).astype(dtype)
    out = []
    for lib in (tf, torch):
        extra = dict(kwargs)
        if extra.pop("weight", False):
            extra["weight"] = lib.tensor(w)
        a = lib.tensor(x, requires_grad=True)
        loss = lib.nn.functional.cross_entropy(a, lib.tensor(t), **extra)
        (loss * lib.tensor(v)).sum().backward()
        out.append((loss.detach().numpy(), a.grad.numpy()))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for ours, theirs in zip(*out):
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol)


@pytest.mark.parametrize("weight", [False, True])
def test_every_id_ignored_is_nan_with_zero_gradients_as_torch(weight):
    x = np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32)
    out = []
    for lib in (tf, torch):
        a = lib.tensor(x, requires_grad=True)
        w = lib.tensor(np.linspace(0.5, 2, 6).astype(np.float32)) if weight else None
        loss = lib.nn.functional.cross_entropy(a, lib.tensor([-100] * 4), weight=w)
        loss.backward()
        out.append((loss.detach().numpy(), a.grad.numpy()))
    assert np.isnan(out[0][0]) and np.isnan(out[1][0])
    np.testing.assert_array_equal(out[0][1], out[1][1])
    assert not out[0][1].any()


def test_double_backward_with_weights_and_ignored_ids_matches_torch():
    rng = np.random.default_rng(2)
    x, v = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    t, w = np.array([0, 3, 1, 3, 2]), rng.uniform(0.5, 2, 4)
    out = []
    for lib in (tf, torch):
        a = lib.tensor(x, requires_grad=True)
        loss = lib.nn.functional.cross_entropy(a, lib.tensor(t), weight=lib.tensor(w),
                                               ignore_index=3)
        (g,) = lib.autograd.grad(loss, a, create_graph=True)
        (h,) = lib.autograd.grad((g * lib.tensor(v)).sum(), a)
        out.append((g.detach().numpy(), h.numpy()))
    for ours, theirs in zip(*out):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_a_weight_of_another_float_dtype_is_cast_to_the_logits():
    # PyTorch refuses float64 weights on float32 logits; the loss stays float32 here
    x = np.random.default_rng(3).standard_normal((3, 4)).astype(np.float32)
    loss = F.cross_entropy(tf.tensor(x), tf.tensor([0, 1, 3]),
                           weight=tf.tensor(np.ones(4)))
    want = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor([0, 1, 3]))
    assert loss.dtype is tf.float32
    np.testing.assert_allclose(loss.numpy(), want.numpy(), rtol=1e-6)


def test_an_unknown_reduction_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"reduction='avg' is unknown"):
        F.cross_entropy(tf.tensor(np.zeros((2, 3), np.float32)), tf.tensor([0, 1]),
                        reduction="avg")
