"""`torch.autograd.Function` against PyTorch: the tutorials' custom function, several outputs
with non-tensor arguments, custom gradients that differ from the true derivative (a
straight-through estimator) eagerly, under compile and in a TF1 graph, double backward through
a custom backward, the ctx API, and the errors PyTorch gives for a wrong backward."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import tinyflow
import tinyflow as tf


def _functions(L):
    """The same custom Functions written against library L (torch or tinyflow)."""

    class Legendre3(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return 0.5 * (5 * x ** 3 - 3 * x)

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * 1.5 * (5 * x ** 2 - 1)

    class ScaledPair(L.autograd.Function):
        """Two outputs, a non-tensor argument, needs_input_grad."""
        @staticmethod
        def forward(ctx, x, scale, y):
            ctx.scale = scale
            ctx.save_for_backward(x, y)
            return x * y * scale, x + y

        @staticmethod
        def backward(ctx, g_prod, g_sum):
            x, y = ctx.saved_tensors
            gx = g_prod * y * ctx.scale + g_sum if ctx.needs_input_grad[0] else None
            gy = g_prod * x * ctx.scale + g_sum if ctx.needs_input_grad[2] else None
            return gx, None, gy

    class RoundSTE(L.autograd.Function):
        """Round forward, identity backward: a gradient that is not round's derivative."""
        @staticmethod
        def forward(ctx, x):
            return x.round()

        @staticmethod
        def backward(ctx, g):
            return g

    class Square(L.autograd.Function):
        """New style: forward without ctx, setup_context; its backward is differentiable."""
        @staticmethod
        def forward(x):
            return x * x

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 2 * x * g

    return Legendre3, ScaledPair, RoundSTE, Square


TORCH_FNS, OUR_FNS = _functions(torch), _functions(tinyflow)
X = np.linspace(-1.3, 1.7, 7)


def _pair(values, dtype=np.float64):
    return (torch.tensor(values.astype(dtype), requires_grad=True),
            tinyflow.tensor(values.astype(dtype), requires_grad=True))


def test_the_tutorials_legendre_function_matches_torch():
    (t_fn, *_), (o_fn, *_) = TORCH_FNS, OUR_FNS
    tx, ox = _pair(X)
    t_out, o_out = t_fn.apply(tx), o_fn.apply(ox)
    np.testing.assert_allclose(o_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-12)
    (t_out * t_out).sum().backward()
    (o_out * o_out).sum().backward()
    np.testing.assert_allclose(ox.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    assert repr(o_out).endswith("grad_fn=<CustomFunctionBackward0>)")


def test_several_outputs_and_a_non_tensor_argument():
    (_, t_fn, *_), (_, o_fn, *_) = TORCH_FNS, OUR_FNS
    (tx, ox), (ty, oy) = _pair(X), _pair(X[::-1].copy())
    for fn, x, y in ((t_fn, tx, ty), (o_fn, ox, oy)):
        prod, total = fn.apply(x, 3.0, y)
        (prod.sum() * 2 + (total ** 2).sum()).backward()
    np.testing.assert_allclose(ox.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(oy.grad.numpy(), ty.grad.numpy(), rtol=1e-12)
    # only one output used: the other's gradient is materialized as zeros
    ox.grad = None
    o_fn.apply(ox, 3.0, tinyflow.tensor(X))[0].sum().backward()
    np.testing.assert_allclose(ox.grad.numpy(), 3.0 * X)


def test_a_custom_gradient_is_used_eagerly_under_compile_and_in_a_tf1_graph():
    *_, o_ste, _ = OUR_FNS
    x = tinyflow.tensor(X, requires_grad=True)
    (o_ste.apply(x) * x).sum().backward()
    want = np.round(X) + X                       # d/dx [ste(x) x] = 1 * x + round(x)
    np.testing.assert_allclose(x.grad.numpy(), want)

    @tinyflow.compile
    def step(x):
        loss = (o_ste.apply(x) * x).sum()
        loss.backward()
        return loss
    x2 = tinyflow.tensor(X, requires_grad=True)
    step(x2)
    np.testing.assert_allclose(x2.grad.numpy(), want)

    g = tf.Graph()
    with g.as_default():
        p = tf.placeholder(tf.float64, [7])
        grad, = tf.gradients(tf.reduce_sum(o_ste.apply(p) * p), [p])
        with tf.Session() as sess:
            np.testing.assert_allclose(sess.run(grad, {p: X}), want)


def test_double_backward_through_a_custom_backward_matches_torch():
    *_, t_sq = TORCH_FNS
    *_, o_sq = OUR_FNS
    tx, ox = _pair(X)
    grads = []
    for fn, x, L in ((t_sq, tx, torch), (o_sq, ox, tinyflow)):
        y = (fn.apply(x) ** 2).sum()
        g, = L.autograd.grad(y, x, create_graph=True)
        g.sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12)


def test_no_gradient_needed_returns_the_forward_result_itself():
    legendre = OUR_FNS[0]
    out = legendre.apply(tinyflow.tensor(X))
    assert not out.requires_grad and out.grad_fn is None
    with tinyflow.no_grad():
        assert not legendre.apply(tinyflow.tensor(X, requires_grad=True)).requires_grad


def test_ctx_marks_and_materialize_grads():
    seen = {}

    class TwoOut(tinyflow.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            idx = x.argmax()
            ctx.mark_non_differentiable(idx)
            return x * 2, x * 3, idx

        @staticmethod
        def backward(ctx, g2, g3, g_idx):
            seen["grads"] = (g2 is None, g3 is None, g_idx is None)
            return g2 * 2 if g2 is not None else g3 * 3

    x = tinyflow.tensor(X, requires_grad=True)
    a, b, idx = TwoOut.apply(x)
    assert not idx.requires_grad and a.requires_grad
    a.sum().backward()
    assert seen["grads"] == (False, True, True)
    np.testing.assert_allclose(x.grad.numpy(), 2.0)


def test_a_wrong_backward_is_refused_as_torch_refuses_it():
    def make(result):
        class Bad(tinyflow.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                return x * k

            @staticmethod
            def backward(ctx, g):
                return result(g)
        return Bad

    x = tinyflow.tensor(X, requires_grad=True)
    cases = [(lambda g: (g,), r"BadBackward: backward returned 1 gradients for 2 "
                               r"forward inputs"),
             (lambda g: (g[:3], None), r"backward returned a gradient of shape \[3\] for "
                                       r"input 0 of shape \[7\]"),
             (lambda g: (g, g), r"backward returned a gradient for input 1, a float, "
                                r"not a Tensor")]
    for result, message in cases:
        with pytest.raises(RuntimeError, match=message):
            make(result).apply(x, 2.0).sum().backward()
    with pytest.raises(RuntimeError, match="used through their static apply"):
        make(lambda g: g)()


def test_gradients_never_alias_what_the_backward_returned():
    """A backward may return a tensor the user keeps; accumulating .grad must not write
    into it (PyTorch's AccumulateGrad copies such a gradient)."""
    kept = tinyflow.full((3,), 5.0)

    class Const(tinyflow.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return kept

    p = tinyflow.ones(3, requires_grad=True)
    for _ in range(2):
        Const.apply(p).sum().backward()
    assert kept.tolist() == [5.0, 5.0, 5.0] and p.grad.tolist() == [10.0, 10.0, 10.0]


def test_a_retained_non_leaf_grad_is_replaced_not_accumulated_in_place():
    """PyTorch accumulates a leaf's .grad in place but gives a retained non-leaf a new one."""
    for L in (torch, tinyflow):
        x = L.ones(2, requires_grad=True)
        y = x * 2
        y.retain_grad()
        y.sum().backward(retain_graph=True)
        held = y.grad
        y.sum().backward()
        assert held.tolist() == [1.0, 1.0] and y.grad.tolist() == [2.0, 2.0]


def test_an_in_place_forward_is_refused_clearly():
    class Double_(tinyflow.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(x)
            return x.mul_(2)

        @staticmethod
        def backward(ctx, g):
            return 2 * g

    with pytest.raises(NotImplementedError, match="Double_: ctx.mark_dirty"):
        Double_.apply(tinyflow.ones(2, requires_grad=True) * 1)
    assert Double_.apply(tinyflow.ones(2)).tolist() == [2.0, 2.0]   # outside autograd: runs


@pytest.mark.parametrize("lib", [tinyflow, torch], ids=["tinyflow", "torch"])
def test_a_saved_tensor_written_in_place_before_backward_is_refused(lib):
    """PyTorch checks save_for_backward's tensors against their versions when the backward
    unpacks them: a later x.mul_(10) must raise, not give 2 * (10 x) * g."""
    class Square(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 2 * x * g

    a = lib.tensor([1.0, 2.0], requires_grad=True)
    x = a * 1
    y = Square.apply(x).sum()
    x.mul_(10)
    says = ("modified by an inplace operation" if lib is torch else
            "a tensor of save_for_backward, a tensor of shape \\[2\\] and dtype float32, was "
            "saved for the gradient and then modified by an in-place operation")
    with pytest.raises(RuntimeError, match=says):
        y.backward()
