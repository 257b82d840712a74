"""The backward of small graphs (session 22, issue 14: pytorch/examples' regression and a
`(w * x + b).pow(2).mean()` step): fewer ops in pow's and smooth L1's gradients and the
engine's inline version check of a three-input node, each against PyTorch."""
import re

import numpy as np
import pytest
import torch

import tinyflow as tf
from tinyflow.core.kernels import numpy_kernels as KERNELS
from tinyflow.ops.math import Pow, Where

SPECIALS = [0.0, np.nan, 1.5, -2.0]   # (-0.0 ** -0.5: torch's rsqrt gives -inf, C's pow +inf)


def _x(dtype, n=40):
    x = np.random.default_rng(0).standard_normal(n).astype(dtype)
    x[:len(SPECIALS)] = SPECIALS
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("exponent", [2, 2.0, 3, 0, 1, 0.5, -1, 2.5, -2])
def test_pow_gradient_of_a_constant_exponent_matches_torch(dtype, exponent):
    x, v = _x(dtype), np.linspace(-1, 1, 40).astype(dtype)
    grads = []
    for lib in (tf, torch):
        t = lib.tensor(x, requires_grad=True)
        (t.pow(exponent) * lib.tensor(v)).sum().backward()
        grads.append(t.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6, equal_nan=True)


def _kernels_run(monkeypatch, classes):
    seen = []
    for cls in classes:
        def spy(op, *arrays, _kernel=KERNELS[cls], **kw):
            seen.append(type(op))
            return _kernel(op, *arrays, **kw)
        monkeypatch.setitem(KERNELS, cls, spy)
    return seen


@pytest.mark.parametrize("exponent, pows", [(2, 0), (3, 1), (0.5, 1)])
def test_pow_gradient_of_a_constant_exponent_runs_no_where(monkeypatch, exponent, pows):
    """y x^(y - 1) with the exponent's `where(y == 0, 1, y - 1)` one number: no where in the
    backward, and x ** 1 (a square's) not run at all."""
    x = tf.tensor(_x(np.float32), requires_grad=True)
    loss = x.pow(exponent).sum()
    seen = _kernels_run(monkeypatch, [Pow, Where])
    loss.backward()
    assert seen.count(Where) == 0 and seen.count(Pow) == pows


def test_pow_gradient_of_an_exponent_that_requires_grad_matches_torch():
    x = np.abs(_x(np.float64)) + 0.5
    grads = []
    for lib in (tf, torch):
        t = lib.tensor(x, requires_grad=True)
        e = lib.tensor(2.0, dtype=lib.float64, requires_grad=True)
        t.pow(e).sum().backward()
        grads.append((t.grad.numpy(), e.grad.numpy()))
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("exponent", [2, 3, 0.5])
def test_pow_second_derivative_of_a_constant_exponent_matches_torch(exponent):
    x = np.abs(_x(np.float64)) + 0.25
    out = []
    for lib in (tf, torch):
        t = lib.tensor(x, requires_grad=True)
        (g,) = lib.autograd.grad(t.pow(exponent).sum(), t, create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), t)
        out.append((g.detach().numpy(), h.numpy()))
    for ours, theirs in zip(*out):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("beta", [1.0, 0.25])
@pytest.mark.parametrize("shape", [(32, 1), ()])
def test_smooth_l1_loss_gradient_matches_torch(dtype, beta, shape):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    y = rng.standard_normal(shape).astype(dtype)
    if shape:
        x[:3, 0] = [np.nan, 0.0, -0.0]
        y[1:3, 0] = [0.0, 0.0]
    out = []
    for lib in (tf, torch):
        a, b = lib.tensor(x, requires_grad=True), lib.tensor(y, requires_grad=True)
        loss = lib.nn.functional.smooth_l1_loss(a, b, beta=beta)
        loss.backward()
        out.append((loss.detach().numpy(), a.grad.numpy(), b.grad.numpy()))
    for ours, theirs in zip(*out):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, equal_nan=True)
    # the input's gradient keeps the sign of its zeros (-0.0 at x = -0.0 - 0.0)
    ours, theirs = out[0][1], out[1][1]
    np.testing.assert_array_equal(np.signbit(ours)[ours == ours],
                                  np.signbit(theirs)[theirs == theirs])


@pytest.mark.parametrize("written", [0, 1])
def test_linear_input_written_in_place_after_the_forward_raises_as_torch(written):
    """An affine node (three inputs) checks its inputs' versions inline in the sweep."""
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((5, 4), (3, 4), (3,))]
    for lib in (tf, torch):
        x, w, b = (lib.tensor(a, requires_grad=True) for a in arrays)
        ins = [x * 1, w * 1, b]
        out = lib.nn.functional.linear(*ins)
        with lib.no_grad():   # (under autograd the write would move x's history aside)
            ins[written].mul_(2)
        with pytest.raises(RuntimeError, match="modified by an in-?place operation"):
            out.sum().backward()


def test_linear_bias_written_in_place_after_the_forward_is_not_read_as_torch():
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((5, 4), (3, 4), (3,))]
    grads = []
    for lib in (tf, torch):
        x, w, b = (lib.tensor(a, requires_grad=True) for a in arrays)
        b2 = b * 1
        out = lib.nn.functional.linear(x, w, b2)
        b2.add_(1)
        out.pow(2).sum().backward()
        grads.append([t.grad.numpy() for t in (x, w, b)])
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


# ---- review (session 22): the constant exponent's fast path under compile and create_graph,
# and the affine node's reads ------------------------------------------------------------------

def test_pow_gradient_of_a_captured_exponent_written_between_compiled_calls():
    """The exponent's value is read when the gradient is computed: a compiled step that closes
    over a 0-d exponent must not keep the value it was traced with (its forward does not)."""
    x0 = np.array([0.5, 1.5, -2.0, 3.0], np.float32)
    w, e = tf.tensor(x0, requires_grad=True), tf.tensor(2.0)

    def step():
        loss = w.pow(e).sum()
        loss.backward()
        return loss

    compiled = tf.compile(step)
    for value in (2.0, 3.0, 0.5, 0.0):
        with tf.no_grad():
            e.fill_(value)
        w.grad = None
        loss = compiled()
        t = torch.tensor(x0, requires_grad=True)
        expected = t.pow(torch.tensor(value))
        expected.sum().backward()
        np.testing.assert_allclose(loss.item(), expected.sum().item(), rtol=1e-6)
        np.testing.assert_allclose(w.grad.numpy(), t.grad.numpy(), rtol=1e-6, equal_nan=True)


def test_pow_second_derivative_of_a_zero_tensor_exponent_as_torch():
    """torch's gradient of x ** tensor(0) is where(exponent == 0, 0, ...): under create_graph
    still a function of x, so its own gradient (zeros) can be taken. (torch's is NaN at
    x = 0 and NaN, 0 * x^-2 through the branch not taken; ours, as before, 0.)"""
    x = np.array([0.0, np.nan, 1.5, -2.0])
    out = []
    for lib in (tf, torch):
        t = lib.tensor(x, requires_grad=True)
        (g,) = lib.autograd.grad(t.pow(lib.tensor(0.0, dtype=lib.float64)).sum(), t,
                                 create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), t)
        out.append((g.detach().numpy(), h.numpy()))
    for ours, theirs in zip(*out):
        np.testing.assert_array_equal(ours, np.zeros(4))
        np.testing.assert_array_equal(ours[2:], theirs[2:])


@pytest.mark.parametrize("x_requires_grad", [True, False])
@pytest.mark.parametrize("written", ["x", "weight", "bias"])
@pytest.mark.parametrize("how", ["no_grad", "data"])
def test_linear_parameter_written_in_place_after_the_forward_as_torch(how, written,
                                                                      x_requires_grad):
    """A Linear's input, weight or bias written between forward and backward (under no_grad,
    or through .data, which torch does not count): raises exactly where PyTorch does, and
    otherwise gives PyTorch's gradients (the bias's value, and the weight's when x needs no
    gradient, are not read by the backward)."""
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((5, 4), (3, 4), (3,))]
    results = []
    for lib in (tf, torch):
        x = lib.tensor(arrays[0], requires_grad=x_requires_grad)
        layer = lib.nn.Linear(4, 3)
        with lib.no_grad():
            layer.weight.copy_(lib.tensor(arrays[1]))
            layer.bias.copy_(lib.tensor(arrays[2]))
        out = layer(x)
        target = {"x": x, "weight": layer.weight, "bias": layer.bias}[written]
        if how == "data":
            target.data.mul_(2)
        else:
            with lib.no_grad():
                target.add_(1)
        try:
            out.pow(2).sum().backward()
        except RuntimeError as e:
            assert re.search("modified by an in-?place operation", str(e))
            results.append(None)
            continue
        results.append([t.grad.numpy() for t in (layer.weight, layer.bias)]
                       + ([x.grad.numpy()] if x_requires_grad else []))
    assert (results[0] is None) == (results[1] is None)
    if results[0] is not None:
        for ours, theirs in zip(*results):
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
