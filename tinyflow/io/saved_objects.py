"""`torch.save` of the objects PyTorch programs save — a state dict, and also the tutorials'
checkpoint `{"epoch": 3, "model_state_dict": ..., "optimizer_state_dict": ..., "loss": t}`
(nested dicts with int keys, lists, tuples, numbers, strings, None, tensors, arrays) — without
pickle: the tensors are the safetensors file's entries and the structure around them is JSON in
the file's metadata. A flat {name: tensor} dict is written as a plain safetensors file, as
before, so other tools read it; loading such a file (or one PyTorch wrote) gives that dict.
Anything else (a Module, a function, an arbitrary class) is refused naming where it sits."""
from __future__ import annotations

import json
import struct

import numpy as np

from ..core.tensor import Tensor
from . import checkpoint

STRUCTURE_KEY = "tinyflow.object"      # the metadata entry holding the JSON structure
ORDER_KEY = "tinyflow.order"           # a flat dict's key order, where it is not sorted
_SCALARS = (bool, int, float, str, type(None))


def save_object(obj, f) -> None:
    """Write `obj` to a path (atomically) or a binary file object."""
    if _is_flat_state_dict(obj):
        checkpoint.save(obj, f, metadata=_order_note(obj))
        return
    arrays: dict = {}
    structure = _encode(obj, arrays, {}, "")
    checkpoint.save(arrays, f, metadata={STRUCTURE_KEY: json.dumps(structure)})


def load_object(f):
    """What `save_object` wrote (or {name: tensor} for a plain safetensors file)."""
    data, where = checkpoint.read_bytes(f)
    entries = checkpoint.load_bytes(data, where)
    metadata = _metadata(data)
    structure = metadata.get(STRUCTURE_KEY)
    if structure is None:
        return _in_saved_order(entries, metadata.get(ORDER_KEY))
    try:
        return _decode(json.loads(structure), entries)
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
        return out
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
        return {"type": "dict", "items": pairs}
    hint = (" save its state_dict() instead" if hasattr(obj, "state_dict") else "")
    raise TypeError(f"save: {_named(where)} is a {type(obj).__name__}; tinyflow saves tensors, "
                    f"arrays, numbers, strings, None and lists, tuples and dicts of them, "
                    f"never a pickle:{hint or ' convert it to one of those'}")


def _named(where: str) -> str:
    return f"entry {where!r}" if where else "the object"


def _unique(path: str, arrays: dict) -> str:
    key, n = path, 1
    while key in arrays:
        key, n = f"{path}#{n}", n + 1
    return key


def _decode(node, entries: dict):
    if not isinstance(node, dict):
        return node
    kind = node["type"]
    if kind == "tensor":
        t = entries[node["key"]]
        return t.requires_grad_() if node.get("requires_grad") else t
    if kind == "ndarray":
        return entries[node["key"]].numpy()
    if kind == "numpy_scalar":
        return entries[node["key"]].numpy()[()]
    if kind == "list":
        return [_decode(v, entries) for v in node["items"]]
    if kind == "tuple":
        return tuple(_decode(v, entries) for v in node["items"])
    if kind == "dict":
        return {k: _decode(v, entries) for k, v in node["items"]}
    raise ValueError(f"unknown node type {kind!r}")


def _metadata(data: bytes) -> dict:
    """The `__metadata__` of a safetensors header (already validated by the load)."""
    (size,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + size]).get("__metadata__") or {}
