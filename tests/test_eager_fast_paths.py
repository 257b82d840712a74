"""The eager shortcuts of the everyday inference path (nn.Linear straight to the affine op,
relu's cached zero, the all-axes reduced shape) give what the general paths give."""
import numpy as np
import pytest
import torch as pt

import tinyflow as torch
import tinyflow.nn as nn
import tinyflow.nn.functional as F


def test_linear_weight_replaced_by_plain_attribute():
    """Pruning-style code deletes the parameter and sets a plain tensor: forward uses it."""
    lin = nn.Linear(3, 2)
    masked = torch.tensor(lin.weight.detach().numpy() * np.array([1, 0, 1], np.float32))
    del lin.weight
    lin.weight = masked
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    want = x @ masked.numpy().T + lin.bias.detach().numpy()
    np.testing.assert_allclose(lin(torch.tensor(x)).detach().numpy(), want, rtol=1e-6)


@pytest.mark.parametrize("shape", [(3,), (1, 3), (2, 3), (2, 2, 3)])
def test_linear_matches_torch_with_grads(shape):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(np.float32)
    w, b = rng.standard_normal((5, 3)).astype(np.float32), rng.standard_normal(5).astype(
        np.float32)
    ours = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [pt.tensor(a, requires_grad=True) for a in (x, w, b)]
    F.linear(*ours).sum().backward()
    pt.nn.functional.linear(*theirs).sum().backward()
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("x_dtype, w_dtype, b_dtype, b_shape", [
    ("float64", "float32", "float32", (4,)), ("float32", "float32", "float64", (4,)),
    ("float32", "float32", "float64", (1, 4)), ("float32", "float32", "float64", (1,))])
def test_linear_mixed_dtypes_refused_as_torch_does(x_dtype, w_dtype, b_dtype, b_shape):
    """A float64 bias on a float32 layer gave a float64 result; torch refuses every mix."""
    def args(lib):
        return (lib.ones(2, 3, dtype=getattr(lib, x_dtype)),
                lib.ones(4, 3, dtype=getattr(lib, w_dtype)),
                lib.ones(*b_shape, dtype=getattr(lib, b_dtype)))
    with pytest.raises(RuntimeError):
        pt.nn.functional.linear(*args(pt))
    with pytest.raises(torch.DTypeError, match=r"^(linear|matmul): .*float64"):
        F.linear(*args(torch))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int32])
def test_relu_values_and_nan(dtype):
    x = np.array([-2, -0.0, 0, 3, np.nan] if np.dtype(dtype).kind == "f" else [-2, 0, 3],
                 dtype)
    got = F.relu(torch.tensor(x)).numpy()
    want = pt.relu(pt.from_numpy(x)).numpy()
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [7, 1 << 15, 1 << 19])   # NumPy, Numba loop, on the pool
def test_relu_keeps_negative_zero_as_torch(dtype, size):
    """relu(-0.0) is -0.0 in PyTorch (x < 0 ? 0 : x); every kernel path keeps the sign."""
    x = np.resize(np.array([-0.0, 0.0, -1.5, 2.0, np.nan], dtype), size)
    want = pt.relu(pt.from_numpy(x)).numpy()
    for got in (F.relu(torch.tensor(x)).numpy(), F.relu(torch.tensor(x)[::2]).numpy(),
                torch.tensor(x).relu_().numpy()):
        expect = want if got.size == want.size else want[::2]
        np.testing.assert_array_equal(np.signbit(got), np.signbit(expect))
        np.testing.assert_array_equal(got, expect)


@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_and_mean_over_every_dim(keepdim):
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    for ours, theirs in ((torch.tensor(x).sum(dim=(0, 1, 2), keepdim=keepdim),
                          pt.from_numpy(x).sum(dim=(0, 1, 2), keepdim=keepdim)),
                         (torch.tensor(x).mean(dim=(2, 0, 1), keepdim=keepdim),
                          pt.from_numpy(x).mean(dim=(2, 0, 1), keepdim=keepdim)),
                         (torch.tensor(x).sum(), pt.from_numpy(x).sum())):
        assert tuple(ours.shape) == tuple(theirs.shape)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


@pytest.mark.parametrize("x_shape,b_shape", [((3,), (1,)), ((4, 3), (1,)), ((4, 3), (4, 5)),
                                             ((2, 4, 3), (4, 5)), ((2, 4, 3), (5,))])
def test_linear_with_a_broadcast_bias_matches_torch(x_shape, b_shape):
    """A bias that is not one value per feature broadcasts against the output, as PyTorch's."""
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in (x_shape, (5, 3), b_shape)]
    ours = [torch.tensor(a, requires_grad=True) for a in arrays]
    theirs = [pt.tensor(a, requires_grad=True) for a in arrays]
    y, y_t = F.linear(*ours), pt.nn.functional.linear(*theirs)
    np.testing.assert_allclose(y.detach().numpy(), y_t.detach().numpy(), rtol=1e-5, atol=1e-6)
    (y * y).sum().backward()
    (y_t * y_t).sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(7,), (5, 7), (2, 3, 7), (0, 7)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_short_row_softmax_and_sum_any_rank(shape, keepdim):
    """Short rows take the row loops (2-D as they are, other ranks reshaped around them):
    the values and shapes of PyTorch's softmax and last-dim sum."""
    x = np.random.default_rng(2).standard_normal(shape)
    for dtype in (np.float32, np.float64):
        ours, theirs = torch.tensor(x.astype(dtype)), pt.from_numpy(x.astype(dtype))
        got, want = F.softmax(ours, dim=-1), pt.softmax(theirs, dim=-1)
        assert got.dtype.name == str(want.dtype).split(".")[1] and got.shape == want.shape
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-7)
        got, want = ours.sum(dim=-1, keepdim=keepdim), theirs.sum(dim=-1, keepdim=keepdim)
        assert tuple(got.shape) == tuple(want.shape)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-6)


def test_linear_of_one_sample_compiles_as_eager():
    """F.linear of a 1-D input is one affine op: the compiler's rewrites (merged products,
    folded per-channel scales) meet it with its 1-D output, values and gradients as eager."""
    rng = np.random.default_rng(2)
    w1, w2 = (torch.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)
              for s in ((4, 6), (3, 6)))
    b1, b2, scale = (torch.tensor(rng.standard_normal(n).astype(np.float32)) for n in (4, 3, 4))
    x = torch.tensor(rng.standard_normal(6).astype(np.float32))

    def loss(x):
        return ((F.linear(x, w1, b1) * scale + 1).sum() * F.linear(x, w2, b2)).sum()
    compiled = torch.compile(loss)
    for fn in (loss, compiled, compiled):
        w1.grad = w2.grad = None
        value = fn(x)
        value.backward()
        if fn is loss:
            want = [value.item(), w1.grad.numpy().copy(), w2.grad.numpy().copy()]
        else:
            np.testing.assert_allclose(value.item(), want[0], rtol=1e-5)
            np.testing.assert_allclose(w1.grad.numpy(), want[1], rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(w2.grad.numpy(), want[2], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("x_shape", [(5,), (1, 5), (2, 5)])
def test_linear_of_a_wrong_size_names_the_op_and_shapes(x_shape):
    """F.linear leaves its checks to the affine op's shape rule: a wrong input size is that
    op's error, naming it and both shapes (also after the layer has run once)."""
    layer = nn.Linear(3, 4)
    layer(torch.ones(2, 3))
    with pytest.raises(torch.ShapeError) as info:
        layer(torch.ones(*x_shape))
    assert str(info.value).startswith("affine: ")
    assert f"input shapes {x_shape}, (4, 3), (4,)" in str(info.value)


def test_module_hooks_added_after_a_call_run():
    """The fast calls of Sequential's layers still run hooks registered after the first call,
    and stop running them when removed."""
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    x = torch.ones(1, 3)
    first = model(x).detach().numpy().copy()
    seen = []
    pre = model[0].register_forward_pre_hook(lambda m, args: seen.append("pre"))
    post = model[1].register_forward_hook(lambda m, args, out: out * 0)
    with torch.no_grad():
        assert (model(x).numpy() == 0).all() and seen == ["pre"]
    pre.remove()
    post.remove()
    np.testing.assert_array_equal(model(x).detach().numpy(), first)
    assert seen == ["pre"]


def test_in_place_write_after_a_fast_op_is_detected():
    """The one- and two-input entries record versions as apply did: a tensor a recorded op
    saved, changed in place afterwards outside autograd (no stand-in keeps the old values),
    makes backward refuse."""
    a = torch.ones(3, requires_grad=True)
    b = a * 2.0            # two inputs (the float lifted)
    c = F.relu(b) * b      # relu: one input; the product saves b
    with torch.no_grad():
        b.add_(1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        c.sum().backward()


def test_sequential_calls_a_layer_own_call_and_a_patched_forward():
    """Sequential calls forward directly only for layers whose class keeps Module.__call__:
    a class with its own __call__ is called, and a forward set on the instance is used."""
    class Doubling(nn.Module):
        def forward(self, x):
            return x

        def __call__(self, x):
            return x * 2.0

    patched = nn.Identity()
    patched.forward = lambda x: x + 1.0
    model = nn.Sequential(Doubling(), patched, nn.ReLU())
    np.testing.assert_array_equal(model(torch.tensor([1.0, -3.0])).numpy(), [3.0, 0.0])


def test_sequential_runs_a_hook_registered_by_an_earlier_layer():
    """A layer's forward that hooks the next layer: the hook runs in that same call."""
    seen = []

    class Hooking(nn.Module):
        def forward(self, x):
            if not seen:
                model[1].register_forward_hook(lambda m, args, out: seen.append(out))
            return x

    model = nn.Sequential(Hooking(), nn.ReLU())
    model(torch.tensor([1.0, -1.0]))
    assert len(seen) == 1


@pytest.mark.parametrize("decorator", ["no_grad", "enable_grad", "inference_mode"])
def test_grad_mode_decorator_of_a_recursive_function_restores_each_callers_mode(decorator):
    """A decorated function calling itself: each call restores the mode its caller had (a
    shared decorator instance once left grad mode off after the outermost call)."""
    modes = []
    for lib in (pt, torch):
        @getattr(lib, decorator)()
        def depth(n):
            return 0 if n == 0 else 1 + depth(n - 1)
        with lib.no_grad():
            depth(2)
            inside = lib.is_grad_enabled()
        depth(2)
        modes.append((inside, lib.is_grad_enabled()))
    assert modes[1] == modes[0] == (False, True)
