"""PyTorch's `torch.nn.utils.parametrizations`: weight normalization and spectral
normalization as parametrizations (parametrize.py), with PyTorch's state_dict keys
(`parametrizations.weight.original0` / `original1`; `original` and the `0._u`, `0._v` power
iteration vectors)."""
from __future__ import annotations

from typing import Optional

from ...core.modes import no_grad
from ...core.random import generator as _global_generator
from ...core.tensor import Tensor
from .. import functional as F
from ..modules.conv import _ConvTransposeNd
from ..modules.module import Module
from .parametrize import register_parametrization

__all__ = ["spectral_norm", "weight_norm"]


def norm_except_dim(v: Tensor, dim: int) -> Tensor:
    """The 2-norm of v over every dim but `dim`, kept as size-1 dims; dim -1 (or None): over
    all of v, a scalar (PyTorch's reading of -1 here, whatever v's rank)."""
    if dim is None or dim == -1:
        return v.norm()
    dim %= v.ndim
    others = tuple(i for i in range(v.ndim) if i != dim)
    return v.norm(2, dim=others, keepdim=True) if others else v.abs()


def weight_times_norm(v: Tensor, g: Tensor, dim: Optional[int]) -> Tensor:
    """w = g v / ||v||: direction from v, length from g (Salimans & Kingma, 2016)."""
    return v * (g / norm_except_dim(v, dim))


class _WeightNorm(Module):
    """weight from (original0 = g, original1 = v); right_inverse splits a weight into them."""

    def __init__(self, dim: Optional[int] = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_times_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight: Tensor):
        return norm_except_dim(weight, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: Optional[int] = 0) -> Module:
    """Reparametrize `module.<name>` as g v / ||v|| (norm over all dims but `dim`)."""
    register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def old_keys_to_new(state_dict, prefix, *_):
        """A checkpoint of the hook spelling (`weight_g`, `weight_v`) loads here: its keys
        are renamed to `parametrizations.weight.original0` / `original1`, as PyTorch does."""
        g_key, v_key = f"{prefix}{name}_g", f"{prefix}{name}_v"
        if g_key in state_dict and v_key in state_dict:
            state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(g_key)
            state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(v_key)

    module._register_load_state_dict_pre_hook(old_keys_to_new)
    return module


def as_matrix(weight: Tensor, dim: int) -> Tensor:
    """weight as [size of dim, everything else]: the matrix whose top singular value
    spectral normalization divides by."""
    if dim != 0:
        weight = weight.movedim(dim, 0)
    return weight.flatten(1)


class _SpectralNorm(Module):
    """weight / sigma, sigma the top singular value estimated by power iteration on the
    buffers `_u`, `_v` (updated in training mode only)."""

    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0,
                 eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.ndim
        if not -ndim <= dim < max(ndim, 1):
            raise IndexError(f"spectral_norm: dim {dim} is out of range for a weight of shape "
                             f"{list(weight.shape)}")
        if n_power_iterations <= 0:
            raise ValueError(f"spectral_norm: n_power_iterations must be positive, got "
                             f"{n_power_iterations}")
        self.dim = dim % ndim if ndim else 0
        self.eps, self.n_power_iterations = eps, n_power_iterations
        if ndim > 1:
            with no_grad():
                mat = as_matrix(weight.detach(), self.dim)
                h, w = mat.shape
                rng = _global_generator()
                dtype = weight.dtype.np
                u = Tensor._eager(rng.standard_normal(h).astype(dtype))
                v = Tensor._eager(rng.standard_normal(w).astype(dtype))
                self.register_buffer("_u", F.normalize(u, dim=0, eps=eps))
                self.register_buffer("_v", F.normalize(v, dim=0, eps=eps))
                self._power_method(mat, 15)

    def _power_method(self, mat: Tensor, n: int) -> None:
        """u <- normalize(W v), v <- normalize(W^T u), n times, in place."""
        with no_grad():
            mat = mat.detach()
            for _ in range(n):
                self._u.copy_(F.normalize(mat @ self._v, dim=0, eps=self.eps))
                self._v.copy_(F.normalize(mat.t() @ self._u, dim=0, eps=self.eps))

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        mat = as_matrix(weight, self.dim)
        if self.training:
            self._power_method(mat, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        return weight / (u * (mat @ v)).sum()

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1,
                  eps: float = 1e-12, dim: Optional[int] = None) -> Module:
    """Reparametrize `module.<name>` as weight / sigma(weight) (Miyato et al., 2018); dim is
    the output dim: 1 for transposed convolutions, else 0."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"spectral_norm: module {type(module).__name__} has no parameter or "
                         f"buffer named '{name}'")
    if dim is None:
        dim = 1 if isinstance(module, _ConvTransposeNd) else 0
    register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
