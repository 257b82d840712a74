"""Simulated fp8: per-tensor scaled rounding to float8 (as Transformer Engine: the scale maps
the tensor's amax, current or the max of a history of past ones, onto the format's largest
value), computed in float32 where no fp8 hardware exists."""
from __future__ import annotations

from typing import Optional

from ..core import dtypes
from ..core.modes import AmaxHistory
from ..core.op import Op, apply, as_tensor
from ..core.tensor import Tensor
from .math import check_floating


class FakeQuantize(Op):
    """x rounded to `dtype` after scaling by fmax / amax(x), then scaled back (None: x
    itself); its gradient is `g` rounded the same way to `grad_dtype` (None: `g`), so one op
    quantizes a forward value (straight-through) or the gradient flowing back through it.
    Piecewise constant, so the gradient is the straight-through one by definition.
    `history` / `grad_history`: delayed scaling of the value / of the gradient (the kernel
    reads and extends them), else the current amax scales. With a history the op is stateful:
    no rewrite may merge, fold, drop or rerun a step that extends one."""
    name = "fake_quantize"
    saves_inputs = False
    saves_output = False
    dtype: Optional[dtypes.DType]
    grad_dtype: Optional[dtypes.DType]
    margin: int
    history: Optional[AmaxHistory] = None
    grad_history: Optional[AmaxHistory] = None

    @property
    def stateful(self) -> bool:
        return self.history is not None or self.grad_history is not None

    def infer(self, x):
        check_floating(x)
        for dt in (self.dtype, self.grad_dtype):
            if dt is not None and not dt.is_fp8:
                raise TypeError(f"rounds to float8 types only, got {dt.name}")
        return x.shape, x.dtype

    def vjp(self, g, out, x):
        if self.grad_dtype is None:
            return (g,)
        return (fake_quantize(g, self.grad_dtype, margin=self.margin,
                              history=self.grad_history),)

    def jvp(self, tangents, out, x):
        return tangents[0]


def fake_quantize(x, dtype=None, grad_dtype=None, margin: int = 0,
                  history: Optional[AmaxHistory] = None,
                  grad_history: Optional[AmaxHistory] = None, graph=None) -> Tensor:
    """`x` through float8 `dtype` with a per-tensor scale (fmax / amax / 2^margin) and back;
    its gradient through `grad_dtype` likewise (e4m3 forward, e5m2 gradients: FP8 training).
    With a `history` (`grad_history`), amax is the largest of the past steps' (delayed
    scaling). `graph`: a node of that graph even for an eager `x` (a parameter quantized
    on every run of a graph, not once while the graph is built)."""
    dtype = None if dtype is None else dtypes.as_dtype(dtype)
    grad_dtype = None if grad_dtype is None else dtypes.as_dtype(grad_dtype)
    return apply(FakeQuantize(dtype=dtype, grad_dtype=grad_dtype, margin=int(margin),
                              history=history, grad_history=grad_history), as_tensor(x),
                 graph=graph)
