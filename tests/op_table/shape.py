"""Shape and movement ops (tinyflow/ops/shape.py): transpose, reshape, (un)squeezing, concat
and its gradient piece, indexing with [] and its gradient, the broadcasting helpers autodiff
uses, expand, copy, pad, and the sugar on top (stack, split, flatten, chunk)."""
from __future__ import annotations

import numpy as np

import tinyflow as tf
from tinyflow.core.op import apply
from tinyflow.ops import shape as shape_ops

from .common import NUMBERS, A, ErrorInput, OpCase, Ref, S, unary_samples

CASES: list[OpCase] = []


def transpose(x, perm=None):
    return tf.transpose(x, perm)


def np_transpose(x, perm=None):
    return np.transpose(x, perm)


def np_reshape(x, shape):
    return np.reshape(x, shape)


CASES += [
    OpCase("transpose", transpose, np_transpose,
           (S(A(3, 4)), S(A(2, 3, 4)), S(A(2, 3, 4), perm=(1, 0, 2)),
            S(A(2, 3, 4), perm=(2, 0, 1)), S(A(3, 4, layout="T"), perm=(1, 0)),
            S(A(0, 3)), S(A(5)), S(A())), NUMBERS,
           errors=(ErrorInput(S(A(3, 4), perm=(0, 0)), tf.ShapeError,
                              r"^transpose: perm \(0, 0\) is not a permutation of the 2 axes"),
                   ErrorInput(S(A(2, 3, 4), perm=(1, 0)), tf.ShapeError,
                              r"^transpose: perm \(1, 0\) is not a permutation of the 3 "
                              r"axes"))),
    OpCase("reshape", tf.reshape, np_reshape,
           (S(A(3, 4), shape=(12,)), S(A(2, 3, 4), shape=(4, -1)),
            S(A(3, 4, layout="T"), shape=(2, 6)), S(A(2, 3, 4), shape=(-1,)),
            S(A(6, layout="step"), shape=(1, 2, 3, 1)), S(A(), shape=(1, 1)),
            S(A(0, 4), shape=(-1, 2))), NUMBERS,
           errors=(ErrorInput(S(A(None, 784), shape=[3, 5]), tf.ShapeError,
                              r"^reshape: cannot reshape \(None, 784\) into \(3, 5\): 15 "
                              r"elements is not a multiple of 784"),
                   ErrorInput(S(A(3, 4), shape=(5,)), tf.ShapeError,
                              r"^reshape: cannot reshape \(3, 4\) \(12 elements\) into \(5,\)"),
                   ErrorInput(S(A(3, 4), shape=(-1, -1)), tf.ShapeError,
                              r"^reshape: can only infer one dimension of \(-1, -1\)"))),
    OpCase("expand_dims", tf.expand_dims, np.expand_dims,
           (S(A(3, 4), axis=0), S(A(3, 4), axis=-1), S(A(3, 4, layout="T"), axis=1),
            S(A(), axis=0)), NUMBERS,
           errors=(ErrorInput(S(A(3, 4), axis=3), tf.ShapeError,
                              r"^expand_dims: axis 3 out of range for rank 3 output"),
                   ErrorInput(S(A(3, 4), axis=-4), tf.ShapeError,
                              r"^expand_dims: axis -4 out of range for rank 3 output"))),
]


def np_squeeze(x, axis=None):
    return np.squeeze(x, axis)


CASES += [
    OpCase("squeeze", tf.squeeze, np_squeeze,
           (S(A(1, 3, 1, 4), axis=0), S(A(1, 3, 1, 4), axis=(0, 2)),
            S(A(1, 3, 1, 4), axis=-2), S(A(1, 3, 1, 4, layout="T"), axis=(0, 2)),
            S(A(1, 1), axis=(0, 1))), NUMBERS,
           errors=(ErrorInput(S(A(3, 4), axis=0), tf.ShapeError,
                              r"^squeeze: cannot squeeze axis 0 of size 3"),
                   ErrorInput(S(A(1, 4), axis=2), tf.ShapeError,
                              r"^squeeze: axis 2 is out of range for rank 2"))),
    OpCase("squeeze_all", tf.squeeze, np_squeeze, (S(A(1, 3, 1, 4)), S(A(1, 1))), NUMBERS,
           dynamic=False, op="squeeze"),  # squeeze() without axis needs known dims
]


def concat(*xs, axis):
    return tf.concat(list(xs), axis)


def np_concat(*xs, axis):
    return np.concatenate(xs, axis)


def concat_piece(g, *xs, index, axis):
    return apply(shape_ops.ConcatPiece(index=index, axis=axis), g, *xs)


def np_concat_piece(g, *xs, index, axis):
    return np.split(g, np.cumsum([x.shape[axis] for x in xs])[:-1], axis)[index]


CASES += [
    OpCase("concat", concat, np_concat,
           (S(A(2, 3), A(4, 3), axis=0), S(A(3, 2), A(3, 1), A(3, 4), axis=1),
            S(A(2, 3, 4), A(2, 3, 2), axis=-1),
            S(A(2, 3, layout="T"), A(1, 3, layout="step"), axis=0),
            S(A(0, 3), A(2, 3), axis=0)), NUMBERS,
           errors=(ErrorInput(S(A(2, 3), A(3), axis=0), tf.ShapeError,
                              r"^concat: inputs must have the same rank"),
                   ErrorInput(S(A(2, 3), A(2, 4), axis=0), tf.ShapeError,
                              r"^concat: dimension 1 differs: 3 vs 4"),
                   ErrorInput(S(A(2, 3), A(2, 3), axis=2), tf.ShapeError,
                              r"^concat: axis 2 is out of range for rank 2"),
                   ErrorInput(S(axis=0), tf.ShapeError, r"^concat: needs at least one input"))),
    OpCase("concat_piece", concat_piece, np_concat_piece,
           (S(A(6, 3), Ref(2, 3), Ref(4, 3), index=1, axis=0),
            S(A(3, 7), Ref(3, 2), Ref(3, 1), Ref(3, 4), index=0, axis=1),
            S(A(2, 3, 6, layout="T"), Ref(2, 3, 4), Ref(2, 3, 2), index=1, axis=-1),
            S(A(2, 3), Ref(0, 3), Ref(2, 3), index=0, axis=0)), NUMBERS),
]


def stack(*xs, axis=0):
    return tf.stack(list(xs), axis)


def np_stack(*xs, axis=0):
    return np.stack(xs, axis)


def split(x, num_or_size_splits, axis=0):
    return tf.ops.split(x, num_or_size_splits, axis)  # TF1's split (tf.split also takes torch's)


def np_split(x, num_or_size_splits, axis=0):
    if isinstance(num_or_size_splits, int):
        return np.split(x, num_or_size_splits, axis)
    return np.split(x, np.cumsum(num_or_size_splits)[:-1], axis)  # a -1 is last in samples


CASES += [
    OpCase("stack", stack, np_stack,
           (S(A(3, 4), A(3, 4)), S(A(3, 4), A(3, 4), A(3, 4), axis=-1),
            S(A(2), A(2), axis=1), S(A(3, 4, layout="T"), A(3, 4, layout="step"), axis=1),
            S(A(2, 3, 2), A(2, 3, 2), A(2, 3, 2), axis=-2)),
           NUMBERS, sugar=True),
    OpCase("split", split, np_split,
           (S(A(6, 4), num_or_size_splits=3), S(A(3, 5), num_or_size_splits=[1, 3, 1], axis=1),
            S(A(2, 4, 3, layout="T"), num_or_size_splits=2, axis=-2),
            S(A(2, 5), num_or_size_splits=[2, -1], axis=1)), NUMBERS,
           dynamic=False, sugar=True,  # split needs the static size of the split axis
           errors=(ErrorInput(S(A(5, 2), num_or_size_splits=2), ValueError,
                              r"^split: cannot split dimension 0 of size 5 into 2 equal parts"),
                   ErrorInput(S(A(5, 2), num_or_size_splits=[2, 2]), ValueError,
                              r"^split: sizes \[2, 2\] do not add up to dimension 0 = 5"))),
]


def index_into(x, index):
    """The GetItem op on a tensor (negative steps too, which TF1 takes and PyTorch's `x[...]`
    refuses), NumPy's `x[index]` on an array as the reference."""
    return shape_ops.getitem(x, index) if isinstance(x, tf.Tensor) else x[index]


def getitem_grad(g, ref, index):
    return apply(shape_ops.GetItemGrad(index=index), g, ref)


def np_getitem_grad(g, ref, index):
    out = np.zeros(ref.shape, g.dtype)
    np.add.at(out, index, g)
    return out


def getitem_grads(ref, *gs, indices):
    return apply(shape_ops.GetItemGrads(indices=indices), ref, *gs)


def np_getitem_grads(ref, *gs, indices):
    out = np.zeros(ref.shape, gs[0].dtype)
    for index, g in zip(indices, gs):
        np.add.at(out, index, g)
    return out


def gather_planes(x, rows, cols):
    return shape_ops.gather_planes(x, rows, cols)


def np_gather_planes(x, rows, cols):
    return x[..., np.array(rows, np.intp)[:, None], np.array(cols, np.intp)]


def gather_planes_grad(g, ref, rows, cols):
    return apply(shape_ops.GatherPlanesGrad(rows=rows, cols=cols), g, ref)


def np_gather_planes_grad(g, ref, rows, cols):
    out = np.zeros(ref.shape, g.dtype)
    np.add.at(out, (Ellipsis, np.array(rows, np.intp)[:, None], np.array(cols, np.intp)), g)
    return out


def scatter_tiles(ref, *gs, indices):
    return apply(shape_ops.ScatterTiles(indices=indices), ref, *gs)


def np_scatter_tiles(ref, *gs, indices):
    out = np.zeros(ref.shape, gs[0].dtype)
    for index, g in zip(indices, gs):
        out[index] = g.reshape(out[index].shape)
    return out


_HALVES = tuple((slice(None), slice(None), slice(k, k + 4)) for k in (0, 4))

_THIRDS = tuple((slice(None), slice(None), slice(k, k + 3)) for k in (0, 3, 6))

CASES += [
    OpCase("getitem", index_into, index_into,
           (S(A(5, 4), index=slice(1, 4, 2)),
            S(A(5, 4), index=(slice(None, None, -2), slice(1, None))),
            S(A(5, 4), index=-1),
            S(A(4, 5, 3), index=(1, -2)),
            S(A(4, 5), index=(None, slice(None), 1)),
            S(A(4, 5, 3), index=(Ellipsis, 1)),
            S(A(4, 5, 3), index=(1, Ellipsis, None)),
            S(A(5, 4), index=np.array([0, 2, 0, 4])),
            S(A(4, 5), index=(slice(None), np.array([3, 1, 3]))),
            S(A(4, 5), index=(np.array([0, 1, 1]), np.array([2, 2, 2]))),
            S(A(4, 5), index=np.array([[0, 1], [1, 0]])),
            S(A(6, 5, layout="T"), index=(slice(1, None, 2), np.array([4, 0, 4]))),
            S(A(5, 4), index=(slice(2, 100), slice(5, None))),
            S(A(), index=()),
            S(A(4, 5), index=(np.array([], np.int64),))),
           NUMBERS,
           errors=(ErrorInput(S(A(3, 4), index=5), tf.ShapeError,
                              r"^getitem: index 5 is out of bounds for axis 0 with size 3"),
                   ErrorInput(S(A(3, 4), index=-4), tf.ShapeError,
                              r"^getitem: index -4 is out of bounds for axis 0 with size 3"),
                   ErrorInput(S(A(3, 4), index=np.array([0, 7])), tf.ShapeError,
                              r"^getitem: index 7 is out of bounds for axis 0 with size 3"),
                   # Python's words for three indices into two dims leak through
                   ErrorInput(S(A(3, 4), index=(0, 0, 0)), tf.ShapeError, r"^getitem: "),
                   ErrorInput(S(A(3, 4), index=np.array([0.5])), IndexError,
                              r"index arrays must be integer or bool, got float64"))),
    OpCase("getitem_mask", index_into, index_into,
           (S(A(3, 4), index=np.array([True, False, True])),
            S(A(2, 3), index=np.array([[True, False, True], [False, False, True]]))),
           NUMBERS, dynamic=False, op="getitem",  # a mask must match dims known statically
           errors=(ErrorInput(S(A(3, 4), index=np.array([True, False])), tf.ShapeError,
                              r"^getitem: boolean index did not match indexed array along "
                              r"axis 0; size of axis is 3 but size of corresponding boolean "
                              r"axis is 2"),)),
    OpCase("getitem_grad", getitem_grad, np_getitem_grad,
           (S(A(2, 4), Ref(5, 4), index=(slice(1, 4, 2),)),
            S(A(4), Ref(5, 4), index=(-1,)),
            S(A(3, 4), Ref(5, 4), index=(np.array([1, 1, 3]),)),
            S(A(4, 3, layout="T"), Ref(4, 5), index=(slice(None), np.array([0, 2, 0]))),
            S(A(3), Ref(4, 5), index=(np.array([0, 0, 3]), np.array([1, 1, 2])))), NUMBERS),
    OpCase("gather_planes", gather_planes, np_gather_planes,
           (S(A(2, 3, 4, 5), rows=(1, 0, 1, 2, 3, 2), cols=(0, 0, 4, 2)),
            S(A(4, 3, layout="T"), rows=(3, 3, 0), cols=(1, 2, 1, 0, 2)),
            S(A(2, 5, 3), rows=(), cols=(1,))), NUMBERS,
           errors=(ErrorInput(S(A(3, 4), rows=(0, 3), cols=(0,)), tf.ShapeError,
                              r"^gather_planes: row index 3 \(or 0\) is out of bounds for a "
                              r"size of 3"),
                   ErrorInput(S(A(4), rows=(0,), cols=(0,)), tf.ShapeError,
                              r"^gather_planes: the input must have at least 2 dims"))),
    OpCase("gather_planes_grad", gather_planes_grad, np_gather_planes_grad,
           (S(A(2, 3, 6, 4), Ref(2, 3, 4, 5), rows=(1, 0, 1, 2, 3, 2), cols=(0, 0, 4, 2)),
            S(A(3, 5, layout="T"), Ref(4, 3), rows=(3, 3, 0), cols=(1, 2, 1, 0, 2))), NUMBERS),
    OpCase("scatter_tiles", scatter_tiles, np_scatter_tiles,
           (S(Ref(2, 3, 8), A(2, 3, 2, 2), A(2, 3, 2, 2, layout="T"), indices=_HALVES),
            S(Ref(2, 3, 8), A(2, 3, 4), A(2, 3, 1, 4), indices=_HALVES),
            S(Ref(6, 4), A(2, 4), A(2, 2, 4), indices=((slice(4, 6),), (slice(0, 4),)))),
           NUMBERS,
           errors=(ErrorInput(S(Ref(2, 6), A(3, 2), A(3, 2),
                                indices=((slice(None), slice(0, 3)),
                                         (slice(None), slice(3, 6)))), ValueError,
                              r"scatter_tiles: the slice \(slice\(None, None, None\), "
                              r"slice\(0, 3, None\)\) of \(2, 6\) \(strides \(\d+, \d+\)\) "
                              r"cannot be viewed as \(3, 2\)", at_run=True),)),
    OpCase("getitem_grads", getitem_grads, np_getitem_grads,
           (S(Ref(2, 3, 9), A(2, 3, 3), A(2, 3, 3), A(2, 3, 3), indices=_THIRDS),   # split
            S(Ref(2, 3, 9), A(2, 3, 3), A(2, 3, 3, layout="T"), indices=_THIRDS[::2]),
            S(Ref(5, 4), A(2, 4), A(3, 4), indices=((slice(3, 5),), (slice(0, 3),))),
            S(Ref(5, 4), A(3, 4), A(4, 4), indices=((slice(0, 3),), (slice(1, None),))),
            S(Ref(5, 4), A(3, 4), A(4), A(2, 4),
              indices=((np.array([1, 1, 3]),), (-1,), (slice(None, None, -3),)))),
           NUMBERS,
           errors=(ErrorInput(S(Ref(5, 4), A(3, 4), A(3, 3),
                                indices=((slice(0, 3),), (slice(1, 4),))), tf.ShapeError,
                              r"^getitem_grads: a gradient of shape \(3, 3\) for index "
                              r"\(slice\(1, 4, None\),\) of \(5, 4\), which selects "
                              r"\(3, 4\)"),)),
]

# ---- the broadcasting helpers autodiff uses ----------------------------------------------


def broadcast_to(x, ref, axes=()):
    return shape_ops.broadcast_to(x, ref, axes)


def np_broadcast_to(x, ref, axes=()):
    return np.broadcast_to(np.expand_dims(x, axes), ref.shape)


def sum_to(x, ref, axes=()):
    return shape_ops.sum_to(x, ref, axes)


def np_sum_to(x, ref, axes=()):
    """Sum over `axes`, then over the leading dims and the dims where `ref` has size 1."""
    x = np.sum(x, axis=axes)
    x = np.sum(x, axis=tuple(range(x.ndim - ref.ndim)))
    ones = tuple(i for i, d in enumerate(ref.shape) if d == 1)
    return np.sum(x, axis=ones, keepdims=True)


def reshape_to(x, ref):
    return shape_ops.reshape_to(x, ref)


def np_reshape_to(x, ref):
    return np.reshape(x, ref.shape)


CASES += [
    OpCase("broadcast_to", broadcast_to, np_broadcast_to,
           (S(A(4), Ref(3, 4)), S(A(3, 1), Ref(2, 3, 4)), S(A(), Ref(2, 3)),
            S(A(3), Ref(3, 4), axes=(1,)), S(A(2, 4), Ref(2, 3, 4), axes=(1,)),
            S(A(3), Ref(3, 4), axes=(-1,)), S(A(3, 4, layout="T"), Ref(2, 3, 4))), NUMBERS),
    OpCase("sum_to", sum_to, np_sum_to,
           (S(A(3, 4), Ref(4)), S(A(2, 3, 4), Ref(3, 1)), S(A(3, 4), Ref(1, 4)),
            S(A(3, 4), Ref()), S(A(3, 4, 5), Ref(3, 5), axes=(1,)),
            S(A(2, 3, 4), Ref(1, 4), axes=(-2,)), S(A(3, 4, layout="step"), Ref(3, 1))),
           NUMBERS),
    OpCase("reshape_to", reshape_to, np_reshape_to,
           (S(A(3, 4), Ref(2, 6)), S(A(2, 3, 4), Ref(24)), S(A(3, 4, layout="T"), Ref(4, 3))),
           NUMBERS),
]

# ---- PyTorch's movement ops and sugar -----------------------------------------------------


def expand(x, shape):
    return tf.ops.expand(x, shape)


def np_expand(x, shape):
    return np.broadcast_to(x, shape)


def pad(x, pads, value=0):
    return tf.ops.pad(x, pads, constant_values=value)


def np_pad(x, pads, value=0):
    return np.pad(x, pads, constant_values=value)


CASES += [
    OpCase("expand", expand, np_expand,
           (S(A(3, 1), shape=(2, 3, 4)), S(A(4), shape=(3, 4)), S(A(), shape=(2, 2)),
            S(A(2, 3, layout="T"), shape=(4, 2, 3))), NUMBERS,
           errors=(ErrorInput(S(A(3, 2), shape=(3, 4)), tf.ShapeError,
                              r"^expand: cannot expand shape \(3, 2\) to \(3, 4\)"),
                   ErrorInput(S(A(3, 2), shape=(2,)), tf.ShapeError,
                              r"^expand: cannot expand shape \(3, 2\) to \(2,\)"))),
    OpCase("copy", tf.ops.copy, np.array, unary_samples(), NUMBERS),
    OpCase("stop_gradient", tf.stop_gradient, np.array, unary_samples(), NUMBERS, grad=False),
    OpCase("pad", pad, np_pad,
           (S(A(3, 4), pads=((1, 0), (2, 1))),
            S(A(2, 3, 4, layout="T"), pads=((0, 0), (1, 1), (0, 2)), value=2),
            S(A(5, layout="step"), pads=((3, 3),)), S(A(0, 2), pads=((1, 1), (0, 0)))),
           NUMBERS,
           errors=(ErrorInput(S(A(3, 4), pads=((1, 1),)), tf.ShapeError,
                              r"^pad: 1 pad pairs for a rank-2 input"),
                   ErrorInput(S(A(3, 4), pads=((-1, 1), (0, 0))), tf.ShapeError,
                              r"^pad: negative padding is not supported"),
                   ErrorInput(S(A(3, 4), pads=((1.5, 0), (0, 0))), TypeError,
                              r"^pad: widths must be integers, got 1\.5"))),
]


def flatten(x, start_dim=0, end_dim=-1):
    return tf.flatten(x, start_dim, end_dim)


def np_flatten(x, start_dim=0, end_dim=-1):
    end = end_dim % x.ndim
    return x.reshape(x.shape[:start_dim] + (-1,) + x.shape[end + 1:])


def chunk(x, chunks, dim=0):
    return tf.chunk(x, chunks, dim)


def np_chunk(x, chunks, dim=0):
    size = -(-x.shape[dim] // chunks)
    return np.split(x, range(size, x.shape[dim], size), axis=dim)


CASES += [
    OpCase("flatten", flatten, np_flatten,
           (S(A(2, 3, 4), start_dim=1), S(A(2, 3, 4)),
            S(A(2, 3, 4, 5, layout="T"), start_dim=1, end_dim=2)), NUMBERS,
           dynamic=False, sugar=True,  # merging dims needs their static sizes
           errors=(ErrorInput(S(A(3, 4), start_dim=2), IndexError,
                              r"flatten: dimension 2 is out of range .*\[3, 4\]"),
                   ErrorInput(S(A(3, 4), start_dim=1, end_dim=0), RuntimeError,
                              r"flatten: start_dim 1 comes after end_dim 0"))),
    OpCase("chunk", chunk, np_chunk,
           (S(A(7, 2), chunks=3), S(A(2, 6), chunks=2, dim=1)), NUMBERS, dynamic=False,
           sugar=True),
]


def unstack(x, num=None, axis=0):
    return tf.unstack(x, num, axis)


def np_unstack(x, num=None, axis=0):
    return list(np.moveaxis(x, axis, 0))


def shape_of(x, out_type=tf.int32):
    return tf.shape(x, out_type=out_type)


def np_shape_of(x, out_type=tf.int32):
    return np.array(x.shape, dtype=out_type.np)


CASES += [
    OpCase("unstack", unstack, np_unstack,
           (S(A(3, 4)), S(A(2, 3, 4), axis=1), S(A(2, 3, 4, layout="T"), num=4, axis=-1)),
           NUMBERS, dynamic=False, sugar=True,  # the number of pieces is the axis' static size
           errors=(ErrorInput(S(A(3, 4), num=2), ValueError,
                              r"^unstack: num=2 does not match dimension 0 of shape"),)),
    OpCase("shape", shape_of, np_shape_of,
           (S(A(3, 4)), S(A(2, 3, 4, layout="T"), out_type=tf.int64), S(A()), S(A(0, 2))),
           NUMBERS + (tf.bool,), lambda dt, kwargs: kwargs.get("out_type", tf.int32),
           grad=False,
           errors=(ErrorInput(S(A(3), out_type=tf.float32), tf.DTypeError,
                              r"^shape: out_type must be an integer dtype, got float32"),)),
]


def tf_slice(x, begin=(), size=()):
    return tf.slice(x, begin, size)


def np_slice(x, begin=(), size=()):
    return x[tuple(slice(b, None if n == -1 else b + n) for b, n in zip(begin, size))]


CASES += [
    OpCase("slice", tf_slice, np_slice,
           (S(A(3, 4), begin=[1, 0], size=[2, -1]), S(A(2, 3, 4, layout="T"), begin=[0, 1, 2],
                                                     size=[1, 2, 2])),
           NUMBERS, sugar=True, dynamic=False,
           errors=(ErrorInput(S(A(3, 4), begin=[2, 0], size=[2, 4]), ValueError,
                              r"^slice: begin \[2, 0\] and size \[2, 4\] do not fit"),)),
]
