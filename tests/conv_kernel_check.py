"""One check shared by the conv kernel-path tests (Winograd, direct): the numpy backend's
forward, weight (and bias) and input gradient kernels against torch's conv2d and autograd,
in float64 and float32, relative to the largest value."""
import numpy as np
import torch
import torch.nn.functional as F

from tinyflow.backend.numpy import conv
from tinyflow.ops import conv as conv_ops

TOL = {np.float64: 1e-11, np.float32: 2e-5}   # of the largest value


def check_kernels_against_torch(x, w, b, padding, rng, **attrs):
    """x [N, C, H, W], w [O, C / groups, kH, kW], b [O] or None, in one dtype; padding as
    conv_attrs takes it ("same", "valid", an int, or ((top, bottom), (left, right))); attrs
    the other conv_attrs (stride, dilation, groups), spelled as F.conv2d's."""
    dtype = x.dtype.type
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    tb = None if b is None else torch.tensor(b, requires_grad=True)
    if isinstance(padding, tuple):   # asymmetric: torch has no spelling, so F.pad first
        (top, bottom), (left, right) = padding
        ty = F.conv2d(F.pad(tx, (left, right, top, bottom)), tw, tb, **attrs)
    else:
        ty = F.conv2d(tx, tw, tb, padding=padding, **attrs)
    g = rng.standard_normal(ty.shape).astype(dtype)
    ty.backward(torch.tensor(g))

    attrs = conv_ops.conv_attrs(padding=padding, **attrs)
    if b is not None:
        y = conv.conv2d_bias(conv_ops.Conv2dBias(**attrs), x, w, b)
        both = conv.conv2d_grad_weight_bias(conv_ops.Conv2dGradWeightBias(**attrs), x, g, w)
        gw, gb = both[:w.size].reshape(w.shape), both[w.size:]
    else:
        y = conv.conv2d(conv_ops.Conv2d(**attrs), x, w)
        gw, gb = conv.conv2d_grad_weight(conv_ops.Conv2dGradWeight(**attrs), x, g, w), None
    gx = conv.conv2d_grad_input(conv_ops.Conv2dGradInput(**attrs), g, w, x)
    pairs = [("output", y, ty), ("weight gradient", gw, tw.grad), ("input gradient", gx, tx.grad)]
    if b is not None:
        pairs.append(("bias gradient", gb, tb.grad))
    for what, got, want in pairs:
        want = want.detach().numpy()
        assert got.dtype == dtype and got.shape == want.shape, what
        scale = max(1.0, float(np.abs(want).max(initial=0.0)))
        np.testing.assert_allclose(got / scale, want / scale, rtol=0, atol=TOL[dtype],
                                   err_msg=what)


def counted_calls(module, monkeypatch) -> list:
    """The names of `module`'s conv2d, grad_weight and grad_input as they get called (a
    kernel path's module: the test checks the kernels took that path)."""
    calls = []
    for name in ("conv2d", "grad_weight", "grad_input"):
        fn = getattr(module, name)
        monkeypatch.setattr(module, name,
                            lambda *a, _fn=fn, _name=name, **k: calls.append(_name) or _fn(*a, **k))
    return calls


def check_finite_difference_gradients(x, w, **attrs):
    """float64 gradients of sum(conv2d(x, w) * r) through the front end (r random), against
    central differences of the forward."""
    import tinyflow
    from finite_differences import numeric_grad
    conv2d = tinyflow.nn.functional.conv2d
    r = np.random.default_rng(11).standard_normal(
        conv2d(tinyflow.tensor(x), tinyflow.tensor(w), **attrs).shape)

    def loss(x, w):
        return float((conv2d(tinyflow.tensor(x), tinyflow.tensor(w), **attrs).numpy() * r).sum())
    fx, fw = tinyflow.tensor(x, requires_grad=True), tinyflow.tensor(w, requires_grad=True)
    (conv2d(fx, fw, **attrs) * tinyflow.tensor(r)).sum().backward()
    np.testing.assert_allclose(fx.grad.numpy(), numeric_grad(lambda v: loss(v, w), x),
                               rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(fw.grad.numpy(), numeric_grad(lambda v: loss(x, v), w),
                               rtol=1e-7, atol=1e-8)


def pooled_kernel_calls(x, w, g, attrs, monkeypatch) -> list:
    """Forward, weight-and-bias gradient and input gradient of one layer, alone and then on
    the kernel pool forced on: checks the pool gives the same bits, returns the files whose
    pieces it ran."""
    from pool_helpers import force_pool

    def all_three():
        return (conv.conv2d(conv_ops.Conv2d(**attrs), x, w),
                conv.conv2d_grad_weight_bias(conv_ops.Conv2dGradWeightBias(**attrs), x, g, w),
                conv.conv2d_grad_input(conv_ops.Conv2dGradInput(**attrs), g, w, x))
    alone = all_three()
    threaded = force_pool(monkeypatch, 1 << 6, [])
    pooled = all_three()
    for a, b in zip(alone, pooled):
        for a_part, b_part in zip(a if isinstance(a, tuple) else (a,),
                                  b if isinstance(b, tuple) else (b,)):
            assert np.array_equal(a_part, b_part)
    return threaded
