"""Writes and reads at index positions, as PyTorch spells them: scatter, scatter_add,
index_add/index_copy/index_fill, masked_scatter/masked_select, take, take_along_dim,
repeat_interleave; and the data-dependent ones (nonzero, argwhere, unique).

The positions come from the index's (or mask's) values, read here (`_require_data`: under
tinyflow.compile a graph break that names the function); the values move through `take`
and `scatter_flat`, so gradients reach `x` and `src` as in PyTorch.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..autodiff.tape import write_inplace
from ..core.op import as_tensor
from ..core.tensor import Tensor
from .inplace import fill_shared, with_out
from .movement import flatten
from .sparse import scatter_flat


def _index_values(index, what: str) -> np.ndarray:
    index = as_tensor(index)
    if index.dtype.is_floating or index.dtype.is_bool:
        raise RuntimeError(f"{what}: Expected dtype int64 for index, got {index.dtype.name}")
    return np.asarray(index._require_data(f"{what} (its index's values)"), np.int64)


def _flat_positions(shape: tuple, dim: int, index: np.ndarray, what: str) -> np.ndarray:
    """Flat positions in a tensor of `shape` of the entries index[i] names along dim (the
    other coordinates are i's own)."""
    if index.ndim != len(shape):
        raise RuntimeError(f"{what}: index has {index.ndim} dims and the tensor "
                           f"{len(shape)}; they must match")
    size = shape[dim]
    if index.size and (index.min() < -size or index.max() >= size):
        bad = index[(index < -size) | (index >= size)].flat[0]
        raise RuntimeError(f"{what}: index {bad} is out of bounds for dimension {dim} with "
                           f"size {size}")
    for d, (n, m) in enumerate(zip(index.shape, shape)):
        if d != dim and n > m:
            raise RuntimeError(f"{what}: Size does not match at dimension {d}: index has "
                               f"{n}, self has {m}")
    coords = list(np.indices(index.shape, sparse=True))
    coords[dim] = index % size if size else index
    return np.ravel_multi_index(tuple(np.broadcast_arrays(*coords)), shape).reshape(-1) if (
        index.size) else np.zeros(0, np.int64)


def _leading_block(src: Tensor, shape: tuple) -> Tensor:
    """src's first shape[d] entries along each dim d (scatter reads only those)."""
    if tuple(src.shape) == tuple(shape):
        return src
    return ops.getitem(src, tuple(slice(0, n) for n in shape))


def _as_like(value, x: Tensor) -> Tensor:
    return ops.cast(as_tensor(value), x.dtype) if not isinstance(value, Tensor) or (
        value.dtype is not x.dtype) else value


def _replace_at(x: Tensor, positions: np.ndarray, values: Tensor) -> Tensor:
    """x with values[k] at flat position positions[k] (the last write wins)."""
    shape = tuple(x.shape)
    last = np.unique(positions[::-1], return_index=True)[1]
    keep = np.sort(positions.size - 1 - last)
    mask = np.zeros(int(np.prod(shape)), bool)
    mask[positions] = True
    kept = ops.take(values, Tensor._eager(keep)) if keep.size != positions.size else values
    placed = scatter_flat(kept, positions[keep], shape)
    return ops.where(Tensor._eager(mask.reshape(shape)), placed, x)


# ---- scatter --------------------------------------------------------------------------

def scatter(input, dim, index, src=None, *, value=None, reduce=None):  # noqa: A002
    """out[..., index[i], ...] = src[i] along dim (a number: that value); reduce='add' or
    'multiply' combine instead of replacing."""
    x = as_tensor(input)
    if src is None:
        src = value
    if reduce == "add":
        return scatter_add(x, dim, index, _full_like_index(src, index, x))
    if reduce == "multiply":
        raise NotImplementedError("scatter(reduce='multiply') is not supported")
    if reduce is not None:
        raise RuntimeError(f"scatter: reduce={reduce!r}; use 'add' or 'multiply'")
    dim = dim % max(x.ndim, 1)
    idx = _index_values(index, "scatter()")
    positions = _flat_positions(tuple(x.shape), dim, idx, "scatter()")
    if not isinstance(src, Tensor) or src.ndim == 0 and idx.ndim != 0:
        mask = np.zeros(int(np.prod(x.shape)), bool)
        mask[positions] = True
        return ops.where(Tensor._eager(mask.reshape(x.shape)), _as_like(src, x), x)
    values = flatten(_leading_block(_as_like(src, x), idx.shape))
    return _replace_at(x, positions, values)


def _full_like_index(src, index, x):
    if isinstance(src, Tensor) and src.ndim:
        return src
    return ops.expand(ops.reshape(_as_like(src, x), ()), tuple(as_tensor(index).shape))


def scatter_add(input, dim, index, src):  # noqa: A002
    """out = input, plus src[i] added at index[i] along dim (repeated indices add up)."""
    x = as_tensor(input)
    dim = dim % max(x.ndim, 1)
    idx = _index_values(index, "scatter_add()")
    positions = _flat_positions(tuple(x.shape), dim, idx, "scatter_add()")
    values = flatten(_leading_block(_as_like(src, x), idx.shape))
    return x + scatter_flat(values, positions, tuple(x.shape))


_REDUCE_AT = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum,
              "amin": np.minimum}


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):  # noqa: A002
    """out = input with src[i] reduced into the entry index[i] names along dim, by "sum",
    "prod", "mean", "amax" or "amin" (with input's own value if include_self).

    The values are reduced with NumPy (the index is data anyway); the gradient is the
    linear term sum_i w_i (v_i - stop(v_i)), zero in value, whose weights are PyTorch's:
    1 (sum), 1 / count (mean), the product of the others (prod), and for amax / amin an
    equal share among the values equal to the result."""
    x, src = as_tensor(input), as_tensor(src)
    if reduce not in _REDUCE_AT:
        raise RuntimeError(f"scatter_reduce: reduce={reduce!r}; use 'sum', 'prod', 'mean', "
                           f"'amax' or 'amin'")
    dim = dim % max(x.ndim, 1)
    idx = _index_values(index, "scatter_reduce()")
    positions = _flat_positions(tuple(x.shape), dim, idx, "scatter_reduce()")
    values = flatten(_leading_block(_as_like(src, x), idx.shape))
    base = x._require_data("scatter_reduce()").reshape(-1)
    v = values._require_data("scatter_reduce()")
    hit = np.zeros(base.size, bool)
    hit[positions] = True
    self_in = ~hit | include_self          # which of input's own values take part
    result, count = _reduced_at(reduce, base, v, positions, self_in)
    w_self, w_src = _reduce_weights(reduce, base, v, positions, self_in, result, count)
    out = Tensor._eager(result.reshape(x.shape))
    if not (x.requires_grad or values.requires_grad):
        return out
    flat_x = flatten(x)
    term = (flat_x - ops.stop_gradient(flat_x)) * Tensor._eager(w_self) + scatter_flat(
        (values - ops.stop_gradient(values)) * Tensor._eager(w_src), positions, (base.size,))
    return out + ops.reshape(term, tuple(x.shape))


def _reduced_at(reduce, base, v, positions, self_in):
    """(the reduced values, how many took part at each position)."""
    identity = {"sum": 0, "mean": 0, "prod": 1, "amax": -np.inf, "amin": np.inf}[reduce]
    result = np.where(self_in, base, np.asarray(identity).astype(base.dtype))
    _REDUCE_AT[reduce].at(result, positions, v)
    count = self_in.astype(np.int64)
    np.add.at(count, positions, 1)
    if reduce == "mean":
        safe = np.maximum(count, 1).astype(result.dtype)
        result = result // safe if result.dtype.kind in "iub" else result / safe
    return result.astype(base.dtype, copy=False), count


def _reduce_weights(reduce, base, v, positions, self_in, result, count):
    """d result / d input and d result / d src (per element), as PyTorch's backward."""
    ones = np.ones(base.size, base.dtype)
    if reduce == "sum":
        return self_in.astype(base.dtype), np.ones(v.size, base.dtype)
    if reduce == "mean":
        share = 1.0 / np.maximum(count, 1)
        return np.where(self_in, share, 0).astype(base.dtype), share[positions].astype(
            base.dtype)
    if reduce in ("amax", "amin"):
        self_ties = self_in & (base == result)
        src_ties = v == result[positions]
        ties = self_ties.astype(np.int64)
        np.add.at(ties, positions, src_ties)
        share = 1.0 / np.maximum(ties, 1)
        return (np.where(self_ties, share, 0).astype(base.dtype),
                np.where(src_ties, share[positions], 0).astype(base.dtype))
    # prod: the product of the others at the same position, zeros counted apart
    zeros = (self_in & (base == 0)).astype(np.int64)
    np.add.at(zeros, positions, v == 0)
    nonzero = np.where(self_in & (base != 0), base, ones)
    np.multiply.at(nonzero, positions, np.where(v == 0, 1, v))

    def others(own, at):
        rest_zeros = zeros[at] - (own == 0)
        without = nonzero[at] / np.where(own == 0, 1, own)
        return np.where(rest_zeros > 0, 0, without).astype(base.dtype)
    every = np.arange(base.size)
    return np.where(self_in, others(base, every), 0), others(v, positions)


def _along(index: np.ndarray, shape: tuple, dim: int) -> np.ndarray:
    """A 1-D index along dim broadcast to a source of `shape` (index_add's rows)."""
    view = [1] * len(shape)
    view[dim] = index.size
    return np.broadcast_to(index.reshape(view), shape)


def _index_source(x, dim, index, source, what):
    if index.ndim > 1:
        raise RuntimeError(f"{what}: Index is supposed to be a vector")
    source = _as_like(source, x)
    expected = tuple(x.shape[:dim]) + (index.size,) + tuple(x.shape[dim + 1:])
    if x.ndim and tuple(source.shape) != expected:
        raise RuntimeError(f"{what}: source of shape {tuple(source.shape)} does not match "
                           f"{expected} (self's shape with dim {dim} of the index's length)")
    return source, _flat_positions(tuple(x.shape), dim, _along(index.reshape(-1), expected, dim),
                              what)


def index_add(input, dim, index, source, *, alpha=1):  # noqa: A002
    """input with alpha * source's slices added at the rows `index` names along dim."""
    x = as_tensor(input)
    dim = dim % max(x.ndim, 1)
    source, positions = _index_source(x, dim, _index_values(index, "index_add()"), source,
                                      "index_add()")
    values = flatten(source if alpha == 1 else source * alpha)
    return x + scatter_flat(values, positions, tuple(x.shape))


def index_copy(input, dim, index, source):  # noqa: A002
    """input with source's slices written at the rows `index` names along dim."""
    x = as_tensor(input)
    dim = dim % max(x.ndim, 1)
    source, positions = _index_source(x, dim, _index_values(index, "index_copy()"), source,
                                      "index_copy()")
    return _replace_at(x, positions, flatten(source))


def index_put(input, indices, values, accumulate: bool = False):  # noqa: A002
    """input with values written (or, with `accumulate`, added: repeats add up) at
    input[indices], a tuple of integer or boolean index tensors for the leading dims."""
    x = as_tensor(input)
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put(): indices must be a tuple of tensors, got "
                        f"{type(indices).__name__}")
    keys = tuple(_put_key(i) for i in indices)
    shape = tuple(x.shape)
    positions = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64).reshape(shape)
    try:
        positions = positions[keys]
    except IndexError as e:
        raise IndexError(f"index_put(): {e} (input of shape {shape})") from None
    source = flatten(ops.expand(_as_like(values, x), positions.shape))
    positions = positions.reshape(-1)
    if accumulate:
        return x + scatter_flat(source, positions, shape)
    return _replace_at(x, positions, source)


def _put_key(index) -> np.ndarray:
    """An index_put index as NumPy indexes with it: integers (any sign) or a boolean mask."""
    t = as_tensor(index)
    if t.dtype.is_floating:
        raise IndexError(f"index_put: an index tensor is {t.dtype.name}; index with integer "
                         f"or bool tensors")
    return np.asarray(t._require_data("index_put() (its index's values)"))


def index_put_(input, indices, values, accumulate: bool = False):  # noqa: A002
    """In-place index_put."""
    x = as_tensor(input)
    return write_inplace(x, index_put(x, indices, values, accumulate))


def index_fill(input, dim, index, value):  # noqa: A002
    """input with every element of the rows `index` names along dim set to value."""
    x = as_tensor(input)
    return ops.where(Tensor._eager(_rows_mask(x, dim, index)), _as_like(value, x), x)


def index_fill_(input, dim, index, value):  # noqa: A002
    """In-place index_fill (into an expand's shared memory too, as PyTorch)."""
    x = as_tensor(input)
    if fill_shared(x, _rows_mask(x, dim, index), value, "index_fill_"):
        return x
    return write_inplace(x, index_fill(x, dim, index, value))


def _rows_mask(x: Tensor, dim: int, index) -> np.ndarray:
    """True on the rows `index` names along dim (a mask of size 1 on the other dims)."""
    dim = dim % max(x.ndim, 1)
    idx = _index_values(index, "index_fill()").reshape(-1)
    size = x.shape[dim] if x.ndim else 1
    if idx.size and (idx.min() < -size or idx.max() >= size):
        raise IndexError(f"index_fill(): index out of range in self (dim {dim}, size {size})")
    mask = np.zeros(size, bool)
    mask[idx] = True
    view = [1] * x.ndim
    if x.ndim:
        view[dim] = size
    return mask.reshape(view)


# ---- masks ----------------------------------------------------------------------------

def _mask_values(mask, shape, what) -> np.ndarray:
    mask = as_tensor(mask)
    if not mask.dtype.is_bool:
        raise RuntimeError(f"{what}: expected BoolTensor for mask, got {mask.dtype.name}")
    return np.broadcast_to(mask._require_data(f"{what} (its output's size depends on the "
                                              f"mask's values)"), shape)


@with_out
def masked_select(input, mask):  # noqa: A002
    """The elements where mask (broadcast) is True, as a 1-D tensor, in row-major order."""
    x, m = as_tensor(input), as_tensor(mask)
    shape = np.broadcast_shapes(tuple(x.shape), tuple(m.shape))
    keep = np.flatnonzero(_mask_values(m, shape, "masked_select()"))
    full = x if tuple(x.shape) == shape else ops.expand(x, shape)
    return ops.take(flatten(full), Tensor._eager(keep))


def masked_scatter(input, mask, source):  # noqa: A002
    """input with its masked positions filled, in order, from source's first elements."""
    x = as_tensor(input)
    where = _mask_values(mask, tuple(x.shape), "masked_scatter()")
    positions = np.flatnonzero(where)
    source = _as_like(source, x)
    if positions.size > source.numel():
        raise RuntimeError(f"masked_scatter: expected source to have at least "
                           f"{positions.size} elements, got {source.numel()}")
    values = ops.take(flatten(source), Tensor._eager(np.arange(positions.size)))
    placed = scatter_flat(values, positions, tuple(x.shape))
    return ops.where(Tensor._eager(np.ascontiguousarray(where)), placed, x)


# ---- reads at positions ---------------------------------------------------------------

def flat_take(input, index):  # noqa: A002
    """input's elements at flat (row-major) positions; the index's shape."""
    x = as_tensor(input)
    idx = _index_values(index, "take()")
    n = x.numel()
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"take(): out of range: tried to access index "
                         f"{idx[(idx < -n) | (idx >= n)].flat[0]} on a tensor of {n} elements.")
    return ops.take(flatten(x), Tensor._eager(idx % n if n else idx))


@with_out
def take_along_dim(input, indices, dim=None):  # noqa: A002
    """gather along dim, with input and indices broadcast in the other dims; dim None: of
    the flattened input."""
    x, index = as_tensor(input), as_tensor(indices)
    if dim is None:
        return ops.take(flatten(x), flatten(index))
    dim = dim % x.ndim
    shape_x, shape_i = list(x.shape), list(index.shape)
    shape_x[dim] = shape_i[dim] = 1
    common = np.broadcast_shapes(tuple(shape_x), tuple(shape_i))
    want_x = common[:dim] + (x.shape[dim],) + common[dim + 1:]
    want_i = common[:dim] + (index.shape[dim],) + common[dim + 1:]
    x = x if tuple(x.shape) == want_x else ops.expand(x, want_x)
    index = index if tuple(index.shape) == want_i else ops.expand(index, want_i)
    return ops.gather(x, dim, index)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):  # noqa: A002
    """Each element (each slice along dim) repeated `repeats` times (an int, or one count per
    element); `repeat_interleave(counts)` alone: 0, 1, ... each repeated its count."""
    x = as_tensor(input)
    if repeats is None:   # torch.repeat_interleave(repeats)
        counts = _index_values(x, "repeat_interleave()")
        return Tensor._eager(np.repeat(np.arange(counts.size, dtype=np.int64), counts))
    if dim is None:
        x, dim = flatten(x), 0
    dim = dim % max(x.ndim, 1)
    n = x.shape[dim]
    counts = (np.full(n, repeats, np.int64) if isinstance(repeats, int) else
              _index_values(repeats, "repeat_interleave()").reshape(-1))
    if counts.size == 1 and n != 1:
        counts = np.full(n, counts[0], np.int64)
    if counts.size != n or counts.size and counts.min() < 0:
        raise RuntimeError(f"repeat_interleave: repeats {counts.tolist()} must hold one "
                           f"count >= 0 per element along dim (size {n})")
    return ops.take(x, Tensor._eager(np.repeat(np.arange(n, dtype=np.int64), counts)), dim)


# ---- data-dependent shapes (eager only) -----------------------------------------------

def nonzero(input, *, as_tuple=False):  # noqa: A002
    """The coordinates of the nonzero elements: [n, ndim] int64, or one 1-D tensor per dim."""
    x = as_tensor(input)
    data = x._require_data("nonzero() (its output's shape depends on the values)")
    if as_tuple:
        return tuple(Tensor._eager(c.astype(np.int64))
                     for c in np.nonzero(np.atleast_1d(data)))
    return Tensor._eager(np.argwhere(data).astype(np.int64))


def argwhere(input):  # noqa: A002
    return nonzero(input)


def unique(input, sorted=True, return_inverse=False, return_counts=False,  # noqa: A002
           dim=None):
    """The distinct values (sorted), or the distinct slices along dim; with the inverse
    indices and the counts if asked."""
    x = as_tensor(input)
    data = x._require_data("unique() (its output's shape depends on the values)")
    values, inverse, counts = np.unique(data, return_inverse=True, return_counts=True,
                                        axis=dim)
    out = [Tensor._eager(values)]
    if return_inverse:
        shape = data.shape if dim is None else (data.shape[dim],)
        out.append(Tensor._eager(inverse.reshape(shape).astype(np.int64)))
    if return_counts:
        out.append(Tensor._eager(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    """The values (or slices along dim) with each run of equal neighbours kept once; with
    each element's run number and the run lengths if asked."""
    x = as_tensor(input)
    data = x._require_data("unique_consecutive() (its output's shape depends on the values)")
    flat = data.reshape(-1) if dim is None else np.moveaxis(data, dim, 0)
    n = flat.shape[0]
    starts = np.ones(n, bool)
    if n > 1:
        differs = flat[1:] != flat[:-1]
        starts[1:] = differs if differs.ndim == 1 else differs.reshape(n - 1, -1).any(1)
    values = flat[starts] if dim is None else np.moveaxis(flat[starts], 0, dim)
    out = [Tensor._eager(np.ascontiguousarray(values))]
    if return_inverse:
        inverse = np.cumsum(starts) - 1
        out.append(Tensor._eager(inverse.reshape(data.shape if dim is None else (n,))
                                 .astype(np.int64)))
    if return_counts:
        out.append(Tensor._eager(np.diff(np.append(np.flatnonzero(starts), n)).astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


# ---- in place -------------------------------------------------------------------------

def _in_place(function):
    def method(self, *args, **kwargs):
        return write_inplace(self, function(self, *args, **kwargs))
    method.__name__ = method.__qualname__ = function.__name__ + "_"
    method.__doc__ = f"In-place {function.__name__}."
    return method


METHODS = {
    "scatter": scatter, "scatter_add": scatter_add, "index_add": index_add,
    "index_copy": index_copy, "index_fill": index_fill, "masked_select": masked_select,
    "masked_scatter": masked_scatter, "take": flat_take, "take_along_dim": take_along_dim,
    "repeat_interleave": repeat_interleave, "nonzero": nonzero, "argwhere": argwhere,
    "unique": unique, "unique_consecutive": unique_consecutive, "scatter_reduce": scatter_reduce,
    "scatter_reduce_": _in_place(scatter_reduce),
    "scatter_": _in_place(scatter), "scatter_add_": _in_place(scatter_add),
    "index_add_": _in_place(index_add), "index_copy_": _in_place(index_copy),
    "index_fill_": index_fill_, "index_put": index_put, "index_put_": index_put_, "masked_scatter_": _in_place(masked_scatter),
}
