"""The strided view of memory as PyTorch exposes it: `x.stride()`, `x.storage_offset()` and
`as_strided`. A tensor's "storage" is the NumPy array at the root of its views (`.base`
chain); strides and offsets count elements of it, as PyTorch's do."""
from __future__ import annotations

import numpy as np

from .. import ops
from ..autodiff.tape import overlaps, storage_of as _storage, strided_offsets, view_inplace
from ..core.modes import grad_mode
from ..core.op import share_version
from ..core.tensor import Tensor


def flat_storage(root: np.ndarray):
    """The storage as a flat array in memory order (a view, so writes reach it), for a C- or
    Fortran-ordered one; None for other layouts (a flattened copy would lose writes)."""
    if root.flags.c_contiguous:
        return root.reshape(-1)
    if root.flags.f_contiguous:
        return root.T.reshape(-1)
    return None


def _address(arr: np.ndarray) -> int:
    return arr.__array_interface__["data"][0]


def stride(x, dim=None):
    """Elements to step in memory per index of each dim (`x.stride()` or `x.stride(d)`)."""
    arr = x._require_data("stride()")
    strides = tuple(s // arr.itemsize for s in arr.strides)
    return strides if dim is None else strides[dim]


def storage_offset(x) -> int:
    """Elements between the start of the storage and this tensor's first element."""
    arr = x._require_data("storage_offset()")
    return (_address(arr) - _address(_storage(arr))) // arr.itemsize


def as_strided(x, size, stride, storage_offset=None) -> Tensor:
    """A tensor of `size` reading x's storage at `storage_offset + sum(i_k * stride_k)`.

    Outside autograd it is a view of the same buffer (writes show in both, as in PyTorch).
    When x requires grad it is the same elements gathered out of x (differentiable, not a
    view); that needs every element read to be one of x's own, which holds for a contiguous
    x. Sizes or strides that reach outside the storage are refused, as PyTorch does.
    """
    arr = x._require_data("as_strided()")
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError(f"as_strided: mismatch in length of strides and shape: "
                           f"size {list(size)}, stride {list(stride)}")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"as_strided: strides {list(stride)} hold a negative one; "
                           f"strides must be >= 0")
    if any(s < 0 for s in size):
        raise RuntimeError(f"as_strided: negative size in {list(size)}")
    offset = storage_offset_of(x) if storage_offset is None else int(storage_offset)
    root = _storage(arr)
    needed = 0 if 0 in size else offset + 1 + sum((n - 1) * s for n, s in zip(size, stride))
    if needed > root.size or offset < 0:
        raise RuntimeError(f"as_strided: size {list(size)}, strides {list(stride)} and "
                           f"offset {offset} reach element {needed - 1}, past the "
                           f"{root.size} elements of the storage")
    if x.requires_grad and grad_mode.enabled:
        return _gathered(x, size, stride, offset)
    flat = flat_storage(root)
    if flat is None:
        raise RuntimeError("as_strided: the tensor's storage is neither C- nor Fortran-ordered "
                           "(a NumPy view given to from_numpy?); call .contiguous() first")
    data = np.lib.stride_tricks.as_strided(flat[offset:], size,
                                           tuple(s * arr.itemsize for s in stride))
    if overlaps(data):   # read-only: a write goes through writable_memory's overlap check
        data.flags.writeable = False
    out = Tensor._eager(data)
    share_version(out, x)   # writes through either bump the version both see
    return out


storage_offset_of = storage_offset


def _gathered(x, size, stride, offset) -> Tensor:
    """as_strided under autograd: the storage positions, mapped to x's own elements and
    gathered (its gradient scatters back, summing where positions repeat); written in place,
    it raises, as it is no view of x's memory."""
    if not x.array.flags.c_contiguous:
        raise RuntimeError("as_strided on a non-contiguous tensor that requires grad is not "
                           "supported; call .contiguous() first")
    positions = offset - storage_offset(x) + strided_offsets(size, stride)
    if positions.size and (positions.min() < 0 or positions.max() >= x.numel()):
        raise RuntimeError("as_strided on a tensor that requires grad may only read that "
                           "tensor's own elements (these strides reach outside it)")
    out = ops.take(ops.reshape(x, (-1,)), positions.reshape(-1)).reshape(size)
    # a copy standing for a view of x: an in-place write into it is refused (its memory is
    # none of x's) rather than lost in the gathered copy
    out._base = x if x._base is None else x._base
    return out


def resize_(x, *sizes) -> Tensor:
    """x takes `sizes`, contiguous over its storage from its offset (PyTorch's resize_; old
    programs size a buffer so: `label.resize_(batch_size).fill_(1)`). A storage too small
    grows into a new buffer holding the old values first and zeros after (unset memory in
    PyTorch), which views made before no longer share."""
    shape = tuple(int(s) for s in (sizes[0] if len(sizes) == 1 and isinstance(
        sizes[0], (tuple, list)) else sizes))
    if x.requires_grad:
        raise RuntimeError(f"resize_: cannot resize variables that require grad (shape "
                           f"{tuple(x.shape)} to {shape})")
    if any(s < 0 for s in shape):
        raise RuntimeError(f"resize_: negative size in {list(shape)}")
    if shape == tuple(x.shape):   # as PyTorch: its strides stay, its version too
        return x

    def resized(t):
        arr = t._require_data("resize_()")
        root, offset, n = _storage(arr), storage_offset(t), int(np.prod(shape))
        flat = flat_storage(root)
        if flat is None or offset + n > root.size or not root.flags.writeable:
            grown = np.zeros(offset + n, arr.dtype)
            if flat is not None:
                grown[:min(root.size, offset + n)] = flat[:offset + n]
            else:   # (an odd NumPy layout: its elements from the offset, in order)
                grown[offset:offset + min(arr.size, n)] = arr.reshape(-1)[:n]
            flat = grown
        out = Tensor._eager(flat[offset:offset + n].reshape(shape))
        share_version(out, t)
        return out
    return view_inplace(x, resized, "resize_")


def resize_as_(x, other) -> Tensor:
    return resize_(x, tuple(other.shape))


METHODS = {"stride": stride, "storage_offset": storage_offset, "as_strided": as_strided,
           "resize_": resize_, "resize_as_": resize_as_}
