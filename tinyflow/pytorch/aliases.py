"""`torch.f(x, ...)` where PyTorch's function is another spelling of a Tensor method
(`torch.clone(x)`, `torch.select`, the in-place `torch.relu_(x)`) or of a
`torch.nn.functional` function (`torch.conv2d`, `torch.dropout`, `torch.layer_norm`).

Each is that spelling's own function, so the two cannot drift apart. Only `torch.batch_norm`
and `torch.embedding`, whose arguments come in another order, and `torch.layer_norm` and
`torch.group_norm`, which take one more, and `torch.rrelu` (a generator where F's has
inplace) are adapted here.
"""
from __future__ import annotations

from ..nn import functional as F
from . import inplace

# the in-place elementwise functions: torch.relu_(x) is x.relu_()
IN_PLACE = (
    "abs_", "acos_", "acosh_", "arccos_", "arccosh_", "arcsin_", "arcsinh_", "arctan_",
    "arctanh_", "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_", "clamp_max_",
    "clamp_min_", "clip_", "cos_", "cosh_", "deg2rad_", "detach_", "erf_", "erfc_", "exp2_",
    "exp_", "expm1_", "fill_", "fix_", "floor_", "frac_", "gcd_", "i0_", "lcm_", "log10_",
    "log1p_", "log2_", "log_", "logit_", "nan_to_num_", "neg_", "negative_", "rad2deg_",
    "reciprocal_", "relu_", "round_", "rsqrt_", "sigmoid_", "sin_", "sinc_", "sinh_",
    "sqrt_", "square_", "tan_", "tanh_", "trunc_", "xlogy_", "zero_")
globals().update({name: inplace.METHODS[name] for name in IN_PLACE})

from ..ops import copy as clone   # (the method x.clone(); no memory_format, as it)
from ..ops import abs as absolute, atan2 as arctan2
from .elementwise import acosh as arccosh, asinh as arcsinh, atanh as arctanh
from .logic import positive
from .movement import select, unflatten
from .scatter_gather import index_put, index_put_
from .tensor_info import is_conj as is_neg, is_signed

from .diagonal import diag_embed, diagflat
from .linalg import matrix_power, pinverse, torch_qr
from .math import true_divide, vdot
from .movement import expand
from .statistics import dist
from .tensor_info import is_same_size

# torch.nn.functional's, the same arguments in the same order
conv1d = F.conv1d
conv2d = F.conv2d
conv3d = F.conv3d
conv_transpose1d = F.conv_transpose1d
conv_transpose2d = F.conv_transpose2d
max_pool1d = F.max_pool1d
max_pool2d = F.max_pool2d
max_pool3d = F.max_pool3d
avg_pool1d = F.avg_pool1d
adaptive_avg_pool1d = F.adaptive_avg_pool1d
dropout = F.dropout
alpha_dropout = F.alpha_dropout
feature_alpha_dropout = F.feature_alpha_dropout
rms_norm = F.rms_norm
celu = F.celu
selu = F.selu
threshold = F.threshold
prelu = F.prelu
celu_ = F.celu_
selu_ = F.selu_
threshold_ = F.threshold_
rrelu_ = F.rrelu_
hardshrink = F.hardshrink
pixel_shuffle = F.pixel_shuffle
pixel_unshuffle = F.pixel_unshuffle
cosine_similarity = F.cosine_similarity
pairwise_distance = F.pairwise_distance
bilinear = F.bilinear


# Tensor methods that are the torch.* function with x first
METHODS = {"absolute": absolute, "arctan2": arctan2, "true_divide": true_divide,
           "broadcast_to": expand, "diag_embed": diag_embed, "diagflat": diagflat,
           "dist": dist, "matrix_power": matrix_power, "pinverse": pinverse, "qr": torch_qr,
           "vdot": vdot, "is_same_size": is_same_size, "prelu": prelu,
           "hardshrink": hardshrink}


def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps,
               cudnn_enabled=True):
    """PyTorch's `torch.batch_norm`: F.batch_norm's arguments with the affine ones first."""
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum,
                        eps)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=True):
    """F.layer_norm, and torch's cudnn_enable (no meaning on the CPU)."""
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):
    """F.group_norm, and torch's cudnn_enabled (no meaning on the CPU)."""
    return F.group_norm(input, num_groups, weight, bias, eps)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, generator=None):
    """F.rrelu with torch.rrelu's fifth argument, a generator (F.rrelu's is inplace)."""
    return F.rrelu(input, lower, upper, training, generator=generator)


def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """PyTorch's `torch.embedding`: the weight first, and padding_idx -1 for none."""
    return F.embedding(indices, weight, None if padding_idx == -1 else padding_idx,
                       scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


__all__ = [*IN_PLACE, "clone", "select", "unflatten", "index_put", "index_put_", "positive",
           "is_neg", "is_signed", "absolute", "arctan2", "arccosh", "arcsinh", "arctanh", "conv1d", "conv2d",
           "conv3d", "conv_transpose1d", "conv_transpose2d", "max_pool1d", "max_pool2d",
           "max_pool3d", "avg_pool1d", "adaptive_avg_pool1d", "dropout", "alpha_dropout",
           "feature_alpha_dropout", "layer_norm", "group_norm", "rms_norm", "celu", "selu",
           "threshold", "prelu", "celu_", "selu_", "threshold_", "rrelu", "rrelu_", "hardshrink", "pixel_shuffle", "pixel_unshuffle", "cosine_similarity",
           "pairwise_distance", "bilinear", "batch_norm", "embedding"]
