"""Comparisons and truth tests as PyTorch spells them: `torch.eq/ne/gt/ge/lt/le` (with out=),
`all`/`any` along dims, `isclose`, `equal` (one bool), `isin`, `is_nonzero`, and the
methods' long names (`x.greater(y)`, `x.not_equal(y)`, `x.multiply(y)`, ...).

All compose the comparison ops, so graphs, the JIT and autograd see ordinary ops.
"""
from __future__ import annotations

from .. import ops
from ..core import dtypes
from ..core.errors import DTypeError
from ..core.op import as_tensor
from ..core.tensor import Tensor
from .inplace import write_out
from .math import div, mul, sub, with_other


def _comparison(op_function, name: str):
    def compare(input, other, *, out=None):  # noqa: A002
        return write_out(op_function(input, other), out)
    compare.__name__ = compare.__qualname__ = name
    compare.__doc__ = f"`torch.{name}(input, other, out=None)`: elementwise, a bool tensor."
    return compare


eq = _comparison(ops.equal, "eq")
ne = _comparison(ops.not_equal, "ne")
gt = _comparison(ops.greater, "gt")
ge = _comparison(ops.greater_equal, "ge")
lt = _comparison(ops.less, "lt")
le = _comparison(ops.less_equal, "le")


def _count(x, dim, keepdim, zeros: bool):
    """How many elements along `dim` are zero (or nonzero), as int64."""
    x = as_tensor(x)
    if x.dtype.is_bool:
        hit = ops.logical_not(x) if zeros else x
    else:
        hit = ops.equal(x, 0) if zeros else ops.not_equal(x, 0)
    dim = None if isinstance(dim, (tuple, list)) and not dim else dim
    return ops.reduce_sum(ops.cast(hit, dtypes.int64), dim, keepdim), x


def all(input, dim=None, keepdim=False, *, out=None):  # noqa: A001,A002
    """True where every element along `dim` (all of them if None) is nonzero: a bool tensor
    (uint8 for uint8 input, as PyTorch). An empty reduction is True."""
    zeros, x = _count(input, dim, keepdim, zeros=True)
    return write_out(_truth_dtype(ops.equal(zeros, 0), x), out)


def any(input, dim=None, keepdim=False, *, out=None):  # noqa: A001,A002
    """True where some element along `dim` (any of all if None) is nonzero."""
    nonzeros, x = _count(input, dim, keepdim, zeros=False)
    return write_out(_truth_dtype(ops.greater(nonzeros, 0), x), out)


def _truth_dtype(result, x):
    return ops.cast(result, dtypes.uint8) if x.dtype is dtypes.uint8 else result


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):  # noqa: A002
    """|input - other| <= atol + rtol * |other|, elementwise; equal infinities are close.
    Numbers and tensors of different dtypes are refused, as PyTorch refuses them."""
    for what, value in (("input", input), ("other", other)):
        if not isinstance(value, Tensor):
            raise TypeError(f"isclose(): argument '{what}' must be Tensor, not "
                            f"{type(value).__name__}")
    if input.dtype is not other.dtype:
        raise DTypeError(f"isclose: {input.dtype.name} did not match {other.dtype.name}")
    x, y = ops.math.operands(input, other)
    if not x.dtype.is_floating:
        x, y = ops.cast(x, dtypes.float64), ops.cast(y, dtypes.float64)
    close = ops.logical_or(ops.equal(x, y),
                           ops.less_equal(ops.abs(x - y), atol + rtol * ops.abs(y)))
    if equal_nan:
        close = ops.logical_or(close, ops.logical_and(ops.not_equal(x, x),
                                                      ops.not_equal(y, y)))
    return close


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:  # noqa: A002
    """`isclose(...).all()` as one Python bool, with isclose's refusals."""
    return bool(all(isclose(input, other, rtol, atol, equal_nan)).item())


def torch_equal(input, other) -> bool:  # noqa: A002
    """`x.equal(y)`: the same shape and the same values (one Python bool)."""
    x, y = as_tensor(input), as_tensor(other)
    return tuple(x.shape) == tuple(y.shape) and bool(all(ops.equal(x, y)))


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Whether each element occurs in `test_elements` (a tensor or a scalar)."""
    x = as_tensor(elements)
    pool = ops.reshape(as_tensor(test_elements), (-1,))
    shape = tuple(x.shape)
    hits = all(ops.not_equal(ops.reshape(x, (-1, 1)), ops.reshape(pool, (1, -1))), dim=1)
    found = ops.reshape(hits, shape)
    return found if invert else ops.logical_not(found)


def is_nonzero(input) -> bool:  # noqa: A002
    x = as_tensor(input)
    if x.numel() != 1:
        amount = "no values" if x.numel() == 0 else "more than one value"
        raise RuntimeError(f"Boolean value of Tensor with {amount} is ambiguous")
    return bool(x)


def signbit(input, *, out=None):  # noqa: A002
    """True where the sign bit is set, also on -0.0: atan2(x, -1) is -pi there, +pi on 0.0
    (no division by zero)."""
    x = as_tensor(input)
    if not x.dtype.is_floating:
        return write_out(ops.less(x, 0), out)
    return write_out(ops.less(ops.atan2(x, -1.0), 0), out)


def isposinf(input, *, out=None):  # noqa: A002
    """True where +inf (never for integers and bools, which hold no infinity)."""
    return write_out(_is_infinity(as_tensor(input), float("inf")), out)


def isneginf(input, *, out=None):  # noqa: A002
    """True where -inf (never for integers and bools)."""
    return write_out(_is_infinity(as_tensor(input), -float("inf")), out)


def _is_infinity(x, infinity):
    if not x.dtype.is_floating:
        return ops.zeros_like(x, dtypes.bool_)
    return ops.equal(x, infinity)


def positive(input):  # noqa: A002
    return input


METHODS = {
    "all": all, "any": any, "isclose": isclose, "allclose": allclose, "equal": torch_equal,
    "is_nonzero": is_nonzero, "signbit": signbit, "isposinf": isposinf, "isneginf": isneginf,
    "greater": with_other(ops.greater), "greater_equal": with_other(ops.greater_equal),
    "less": with_other(ops.less), "less_equal": with_other(ops.less_equal),
    "not_equal": with_other(ops.not_equal),
    "subtract": with_other(sub), "multiply": with_other(mul), "divide": with_other(div),
    "negative": ops.negative, "positive": positive,
}

