"""PyTorch's `torch.nn.utils.parametrize`: a module's tensor computed from other tensors.

`register_parametrization(module, "weight", p)` moves the tensor to
`module.parametrizations.weight.original` (or `original0`, `original1`, ... when `p` has a
`right_inverse` returning several tensors) and gives the module a class of its own,
`Parametrized<Class>`, whose `weight` property runs `p` on each read. So `state_dict` keys are
PyTorch's, optimizers see the originals, and the layer's `forward` is unchanged.
"""
from __future__ import annotations

import contextlib
from typing import Optional

from ...core.modes import no_grad
from ...core.tensor import Tensor
from ..modules.container import ModuleDict, ModuleList
from ..modules.module import Module, Parameter

__all__ = ["cached", "is_parametrized", "register_parametrization", "remove_parametrizations",
           "type_before_parametrizations", "ParametrizationList"]

_cache: dict = {}        # (id(module), name) -> value, inside `cached()`
_cache_depth = [0]


@contextlib.contextmanager
def cached():
    """Inside, each parametrized tensor is computed once and reused (a weight read by several
    calls of one step, as in an RNN), as PyTorch's."""
    _cache_depth[0] += 1
    try:
        yield
    finally:
        _cache_depth[0] -= 1
        if not _cache_depth[0]:
            _cache.clear()


def _tensor_of(original: Tensor, value: Tensor, as_parameter: bool) -> Tensor:
    value = value.detach() if isinstance(value, Tensor) else Tensor._eager(value)
    if as_parameter:
        return Parameter(value, requires_grad=original.requires_grad)
    return value


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order, and the tensor(s) they read:
    `original`, or `original0`, `original1`, ... when the first one's `right_inverse`
    splits it."""

    def __init__(self, modules, original: Tensor, unsafe: bool = False) -> None:
        super().__init__(modules)
        self.unsafe = unsafe
        as_parameter = isinstance(original, Parameter)
        with no_grad():
            new = original
            for module in reversed(list(self)):
                if not hasattr(module, "right_inverse"):
                    continue
                new = module.right_inverse(new)
        self.is_tensor = isinstance(new, Tensor)
        if self.is_tensor:
            if tuple(new.shape) != tuple(original.shape) and not unsafe:
                raise ValueError(f"register_parametrization: right_inverse must keep the "
                                 f"original's shape {list(original.shape)}, got "
                                 f"{list(new.shape)}")
            if new is not original:
                with no_grad():   # the same Parameter object: an optimizer holding it stays
                    original.data = new.detach().numpy().astype(original.dtype.np)
            self._register("original", original, as_parameter)
        else:
            if not isinstance(new, (tuple, list)):
                raise ValueError(f"register_parametrization: right_inverse must return a "
                                 f"tensor or a sequence of tensors, got {type(new).__name__}")
            self.ntensors = len(new)
            for i, t in enumerate(new):
                self._register(f"original{i}", _tensor_of(original, t, as_parameter),
                               as_parameter)
        if not unsafe:
            with no_grad():
                value = self()
            if tuple(value.shape) != tuple(original.shape) or value.dtype != original.dtype:
                raise ValueError(f"register_parametrization: the parametrization must keep the "
                                 f"tensor's shape and dtype {list(original.shape)} "
                                 f"{original.dtype.name}, got {list(value.shape)} "
                                 f"{value.dtype.name} (unsafe=True allows it)")

    def _register(self, name: str, tensor: Tensor, as_parameter: bool) -> None:
        if as_parameter:
            self.register_parameter(name, tensor)
        else:
            self.register_buffer(name, tensor)

    def right_inverse(self, value: Tensor) -> None:
        """`module.weight = value`: the originals set so that the parametrization gives value
        (each parametrization's right_inverse, last first)."""
        with no_grad():
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    value = module.right_inverse(value)
            if self.is_tensor:
                self.original.copy_(value)
            else:
                if not isinstance(value, (tuple, list)) or len(value) != self.ntensors:
                    raise ValueError(f"right_inverse: expected {self.ntensors} tensors")
                for i, t in enumerate(value):
                    getattr(self, f"original{i}").copy_(t)

    def forward(self) -> Tensor:
        modules = list(self)
        if self.is_tensor:
            x = modules[0](self.original)
        else:
            x = modules[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for module in modules[1:]:
            x = module(x)
        return x


def _parametrized_property(name: str) -> property:
    def get(module):
        if not _cache_depth[0]:
            return module.parametrizations[name]()
        key = (id(module), name)
        if key not in _cache:
            _cache[key] = module.parametrizations[name]()
        return _cache[key]

    def set_(module, value):
        module.parametrizations[name].right_inverse(value)

    return property(get, set_)


def register_parametrization(module: Module, tensor_name: str, parametrization: Module, *,
                             unsafe: bool = False) -> Module:
    """Make `module.<tensor_name>` read `parametrization(original)`; see the module doc."""
    if not isinstance(parametrization, Module):
        raise TypeError(f"register_parametrization: the parametrization must be an nn.Module, "
                        f"got {type(parametrization).__name__}")
    if is_parametrized(module, tensor_name):
        plist = module.parametrizations[tensor_name]
        if not unsafe:
            before = getattr(module, tensor_name)
            with no_grad():
                after = parametrization(before)
            if tuple(after.shape) != tuple(before.shape) or after.dtype != before.dtype:
                raise ValueError(f"register_parametrization: the parametrization of "
                                 f"'{tensor_name}' must keep its shape and dtype "
                                 f"{list(before.shape)} {before.dtype.name}, got "
                                 f"{list(after.shape)} {after.dtype.name}")
        plist.append(parametrization)
        plist.unsafe |= unsafe
        return module
    if tensor_name not in module._parameters and tensor_name not in module._buffers:
        raise ValueError(f"register_parametrization: module {type(module).__name__} has no "
                         f"parameter or buffer named '{tensor_name}'")
    original = getattr(module, tensor_name)
    plist = ParametrizationList([parametrization], original, unsafe=unsafe)
    delattr(module, tensor_name)
    if not is_parametrized(module):
        cls = type(module)
        module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), {
            "_original_class": cls})
        module.parametrizations = ModuleDict()
    module.parametrizations[tensor_name] = plist
    setattr(type(module), tensor_name, _parametrized_property(tensor_name))
    return module


def is_parametrized(module: Module, tensor_name: Optional[str] = None) -> bool:
    """Whether the module (or its tensor `tensor_name`) has a parametrization."""
    plists = module._modules.get("parametrizations")
    if not isinstance(plists, ModuleDict) or "_original_class" not in type(module).__dict__:
        return False
    return len(plists) > 0 if tensor_name is None else tensor_name in plists


def type_before_parametrizations(module: Module) -> type:
    """The module's class before `register_parametrization` gave it its own."""
    return type(module).__dict__.get("_original_class", type(module)) \
        if is_parametrized(module) else type(module)


def remove_parametrizations(module: Module, tensor_name: str,
                            leave_parametrized: bool = True) -> Module:
    """Undo `register_parametrization`: the tensor becomes a plain parameter (buffer) again,
    holding the parametrized value (`leave_parametrized`) or the original."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"remove_parametrizations: module {type(module).__name__} has no "
                         f"parametrization on '{tensor_name}'")
    plist = module.parametrizations[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            with no_grad():
                value = getattr(module, tensor_name)
                original.data = value.detach().numpy().astype(original.dtype.np)
    else:
        if not leave_parametrized:
            raise ValueError("remove_parametrizations: leave_parametrized=False needs a "
                             "parametrization on one original tensor; this one has "
                             f"{plist.ntensors}")
        with no_grad():
            value = getattr(module, tensor_name)
        first = plist.original0
        original = _tensor_of(first, value, isinstance(first, Parameter))
    delattr(type(module), tensor_name)
    del module.parametrizations[tensor_name]
    if isinstance(original, Parameter):
        module.register_parameter(tensor_name, original)
    else:
        module.register_buffer(tensor_name, original)
    if not module.parametrizations._modules:
        delattr(module, "parametrizations")
        module.__class__ = type(module).__dict__["_original_class"]
    return module
