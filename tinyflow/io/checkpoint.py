"""Checkpoints as safetensors files: a flat {name: array} mapping, never pickle, so loading a
file from elsewhere cannot run code. Writes to a path are atomic: a temporary file in the same
folder, then a rename, so a crash never leaves a half-written checkpoint under the real name;
the file gets the permissions a plain write would (the umask). A file object (`BytesIO`, an
open file) is written or read in place, as `torch.save` / `torch.load` do. Every load error
names the file, and the tensor when one entry is at fault."""
from __future__ import annotations

import os
from typing import Mapping

import ml_dtypes
import numpy as np
from safetensors import SafetensorError, deserialize
from safetensors.numpy import save as save_bytes
from safetensors.numpy import save_file

from ..core.tensor import Tensor
from .atomic import atomic_path

# safetensors' dtype names that NumPy (with ml_dtypes: bfloat16, fp8) holds. Saving needs no
# table: safetensors names an array's dtype from its NumPy name, as PyTorch's writer does.
_NUMPY_DTYPES = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "U16": np.uint16,
                 "I16": np.int16, "U32": np.uint32, "I32": np.int32, "U64": np.uint64,
                 "I64": np.int64, "F16": np.float16, "F32": np.float32, "F64": np.float64,
                 "BF16": ml_dtypes.bfloat16, "F8_E4M3": ml_dtypes.float8_e4m3fn,
                 "F8_E5M2": ml_dtypes.float8_e5m2}


def _is_file_object(f) -> bool:
    return hasattr(f, "write") or hasattr(f, "read")


def _describe(f) -> str:
    """How an error names the file: its path, or the file object's name if it has one."""
    if _is_file_object(f):
        name = getattr(f, "name", None)
        return f"file object {name!r}" if isinstance(name, str) else \
            f"file object {type(f).__name__}"
    return repr(os.fspath(f))


def save(state_dict: Mapping, f, metadata: Mapping[str, str] | None = None) -> None:
    """Write a state dict ({name: tensor or array}) to a path (atomically) or a writable
    binary file object (at its current position)."""
    arrays = {}
    for name, value in state_dict.items():
        if not isinstance(name, str):
            raise TypeError(f"checkpoint keys must be strings, got {name!r}")
        arr = value.numpy(force=True) if isinstance(value, Tensor) else np.asarray(value)
        if arr.dtype == object:
            raise TypeError(f"checkpoint entry {name!r} is a {type(value).__name__}, not a "
                            f"tensor: a checkpoint is a flat {{name: tensor}} mapping such as "
                            f"model.state_dict() (nothing is pickled)")
        arrays[name] = np.array(arr, order="C")   # ascontiguousarray would make 0-d 1-d
    meta = dict(metadata) if metadata else None
    if _is_file_object(f):
        if not hasattr(f, "write"):
            raise TypeError(f"save: {_describe(f)} is not open for writing")
        f.write(save_bytes(arrays, metadata=meta))
        return
    with atomic_path(os.fspath(f), suffix=".safetensors") as tmp:
        save_file(arrays, tmp, metadata=meta)


def load(f) -> dict:
    """Read a checkpoint written by `save` (a path or a readable binary file object) as
    {name: tensor}."""
    data, where = read_bytes(f)
    return load_bytes(data, where)


def read_bytes(f) -> tuple:
    """The whole file (a path, or a readable binary file object from its position), and how
    errors name it."""
    where = _describe(f)
    if _is_file_object(f):
        if not hasattr(f, "read"):
            raise TypeError(f"load: {where} is not open for reading")
        data = f.read()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"load: {where} gave {type(data).__name__}, not bytes; open the "
                            f"file in binary mode ('rb')")
        return bytes(data), where
    path = os.fspath(f)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no checkpoint file {where}")
    with open(path, "rb") as handle:   # safetensors' NumPy reader knows no bfloat16 / fp8
        return handle.read(), where


def load_bytes(data: bytes, where: str) -> dict:
    """{name: tensor} of a safetensors file's bytes, by name (as safetensors' `keys()`; the
    reader's own order is not defined); errors name `where` and the tensor."""
    try:
        entries = deserialize(data)
    except SafetensorError as e:
        if data[:2] == b"PK" or data[:1] == b"\x80":     # a zip archive or a bare pickle
            raise ValueError(
                f"load: {where} is a pickle checkpoint (as PyTorch's torch.save writes "
                f"them); tinyflow never unpickles a file, since unpickling runs code. Convert "
                f"it where you trust it: safetensors.torch.save_file(torch.load(path), "
                f"'model.safetensors')") from None
        raise ValueError(f"load: {where} is not a readable safetensors checkpoint ({e})") \
            from None
    return {name: _entry(lambda v=view, n=name: _view_array(v, n), name, where)
            for name, view in sorted(entries, key=lambda entry: entry[0])}


def _view_array(view: dict, name: str) -> np.ndarray:
    dtype = _NUMPY_DTYPES.get(view["dtype"])
    if dtype is None:
        raise TypeError(f"its dtype {view['dtype']} is not one tinyflow holds (known: "
                        f"{', '.join(_NUMPY_DTYPES)})")
    return np.frombuffer(view["data"], dtype=dtype).reshape(view["shape"]).copy()


def _entry(read, name: str, where: str) -> Tensor:
    """One tensor of the file; a failure names the file and the tensor."""
    try:
        return Tensor._eager(read())
    except (SafetensorError, TypeError, ValueError, KeyError) as e:
        raise ValueError(f"load: tensor {name!r} of {where} cannot be read: {e}") from None
