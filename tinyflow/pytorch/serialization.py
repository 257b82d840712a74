"""`torch.save` / `torch.load` as safetensors files: nothing is pickled (io/saved_objects.py
says what can be saved: state dicts, checkpoints nesting them with numbers and strings, and
whole models, whose classes a load accepts only when allowed, as PyTorch's weights_only)."""
from __future__ import annotations

from ..io.saved_objects import (UnsafeGlobalError, add_safe_globals, clear_safe_globals,  # noqa: F401
                                get_safe_globals, load_object, safe_globals, save_object)


def save(obj, f) -> None:
    """`torch.save(obj, path)`, written atomically as safetensors; an object that cannot be
    written without pickle is refused, naming where it sits in `obj`."""
    save_object(obj, f)


def load(f, map_location=None, weights_only=True):
    """`torch.load(path)` of a file written by `save` (or any safetensors file). A saved model's
    classes must be allowed (`safe_globals`) unless `weights_only=False`."""
    return load_object(f, weights_only=weights_only)
