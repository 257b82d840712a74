"""Elementwise ops on how numbers are represented, which no composition of arithmetic gives
exactly: gcd and lcm of integers (Euclid's loop), and nextafter of floats (the neighbouring
representable value). Dtypes as PyTorch's: gcd/lcm take integers only, nextafter floats
only, each in the operands' promoted dtype."""
from __future__ import annotations

from ..core.dtypes import promote
from ..core.op import apply
from ..core.shapes import broadcast_shapes
from ..core.tensor import Tensor
from .creation import zeros_like
from .math import Binary, cast, not_equal, operands


class _OneKind(Binary):
    """A binary op of one kind of dtype (`takes`), in the operands' promoted dtype; PyTorch
    refuses the others by name."""
    takes = "integer"

    def infer(self, x, y):
        dtype = promote(x.dtype, y.dtype)
        if not (dtype.is_integer if self.takes == "integer" else dtype.is_floating):
            raise TypeError(f"not implemented for '{dtype.name}' ({self.name} takes "
                            f"{self.takes} tensors)")
        return broadcast_shapes(x.shape, y.shape), dtype


class Gcd(_OneKind):
    """The greatest common divisor, >= 0 (gcd(0, 0) = 0)."""
    name = "gcd"
    differentiable = False


class Lcm(_OneKind):
    """|x / gcd(x, y) * y|, wrapping at the dtype's width as PyTorch's (0 if either is 0)."""
    name = "lcm"
    differentiable = False


class NextAfter(_OneKind):
    """The representable value next to x in the direction of y (x itself where x == y).
    Differentiable as PyTorch's: d out / d x = 1 where x != y (0 where out is y), and
    d out / d y = 0."""
    name = "nextafter"
    takes = "floating-point"

    def chain(self, k, v, out, x, y):
        if k == 1:
            return zeros_like(v)
        return v * cast(not_equal(x, y), v.dtype)


def _binary(op_cls):
    op = op_cls()

    def fn(x, y, name=None, *, out=None) -> Tensor:
        x, y = operands(x, y)
        return apply(op, x, y, name=name, out=out)
    fn.__name__ = fn.__qualname__ = op_cls.name
    fn.__doc__ = op_cls.__doc__
    return fn


gcd = _binary(Gcd)
lcm = _binary(Lcm)
nextafter = _binary(NextAfter)
