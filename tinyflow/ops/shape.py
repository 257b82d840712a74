"""Shape ops: reshape, transpose, expand/squeeze, concat, slicing, and the broadcast pair
(BroadcastTo / SumTo) that autodiff uses to move gradients between shapes."""
from __future__ import annotations

import functools
import math
from typing import Optional

import numpy as np

from ..core import dtypes
from ..core.op import Op, apply, apply1, apply2, as_tensor, shared, sum_terms
from ..core.shapes import normalize_axes
from ..core.modes import trace_state, vjp_request
from ..core.tensor import EAGER, REMOTE, Tensor
from .creation import fill, tf1_constant, zeros_like


def _reshape_infer(in_shape, target):
    if in_shape is not None and -1 not in target and None not in in_shape and type(
            target) is tuple and math.prod(target) == math.prod(in_shape) and (
            not target or min(target) >= 0) and all(type(d) is int for d in target):
        return target   # (every eager reshape to a full shape) nothing to infer
    target = tuple(int(d) for d in target)
    if target.count(-1) > 1:
        raise ValueError(f"can only infer one dimension of {target}")
    known = in_shape is not None and None not in in_shape
    if known:
        size = math.prod(in_shape)
        rest = math.prod(d for d in target if d != -1)
        if -1 in target:
            if rest == 0 or size % rest:
                raise ValueError(f"cannot reshape {in_shape} ({size} elements) into {target}")
            return tuple(size // rest if d == -1 else d for d in target)
        if rest != size:
            raise ValueError(f"cannot reshape {in_shape} ({size} elements) into {target}")
    if in_shape is not None and -1 not in target:
        known_in = math.prod(d for d in in_shape if d is not None)
        size = math.prod(target)
        if known_in and size % known_in:
            raise ValueError(f"cannot reshape {in_shape} into {target}: {size} elements is "
                             f"not a multiple of {known_in}")
    return tuple(None if d == -1 else d for d in target)


class Reshape(Op):
    name = "reshape"
    view = True
    linearity = "linear"
    shape: tuple[int, ...]

    def infer(self, x):
        return _reshape_infer(x.shape, self.shape), x.dtype

    def vjp(self, g, out, x):
        return (reshape_to(g, x),)


class ReshapeTo(Op):
    """Reshape `x` to the run-time shape of `ref` (gradients of reshapes with unknown dims)."""
    name = "reshape_to"
    view = True
    linearity = "linear"
    linear_inputs = 1

    def infer(self, x, ref):
        return ref.shape, x.dtype

    def vjp(self, g, out, x, ref):
        return reshape_to(g, x), None


class Transpose(Op):
    name = "transpose"
    view = True
    linearity = "linear"
    perm: Optional[tuple[int, ...]]   # None: reverse the axes

    def infer(self, x):
        shape = x.shape
        if shape is None:
            return None, x.dtype
        perm = self.perm
        if perm is None:
            return tuple(shape)[::-1], x.dtype
        if len(perm) == 2 == len(shape) and perm == (1, 0):   # a matrix's transpose
            return (shape[1], shape[0]), x.dtype
        if sorted(perm) != list(range(len(shape))):
            raise ValueError(f"perm {perm} is not a permutation of the {len(x.shape)} axes")
        return tuple(x.shape[p] for p in perm), x.dtype

    def vjp(self, g, out, x):
        inverse = None if self.perm is None else tuple(int(i) for i in np.argsort(self.perm))
        return (transpose(g, inverse),)


class ExpandDims(Op):
    name = "expand_dims"
    view = True
    linearity = "linear"
    axis: int

    def infer(self, x):
        if x.shape is None:
            return None, x.dtype
        rank = len(x.shape) + 1
        if not -rank <= self.axis < rank:
            raise ValueError(f"axis {self.axis} out of range for rank {rank} output")
        shape = list(x.shape)
        shape.insert(self.axis % rank, 1)
        return tuple(shape), x.dtype

    def vjp(self, g, out, x):
        return (reshape_to(g, x),)


class Squeeze(Op):
    name = "squeeze"
    view = True
    linearity = "linear"
    axis: Optional[tuple[int, ...] | int]   # None: every dim of size 1

    def infer(self, x):
        if x.shape is None:
            return None, x.dtype
        if self.axis is None:
            if None in x.shape:
                raise ValueError("squeeze() without axis needs every dim known")
            return tuple(d for d in x.shape if d != 1), x.dtype
        axes = normalize_axes(self.axis, len(x.shape))
        for a in axes:
            if x.shape[a] not in (1, None):
                raise ValueError(f"cannot squeeze axis {a} of size {x.shape[a]}")
        return tuple(d for i, d in enumerate(x.shape) if i not in axes), x.dtype

    def vjp(self, g, out, x):
        return (reshape_to(g, x),)


class Concat(Op):
    name = "concat"
    linearity = "linear"
    axis: int

    def infer(self, *xs):
        if not xs:
            raise ValueError("needs at least one input")
        first = xs[0].shape
        if first is not None and None not in first and -len(first) <= self.axis < len(first):
            # every eager concat: the dims beside the axis compared as two tuples per input
            axis = self.axis % len(first)
            lead, tail, total = first[:axis], first[axis + 1:], 0
            for x in xs:
                shape = x.shape
                if (shape is None or len(shape) != len(first) or shape[:axis] != lead
                        or shape[axis + 1:] != tail or shape[axis] is None):
                    break   # the general rule below says what differs
                total += shape[axis]
            else:
                return lead + (total,) + tail, xs[0].dtype
        if any(x.shape is None for x in xs):
            return None, xs[0].dtype
        rank = len(xs[0].shape)
        axis = normalize_axes(self.axis, rank)[0]
        out = list(xs[0].shape)
        for x in xs[1:]:
            if len(x.shape) != rank:
                raise ValueError("inputs must have the same rank")
            for i, (a, b) in enumerate(zip(out, x.shape)):
                if i == axis:
                    out[i] = None if a is None or b is None else a + b
                elif a is not None and b is not None and a != b:
                    raise ValueError(f"dimension {i} differs: {a} vs {b}")
                elif a is None:
                    out[i] = b
        return tuple(out), xs[0].dtype

    def vjp(self, g, out, *xs):
        """The slice of g each input occupies; None for the inputs the sweep wants no
        gradient of (an RNN's data and category beside its hidden state: no slice built)."""
        needed = vjp_request.needed
        if needed is None:
            needed = (True,) * len(xs)
        if all(x.shape is not None for x in xs):
            axis = normalize_axes(self.axis, len(xs[0].shape))[0]
            sizes = [x.shape[axis] for x in xs]
            if None not in sizes:   # slices of g at known offsets: a ConcatPiece reads
                # every input's shape, so n pieces of a long concat cost n^2
                lead, start, pieces = (slice(None),) * axis, 0, []
                for size, wanted in zip(sizes, needed):
                    pieces.append(apply1(GetItem(index=lead + (slice(start, start + size),)),
                                         g) if wanted else None)   # (a normal index)
                    start += size
                return tuple(pieces)
        return tuple(apply(ConcatPiece(index=i, axis=self.axis), g, *xs) if wanted else None
                     for i, wanted in enumerate(needed))


class ConcatPiece(Op):
    """The part of `g` that input `index` of a concat of `xs` along `axis` occupies.

    Concat's gradient: the sizes along the axis (and the rank) are read at run time, so the
    rule holds when placeholders leave them unknown.
    """
    name = "concat_piece"
    view = True
    saves_inputs = False    # only the shapes of `xs` are read
    saves_output = False
    linearity = "linear"
    linear_inputs = 1
    index: int
    axis: int

    def infer(self, g, *xs):
        return xs[self.index].shape, g.dtype

    def vjp(self, gg, out, g, *xs):
        pieces = [gg if i == self.index else zeros_like(x, dtype=gg.dtype)
                  for i, x in enumerate(xs)]
        return (concat(pieces, self.axis),) + (None,) * len(xs)


class GetItem(Op):
    """Basic (slices, ints, None, Ellipsis) and integer-array indexing, as NumPy."""
    name = "getitem"
    view = True
    saves_inputs = False    # the gradient reads x's shape only, and not the output: so
    saves_output = False    # `y[0] *= 2` may write y (and this view) after the view is taken
    linearity = "linear"
    index: tuple    # of slices, ints, None, Ellipsis and integer or bool arrays

    def infer(self, x):
        shape, index = x.shape, self.index
        if x.kind == EAGER and len(index) == 1 and type(index[0]) is int and shape and \
                -shape[0] <= index[0] < shape[0]:
            return shape[1:], x.dtype   # (an eager `x[i]`, `for row in x`) one row
        return index_shape(shape, index), x.dtype

    def vjp(self, g, out, x):
        return (apply(GetItemGrad(index=self.index), g, x),)


class GetItemGrad(Op):
    """Zeros shaped like `ref` with `g` added at `index` (scatter-add for repeated indices)."""
    name = "getitem_grad"
    linearity = "linear"
    linear_inputs = 1
    index: tuple

    def infer(self, g, ref):
        return ref.shape, g.dtype

    def vjp(self, gg, out, g, ref):
        return getitem(gg, self.index), None


class GetItemGrads(Op):
    """The gradient of several getitems of one tensor (split, chunk, q/k/v slices):
    get_item_grads(ref, g_1, ..., g_n) is zeros shaped like `ref` with each g_k added at
    `indices[k]`, in one buffer. The n GetItemGrads it replaces each fill a full-size zero
    tensor, and adding them makes n - 1 more; pieces that tile an axis need no zeros at all.
    The reverse sweep gathers the getitems' gradients into it (autodiff/reverse.py)."""
    name = "getitem_grads"
    saves_inputs = False
    saves_output = False
    indices: tuple   # one normalized index per g

    def infer(self, ref, *gs):
        if len(gs) != len(self.indices):
            raise ValueError(f"{len(self.indices)} indices for {len(gs)} gradients")
        if len({g.dtype for g in gs}) > 1:
            raise TypeError(f"the gradients need one dtype, got "
                            f"{', '.join(g.dtype.name for g in gs)}")
        for g, index in zip(gs, self.indices):
            want = index_shape(ref.shape, index)
            if g.shape is not None and want is not None and (
                    len(g.shape) != len(want) or any(a is not None and b is not None and a != b
                                                     for a, b in zip(g.shape, want))):
                raise ValueError(f"a gradient of shape {g.shape} for index {index} of "
                                 f"{ref.shape}, which selects {want}")
        return ref.shape, gs[0].dtype

    def vjp(self, gg, out, ref, *gs):
        return (None,) + tuple(getitem(gg, index) for index in self.indices)

    def jvp(self, t, out, ref, *gs):
        if all(tk is None for tk in t[1:]):
            return None
        pieces = [zeros_like(g) if tk is None else tk for g, tk in zip(gs, t[1:])]
        return apply(self, ref, *pieces)


class ScatterTiles(Op):
    """GetItemGrads of pieces that tile one axis, each piece written through a reshape of its
    slice: scatter_tiles(ref, g_1, ..., g_n) is `ref`-shaped with out[indices[k]], viewed in
    g_k's shape, equal to g_k. It is getitem_grads(ref, reshape(g_1), ...) without the
    reshapes' copies: a transposed piece (attention's q, k, v gradients going back into the
    fused q/k/v projection's gradient) is copied once, straight into place. Built for one set
    of shapes by passes/scatter_tiles.py, where each slice's view is known to exist."""
    name = "scatter_tiles"
    saves_inputs = False
    saves_output = False
    indices: tuple   # one normalized index per g, tiling one axis of ref

    def infer(self, ref, *gs):
        if len(gs) != len(self.indices):
            raise ValueError(f"{len(self.indices)} indices for {len(gs)} pieces")
        if len({g.dtype for g in gs}) > 1:
            raise TypeError(f"the pieces need one dtype, got "
                            f"{', '.join(g.dtype.name for g in gs)}")
        return ref.shape, gs[0].dtype

    def vjp(self, gg, out, ref, *gs):
        return (None,) + tuple(reshape_to(getitem(gg, index), g)
                               for index, g in zip(self.indices, gs))

    def jvp(self, t, out, ref, *gs):
        if all(tk is None for tk in t[1:]):
            return None
        pieces = [zeros_like(g) if tk is None else tk for g, tk in zip(gs, t[1:])]
        return apply(self, ref, *pieces)


class SlicedAdjoint:
    """A tensor's adjoint before it is summed: `pieces`, (index, g) pairs from getitems of
    `ref` (g the adjoint of ref[index]), and `whole`, dense partial adjoints. The reverse sweep
    hands this to the vjp of an op with `sliced_adjoint` set, which may use the pieces alone
    (the parts of a packed output nobody read need never be zero-filled) or call `dense()`."""

    __slots__ = ("ref", "pieces", "whole")

    def __init__(self, ref: Tensor, pieces: list, whole: list) -> None:
        self.ref, self.pieces, self.whole = ref, pieces, whole

    def dense(self) -> Tensor:
        """The adjoint as one tensor shaped like `ref`: the pieces written into one buffer
        by one op (see GetItemGrads), plus the dense partials."""
        return sum_terms(([getitem_grads(self.ref, self.pieces)] if self.pieces else [])
                         + list(self.whole))


def getitem_grads(ref, pieces) -> Tensor:
    """Zeros like `ref` plus each (index, g) of `pieces` at its index (see GetItemGrads); one
    piece is a GetItemGrad."""
    if len(pieces) == 1:
        (index, g), = pieces
        return apply(GetItemGrad(index=index), g, ref)
    return apply(GetItemGrads(indices=tuple(index for index, _ in pieces)), ref,
                 *(g for _, g in pieces))


def index_shape(shape, index):
    """The static shape of `x[index]`, from NumPy indexing two empty stand-ins for `x`.

    Unknown dims are as small as the index allows in one stand-in and huge in the other, so
    an output dim that differs between the two is unknown. An extra trailing axis of size 0
    keeps even integer-array indexing from allocating anything.
    """
    if shape is None:
        return None
    if None not in shape:
        basic = _basic_index_shape(shape, index)
        if basic is not None:
            return basic
    probe_index = index + (slice(None),) if any(i is Ellipsis for i in index) else index
    # (the Ellipsis must not swallow the stand-ins' extra axis)
    if None not in shape:   # (every eager getitem) one stand-in tells
        return np.empty(list(shape) + [0], np.int8)[probe_index].shape[:-1]
    small = [0 if d is None else d for d in shape]
    for dim, item in _indexed_dims(len(shape), index):
        if shape[dim] is not None or isinstance(item, slice):
            continue
        item = np.asarray(item)
        if item.dtype == bool:
            raise ValueError(f"a boolean mask needs the dims it covers known, not {shape}")
        small[dim] = int(max(item.max(initial=-1) + 1, -item.min(initial=0)))
    unknown = max(1, shape.count(None))
    known_bits = math.prod(d for d in shape if d is not None).bit_length()
    large = 2 ** max(1, (62 - known_bits) // unknown - 1)  # the stand-in fits in an intp
    probes = [np.empty(list(dims) + [0], np.int8)[probe_index].shape[:-1]
              for dims in (small, [large if d is None else d for d in shape])]
    return tuple(a if a == b else None for a, b in zip(*probes))


def _basic_index_shape(shape, index):
    """`index_shape` of a basic index (Python ints in range, slices of Python ints, None, one
    Ellipsis) into a known shape, counted without NumPy: `x[i]`, `x[:, -1]` and `for row in x`
    index like this, and the stand-in array cost more than the op's kernel. None for anything
    else (the stand-in then answers, or raises NumPy's error)."""
    consumed, ellipsis = 0, False
    for item in index:
        kind = type(item)
        if kind is int:
            consumed += 1
        elif kind is slice:
            if not (type(item.start) in _BOUNDS and type(item.stop) in _BOUNDS
                    and type(item.step) in _BOUNDS) or item.step == 0:
                return None
            consumed += 1
        elif item is Ellipsis:
            if ellipsis:
                return None
            ellipsis = True
        elif item is not None:
            return None
    rank = len(shape)
    if consumed > rank:
        return None
    out, dim = [], 0
    for item in index:
        kind = type(item)
        if kind is int:
            if not -shape[dim] <= item < shape[dim]:
                return None
            dim += 1
        elif kind is slice:
            out.append(len(range(*item.indices(shape[dim]))))
            dim += 1
        elif item is None:
            out.append(1)
        else:   # the Ellipsis: the dims no other item consumes
            out.extend(shape[dim:dim + rank - consumed])
            dim += rank - consumed
    out.extend(shape[dim:])
    return tuple(out)


_BOUNDS = (int, type(None))


def _indexed_dims(rank, index):
    """(dim of x, index item) for each item of a tuple index that consumes dims of x."""
    def width(item):
        if item is None or item is Ellipsis:
            return 0
        return item.ndim if isinstance(item, np.ndarray) and item.dtype == bool else 1
    dim = 0
    for item in index:
        if item is Ellipsis:
            dim += rank - sum(width(i) for i in index)
        for d in range(dim, dim + width(item)):
            yield d, item
        dim += width(item)


def _normalize_index(index):
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    for i in index:
        if isinstance(i, Tensor):
            i = i.numpy()
        if isinstance(i, (list, np.ndarray)):
            i = np.asarray(i)
            if i.dtype.kind not in "iub":
                raise IndexError(f"index arrays must be integer or bool, got {i.dtype}")
        out.append(i)
    return tuple(out)


class BroadcastTo(Op):
    """Insert `axes` into `x`, then broadcast it to `ref`'s run-time shape."""
    name = "broadcast_to"
    view = True
    linearity = "linear"
    linear_inputs = 1
    axes: tuple[int, ...]

    def infer(self, x, ref):
        return ref.shape, x.dtype

    def vjp(self, g, out, x, ref):
        return sum_to(g, x, self.axes), None


class SumTo(Op):
    """Sum `x` over `axes` (dropping them), then over the dims `ref` broadcasts."""
    name = "sum_to"
    reduction = True
    linearity = "linear"
    linear_inputs = 1
    axes: tuple[int, ...]

    def infer(self, x, ref):
        return ref.shape, x.dtype

    def vjp(self, g, out, x, ref):
        return broadcast_to(g, x, self.axes), None


class Expand(Op):
    """Broadcast `x` to a static `shape` (PyTorch's `expand`): a view, no copy."""
    name = "expand"
    view = True
    saves_inputs = False
    saves_output = False
    linearity = "linear"
    shape: tuple[int, ...]

    def infer(self, x):
        if x.shape is not None and (len(x.shape) > len(self.shape) or any(
                d not in (None, 1, t) for d, t in zip(reversed(x.shape), reversed(self.shape)))):
            raise ValueError(f"cannot expand shape {x.shape} to {self.shape}")
        return self.shape, x.dtype

    def vjp(self, g, out, x):
        return (sum_to(g, x),)


class Copy(Op):
    """A fresh contiguous copy (PyTorch's `clone` and `contiguous`)."""
    name = "copy"
    saves_inputs = False
    saves_output = False
    linearity = "linear"

    def infer(self, x):
        return x.shape, x.dtype

    def vjp(self, g, out, x):
        return (g,)


class ShapeOf(Op):
    """A tensor's shape as a 1-D integer tensor, read when the graph runs (TF1's `tf.shape`,
    for dims unknown while building, such as the batch)."""
    name = "shape"
    differentiable = False
    saves_inputs = False
    saves_output = False
    dtype: dtypes.DType

    def infer(self, x):
        if not self.dtype.is_integer:
            raise TypeError(f"out_type must be an integer dtype, got {self.dtype.name}")
        return (None if x.shape is None else len(x.shape),), self.dtype


class StopGradient(Op):
    """x itself, through which no gradient flows (TF1's `tf.stop_gradient`). A compiled step
    reads a parameter it has overwritten through one: the new value is a leaf again, as a
    parameter is after an eager optimizer step."""
    name = "stop_gradient"
    differentiable = False
    view = True
    saves_inputs = False
    saves_output = False

    def infer(self, x):
        return x.shape, x.dtype

    def vjp(self, g, out, x):
        return (None,)

    def jvp(self, tangents, out, x):
        return None


class Pad(Op):
    """Constant padding: `pads` is one (before, after) pair per dim, first dim first."""
    name = "pad"
    saves_inputs = False
    saves_output = False
    pads: tuple[tuple[int, int], ...]
    value: float

    def infer(self, x):
        if x.shape is None:
            return None, x.dtype
        if len(self.pads) != len(x.shape):
            raise ValueError(f"{len(self.pads)} pad pairs for a rank-{len(x.shape)} input")
        if any(b < 0 or a < 0 for b, a in self.pads):
            raise ValueError("negative padding is not supported")
        return tuple(None if d is None else d + b + a
                     for d, (b, a) in zip(x.shape, self.pads)), x.dtype

    def vjp(self, g, out, x):
        index = tuple(slice(b, (-a if a else None)) for b, a in self.pads)
        return (getitem(g, index),)

    def jvp(self, t, out, x):
        return pad(t[0], self.pads)   # affine, not linear: the tangent pads with zeros


class GatherPlanes(Op):
    """out[..., i, j] = x[..., rows[i], cols[j]]: the last two dims read through one index
    per output row and column. F.pad's reflect / replicate / circular modes and nearest
    interpolation of images are this one gather; as two getitems with index arrays they
    copied the tensor twice forward and added their gradients back slice by slice."""
    name = "gather_planes"
    saves_inputs = False    # the gradient reads x's shape only
    saves_output = False
    linearity = "linear"
    rows: tuple[int, ...]
    cols: tuple[int, ...]

    def infer(self, x):
        if x.shape is None:
            return None, x.dtype
        if len(x.shape) < 2:
            raise ValueError(f"the input must have at least 2 dims, got shape {x.shape}")
        for what, index, size in (("row", self.rows, x.shape[-2]), ("column", self.cols,
                                                                       x.shape[-1])):
            if size is not None and index and not 0 <= min(index) <= max(index) < size:
                raise ValueError(f"{what} index {max(index)} (or {min(index)}) is out of "
                                 f"bounds for a size of {size}")
        return tuple(x.shape[:-2]) + (len(self.rows), len(self.cols)), x.dtype

    def vjp(self, g, out, x):
        return (apply(GatherPlanesGrad(rows=self.rows, cols=self.cols), g, x),)

    def jvp(self, t, out, x):
        return gather_planes(t[0], self.rows, self.cols)


class GatherPlanesGrad(Op):
    """The gradient of `GatherPlanes`: zeros shaped like `ref` with g[..., i, j] added at
    [..., rows[i], cols[j]] (a mirrored edge pixel, or an upsampled one, collects several)."""
    name = "gather_planes_grad"
    linearity = "linear"
    linear_inputs = 1
    rows: tuple[int, ...]
    cols: tuple[int, ...]

    def infer(self, g, ref):
        if g.shape is not None and ref.shape is not None and (
                len(g.shape) != len(ref.shape)
                or any(a is not None and b is not None and a != b
                       for a, b in zip(g.shape, tuple(ref.shape[:-2]) + (len(self.rows),
                                                                      len(self.cols))))):
            raise ValueError(f"a gradient of shape {g.shape} for {len(self.rows)} rows and "
                             f"{len(self.cols)} columns of {ref.shape}")
        return ref.shape, g.dtype

    def vjp(self, gg, out, g, ref):
        return gather_planes(gg, self.rows, self.cols), None


# ---- the functions users call ----------------------------------------------------------

def reshape(x, shape, name=None) -> Tensor:
    if isinstance(shape, int):
        shape = (shape,)
    return apply(Reshape(shape=tuple(int(d) for d in shape)), as_tensor(x), name=name)


def flatten(x, start_dim=0, end_dim=-1):
    """Merge dims start_dim..end_dim into one (torch.flatten; tf.layers.flatten is from 1)."""
    x = as_tensor(x)
    if x.ndim == 0:
        return reshape(x, (1,))
    for d in (start_dim, end_dim):
        if not -x.ndim <= d < x.ndim:
            raise IndexError(f"flatten: dimension {d} is out of range for a tensor of shape "
                             f"{list(x.shape)} (expected to be in [{-x.ndim}, {x.ndim - 1}])")
    start, end = start_dim % x.ndim, end_dim % x.ndim
    if start > end:
        raise RuntimeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} "
                           f"for a tensor of shape {list(x.shape)}")
    merged = x.shape[start:end + 1]
    size = -1 if None in merged else int(np.prod(merged))
    rest = [-1 if d is None else d for d in x.shape[:start]] + [size] + [
        -1 if d is None else d for d in x.shape[end + 1:]]
    if rest.count(-1) > 1:
        raise ValueError(f"flatten: too many unknown dims in {x.shape}")
    return reshape(x, rest)


def reshape_to(x, ref) -> Tensor:
    if x.shape == ref.shape and x.shape is not None and None not in x.shape:
        return x
    return apply(shared(ReshapeTo), x, ref)


def transpose(x, perm=None, name=None) -> Tensor:
    perm = None if perm is None else tuple(int(p) for p in perm)
    return apply(Transpose(perm=perm), as_tensor(x), name=name)


def expand_dims(x, axis, name=None) -> Tensor:
    return apply(shared(ExpandDims, int(axis)), as_tensor(x), name=name)


def squeeze(x, axis=None, name=None) -> Tensor:
    if isinstance(axis, list):
        axis = tuple(axis)
    return apply(Squeeze(axis=axis), as_tensor(x), name=name)


def concat(values, axis=0, name=None, *, dim=None) -> Tensor:
    """TF1's `tf.concat(values, axis)`, and `torch.concat(tensors, dim=0)` (cat's alias)."""
    axis = axis if dim is None else dim
    values = [as_tensor(v) for v in values]
    if any(v.dtype is not values[0].dtype for v in values):   # torch.cat promotes
        from .math import cast   # (int32 and int64: TF1's constants meeting torch's indices)
        common = functools.reduce(dtypes.promote, [v.dtype for v in values])
        values = [v if v.dtype is common else cast(v, common) for v in values]
    return apply(shared(Concat, int(axis)), *values, name=name)


def stack(values, axis=0, name=None) -> Tensor:
    """Values of one known shape, stacked before their last dim: one concat along `axis` and
    a reshape splitting it, two ops where an expand_dims per value made n + 1 (torch.stack of
    a batch's 32 rows cost 30x PyTorch's)."""
    values = [as_tensor(v) for v in values]
    shape = values[0].shape if values else None
    if (len(values) > 1 and shape is not None and None not in shape
            and all(v.shape == shape for v in values)):
        try:
            at = normalize_axes(axis, len(shape) + 1)[0]
        except ValueError:    # out of range: the general path's expand_dims names the shapes
            at = len(shape)
        if at < len(shape):
            return reshape(concat(values, at), shape[:at] + (len(values),) + shape[at:],
                           name=name)
    return concat([expand_dims(v, axis) for v in values], axis, name=name)


def unstack(value, num=None, axis=0, name=None) -> list:
    """TF1 unstack: the `num` slices of `value` along `axis`, each without that axis (getitems,
    so their gradients are written into one buffer). The axis size must be known, or given."""
    value = as_tensor(value)
    if value.ndim is None:
        raise ValueError("unstack: the value's rank must be known")
    axis = normalize_axes(axis, value.ndim)[0]
    size = value.shape[axis]
    if num is not None and size is not None and int(num) != size:
        raise ValueError(f"unstack: num={num} does not match dimension {axis} of shape "
                         f"{value.shape}")
    size = size if size is not None else num
    if size is None:
        raise ValueError(f"unstack: dimension {axis} of shape {value.shape} is unknown; "
                         f"give num=")
    return [getitem(value, (slice(None),) * axis + (i,)) for i in range(int(size))]


def tf_slice(input_, begin, size, name=None) -> Tensor:
    """TF1 slice: `size[i]` elements from `begin[i]` along each dim (-1: to the end), a
    getitem view; begin and size are Python ints (or constant tensors)."""
    x = as_tensor(input_)
    begin, size = ([int(v) for v in np.asarray(t.numpy() if isinstance(t, Tensor) else t)
                    .reshape(-1)] for t in (begin, size))
    if x.ndim is not None and not len(begin) == len(size) == x.ndim:
        raise ValueError(f"slice: begin {begin} and size {size} must each have one entry "
                         f"per dim of the input's shape {x.shape}")
    for b, n, d in zip(begin, size, x.shape or (None,) * len(begin)):
        if b < 0 or n < -1 or d is not None and (b + n > d if n >= 0 else b > d):
            raise ValueError(f"slice: begin {begin} and size {size} do not fit the input's "
                             f"shape {x.shape}")
    return getitem(x, tuple(slice(b, None if n == -1 else b + n)
                            for b, n in zip(begin, size)))


def split(value, num_or_size_splits, axis=0, name=None) -> list:
    """TF1 split: a number of equal parts, or a list of sizes along `axis` (one may be -1)."""
    value = as_tensor(value)
    axis = normalize_axes(axis, value.ndim)[0]
    total = value.shape[axis]
    if isinstance(num_or_size_splits, int):
        if num_or_size_splits < 1:
            raise ValueError(f"split: num_or_size_splits must be at least 1, got "
                             f"{num_or_size_splits}")
        if total is None and list(value.shape).count(None) == 1:
            # known only when run (TF1's tf.split(tf.reshape(x, [-1, n]), steps, 0)): the dim
            # as [parts, -1], unstacked; a run whose dim does not divide fails in the reshape
            parts = value.shape[:axis] + (num_or_size_splits, -1) + value.shape[axis + 1:]
            return unstack(reshape(value, parts), axis=axis)
        if total is None or total % num_or_size_splits:
            raise ValueError(f"split: cannot split dimension {axis} of size {total} into "
                             f"{num_or_size_splits} equal parts")
        sizes = [total // num_or_size_splits] * num_or_size_splits
    else:
        sizes = [int(s) for s in num_or_size_splits]
        if sizes.count(-1) == 1 and total is not None:
            sizes[sizes.index(-1)] = total - sum(sizes) - 1  # the rest of the axis
        if total is not None and sum(sizes) != total:
            raise ValueError(f"split: sizes {sizes} do not add up to dimension {axis} = {total}")
    parts, start = [], 0
    for size in sizes:
        parts.append(getitem(value, (slice(None),) * axis + (slice(start, start + size),)))
        start += size
    return parts


def tile_in_graph(x, multiples) -> Tensor:
    """TF1's `tf.tile` of a tensor with dims known only when run, or by a multiple known only
    when run (`tf.tile(W, [tf.shape(X)[0], 1, 1])`): a size-1 axis broadcasts against zeros
    shaped by the multiples, another axis concatenates copies (a static multiple only)."""
    zeros_shape, out_shape = [], []
    for axis, (m, n) in enumerate(zip(multiples, x.shape)):
        static = not isinstance(m, Tensor) or not m.is_symbolic
        if n == 1 or (static and int(m) == 1):
            zeros_shape.append(m if n == 1 else 1)
        elif static:
            x = concat([x] * int(m), axis)
            zeros_shape.append(1)
        else:
            raise NotImplementedError(f"tf.tile: a multiple known only when run on axis {axis}"
                                      f" of size {n} (shape {x.shape}); it is supported on "
                                      f"axes of size 1")
        out_shape.append(int(m) * n if static and n is not None else None)
    if all(isinstance(d, int) and d == 1 for d in zeros_shape):
        return x
    from .math import add   # (math imports this module)
    zeros = fill(zeros_shape, tf1_constant(np.zeros((), x.dtype.np)))
    out = add(x, zeros)
    out.set_shape(out_shape)
    return out


def getitem(x, index) -> Tensor:
    if type(index) is int and type(x) is Tensor:   # `x[i]`, `for row in x`: nothing to check
        return apply1(GetItem(index=(index,)), x)
    if _graph_tensor_index(index):
        from .indexing import index_by_tensors   # (indexing builds on this module)
        return index_by_tensors(as_tensor(x), index)
    return apply(GetItem(index=_normalize_index(index)), as_tensor(x))


def _graph_tensor_index(index) -> bool:
    """Whether an index holds a graph tensor (a placeholder, a loop counter), outside a
    compile trace (whose tensors index by their traced values)."""
    if trace_state.active is not None:
        return False
    for item in index if isinstance(index, tuple) else (index,):
        kind = type(item)
        if kind is int or item is None:   # (the common items, answered first)
            continue
        for b in (item.start, item.stop, item.step) if kind is slice else (item,):
            if isinstance(b, Tensor) and b.kind not in (EAGER, REMOTE):
                return True
    return False


def torch_index_steps(index) -> Optional[tuple]:
    """PyTorch applies an index's integers before its arrays: `a[0, :, [1, 2]]` selects row 0,
    then indexes (shape (n, 2)), where NumPy counts the integer among the arrays (shape
    (2, n)). A 0-d integer tensor or array is such an integer too. The (integers and slices,
    arrays) indices of the two steps, or None if no integer meets an array (then one NumPy
    index means the same)."""
    if type(index) is not tuple or not any(_integer(i) for i in index) or any(
            isinstance(i, (bool, np.bool_)) for i in index) or _graph_tensor_index(index):
        return None
    index = tuple(int(i) if _integer(i) else i for i in _normalize_index(index))
    if not any(isinstance(i, np.ndarray) and i.ndim for i in index):
        return None
    apart = [k for k, i in enumerate(index) if isinstance(i, (int, np.ndarray))]
    if apart[-1] - apart[0] + 1 == len(apart):   # one run of integers and arrays: NumPy
        return None                              # places it where PyTorch does
    first, then = [], []
    for i in index:
        if isinstance(i, np.ndarray) and i.ndim:
            first.extend([slice(None)] * (i.ndim if i.dtype == bool else 1))
            then.append(i)
        elif isinstance(i, int):
            first.append(i)
        else:
            first.append(i)
            then.append(i if i is Ellipsis else slice(None))
    return tuple(first), tuple(then)


def _integer(i) -> bool:
    """An integer index (not a bool): a Python or NumPy int, or a 0-d integer tensor or array."""
    if isinstance(i, (int, np.integer)):
        return not isinstance(i, bool)
    dtype = i.dtype if isinstance(i, np.ndarray) else i.dtype.np if isinstance(i, Tensor) \
        else None
    return dtype is not None and dtype.kind in "iu" and tuple(i.shape) == ()


def broadcast_to(x, ref, axes=()) -> Tensor:
    return apply2(shared(BroadcastTo, tuple(axes)), x, ref)


def sum_to(x, ref, axes=()) -> Tensor:
    return apply(shared(SumTo, tuple(axes)), x, ref)


def expand(x, shape) -> Tensor:
    return apply(Expand(shape=tuple(int(d) for d in shape)), as_tensor(x))


def gather_planes(x, rows, cols) -> Tensor:
    """x[..., rows, :][..., cols] in one op (see `GatherPlanes`); rows and cols are 1-D
    sequences of non-negative ints."""
    return apply(GatherPlanes(rows=tuple(int(i) for i in rows),
                              cols=tuple(int(j) for j in cols)), as_tensor(x))


def copy(x) -> Tensor:
    return apply(shared(Copy), as_tensor(x))


def shape_of(input, name=None, out_type=dtypes.int32) -> Tensor:  # noqa: A002
    """TF1 `tf.shape`: input's shape at run time, an int32 (or out_type) vector."""
    return apply(ShapeOf(dtype=dtypes.as_dtype(out_type)), as_tensor(input), name=name)


def stop_gradient(x, name=None) -> Tensor:
    return apply(StopGradient(), as_tensor(x), name=name)




def pad(tensor, paddings, mode="CONSTANT", name=None, constant_values=0) -> Tensor:
    """TF1's `tf.pad`: `paddings` is [rank, 2], (before, after) per dim; mode CONSTANT (with
    `constant_values`), REFLECT (edges not repeated) or SYMMETRIC (edges repeated), in any
    case, as NumPy's modes of those names."""
    x = as_tensor(tensor)
    if isinstance(paddings, Tensor):
        if paddings.kind != "eager":
            raise TypeError("pad: paddings must be known when the graph is built (a list or "
                            "a constant), not a placeholder")
        paddings = paddings.numpy().tolist()
    pads = tuple(tuple(_pad_width(n) for n in pair) for pair in paddings)
    mode = str(mode).upper()
    if mode == "CONSTANT":   # the op checks the pairs against the rank
        return apply(Pad(pads=pads, value=constant_values), x, name=name)
    if mode not in ("REFLECT", "SYMMETRIC"):
        raise ValueError(f"pad: mode must be CONSTANT, REFLECT or SYMMETRIC, got {mode!r}")
    if any(len(pair) != 2 for pair in pads) or len(pads) != x.ndim:
        raise ValueError(f"pad: paddings must have shape [{x.ndim}, 2] for an input of shape "
                         f"{x.shape}, got {[list(p) for p in pads]}")
    for dim, (before, after) in enumerate(pads):
        if before or after:
            n = x.shape[dim]
            limit = None if n is None else n - 1 if mode == "REFLECT" else n
            if limit is None or not 0 <= before <= limit or not 0 <= after <= limit:
                raise ValueError(f"pad: {mode} paddings of dim {dim} must be in [0, {limit}] "
                                 f"for a size of {n}, got ({before}, {after})")
            index = np.pad(np.arange(n), (before, after), mode=mode.lower())
            x = getitem(x, (slice(None),) * dim + (index,))
    return x


def _pad_width(n) -> int:
    """A pad width as an int; 1.5 is refused (it would pad by a truncated amount)."""
    if int(n) != n:
        raise TypeError(f"pad: widths must be integers, got {n!r}")
    return int(n)
