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


@kernel(ta.TensorArrayWrite)
def tensor_array_write(op, buffer, index, value):
    i = int(index)
    rows = _rows_for(buffer, value)
    if i < 0 or i >= len(rows) and not op.grows:
        raise IndexError(f"TensorArray.write: index {i} is outside the array's "
                         f"{len(rows)} elements (give dynamic_size=True to let it grow)")
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
