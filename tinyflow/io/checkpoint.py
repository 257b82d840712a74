"""Checkpoints as safetensors files: a flat {name: array} mapping, never pickle, so loading a
file from elsewhere cannot run code. Writes are atomic: a temporary file in the same folder,
then a rename, so a crash never leaves a half-written checkpoint under the real name."""
from __future__ import annotations

from typing import Mapping

import numpy as np
from safetensors.numpy import load_file, save_file

from ..core.tensor import Tensor
from .atomic import atomic_path


def save(state_dict: Mapping, path: str, metadata: Mapping[str, str] | None = None) -> None:
    """Write a state dict ({name: tensor or array}) to `path` atomically."""
    arrays = {}
    for name, value in state_dict.items():
        if not isinstance(name, str):
            raise TypeError(f"checkpoint keys must be strings, got {name!r}")
        arr = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
        if arr.dtype == object:
            raise TypeError(f"checkpoint entry {name!r} is a {type(value).__name__}, not a "
                            f"tensor: a checkpoint is a flat {{name: tensor}} mapping such as "
                            f"model.state_dict() (nothing is pickled)")
        arrays[name] = np.array(arr, order="C")   # ascontiguousarray would make 0-d 1-d
    with atomic_path(path, suffix=".safetensors") as tmp:
        save_file(arrays, tmp, metadata=dict(metadata) if metadata else None)


def load(path: str) -> dict:
    """Read a checkpoint written by `save` as {name: tensor}."""
    return {name: Tensor._eager(arr) for name, arr in load_file(path).items()}
