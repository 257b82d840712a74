"""Lazy layers (PyTorch's `nn.LazyLinear`, `nn.LazyConv2d`, ...): the input size is read
from the first call, so a model can be written without working out each layer's fan-in.

Their parameters start as `UninitializedParameter`s, which the first call (a forward
pre-hook) or loading a state_dict materializes in place: the Parameter objects stay the
same, so an optimizer built before the first call updates them. Then the layer becomes its
plain class (LazyLinear -> Linear), as in PyTorch.
"""
from __future__ import annotations

import numpy as np

from ...core import dtypes
from ...core.modes import no_grad
from .conv import Conv1d, Conv2d, Conv3d
from .linear import Linear
from .module import Parameter


class UninitializedParameter(Parameter):
    """A parameter without a shape yet; `materialize(shape)` gives it one (and makes it a
    plain Parameter). Casts before that (`module.double()`) set the dtype it will have."""

    __slots__ = ()

    def __init__(self, requires_grad: bool = True, device=None, dtype=None) -> None:
        np_dtype = dtypes.torch_dtype(dtype or dtypes.DEFAULT_FLOAT).np
        super().__init__(np.empty((0,), np_dtype), requires_grad)

    def materialize(self, shape, device=None, dtype=None) -> None:
        np_dtype = self.dtype.np if dtype is None else dtypes.torch_dtype(dtype).np
        self.data = np.zeros(tuple(shape), np_dtype)
        self.__class__ = Parameter

    def __repr__(self) -> str:
        return "<UninitializedParameter>"


class LazyModuleMixin:
    """Materializes a layer's uninitialized parameters at its first call, from the input:
    subclasses define `initialize_parameters(input)` and `cls_to_become`."""

    cls_to_become = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(_infer_parameters,
                                                               with_kwargs=True)

    def has_uninitialized_params(self) -> bool:
        return any(isinstance(p, UninitializedParameter) for p in self._parameters.values())

    def initialize_parameters(self, *args, **kwargs) -> None:
        raise NotImplementedError(f"{type(self).__name__}.initialize_parameters")

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Uninitialized parameters take the shapes of the values loaded into them (the
        layer keeps its lazy class until its first call, as PyTorch's)."""
        for name, p in self._parameters.items():
            if isinstance(p, UninitializedParameter) and name in state_dict:
                p.materialize(tuple(state_dict[name].shape))
        return super().load_state_dict(state_dict, strict, assign)


def _infer_parameters(module, args, kwargs) -> None:
    """The first call's pre-hook: materialize, then drop the hook and the lazy class."""
    module.initialize_parameters(*args, **kwargs)
    if module.has_uninitialized_params():
        raise RuntimeError(f"{type(module).__name__}: initialize_parameters left parameters "
                           f"uninitialized")
    module._initialize_hook.remove()
    del module._initialize_hook
    if module.cls_to_become is not None:
        module.__class__ = module.cls_to_become


def _uninitialized_weights(module, bias: bool, dtype) -> None:
    module.weight = UninitializedParameter(dtype=dtype)
    if bias:
        module.bias = UninitializedParameter(dtype=dtype)


class LazyLinear(LazyModuleMixin, Linear):
    """nn.Linear with in_features read from the first input's last dim."""

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(0, 0, False)
        _uninitialized_weights(self, bias, dtype)
        self.out_features = out_features

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs) -> None:
        if self.has_uninitialized_params():
            with no_grad():
                self.in_features = input.shape[-1]
                self.weight.materialize((self.out_features, self.in_features))
                if self.bias is not None:
                    self.bias.materialize((self.out_features,))
                self.reset_parameters()


class _LazyConvNd(LazyModuleMixin):
    """Conv layers with in_channels read from the first input (dim 1, or 0 unbatched)."""

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None) -> None:
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False,
                         padding_mode)
        _uninitialized_weights(self, bias, dtype)
        self.out_channels = out_channels

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs) -> None:
        if not self.has_uninitialized_params():
            return
        batched = input.ndim == self.n + 2
        self.in_channels = input.shape[1] if batched else input.shape[0]
        if self.in_channels % self.groups:
            raise ValueError(f"{type(self).__name__}: in_channels {self.in_channels} of the "
                             f"input {list(input.shape)} must be divisible by groups "
                             f"{self.groups}")
        with no_grad():
            self.weight.materialize((self.out_channels, self.in_channels // self.groups,
                                     *self.kernel_size))
            if self.bias is not None:
                self.bias.materialize((self.out_channels,))
            self.reset_parameters()


class LazyConv1d(_LazyConvNd, Conv1d):
    cls_to_become = Conv1d


class LazyConv2d(_LazyConvNd, Conv2d):
    cls_to_become = Conv2d


class LazyConv3d(_LazyConvNd, Conv3d):
    cls_to_become = Conv3d

