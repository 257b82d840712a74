"""Convolution layers (NCHW), with PyTorch's default initialization and repr."""
from __future__ import annotations

import math

from .. import functional as F
from .. import init
from .linear import empty_parameter, init_uniform_bias
from .module import Module


class _ConvNd(Module):
    """Shared by the conv layers: weight [out, in / groups, *kernel] ([in, out / groups,
    *kernel] when `transposed`), optional bias."""

    n = 2
    transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None) -> None:
        super().__init__()
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"padding_mode must be one of 'zeros', 'reflect', 'replicate' "
                             f"or 'circular', got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = F._pair(kernel_size, self.n)
        self.stride, self.dilation = F._pair(stride, self.n), F._pair(dilation, self.n)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 f"'valid', 'same'")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{type(self).__name__}: padding='same' needs stride 1, got "
                                 f"{self.stride}")
            self.padding = padding
        else:
            self.padding = F._pair(padding, self.n)
        self.padding_mode = padding_mode
        self.output_padding = (0,) * self.n
        rows, cols = (in_channels, out_channels) if self.transposed else (out_channels,
                                                                           in_channels)
        self.weight = empty_parameter(rows, cols // groups, *self.kernel_size, dtype=dtype)
        if bias:
            self.bias = empty_parameter(out_channels, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            init_uniform_bias(self.bias, self.weight)

    def _padded(self, input):
        """For padding modes other than zeros, pad explicitly, then convolve unpadded."""
        if self.padding_mode == "zeros":
            return input, self.padding
        if isinstance(self.padding, str):
            raise NotImplementedError("string padding with a non-zeros padding_mode")
        pads = []
        for p in reversed(self.padding):
            pads += [p, p]
        return F.pad(input, tuple(pads), mode=self.padding_mode), 0

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self.n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self.n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self.n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    """2-D convolution over [N, C, H, W] (or [C, H, W]) input."""

    n = 2

    def forward(self, input):
        x, padding = self._padded(input)
        return F.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation,
                        self.groups)


class Conv3d(_ConvNd):
    """3-D convolution over [N, C, D, H, W] (or [C, D, H, W]) input."""

    n = 3

    def forward(self, input):
        x, padding = self._padded(input)
        return F.conv3d(x, self.weight, self.bias, self.stride, padding, self.dilation,
                        self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over [N, C, L] (or [C, L]) input."""

    n = 1

    def forward(self, input):
        x, padding = self._padded(input)
        if not isinstance(padding, str):
            padding = F._pair(padding, 1)[0]
        return F.conv1d(x, self.weight, self.bias, self.stride[0], padding, self.dilation[0],
                        self.groups)


class _ConvTransposeNd(_ConvNd):
    """The transposed convolutions' settings: output_padding, zeros padding only."""

    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None) -> None:
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for '
                             f'{type(self).__name__}')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, dtype=dtype)
        self.output_padding = F._pair(output_padding, self.n)


class ConvTranspose2d(_ConvTransposeNd):
    """The transposed 2-D convolution (the input gradient of a Conv2d): upsamples [N, C, H, W]
    by `stride`, as in decoders and GAN generators."""

    n = 2

    def forward(self, input, output_size=None):
        if output_size is not None:
            raise NotImplementedError("ConvTranspose2d: output_size (use output_padding)")
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """The transposed 1-D convolution over [N, C, L] (or [C, L]): weight [in, out / groups,
    k]."""

    n = 1

    def forward(self, input, output_size=None):
        if output_size is not None:
            raise NotImplementedError("ConvTranspose1d: output_size (use output_padding)")
        return F.conv_transpose1d(input, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)
