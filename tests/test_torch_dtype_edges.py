"""PyTorch's answers where a dtype argument changes the meaning: sum(dtype=bool) is an
"any", rand / randn refuse integer dtypes, view(dtype) is refused clearly (not built)."""
import numpy as np
import pytest
import torch as real

import tinyflow as torch


@pytest.mark.parametrize("values", [[[0.0, 1.0, 2.0], [0.0, 0.0, 3.0]], [[0.0, 0.0, 0.0]]])
@pytest.mark.parametrize("dims", [{}, {"dim": 0}, {"dim": 1, "keepdim": True},
                                  {"dim": (0, 1)}])
def test_sum_with_bool_dtype_is_any(values, dims):
    ours = torch.tensor(values).sum(dtype=torch.bool, **dims)
    theirs = real.tensor(values).sum(dtype=real.bool, **dims)
    assert ours.dtype is torch.bool
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_sum_of_bools_still_counts():
    assert torch.tensor([True, True, False]).sum().item() == 2
    assert torch.sum(torch.tensor([[1, 2], [3, 4]]), 1, dtype=torch.int32).tolist() == [3, 7]


@pytest.mark.parametrize("make", [lambda t, d: t.rand(2, dtype=d), lambda t, d: t.randn(2, dtype=d),
                                  lambda t, d: t.rand_like(t.zeros(2, dtype=d))])
@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_random_floats_refuse_integer_dtypes(make, dtype):
    with pytest.raises(NotImplementedError):
        make(real, getattr(real, dtype))
    with pytest.raises(NotImplementedError, match="not a floating point type"):
        make(torch, getattr(torch, dtype))


def test_random_floats_keep_float_dtypes():
    assert torch.randn(2, dtype=torch.float16).dtype is torch.float16
    assert torch.rand(2, dtype=float).dtype is torch.float64


@pytest.mark.parametrize("view", [lambda t, x: x.view(float), lambda t, x: x.view(t.float64),
                                  lambda t, x: x.view(dtype=t.int32)])
def test_view_as_another_dtype_is_refused_clearly(view):
    with pytest.raises(NotImplementedError, match=r"view\(.*\.to\(dtype\) converts values"):
        view(torch, torch.zeros(2, 4))


@pytest.mark.parametrize("view", [lambda t, x: x.view(t.float32),
                                  lambda t, x: x.view(dtype=t.float32)])
def test_view_as_its_own_dtype_is_the_tensor(view):
    x = torch.arange(4.0, requires_grad=True)
    y = view(torch, x)
    assert y.dtype is torch.float32 and y.shape == (4,)
    (y * 2).sum().backward()
    assert x.grad.tolist() == [2.0] * 4
    theirs = view(real, real.arange(4.0))
    assert theirs.dtype is real.float32


@pytest.mark.parametrize("fill", [
    lambda t, x: t.nn.init.uniform_(x), lambda t, x: t.nn.init.normal_(x),
    lambda t, x: t.nn.init.kaiming_uniform_(x), lambda t, x: t.nn.init.xavier_normal_(x),
    lambda t, x: t.nn.init.trunc_normal_(x), lambda t, x: t.nn.init.orthogonal_(x),
    lambda t, x: x.uniform_(), lambda t, x: x.normal_()])
@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_random_fills_refuse_integer_tensors(fill, dtype):
    """In place too: the floats cast into an integer tensor were (mostly) zeros."""
    with pytest.raises(NotImplementedError):
        fill(real, real.zeros(3, 3, dtype=getattr(real, dtype)))
    x = torch.zeros(3, 3, dtype=getattr(torch, dtype))
    with pytest.raises(NotImplementedError, match="not a floating point type"):
        fill(torch, x)
    assert not x.numpy().any()


def test_random_fills_keep_float_tensors():
    x = torch.zeros(64, 64, dtype=torch.float64)
    torch.nn.init.kaiming_uniform_(x)
    torch.nn.init.orthogonal_(x)
    assert x.dtype is torch.float64 and x.numpy().std() > 0
    assert torch.zeros(8).uniform_(2, 3).numpy().min() >= 2


NAN = float("nan")


@pytest.mark.parametrize("values", [[[NAN, 1.5, 2.0], [NAN, 0.0, 0.0]], [[0.0, 0.0, 0.0]],
                                    [[1.0, -2.0, NAN], [3.0, 0.5, 1.0]]])
@pytest.mark.parametrize("name", ["nansum", "prod"])
@pytest.mark.parametrize("dtype", ["bool", "int64", "float64"])
@pytest.mark.parametrize("dims", [{}, {"dim": 1}, {"dim": 0, "keepdim": True}])
def test_sum_likes_with_a_dtype(values, name, dtype, dims):
    """nansum takes NaN out before dtype='s cast (NaN as an int64 was -2^63); with
    dtype=bool nansum is an "any" and prod an "all", bools as PyTorch returns them."""
    if name == "prod" and dtype != "bool":
        values = [[v if v == v else 1.0 for v in row] for row in values]   # NaN to int64: UB
    ours = getattr(torch, name)(torch.tensor(values), dtype=getattr(torch, dtype), **dims)
    theirs = getattr(real, name)(real.tensor(values), dtype=getattr(real, dtype), **dims)
    assert ours.dtype is getattr(torch, dtype)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_bool_products_of_nothing_are_true():
    assert torch.zeros(0).prod(dtype=torch.bool).item() is True
    assert torch.zeros(0, 3).prod(0, dtype=torch.bool).tolist() == [True] * 3
    assert torch.nansum(torch.zeros(0), dtype=torch.bool).item() is False
