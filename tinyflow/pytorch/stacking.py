"""PyTorch's stacking, splitting and flipping helpers and the small elementwise cleanups
(`hstack`, `vstack`, `atleast_2d`, `tensor_split`, `fliplr`, `rot90`, `diagonal`, `trunc`,
`nan_to_num`): each a composition of existing ops, so gradients come with them."""
from __future__ import annotations

import numpy as np

from .. import ops
from ..core.op import as_tensor
from ..core.tensor import Tensor
from .inplace import write_out
from .math import isinf, isnan
from .movement import cat, flip, movedim, narrow
from .shared_names import transpose


def _tensors(tensors, name: str) -> list:
    if isinstance(tensors, Tensor) or not len(tensors):
        raise TypeError(f"{name}(): expected a non-empty sequence of tensors")
    return [as_tensor(t) for t in tensors]


def atleast_1d(*tensors):
    """A 0-d tensor as shape (1,); others unchanged (one tensor, or a tuple for several)."""
    out = [x if x.ndim >= 1 else ops.reshape(x, (1,)) for x in map(as_tensor, _flat(tensors))]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_2d(*tensors):
    """0-d as (1, 1), 1-d (n,) as (1, n)."""
    out = [x if x.ndim >= 2 else ops.reshape(x, (1, -1) if x.ndim else (1, 1))
           for x in map(as_tensor, _flat(tensors))]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_3d(*tensors):
    """0-d as (1, 1, 1), 1-d (n,) as (1, n, 1), 2-d (m, n) as (m, n, 1) (NumPy's rule)."""
    def lift(x):
        if x.ndim >= 3:
            return x
        shape = {0: (1, 1, 1), 1: (1, -1, 1), 2: tuple(x.shape) + (1,)}[x.ndim]
        return ops.reshape(x, shape)
    out = [lift(as_tensor(x)) for x in _flat(tensors)]
    return out[0] if len(out) == 1 else tuple(out)


def _flat(tensors) -> list:
    return list(tensors[0]) if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) \
        else list(tensors)


def hstack(tensors, *, out=None):
    """Along dim 1, or dim 0 for 1-d tensors (NumPy's hstack)."""
    ts = [atleast_1d(t) for t in _tensors(tensors, "hstack")]
    return cat(ts, 0 if ts[0].ndim == 1 else 1, out=out)


def vstack(tensors, *, out=None):
    return cat([atleast_2d(t) for t in _tensors(tensors, "vstack")], 0, out=out)


row_stack = vstack


def dstack(tensors, *, out=None):
    return cat([atleast_3d(t) for t in _tensors(tensors, "dstack")], 2, out=out)


def column_stack(tensors, *, out=None):
    """1-d (and 0-d) tensors as columns, others as they are, side by side."""
    ts = [t if t.ndim >= 2 else ops.reshape(t, (-1, 1)) for t in _tensors(tensors, "column_stack")]
    return cat(ts, 1, out=out)


def tensor_split(x, indices_or_sections, dim=0) -> tuple:
    """`sections` nearly equal views (the first `n % sections` one longer), or views cut at
    the given indices (as NumPy's array_split)."""
    x = as_tensor(x)
    n = x.shape[dim]
    if isinstance(indices_or_sections, int):
        sections = indices_or_sections
        if sections <= 0:
            raise RuntimeError(f"tensor_split: number of sections must be greater than 0, "
                               f"but got {sections}")
        size, extra = divmod(n, sections)
        cuts = np.cumsum([0] + [size + (i < extra) for i in range(sections)])
    else:
        cuts = [0] + [min(max(int(i), 0), n) for i in indices_or_sections] + [n]
    return tuple(narrow(x, dim, int(a), max(int(b) - int(a), 0))
                 for a, b in zip(cuts[:-1], cuts[1:]))


def fliplr(x):
    if x.ndim < 2:
        raise RuntimeError(f"fliplr: input must be at least 2-d, got {x.ndim}-d")
    return flip(x, (1,))


def flipud(x):
    if x.ndim < 1:
        raise RuntimeError("flipud: input must be at least 1-d")
    return flip(x, (0,))


def rot90(x, k=1, dims=(0, 1)):
    """Rotated k quarter turns from the first of `dims` towards the second (a new tensor)."""
    d0, d1 = (d % x.ndim for d in dims)
    if len(dims) != 2 or d0 == d1:
        raise RuntimeError(f"rot90: expected two different dims, got {tuple(dims)}")
    k %= 4
    if k == 0:
        return ops.copy(x)
    if k == 2:
        return flip(x, (d0, d1))
    return transpose(flip(x, (d1,) if k == 1 else (d0,)), d0, d1)


def diagonal(x, offset=0, dim1=0, dim2=1):
    """The diagonal of the (dim1, dim2) planes as the last dim (above the main one for
    offset > 0). A copy, where PyTorch gives a view: writing into it leaves `x` alone."""
    x = as_tensor(x)
    x = movedim(x, (dim1 % x.ndim, dim2 % x.ndim), (-2, -1))
    rows, cols = x.shape[-2], x.shape[-1]
    length = max(min(rows, cols - offset) if offset >= 0 else min(rows + offset, cols), 0)
    i = np.arange(length) + max(-offset, 0)
    return x[..., i, i + offset]


def trunc(x):
    """Rounded toward zero; integers unchanged (a copy)."""
    x = as_tensor(x)
    if not x.dtype.is_floating:
        return ops.copy(x)
    return ops.where(x >= 0, ops.floor(x), ops.ceil(x))


fix = trunc


def nan_to_num(x, nan=0.0, posinf=None, neginf=None, *, out=None):
    """NaN as `nan`, +-inf as `posinf`/`neginf` (default: the dtype's largest finite
    values); the gradient flows to the finite elements only."""
    x = as_tensor(x)
    if not x.dtype.is_floating:
        return ops.copy(x)
    big = float(np.finfo(x.dtype.np).max)
    y = ops.where(isnan(x), nan, x)
    y = ops.where(isinf(x) & (x > 0), big if posinf is None else posinf, y)
    y = ops.where(isinf(x) & (x < 0), -big if neginf is None else neginf, y)
    return write_out(y, out)


METHODS = {"tensor_split": tensor_split, "fliplr": fliplr, "flipud": flipud, "rot90": rot90,
           "diagonal": diagonal, "trunc": trunc, "fix": fix, "nan_to_num": nan_to_num}
