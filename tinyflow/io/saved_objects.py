"""`torch.save` of the objects PyTorch programs save — a state dict, and also the tutorials'
checkpoint `{"epoch": 3, "model_state_dict": ..., "optimizer_state_dict": ..., "loss": t}`
(nested dicts with int keys, lists, tuples, numbers, strings, None, tensors, arrays) — without
pickle: the tensors are the safetensors file's entries and the structure around them is JSON in
the file's metadata. A flat {name: tensor} dict is written as a plain safetensors file, as
before, so other tools read it; loading such a file (or one PyTorch wrote) gives that dict.

A whole model (`torch.save(model, f)`, as pytorch/examples' word_language_model does) is saved
as its class's name and its attributes, still without pickle: loading looks the class up only
among the globals the user allowed (`safe_globals`/`add_safe_globals`, as PyTorch's
weights_only load asks), or imports it with `weights_only=False`; then it fills a bare
instance's `__dict__`, so no code from the file runs. Functions kept as attributes (an
activation) are saved by name and allowed the same way."""
from __future__ import annotations

import contextlib
import importlib
import json
import struct
import types
from collections import OrderedDict

import numpy as np

from ..core.tensor import Tensor
from . import checkpoint

STRUCTURE_KEY = "tinyflow.object"      # the metadata entry holding the JSON structure
ORDER_KEY = "tinyflow.order"           # a flat dict's key order, where it is not sorted
_SCALARS = (bool, int, float, str, type(None))
_GLOBAL_TYPES = (type, types.FunctionType, types.BuiltinFunctionType)
_safe_globals: dict = {}               # "module:qualname" -> a class or function the user allowed
_tensor_types: dict = {}               # "module:qualname" -> a Tensor subclass (nn.Parameter)


def add_safe_globals(objs) -> None:
    """Allow these classes/functions in files that `load_object` reads (PyTorch's spelling)."""
    for obj in objs:
        obj = obj[0] if isinstance(obj, tuple) else obj
        _safe_globals[global_name(obj)] = obj


def get_safe_globals() -> list:
    return list(_safe_globals.values())


def clear_safe_globals() -> None:
    _safe_globals.clear()


@contextlib.contextmanager
def safe_globals(objs):
    """`with safe_globals([...]):` allows them for the loads inside only."""
    before = dict(_safe_globals)
    add_safe_globals(objs)
    try:
        yield
    finally:
        _safe_globals.clear()
        _safe_globals.update(before)


def register_tensor_type(cls) -> None:
    """A Tensor subclass that saves as its data and comes back as its class (nn.Parameter)."""
    _tensor_types[global_name(cls)] = cls


def global_name(obj) -> str:
    return f"{obj.__module__}:{obj.__qualname__}"


def save_object(obj, f) -> None:
    """Write `obj` to a path (atomically) or a binary file object."""
    if _is_flat_state_dict(obj):
        checkpoint.save(obj, f, metadata=_order_note(obj))
        return
    arrays: dict = {}
    structure = _encode(obj, arrays, {}, "")
    checkpoint.save(arrays, f, metadata={STRUCTURE_KEY: json.dumps(structure)})


def load_object(f, weights_only: bool = True):
    """What `save_object` wrote (or {name: tensor} for a plain safetensors file). Classes and
    functions must be allowed (`safe_globals`) unless `weights_only=False`."""
    data, where = checkpoint.read_bytes(f)
    entries = checkpoint.load_bytes(data, where)
    metadata = _metadata(data)
    structure = metadata.get(STRUCTURE_KEY)
    if structure is None:
        return _in_saved_order(entries, metadata.get(ORDER_KEY))
    try:
        return _decode(json.loads(structure), entries, {}, weights_only)
    except UnsafeGlobalError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise ValueError(f"load: {where} has a malformed {STRUCTURE_KEY!r} entry ({e!r})") \
            from None


def _order_note(state: dict):
    """The metadata keeping a flat dict's key order: safetensors files list their entries
    sorted by name, and a PyTorch user iterating a loaded state dict expects the saved
    order (a model's parameter order). None when the keys are sorted already, so such a
    file is byte for byte what safetensors' own writer makes of the dict."""
    names = list(state)
    return None if names == sorted(names) else {ORDER_KEY: json.dumps(names)}


def _in_saved_order(entries: dict, note) -> dict:
    """`entries` in the order `_order_note` recorded; as read when there is no note, or one
    that does not name exactly these entries (a file another tool rewrote)."""
    try:
        order = json.loads(note) if note is not None else None
    except ValueError:
        return entries
    if not isinstance(order, list) or sorted(map(str, order)) != sorted(entries) or len(
            order) != len(entries):
        return entries
    return {name: entries[name] for name in order}


def _is_flat_state_dict(obj) -> bool:
    return isinstance(obj, dict) and all(
        isinstance(k, str) and isinstance(v, (Tensor, np.ndarray)) for k, v in obj.items())


def _encode(obj, arrays: dict, seen: dict, where: str):
    """JSON for `obj`; tensors and arrays go into `arrays` under their path (one entry for a
    tensor met twice, so sharing survives the round trip)."""
    if isinstance(obj, _SCALARS) and not isinstance(obj, np.generic):
        return obj
    if isinstance(obj, (Tensor, np.ndarray, np.generic)):
        key = seen.get(id(obj))
        if key is None:
            key = seen[id(obj)] = _unique(where or "value", arrays)
            arrays[key] = obj
        kind = ("tensor" if isinstance(obj, Tensor) else
                "ndarray" if isinstance(obj, np.ndarray) else "numpy_scalar")
        out = {"type": kind, "key": key}
        if isinstance(obj, Tensor) and obj.requires_grad:
            out["requires_grad"] = True
        if isinstance(obj, Tensor) and type(obj) is not Tensor:
            out["class"] = _tensor_class(obj, where)
        return out
    if isinstance(obj, (set, frozenset)):
        items = [_encode(v, arrays, seen, f"{where}/{i}".lstrip("/"))
                 for i, v in enumerate(sorted(obj, key=repr))]
        return {"type": type(obj).__name__, "items": items}
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, arrays, seen, f"{where}/{i}".lstrip("/")) for i, v in enumerate(obj)]
        return {"type": "list" if isinstance(obj, list) else "tuple", "items": items}
    if isinstance(obj, dict):
        pairs = []
        for k, v in obj.items():
            if not isinstance(k, _SCALARS) or isinstance(k, np.generic):
                raise TypeError(f"save: {_named(where)} has a key {k!r} of type "
                                f"{type(k).__name__}; keys must be strings, numbers, bools "
                                f"or None (nothing is pickled)")
            pairs.append([k, _encode(v, arrays, seen, f"{where}/{k}".lstrip("/"))])
        return {"type": "ordered_dict" if isinstance(obj, OrderedDict) else "dict",
                "items": pairs}
    if isinstance(obj, _GLOBAL_TYPES):
        return {"type": "global", "name": _importable_name(obj, where)}
    if type(obj).__dict__.get("__reduce__") is None and hasattr(obj, "__dict__") \
            and not isinstance(obj, types.ModuleType):
        ref = seen.get(("object", id(obj)))
        if ref is not None:      # met before (a module in a list too, a cycle): one object
            return {"type": "ref", "id": ref}
        ref = seen[("object", id(obj))] = sum(1 for k in seen if isinstance(k, tuple))
        name = _importable_name(type(obj), where)
        state = _encode(vars(obj), arrays, seen, where)
        return {"type": "object", "class": name, "id": ref, "state": state}
    hint = (" save its state_dict() instead" if hasattr(obj, "state_dict") else "")
    raise TypeError(f"save: {_named(where)} is a {type(obj).__name__}; tinyflow saves tensors, "
                    f"arrays, numbers, strings, None and lists, tuples and dicts of them, "
                    f"never a pickle:{hint or ' convert it to one of those'}")


def _importable_name(obj, where: str) -> str:
    """`module:qualname` of a class or function that can be found again by that name."""
    name = global_name(obj)
    module, _, qualname = name.partition(":")
    if "<" in qualname:
        raise TypeError(f"save: {_named(where)} is {qualname!r}, which has no importable name "
                        f"(a lambda or a local class/function): define it at module level")
    return name


def _tensor_class(obj, where: str) -> str:
    name = global_name(type(obj))
    if name not in _tensor_types:
        raise TypeError(f"save: {_named(where)} is a {type(obj).__name__}, a Tensor subclass "
                        f"tinyflow does not save; save it as a Tensor")
    return name


def _named(where: str) -> str:
    return f"entry {where!r}" if where else "the object"


def _unique(path: str, arrays: dict) -> str:
    key, n = path, 1
    while key in arrays:
        key, n = f"{path}#{n}", n + 1
    return key


def _decode(node, entries: dict, made: dict, weights_only: bool):
    if not isinstance(node, dict):
        return node
    kind = node["type"]
    again = lambda v: _decode(v, entries, made, weights_only)  # noqa: E731
    if kind == "tensor":
        key = node["key"]
        if key not in made:           # one object per entry: tied weights stay tied
            t = entries[key]
            cls = node.get("class")
            made[key] = (_tensor_types[cls](t, bool(node.get("requires_grad"))) if cls else
                         t.requires_grad_() if node.get("requires_grad") else t)
        return made[key]
    if kind == "ndarray":
        return entries[node["key"]].numpy()
    if kind == "numpy_scalar":
        return entries[node["key"]].numpy()[()]
    if kind == "list":
        return [again(v) for v in node["items"]]
    if kind == "tuple":
        return tuple(again(v) for v in node["items"])
    if kind in ("set", "frozenset"):
        return (set if kind == "set" else frozenset)(again(v) for v in node["items"])
    if kind in ("dict", "ordered_dict"):
        return (dict if kind == "dict" else OrderedDict)(
            (k, again(v)) for k, v in node["items"])
    if kind == "global":
        return _allowed(node["name"], weights_only)
    if kind == "object":
        cls = _allowed(node["class"], weights_only)
        if not isinstance(cls, type):
            raise TypeError(f"{node['class']} is not a class")
        obj = cls.__new__(cls)
        if "id" in node:      # before its state: references inside it are to this object
            made[("object", node["id"])] = obj
        obj.__dict__.update(again(node["state"]))
        return obj
    if kind == "ref":
        ref = ("object", node.get("id"))
        if ref not in made:
            raise ValueError(f"a reference to object {node.get('id')!r} before the object")
        return made[ref]
    raise ValueError(f"unknown node type {kind!r}")


class UnsafeGlobalError(TypeError):
    """A saved object names a class or function the user has not allowed."""


def _allowed(name: str, weights_only: bool):
    """The class/function saved as `name`: only one the user allowed, unless weights_only=False."""
    if name in _safe_globals:
        return _safe_globals[name]
    if not weights_only:
        module, _, qualname = name.partition(":")
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        return obj
    short = name.rpartition(":")[2]
    raise UnsafeGlobalError(
        f"load: the file holds a {name.replace(':', '.')}, which is not an allowed global: "
        f"allow it with torch.serialization.add_safe_globals([{short}]) or the "
        f"torch.serialization.safe_globals([{short}]) context manager (or load with "
        f"weights_only=False if you trust the file)")


def _metadata(data: bytes) -> dict:
    """The `__metadata__` of a safetensors header (already validated by the load)."""
    (size,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + size]).get("__metadata__") or {}
