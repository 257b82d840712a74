"""Shape and layout functions PyTorch has beyond view/permute/cat: the stacks (hstack,
vstack, dstack, column_stack), atleast_nd, swapdims/moveaxis, ravel, fliplr/flipud/rot90,
tensor_split, unfold, diagonal, meshgrid, cartesian_prod, combinations, block_diag,
broadcast_tensors, kron, cross. All are sugar over the shape ops (reshape, transpose,
getitem, take, concat), so gradients flow through them.
"""
from __future__ import annotations

import itertools

import numpy as np

from .. import ops
from ..core import dtypes
from ..core.modes import grad_mode, trace_state
from ..core.op import as_tensor
from ..core.shapes import Size, broadcast_shapes
from ..core.tensor import EAGER, Tensor
from .diagonal import diag
from .inplace import with_out
from .movement import cat, flatten, flip, movedim, narrow, size_args, torch_split
from .shared_names import stack, tile
from .strided import _storage, as_strided, flat_storage


def atleast_1d(*tensors):
    return _atleast(tensors, lambda x: ops.reshape(x, (1,)) if x.ndim == 0 else x)


def atleast_2d(*tensors):
    def two(x):
        return ops.reshape(x, (1,) * (2 - x.ndim) + tuple(x.shape)) if x.ndim < 2 else x
    return _atleast(tensors, two)


def atleast_3d(*tensors):
    def three(x):
        if x.ndim == 0:
            return ops.reshape(x, (1, 1, 1))
        if x.ndim == 1:
            return ops.reshape(x, (1, x.shape[0], 1))
        return ops.reshape(x, tuple(x.shape) + (1,)) if x.ndim == 2 else x
    return _atleast(tensors, three)


def _atleast(tensors, grow):
    if len(tensors) == 1 and not isinstance(tensors[0], (tuple, list)):
        return grow(as_tensor(tensors[0]))
    items = tensors[0] if len(tensors) == 1 else tensors
    return tuple(grow(as_tensor(t)) for t in items)


def hstack(tensors, *, out=None):
    tensors = atleast_1d(*tensors) if len(tensors) != 1 else (atleast_1d(tensors[0]),)
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1, out=out)


def vstack(tensors, *, out=None):
    return cat(_tuple_of(atleast_2d(*tensors)), 0, out=out)


row_stack = vstack


def dstack(tensors, *, out=None):
    return cat(_tuple_of(atleast_3d(*tensors)), 2, out=out)


def column_stack(tensors, *, out=None):
    columns = [ops.reshape(t, (-1, 1)) if t.ndim <= 1 else t
               for t in (as_tensor(t) for t in tensors)]
    return cat(columns, 1, out=out)


def _tuple_of(result):
    return result if isinstance(result, tuple) else (result,)


def swapdims(input, dim0, dim1):  # noqa: A002
    """The same as transpose(dim0, dim1) (NumPy's name: swapaxes)."""
    perm = list(range(input.ndim))
    perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
    return ops.transpose(input, perm)


def ravel(input):  # noqa: A002
    return ops.reshape(input, (-1,))


def fliplr(input):  # noqa: A002
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, 1)


def flipud(input):  # noqa: A002
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, 0)


def rot90(input, k=1, dims=(0, 1)):  # noqa: A002
    """Rotated by 90 degrees k times, from dims[0] toward dims[1]."""
    x = as_tensor(input)
    if len(dims) != 2 or x.ndim < 2 or dims[0] % x.ndim == dims[1] % x.ndim:
        raise RuntimeError(f"rot90: expected two distinct dims of a tensor with >= 2 dims, "
                           f"got dims {tuple(dims)} for {x.ndim}-d")
    a, b = dims
    k %= 4
    if k == 1:
        return swapdims(flip(x, b), a, b)
    if k == 2:
        return flip(x, a, b)
    if k == 3:
        return flip(swapdims(x, a, b), b)
    return x


def tensor_split(input, indices_or_sections, dim=0):  # noqa: A002
    """n nearly equal pieces (the first ones one longer), or pieces cut at the indices."""
    x = as_tensor(input)
    length = x.shape[dim]
    if isinstance(indices_or_sections, Tensor):
        indices_or_sections = indices_or_sections.tolist()
    if isinstance(indices_or_sections, int):
        n = indices_or_sections
        if n <= 0:
            raise RuntimeError(f"tensor_split: sections must be >= 1, got {n}")
        base, extra = divmod(length, n)
        sizes = [base + 1] * extra + [base] * (n - extra)
        cuts = list(itertools.accumulate(sizes))[:-1]
    else:
        cuts = list(indices_or_sections)
    bounds = [0] + [min(max(c, 0), length) for c in cuts] + [length]
    return tuple(narrow(x, dim, start, max(end, start) - start)
                 for start, end in zip(bounds, bounds[1:]))


def _directional_split(name: str, dim: int, least: int):
    """hsplit / vsplit / dsplit: tensor_split along `dim` (hsplit: dim 0 of a 1-d tensor),
    where an int must divide the dimension evenly, as PyTorch's."""
    def split_along(input, indices_or_sections):  # noqa: A002
        x = as_tensor(input)
        if x.ndim < least:
            raise RuntimeError(f"torch.{name} requires a tensor with at least {least} "
                               f"dimension, but got a tensor with {x.ndim} dimensions!")
        axis = 0 if name == "hsplit" and x.ndim == 1 else dim
        if isinstance(indices_or_sections, int) and (
                indices_or_sections == 0 or x.shape[axis] % indices_or_sections):
            raise RuntimeError(f"torch.{name} attempted to split along dimension {axis}, but "
                               f"the size of the dimension {x.shape[axis]} is not divisible "
                               f"by the split_size {indices_or_sections}!")
        return tensor_split(x, indices_or_sections, axis)
    split_along.__name__ = name
    return split_along


hsplit = _directional_split("hsplit", 1, 1)
vsplit = _directional_split("vsplit", 0, 2)
dsplit = _directional_split("dsplit", 2, 3)


def split_with_sizes(input, split_sizes, dim=0):  # noqa: A002
    sizes = list(split_sizes)
    if sum(sizes) != input.shape[dim]:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to "
                           f"{input.shape[dim]} (input tensor's size at dimension {dim}), "
                           f"but got split_sizes={sizes}")
    return torch_split(input, sizes, dim)


def unfold(input, dimension, size, step):  # noqa: A002
    """Windows of `size` every `step` along dimension, as a new last dim."""
    x = as_tensor(input)
    dim = dimension % max(x.ndim, 1)
    length = x.shape[dim] if x.ndim else 1
    if size > length or step <= 0:
        raise RuntimeError(f"unfold: maximum size for tensor at dimension {dim} is {length} "
                           f"but size is {size}" if size > length else
                           f"unfold: step is {step} but must be > 0")
    starts = np.arange(0, length - size + 1, step, dtype=np.int64)
    windows = starts[:, None] + np.arange(size, dtype=np.int64)[None, :]
    if x.ndim == 0:
        return ops.reshape(x, (1,))
    def gathered():
        picked = ops.take(x, Tensor._eager(windows), dim)   # [..., windows, size, ...]
        return movedim(picked, dim + 1, -1)
    if x.kind != EAGER or not x.array.size:
        return gathered()
    steps = list(x.stride())
    size_of = list(x.shape[:dim]) + [len(starts)] + list(x.shape[dim + 1:]) + [size]
    return _view_or(x, size_of, steps[:dim] + [step * steps[dim]] + steps[dim + 1:]
                    + [steps[dim]], x.storage_offset(), gathered)


def _view_or(x, size, stride, offset, gathered):
    """PyTorch's diagonal and unfold are views: outside autograd the result is a strided
    view of x's memory (writes reach x); under autograd the elements gathered, marked as a
    view of x so that an in-place op on it is refused rather than writing a copy alone."""
    root = _storage(x.array)
    if (x.requires_grad and grad_mode.enabled or trace_state.active is not None
            or min(stride, default=0) < 0 or flat_storage(root) is None):
        out = gathered()
        if out.requires_grad:
            out._base = x if x._base is None else x._base
        return out
    return as_strided(x, size, stride, offset)


def diagonal(input, offset=0, dim1=0, dim2=1):  # noqa: A002
    """The diagonal of each matrix in dims (dim1, dim2), as a new last dim."""
    x = as_tensor(input)
    n = x.ndim
    a, b = dim1 % n, dim2 % n
    if a == b:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    rest = [d for d in range(n) if d not in (a, b)]
    moved = ops.transpose(x, rest + [a, b])
    rows, cols = x.shape[a], x.shape[b]
    length = max(0, min(rows + min(offset, 0), cols - max(offset, 0)))
    start = offset if offset >= 0 else -offset * cols
    positions = start + np.arange(length, dtype=np.int64) * (cols + 1)
    def gathered():
        flat = ops.reshape(moved, tuple(moved.shape[:-2]) + (rows * cols,))
        return ops.take(flat, Tensor._eager(positions), len(rest))
    if x.kind != EAGER or not x.array.size:
        return gathered()
    steps = x.stride()
    first = offset * steps[b] if offset >= 0 else -offset * steps[a]
    return _view_or(x, [x.shape[d] for d in rest] + [length],
                    [steps[d] for d in rest] + [steps[a] + steps[b]],
                    x.storage_offset() + (first if length else 0), gathered)


def broadcast_tensors(*tensors):
    tensors = [as_tensor(t) for t in tensors]
    shape = np.broadcast_shapes(*(tuple(t.shape) for t in tensors))
    return tuple(t if tuple(t.shape) == shape else ops.expand(t, shape) for t in tensors)


def meshgrid(*tensors, indexing=None):
    """Grids of the 1-D tensors: 'ij' (PyTorch's default) or 'xy' (the first two swapped)."""
    tensors = [as_tensor(t) for t in (tensors[0] if len(tensors) == 1 and isinstance(
        tensors[0], (tuple, list)) else tensors)]
    indexing = indexing or "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"meshgrid: indexing={indexing!r}; use 'ij' or 'xy'")
    sizes = [t.numel() for t in tensors]
    if indexing == "xy" and len(tensors) >= 2:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    grids = []
    for k, t in enumerate(tensors):
        axis = k if indexing == "ij" or len(tensors) < 2 else {0: 1, 1: 0}.get(k, k)
        view = [1] * len(tensors)
        view[axis] = t.numel()
        grids.append(ops.expand(ops.reshape(t, tuple(view)), tuple(sizes)))
    return tuple(grids)


def cartesian_prod(*tensors):
    if len(tensors) == 1:
        return as_tensor(tensors[0])
    grids = meshgrid(*tensors, indexing="ij")
    return stack([flatten(g) for g in grids], 1)


def combinations(input, r=2, with_replacement=False):  # noqa: A002
    """The r-element combinations of a 1-D tensor's elements, one per row."""
    x = as_tensor(input)
    if x.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(x.shape)}")
    pick = itertools.combinations_with_replacement if with_replacement else (
        itertools.combinations)
    index = np.array(list(pick(range(x.shape[0]), r)), np.int64).reshape(-1, r)
    if r == 0 or index.size == 0:
        return Tensor._eager(np.zeros((0,) if r == 0 else (0, r), x.dtype.np))
    return ops.take(x, Tensor._eager(index))


def block_diag(*tensors):
    """The tensors (0-, 1- or 2-d) as blocks along the diagonal of one matrix, zeros off it."""
    blocks = [atleast_2d(as_tensor(t)) for t in tensors]
    if not blocks:
        return Tensor._eager(np.zeros((1, 0), dtypes.DEFAULT_FLOAT.np))
    width = sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        right = width - left - b.shape[1]
        rows.append(ops.pad(b, [[0, 0], [left, right]]))
        left += b.shape[1]
    return cat(rows, 0)


@with_out
def kron(input, other):  # noqa: A002
    """The Kronecker product: every element of input times the whole of other."""
    a, b = as_tensor(input), as_tensor(other)
    n = max(a.ndim, b.ndim)
    a = ops.reshape(a, (1,) * (n - a.ndim) + tuple(a.shape))
    b = ops.reshape(b, (1,) * (n - b.ndim) + tuple(b.shape))
    spread_a = ops.reshape(a, tuple(d for s in a.shape for d in (s, 1)))
    spread_b = ops.reshape(b, tuple(d for s in b.shape for d in (1, s)))
    product = spread_a * spread_b
    return ops.reshape(product, tuple(p * q for p, q in zip(a.shape, b.shape)))


@with_out
def cross(input, other, dim=None):  # noqa: A002
    """The 3-vector cross product along dim (the first dim of size 3 if None)."""
    a, b = broadcast_tensors(input, other)
    if dim is None:
        dim = next((d for d, n in enumerate(a.shape) if n == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    if a.shape[dim] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{a.shape[dim]} and {b.shape[dim]}")
    a0, a1, a2 = (narrow(a, dim, k, 1) for k in range(3))
    b0, b1, b2 = (narrow(b, dim, k, 1) for k in range(3))
    return cat([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], dim)


def tile_method(input, *dims):  # noqa: A002
    """`x.tile(2, 3)` or `x.tile((2, 3))`."""
    return tile(input, size_args(dims))


METHODS = {
    "swapdims": swapdims, "moveaxis": movedim, "ravel": ravel, "fliplr": fliplr,
    "flipud": flipud, "rot90": rot90, "tensor_split": tensor_split, "hsplit": hsplit,
    "vsplit": vsplit, "dsplit": dsplit,
    "split_with_sizes": split_with_sizes, "unfold": unfold, "diagonal": diagonal,
    "diag": diag, "kron": kron, "cross": cross, "tile": tile_method,
}



def torch_broadcast_shapes(*shapes):
    """`torch.broadcast_shapes`: the shape the given shapes broadcast to (an int is a 1-D
    shape), as a `torch.Size`; shapes that cannot broadcast raise naming them."""
    shapes = [(s,) if isinstance(s, int) else tuple(s) for s in shapes]
    if not shapes:
        return Size(())
    try:
        return Size(broadcast_shapes(*shapes))
    except ValueError:
        raise RuntimeError(f"broadcast_shapes: shapes {[list(s) for s in shapes]} cannot be "
                           f"broadcast together") from None
