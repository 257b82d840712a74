"""Guards on what a traced function read besides its arguments: the globals and closure cells
its code names (and those of the user functions it calls), and the plain attributes,
parameters and buffers of the modules it called. A trace bakes them into the graph (a number
as a constant, a tensor as a leaf), so a later call after `scale = 3.0` or `self.w = other`
must recompile, as torch.compile's guards on globals and closures make it do.

Plain values (numbers, bools, strings, tuples, lists and dicts of them, small NumPy arrays)
are guarded by value (a snapshot: a list mutated in place recompiles), the attributes of a
plain object read as a global (an argparse Namespace, a config) likewise, everything else
(tensors, modules, functions) by identity. Each guard is `("value", (dict, name), seen)` or
`("cell", cell, seen)`, checked by `_Graph.valid` with `matches`."""
from __future__ import annotations

import os
import sys
import types
from typing import Optional

import numpy as np

from ..core.tensor import EAGER, Tensor
from ..nn.modules.module import Module

MISSING = object()        # a name no longer defined
_MAX_FUNCTIONS = 64        # user functions followed per trace (a bound on the guard count)
_MAX_ITEMS = 64            # longer tuples are guarded by identity (a check on every call)
_MAX_ARRAY = 1 << 12       # larger NumPy arrays are guarded by identity
_LIBRARY = tuple(os.path.normcase(p) for p in {
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),   # tinyflow itself
    sys.prefix, sys.base_prefix, sys.exec_prefix})


def seen_value(value) -> tuple:
    """What a guard remembers of `value`: (True, type, value) to compare by value, (False,
    value) by identity."""
    if _plain(value):
        return (True, type(value), _snapshot(value))
    if type(value) is np.ndarray and value.size <= _MAX_ARRAY:
        return (True, np.ndarray, value.copy())
    return (False, value)


def seen_data(t: Tensor) -> tuple:
    """What a guard remembers of an eager tensor whose value the traced Python read: a copy
    of a small one (compared by value, as a small array), else its buffer and version (an
    in-place write bumps the version)."""
    if type(t.array) is np.ndarray and t.array.size <= _MAX_ARRAY:
        return seen_value(t.array)
    return (False, t.array, t._version[0])


def data_matches(t: Tensor, seen: tuple) -> bool:
    """Whether `t` still holds what the trace read."""
    if seen[0]:
        return matches(t.array, seen)
    return t.array is seen[1] and t._version[0] == seen[2]


def _snapshot(value):
    """A copy of a plain value that later in-place changes of `value` leave alone."""
    if type(value) is list:
        return [_snapshot(v) for v in value]
    if type(value) is dict:
        return {k: _snapshot(v) for k, v in value.items()}
    return value


def matches(value, seen: tuple) -> bool:
    """Whether `value` (the name's value now) is what the trace saw."""
    if seen[0]:
        old = seen[2]
        if seen[1] is np.ndarray:
            return (type(value) is np.ndarray and value.dtype == old.dtype
                    and value.shape == old.shape and np.array_equal(value, old, equal_nan=
                                                                    value.dtype.kind in "fc"))
        return type(value) is seen[1] and (value == old or (value != value and old != old))
    return value is seen[1]


def _plain(value) -> bool:
    if isinstance(value, (bool, int, float, complex, str, bytes, type(None), np.generic)):
        return True
    if type(value) is dict:
        return len(value) <= _MAX_ITEMS and all(_plain(k) and _plain(v)
                                                for k, v in value.items())
    return type(value) in (tuple, frozenset, list) and len(value) <= _MAX_ITEMS and \
        all(_plain(v) for v in value)


def capture_guards(fn, modules) -> list:
    """The guards on the globals and closure cells `fn` (and the user functions it names)
    reads, and on the attributes of `modules` (the modules the trace called)."""
    guards = []
    for kind, where, value, names in _reads(fn, [type(m).forward for m in modules]):
        guards.append((kind, where, seen_value(value)))
        if kind == "value":
            guards += _object_guards(value, names)
    for m in modules:
        guards += _module_guards(m)
    return guards


def _reads(fn, more=()):
    """(kind, where, value, names) of each global ("value", (scope, name)) and closure cell
    ("cell", cell) that `fn`, the functions `more` and the user functions they name read
    (`names`: those its code names)."""
    done = set()
    todo = list(more) + [fn]
    while todo and len(done) < _MAX_FUNCTIONS:
        f = _function(todo.pop())
        if f is None or id(f) in done or _is_library(f.__code__):
            continue
        done.add(id(f))
        scope = f.__globals__
        names = _global_names(f.__code__)
        for name in names:
            value = scope.get(name, MISSING)
            if value is MISSING:          # a builtin, or not defined yet (unused branch)
                continue
            yield "value", (scope, name), value, names
            todo.append(value)
        for cell in f.__closure__ or ():
            try:
                value = cell.cell_contents
            except ValueError:              # an empty cell (assigned later)
                continue
            yield "cell", cell, value, names
            todo.append(value)


def python_state(fn, modules) -> list:
    """Before a trace: the Python state `fn` may change, as (kind, where, what it holds):
    its globals and closure cells (rebound), the lists and dicts they hold (changed in
    place), the plain attributes its code names of the objects they hold, and those of
    `modules`. A trace runs the Python once: a graph would not repeat a change it made
    (`changed`), and an eager run after a graph break must not make it twice (`restore`)."""
    state, modules = [], list(modules)
    for kind, where, value, names in _reads(fn, [type(m).forward for m in modules]):
        state.append((kind, where, value))
        if isinstance(value, Module):
            modules += value.modules()
        elif type(value) in (list, dict):
            state += _held([value])
        else:   # (an attribute it sets the first time, too)
            attrs = _object_attrs(value)
            state += [("value", (attrs, name), attrs.get(name, MISSING))
                      for name in (() if attrs is None else names)
                      if _plain(attrs.get(name))]
    for m in modules:   # its attributes (one set the first time: a cache), its buffers and
        #                 parameters, and the lists and dicts it holds
        tables = [m.__dict__] + [m.__dict__[k] for k in ("_buffers", "_parameters")
                                 if k in m.__dict__]
        state += [("dict", d, dict(d)) for d in tables] + _held(m.__dict__.values())
    return state


def _held(values) -> list:
    """`python_state` entries for the lists and dicts among `values` (changed in place)."""
    return [("list", v, list(v)) if type(v) is list else ("dict", v, dict(v))
            for v in values if type(v) in (list, dict)]


def changed(state: list) -> bool:
    """Whether any of `state` (`python_state`) changed since."""
    for kind, where, old in state:
        if kind == "value":
            now = where[0].get(where[1], MISSING)
        elif kind == "cell":
            try:
                now = where.cell_contents
            except ValueError:
                return True
        elif kind == "list":
            if len(where) != len(old) or any(a is not b for a, b in zip(where, old)):
                return True
            continue
        else:
            if where.keys() != old.keys() or not all(_same(where[k], v)
                                                     for k, v in old.items()):
                return True
            continue
        if not _same(now, old):
            return True
    return False


def _same(now, old) -> bool:
    """The same object, or an equal plain value (a number stored again)."""
    return now is old or (_plain(now) and type(now) is type(old) and now == old)


def holds_traced(state: list) -> bool:
    """Whether `state` (`python_state`) now holds a traced tensor (a node of the trace, which
    an eager or a later call could not read)."""
    for kind, where, _ in state:
        if kind == "value":
            now = (where[0].get(where[1]),)
        elif kind == "cell":
            try:
                now = (where.cell_contents,)
            except ValueError:
                continue
        else:
            now = where if kind == "list" else where.values()
        if any(isinstance(v, Tensor) and v.kind != EAGER for v in now):
            return True
    return False


def restore(state: list) -> None:
    """Put back what `state` (`python_state`) held."""
    for kind, where, old in state:
        if kind == "value":
            if old is MISSING:
                where[0].pop(where[1], None)
            else:
                where[0][where[1]] = old
        elif kind == "cell":
            where.cell_contents = old
        elif kind == "list":
            where[:] = old
        else:
            where.clear()
            where.update(old)


def _object_guards(value, names: set) -> list:
    """The plain attributes of a plain object (an instance of a user class, a Namespace)
    that the code may read (attribute names are among its `names`): a counter it does not
    read may change every call without recompiling."""
    attrs = _object_attrs(value)
    if attrs is None:
        return []
    return [("value", (attrs, name), seen_value(v)) for name, v in attrs.items()
            if name in names and _plain(v)]


def _object_attrs(value) -> Optional[dict]:
    """The attributes of a plain object (not a class, module, function, tensor or array, and
    not callable), or None."""
    if isinstance(value, (type, types.ModuleType, types.FunctionType, types.MethodType,
                          Tensor, np.ndarray)) or callable(value):
        return None
    attrs = getattr(value, "__dict__", None)
    return attrs if type(attrs) is dict and len(attrs) <= _MAX_ITEMS else None


def _module_guards(module) -> list:
    """Its plain attributes by value (`training` is guarded on its own), its parameters,
    buffers and submodules by identity."""
    guards = []
    attrs = module.__dict__
    for name, value in attrs.items():
        if name != "training" and _plain(value) or isinstance(value, Tensor):
            guards.append(("value", (attrs, name), seen_value(value)))
    for table in ("_parameters", "_buffers", "_modules"):
        entries = attrs.get(table)
        for name, value in (entries or {}).items():
            guards.append(("value", (entries, name), (False, value)))
    return guards


def _function(value) -> Optional[types.FunctionType]:
    """The Python function behind `value` (a function, bound method, partial, module), or
    None."""
    if isinstance(value, types.MethodType):
        value = value.__func__
    elif hasattr(value, "func") and type(value).__name__ == "partial":
        value = value.func
    elif not isinstance(value, types.FunctionType):
        forward = getattr(type(value), "forward", None)
        if isinstance(forward, types.FunctionType) and callable(value):
            value = forward
    return value if isinstance(value, types.FunctionType) else None


def _is_library(code) -> bool:
    return os.path.normcase(code.co_filename).startswith(_LIBRARY)


def _global_names(code) -> set:
    """The names `code` and the code nested in it (lambdas, comprehensions, inner
    functions) may read as globals."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names
