"""PyTorch's `torch.nn.functional` (F.*): activations, layers, attention and losses with
PyTorch's argument names and semantics (NCHW, `dim`, `reduction`).

Every function is a composition of tinyflow ops — no kernels here — so it runs eagerly,
records autograd history, builds graph nodes on TF1 placeholders, and differentiates twice.
The losses live in nn/_losses.py and are re-exported here.
"""
from __future__ import annotations

import math
import warnings
from typing import Optional

import numpy as np

from .. import ops
from ..autodiff.tape import write_inplace as _write_inplace
from ..core import dtypes
from ..core.errors import DTypeError, ShapeError, ValueRuntimeError
from ..core.modes import AUTOCAST_THREADS, autocast_state, no_grad, trace_state
from ..core.op import apply, apply1, apply3, as_tensor, shared
from ..core.tensor import EAGER, Tensor
from ..ops import conv as _conv
from ..ops.linalg import _AFFINE
from ..ops import pool as _pool
from ..pytorch.inplace import write_out as _write_out
from ..pytorch.creation import rand as _rand
from ..pytorch.movement import chunk as _chunk
from ..pytorch.statistics import vector_norm as _vector_norm
from ..pytorch.zero_dim import scalar_dims
from ._losses import (binary_cross_entropy, binary_cross_entropy_with_logits,  # noqa: F401
                     cosine_embedding_loss, cross_entropy, huber_loss, kl_div, l1_loss,
                     margin_ranking_loss, mse_loss, multi_margin_loss, nll_loss,
                     poisson_nll_loss, smooth_l1_loss)
from ._losses import (gaussian_nll_loss, hinge_embedding_loss,  # noqa: F401
                      multilabel_soft_margin_loss, soft_margin_loss, triplet_margin_loss)
from ._bags import embedding_bag  # noqa: F401
from ._gumbel import gumbel_softmax  # noqa: F401
from ._ctc import ctc_loss  # noqa: F401
from ._margin_losses import (multilabel_margin_loss,  # noqa: F401
                             triplet_margin_with_distance_loss)
from ._image import (instance_norm, interpolate, local_response_norm,  # noqa: F401
                     pixel_shuffle, pixel_unshuffle)
from ._grid import affine_grid, grid_sample  # noqa: F401
from ._patches import fold, unfold  # noqa: F401
from ._pool_extra import (adaptive_max_pool2d, avg_pool1d, avg_pool3d, conv3d,  # noqa: F401
                          max_pool3d, max_unpool2d)
from ._pool_extra import adaptive_avg_pool1d, adaptive_max_pool1d  # noqa: F401
from ._pool_extra import max_pool2d_indices as _max_pool2d_indices
from ._pool_extra import override_divisor

# ---- activations ---------------------------------------------------------------------------


def _writable(input, inplace: bool) -> bool:
    """Whether `inplace=True` writes into input, as PyTorch's: an eager tensor or one traced
    by tinyflow.compile (a TF1 graph's tensor has no memory to write: the result is new)."""
    return inplace and (not input.is_symbolic or trace_state.active is not None)


def _written(input, out, inplace: bool):
    """out, copied into input where `inplace=True` asks for it (`_writable`)."""
    return input.copy_(out) if _writable(input, inplace) else out


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    if inplace and _writable(input, inplace):   # (no `_writable` frame when not in place)
        return input.relu_()
    if type(input) is Tensor:   # every MLP layer's: the op, not through ops.relu's frame
        return apply1(_RELU, input)
    return ops.relu(input)


_RELU = shared(ops.math.Relu)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    if negative_slope > 0 and as_tensor(input).dtype.is_floating:   # one op: its gradient
        if _writable(input, inplace):                   # reads x, or y where y overwrites x
            return _write_inplace(input, ops.leaky_relu(input, negative_slope, True))
        return ops.leaky_relu(input, negative_slope)
    return _written(input, ops.where(input > 0, input, input * negative_slope), inplace)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    # exp of the non-positive inputs only: the branch `where` drops must not overflow
    # (0 * inf = nan), and a NaN takes the identity's gradient (1), as PyTorch's
    negative = input <= 0
    return _written(input, ops.where(
        negative, alpha * (ops.exp(ops.where(negative, input, 0.0)) - 1), input), inplace)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the self-normalizing constants of Klambauer et al.
    (zero mean, unit variance kept through deep stacks)."""
    return _written(input, _SELU_SCALE * elu(input, _SELU_ALPHA), inplace)


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, alpha (exp(x / alpha) - 1)): elu, continuously differentiable for
    every alpha."""
    if alpha == 0:
        raise ValueRuntimeError("celu: alpha cannot be 0 (it divides x)")
    x = as_tensor(input)
    negative = x <= 0
    out = ops.where(negative, alpha * (ops.exp(ops.where(negative, x, 0.0) / alpha) - 1), x)
    return _written(input, out, inplace)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """leaky_relu with a learned slope: one for all, or one per channel (dim 1)."""
    x, w = as_tensor(input), as_tensor(weight)
    if w.ndim > 1:
        raise ShapeError(f"prelu: weight must be 0-D or 1-D, got shape {list(w.shape)}")
    n = 1 if w.ndim == 0 else w.shape[0]
    if n != 1:
        channels = x.shape[1] if x.ndim >= 2 else 1
        if channels != n:
            raise ShapeError(f"prelu: {n} weights for input {list(x.shape)} with {channels} "
                             f"channels (dim 1); give one weight, or one per channel")
        w = ops.reshape(w, (n,) + (1,) * (x.ndim - 2))   # channel c's slope, over dim 1
    elif w.ndim == 1:
        w = ops.reshape(w, ())
    return ops.where(x > 0, x, x * w)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else value (the gradient is 0 where replaced)."""
    x = as_tensor(input)
    return _written(input, ops.where(x > threshold, x, value), inplace)


_threshold = threshold   # (threshold_'s argument of that name hides the function)


def tanhshrink(input: Tensor) -> Tensor:
    return input - ops.tanh(input)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) with the exact normal CDF (erf), or PyTorch's tanh approximation."""
    return ops.gelu(input, approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    return _written(input, input * ops.sigmoid(input), inplace)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, linear where beta x > threshold (as PyTorch); log1p keeps
    the tiny values of a very negative beta x (log(1 + 1e-27) is 0)."""
    bx = input * beta
    # where, not minimum: at bx == threshold minimum would give bx half the gradient
    soft = ops.log1p(ops.exp(ops.where(bx > threshold, threshold, bx))) / beta
    return ops.where(bx > threshold, input, soft)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    return _written(input, input * ops.tanh(softplus(input)), inplace)


def logsigmoid(input: Tensor) -> Tensor:
    return -softplus(-input)


def softsign(input: Tensor) -> Tensor:
    return input / (1 + ops.abs(input))


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """clamp's values (so -0.0 at a limit of 0 stays -0.0, as PyTorch's), PyTorch's hardtanh
    gradient: 0 at the limits themselves, 1 at NaN; one op each way (`ops.hardtanh`), whose
    gradient reads the output where that overwrites the input."""
    if min_val > max_val:
        raise ValueRuntimeError(f"hardtanh: min_val cannot be greater than max_val, got "
                                f"{min_val} and {max_val}")
    if _writable(input, inplace):   # (the result unnamed: its buffer becomes input's)
        return _write_inplace(input, ops.hardtanh(input, min_val, max_val, True))
    return ops.hardtanh(input, min_val, max_val)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6; PyTorch's gradient: 1/6 strictly inside (-3, 3), else 0."""
    x = as_tensor(input)
    out = ops.where((x > -3) & (x < 3), x / 6 + 0.5, ops.where(x >= 3, 1.0, 0.0))
    return _written(input, ops.cast(out, x.dtype), inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6 (MobileNetV3's); PyTorch's gradient: x / 3 + 1/2 strictly inside
    (-3, 3), 0 at and below -3, 1 at and above 3."""
    x = as_tensor(input)
    out = ops.where(x <= -3, 0.0, ops.where(x >= 3, x, x * (x + 3) / 6))
    return _written(input, ops.cast(out, x.dtype), inplace)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """The first half of `dim` gated by the sigmoid of the second half."""
    a, b = _chunk(as_tensor(input), 2, dim)
    return a * ops.sigmoid(b)


def tanh(input: Tensor) -> Tensor:
    return ops.tanh(input)


def sigmoid(input: Tensor) -> Tensor:
    return ops.sigmoid(input)


def _softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    """PyTorch's legacy choice when `dim` is not given, with its deprecation warning
    (`stacklevel` counts from the caller of softmax/log_softmax, as PyTorch's)."""
    warnings.warn(f"{name} without dim picks dim {0 if ndim in (0, 1, 3) else 1} by the "
                  f"input's rank, a deprecated rule; pass dim=", UserWarning,
                  stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


# A 0-d tensor is read as one element along dim 0 or -1, as PyTorch: softmax 1, log 0.
_SOFTMAX, _LOG_SOFTMAX = scalar_dims(ops.softmax), scalar_dims(ops.log_softmax)


_SOFTMAXES: dict = {}   # dim -> shared(Softmax, dim), without `shared`'s frame


def softmax(input: Tensor, dim: Optional[int] = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    if type(input) is Tensor and type(dim) is int and dtype is None and input.shape:
        op = _SOFTMAXES.get(dim)   # every classifier's: the op's one instance, applied
        if op is None:
            op = _SOFTMAXES[dim] = shared(ops.nn.Softmax, dim)
        return apply1(op, input)
    x = as_tensor(input) if dtype is None else as_tensor(input).to(dtype)
    return _SOFTMAX(x, _softmax_dim("softmax", x.ndim, _stacklevel) if dim is None else dim)


def log_softmax(input: Tensor, dim: Optional[int] = None, _stacklevel: int = 3,
                dtype=None) -> Tensor:
    x = as_tensor(input) if dtype is None else as_tensor(input).to(dtype)
    return _LOG_SOFTMAX(x, _softmax_dim("log_softmax", x.ndim, _stacklevel)
                        if dim is None else dim)


def softmin(input: Tensor, dim: Optional[int] = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    """softmax(-x): the largest weights on the smallest values."""
    x = as_tensor(input) if dtype is None else as_tensor(input).to(dtype)
    return _SOFTMAX(-x, _softmax_dim("softmin", x.ndim, _stacklevel) if dim is None else dim)


# ---- linear and convolution ------------------------------------------------------------------


def _per_feature(bias: Tensor, weight: Tensor) -> bool:
    """Whether bias is one value per output feature (the affine op's); any other shape that
    broadcasts against the output (PyTorch allows it) is added after the product."""
    return (bias.shape is not None and len(bias.shape) == 1
            and weight.shape is not None and bias.shape[0] == weight.shape[0])


def linear(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """input @ weight.T + bias, for inputs of any rank >= 1 (the last dim is features)."""
    if (type(input) is Tensor and type(input.shape) is tuple and len(input.shape) in (1, 2)
            and isinstance(weight, Tensor) and isinstance(bias, Tensor)
            and type(bias.shape) is tuple and len(bias.shape) == 1
            and not AUTOCAST_THREADS):   # (an autocast anywhere: the path below decides)
        # every eager Linear of rank 1 or 2 with a 1-D bias is the affine op, whose shape
        # rule checks the rest; one it refuses (mixed dtypes, which PyTorch refuses too, or a
        # bias of one value that broadcasts, or wrong sizes) takes the path below, which
        # raises that op's error again where no other op fits. (A bias of other ranks goes
        # there directly: a refusal costs an error built and caught.)
        try:
            return apply3(_AFFINE, input, weight, bias)
        except (ShapeError, DTypeError):
            pass
    x, weight = as_tensor(input), as_tensor(weight)
    bias = None if bias is None else as_tensor(bias)
    if autocast_state.fp8 is not None:
        return fp8_linear(x, weight, bias, autocast_state.fp8)
    if autocast_state.dtype is not None:   # one product: the bias in the low dtype too
        x, weight, bias = ops.autocast_inputs(x, weight, bias)
    if bias is not None and bias.dtype is not weight.dtype:   # PyTorch refuses it too
        raise DTypeError(f"linear: the bias is {bias.dtype.name} but the weight is "
                         f"{weight.dtype.name} (shapes {tuple(bias.shape)}, "
                         f"{tuple(weight.shape)}): cast one to the other's dtype")
    if (x.ndim in (1, 2) and bias is not None and x.dtype is weight.dtype is bias.dtype
            and _per_feature(bias, weight)):
        return ops.affine(x, weight, bias)   # bias added into the product's buffer
    if x.ndim == 1:
        out = ops.squeeze(ops.matmul(ops.expand_dims(x, 0), weight, transpose_b=True), 0)
    elif x.ndim > 2 and None not in x.shape and (bias is None or _per_feature(bias, weight)):
        # one 2-D product: a batched one would make a [batch, out, in] weight gradient
        flat = linear(ops.reshape(x, (-1, x.shape[-1])), weight, bias)
        return ops.reshape(flat, x.shape[:-1] + (weight.shape[0],))
    else:
        out = ops.matmul(x, weight, transpose_b=True)
    return out if bias is None else out + bias


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor,
             bias: Optional[Tensor] = None) -> Tensor:
    """y_k = x1^T A_k x2 + b_k with weight [out, in1, in2], over any shared leading dims."""
    x1, x2, w = as_tensor(input1), as_tensor(input2), as_tensor(weight)
    if w.ndim != 3 or x1.shape[-1] != w.shape[1] or x2.shape[-1] != w.shape[2]:
        raise ShapeError(f"bilinear(): input sizes {list(x1.shape)} and {list(x2.shape)} do "
                         f"not match weight size {list(w.shape)} ([out, in1, in2])")
    if x1.shape[:-1] != x2.shape[:-1]:
        raise ShapeError(f"bilinear(): input batch dimensions do not match: "
                         f"{list(x1.shape)} and {list(x2.shape)}")
    out = ops.einsum("...i,kij,...j->...k", x1, w, x2)
    return out if bias is None else out + bias


def _pair(value, n: int = 2) -> tuple:
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(f"expected {n} values, got {tuple(value)}")
        return tuple(int(v) for v in value)
    return (int(value),) * n


def fp8_linear(x: Tensor, weight: Tensor, bias: Optional[Tensor], recipe) -> Tensor:
    """F.linear under `fp8_autocast`: x and the weight rounded to `recipe.forward` (e4m3),
    the product's gradient to `recipe.backward` (e5m2) before it reaches either operand's
    gradient; the product itself in float32, as fp8 GEMMs accumulate."""
    x_history = w_history = g_history = None
    if recipe.amax_history_len:     # delayed scaling: one history per tensor of this layer
        x_history, w_history, g_history = recipe.histories_of(weight)
    x = as_tensor(x)
    graph = None if x.kind == EAGER else x.graph   # an eager weight: quantized every run
    xq = ops.fake_quantize(x, recipe.forward, margin=recipe.margin, history=x_history)
    wq = ops.fake_quantize(weight, recipe.forward, margin=recipe.margin, history=w_history,
                           graph=graph)
    out = ops.fake_quantize(ops.matmul(xq, wq, transpose_b=True), None, recipe.backward,
                            margin=recipe.margin, grad_history=g_history)
    return out if bias is None else out + bias


def conv2d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D cross-correlation over NCHW input with an OIHW weight (unbatched CHW too)."""
    x = as_tensor(input)
    if x.ndim == 3:
        return ops.squeeze(conv2d(ops.expand_dims(x, 0), weight, bias, stride, padding,
                                  dilation, groups), 0)
    if isinstance(padding, str) and padding not in ("valid", "same"):
        raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                         f"'valid', 'same'")
    if not isinstance(padding, str):
        padding = _pair(padding)
    return _conv.conv2d(x, weight, _pair(stride), padding, _pair(dilation), groups,
                        bias=bias)


def conv1d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """A conv2d over a height-1 image: NCL input, OIK weight."""
    x = as_tensor(input)
    if x.ndim == 2:
        return ops.squeeze(conv1d(ops.expand_dims(x, 0), weight, bias, stride, padding,
                                  dilation, groups), 0)
    if not isinstance(padding, str):
        padding = (0, _pair(padding, 1)[0])
    out = conv2d(ops.expand_dims(x, 2), ops.expand_dims(weight, 2), bias,
                 (1, _pair(stride, 1)[0]), padding, (1, _pair(dilation, 1)[0]), groups)
    return ops.squeeze(out, 2)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """The gradient of conv2d with respect to its input, as a layer: x [N, C_in, H, W], weight
    [C_in, C_out / groups, kH, kW]; out H = (H - 1) stride - 2 padding + dilation (kH - 1) +
    output_padding + 1."""
    x = as_tensor(input)
    if x.ndim == 3:
        return ops.squeeze(conv_transpose2d(ops.expand_dims(x, 0), weight, bias, stride,
                                            padding, output_padding, groups, dilation), 0)
    attrs = _conv.conv_attrs(stride, _pair(padding), dilation, groups)
    extra = _pair(output_padding)
    if any(e >= max(s, d) for e, s, d in zip(extra, attrs["stride"], attrs["dilation"])):
        raise ValueError(f"conv_transpose2d: output_padding {extra} must be smaller than "
                         f"either stride {attrs['stride']} or dilation {attrs['dilation']}")
    if x.shape is None or None in x.shape or None in weight.shape:
        raise ValueError(f"conv_transpose2d needs known input and weight shapes, got "
                         f"{x.shape} and {weight.shape}")
    size = [(n - 1) * s - sum(p) + d * (k - 1) + e + 1 for n, s, p, d, k, e in zip(
        x.shape[2:], attrs["stride"], attrs["padding"], attrs["dilation"], weight.shape[2:],
        extra)]
    out_shape = (x.shape[0], weight.shape[1] * groups, *size)
    if autocast_state.dtype is not None:
        x, weight, bias = ops.autocast_inputs(x, as_tensor(weight), bias)
    shape_only = ops.expand(ops.as_tensor(np.zeros((), x.dtype.np)), out_shape)  # a view
    out = apply(_conv.Conv2dGradInput(**attrs), x, as_tensor(weight), shape_only)
    if bias is not None:
        out = out + ops.reshape(bias, (1, -1, 1, 1))
    return out


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """conv_transpose2d over a height-1 image: x [N, C_in, L] (or [C_in, L]), weight
    [C_in, C_out / groups, k]."""
    x = as_tensor(input)
    if x.ndim not in (2, 3) or as_tensor(weight).ndim != 3:
        raise ShapeError(f"conv_transpose1d: expected a 2-D or 3-D input and a 3-D weight, "
                         f"got {tuple(x.shape)} and {tuple(as_tensor(weight).shape)}")
    one = lambda v: _pair(v, 1)[0]  # noqa: E731
    out = conv_transpose2d(ops.expand_dims(x, -2), ops.expand_dims(weight, 2), bias,
                           (1, one(stride)), (0, one(padding)), (0, one(output_padding)),
                           groups, (1, one(dilation)))
    return ops.squeeze(out, -2)


# ---- pooling -------------------------------------------------------------------------------


def _unbatched(fn, x: Tensor, *args):
    """Pooling ops take NCHW; PyTorch also accepts CHW."""
    if x.ndim == 3:
        return ops.squeeze(fn(ops.expand_dims(x, 0), *args), 0)
    return fn(x, *args)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False) -> Tensor:
    stride = _pair(kernel_size) if stride is None or stride == [] else _pair(stride)
    out = _unbatched(_pool.max_pool2d, as_tensor(input), _pair(kernel_size), stride,
                     _pair(padding), _pair(dilation), ceil_mode)
    if return_indices:
        return out, _max_pool2d_indices(as_tensor(input), _pair(kernel_size), stride,
                                       _pair(padding), _pair(dilation), ceil_mode)
    return out


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0 (NaN passes, with gradient 1, as PyTorch's)."""
    x = as_tensor(input)
    return ops.where(ops.abs(x) <= lambd, 0.0, x)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x moved lambd toward 0, and 0 within [-lambd, lambd] (soft thresholding; NaN passes,
    with gradient 1, as PyTorch's)."""
    if lambd < 0:
        raise ValueRuntimeError(f"softshrink: lambd must be >= 0, got {lambd}")
    x = as_tensor(input)
    return ops.where(x > lambd, x - lambd, ops.where(x >= -lambd, x * 0.0, x + lambd))


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
          training: bool = False, inplace: bool = False, *, generator=None) -> Tensor:
    """leaky_relu whose negative slope is drawn from U(lower, upper) for each element while
    training (Xu et al.'s randomized ReLU), and is their mean in evaluation; `generator`:
    torch.rrelu's (a TF1 graph draws from the global one)."""
    if lower > upper:
        raise ValueRuntimeError(f"rrelu: lower bound must be <= upper bound, got {lower} "
                                f"and {upper}")
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    x = as_tensor(input)
    if x.is_symbolic and trace_state.active is None:   # a TF1 graph node, drawn at each run
        # (under tinyflow.compile, rand_like below draws at each call: its shape is known)
        slope = ops.random_uniform(ops.shape.shape_of(x), lower, upper, dtype=x.dtype)
    else:
        slope = _rand(size=x.shape, dtype=x.dtype, generator=generator) * (upper - lower) + lower
    return _written(input, ops.where(x > 0, x, x * slope), inplace)


# PyTorch's in-place spellings: F.relu_(x) is F.relu(x, inplace=True)
def relu_(input: Tensor) -> Tensor:
    return relu(input, inplace=True)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return elu(input, alpha, inplace=True)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return hardtanh(input, min_val, max_val, inplace=True)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return celu(input, alpha, inplace=True)


def selu_(input: Tensor) -> Tensor:
    return selu(input, inplace=True)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return _threshold(input, threshold, value, inplace=True)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
           training: bool = False, generator=None) -> Tensor:
    return rrelu(input, lower, upper, training, inplace=True, generator=generator)


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False) -> Tensor:
    """max_pool2d over a height-1 image: [N, C, L] (or [C, L])."""
    one = lambda v: _pair(v, 1)[0]  # noqa: E731
    stride = kernel_size if stride is None or stride == [] else stride
    _pool.check_padding("max_pool1d", (one(kernel_size),), (one(padding),), padding)
    x = ops.expand_dims(as_tensor(input), -2)
    out = max_pool2d(x, (1, one(kernel_size)), (1, one(stride)), (0, one(padding)),
                     (1, one(dilation)), ceil_mode, return_indices)
    if return_indices:
        return ops.squeeze(out[0], -2), ops.squeeze(out[1], -2)
    return ops.squeeze(out, -2)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    kernel = _pair(kernel_size)
    stride = kernel if stride is None or stride == [] else _pair(stride)
    out = _unbatched(_pool.avg_pool2d, as_tensor(input), kernel, stride, _pair(padding),
                     ceil_mode, count_include_pad)
    return override_divisor("avg_pool2d", out, kernel, divisor_override, ceil_mode,
                            count_include_pad)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    x = as_tensor(input)
    size = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    size = tuple(x.shape[i - 2] if s is None else int(s) for i, s in enumerate(size))
    return _unbatched(_pool.adaptive_avg_pool2d, x, size)


# ---- regularization and normalization ----------------------------------------------------


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only)."""
    return _dropout(input, p, training, inplace, lambda x: x)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of [N, C, H, W] with probability p. As PyTorch, the mask is always
    shaped [N, C, 1, ...]: a 3-D input is read as [N, C, L] and a 2-D one as [N, C] (each
    element on its own, with PyTorch's warning), so code such as `Dropout2d` after an LSTM's
    last step keeps torch's meaning instead of dropping the whole batch."""
    ndim = as_tensor(input).ndim
    if ndim not in (3, 4):
        warnings.warn(f"dropout2d: is meant for 3-D and 4-D inputs, and PyTorch deprecates "
                      f"others; this {ndim}-D one is masked by [N, C] entries: call dropout "
                      "(element-wise) or dropout3d (5-D)", stacklevel=2)
    elif ndim == 3:
        warnings.warn("dropout2d: a 3-D input is read as [N, C, L] and whole channels of "
                      "its one spatial dim are dropped, as dropout1d does: call dropout1d",
                      stacklevel=2)
    return _dropout(input, p, training, inplace,
                    lambda x: x[(slice(None),) * 2 + (slice(0, 1),) * (x.ndim - 2)])


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of [N, C, L] (or unbatched [C, L]) with probability p."""
    ndim = as_tensor(input).ndim
    if ndim not in (2, 3):
        raise ShapeError(f"dropout1d: expected a 2-D [C, L] or 3-D [N, C, L] input (it drops "
                         f"whole channels of one spatial dim), got {ndim}-D")
    return _dropout(input, p, training, inplace, _channels(ndim == 3))


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of [N, C, D, H, W] (or unbatched [C, D, H, W]); as PyTorch, any
    other rank warns and is read as unbatched, channels in dim 0."""
    ndim = as_tensor(input).ndim
    if ndim not in (4, 5):
        warnings.warn(f"dropout3d: a {ndim}-D input is read as unbatched, channels in dim 0 "
                      f"(as PyTorch, which deprecates it): it expects 4-D [C, D, H, W] or 5-D "
                      f"[N, C, D, H, W]; use dropout for elementwise dropout", stacklevel=2)
    return _dropout(input, p, training, inplace, _channels(ndim == 5))


def _channels(batched: bool):
    """mask_like for channel dropout: the channel dim (1 if batched, else 0) and those
    before it kept, every later dim cut to 1."""
    lead = 2 if batched else 1
    return lambda x: x[(slice(None),) * lead + (slice(0, 1),) * (x.ndim - lead)]


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                  inplace: bool = False) -> Tensor:
    """Dropout for SELU networks: a dropped element takes SELU's negative saturation value
    instead of 0, then an affine map a x + b restores zero mean and unit variance (for
    inputs that had them). Note torch's default: training=False."""
    return _alpha_dropout(input, p, training, inplace, lambda x: x)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                          inplace: bool = False) -> Tensor:
    """alpha_dropout with one decision per channel of [N, C, ...] (for SELU conv nets)."""
    ndim = as_tensor(input).ndim
    if ndim < 2:
        raise ShapeError(f"feature_alpha_dropout: expected an input of at least 2 dims "
                         f"[N, C, ...] (it drops whole channels), got {ndim}-D")
    return _alpha_dropout(input, p, training, inplace, _channels(True))


def _alpha_dropout(input: Tensor, p: float, training: bool, inplace: bool,
                   mask_like) -> Tensor:
    if not _dropping(p, training):
        return input
    x = as_tensor(input)
    if p == 1.0:
        return x * 0.0
    alpha = _SELU_ALPHA * _SELU_SCALE   # -alpha: SELU's limit at -inf
    a = 1.0 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    keep = ops.random_mask(mask_like(x), 1.0 - p)
    out = x * (keep * a) + (keep - 1.0) * (alpha * a) + alpha * a * p
    return _written(input, out, inplace)


def bad_dropout_p(p: float) -> ValueError:
    return ValueError(f"dropout: p={p} is not a probability; give 0 <= p <= 1")


def _dropping(p: float, training: bool) -> bool:
    """Whether a dropout changes its input (training and p > 0); p outside [0, 1] refused."""
    if p < 0.0 or p > 1.0:
        raise bad_dropout_p(p)
    return training and p != 0.0


def _dropout(input: Tensor, p: float, training: bool, inplace: bool, mask_like) -> Tensor:
    """Multiply by a 0/1 mask shaped like `mask_like(input)` (broadcast over the rest)."""
    if not _dropping(p, training):
        return input
    x = as_tensor(input)
    if p == 1.0:
        return x * 0.0
    out = x * ops.random_mask(mask_like(x), 1.0 - p) * (1.0 / (1.0 - p))
    return _written(input, out, inplace)


@ops.in_float32
def layer_norm(input: Tensor, normalized_shape, weight: Optional[Tensor] = None,
               bias: Optional[Tensor] = None, eps: float = 1e-5) -> Tensor:
    x = as_tensor(input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else \
        tuple(normalized_shape)
    if x.shape is not None and tuple(x.shape[len(x.shape) - len(shape):]) != shape:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of size "
                           f"{list(x.shape)}")
    if (isinstance(weight, Tensor) and isinstance(bias, Tensor) and tuple(weight.shape) == shape
            and tuple(bias.shape) == shape and weight.dtype is x.dtype is bias.dtype):
        return ops.layer_norm(x, weight, bias, eps)     # one op each way
    y = ops.normalize(x, tuple(range(x.ndim - len(shape), x.ndim)), eps)
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


@ops.in_float32
def rms_norm(input: Tensor, normalized_shape, weight: Optional[Tensor] = None,
             eps: Optional[float] = None) -> Tensor:
    x = as_tensor(input)
    n = 1 if isinstance(normalized_shape, int) else len(normalized_shape)
    eps = float(dtypes.float_info(x.dtype).eps) if eps is None else eps
    axes = tuple(range(x.ndim - n, x.ndim))
    y = x / ops.sqrt(ops.reduce_mean(x * x, axes, keepdims=True) + eps)
    return y if weight is None else y * weight


@ops.in_float32
def group_norm(input: Tensor, num_groups: int, weight: Optional[Tensor] = None,
               bias: Optional[Tensor] = None, eps: float = 1e-5) -> Tensor:
    x = as_tensor(input)
    n, c = x.shape[0], x.shape[1]
    grouped = ops.reshape(x, (n, num_groups, -1))
    y = ops.reshape(ops.normalize(grouped, (2,), eps), x.shape)
    shape = (1, c) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * ops.reshape(weight, shape)
    return y if bias is None else y + ops.reshape(bias, shape)


@ops.in_float32(keep=("running_mean", "running_var"))
def batch_norm(input: Tensor, running_mean: Optional[Tensor], running_var: Optional[Tensor],
               weight: Optional[Tensor] = None, bias: Optional[Tensor] = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize per channel (dim 1) with batch statistics (training; the running ones are
    updated: unbiased variance, `momentum`) or with the running statistics (eval)."""
    x = as_tensor(input)
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        count = _per_channel_count(x, axes)
        if isinstance(count, int) and count == 0:   # empty: PyTorch keeps the running ones
            running_mean = running_var = None
        if running_mean is not None or running_var is not None:   # statistics only
            moments = ops.channel_moments(x)
        if running_mean is not None:
            _update_running(running_mean, ops.getitem(moments, 0), momentum)
        if running_var is not None:
            unbiased = ops.getitem(moments, 1) * (count / (count - 1))
            _update_running(running_var, unbiased, momentum)
        if _affine(x, weight, bias):    # one op each way, the scale and shift folded in
            return ops.normalize_channels(x, weight, bias, eps)
        y = ops.normalize(x, axes, eps)   # one op each way; the gradient skips the stats
    else:   # PyTorch's inference arithmetic: a scale and shift on [C] vectors, one pass on x
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var must be defined in "
                             "evaluation mode (training=False)")
        if _affine(x, weight, bias) and _affine(x, running_mean, running_var):
            return ops.batch_norm_eval(x, running_mean, running_var, weight, bias, eps)
        scale = 1 / ops.sqrt(running_var + eps)
        if weight is not None:
            scale = scale * weight
        shift = -running_mean * scale if bias is None else bias - running_mean * scale
        if _affine(x, scale, shift):
            return ops.channel_affine(x, scale, shift)
        return x * ops.reshape(scale, shape) + ops.reshape(shift, shape)
    if weight is not None:
        y = y * ops.reshape(weight, shape)
    return y if bias is None else y + ops.reshape(bias, shape)


def _tracks_in_one_op(x, weight, bias, running_mean, running_var) -> bool:
    """Whether a training batch norm and its running-statistics update can run as one op
    (`ops.batch_norm_tracked`): eagerly, neither traced nor on a graph, [C] weight and bias
    of x's dtype, statistics of x's (float32 for float16/bfloat16 x; else `batch_norm`'s
    ops and assigns)."""
    return (trace_state.active is None and isinstance(x, Tensor) and x.kind == EAGER
            and _affine(x, weight, bias) and weight.kind == EAGER and bias.kind == EAGER
            and isinstance(running_mean, Tensor) and isinstance(running_var, Tensor)
            and running_mean.kind == EAGER and running_var.kind == EAGER
            and running_mean.dtype is running_var.dtype
            and running_mean.dtype is (dtypes.float32 if x.dtype.is_reduced else x.dtype))


def _affine(x: Tensor, weight, bias) -> bool:
    """Whether weight and bias (or the running statistics) are [C] tensors of x's dtype (then
    batch norm is one op)."""
    return (isinstance(weight, Tensor) and isinstance(bias, Tensor)
            and weight.dtype is x.dtype and bias.dtype is x.dtype
            and weight.ndim == 1 and bias.ndim == 1)


def _per_channel_count(x: Tensor, axes: tuple):
    """Values per channel (to unbias the running variance): a number, or on a graph with
    unknown dims a scalar node counted at run time."""
    dims = [x.shape[a] for a in axes]
    if None in dims:
        return ops.reduce_sum(ops.ones_like(ops.getitem(x, (slice(None), 0))))
    count = int(np.prod(dims))
    if count == 1:
        raise ValueError(f"batch_norm: training on input {list(x.shape)} has 1 value per "
                         f"channel, so its variance is undefined; use a batch of 2 or more "
                         f"(or eval())")
    return count


def _update_running(stat: Tensor, batch_value: Tensor, momentum: float) -> None:
    """stat <- (1 - momentum) stat + momentum batch_value, outside autograd. On a graph this
    is an assign node in the 'update_ops' collection, to be run with the train op (TF1);
    under `tinyflow.compile` an in-place write the compiled call performs, as eagerly."""
    if batch_value.is_symbolic and trace_state.active is None:
        node = ops.assign(stat, stat * (1 - momentum) + batch_value * momentum)
        batch_value.graph.add_to_collection("update_ops", node)
        return
    with no_grad():
        stat.copy_(stat * (1 - momentum) + batch_value * momentum)


def embedding(input: Tensor, weight: Tensor, padding_idx: Optional[int] = None,
              max_norm=None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
              sparse: bool = False) -> Tensor:
    """Rows of `weight` picked by integer ids; the `padding_idx` row gets no gradient."""
    if max_norm is not None or scale_grad_by_freq:
        raise NotImplementedError("embedding: max_norm and scale_grad_by_freq are not "
                                  "supported")
    ids = as_tensor(input)
    out = ops.take(weight, ids, 0)
    if padding_idx is None or not weight.requires_grad:
        return out
    padding_idx = padding_idx % weight.shape[0]
    keep = ops.expand_dims(ops.not_equal(ids, padding_idx), -1)
    frozen = ops.take(weight.detach(), ids, 0) if not weight.is_symbolic else 0.0
    return ops.where(keep, out, frozen)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    t = as_tensor(tensor)
    if num_classes < 0:
        num_classes = int(t.numpy().max()) + 1
    return ops.one_hot(t, num_classes, dtype="int64")


# ---- padding and attention ---------------------------------------------------------------


def _pad_index(size: int, before: int, after: int, mode: str) -> np.ndarray:
    """Source positions of a padded axis for the index-based modes (an axis not padded keeps
    its positions, even at size 0, where reflect could not pad)."""
    i = np.arange(-before, size + after)
    if before == after == 0:
        return i
    if mode == "replicate":
        return np.clip(i, 0, size - 1)
    if mode == "circular":
        if before > size or after > size:   # PyTorch refuses it rather than wrap twice
            raise RuntimeError(f"circular padding ({before}, {after}) wraps around more than "
                               f"once: it may be at most the padded dimension {size}")
        return i % size
    if mode == "reflect":
        if before >= size or after >= size:
            raise ValueError(f"reflect padding ({before}, {after}) must be smaller than the "
                             f"padded dimension {size}")
        return np.abs(size - 1 - np.abs(size - 1 - i))  # mirror at 0 and size - 1
    raise NotImplementedError(f"padding mode {mode!r}")


def pad(input: Tensor, pad, mode: str = "constant", value: Optional[float] = None) -> Tensor:
    """Pad (or crop, for negative sizes) the last len(pad) // 2 dims; `pad` lists
    (before, after) pairs starting from the LAST dim, as PyTorch's F.pad."""
    x = as_tensor(input)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: {len(pad)} pad sizes for a {x.ndim}-D input; give (before, "
                         f"after) pairs, at most {2 * x.ndim} sizes")
    pairs = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        pairs[x.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    if any(b < 0 or a < 0 for b, a in pairs):  # crop first, then pad what is positive
        crop = tuple(slice(max(-b, 0), None if a >= 0 else a) for b, a in pairs)
        x = ops.getitem(x, crop)
        pairs = [(max(b, 0), max(a, 0)) for b, a in pairs]
    if all(p == (0, 0) for p in pairs):
        return ops.copy(x)  # a new tensor, as torch's (not the input, nor a view of it)
    if mode == "constant":
        return ops.pad(x, tuple(pairs), constant_values=0.0 if value is None else value)
    if x.ndim >= 2 and all(p == (0, 0) for p in pairs[:-2]):   # images: one op each way
        return ops.gather_planes(x, *(_pad_index(x.shape[dim], before, after, mode)
                                      for dim, (before, after) in enumerate(pairs[-2:],
                                                                            x.ndim - 2)))
    for dim, (before, after) in enumerate(pairs):
        if before or after:
            index = _pad_index(x.shape[dim], before, after, mode)
            x = ops.getitem(x, (slice(None),) * dim + (index,))
    return x


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
             align_corners: Optional[bool] = None) -> Tensor:
    """interpolate's old name, kept (with PyTorch's deprecation warning) for older code."""
    _deprecated_upsample("upsample")
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    _deprecated_upsample("upsample_nearest")
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Bilinear with align_corners=True: the old default, which corner pixels keep."""
    _deprecated_upsample("upsample_bilinear")
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def _deprecated_upsample(name: str) -> None:
    warnings.warn(f"nn.functional.{name} is deprecated; call nn.functional.interpolate",
                  stacklevel=3)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Optional[Tensor] = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: Optional[float] = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(q k^T * scale + mask) v. Bool masks: True = may attend; float masks add."""
    q, k, v = as_tensor(query), as_tensor(key), as_tensor(value)
    if autocast_state.dtype is not None:
        q, k, v = ops.autocast_inputs(q, k, v)
    if enable_gqa and k.shape[-3] != q.shape[-3]:
        repeat = np.repeat(np.arange(k.shape[-3]), q.shape[-3] // k.shape[-3])
        k, v = ops.take(k, repeat, k.ndim - 3), ops.take(v, repeat, v.ndim - 3)
    if scale is None:    # a head dim of 0: every score is 0 whatever the scale (torch's too)
        scale = 1.0 / math.sqrt(q.shape[-1]) if q.shape[-1] else 1.0
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: pass either attn_mask or "
                         "is_causal=True, not both")
    if dropout_p == 0.0:   # one fused op each way (see ops.attention)
        if attn_mask is not None:
            attn_mask = as_tensor(attn_mask)
            if not attn_mask.dtype.is_bool and attn_mask.dtype is not q.dtype:
                attn_mask = ops.cast(attn_mask, q.dtype)
        return ops.dot_product_attention(q, k, v, attn_mask, scale, is_causal)
    scores = ops.matmul(q * scale, k, transpose_b=True)  # q: fewer products than the scores
    if is_causal:
        attn_mask = np.tril(np.ones((q.shape[-2], k.shape[-2]), bool))
    scores = _apply_mask(scores, attn_mask)
    weights = ops.softmax(scores, -1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return ops.matmul(weights, v)


def _apply_mask(scores: Tensor, mask) -> Tensor:
    """Bool mask: True keeps a score, False makes it -inf; a float mask is added."""
    if mask is None:
        return scores
    mask = as_tensor(mask)
    if mask.dtype.is_bool:
        return additive_mask(scores, mask)
    return scores + mask


def additive_mask(scores: Tensor, keep: Tensor) -> Tensor:
    """scores where `keep`, -inf elsewhere, as an addition of a small 0 / -inf tensor built
    from the (broadcast) mask: the backward pass of an addition is free, where a `where` over
    the full scores would run again backward."""
    bias = ops.where(keep, 0.0, -math.inf)
    return scores + (bias if bias.dtype is scores.dtype else ops.cast(bias, scores.dtype))


@ops.in_float32
def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Optional[Tensor] = None) -> Tensor:
    """input / max(||input||_p along dim, eps)."""
    if p == 2.0:
        norm = ops.reduce.root(ops.reduce_sum(input * input, dim, keepdims=True))
    else:
        norm = _vector_norm(input, p, dim, keepdim=True)
    return _write_out(input / ops.maximum(norm, eps), out)


@ops.in_float32
def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """The p-norm of x1 - x2 + eps along the last dim (eps keeps the norm's gradient finite
    where the rows are equal), as PyTorch's."""
    diff = ops.abs(x1 - x2 + eps)
    if p == float("inf"):
        return ops.reduce_max(diff, -1, keepdims=keepdim)
    if p == 1:
        return ops.reduce_sum(diff, -1, keepdims=keepdim)
    if p == 0:     # the count of nonzero differences, as PyTorch's
        return ops.reduce_sum(ops.cast(ops.not_equal(diff, 0.0), diff.dtype), -1,
                              keepdims=keepdim)
    return ops.reduce_sum(diff ** p, -1, keepdims=keepdim) ** (1.0 / p)


@ops.in_float32
def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    dot = ops.reduce_sum(x1 * x2, dim)
    n1 = ops.sqrt(ops.reduce_sum(x1 * x1, dim))
    n2 = ops.sqrt(ops.reduce_sum(x2 * x2, dim))
    return dot / ops.maximum(n1 * n2, eps)
