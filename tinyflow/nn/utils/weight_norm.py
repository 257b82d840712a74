"""PyTorch's older hook spelling of weight and spectral normalization, which torch still
has and many programs use: `nn.utils.weight_norm` (parameters `weight_g`, `weight_v`) and
`nn.utils.spectral_norm` (parameter `weight_orig`, buffers `weight_u`, `weight_v`). A forward
pre-hook recomputes the plain attribute `weight` before each call."""
from __future__ import annotations

import warnings
from typing import Optional

from ...core.modes import no_grad
from ...core.random import generator as _global_generator
from ...core.tensor import Tensor
from .. import functional as F
from ..modules.conv import _ConvTransposeNd
from ..modules.module import Module, Parameter
from .parametrizations import as_matrix, norm_except_dim, weight_times_norm

__all__ = ["remove_spectral_norm", "remove_weight_norm", "spectral_norm", "weight_norm"]


class _NormHook:
    """A forward pre-hook that sets `module.<name>` from the tensors it was split into."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.handle = None

    def __call__(self, module: Module, inputs) -> None:
        setattr(module, self.name, self.compute_weight(module, module.training))

    def compute_weight(self, module: Module, training: bool) -> Tensor:
        raise NotImplementedError

    def check(self, module: Module, missing: type) -> Parameter:
        """The parameter to split, if it exists and has no hook of this kind yet."""
        for hook in _hooks(module):
            if type(hook) is type(self) and hook.name == self.name:
                raise RuntimeError(f"{_API[type(self)]}: '{self.name}' of "
                                   f"{type(module).__name__} already has this hook")
        weight = module._parameters.get(self.name)
        if weight is None:
            raise missing(f"{_API[type(self)]}: module {type(module).__name__} has no "
                          f"parameter '{self.name}'")
        return weight


def _hooks(module: Module) -> list:
    return [hook for hook, _, _ in module.__dict__.get("_forward_pre_hooks", {}).values()]


def _detach_hook(module: Module, kind: type, name: str) -> "_NormHook":
    for hook in _hooks(module):
        if isinstance(hook, kind) and hook.name == name:
            hook.handle.remove()
            return hook
    raise ValueError(f"remove_{_API[kind]}: no {_API[kind]} of '{name}' on "
                     f"{type(module).__name__}")


class _WeightNormHook(_NormHook):
    def __init__(self, name: str, dim: Optional[int]) -> None:
        super().__init__(name)
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module: Module, training: bool = True) -> Tensor:
        return weight_times_norm(getattr(module, self.name + "_v"),
                                 getattr(module, self.name + "_g"), self.dim)


def weight_norm(module: Module, name: str = "weight", dim: Optional[int] = 0) -> Module:
    """w = g v / ||v|| with parameters `<name>_g` and `<name>_v` (deprecated by PyTorch for
    `parametrizations.weight_norm`; it warns as torch does)."""
    warnings.warn("`nn.utils.weight_norm` is deprecated: use "
                  "`nn.utils.parametrizations.weight_norm`", FutureWarning, stacklevel=2)
    hook = _WeightNormHook(name, dim)
    weight = hook.check(module, AttributeError)
    hook.handle = module.register_forward_pre_hook(hook)
    del module._parameters[name]
    module.register_parameter(name + "_g", Parameter(norm_except_dim(weight, hook.dim)
                                                     .detach()))
    module.register_parameter(name + "_v", Parameter(weight.detach()))
    setattr(module, name, hook.compute_weight(module))
    return module


def remove_weight_norm(module: Module, name: str = "weight") -> Module:
    """The weight back as one parameter, holding g v / ||v||."""
    hook = _detach_hook(module, _WeightNormHook, name)
    with no_grad():
        weight = hook.compute_weight(module)
    delattr(module, name)
    del module._parameters[name + "_g"], module._parameters[name + "_v"]
    module.register_parameter(name, Parameter(weight.detach()))
    return module


class _SpectralNormHook(_NormHook):
    def __init__(self, name: str, n_power_iterations: int, dim: int, eps: float) -> None:
        super().__init__(name)
        self.n_power_iterations, self.dim, self.eps = n_power_iterations, dim, eps

    def compute_weight(self, module: Module, training: bool) -> Tensor:
        """weight_orig / u^T W v, after n power steps (v first, then u) in training."""
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        mat = as_matrix(weight, self.dim)
        if training:
            with no_grad():
                held = mat.detach()
                for _ in range(self.n_power_iterations):
                    v.copy_(F.normalize(held.t() @ u, dim=0, eps=self.eps))
                    u.copy_(F.normalize(held @ v, dim=0, eps=self.eps))
            u, v = u.clone(), v.clone()
        return weight / (u * (mat @ v)).sum()


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1,
                  eps: float = 1e-12, dim: Optional[int] = None) -> Module:
    """weight / sigma with parameter `<name>_orig` and power-iteration buffers `<name>_u`,
    `<name>_v` (dim: 1 for transposed convolutions, else 0)."""
    if n_power_iterations <= 0:
        raise ValueError(f"spectral_norm: n_power_iterations must be positive, got "
                         f"{n_power_iterations}")
    if dim is None:
        dim = 1 if isinstance(module, _ConvTransposeNd) else 0
    hook = _SpectralNormHook(name, n_power_iterations, dim, eps)
    weight = hook.check(module, KeyError)
    hook.handle = module.register_forward_pre_hook(hook)
    with no_grad():
        h, w = as_matrix(weight.detach(), dim).shape
        rng, dtype = _global_generator(), weight.dtype.np
        u = F.normalize(Tensor._eager(rng.standard_normal(h).astype(dtype)), dim=0, eps=eps)
        v = F.normalize(Tensor._eager(rng.standard_normal(w).astype(dtype)), dim=0, eps=eps)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    setattr(module, name, weight.data)
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    return module


def remove_spectral_norm(module: Module, name: str = "weight") -> Module:
    """The weight back as one parameter, holding weight_orig / sigma (no power step)."""
    hook = _detach_hook(module, _SpectralNormHook, name)
    with no_grad():
        weight = hook.compute_weight(module, training=False)
    delattr(module, name)
    for suffix in ("_u", "_v"):
        del module._buffers[name + suffix]
    del module._parameters[name + "_orig"]
    module.register_parameter(name, Parameter(weight.detach()))
    return module


_API = {_WeightNormHook: "weight_norm", _SpectralNormHook: "spectral_norm"}
