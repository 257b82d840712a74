"""Simulated fp8: per-tensor scaled rounding to float8 (as Transformer Engine's current
scaling: the scale maps the tensor's amax onto the format's largest value), computed in
float32 where no fp8 hardware exists."""
from __future__ import annotations

from typing import Optional

from ..core import dtypes
from ..core.op import Op, apply, as_tensor
from ..core.tensor import Tensor
from .math import check_floating


class FakeQuantize(Op):
    """x rounded to `dtype` after scaling by fmax / amax(x), then scaled back (None: x
    itself); its gradient is `g` rounded the same way to `grad_dtype` (None: `g`), so one op
    quantizes a forward value (straight-through) or the gradient flowing back through it.
    Piecewise constant, so the gradient is the straight-through one by definition."""
    name = "fake_quantize"
    saves_inputs = False
    saves_output = False
    dtype: Optional[dtypes.DType]
    grad_dtype: Optional[dtypes.DType]
    margin: int

    def infer(self, x):
        check_floating(x)
        for dt in (self.dtype, self.grad_dtype):
            if dt is not None and not dt.is_fp8:
                raise TypeError(f"rounds to float8 types only, got {dt.name}")
        return x.shape, x.dtype

    def vjp(self, g, out, x):
        if self.grad_dtype is None:
            return (g,)
        return (fake_quantize(g, self.grad_dtype, margin=self.margin),)

    def jvp(self, tangents, out, x):
        return tangents[0]


def fake_quantize(x, dtype=None, grad_dtype=None, margin: int = 0) -> Tensor:
    """`x` through float8 `dtype` with a per-tensor scale (fmax / amax / 2^margin) and back;
    its gradient through `grad_dtype` likewise (e4m3 forward, e5m2 gradients: FP8 training)."""
    dtype = None if dtype is None else dtypes.as_dtype(dtype)
    grad_dtype = None if grad_dtype is None else dtypes.as_dtype(grad_dtype)
    return apply(FakeQuantize(dtype=dtype, grad_dtype=grad_dtype, margin=int(margin)),
                 as_tensor(x))
