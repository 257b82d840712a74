"""Shape kernels: views wherever NumPy can make one."""
import math

import numpy as np

from ...ops import shape as s
from . import parallel, reduce
from .registry import kernel


@kernel(s.Reshape)
def reshape(op, x):
    return x.reshape(op.shape)   # the method: np.reshape's dispatch costs 3x the reshape


@kernel(s.ReshapeTo, shape_only=(1,))
def reshape_to(op, x, ref):
    return np.reshape(x, ref.shape)


@kernel(s.Transpose)
def transpose(op, x):
    return x.transpose(op.perm)   # (None reverses the axes, as np.transpose's)


@kernel(s.ExpandDims)
def expand_dims(op, x):
    shape = list(x.shape)   # a reshape: np.expand_dims normalizes its axis in Python
    shape.insert(op.axis % (x.ndim + 1), 1)
    return x.reshape(shape)


@kernel(s.Squeeze)
def squeeze(op, x):
    return np.squeeze(x, op.axis)


@kernel(s.Concat)
def concat(op, *xs):
    return np.concatenate(xs, axis=op.axis)


@kernel(s.ConcatPiece)
def concat_piece(op, g, *xs):
    axis = op.axis % g.ndim
    start = sum(x.shape[axis] for x in xs[:op.index])
    return g[(slice(None),) * axis + (slice(start, start + xs[op.index].shape[axis]),)]


@kernel(s.GetItem)
def getitem(op, x):
    out = x[op.index]
    if type(out) is not np.ndarray:   # one element: a NumPy scalar, a copy; `x[0]` of a
        return x[op.index + (Ellipsis,)]   # vector is a 0-d view in PyTorch (x[0].add_(1))
    return out


def _add_at(out, index, g):
    if any(isinstance(i, np.ndarray) for i in index):
        np.add.at(out, index, g)  # repeated indices accumulate
    else:
        out[index] += g


# an index array at most this long on one axis (the rest whole): its gradient is a loop of
# slice adds, in index order as np.add.at's (which goes element by element)
SLICE_ADDS_UP_TO = 1024


def _one_axis_array(index, ndim):
    """The axis of an index that is whole slices then one 1-D int array (F.pad's reflect /
    replicate / circular modes), else None."""
    *lead, last = index
    if (isinstance(last, np.ndarray) and last.ndim == 1 and last.dtype.kind in "iu"
            and len(last) <= SLICE_ADDS_UP_TO and len(index) <= ndim
            and all(type(i) is slice and i == slice(None) for i in lead)):
        return len(lead)
    return None


@kernel(s.GetItemGrad, shape_only=(1,), widen=0)
def getitem_grad(op, g, ref):
    """The gradient of x[index]: zeros with g written (added, where an index array repeats
    positions) at index. One index array on one axis takes slice adds: np.add.at made
    ReflectionPad2d's backward a quarter of fast_neural_style's step."""
    out = np.zeros(ref.shape, dtype=g.dtype)
    axis = _one_axis_array(op.index, out.ndim) if op.index else None
    if axis is not None:
        lead = (slice(None),) * axis
        for k, i in enumerate(op.index[-1].tolist()):
            out[lead + (i,)] += g[lead + (k,)]
        return out
    if any(isinstance(i, np.ndarray) for i in op.index):
        np.add.at(out, op.index, g)  # repeated indices accumulate
    else:
        out[op.index] = g
    return out


@kernel(s.GetItemGrads, shape_only=(0,), widen=1)
def getitem_grads(op, ref, *gs):
    if _tile_one_axis(op.indices, ref.shape):   # split / chunk: every element written once
        out = np.empty(ref.shape, dtype=gs[0].dtype)

        def piece(a, b):   # rows a:b of the leading axis (all of it when split cuts it)
            for index, g in zip(op.indices, gs):
                out[a:b][index] = g[a:b]
        if ref.ndim > 1 and op.indices[0][0] == slice(None):
            # nanoGPT's q, k, v gradients
            parallel.split(piece, ref.shape[0], out.size, blas=False)
        else:
            piece(0, len(out))
        return out
    out = np.zeros(ref.shape, dtype=gs[0].dtype)
    for index, g in zip(op.indices, gs):
        _add_at(out, index, g)
    return out


@kernel(s.ScatterTiles, shape_only=(0,), out=True)
def scatter_tiles(op, ref, *gs, out=None):
    if out is None:
        out = np.empty(ref.shape, dtype=gs[0].dtype)
    for index, g in zip(op.indices, gs):
        np.copyto(tile_view(out, index, g.shape), g)
    return out


def tile_view(out: np.ndarray, index, shape) -> np.ndarray:
    """`out[index]` viewed in `shape`, never a copy (a write into a copy would be lost)."""
    try:
        return np.reshape(out[index], shape, copy=False)
    except ValueError:
        raise ValueError(f"scatter_tiles: the slice {index} of {out.shape} (strides "
                         f"{out.strides}) cannot be viewed as {shape}") from None


def _tile_one_axis(indices, shape) -> bool:
    """Whether the indices are unit-step slices of one axis (all others whole) that cover
    it exactly once, as split's pieces do."""
    axis, spans = None, []
    for index in indices:
        if not all(isinstance(i, slice) for i in index) or len(index) > len(shape):
            return False
        cut = [d for d, i in enumerate(index) if i != slice(None)]
        if len(cut) != 1 or axis not in (None, cut[0]):
            return False
        axis = cut[0]
        start, stop, step = index[axis].indices(shape[axis])
        if step != 1:
            return False
        spans.append((start, max(start, stop)))
    end = 0
    for start, stop in sorted(spans):
        if start != end:
            return False
        end = stop
    return axis is not None and end == shape[axis]


# Below this many elements a broadcast result is copied out: np.broadcast_to's Python costs
# ~4 us a call, more than filling a small array (a reduction's gradient in an eager step)
_COPY_BROADCAST_BELOW = 4096


@kernel(s.BroadcastTo, shape_only=(1,))
def broadcast_to(op, x, ref):
    x = np.asarray(x)
    if op.axes:   # a reshape is cheaper than np.expand_dims for the same view
        shape = list(x.shape)
        for a in sorted([a % len(ref.shape) for a in op.axes]):
            shape.insert(a, 1)
        x = x.reshape(shape)
    if math.prod(ref.shape) < _COPY_BROADCAST_BELOW:
        out = np.empty(ref.shape, x.dtype)
        out[...] = x   # np.copyto's work without its Python dispatcher frame
        return out
    return np.broadcast_to(x, ref.shape)


@kernel(s.SumTo, shape_only=(1,), widen=0)
def sum_to(op, x, ref):
    if op.axes:
        x = np.sum(x, axis=tuple(a % x.ndim for a in op.axes))
    lead = x.ndim - ref.ndim
    axes = tuple(range(lead)) + tuple(
        i + lead for i, d in enumerate(ref.shape) if d == 1 and x.shape[i + lead] != 1)
    if axes:
        total = None
        if x.size >= reduce.COLUMNS_FROM and x.dtype in reduce.FLOATS and \
                x.flags.c_contiguous and axes == tuple(range(len(axes))) and len(axes) < x.ndim:
            total = reduce.leading_sums(x, len(axes))   # as Sum's: the same bits as eager
        x = np.sum(x, axis=axes, keepdims=True) if total is None else total
    return x.reshape(ref.shape)


@kernel(s.Expand)
def expand(op, x):
    return np.broadcast_to(x, op.shape)


@kernel(s.Copy)
def copy(op, x):
    return np.array(x, order="C")


@kernel(s.StopGradient)
def stop_gradient(op, x):
    return x


@kernel(s.Pad)
def pad(op, x):
    return np.pad(x, op.pads, constant_values=op.value)


@kernel(s.ShapeOf, shape_only=(0,))
def shape_of(op, x):
    return np.array(x.shape, dtype=op.dtype.np)


def _plane_loops():
    from . import _plane_loops
    return _plane_loops


def _planes(op, x):
    """x as [planes, height, width] (a copy only when its last two dims are not C-ordered)
    and the index arrays."""
    return (x.reshape((-1,) + x.shape[-2:]), np.array(op.rows, np.intp),
            np.array(op.cols, np.intp))


@kernel(s.GatherPlanes)
def gather_planes(op, x):
    """One pass over the planes, split among the threads (float dtypes through Numba, the
    others through NumPy's indexing)."""
    shape = x.shape[:-2] + (len(op.rows), len(op.cols))
    if x.dtype not in parallel.FLOATS or 0 in shape or 0 in x.shape:
        if 0 in shape:
            return np.zeros(shape, x.dtype)
        rows, cols = np.array(op.rows, np.intp), np.array(op.cols, np.intp)
        return np.ascontiguousarray(x[..., rows[:, None], cols])
    planes, rows, cols = _planes(op, np.ascontiguousarray(x))
    out = np.empty((planes.shape[0], len(rows), len(cols)), x.dtype)
    loop = _plane_loops().gather
    parallel.split(lambda a, b: loop(planes[a:b], rows, cols, out[a:b]), len(planes),
                   out.size, blas=False)
    return out.reshape(shape)


@kernel(s.GatherPlanesGrad, shape_only=(1,), widen=0)
def gather_planes_grad(op, g, ref):
    if g.dtype not in parallel.FLOATS or 0 in g.shape or 0 in ref.shape:
        out = np.zeros(ref.shape, g.dtype)
        if g.size:
            rows, cols = np.array(op.rows, np.intp), np.array(op.cols, np.intp)
            np.add.at(out, (Ellipsis, rows[:, None], cols), g)
        return out
    g = np.ascontiguousarray(g)
    gp = g.reshape((-1,) + g.shape[-2:])
    rows, cols = np.array(op.rows, np.intp), np.array(op.cols, np.intp)
    out = np.empty(ref.shape, g.dtype)
    planes = out.reshape((-1,) + ref.shape[-2:])
    loop = _plane_loops().scatter_add
    parallel.split(lambda a, b: loop(gp[a:b], rows, cols, planes[a:b]), len(gp),
                   g.size, blas=False)
    return out
