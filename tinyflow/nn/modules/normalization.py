"""Normalization layers: BatchNorm (per channel, running statistics), LayerNorm, GroupNorm
and RMSNorm (per example), with PyTorch's parameters, buffers and defaults."""
from __future__ import annotations

import numpy as np

from ... import ops
from ...core import dtypes
from ...core.modes import trace_state
from ...core.tensor import Tensor
from .. import functional as F
from .. import init
from .linear import empty_parameter
from .module import Module


def _affine_parameters(module: Module, shape: tuple, weight: bool, bias: bool,
                       dtype) -> None:
    """Register `weight` and `bias` of `shape`, or None for those switched off."""
    for name, wanted in (("weight", weight), ("bias", bias)):
        if wanted:
            setattr(module, name, empty_parameter(*shape, dtype=dtype))
        else:
            module.register_parameter(name, None)


def _reset_affine(module: Module) -> None:
    """The identity transform: weight 1, bias 0."""
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _BatchNorm(Module):
    """Training normalizes with the batch's statistics and folds them into running_mean /
    running_var (momentum; None = cumulative average); eval uses the running ones."""

    input_dims: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum=0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None,
                 dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _affine_parameters(self, (num_features,), affine, affine and bias, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtypes.DEFAULT_FLOAT.np)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtypes.DEFAULT_FLOAT.np)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, np.int64), "int64"))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)
        if dtype is not None:
            self.to(dtype)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        _reset_affine(self)

    def _check_input_dim(self, input) -> None:
        if input.ndim not in self.input_dims:
            dims = " or ".join(f"{d}D" for d in self.input_dims)
            raise ValueError(f"expected {dims} input (got {input.ndim}D input)")

    def forward(self, input):
        self._check_input_dim(input)
        if self.training and self.track_running_stats:
            mean, var, weight, bias = (self.running_mean, self.running_var, self.weight,
                                       self.bias)
            if F._tracks_in_one_op(input, weight, bias, mean, var):   # statistics, count too
                return ops.batch_norm_tracked(input, weight, bias, mean, var,
                                              self.num_batches_tracked, self.momentum,
                                              self.eps)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            factor = self._count_batch(input, factor)
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if track else None,
                            self.running_var if track else None, self.weight, self.bias,
                            use_batch_stats, factor, self.eps)

    def _count_batch(self, input, factor: float) -> float:
        """num_batches_tracked += 1; the cumulative-average factor when momentum is None.
        A TF1 graph input is not counted: its running statistics update on each run (under
        `tinyflow.compile` the count is a traced write, as eagerly)."""
        if input.is_symbolic and trace_state.active is None:
            if self.momentum is None:
                raise NotImplementedError("BatchNorm(momentum=None) on graph inputs")
            return factor
        self.num_batches_tracked.add_(1)
        return factor if self.momentum is not None else 1.0 / self.num_batches_tracked.item()

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Over [N, C] or [N, C, L]."""
    input_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Over [N, C, H, W]."""
    input_dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Over [N, C, D, H, W]."""
    input_dims = (5,)


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over any [N, C, ...] input. PyTorch's version averages the batch statistics
    over a process group's ranks; here one process holds the whole batch, so it is
    BatchNorm (as torch's without an initialized process group)."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum=0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 process_group=None, device=None, dtype=None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats,
                         dtype=dtype)
        self.process_group = process_group

    def _check_input_dim(self, input) -> None:
        if input.ndim < 2:
            raise ValueError(f"SyncBatchNorm: expected an input of at least 2 dims [N, C, ...], "
                             f"got shape {list(input.shape)}")

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """Every BatchNorm in the tree replaced by a SyncBatchNorm holding the same
        parameters and running statistics (the objects themselves)."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, _InstanceNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group)
            for name in ("weight", "bias"):
                out._parameters[name] = module._parameters[name]
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                out._buffers[name] = module._buffers[name]
            out.training = module.training
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out


class LayerNorm(Module):
    """Normalize over the last len(normalized_shape) dims; weight 1, bias 0."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        _affine_parameters(self, self.normalized_shape, elementwise_affine,
                           elementwise_affine and bias, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    """Normalize each example over groups of channels; per-channel weight and bias."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device=None, dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        if num_channels % num_groups:
            raise ValueError("num_channels must be divisible by num_groups")
        self.num_groups, self.num_channels, self.eps, self.affine = (num_groups, num_channels,
                                                                     eps, affine)
        _affine_parameters(self, (num_channels,), affine, affine and bias, dtype)
        _reset_affine(self)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
                f"affine={self.affine}, bias={self.bias is not None}")


class RMSNorm(Module):
    """x / sqrt(mean(x^2) + eps) * weight over the last dims (eps defaults to the dtype's)."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = empty_parameter(*self.normalized_shape, dtype=dtype)
            init.ones_(self.weight)
        else:
            self.register_parameter("weight", None)

    def forward(self, input):
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class _InstanceNorm(_BatchNorm):
    """Normalize each (example, channel) plane on its own; PyTorch's defaults: no affine
    parameters and no running statistics (then eval normalizes with the input's too)."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum=0.1,
                 affine: bool = False, track_running_stats: bool = False, device=None,
                 dtype=None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype)

    def forward(self, input):
        if input.ndim not in self.input_dims:
            dims = " or ".join(f"{d}D" for d in self.input_dims)
            raise ValueError(f"expected {dims} input (got {input.ndim}D input)")
        unbatched = input.ndim == self.input_dims[0]
        x = input.unsqueeze(0) if unbatched else input
        if x.shape[1] != self.num_features and self.affine:
            raise ValueError(f"expected input's size at dim=1 to match num_features "
                             f"({self.num_features}), but got: {x.shape[1]}.")
        use_input_stats = self.training or not self.track_running_stats
        tracked = self.running_mean is not None and (self.training or not use_input_stats)
        y = F.instance_norm(x, self.running_mean if tracked else None,
                            self.running_var if tracked else None, self.weight, self.bias,
                            use_input_stats, 0.1 if self.momentum is None else self.momentum,
                            self.eps)
        return y.squeeze(0) if unbatched else y


class InstanceNorm1d(_InstanceNorm):
    """Over [N, C, L] (or unbatched [C, L])."""
    input_dims = (2, 3)


class InstanceNorm2d(_InstanceNorm):
    """Over [N, C, H, W] (or unbatched [C, H, W])."""
    input_dims = (3, 4)


class LocalResponseNorm(Module):
    """Normalization across `size` neighbouring channels (AlexNet; F.local_response_norm)."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75,
                 k: float = 1.0) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
