"""log_softmax + nll_loss as a language model writes them (pytorch/examples'
word_language_model: 700 targets over a 33k-word vocabulary), against PyTorch:

- nll_loss gathers each target's log-probability (its gradient a scatter), where a one-hot
  product made three more dense [N, classes] arrays forward and backward;
- log_softmax's eager backward over the last axis is one op (`LogSoftmaxGrad`), and long
  rows take row loops in parallel pieces, forward and backward (float32 and float64).
"""
import numpy as np
import pytest
import torch

import tinyflow
from tinyflow.backend.numpy import nn as nn_kernels
from tinyflow.ops import creation, nn as nn_ops
from torch_oracle import Given, Ids, X, compare, gradcheck

F, TF = torch.nn.functional, tinyflow.nn.functional


def _targets(high, *shape, ignore=None):
    ids = np.random.default_rng(3).integers(0, high, shape).astype(np.int64)
    if ignore is not None:
        ids.flat[::4] = ignore
    return Given(ids)


@pytest.mark.parametrize("shape", [(40, 2000), (6, 5000)])      # long rows: the row loops
@pytest.mark.parametrize("kwargs", [{}, dict(reduction="sum"), dict(reduction="none")])
def test_log_softmax_then_nll_on_long_rows_matches_torch(shape, kwargs):
    compare(lambda x, t: F.nll_loss(F.log_softmax(x, dim=1), t, **kwargs),
            lambda x, t: TF.nll_loss(TF.log_softmax(x, dim=1), t, **kwargs),
            [X(*shape), _targets(shape[1], shape[0])], rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_long_rows_forward_and_backward_match_torch_in_both_dtypes(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 30, 400)) * 4      # rank 3, the last axis: rows of 400
    g = rng.standard_normal(x.shape)
    tx = torch.tensor(x, dtype=dtype, requires_grad=True)
    fx = tinyflow.tensor(x.astype(str(dtype).split(".")[1]), requires_grad=True)
    ty, fy = F.log_softmax(tx, -1), TF.log_softmax(fx, -1)
    (ty * torch.tensor(g, dtype=dtype)).sum().backward()
    (fy * tinyflow.tensor(g.astype(fy.detach().numpy().dtype))).sum().backward()
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fy.detach().numpy(), ty.detach().numpy(), **tol)
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), **tol)


def test_long_rows_of_large_logits_keep_their_precision():
    """(x - max) - log(sum), not x - (max + log(sum)): at 1e6 the latter rounds to 0.06."""
    x = (np.random.default_rng(1).standard_normal((64, 512)) + 1e6).astype(np.float32)
    ours = TF.log_softmax(tinyflow.tensor(x), dim=-1).numpy()
    theirs = F.log_softmax(torch.tensor(x), dim=-1).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_rows_of_minus_inf_and_nan_give_nan_as_torch():
    x = np.random.default_rng(2).standard_normal((40, 512)).astype(np.float32)
    x[3] = -np.inf
    x[5, 7] = np.nan
    x[9, 1] = np.inf
    ours = TF.log_softmax(tinyflow.tensor(x), dim=1).numpy()
    theirs = F.log_softmax(torch.tensor(x), dim=1).numpy()
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    ok = ~np.isnan(theirs)
    np.testing.assert_allclose(ours[ok], theirs[ok], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs", [dict(ignore_index=2), dict(weight=True),
                                    dict(weight=True, ignore_index=1, reduction="sum")])
def test_nll_with_weight_and_ignored_targets_matches_torch(kwargs):
    weight = np.random.default_rng(4).uniform(0.5, 2, 7).astype(np.float32)

    def run(lib, functional):
        def fn(x, t):
            extra = dict(kwargs)
            if extra.pop("weight", False):
                extra["weight"] = lib.tensor(weight)
            return functional.nll_loss(functional.log_softmax(x, 1), t, **extra)
        return fn
    compare(run(torch, F), run(tinyflow, TF), [X(12, 7), Ids(7, 12)])
    compare(run(torch, F), run(tinyflow, TF), [X(4, 7, 3), Ids(7, 4, 3)])   # classes in dim 1


def test_nll_and_log_softmax_gradients_by_finite_differences():
    x = np.random.default_rng(5).standard_normal((5, 6))
    t = tinyflow.tensor(np.array([0, 5, 2, -100, 3]))
    w = tinyflow.tensor(np.linspace(0.5, 1.5, 6))
    gradcheck(lambda x: TF.nll_loss(TF.log_softmax(x, 1), t, weight=w), x)
    gradcheck(lambda x: TF.log_softmax(x, -1) * TF.log_softmax(x, -1), x)   # both inputs
    # the second derivative goes through LogSoftmaxGrad's compose()
    def grad_of(x):   # gradcheck evaluates it under no_grad too, with plain tensors
        outer = x.requires_grad
        with tinyflow.enable_grad():
            x = x if outer else x.detach().requires_grad_()
            y = TF.log_softmax(x, -1)
            g, = tinyflow.autograd.grad((y * y).sum(), x, create_graph=outer)
        return g
    gradcheck(grad_of, x)


def test_second_derivative_matches_torch():
    x = np.random.default_rng(6).standard_normal((4, 50)).astype(np.float32)
    tx, fx = torch.tensor(x, requires_grad=True), tinyflow.tensor(x, requires_grad=True)
    tg, = torch.autograd.grad((F.log_softmax(tx, -1) ** 2).sum(), tx, create_graph=True)
    fg, = tinyflow.autograd.grad((TF.log_softmax(fx, -1) ** 2).sum(), fx, create_graph=True)
    tg.pow(2).sum().backward()
    fg.pow(2).sum().backward()
    np.testing.assert_allclose(fg.detach().numpy(), tg.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_eager_step_makes_no_one_hot_and_one_log_softmax_gradient(monkeypatch):
    """What made the language model's loss slow: a one-hot of [700, 33278], and four ops
    for log_softmax's backward."""
    ran = []
    for cls, name in ((creation.OneHot, "one_hot"), (nn_ops.LogSoftmaxGrad, "grad")):
        real = cls._eager_kernel

        def spy(*args, real=real, name=name):
            ran.append(name)
            return real(*args)
        monkeypatch.setattr(cls, "_eager_kernel", spy)
    x = tinyflow.tensor(np.random.default_rng(7).standard_normal((35, 3000)).astype(
        np.float32), requires_grad=True)
    t = tinyflow.tensor(np.arange(35) * 80)
    TF.nll_loss(TF.log_softmax(x, dim=1), t).backward()
    assert ran == ["grad"], ran


@pytest.mark.parametrize("input_shape, target", [((5,), 2), ((1, 60), [5]),
                                                  ((4, 7), [0, 6, 3, 3]),
                                                  ((2, 5, 3), [[0, 4, 1], [2, 2, 3]])])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_of_targets_that_all_count_is_the_pick_alone(input_shape, target, reduction):
    """No weight and no ignored target (a char-RNN's loss per letter): one op (`Nll`), not
    the 15 of the masked, weighted mean; values and gradients are torch's."""
    x = np.random.default_rng(9).standard_normal(input_shape)
    tx, fx = torch.tensor(x, requires_grad=True), tinyflow.tensor(x, requires_grad=True)
    tl = F.nll_loss(tx, torch.tensor(target), reduction=reduction)
    fl = TF.nll_loss(fx, tinyflow.tensor(target), reduction=reduction)
    np.testing.assert_allclose(fl.detach().numpy(), tl.detach().numpy(), rtol=1e-12)
    tl.sum().backward()
    fl.sum().backward()
    np.testing.assert_array_equal(fx.grad.numpy(), tx.grad.numpy())
    nodes, stack = set(), [fl]
    while stack:
        node = stack.pop()
        if node._op is not None and id(node) not in nodes:
            nodes.add(id(node))
            stack.extend(node.inputs)
    assert len(nodes) == 1 + (len(input_shape) > 2), len(nodes)   # classes last: a transpose


def test_kernels_of_long_rows_match_the_formula_in_float64():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((70, 300)) * 3
    g = rng.standard_normal(x.shape)
    op = nn_ops.LogSoftmax(axis=-1)
    y = nn_kernels.log_softmax(op, x)
    want = x - x.max(-1, keepdims=True)
    want -= np.log(np.exp(want).sum(-1, keepdims=True))
    np.testing.assert_allclose(y, want, rtol=1e-13, atol=1e-13)
    got = nn_kernels.log_softmax_grad(nn_ops.LogSoftmaxGrad(), g, y)
    np.testing.assert_allclose(got, g - np.exp(y) * g.sum(-1, keepdims=True), rtol=1e-13,
                               atol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 60), (100, 10), (7,), (2, 3, 5)])
def test_small_arrays_take_the_row_loop_in_one_call_with_torch_values(shape, dtype):
    """Under ROW_LOOPS_FROM[1] elements float32 takes the row loop in one call (a char-RNN's
    letter), float64 NumPy's calls: torch's values, large logits, -inf and NaN rows
    included."""
    x = (np.random.default_rng(10).standard_normal(shape) * 5).astype(dtype)
    if x.ndim == 2 and x.shape[0] >= 4:
        x[1] = -np.inf
        x[2, 3] = np.nan
        x[3] += 1e6 if dtype == np.float64 else 1e4
    ours = TF.log_softmax(tinyflow.tensor(x), dim=-1).numpy()
    theirs = F.log_softmax(torch.tensor(x), dim=-1).numpy()
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-9)
    ok = ~np.isnan(theirs)
    np.testing.assert_allclose(ours[ok], theirs[ok], **tol)


def test_nll_of_a_class_out_of_range_names_the_class_as_torch_refuses():
    x = tinyflow.tensor(np.zeros((2, 4)), requires_grad=True)
    for bad in ([0, 4], [-1, 2]):
        with pytest.raises(IndexError, match=r"target class (4|-1) is out of range for 4 "
                                             r"classes"):
            TF.nll_loss(x, tinyflow.tensor(bad))
        with pytest.raises(IndexError):
            F.nll_loss(torch.zeros(2, 4), torch.tensor(bad))


def test_small_float64_log_softmax_keeps_a_confident_class_log_probability():
    """A confident row's top log-probability (-log(1 + 59 e^-30), a trained model's loss
    per letter) in float64 keeps torch's digits: NumPy's pairwise sum, not the row loop's
    sum in order (which adds each tiny term to 1: 1e-3 relative error here)."""
    x = np.full((1, 60), 170.0)
    x[:, 0] = 200.0
    ours = TF.log_softmax(tinyflow.tensor(x), dim=1).numpy()[:, 0]
    theirs = F.log_softmax(torch.tensor(x), dim=1).numpy()[:, 0]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=2e-15)
