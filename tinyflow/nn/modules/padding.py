"""Padding layers: F.pad with a fixed (left, right, top, bottom, ...) tuple and mode."""
from __future__ import annotations

from .. import functional as F
from .module import Module


class _PadNd(Module):
    """`padding`: one int for every side, or PyTorch's tuple (last dim first)."""

    mode: str = "constant"
    dims: int = 2

    def __init__(self, padding) -> None:
        super().__init__()
        if isinstance(padding, int):
            padding = (padding,) * (2 * self.dims)
        if len(padding) != 2 * self.dims:
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple of "
                             f"{2 * self.dims} ints, got {padding}")
        self.padding = tuple(int(p) for p in padding)

    def forward(self, input):
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    """Mirror the last dim without repeating the edge."""
    mode, dims = "reflect", 1


class ReflectionPad2d(_PadNd):
    """Mirror the last two dims without repeating the edges."""
    mode, dims = "reflect", 2


class ReplicationPad1d(_PadNd):
    mode, dims = "replicate", 1


class ReplicationPad2d(_PadNd):
    """Repeat the edge pixels."""
    mode, dims = "replicate", 2


class ConstantPad2d(_PadNd):
    def __init__(self, padding, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ZeroPad2d(_PadNd):
    pass
