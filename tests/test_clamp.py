"""clamp, hardtanh and relu6 as one op each way (ops/clamp.py: Clamp and ClampGrad): bit
for bit PyTorch's values and gradients on NaN, +-inf, -0.0 and values exactly at the limits,
on large (threaded) and odd arrays, in place as MobileNet's ReLU6(inplace=True), in every
dtype, second order; and tensor limits, which keep the composed `where`s."""
import numpy as np
import pytest
import torch

import tinyflow as tf
import tinyflow.nn.functional as F
from torch_oracle import gradcheck

RNG = np.random.default_rng(5)
SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 6.0, -1.0, 1.0, 7.0, 3.0]

CALLS = {   # name -> (torch call, tinyflow call), x -> y
    "relu6": (torch.nn.functional.relu6, F.relu6),
    "hardtanh": (lambda x: torch.nn.functional.hardtanh(x, -1.0, 1.0),
                 lambda x: F.hardtanh(x, -1.0, 1.0)),
    "clamp": (lambda x: torch.clamp(x, 0.0, 6.0), lambda x: tf.clamp(x, 0.0, 6.0)),
    "clamp_min": (lambda x: torch.clamp_min(x, -1.0), lambda x: tf.clamp_min(x, -1.0)),
    "clamp_max": (lambda x: x.clamp(max=1.0), lambda x: x.clamp(max=1.0)),
    "swapped": (lambda x: torch.clamp(x, 1.0, -1.0), lambda x: tf.clamp(x, 1.0, -1.0)),
}


HARD = ("relu6", "hardtanh")   # hardtanh's gradient: g at NaN


def _at_nan_as_torch_scalar(call, x, g, grad_torch):
    """PyTorch's hardtanh gradient at NaN is g in its scalar loop but 0 in its vector loop
    (arrays of 16 float32 or 8 float64 and more): tinyflow keeps g everywhere (the scalar
    loop's, and the definition: NaN is not at or beyond a limit), so the vector loop's NaN
    positions are compared with g."""
    if call not in HARD:
        return grad_torch
    return np.where(np.isnan(x), g, grad_torch)


def _values(shape, dtype):
    x = (RNG.standard_normal(shape) * 4).astype(dtype)
    x.reshape(-1)[:len(SPECIAL)] = SPECIAL[:x.size]
    return x


def _both(call, x, g, inplace=False):
    """(value, gradient) of torch's and tinyflow's `call` on x (on a non-leaf, as in a
    model, so that in place is allowed)."""
    results = []
    for lib, fn in zip((torch, tf), CALLS[call] if not inplace else (
            lambda t: torch.nn.functional.relu6(t, inplace=True),
            lambda t: F.relu6(t, inplace=True))):
        leaf = lib.tensor(x, requires_grad=True)
        y = fn(leaf * 1)
        y.backward(lib.tensor(g))
        results.append((y.detach().numpy(), leaf.grad.numpy()))
    return results


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(8, 64, 32, 32), (3, 5, 7), (1,), (0, 4)])
def test_matches_torch_bitwise(call, dtype, shape):
    x, g = _values(shape, dtype), RNG.standard_normal(shape).astype(dtype)
    (yt, gt), (yf, gf) = _both(call, x, g)
    assert yf.dtype == dtype and gf.dtype == dtype
    np.testing.assert_array_equal(yf, yt)
    np.testing.assert_array_equal(np.signbit(yf), np.signbit(yt))   # -0.0 stays -0.0
    np.testing.assert_array_equal(gf, _at_nan_as_torch_scalar(call, x, g, gt))


@pytest.mark.parametrize("shape", [(8, 64, 32, 32), (2, 3, 5)])
def test_relu6_in_place_matches_torch(shape):
    """ReLU6(inplace=True) after a layer: the output overwrites the input, and the gradient
    (hardtanh's: 0 at 0 and 6, 1 at NaN) is read from the output."""
    x, g = _values(shape, np.float32), RNG.standard_normal(shape).astype(np.float32)
    (yt, gt), (yf, gf) = _both("relu6", x, g, inplace=True)
    np.testing.assert_array_equal(yf, yt)
    np.testing.assert_array_equal(gf, _at_nan_as_torch_scalar("relu6", x, g, gt))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hardtanh_gradient_at_nan_is_torchs_scalar_loops(dtype):
    x, g = np.array([np.nan, 0.5, 6.0, 0.0, -0.0], dtype), np.full(5, 2.0, dtype)
    for call in HARD:
        (yt, gt), (yf, gf) = _both(call, x, g)
        np.testing.assert_array_equal(gf, gt)
        assert gf[0] == 2.0


def test_one_op_each_way():
    """relu6, hardtanh and clamp are one `clamp` op forward and one `clamp_grad` backward
    (composed: compares, an or, a NaN test and four `where`s forward, more backward)."""
    x = tf.tensor(_values((4, 5), np.float32), requires_grad=True)
    for y in (F.relu6(x), F.hardtanh(x), x.clamp(0, 1), tf.clamp_min(x, 0.5)):
        assert y._op.name == "clamp"
        (gx,) = tf.autograd.grad(y, [x], tf.ones_like(y), create_graph=True)
        assert gx._op.name == "clamp_grad"


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_reduced_floats_match_torch(dtype):
    """The limits rounded to the tensor's type first (0.1 in float16), as PyTorch's."""
    x = _values((6, 7), np.float32)
    g = RNG.standard_normal((6, 7)).astype(np.float32)
    grads = []
    for lib in (torch, tf):
        t = lib.tensor(x, dtype=getattr(lib, dtype), requires_grad=True)
        y = lib.clamp(t, 0.1, 2.7)
        z = lib.nn.functional.hardtanh(t, -0.3, 0.7)
        (y * lib.tensor(g).to(y.dtype) + z).sum().backward()
        grads.append((y.detach().float().numpy(), z.detach().float().numpy(),
                      t.grad.float().numpy()))
        assert y.dtype == t.dtype
    grads[0] = grads[0][:2] + (np.where(np.isnan(x), grads[1][2], grads[0][2]),)  # NaN: g
    for got, want in zip(*grads[::-1]):
        np.testing.assert_array_equal(got, want)


def test_integers_match_torch():
    x = np.array([-7, -1, 0, 3, 6, 9])
    for fn in (lambda lib, t: lib.clamp(t, 0, 6), lambda lib, t: lib.clamp(t, 0.5),
               lambda lib, t: lib.clamp(t, max=2.0),
               lambda lib, t: lib.nn.functional.hardtanh(t, -0.5, 6.7),
               lambda lib, t: lib.nn.functional.relu6(t)):
        want, got = fn(torch, torch.tensor(x)), fn(tf, tf.tensor(x))
        assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    # a limit the type cannot hold: refused, as PyTorch's (it wrapped: 300 -> 44 in int8)
    with pytest.raises(RuntimeError, match="clamp: the limit 300 cannot be converted to type "
                                           "int8 without overflow"):
        tf.clamp(tf.tensor(np.array([-100, 0, 100], np.int8)), 0, 300)


def test_tensor_limits_match_torch():
    """Tensor limits broadcast and take the gradient where x is beyond them."""
    x, lo, hi = _values((4, 5), np.float64), RNG.uniform(-2, 1, 5), RNG.uniform(1.5, 3, (4, 1))
    grads = []
    for lib in (torch, tf):
        ts = [lib.tensor(a, requires_grad=True) for a in (x, lo, hi)]
        y = lib.clamp(ts[0], ts[1], ts[2])
        y.backward(lib.ones_like(y))
        grads.append([y.detach().numpy()] + [t.grad.numpy() for t in ts])
    for got, want in zip(*grads[::-1]):
        np.testing.assert_array_equal(got, want)


def test_clamp_in_place_and_errors():
    """clamp_ keeps the gradient of the values x had; hardtanh refuses min > max as
    PyTorch's."""
    x = _values((3, 4), np.float64)
    grads = []
    for lib in (torch, tf):
        t = lib.tensor(x, requires_grad=True)
        h = t * 1
        h.clamp_(-1.0, 1.0)
        h.sum().backward()
        grads.append(t.grad.numpy())
    np.testing.assert_array_equal(grads[1], grads[0])
    with pytest.raises(RuntimeError, match="hardtanh: min_val cannot be greater than max_val"):
        F.hardtanh(tf.ones(2), 3.0, 2.0)


@pytest.mark.parametrize("how", ["data", "no_grad"])
def test_output_written_outside_autograd(how):
    """Out of place the gradient reads the input, as PyTorch's: an output written through
    `.data` or under no_grad leaves it right."""
    x = _values((5, 6), np.float64)
    grads = []
    for lib in (torch, tf):
        t = lib.tensor(x, requires_grad=True)
        y = lib.nn.functional.hardtanh(t * 1)
        if how == "data":
            y.data.mul_(0.5)
        else:
            with lib.no_grad():
                y.mul_(0.5)
        y.sum().backward()
        grads.append(t.grad.numpy())
    np.testing.assert_array_equal(grads[1], _at_nan_as_torch_scalar("hardtanh", x, 1.0,
                                                                    grads[0]))


def test_gradients_float64():
    x = RNG.uniform(-8, 8, (3, 4, 5))
    x[np.abs(np.round(x) - x) < 0.05] += 0.2       # away from the limits (integers here)
    gradcheck(lambda t: F.relu6(t) ** 2, x)
    gradcheck(lambda t: tf.clamp(t, -2.0) ** 2 + F.hardtanh(t, -3.0, 1.0), x)
    # second order (through clamp_grad) against PyTorch's double backward
    grads = []
    for lib in (torch, tf):
        t = lib.tensor(x, requires_grad=True)
        y = lib.clamp(t, -2.0, 3.0) ** 3 + lib.nn.functional.relu6(t) ** 3
        (g,) = lib.autograd.grad(y.sum(), [t], create_graph=True)
        (g * g).sum().backward()
        grads.append(t.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64"])
def test_nan_limit_gives_nan_as_torch(dtype):
    """A NaN limit makes every value NaN (PyTorch's clamp and hardtanh). The gradient:
    clamp's 0 everywhere; hardtanh's g where neither x <= low nor x >= high holds (PyTorch's
    scalar loop; its vector loop gives 0 there, as at a NaN x), on every kernel path."""
    x = np.array([-7.0, -1.0, 0.0, 0.5, 1.0, 7.0, np.nan, np.inf])
    nan, floats = float("nan"), dtype != "int64"
    calls = [lambda lib, t: lib.clamp(t, min=nan), lambda lib, t: lib.clamp(t, max=nan),
             lambda lib, t: lib.clamp(t, nan, 1.0), lambda lib, t: t.clamp(-1.0, nan)]
    if floats:
        calls.append(lambda lib, t: lib.nn.functional.hardtanh(t, nan, 1.0))
    for k, call in enumerate(calls):
        results = []
        for lib in (torch, tf):
            t = lib.tensor(x if floats else x[:6].astype(np.int64),
                           dtype=getattr(lib, dtype), requires_grad=floats)
            y = call(lib, t)
            if floats:
                y.backward(lib.ones_like(y))
            results.append((y.detach().float().numpy(), t.grad.float().numpy() if floats
                            else None))
        np.testing.assert_array_equal(results[1][0], results[0][0])
        if floats:
            want = (results[0][1] if k < 4 else
                    np.where((x <= nan) | (x >= 1.0), 0.0, 1.0).astype(np.float32))
            np.testing.assert_array_equal(results[1][1], want)


def test_bool_hardtanh_refused_naming_the_op():
    """PyTorch refuses bool inputs to hardtanh and relu6 (base gave floats; the limits'
    range check then raised NumPy's 'Invalid integer data type')."""
    for call in (F.relu6, F.hardtanh, lambda t: F.relu6(t, inplace=True)):
        with pytest.raises(tf.DTypeError, match=r"^clamp: not implemented for 'bool'"):
            call(tf.tensor([True, False]))


def test_no_limit_refused_as_torch():
    """PyTorch refuses clamp with neither limit (base returned x itself: an in-place write
    to the result then wrote x)."""
    x = tf.tensor([1.0, -2.0])
    for call in (lambda: tf.clamp(x), lambda: x.clamp(None, None), lambda: tf.clip(x),
                 lambda: x.clone().clamp_()):
        with pytest.raises(RuntimeError, match="clamp: at least one of 'min' or 'max' "
                                               "must not be None"):
            call()
