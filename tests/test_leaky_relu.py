"""F.leaky_relu as one op (ops/activation.py LeakyRelu, its gradient LeakyReluGrad reading the
output): bit for bit PyTorch's values and gradients on large (threaded) and odd arrays,
NaN, -0.0 and 0 included, in place as a DCGAN discriminator uses it, second order, and the
composed `where` path kept for slopes <= 0."""
import numpy as np
import pytest
import torch

import tinyflow as tf
import tinyflow.nn.functional as F
from torch_oracle import gradcheck

RNG = np.random.default_rng(3)


def _pair(shape, dtype, slope, inplace):
    x = RNG.standard_normal(shape).astype(dtype)
    x.reshape(-1)[:4] = [0.0, -0.0, np.nan, -np.inf][:x.size]
    g = RNG.standard_normal(shape).astype(dtype)
    results = []
    for lib, fn in ((torch, torch.nn.functional.leaky_relu), (tf, F.leaky_relu)):
        leaf = lib.tensor(x, requires_grad=True)
        y = fn(leaf * 1, slope, inplace=inplace)    # (in place on a non-leaf, as in a model)
        y.backward(lib.tensor(g))
        results.append((y.detach().numpy(), leaf.grad.numpy()))
    return results


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(16, 64, 32, 32), (3, 5, 7), (1,), (0, 4)])
@pytest.mark.parametrize("inplace", [False, True])
def test_matches_torch_bitwise(dtype, shape, inplace):
    (yt, gt), (yf, gf) = _pair(shape, dtype, 0.2, inplace)
    assert yf.dtype == dtype and gf.dtype == dtype
    np.testing.assert_array_equal(yf, yt)
    np.testing.assert_array_equal(np.signbit(yf), np.signbit(yt))   # -0.0 stays -0.0
    np.testing.assert_array_equal(gf, gt)                           # the slope at 0 and NaN


def test_one_op_each_way():
    """The forward is one leaky_relu op and its gradient one leaky_relu_grad (the composed
    form was a compare, a multiply and a where; backward two wheres, a multiply, an add)."""
    x = tf.tensor(RNG.standard_normal((4, 5)).astype(np.float32), requires_grad=True)
    y = F.leaky_relu(x, 0.2)
    assert y._op.name == "leaky_relu"
    (gx,) = tf.autograd.grad(y, [x], tf.ones_like(y), create_graph=True)
    assert gx._op.name == "leaky_relu_grad"


@pytest.mark.parametrize("slope", [0.0, -0.3])
def test_other_slopes_match_torch(slope):
    """Slopes <= 0 keep the composed form (the output no longer tells the input's sign)."""
    x = RNG.standard_normal((6, 7))
    xt, xf = torch.tensor(x, requires_grad=True), tf.tensor(x, requires_grad=True)
    torch.nn.functional.leaky_relu(xt, slope).sum().backward()
    F.leaky_relu(xf, slope).sum().backward()
    np.testing.assert_array_equal(F.leaky_relu(tf.tensor(x), slope).numpy(),
                                  torch.nn.functional.leaky_relu(torch.tensor(x), slope).numpy())
    np.testing.assert_array_equal(xf.grad.numpy(), xt.grad.numpy())


def test_gradients_float64():
    x = RNG.standard_normal((3, 4, 5))
    x[np.abs(x) < 0.05] = 0.5       # away from the kink
    gradcheck(lambda t: F.leaky_relu(t, 0.2) ** 2, x)
    # second order (through leaky_relu_grad) against PyTorch's double backward
    grads = []
    for lib, fn in ((torch, torch.nn.functional.leaky_relu), (tf, F.leaky_relu)):
        t = lib.tensor(x, requires_grad=True)
        (g,) = lib.autograd.grad((fn(t, 0.2) ** 3).sum(), [t], create_graph=True)
        (g * g).sum().backward()
        grads.append(t.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12)


@pytest.mark.parametrize("how", ["data", "no_grad"])
def test_output_written_outside_autograd(how):
    """Out of place, PyTorch's gradient reads the input, so writing the output through
    `.data` or under no_grad leaves it right; reading the output instead gave the slope's
    side a gradient of 1 where y + 1 > 0 (.data, silently) or refused (no_grad)."""
    x = RNG.standard_normal((5, 6))
    grads = []
    for lib, fn in ((torch, torch.nn.functional.leaky_relu), (tf, F.leaky_relu)):
        t = lib.tensor(x, requires_grad=True)
        y = fn(t * 1, 0.2)
        if how == "data":
            y.data.add_(1.0)
        else:
            with lib.no_grad():
                y.add_(1.0)
        y.sum().backward()
        grads.append(t.grad.numpy())
    np.testing.assert_array_equal(grads[1], grads[0])
    np.testing.assert_array_equal(grads[1], np.where(x > 0, 1.0, 0.2))


def test_input_written_after_use():
    """...and an input written after the op (its old values kept for autograd by the
    in-place write, where PyTorch refuses) still gives the gradient at the values it had."""
    x = RNG.standard_normal((5, 6))
    t = tf.tensor(x, requires_grad=True)
    h = t * 1
    y = F.leaky_relu(h, 0.2)
    h.add_(-10.0)
    y.sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.where(x > 0, 1.0, 0.2))
