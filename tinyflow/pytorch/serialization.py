"""`torch.save` / `torch.load` of state dicts, as safetensors files: nothing is pickled."""
from __future__ import annotations

from ..io import checkpoint


def save(obj, f) -> None:
    """`torch.save(model.state_dict(), path)`, written as safetensors (atomically), so that
    `torch.load` never unpickles: only flat {name: tensor} dicts can be saved."""
    if not isinstance(obj, dict):
        raise TypeError(f"save: tinyflow saves a flat {{name: tensor}} dict such as "
                        f"model.state_dict() as safetensors, not a {type(obj).__name__} "
                        f"(nothing is pickled)")
    checkpoint.save(obj, f)


def load(f, map_location=None, weights_only=True) -> dict:
    """`torch.load(path)` of a file written by `save`: {name: tensor}."""
    return checkpoint.load(f)
