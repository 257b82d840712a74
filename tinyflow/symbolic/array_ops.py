"""TF1 array functions composed of existing ops: `sequence_mask`, `reduce_any` /
`reduce_all`, `top_k`, `reverse_sequence`, index reads and writes (`gather_nd`,
`scatter_nd`), segment sums, means and extremes, and `boolean_mask`. Scatters are
`TakeGrad` (a take's scatter-add adjoint), so each works in a Session on placeholders and
eagerly, and their gradients are gathers. Out-of-range indices and unsorted segment ids are
refused naming the function: when known, here; in a graph, when run (ops/debug.py's
`checked`)."""
from __future__ import annotations

import numpy as np

from .. import ops
from ..core import dtypes
from ..core.errors import IndexOutOfRangeError, InvalidArgumentError
from ..core.op import apply, as_tensor
from ..core.tensor import EAGER, Tensor
from ..ops.creation import tf1_constant, tf_range
from ..ops.debug import checked
from ..ops.indexing import TakeGrad
from ..ops.product import reduce_prod
from ..ops.shape import shape_of


def _int_tensor(x, fn: str, what: str) -> Tensor:
    x = as_tensor(x)
    if not x.dtype.is_integer:
        raise TypeError(f"{fn}: {what} must be integers, got {x.dtype.name}")
    return x


def _known_dims(x: Tensor, dims, fn: str, what: str) -> tuple:
    """x's dims `dims` as ints, or a clear error when the graph does not know them."""
    if x.shape is None or any(x.shape[d] is None for d in dims):
        raise ValueError(f"{fn}: the {what} of {x.shape} must be known when the graph is "
                         f"built")
    return tuple(int(x.shape[d]) for d in dims)


def _zeros_rows(rows, rest: tuple, dtype) -> Tensor:
    """Zeros [rows, *rest]; `rows` may be a scalar tensor read when run (the rest stays
    known to the graph)."""
    if isinstance(rows, Tensor):
        column = ops.cast(ops.fill([rows] + [1] * len(rest), 0), dtype)
        return ops.add(column, as_tensor(np.zeros((1,) + rest, dtype.np)))
    return ops.expand(as_tensor(np.zeros((), dtype.np)), (int(rows),) + rest)


def _scatter_rows(values: Tensor, rows: Tensor, ref: Tensor) -> Tensor:
    """ref-shaped zeros with values' slices added at rows (repeats add up)."""
    return apply(TakeGrad(axis=0), values, rows, ref)


# ---- masks and bands --------------------------------------------------------------------

def sequence_mask(lengths, maxlen=None, dtype=dtypes.bool_, name=None) -> Tensor:
    """mask[..., j] = j < lengths[...]: shape lengths.shape + [maxlen], maxlen the largest
    length (read when run) unless given."""
    lengths = _int_tensor(lengths, "sequence_mask", "lengths")
    if maxlen is None:
        maxlen = ops.reduce_max(lengths)
    elif isinstance(maxlen, Tensor):
        maxlen = ops.cast(maxlen, lengths.dtype)
    positions = ops.cast(tf_range(maxlen), lengths.dtype)
    mask = ops.less(positions, ops.expand_dims(lengths, -1))
    return mask if dtypes.as_dtype(dtype).is_bool else ops.cast(mask, dtype, name=name)


def _count_true(fn: str, x, axis, keepdims, reduction_indices, keep_dims) -> Tensor:
    x = as_tensor(x)
    if not x.dtype.is_bool:
        raise TypeError(f"{fn}: input_tensor must be bool, got {x.dtype.name}")
    return ops.reduce_sum(ops.cast(x, dtypes.int64), axis, bool(keepdims or keep_dims),
                          reduction_indices=reduction_indices)


def reduce_any(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None,
               keep_dims=None) -> Tensor:
    """Logical or over axes (a count of the true entries, > 0: False over no entries)."""
    count = _count_true("reduce_any", input_tensor, axis, keepdims, reduction_indices,
                        keep_dims)
    return ops.greater(count, 0, name=name)


def reduce_all(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None,
               keep_dims=None) -> Tensor:
    """Logical and over axes (no false entry: True over no entries)."""
    count = _count_true("reduce_all", ops.logical_not(as_tensor(input_tensor)), axis,
                        keepdims, reduction_indices, keep_dims)
    return ops.equal(count, 0, name=name)


def top_k(input, k=1, sorted=True, name=None) -> tuple:  # noqa: A002
    """(values, indices) of the k largest entries of each last-axis row, largest first
    (ties: the lower index first); indices are int32, as TF's."""
    x = as_tensor(input)
    if isinstance(k, Tensor):
        k = int(k._require_data("top_k (k)"))
    size = x.shape[-1] if x.ndim else None
    if x.ndim == 0 or not 0 <= int(k) <= (size if size is not None else int(k)):
        raise ValueError(f"top_k: k = {k} must be in [0, last dim] for input of shape "
                         f"{x.shape}")
    order = ops.argsort(x, -1, True)[..., :int(k)]
    values = ops.gather(x, -1, order)
    return values, ops.cast(order, dtypes.int32, name=name)


def reverse_sequence(input, seq_lengths, seq_axis=None, batch_axis=None, name=None,  # noqa: A002
                     seq_dim=None, batch_dim=None) -> Tensor:
    """The first seq_lengths[b] entries of each batch entry b reversed along seq_axis; the
    rest stay (a gather whose index is built from the lengths when run)."""
    x = as_tensor(input)
    lengths = ops.cast(_int_tensor(seq_lengths, "reverse_sequence", "seq_lengths"),
                       dtypes.int64)
    seq = seq_axis if seq_axis is not None else seq_dim
    batch = (batch_axis if batch_axis is not None else batch_dim) or 0
    if seq is None or x.ndim is None or not (0 <= batch < x.ndim and 0 <= seq < x.ndim) \
            or seq == batch or lengths.ndim != 1:
        raise ValueError(f"reverse_sequence: need seq_axis and batch_axis, two dims of input "
                         f"{x.shape}, and 1-D seq_lengths, got {seq}, {batch} and "
                         f"{lengths.shape}")
    (steps,) = _known_dims(x, [seq], "reverse_sequence", "sequence dim")
    position = as_tensor(np.arange(steps))[None, :]               # [1, T]
    length = ops.expand_dims(lengths, 1)                          # [B, 1]
    index = ops.where(ops.less(position, length), length - 1 - position, position)   # [B, T]
    view = [1] * x.ndim
    view[batch], view[seq] = -1, steps
    if batch > seq:
        index = ops.transpose(index, (1, 0))
    index = ops.reshape(index, view)
    index = ops.add(index, ops.zeros_like(x, dtype=dtypes.int64))  # broadcast to x's shape
    return ops.gather(x, seq, index)


# ---- index reads and writes -------------------------------------------------------------

def _flat_rows(indices: Tensor, dims: tuple, fn: str) -> Tensor:
    """indices [..., M] into the first M dims `dims` as row numbers of those dims flattened
    (row-major). Each coordinate must lie in [0, its dim): known indices are checked here,
    in a graph when run, naming fn."""
    strides = np.cumprod((1,) + dims[::-1])[::-1][1:]
    bounds = np.asarray(dims, np.int64)
    if indices.kind == EAGER:
        coords = indices.array
        outside = ((coords < 0) | (coords >= bounds)).any(-1)
        if outside.any():
            raise IndexOutOfRangeError(f"{fn}: index {coords[outside][0].tolist()} is out of "
                                       f"range for dims {dims}")
    coords = ops.cast(indices, dtypes.int64)
    rows = ops.reduce_sum(ops.multiply(coords, as_tensor(strides.astype(np.int64))), -1)
    if indices.kind == EAGER:
        return rows
    inside = reduce_all(ops.logical_and(ops.greater_equal(coords, 0),
                                        ops.less(coords, as_tensor(bounds))), -1)
    return checked(rows, inside, _index_outside(fn, dims), coords, error=IndexOutOfRangeError)


def _index_outside(fn: str, dims: tuple):
    def describe(inside, coords) -> str:
        return f"{fn}: index {coords[~inside][0].tolist()} is out of range for dims {dims}"
    return describe


def _index_depth(indices: Tensor, fn: str) -> int:
    if indices.ndim is None or indices.ndim < 1 or indices.shape[-1] is None:
        raise ValueError(f"{fn}: indices must have rank >= 1 and a known last dim (the "
                         f"index depth), got shape {indices.shape}")
    return int(indices.shape[-1])


def gather_nd(params, indices, name=None, batch_dims=0) -> Tensor:
    """out[i...] = params[indices[i..., 0], ..., indices[i..., M-1], ...]: shape
    indices.shape[:-1] + params.shape[M:]."""
    if batch_dims:
        raise NotImplementedError("gather_nd: batch_dims is not supported")
    params = as_tensor(params)
    indices = _int_tensor(indices, "gather_nd", "indices")
    depth = _index_depth(indices, "gather_nd")
    if params.ndim is not None and depth > params.ndim:
        raise ValueError(f"gather_nd: index depth {depth} (indices {indices.shape}) exceeds "
                         f"the rank of params {params.shape}")
    dims = _known_dims(params, range(depth), "gather_nd", f"first {depth} dims of params")
    table = ops.reshape(params, (int(np.prod(dims)),) + tuple(params.shape[depth:]))
    return ops.take(table, _flat_rows(indices, dims, "gather_nd"), 0, name=name)


def _static_shape(shape, fn: str) -> tuple:
    if isinstance(shape, Tensor):
        if shape.kind != EAGER:
            raise ValueError(f"{fn}: shape must be known when the graph is built (a list "
                             f"of ints or a constant), got the graph tensor {shape.name}")
        shape = shape.array
    return tuple(int(d) for d in np.asarray(shape).reshape(-1))


def scatter_nd(indices, updates, shape, name=None) -> Tensor:
    """Zeros of `shape` with updates[i...] added at indices[i...] (repeats add up)."""
    indices = _int_tensor(indices, "scatter_nd", "indices")
    updates = as_tensor(updates)
    shape = _static_shape(shape, "scatter_nd")
    depth = _index_depth(indices, "scatter_nd")
    want = tuple(indices.shape[:-1]) + shape[depth:]
    if depth > len(shape) or updates.shape is not None and len(updates.shape) != len(want) \
            or updates.shape is not None and any(
                u is not None and w is not None and u != w for u, w in zip(updates.shape, want)):
        raise ValueError(f"scatter_nd: updates of shape {updates.shape} do not fit indices "
                         f"{indices.shape} into shape {shape} (want {want})")
    rows = int(np.prod(shape[:depth]))
    flat = _scatter_rows(updates, _flat_rows(indices, shape[:depth], "scatter_nd"),
                         _zeros_rows(rows, shape[depth:], updates.dtype))
    return ops.reshape(flat, shape, name=name)


# ---- segments ---------------------------------------------------------------------------

def _segment_args(data, segment_ids, fn: str):
    data = as_tensor(data)
    ids = _int_tensor(segment_ids, fn, "segment_ids")
    if ids.ndim is None or data.ndim is None or ids.ndim > data.ndim or any(
            a is not None and b is not None and a != b for a, b in zip(ids.shape, data.shape)):
        raise ValueError(f"{fn}: segment_ids of shape {ids.shape} must be a prefix of data's "
                         f"shape {data.shape}")
    return data, ids, tuple(data.shape[ids.ndim:])


def _num_segments(num_segments, fn: str, graph_ok: bool = False):
    """num_segments as an int; a graph tensor (read when run) only where graph_ok."""
    if isinstance(num_segments, Tensor):
        if num_segments.kind == EAGER:
            return int(num_segments.array)
        if not graph_ok:
            raise ValueError(f"{fn}: num_segments must be known when the graph is built (an "
                             f"int or a constant), got the graph tensor {num_segments.name}")
        if num_segments.ndim != 0 or not num_segments.dtype.is_integer:
            raise ValueError(f"{fn}: num_segments must be an int scalar, got "
                             f"{num_segments.dtype.name} of shape {num_segments.shape}")
        return num_segments
    return int(num_segments)


def _check_ids(ids: Tensor, n, fn: str) -> Tensor:
    """ids, refused by name if one is >= num_segments: known ones here, else when run."""
    if ids.kind == EAGER and isinstance(n, int):
        if ids.array.size and ids.array.max() >= n:
            raise IndexOutOfRangeError(f"{fn}: segment id {ids.array.max()} is out of range "
                                       f"for num_segments {n}")
        return ids
    return checked(ids, ops.less(ids, ops.cast(n, ids.dtype)), _id_outside(fn), ids, n,
                   error=IndexOutOfRangeError)


def _id_outside(fn: str):
    def describe(inside, ids, n) -> str:
        return f"{fn}: segment id {ids.max()} is out of range for num_segments {n}"
    return describe


def _unsorted_sum(fn: str, data, segment_ids, num_segments) -> Tensor:
    """A negative id's value is zeroed into row 0 (dropped, as TF1's); an id >= n is past
    the n-row table, so the scatter kernel refuses it when run."""
    data, ids, rest = _segment_args(data, segment_ids, fn)
    if None in rest:
        raise ValueError(f"{fn}: data's dims after the segment ids must be known, got "
                         f"{data.shape}")
    n = _num_segments(num_segments, fn, graph_ok=True)
    ids = _check_ids(ids, n, fn)
    kept = ops.greater_equal(ids, 0)
    for _ in rest:
        kept = ops.expand_dims(kept, -1)
    values = ops.where(kept, data, as_tensor(np.zeros((), data.dtype.np)))
    return _scatter_rows(values, ops.maximum(ids, 0), _zeros_rows(n, rest, data.dtype))


def unsorted_segment_sum(data, segment_ids, num_segments, name=None) -> Tensor:
    """out[s] = sum of data[i...] over segment_ids[i...] == s, for s < num_segments (which
    may be a graph tensor, read when run); a negative id drops its value, as TF1's."""
    return _unsorted_sum("unsorted_segment_sum", data, segment_ids, num_segments)


def _sorted_rows(ids: Tensor, fn: str) -> tuple:
    """(rows, max(ids) + 1) for sorted non-negative 1-D ids. Bad ids are refused naming fn:
    known ones here, in a graph when run (TF1 requires sorted ids)."""
    if ids.ndim != 1:
        raise ValueError(f"{fn}: segment_ids must be 1-D, got shape {ids.shape}")
    if ids.kind == EAGER:
        if ids.array.size and ((np.diff(ids.array) < 0).any() or ids.array.min() < 0):
            raise ValueError(f"{fn}: segment_ids must be sorted and >= 0, got "
                             f"{ids.array.tolist()}")
        return ids, _rows_named(ids)
    good = ops.logical_and(reduce_all(ops.greater_equal(ids, 0)),
                           reduce_all(ops.greater_equal(ids[1:], ids[:-1])))
    ids = checked(ids, good, _unsorted(fn), ids)
    return ids, _rows_named(ids)


def _rows_named(ids: Tensor) -> Tensor:
    """max(ids) + 1, or 0 when there are no ids (a max over none would fail)."""
    flat = ops.reshape(ids, (-1,))
    return ops.reduce_max(ops.concat([flat, ops.cast(as_tensor(np.array([-1])), flat.dtype)],
                                     0)) + 1


def _unsorted(fn: str):
    def describe(good, ids) -> str:
        return f"{fn}: segment_ids must be sorted and >= 0, got {ids.tolist()}"
    return describe


def _segment_sum(fn: str, data, segment_ids) -> Tensor:
    data, ids, rest = _segment_args(data, segment_ids, fn)
    rows, count = _sorted_rows(ids, fn)
    if None in rest:
        raise ValueError(f"{fn}: data's dims after the first must be known, got {data.shape}")
    return _scatter_rows(data, rows, _zeros_rows(count, rest, data.dtype))


def segment_sum(data, segment_ids, name=None) -> Tensor:
    """out[s] = sum of data[i] over segment_ids[i] == s (ids sorted, 1-D); max(ids) + 1
    segments, a count read when the graph runs, so it works on placeholders too."""
    return _segment_sum("segment_sum", data, segment_ids)


def _segment_extreme(data: Tensor, member: Tensor, rest: tuple, largest: bool,
                     empty=None) -> Tensor:
    """max / min of each segment: data compared across a one-hot [entries, segments]
    member mask. A segment with no entries holds the dtype's lowest / highest value (the
    unsorted functions', as TF1's), or `empty` if given."""
    flat = ops.reshape(data, (-1,) + rest)
    for _ in rest:   # [entries, segments, 1, ...] against data [entries, 1, ...]
        member = ops.expand_dims(member, -1)
    floating = data.dtype.is_floating
    limits = np.finfo(data.dtype.np) if floating else np.iinfo(data.dtype.np)
    limit = limits.min if largest else limits.max
    # Non-members compare as -inf / +inf (floats), so a segment of -inf entries keeps -inf;
    # a segment with no members gets the finite `limit` (or `empty`) below.
    outside = as_tensor(np.asarray((-np.inf if largest else np.inf) if floating else limit,
                                   data.dtype.np))
    spread = ops.where(member, ops.expand_dims(flat, 1), outside)
    # One more row of `outside`: a reduction over no entries (empty data) is then defined.
    spread = ops.pad(spread, [(0, 1)] + [(0, 0)] * (1 + len(rest)),
                     constant_values=outside.array)
    out = (ops.reduce_max if largest else ops.reduce_min)(spread, 0)
    fill = limit if empty is None else empty
    return ops.where(reduce_any(member, 0), out, as_tensor(np.asarray(fill, data.dtype.np)))


def _unsorted_member(fn: str, data, segment_ids, num_segments) -> tuple:
    """(data, one-hot member mask [entries, n], rest dims). The mask is a take of the rows
    of an identity with a spare zero row n for negative ids, so the take kernel refuses an
    id >= n (row n + 1) when run."""
    data, ids, rest = _segment_args(data, segment_ids, fn)
    n = _num_segments(num_segments, fn)
    ids = _check_ids(ids, n, fn)
    ids = ops.reshape(ids, (-1,))
    inside = ops.where(ops.less(ids, n), ids, ops.cast(n + 1, ids.dtype))
    rows = ops.where(ops.less(ids, 0), ops.cast(n, ids.dtype), inside)
    return data, ops.take(as_tensor(np.eye(n + 1, n, dtype=bool)), rows, 0), rest


def _unsorted_extreme(fn: str, data, segment_ids, num_segments, largest: bool) -> Tensor:
    data, member, rest = _unsorted_member(fn, data, segment_ids, num_segments)
    return _segment_extreme(data, member, rest, largest)


def _segment_product(data: Tensor, member: Tensor, rest: tuple) -> Tensor:
    """The product of each segment: data spread across the one-hot [entries, segments]
    member mask, 1 outside it, multiplied over the entries (an empty segment: 1, TF1's)."""
    flat = ops.reshape(data, (-1,) + rest)
    for _ in rest:
        member = ops.expand_dims(member, -1)
    one = as_tensor(np.ones((), data.dtype.np))
    return reduce_prod(ops.where(member, ops.expand_dims(flat, 1), one), 0)


def unsorted_segment_prod(data, segment_ids, num_segments, name=None) -> Tensor:
    """out[s] = product of data[i...] over segment_ids[i...] == s; an empty segment is 1 and
    a negative id drops its value, as TF1's."""
    data, member, rest = _unsorted_member("unsorted_segment_prod", data, segment_ids,
                                          num_segments)
    return _segment_product(data, member, rest)


def unsorted_segment_sqrt_n(data, segment_ids, num_segments, name=None) -> Tensor:
    """The sum of each segment over the square root of its count (an empty segment: 0)."""
    return _unsorted_scaled("unsorted_segment_sqrt_n", data, segment_ids, num_segments,
                            ops.sqrt)


def unsorted_segment_max(data, segment_ids, num_segments, name=None) -> Tensor:
    return _unsorted_extreme("unsorted_segment_max", data, segment_ids, num_segments, True)


def unsorted_segment_min(data, segment_ids, num_segments, name=None) -> Tensor:
    return _unsorted_extreme("unsorted_segment_min", data, segment_ids, num_segments, False)


def _unsorted_scaled(fn: str, data, segment_ids, num_segments, scale) -> Tensor:
    """Each segment's sum over scale(its count) (an empty segment: 0)."""
    total = _unsorted_sum(fn, data, segment_ids, num_segments)
    ids = _int_tensor(segment_ids, fn, "segment_ids")
    count = _unsorted_sum(fn, ops.ones_like(ids, dtype=total.dtype), ids, num_segments)
    view = (-1,) + (1,) * (total.ndim - 1)
    return ops.divide(total, ops.reshape(scale(ops.maximum(count, 1)), view))


def unsorted_segment_mean(data, segment_ids, num_segments, name=None) -> Tensor:
    """The sum of each segment over its count (an empty segment: 0)."""
    return _unsorted_scaled("unsorted_segment_mean", data, segment_ids, num_segments,
                            lambda count: count)


def segment_mean(data, segment_ids, name=None) -> Tensor:
    """unsorted_segment_mean over max(ids) + 1 segments (ids sorted, 1-D)."""
    total = _segment_sum("segment_mean", data, segment_ids)
    ones = ops.ones_like(as_tensor(segment_ids), dtype=total.dtype)
    count = _segment_sum("segment_mean", ones, segment_ids)
    view = (-1,) + (1,) * (total.ndim - 1)
    return ops.divide(total, ops.reshape(ops.maximum(count, 1), view))


def _sorted_member(fn: str, data, segment_ids) -> tuple:
    """(data, one-hot member mask [entries, max(ids) + 1], rest dims) of sorted ids."""
    data, ids, rest = _segment_args(data, segment_ids, fn)
    rows, count = _sorted_rows(ids, fn)
    member = ops.equal(ops.reshape(rows, (-1, 1)),
                       ops.cast(ops.expand_dims(tf_range(count), 0), ids.dtype))
    return data, member, rest


def segment_max(data, segment_ids, name=None) -> Tensor:
    """The largest entry of each segment (ids sorted, 1-D); max(ids) + 1 segments, an
    empty one 0 (TF1's documented value). Unsorted or negative ids are refused (in a graph
    when run)."""
    return _segment_extreme(*_sorted_member("segment_max", data, segment_ids), True, 0)


def segment_min(data, segment_ids, name=None) -> Tensor:
    """The smallest entry of each segment (ids sorted, 1-D); an empty one 0, as TF1's."""
    return _segment_extreme(*_sorted_member("segment_min", data, segment_ids), False, 0)


def segment_prod(data, segment_ids, name=None) -> Tensor:
    """The product of each segment (ids sorted, 1-D); an empty one 1, as TF1's."""
    return _segment_product(*_sorted_member("segment_prod", data, segment_ids))


def convert_to_tensor(value, dtype=None, name=None, preferred_dtype=None,
                      dtype_hint=None) -> Tensor:
    """TF1's `tf.convert_to_tensor`: a tensor (a variable too) is returned as it is, and
    refused if `dtype` names another one, as TF1 never casts here; any other value becomes a
    constant as `tf.constant` makes it, in `preferred_dtype` (`dtype_hint`) when the value
    fits it, else in the dtype the value itself gives."""
    if isinstance(value, Tensor):
        if dtype is not None and dtypes.as_dtype(dtype) != value.dtype:
            raise ValueError(f"tf.convert_to_tensor: dtype {dtypes.as_dtype(dtype).name} "
                             f"requested for a tensor of dtype {value.dtype.name} (cast it "
                             f"with tf.cast)")
        return value
    hint = preferred_dtype if preferred_dtype is not None else dtype_hint
    if dtype is None and hint is not None:
        try:
            return tf1_constant(value, hint, "tf.convert_to_tensor")
        except (TypeError, ValueError):
            pass   # TF1 falls back to the value's own dtype when the hint does not fit
    return tf1_constant(value, dtype, "tf.convert_to_tensor")


def boolean_mask(tensor, mask, name=None, axis=None) -> Tensor:
    """The slices of `tensor` where `mask` (the leading mask.ndim dims) is True, flattened
    into one dim. The count is read when run: a graph gives a [None, ...] result."""
    x, m = as_tensor(tensor), as_tensor(mask)
    if not m.dtype.is_bool:
        raise TypeError(f"boolean_mask: mask must be bool, got {m.dtype.name}")
    axis = int(axis or 0)
    if m.ndim is None or x.ndim is None or m.ndim == 0 or axis + m.ndim > x.ndim:
        raise ValueError(f"boolean_mask: mask of shape {m.shape} does not fit tensor of shape "
                         f"{x.shape} at axis {axis}")
    lead = x.shape[axis:axis + m.ndim]
    rest = _known_dims(x, range(axis + m.ndim, x.ndim), "boolean_mask", "dims after the mask")
    if any(a is not None and b is not None and a != b for a, b in zip(m.shape, lead)):
        raise ValueError(f"boolean_mask: mask of shape {m.shape} does not fit tensor of shape "
                         f"{x.shape} at axis {axis}")
    if axis:
        perm = list(range(axis, axis + m.ndim)) + list(range(axis)) + \
            list(range(axis + m.ndim, x.ndim))
        moved = boolean_mask(ops.transpose(x, perm), m)
        back = list(range(1, axis + 1)) + [0] + list(range(axis + 1, moved.ndim))
        return ops.transpose(moved, back, name=name)
    flat_x = ops.reshape(x, (-1,) + rest)
    flat_m = ops.reshape(m, (-1,))
    if m.kind == EAGER:
        keep = np.flatnonzero(m.array).astype(np.int64)
        return ops.take(flat_x, as_tensor(keep), 0, name=name)
    # each kept row goes to its rank among the kept ones, the others to a spare last row
    taken = ops.cast(flat_m, dtypes.int64)
    count = ops.reduce_sum(taken)
    rows = ops.where(flat_m, ops.cumsum(taken, 0) - 1, count)
    placed = _scatter_rows(flat_x, rows, _zeros_rows(count + 1, rest, x.dtype))
    return ops.getitem(placed, slice(0, -1))


# ---- partitions and stitches ------------------------------------------------------------

def dynamic_partition(data, partitions, num_partitions, name=None) -> list:
    """[data's slices where partitions == i, in order, for i < num_partitions]: partitions'
    shape is a prefix of data's; an id outside [0, num_partitions) is refused (when run in a
    graph), as TF1's."""
    data, ids = as_tensor(data), _int_tensor(partitions, "dynamic_partition", "partitions")
    n = int(num_partitions)
    if n < 1:
        raise ValueError(f"dynamic_partition: num_partitions must be >= 1, got {n}")
    if ids.ndim is not None and data.ndim is not None and (ids.ndim > data.ndim or any(
            a is not None and b is not None and a != b for a, b in zip(ids.shape, data.shape))):
        raise ValueError(f"dynamic_partition: partitions' shape {ids.shape} must be a prefix "
                         f"of data's shape {data.shape}")
    if ids.kind == EAGER:
        if ids.array.size and (ids.array.min() < 0 or ids.array.max() >= n):
            raise InvalidArgumentError(_partition_outside(n)(None, ids.array))
    else:
        inside = ops.logical_and(ops.greater_equal(ids, 0), ops.less(ids, n))
        ids = checked(ids, inside, _partition_outside(n), ids)
    return [boolean_mask(data, ops.equal(ids, k)) for k in range(n)]


def _first_outside(ids: np.ndarray, n: int) -> int:
    return int(ids[(ids < 0) | (ids >= n)][0])


def _partition_outside(n: int):
    def describe(inside, ids) -> str:
        return f"dynamic_partition: partition id {_first_outside(ids, n)} is outside [0, {n})"
    return describe


def dynamic_stitch(indices, data, name=None) -> Tensor:
    """merged[indices[m][i...]] = data[m][i...]: max(indices) + 1 rows, the later value
    where an index repeats (a row no index names is zeros). Negative indices, and data
    whose leading dims are not its indices' shape, are refused (in a graph when run). The
    gradient reaches the values that were kept (TF1's rule also sends it to the overwritten
    ones)."""
    if not isinstance(indices, (list, tuple)) or not isinstance(data, (list, tuple)) \
            or len(indices) != len(data) or not indices:
        raise ValueError("dynamic_stitch: indices and data must be lists of one length")
    indices = [_int_tensor(i, "dynamic_stitch", "indices") for i in indices]
    data = [as_tensor(d) for d in data]
    rest = None
    for k, (i, d) in enumerate(zip(indices, data)):
        if i.ndim is None or d.ndim is None or d.ndim < i.ndim or any(
                a is not None and b is not None and a != b for a, b in zip(i.shape, d.shape)):
            raise ValueError(f"dynamic_stitch: data[{k}] of shape {d.shape} must start with "
                             f"indices[{k}]'s shape {i.shape}")
        tail = _known_dims(d, range(i.ndim, d.ndim), "dynamic_stitch", f"dims of data[{k}] "
                           f"after its indices")
        if rest is not None and tail != rest:
            raise ValueError(f"dynamic_stitch: data[{k}]'s dims after its indices {tail} "
                             f"differ from {rest}")
        rest = tail
        if i.shape is None or d.shape is None or None in i.shape or None in d.shape[:i.ndim]:
            lead = ops.getitem(shape_of(d, out_type=dtypes.int64), slice(0, i.ndim))
            fits = ops.equal(lead, shape_of(i, out_type=dtypes.int64))
            indices[k] = checked(i, fits, _stitch_mismatch(k), lead, shape_of(i))
    flat_ids = ops.concat([ops.cast(ops.reshape(i, (-1,)), dtypes.int64) for i in indices], 0)
    flat_ids = checked(flat_ids, ops.greater_equal(flat_ids, 0), _stitch_negative, flat_ids)
    flat = ops.concat([ops.reshape(d, (-1,) + rest) for d in data] +
                      [_zeros_rows(1, rest, data[0].dtype)], 0)   # a zero row, last
    # The last position naming each row: sort the (index, position) keys, take each index's
    # last key and scatter its position + 1 to its row (0 where no index names the row).
    count = shape_of(flat_ids, out_type=dtypes.int64)[0]
    span = ops.maximum(count, 1)     # (no ids: no keys, and no division by zero)
    keys = flat_ids * span + tf_range(count, dtype=dtypes.int64)
    keys = ops.take(keys, ops.argsort(keys), 0)
    ids = ops.floor_divide(keys, span)
    ends = ops.concat([ops.not_equal(ops.getitem(ids, slice(0, -1)),
                                     ops.getitem(ids, slice(1, None))),
                       as_tensor(np.array([True]))], 0)
    after = ops.where(ends, keys - ids * span + 1, ops.cast(0, dtypes.int64))
    last = _scatter_rows(after, ids, _zeros_rows(_rows_named(flat_ids), (), dtypes.int64)) - 1
    unnamed = count     # the zero row
    return ops.take(flat, ops.where(ops.less(last, 0), unnamed, last), 0, name=name)


def _stitch_negative(holds, ids) -> str:
    return f"dynamic_stitch: index {int(ids[ids < 0][0])} is negative"


def _stitch_mismatch(k: int):
    def describe(fits, lead, shape) -> str:
        return (f"dynamic_stitch: data[{k}] starts with dims {lead.tolist()}, but indices[{k}] "
                f"has shape {shape.tolist()}")
    return describe
