"""Identity and the fully connected layer, with PyTorch's default initialization."""
from __future__ import annotations

import math

import numpy as np

from ...core import dtypes
from ...core.shapes import Size
from .. import functional as F
from .. import init
from .module import Module, Parameter


def empty_parameter(*shape, dtype=None) -> Parameter:
    """An uninitialized float parameter; `reset_parameters` fills it. A layer size that is not
    a whole number (Python 3's `planes / 4` in kuangliu's ShuffleNet) is refused naming the
    shape, as torch's TypeError (NumPy's said only that a float is not an integer)."""
    np_dtype = _np_dtype(dtype if dtype is not None else dtypes.DEFAULT_FLOAT)
    try:
        shape = Size(shape)
    except TypeError as e:
        raise TypeError(f"a parameter of shape {list(shape)}: {e}; layer sizes must be "
                        f"integers (use // for a division)") from None
    return Parameter(np.zeros(shape, np_dtype))


def _np_dtype(dtype):
    return dtypes.torch_dtype(dtype).np


def _optional_bias(module: Module, bias: bool, size: int, dtype) -> None:
    """`module.bias`: a [size] parameter, or registered as None (state_dict as PyTorch's)."""
    if bias:
        module.bias = empty_parameter(size, dtype=dtype)
    else:
        module.register_parameter("bias", None)


def init_uniform_bias(bias, weight) -> None:
    """PyTorch's bias default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
    init.uniform_(bias, -bound, bound)


class Identity(Module):
    """Passes its input through; a placeholder where a layer is optional."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x W^T + b, W: [out_features, in_features]."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = empty_parameter(out_features, in_features, dtype=dtype)
        _optional_bias(self, bias, out_features, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """kaiming_uniform_(a=sqrt(5)): U(-1/sqrt(in), 1/sqrt(in)), as PyTorch."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            init_uniform_bias(self.bias, self.weight)

    def forward(self, input):
        params = self._parameters   # not two trips through Module.__getattr__ per call
        try:
            weight, bias = params["weight"], params["bias"]
        except KeyError:            # replaced by a plain attribute (pruning, a hook)
            weight, bias = self.weight, self.bias
        return F.linear(input, weight, bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class NonDynamicallyQuantizableLinear(Linear):
    """PyTorch's name for MultiheadAttention.out_proj's class (it matters to quantization there,
    not here); it lives in torch.nn.modules.linear, where safe_globals lists name it."""


class Bilinear(Module):
    """y = x1^T A x2 + b, A: [out_features, in1_features, in2_features]."""

    def __init__(self, in1_features: int, in2_features: int, out_features: int,
                 bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.in1_features, self.in2_features = in1_features, in2_features
        self.out_features = out_features
        self.weight = empty_parameter(out_features, in1_features, in2_features, dtype=dtype)
        _optional_bias(self, bias, out_features, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-1/sqrt(in1), 1/sqrt(in1)) for weight and bias, as PyTorch."""
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
