"""PyTorch's `torch.nn.init`: fill a tensor in place, outside autograd, with the values a
layer should start from. Layers call these so their defaults match PyTorch's statistics.

Random draws come from tinyflow's global generator (`manual_seed`), or from a
`tinyflow.Generator` passed as `generator=`.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..core.modes import no_grad
from ..core.random import python_draws, refuse_integers
from ..core.tensor import Tensor


def _rng(generator) -> np.random.Generator:
    """The generator to draw from now (in Python: under compile, a graph break)."""
    return python_draws("torch.nn.init", None if generator is None else generator.rng)


def _fill(tensor: Tensor, values: np.ndarray) -> Tensor:
    with no_grad():
        return tensor.copy_(values.astype(tensor.dtype.np, copy=False))


def _draw_dtype(tensor: Tensor):
    """The dtype to draw in: the tensor's when NumPy draws it (float32 layers draw float32:
    a float64 draw and its cast took ~4 of the 5 s of VGG's Linear(25088, 4096)), else
    float64."""
    return tensor.dtype.np if tensor.dtype.np in (np.float32, np.float64) else np.float64


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The factor that keeps activations' variance steady through `nonlinearity`."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: nonlinearity {nonlinearity!r} is unknown")


_EMPTY_INIT = "init: the tensor has no elements, so there is nothing to initialize"


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple:
    """(in, out) connections per unit: dims 1 and 0, times the receptive field (conv)."""
    if tensor.ndim < 2:
        raise ValueError(f"init: a {tensor.ndim}-D tensor has no fan_in / fan_out; they are "
                         f"defined for 2 or more dims (a weight)")
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    refuse_integers("uniform_", tensor.dtype)
    values = _rng(generator).random(tensor.shape, dtype=_draw_dtype(tensor))
    values *= b - a
    values += a
    return _fill(tensor, values)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    refuse_integers("normal_", tensor.dtype)
    values = _rng(generator).standard_normal(tensor.shape, dtype=_draw_dtype(tensor))
    values *= std
    values += mean
    return _fill(tensor, values)


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator=None) -> Tensor:
    """Normal(mean, std) redrawn until inside [a, b] (bounds in absolute units)."""
    refuse_integers("trunc_normal_", tensor.dtype)
    rng = _rng(generator)
    values = rng.normal(mean, std, tensor.shape)
    outside = (values < a) | (values > b)
    while outside.any():
        values[outside] = rng.normal(mean, std, int(outside.sum()))
        outside = (values < a) | (values > b)
    return _fill(tensor, values)


def constant_(tensor: Tensor, val: float) -> Tensor:
    with no_grad():
        return tensor.fill_(val)


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def eye_(tensor: Tensor) -> Tensor:
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _fill(tensor, np.eye(*tensor.shape))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """U(-a, a), a = gain sqrt(6 / (fan_in + fan_out)): Glorot & Bengio (2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def _kaiming_std(tensor: Tensor, a, mode, nonlinearity) -> float:
    return calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """U(-b, b), b = gain sqrt(3 / fan): He et al. (2015)."""
    if 0 in tensor.shape:
        warnings.warn(_EMPTY_INIT)
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    if 0 in tensor.shape:
        warnings.warn(_EMPTY_INIT)
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """A (semi-)orthogonal matrix from the QR decomposition of a normal one (Saxe et al.)."""
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: the tensor is {tensor.ndim}-D; it needs 2 or more "
                         f"dims")
    refuse_integers("orthogonal_", tensor.dtype)
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = _rng(generator).normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))


# PyTorch's deprecated spellings without the trailing underscore
uniform, normal, constant = uniform_, normal_, constant_
xavier_uniform, xavier_normal = xavier_uniform_, xavier_normal_
kaiming_uniform, kaiming_normal = kaiming_uniform_, kaiming_normal_
