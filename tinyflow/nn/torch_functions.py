"""torch.* functions that are another spelling of a torch.nn.functional one (`torch.conv2d`,
`torch.dropout`, `torch.layer_norm`): that function itself, so the two cannot drift apart.
Adapted here: `torch.batch_norm` and `torch.embedding`, whose arguments come in another
order, `torch.layer_norm` and `torch.group_norm`, which take one more (cudnn), and
`torch.rrelu` (a generator where F's has inplace). The tinyflow namespace exports them
(tinyflow/__init__.py); `METHODS` holds the Tensor methods of the same kind (`x.prelu(w)`).
"""
from __future__ import annotations

from . import functional as F

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


METHODS = {"prelu": F.prelu, "hardshrink": F.hardshrink}

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "max_pool1d",
           "max_pool2d", "max_pool3d", "avg_pool1d", "adaptive_avg_pool1d",
           "dropout", "alpha_dropout", "feature_alpha_dropout", "layer_norm",
           "group_norm", "rms_norm", "celu", "selu", "threshold", "prelu", "celu_",
           "selu_", "threshold_", "rrelu", "rrelu_", "hardshrink", "pixel_shuffle",
           "pixel_unshuffle", "cosine_similarity", "pairwise_distance", "bilinear",
           "batch_norm", "embedding"]
