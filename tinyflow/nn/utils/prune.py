"""PyTorch's `torch.nn.utils.prune`, unstructured: zero a module's smallest (or random)
weights through a mask.

Pruning `weight` moves the parameter to `weight_orig`, adds the buffer `weight_mask` and
makes `weight` a plain attribute `weight_orig * weight_mask`, recomputed by a forward
pre-hook before each call, so the pruned entries get no gradient (PyTorch's keys and
mechanism). Pruning again prunes among the entries still kept; `remove` makes the pruning
permanent.
"""
from __future__ import annotations

import numbers

import numpy as np

from ...core.modes import no_grad
from ...core.random import generator as _global_generator
from ...core.tensor import Tensor
from ..modules.module import Module

__all__ = ["BasePruningMethod", "CustomFromMask", "Identity", "L1Unstructured",
           "RandomUnstructured", "custom_from_mask", "global_unstructured", "identity",
           "is_pruned", "l1_unstructured", "random_unstructured", "remove"]


def _check_amount(amount) -> None:
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real):
        raise TypeError(f"prune: amount must be an int (entries) or a float (fraction), got "
                        f"{type(amount).__name__}")
    if isinstance(amount, numbers.Integral) and amount < 0 or \
            not isinstance(amount, numbers.Integral) and not 0.0 <= amount <= 1.0:
        raise ValueError(f"prune: amount must be a count >= 0 or a fraction in [0, 1], got "
                         f"{amount}")


def _how_many(amount, size: int) -> int:
    if isinstance(amount, numbers.Integral):
        if amount > size:
            raise ValueError(f"prune: amount {amount} is more than the {size} entries there "
                             f"are to prune")
        return int(amount)
    return round(amount * size)


class BasePruningMethod:
    """A mask rule; `apply(module, name, ...)` prunes with it (combined with earlier masks).
    `among_kept`: the rule sees only the entries earlier masks kept (unstructured rules),
    or else the whole tensor and mask."""

    among_kept = False

    def compute_mask(self, scores: np.ndarray, default_mask: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @classmethod
    def apply(cls, module: Module, name: str, *args, importance_scores=None, **kwargs):
        method = cls(*args, **kwargs)
        hook = _hook_of(module, name)
        if hook is None:
            orig = module._parameters.get(name)
            if orig is None:
                raise AttributeError(f"prune: module {type(module).__name__} has no parameter "
                                     f"'{name}'")
            mask = np.ones(orig.shape, orig.dtype.np)
        else:
            orig = module._parameters[name + "_orig"]
            mask = module._buffers[name + "_mask"].numpy()
        scores = orig if importance_scores is None else importance_scores
        if tuple(scores.shape) != tuple(orig.shape):
            raise ValueError(f"prune: importance_scores shape {list(scores.shape)} must be the "
                             f"parameter's {list(orig.shape)}")
        scores = scores.detach().numpy() if isinstance(scores, Tensor) else np.asarray(scores)
        new_mask = _combined(method, scores, mask)
        if hook is None:
            del module._parameters[name]
            module.register_parameter(name + "_orig", orig)
            module.register_buffer(name + "_mask", Tensor._eager(new_mask))
            hook = _PruningHook(name)
            hook.handle = module.register_forward_pre_hook(hook)
        else:
            module._buffers[name + "_mask"].copy_(new_mask)
        hook.methods.append(method)
        hook(module, ())
        return method


class Identity(BasePruningMethod):
    def compute_mask(self, scores, default_mask):
        return default_mask


class _Amount(BasePruningMethod):
    among_kept = True

    def __init__(self, amount) -> None:
        _check_amount(amount)
        self.amount = amount

    def compute_mask(self, scores, default_mask):
        """Zero the `amount` entries ranked lowest by `_rank`."""
        mask = default_mask.copy().reshape(-1)
        k = _how_many(self.amount, scores.size)
        if k:
            mask[np.argsort(self._rank(scores).reshape(-1), kind="stable")[:k]] = 0
        return mask.reshape(default_mask.shape)


class L1Unstructured(_Amount):
    """Prune the entries of smallest absolute value."""

    def _rank(self, scores):
        return np.abs(scores)


class RandomUnstructured(_Amount):
    """Prune entries picked at random."""

    def _rank(self, scores):
        return _global_generator().random(scores.shape)


class CustomFromMask(BasePruningMethod):
    def __init__(self, mask) -> None:
        self.mask = mask.detach().numpy() if isinstance(mask, Tensor) else np.asarray(mask)

    def compute_mask(self, scores, default_mask):
        if self.mask.shape != default_mask.shape:
            raise ValueError(f"prune.custom_from_mask: mask shape {list(self.mask.shape)} "
                             f"must be the parameter's {list(default_mask.shape)}")
        return default_mask * self.mask


class _PruningHook(BasePruningMethod):
    """The forward pre-hook of one pruned tensor: `name = name_orig * name_mask`."""

    def __init__(self, name: str) -> None:
        self.name, self.methods, self.handle = name, [], None

    def __call__(self, module: Module, inputs) -> None:
        setattr(module, self.name, getattr(module, self.name + "_orig")
                * getattr(module, self.name + "_mask"))


def _combined(method: BasePruningMethod, scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The mask after `method`, on top of `mask`."""
    if not method.among_kept:
        return method.compute_mask(scores, mask)
    kept = mask == 1
    new_mask = mask.copy()
    new_mask[kept] = method.compute_mask(scores[kept], mask[kept])
    return new_mask


def _hook_of(module: Module, name: str):
    for hook, _, _ in module.__dict__.get("_forward_pre_hooks", {}).values():
        if isinstance(hook, _PruningHook) and hook.name == name:
            return hook
    return None


def identity(module: Module, name: str) -> Module:
    Identity.apply(module, name)
    return module


def random_unstructured(module: Module, name: str, amount) -> Module:
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module: Module, name: str, amount, importance_scores=None) -> Module:
    L1Unstructured.apply(module, name, amount, importance_scores=importance_scores)
    return module


def custom_from_mask(module: Module, name: str, mask) -> Module:
    CustomFromMask.apply(module, name, mask)
    return module


def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs) -> None:
    """Prune (module, name) pairs together: one ranking over all their still-kept entries,
    so layers lose different fractions."""
    parameters = list(parameters)
    importance_scores = importance_scores or {}
    scores, masks = [], []
    for module, name in parameters:
        hook = _hook_of(module, name)
        orig = getattr(module, name + "_orig" if hook else name)
        score = importance_scores.get((module, name), orig)
        scores.append(score.detach().numpy().reshape(-1))
        masks.append(module._buffers[name + "_mask"].numpy().reshape(-1) if hook
                     else np.ones(orig.numel(), orig.dtype.np))
    new_mask = _combined(pruning_method(**kwargs), np.concatenate(scores),
                         np.concatenate(masks))
    start = 0
    for (module, name), mask in zip(parameters, masks):
        part = new_mask[start:start + mask.size]
        start += mask.size
        shape = getattr(module, name).shape
        custom_from_mask(module, name, part.reshape(shape))


def is_pruned(module: Module) -> bool:
    """Whether the module or one of its submodules has a pruned tensor."""
    return any(isinstance(hook, _PruningHook)
               for m in module.modules()
               for hook, _, _ in m.__dict__.get("_forward_pre_hooks", {}).values())


def remove(module: Module, name: str) -> Module:
    """Make the pruning permanent: `name` a parameter again, holding orig * mask (the
    `_orig` Parameter object itself, so an optimizer's reference holds)."""
    hook = _hook_of(module, name)
    if hook is None:
        raise ValueError(f"prune.remove: '{name}' of {type(module).__name__} is not pruned")
    hook.handle.remove()
    orig = module._parameters.pop(name + "_orig")
    with no_grad():
        orig.data = orig.detach().numpy() * module._buffers.pop(name + "_mask").numpy()
    delattr(module, name)
    module.register_parameter(name, orig)
    return module
