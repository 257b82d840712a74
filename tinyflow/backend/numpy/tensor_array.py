"""TensorArray kernels: a write copies the buffer and sets one row (allocating the rows on
the first write of a non-scalar element, adding rows when the array grows)."""
from __future__ import annotations

import numpy as np

from ...ops import tensor_array as ta
from .registry import kernel


def _rows_for(buffer: np.ndarray, value: np.ndarray) -> np.ndarray:
    """`buffer` itself, or zero rows of value's shape if it still holds placeholder rows."""
    if buffer.shape[1:] == value.shape:
        return buffer
    if buffer.ndim == 1:
        return np.zeros((buffer.shape[0], *value.shape), buffer.dtype)
    raise ta.element_shape_error(buffer.shape[1:], value.shape)


class LoopRows(np.ndarray):
    """A TensorArray buffer a while_loop owns, written in place: the first rows of a larger
    `storage` (room to grow), whose `written` marks the rows written."""

    def __array_finalize__(self, obj) -> None:
        self.storage = getattr(obj, "storage", None)
        self.written = getattr(obj, "written", None)


def own(buffer: np.ndarray) -> LoopRows:
    """A copy of a loop's initial buffer for its in-place writes (no row counted written:
    rows written before the loop are not known here)."""
    return _storage(len(buffer), buffer.shape[1:], buffer.dtype, buffer)


def _storage(rows: int, shape: tuple, dtype, old=None) -> LoopRows:
    """Zero rows [rows, *shape], holding `old`'s rows (and written marks) when given."""
    out = np.zeros((rows, *shape), dtype).view(LoopRows)
    out.storage, out.written = out, np.zeros(rows, bool)
    if old is not None:
        out[:len(old)] = old
        if isinstance(old, LoopRows) and old.written is not None:
            out.written[:len(old)] = old.written[:len(old)]
    return out


def _write_in_place(op, buffer, i: int, value) -> LoopRows:
    n = len(buffer)
    if buffer.shape[1:] != value.shape:   # placeholder rows: the first write allocates
        if buffer.ndim != 1:
            raise ta.element_shape_error(buffer.shape[1:], value.shape)
        buffer = _storage(n, value.shape, buffer.dtype)
    if i < 0 or i >= n and not op.grows:
        raise ta.out_of_range_error(i, n)
    storage = getattr(buffer, "storage", None)
    if storage is None or buffer.ctypes.data != storage.ctypes.data:
        storage = _storage(n, buffer.shape[1:], buffer.dtype, buffer)   # not the loop's own
    if i >= len(storage):
        storage = _storage(max(2 * len(storage), i + 1), buffer.shape[1:], buffer.dtype,
                           storage[:n])
    if storage.written[i]:
        raise ta.written_twice_error(i)
    storage[i], storage.written[i] = value, True
    return storage[:max(n, i + 1)]


@kernel(ta.TensorArrayWrite)
def tensor_array_write(op, buffer, index, value):
    i = int(index)
    if op.in_place:
        return _write_in_place(op, buffer, i, value)
    rows = _rows_for(buffer, value)
    if i < 0 or i >= len(rows) and not op.grows:
        raise ta.out_of_range_error(i, len(rows))
    out = np.zeros((max(len(rows), i + 1), *value.shape), rows.dtype)
    out[:len(rows)] = rows
    out[i] = value
    return out


@kernel(ta.TensorArrayWriteGrad)
def tensor_array_write_grad(op, g, index, buffer):
    if buffer.shape[1:] != g.shape[1:]:   # placeholder rows: nothing flowed into them
        return np.zeros_like(buffer)
    out = g[:len(buffer)].copy()
    if int(index) < len(out):
        out[int(index)] = 0
    return out
