"""`torch.save` / `torch.load` as safetensors files: nothing is pickled (io/saved_objects.py
says what can be saved: state dicts, and checkpoints nesting them with numbers and strings)."""
from __future__ import annotations

from ..io.saved_objects import load_object, save_object


def save(obj, f) -> None:
    """`torch.save(obj, path)`, written atomically as safetensors; a Module or any other
    object that would need pickle is refused, naming where it sits in `obj`."""
    save_object(obj, f)


def load(f, map_location=None, weights_only=True):
    """`torch.load(path)` of a file written by `save` (or any safetensors file)."""
    return load_object(f)
