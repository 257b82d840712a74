"""Making tensors from data: `tensor` (PyTorch), `constant`, `zeros`, `ones` (both)."""
from __future__ import annotations

import numpy as np

from .core import dtypes
from .core.op import as_tensor
from .core.shapes import as_shape
from .core.tensor import Tensor


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new eager tensor holding a copy of `data` (PyTorch's `torch.tensor`)."""
    arr = data.numpy() if isinstance(data, Tensor) else data
    t = as_tensor(np.array(arr, dtype=None if dtype is None else dtypes.as_dtype(dtype).np),
                  dtype)
    if t.dtype is dtypes.float64 and dtype is None and not isinstance(arr, np.ndarray):
        t = Tensor._eager(t.array.astype(np.float32))  # Python floats default to float32
    if requires_grad:
        if not t.dtype.is_floating:
            raise RuntimeError("only floating-point tensors can require gradients")
        t.requires_grad = True
    return t


def constant(value, dtype=None, shape=None, name=None) -> Tensor:
    """TF1 `tf.constant`: `value` converted to `dtype`, broadcast to `shape` if given."""
    t = as_tensor(value, dtype)
    if shape is not None:
        shape = as_shape(shape)
        if t.array.size == 1:
            return Tensor._eager(np.full(shape, t.array.reshape(()), dtype=t.array.dtype))
        if t.array.size != int(np.prod(shape)):
            raise ValueError(f"constant: {t.array.size} values cannot fill shape {shape}")
        return Tensor._eager(t.array.reshape(shape))
    return t


def _shape_args(args):
    """`zeros(2, 3)` (PyTorch), `zeros((2, 3))` and `zeros([2, 3], tf.float32)` (TF1)."""
    if args and isinstance(args[0], (list, tuple)):
        return tuple(args[0]), args[1:]
    dims = []
    rest = list(args)
    while rest and isinstance(rest[0], (int, np.integer)):
        dims.append(int(rest.pop(0)))
    return tuple(dims), tuple(rest)


def _filled(fill, args, dtype, requires_grad):
    shape, rest = _shape_args(args)
    if rest:
        dtype = rest[0]
    dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.float32
    t = Tensor._eager(np.full(shape, fill, dtype=dt.np))
    t.requires_grad = requires_grad
    return t


def zeros(*shape, dtype=None, name=None, requires_grad=False) -> Tensor:
    return _filled(0, shape, dtype, requires_grad)


def ones(*shape, dtype=None, name=None, requires_grad=False) -> Tensor:
    return _filled(1, shape, dtype, requires_grad)
