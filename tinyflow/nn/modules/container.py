"""Containers: Sequential (a chain), ModuleList and ModuleDict (registered collections),
ParameterList and ParameterDict. Their items are registered submodules or parameters, so
parameters() and state_dict() see them under their index or key."""
from __future__ import annotations

import operator
from collections import OrderedDict

from ...core.modes import TRACING_THREADS
from ...core.tensor import Tensor
from .module import _CALL, _HOOKED, Module, Parameter, _indent


def _position(container: Module, idx: int) -> int:
    """`idx` as a position in 0..len-1 (negative counts from the end), or an IndexError that
    names the container."""
    size = len(container)
    idx = operator.index(idx)
    if not -size <= idx < size:
        raise IndexError(f"{type(container).__name__}: index {idx} is out of range for "
                         f"{size} entries")
    return idx % size


class Sequential(Module):
    """Calls its modules in order, each on the previous one's output."""

    def __init__(self, *args) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for key, module in args[0].items():
                self.add_module(key, module)
        else:
            for idx, module in enumerate(args):
                self.add_module(str(idx), module)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_position(self, idx)]

    def __setitem__(self, idx: int, module: Module) -> None:
        setattr(self, list(self._modules)[_position(self, idx)], module)

    def __delitem__(self, idx) -> None:
        keys = list(self._modules)
        for key in (keys[idx] if isinstance(idx, slice) else [keys[_position(self, idx)]]):
            del self._modules[key]
        if all(k.isdigit() for k in keys):  # renumber, as PyTorch does
            modules = list(self._modules.values())
            self._modules.clear()
            for i, m in enumerate(modules):
                self._modules[str(i)] = m

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module) -> "Sequential":
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules) -> "Sequential":
        for m in modules:
            self.append(m)
        return self

    def pop(self, key: int | slice) -> Module:
        """Remove and return the module at `key` (the rest renumbered)."""
        module = self[key]
        del self[key]
        return module

    def insert(self, index: int, module: Module) -> "Sequential":
        if not -len(self) <= index <= len(self):
            raise IndexError(f"Sequential.insert: index {index} is out of range for "
                             f"{len(self)} modules")
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(modules):
            self.add_module(str(i), m)
        return self

    def forward(self, input):
        """Each module on the previous one's output. With no hook registered on any module
        and no trace, a layer whose class keeps `Module.__call__` has its `forward` called
        directly: what that `__call__` does with one tensor, without its frame (~1.8k
        instructions a layer at batch 1). (A layer's forward may hook the next: asked at
        each layer.)"""
        for module in self._modules.values():
            if _HOOKED or TRACING_THREADS or type(module).__call__ is not _CALL:
                input = module(input)
            else:
                input = module.forward(input)
        return input


class ModuleList(Module):
    """A list of submodules, registered so their parameters are found (no forward)."""

    def __init__(self, modules=None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return list(self._modules.values())[_position(self, idx)]

    def __setitem__(self, idx: int, module: Module) -> None:
        setattr(self, list(self._modules)[_position(self, idx)], module)

    def __delitem__(self, idx) -> None:
        modules = list(self._modules.values())
        del modules[idx if isinstance(idx, slice) else _position(self, idx)]
        self._modules.clear()
        self.extend(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __repr__(self) -> str:
        """Runs of identical layers print once, as "(0-3): 4 x Block(...)" (as PyTorch)."""
        runs: list = []   # [first index, last index, repr]
        for i, m in enumerate(self):
            text = repr(m)
            if runs and runs[-1][2] == text:
                runs[-1][1] = i
            else:
                runs.append([i, i, text])
        if not runs:
            return f"{self._get_name()}()"
        lines = [_indent(f"({a}): {text}" if a == b else f"({a}-{b}): {b - a + 1} x {text}", 2)
                 for a, b, text in runs]
        return f"{self._get_name()}(\n  " + "\n  ".join(lines) + "\n)"

    def __iadd__(self, modules) -> "ModuleList":
        return self.extend(modules)

    def append(self, module: Module) -> "ModuleList":
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules) -> "ModuleList":
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._modules.clear()
        self.extend(modules)

    def pop(self, key: int | slice) -> Module:
        """Remove and return the module at `key` (the rest renumbered)."""
        module = self[key]
        del self[key]
        return module


class _Table:
    """The dict methods ModuleDict and ParameterDict share, over the Module table named by
    `_table` (`_modules` or `_parameters`)."""
    _table: str

    def __init__(self, entries=None) -> None:
        super().__init__()
        if entries is not None:
            self.update(entries)

    def __getitem__(self, key: str):
        return self._entries()[key]

    def _entries(self) -> OrderedDict:
        return self.__dict__[self._table]

    def __delitem__(self, key: str) -> None:
        del self._entries()[key]

    def __len__(self) -> int:
        return len(self._entries())

    def __iter__(self):
        return iter(self._entries())

    def __contains__(self, key: str) -> bool:
        return key in self._entries()

    def keys(self):
        return self._entries().keys()

    def values(self):
        return self._entries().values()

    def items(self):
        return self._entries().items()

    def pop(self, key: str):
        return self._entries().pop(key)

    def clear(self) -> None:
        self._entries().clear()


class ModuleDict(_Table, Module):
    """A dict of submodules by name, in insertion order (no forward)."""
    _table = "_modules"

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def update(self, modules) -> None:
        items = modules.items() if hasattr(modules, "items") else modules
        for key, module in items:
            self[key] = module


class ParameterList(Module):
    """A list of parameters, registered under '0', '1', ... (tensors become Parameters)."""

    def __init__(self, values=None) -> None:
        super().__init__()
        self.extend(values or ())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._parameters.values())[idx])
        return list(self._parameters.values())[_position(self, idx)]

    def __setitem__(self, idx: int, value) -> None:
        key = list(self._parameters)[_position(self, idx)]
        self._parameters[key] = _as_parameter(value, f"ParameterList[{idx}]")

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def __iadd__(self, values) -> "ParameterList":
        return self.extend(values)

    def append(self, value) -> "ParameterList":
        self.register_parameter(str(len(self)),
                                _as_parameter(value, f"ParameterList[{len(self)}]"))
        return self

    def extend(self, values) -> "ParameterList":
        for value in values:
            self.append(value)
        return self

    def extra_repr(self) -> str:
        return "\n".join(f"({i}): {_describe(p)}" for i, p in enumerate(self))


class ParameterDict(_Table, Module):
    """A dict of parameters by name, in insertion order; state_dict() keys are the names."""
    _table = "_parameters"

    def __setitem__(self, key: str, value) -> None:
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict: keys are strings, got {type(key).__name__}")
        self.register_parameter(key, _as_parameter(value, f"ParameterDict[{key!r}]"))

    def __reversed__(self):
        return reversed(list(self._parameters))

    def get(self, key: str, default=None):
        return self._parameters.get(key, default)

    def popitem(self) -> tuple:
        return self._parameters.popitem()

    def setdefault(self, key: str, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def copy(self) -> "ParameterDict":
        """A new ParameterDict holding the same Parameter objects."""
        return type(self)(OrderedDict(self._parameters))

    def __or__(self, other) -> "ParameterDict":
        merged = self.copy()
        merged.update(other)
        return merged

    def __ror__(self, other):
        """`dict | ParameterDict`: the left operand's kind (a copy of it) updated."""
        merged = other.copy()
        merged.update(self)
        return merged

    def __ior__(self, other) -> "ParameterDict":
        self.update(other)
        return self

    def fromkeys(self, keys, default=None) -> "ParameterDict":
        return type(self)((k, default) for k in keys)

    def update(self, parameters) -> None:
        """Add (key, value) pairs from a mapping or an iterable of pairs; a plain dict's keys
        are sorted (its order is not the user's intent), as PyTorch does."""
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            items = parameters.items()
        elif hasattr(parameters, "items"):
            items = sorted(parameters.items())
        else:
            items = []
            for k, pair in enumerate(parameters):
                if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                    raise ValueError(f"ParameterDict.update: element {k} is not a (key, "
                                     f"value) pair")
                items.append(pair)
        for key, value in items:
            self[key] = value

    def extra_repr(self) -> str:
        return "\n".join(f"({k}): {_describe(p)}" for k, p in self.items())


def _as_parameter(value, where: str):
    """A tensor as a Parameter (a Parameter or None as it is); anything else refused."""
    if value is None or isinstance(value, Parameter):
        return value
    if not isinstance(value, Tensor):
        raise TypeError(f"{where}: a {type(value).__name__} is not a tensor or Parameter")
    return Parameter(value)


def _describe(p) -> str:
    if p is None:
        return "None"
    return f"Parameter containing: [{p.dtype.name} of size {'x'.join(map(str, p.shape))}]"
