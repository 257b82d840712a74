"""clamp, hardtanh and relu6 as one op each way.

Composed of compares, `|` and `where`s (NaN kept apart, then each limit), hardtanh was some
ten passes over the activation forward and more backward: in a MobileNet training step its
`where`s cost more than the convolutions. `Clamp` limits x in one pass; `ClampGrad` passes
the cotangent where x was not limited, in one pass too. Bounds that are tensors (which take
gradients themselves) keep the composition of `where`s.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..core.dtypes import promote
from ..core.errors import ValueRuntimeError
from ..core.op import Op, apply, as_tensor
from ..core.shapes import broadcast_shapes
from ..core.tensor import Tensor
from .math import ReadsInputOrOutput, Unary, _lift, cast, check_floating, where


class Clamp(ReadsInputOrOutput, Unary):
    """x limited to [low, high] (None: no limit on that side); NaN and -0.0 pass, with
    low > high every value is high, and a NaN limit makes every value NaN, as PyTorch's. The gradient passes where low <= x <= high
    (not at NaN), or with `hard` (hardtanh's) where low < x < high and at NaN. With
    `reads_output` (hard only) the gradient reads the output, as PyTorch's in-place hardtanh:
    the output overwrites the input, and y <= low exactly where x <= low."""
    name = "clamp"
    float_only = False
    low: Optional[float]
    high: Optional[float]
    hard: bool = False
    reads_output: bool = False

    def infer(self, x):
        _check_bounds(self)
        if self.reads_output and not self.hard:
            raise ValueError("clamp's gradient cannot read its output (at a limit it cannot "
                             "tell x == low from x < low); only hardtanh's can")
        if x.dtype.is_bool:
            raise TypeError("not implemented for 'bool'")
        return x.shape, x.dtype

    def chain(self, k, v, out, x):
        return apply(ClampGrad(low=self.low, high=self.high, hard=self.hard), v,
                     out if self.reads_output else x)


class ClampGrad(Op):
    """clamp_grad(g, y) = g where clamp passes the gradient at y (see Clamp), else 0."""
    name = "clamp_grad"
    composed = True       # derivatives: autodiff differentiates compose()
    elementwise = True
    broadcasts = True
    low: Optional[float]
    high: Optional[float]
    hard: bool = False

    def infer(self, g, y):
        _check_bounds(self)
        check_floating(g)
        return broadcast_shapes(g.shape, y.shape), promote(g.dtype, y.dtype)

    def compose(self, g, y):
        if self.hard:
            return where((y <= self.low) | (y >= self.high), 0.0, g)
        inside = None
        if self.low is not None:
            inside = y >= self.low
        if self.high is not None:
            inside = y <= self.high if inside is None else inside & (y <= self.high)
        return where(inside, g, 0.0)


def _check_bounds(op) -> None:
    if op.low is None and op.high is None:
        raise ValueError("needs at least one limit (low or high)")
    if op.hard and (op.low is None or op.high is None or op.low > op.high):
        raise ValueError(f"hardtanh's limits must be low <= high, got {op.low} and {op.high}")


def clamp(x, min=None, max=None) -> Tensor:  # noqa: A002
    """Values limited to [min, max]; the gradient passes where min <= x <= max (PyTorch),
    so not at a NaN (whose value passes). Number bounds: one `Clamp`; an integer tensor
    with a float bound is clamped as floats (PyTorch's promotion). Tensor bounds broadcast
    and take gradients (where x is beyond them): a composition of `where`s."""
    x = as_tensor(x)
    if min is None and max is None:
        raise ValueRuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    if _is_tensor(min) or _is_tensor(max):
        return _clamp_by_tensors(x, min, max)
    dtype = x.dtype
    for bound in (min, max):
        if bound is not None and not dtype.is_floating:
            dtype = promote(dtype, _lift(bound, x).dtype)
    if dtype is not x.dtype:
        x = cast(x, dtype)
    return apply(Clamp(low=_bound(min, x), high=_bound(max, x)), x)


def hardtanh(x, low: float, high: float, reads_output: bool = False) -> Tensor:
    """clamp's values, hardtanh's gradient (0 at the limits themselves, 1 at NaN); the
    limits truncated to an integer tensor's type, as PyTorch's."""
    x = as_tensor(x)
    if not x.dtype.is_floating:
        low, high = int(low), int(high)
    return apply(Clamp(low=_bound(low, x), high=_bound(high, x), hard=True,
                       reads_output=reads_output), x)


def _is_tensor(bound) -> bool:
    return bound is not None and not isinstance(bound, (int, float, np.number, np.bool_))


def _bound(value, x: Tensor):
    """A number bound in x's type: float32 and narrower round it here, so the op holds the
    limit the kernel compares with (a float16 clamp at 0.1 limits to 0.0999755859375)."""
    if value is None or x.dtype.is_bool:   # (a bool x: Clamp refuses it, naming itself)
        return value
    if x.dtype.is_floating:
        return float(value) if x.dtype.np.itemsize >= 8 else float(x.dtype.np.type(value))
    info = np.iinfo(x.dtype.np)
    if not info.min <= value <= info.max:   # PyTorch refuses it (a cast would wrap)
        raise RuntimeError(f"clamp: the limit {value} cannot be converted to type "
                           f"{x.dtype.name} without overflow")
    return int(value)


def _clamp_by_tensors(x: Tensor, min, max) -> Tensor:  # noqa: A002
    if x.dtype.is_floating:   # a NaN constant: no gradient there (not a view of x, which
        x = where(x != x, float("nan"), x)   # an in-place clamp_ would write)
    if min is not None:
        x = where(x < min, min, x)
    if max is not None:
        x = where(x > max, max, x)
    return x
