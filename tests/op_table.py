"""The op table: one entry per op case drives every op test in test_ops.py (like OpInfo).

Each `OpCase` names the tinyflow function, its NumPy reference, sample inputs (shapes,
value domains, non-contiguous layouts, which inputs are differentiated), the dtypes its
forward pass is checked in, the expected output dtype and tolerances. Entries are grouped
as in tinyflow/ops: math, reduce, linalg, shape, nn, creation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

import tinyflow as tf
from tinyflow.core.op import apply
from tinyflow.core.shapes import normalize_axes
from tinyflow.ops import creation as creation_ops
from tinyflow.ops import activation as activation_ops
from tinyflow.ops import conv as conv_ops
from tinyflow.ops import indexing as indexing_ops
from tinyflow.ops import normalization as normalization_ops
from tinyflow.ops import pool as pool_ops
from tinyflow.ops import reduce as reduce_ops
from tinyflow.ops import rnn as rnn_ops
from tinyflow.ops import shape as shape_ops

FLOATS = (tf.float32, tf.float64)
NUMBERS = FLOATS + (tf.int32, tf.int64)
HALF_TOO = (tf.float16,) + NUMBERS  # for a few common ops: float16 forward as well


# ---- value domains: (rng, shape) -> float64 values (or ints / bools for fixed dtypes) ----

def real(rng, shape):
    return rng.uniform(-2, 2, shape)


def positive(rng, shape):
    """Inside the domain of log, sqrt and pow's base."""
    return rng.uniform(0.5, 2, shape)


def nonzero(rng, shape):
    """Away from 0: divisors, and the kinks of abs and relu."""
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2, shape)


def distinct(rng, shape):
    """All values at least 0.1 apart: no ties for max/min/argmax."""
    n = math.prod(shape)
    return ((rng.permutation(n) - n / 2) * 0.1 + 0.05).reshape(shape)


def even_grid(rng, shape):
    """Multiples of 0.2; never within 0.1 of an `odd_grid` value (no maximum ties)."""
    return rng.integers(-10, 10, shape) * 0.2


def odd_grid(rng, shape):
    return rng.integers(-10, 10, shape) * 0.2 + 0.1


def small_ints(rng, shape):
    """Few distinct values, so comparisons see ties and sign sees zeros."""
    return rng.integers(-2, 3, shape).astype(np.float64)


def tiny(rng, shape):
    """|x| < 1e-6: where log1p and expm1 differ from log(1 + x) and exp(x) - 1."""
    return rng.uniform(-1e-6, 1e-6, shape)


def off_grid(rng, shape):
    """Away from the multiples of the nonzero divisors' magnitudes, where remainder jumps."""
    return rng.choice([-1.0, 1.0], shape) * (rng.integers(0, 4, shape) + rng.uniform(0.1, 0.2,
                                                                                     shape))


def half_points(rng, shape):
    """Exact halves (-2.5 ... 2.5): rounding must go to the even neighbour."""
    return rng.integers(-3, 3, shape) + 0.5


def wide(rng, shape):
    """Large logits: the softmax family must not overflow."""
    return rng.uniform(-60, 60, shape)


def simplex(rng, shape):
    """Rows of class probabilities."""
    p = rng.uniform(0.1, 1, shape)
    return p / p.sum(-1, keepdims=True)


def booleans(rng, shape):
    return rng.random(shape) < 0.5


def class_ids(classes):
    def draw(rng, shape):
        return rng.integers(0, classes, shape)
    return draw


def given(*values):
    """Exactly these values (e.g. repeated indices)."""
    def draw(rng, shape):
        return np.array(values).reshape(shape)
    return draw


# ---- inputs, samples and cases ---------------------------------------------------------

@dataclass(frozen=True)
class Arg:
    """One input of a sample.

    Args:
        shape: the input's shape.
        domain: where its values come from (a function above).
        layout: "C" contiguous, "T" a transposed (Fortran-order) view, "step" every other
            element of a twice-as-long last axis; the last two are non-contiguous.
        dtype: a fixed dtype (labels, conditions); None follows the dtype under test.
        diff: whether gradients are checked with respect to this input.
    """
    shape: tuple
    domain: Callable = real
    layout: str = "C"
    dtype: Optional[tf.DType] = None
    diff: bool = True


def A(*shape, domain=real, layout="C", dtype=None, diff=True) -> Arg:
    return Arg(tuple(shape), domain, layout, dtype, diff)


def Ref(*shape) -> Arg:
    """An input read only for its shape (sum_to, broadcast_to, reshape_to)."""
    return Arg(tuple(shape), real, diff=False)


def Cond(*shape) -> Arg:
    return Arg(tuple(shape), booleans, dtype=tf.bool, diff=False)


def Labels(*shape, classes=5, dtype=tf.int64) -> Arg:
    return Arg(tuple(shape), class_ids(classes), dtype=dtype, diff=False)


def Ids(*values, shape=None, dtype=tf.int64) -> Arg:
    """Integer indices with exactly these values (of `shape`, by default 1-D)."""
    return Arg(shape or (len(values),), given(*values), dtype=dtype, diff=False)


@dataclass(frozen=True)
class Sample:
    args: tuple
    kwargs: dict = field(default_factory=dict)


def S(*args, **kwargs) -> Sample:
    return Sample(args, kwargs)


# expected output dtype, from the dtype under test and the sample's keyword arguments
def same(dt, kwargs):
    return dt


def float64(dt, kwargs):
    return tf.float64


def summed(dt, kwargs):
    return tf.int64 if dt.is_bool else dt


def floating(dt, kwargs):
    return dt if dt.is_floating else tf.float32


def boolean(dt, kwargs):
    return tf.bool


def int64(dt, kwargs):
    return tf.int64


def dtype_kwarg(dt, kwargs):
    return kwargs.get("dtype") or dt


def dtype_kwarg_or_float32(dt, kwargs):
    return kwargs.get("dtype", tf.float32)


@dataclass(frozen=True)
class OpCase:
    """One op (or sugar function) under test.

    Args:
        name: test id prefix; the registered op name unless `op` or `sugar` say otherwise.
        fn: the tinyflow call, fn(*tensors, **sample.kwargs) -> tensor or list of tensors.
        ref: the NumPy reference, ref(*arrays, **sample.kwargs) -> array or list of arrays.
        samples: the sample inputs.
        dtypes: dtypes the forward pass is checked in (for inputs without a fixed dtype).
        out_dtype: (dtype under test, kwargs) -> the expected output dtype.
        grad: False for forward-only entries (non-differentiable ops).
        second_order: False to skip the second-order check (say why where it is set).
        dynamic: False to skip the checks with placeholders of unknown dims or rank.
        op: the registered op this entry tests, when it is not `name`.
        sugar: a composition of other ops, not the entry of a registered op.
        atol, rtol: forward tolerance in float32 (float64 is checked to ~1e-12, float16 to
            1e-3, ints and bools exactly).
    """
    name: str
    fn: Callable
    ref: Callable
    samples: tuple
    dtypes: tuple = FLOATS
    out_dtype: Callable = same
    grad: bool = True
    second_order: bool = True
    dynamic: bool = True
    op: str = ""
    sugar: bool = False
    atol: float = 1e-6
    rtol: float = 1e-5

    @property
    def registered_op(self) -> Optional[str]:
        return None if self.sugar else (self.op or self.name)


def make_array(arg: Arg, dtype: tf.DType, rng: np.random.Generator) -> np.ndarray:
    """Values from the arg's domain, in its dtype (or `dtype`), laid out as it asks."""
    values = np.asarray(arg.domain(rng, arg.shape))
    dt = (arg.dtype or dtype).np
    if values.dtype.kind == "f" and dt.kind in "iu":
        values = np.round(values * 2)  # domains span about [-2, 2]: use ints in [-4, 4]
    elif values.dtype.kind == "f" and dt.kind == "b":
        values = values > 0
    return with_layout(values.astype(dt), arg.layout)


def with_layout(arr: np.ndarray, layout: str) -> np.ndarray:
    if layout == "T":
        return np.ascontiguousarray(arr.T).T
    if layout == "step":
        base = np.zeros(arr.shape[:-1] + (2 * arr.shape[-1],), arr.dtype)
        base[..., ::2] = arr
        return base[..., ::2]
    return arr


# ---- sample sets shared by several entries ---------------------------------------------

def binary_samples(x=real, y=real) -> tuple:
    return (S(A(3, 4, domain=x), A(3, 4, domain=y)),
            S(A(3, 4, domain=x), A(4, domain=y)),
            S(A(2, 1, 4, domain=x), A(3, 1, domain=y)),
            S(A(3, 4, domain=x, layout="T"), A(3, 4, domain=y, layout="step")),
            S(A(domain=x), A(2, 3, domain=y)),
            S(A(0, 4, domain=x), A(4, domain=y)))


def unary_samples(domain=real) -> tuple:
    return (S(A(3, 4, domain=domain)),
            S(A(2, 3, 4, domain=domain, layout="T")),
            S(A(5, domain=domain, layout="step")),
            S(A(domain=domain)),
            S(A(0, 3, domain=domain)))


def reduce_samples(domain=real) -> tuple:
    return (S(A(3, 4, domain=domain)),
            S(A(3, 4, domain=domain), axis=0),
            S(A(2, 3, 4, domain=domain), axis=-1, keepdims=True),
            S(A(2, 3, 4, domain=domain), axis=(0, 2)),
            S(A(2, 3, 4, domain=domain), axis=(0, -1), keepdims=True),
            S(A(3, 4, domain=domain, layout="T"), axis=1),
            S(A(3, 4, domain=domain, layout="step"), axis=None, keepdims=True),
            S(A(5, domain=domain), axis=0),
            S(A(0, 3, domain=domain), axis=1))


def softmax_samples() -> tuple:
    return (S(A(3, 5)),
            S(A(3, 5), axis=0),
            S(A(2, 3, 4), axis=1),
            S(A(4, 6, domain=wide)),
            S(A(5, 3, layout="T"), axis=-1),
            S(A(3, 4, layout="step"), axis=0),
            S(A(0, 5)))


COMPARE_SAMPLES = (S(A(3, 4, domain=small_ints), A(3, 4, domain=small_ints)),
                   S(A(3, 4, domain=small_ints), A(4, domain=small_ints)),
                   S(A(2, 1, 4, domain=small_ints), A(3, 1, domain=small_ints)),
                   S(A(3, 4, domain=small_ints, layout="T"),
                     A(3, 4, domain=small_ints, layout="step")))


# ---- small named functions where the public call needs adapting ------------------------

def pow_scalar(x, exponent):
    return x ** exponent


def np_pow_scalar(x, exponent):
    return np.power(x, float(exponent)).astype(x.dtype)


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x.astype(np.float64)))


def np_relu(x):
    return np.maximum(x, 0).astype(x.dtype)


def cast(x, dtype):
    return tf.cast(x, dtype)


def np_cast(x, dtype):
    return x.astype(dtype.np)


def count(x, axis=None):
    op = reduce_ops.Count(axis=normalize_axes(axis, x.ndim), keepdims=False, dtype=x.dtype)
    return apply(op, x)


def np_count(x, axis=None):
    axes = range(x.ndim) if axis is None else np.atleast_1d(axis)
    return np.array(math.prod(x.shape[a] for a in axes), x.dtype)


def np_argmax(x, axis=None):
    return np.argmax(x, axis)


def np_argmin(x, axis=None):
    return np.argmin(x, axis)


def matmul(a, b, transpose_a=False, transpose_b=False):
    return tf.matmul(a, b, transpose_a=transpose_a, transpose_b=transpose_b)


def np_matmul(a, b, transpose_a=False, transpose_b=False):
    a = np.swapaxes(a, -1, -2) if transpose_a else a
    b = np.swapaxes(b, -1, -2) if transpose_b else b
    return a @ b


def transpose(x, perm=None):
    return tf.transpose(x, perm)


def np_transpose(x, perm=None):
    return np.transpose(x, perm)


def np_reshape(x, shape):
    return np.reshape(x, shape)


def np_squeeze(x, axis=None):
    return np.squeeze(x, axis)


def concat(*xs, axis):
    return tf.concat(list(xs), axis)


def np_concat(*xs, axis):
    return np.concatenate(xs, axis)


def concat_piece(g, *xs, index, axis):
    return apply(shape_ops.ConcatPiece(index=index, axis=axis), g, *xs)


def np_concat_piece(g, *xs, index, axis):
    return np.split(g, np.cumsum([x.shape[axis] for x in xs])[:-1], axis)[index]


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


def index_into(x, index):
    """`x[index]` on a tensor or an array: the same expression is op and reference."""
    return x[index]


def getitem_grad(g, ref, index):
    return apply(shape_ops.GetItemGrad(index=index), g, ref)


def np_getitem_grad(g, ref, index):
    out = np.zeros(ref.shape, g.dtype)
    np.add.at(out, index, g)
    return out


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


def np_log_softmax(x, axis=-1):
    x = x.astype(np.float64)
    shifted = x - x.max(axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis, keepdims=True))


def np_softmax(x, axis=-1):
    return np.exp(np_log_softmax(x, axis))


def softmax_cross_entropy(labels, logits):
    return tf.ops.softmax_cross_entropy(labels, logits)


def np_softmax_cross_entropy(labels, logits):
    return -np.sum(labels * np_log_softmax(logits), -1)


def sparse_softmax_cross_entropy(labels, logits):
    return tf.ops.sparse_softmax_cross_entropy(labels, logits)


def np_sparse_softmax_cross_entropy(labels, logits):
    logp = np_log_softmax(logits)
    return -np.take_along_axis(logp, labels[..., None], -1)[..., 0]


def one_hot(indices, *like, depth=None, dtype=tf.float32):
    if like:
        return creation_ops.one_hot_like(indices, like[0], dtype)
    return tf.one_hot(indices, depth, dtype=dtype)


def np_one_hot(indices, *like, depth=None, dtype=tf.float32):
    return np.eye(like[0].shape[-1] if like else depth, dtype=dtype.np)[indices]


def zeros_like(x, dtype=None):
    return tf.zeros_like(x, dtype=dtype)


def np_zeros_like(x, dtype=None):
    return np.zeros(x.shape, x.dtype if dtype is None else dtype.np)


def ones_like(x, dtype=None):
    return tf.ones_like(x, dtype=dtype)


def np_ones_like(x, dtype=None):
    return np.ones(x.shape, x.dtype if dtype is None else dtype.np)


def take(x, indices, axis=0):
    return indexing_ops.take(x, indices, axis)


def np_take(x, indices, axis=0):
    return np.take(x, indices, axis)


def take_grad(g, indices, ref, axis=0):
    return apply(indexing_ops.TakeGrad(axis=axis), g, indices, ref)


def np_take_grad(g, indices, ref, axis=0):
    """Each slice of `g` added at its index along `axis` (repeated indices add up)."""
    out = np.zeros(ref.shape, g.dtype)
    before = (slice(None),) * axis
    for position, i in np.ndenumerate(indices):
        out[before + (i,)] += g[before + position]
    return out


def gather(x, index, dim):
    return indexing_ops.gather(x, dim, index)


def np_gather(x, index, dim):
    out = np.zeros(index.shape, x.dtype)
    for position, i in np.ndenumerate(index):
        source = list(position)
        source[dim] = i
        out[position] = x[tuple(source)]
    return out


def gather_grad(g, index, ref, dim):
    return apply(indexing_ops.GatherGrad(axis=dim), g, index, ref)


def np_gather_grad(g, index, ref, dim):
    out = np.zeros(ref.shape, g.dtype)
    for position, i in np.ndenumerate(index):
        target = list(position)
        target[dim] = i
        out[tuple(target)] += g[position]
    return out


def setitem(x, value, index):
    return indexing_ops.setitem(x, index, value)


def np_setitem(x, value, index):
    out = x.copy()
    out[index] = value
    return out


def np_cumsum(x, axis=0, reverse=False):
    if reverse:
        return np.flip(np.cumsum(np.flip(x, axis), axis), axis)
    return np.cumsum(x, axis)


def np_argsort(x, axis=-1, descending=False):
    """Stable; descending keeps equal elements in their original order, as ascending does."""
    order = np.argsort(x, axis=axis, kind="stable")
    if not descending:
        return order
    n = x.shape[axis]
    # stable descending: sort by (-value, index) = reversed stable ascending of reversed x
    flipped = np.argsort(np.flip(x, axis), axis=axis, kind="stable")
    return np.flip(n - 1 - flipped, axis)


# ---- the table -------------------------------------------------------------------------

MATH = [
    OpCase("add", tf.add, np.add, binary_samples(), HALF_TOO),
    OpCase("add_mixed", tf.add, np.add,
           (S(A(3, 4), A(4, dtype=tf.float64)), S(A(2, 3, dtype=tf.float64), A(2, 1))),
           (tf.float16, tf.float32, tf.int32, tf.int64), float64, op="add"),
    OpCase("sub", tf.subtract, np.subtract, binary_samples(), NUMBERS),
    OpCase("mul", tf.multiply, np.multiply, binary_samples(), HALF_TOO),
    OpCase("div", tf.divide, np.true_divide, binary_samples(y=nonzero), NUMBERS, floating),
    OpCase("neg", tf.negative, np.negative, unary_samples(), NUMBERS),
    OpCase("pow", tf.pow, np.power, binary_samples(x=positive)),
    OpCase("pow_scalar", pow_scalar, np_pow_scalar,
           (S(A(3, 4), exponent=3), S(A(2, 3, layout="T"), exponent=2),
            S(A(3, 4, domain=positive), exponent=-1.5)), op="pow"),
    OpCase("square", tf.square, np.square, unary_samples(), NUMBERS),
    OpCase("sqrt", tf.sqrt, np.sqrt, unary_samples(positive), NUMBERS, floating),
    OpCase("exp", tf.exp, np.exp, unary_samples(), HALF_TOO, floating),
    OpCase("log", tf.log, np.log, unary_samples(positive), NUMBERS, floating),
    OpCase("sin", tf.sin, np.sin, unary_samples(), NUMBERS, floating),
    OpCase("cos", tf.cos, np.cos, unary_samples(), NUMBERS, floating),
    OpCase("tanh", tf.tanh, np.tanh, unary_samples(), NUMBERS, floating),
    OpCase("sigmoid", tf.sigmoid, np_sigmoid, unary_samples() + (S(A(4, 5, domain=wide)),),
           NUMBERS, floating),
    OpCase("relu", tf.relu, np_relu, unary_samples(nonzero), NUMBERS),
    OpCase("abs", tf.abs, np.abs, unary_samples(nonzero), NUMBERS),
    OpCase("sign", tf.sign, np.sign, unary_samples(small_ints), NUMBERS, grad=False),
    OpCase("floor", tf.floor, np.floor, unary_samples(), NUMBERS, grad=False),
    OpCase("ceil", tf.ceil, np.ceil, unary_samples(), NUMBERS, grad=False),
    OpCase("round", tf.round, np.round,
           unary_samples() + (S(A(6, domain=half_points)),), NUMBERS, grad=False),
    OpCase("log1p", tf.log1p, np.log1p, unary_samples(positive) + (S(A(4, domain=tiny)),),
           NUMBERS, floating),
    OpCase("expm1", tf.expm1, np.expm1, unary_samples() + (S(A(4, domain=tiny)),), NUMBERS,
           floating),
    OpCase("atan2", tf.atan2, np.arctan2, binary_samples(nonzero, nonzero), NUMBERS, floating),
    OpCase("remainder", tf.remainder, np.mod, binary_samples(off_grid, nonzero), NUMBERS),
    OpCase("floor_divide", tf.floor_divide, np.floor_divide,
           binary_samples(off_grid, nonzero), NUMBERS, grad=False),
    OpCase("logical_and", tf.logical_and, np.logical_and, binary_samples(small_ints, small_ints),
           NUMBERS + (tf.bool,), boolean, grad=False),
    OpCase("logical_or", tf.logical_or, np.logical_or, binary_samples(small_ints, small_ints),
           NUMBERS + (tf.bool,), boolean, grad=False),
    OpCase("logical_xor", tf.logical_xor, np.logical_xor, binary_samples(small_ints, small_ints),
           NUMBERS + (tf.bool,), boolean, grad=False),
    OpCase("maximum", tf.maximum, np.maximum, binary_samples(even_grid, odd_grid), NUMBERS),
    OpCase("minimum", tf.minimum, np.minimum, binary_samples(even_grid, odd_grid), NUMBERS),
    OpCase("where", tf.where, np.where,
           (S(Cond(3, 4), A(3, 4), A(3, 4)),
            S(Cond(3, 1), A(4), A()),
            S(Cond(2, 1, 4), A(3, 1), A(4)),
            S(Cond(4), A(3, 4, layout="T"), A(3, 4, layout="step")),
            S(Cond(), A(2, 3), A(3)),
            S(Cond(0, 1), A(4), A(4))), NUMBERS),
] + [
    OpCase(name, getattr(tf, name), getattr(np, name), COMPARE_SAMPLES, NUMBERS + (tf.bool,),
           boolean, grad=False)
    for name in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal")
] + [
    OpCase("logical_not", tf.logical_not, np.logical_not,
           (S(A(3, 4)), S(A(2, 3, domain=small_ints, layout="T")), S(A())),
           (tf.bool, tf.float32, tf.int32), boolean, grad=False),
    OpCase("cast", cast, np_cast,
           (S(A(3, 4), dtype=tf.int32),
            S(A(3, 4, layout="T"), dtype=tf.float64),
            S(A(2, 3, domain=small_ints), dtype=tf.bool),
            S(A(5, layout="step"), dtype=tf.float32)),
           (tf.float32, tf.float64, tf.int32, tf.bool), dtype_kwarg, grad=False),
]

REDUCE = [
    OpCase("sum", tf.reduce_sum, np.sum, reduce_samples(), NUMBERS + (tf.bool,), summed),
    OpCase("max", tf.reduce_max, np.max, reduce_samples(distinct), NUMBERS),
    OpCase("min", tf.reduce_min, np.min, reduce_samples(distinct), NUMBERS),
    OpCase("reduce_mean", tf.reduce_mean, np.mean, reduce_samples(), HALF_TOO, floating,
           sugar=True),
    OpCase("count", count, np_count,
           (S(A(3, 4)), S(A(2, 3, 4), axis=1), S(A(2, 3, 4), axis=(0, 2))), NUMBERS,
           grad=False),
    OpCase("cumsum", tf.cumsum, np_cumsum,
           (S(A(3, 4)), S(A(3, 4), axis=1), S(A(2, 3, 4), axis=-1, reverse=True),
            S(A(3, 4, layout="T"), axis=0, reverse=True), S(A(5, layout="step")),
            S(A(0, 3), axis=1)), NUMBERS + (tf.bool,), summed, op="cumsum"),
    OpCase("argsort", tf.argsort, np_argsort,
           (S(A(3, 4, domain=small_ints)), S(A(3, 4, domain=small_ints), axis=0),
            S(A(2, 3, 4, domain=small_ints), descending=True),
            S(A(3, 4, domain=small_ints, layout="T"), axis=0, descending=True),
            S(A(5, domain=small_ints, layout="step"))), NUMBERS + (tf.bool,), int64,
           grad=False),
    OpCase("argmax", tf.argmax, np_argmax,
           (S(A(3, 4, domain=distinct)), S(A(3, 4, domain=distinct), axis=0),
            S(A(2, 3, 4, domain=distinct), axis=-1),
            S(A(3, 4, domain=distinct, layout="T"), axis=1)), NUMBERS, int64, grad=False),
    OpCase("argmin", tf.argmin, np_argmin,
           (S(A(3, 4, domain=distinct)), S(A(3, 4, domain=distinct), axis=0),
            S(A(2, 3, 4, domain=distinct), axis=1),
            S(A(3, 4, domain=distinct, layout="step"), axis=-1)), NUMBERS, int64, grad=False),
]

def einsum(*xs, equation):
    return tf.einsum(equation, *xs)


def np_einsum(*xs, equation):
    return np.einsum(equation, *xs)


LINALG = [
    OpCase("einsum", einsum, np_einsum,
           (S(A(2, 3, 4), A(2, 4, 5), equation="bij,bjk->bik"),
            S(A(3, 4), A(4, 5), equation="ij,jk"),            # implicit output
            S(A(2, 3, 4, layout="T"), equation="ijk->j"),      # summed within one operand
            S(A(3), A(4), equation="i,j->ij"),
            S(A(3, 4), A(4), A(4, 2), equation="ij,j,jk->ik")), NUMBERS),
    OpCase("tril", tf.tril, lambda x, diagonal=0: np.tril(x, diagonal),
           (S(A(4, 4)), S(A(3, 5), diagonal=1), S(A(2, 4, 3), diagonal=-1),
            S(A(4, 4, layout="T")), S(A(0, 3))), NUMBERS),
    OpCase("triu", tf.triu, lambda x, diagonal=0: np.triu(x, diagonal),
           (S(A(4, 4)), S(A(3, 5), diagonal=-2), S(A(2, 4, 3, layout="T"), diagonal=1),
            S(A(5, 2, layout="step"))), NUMBERS),
    OpCase("matmul", matmul, np_matmul,
           (S(A(3, 4), A(4, 5)),
            S(A(2, 3, 4), A(2, 4, 5)),
            S(A(2, 3, 4), A(4, 5)),
            S(A(3, 4), A(2, 4, 5)),
            S(A(5, 1, 3, 4), A(2, 4, 6)),
            S(A(4, 3), A(4, 5), transpose_a=True),
            S(A(3, 4), A(5, 4), transpose_b=True),
            S(A(2, 4, 3), A(5, 4), transpose_a=True, transpose_b=True),
            S(A(3, 4, layout="T"), A(4, 5, layout="step")),
            S(A(3, 0), A(0, 4)),
            S(A(0, 3), A(2, 3, 2))), HALF_TOO),
]

SHAPE = [
    OpCase("transpose", transpose, np_transpose,
           (S(A(3, 4)), S(A(2, 3, 4)), S(A(2, 3, 4), perm=(1, 0, 2)),
            S(A(2, 3, 4), perm=(2, 0, 1)), S(A(3, 4, layout="T"), perm=(1, 0)),
            S(A(0, 3)), S(A(5)), S(A())), NUMBERS),
    OpCase("reshape", tf.reshape, np_reshape,
           (S(A(3, 4), shape=(12,)), S(A(2, 3, 4), shape=(4, -1)),
            S(A(3, 4, layout="T"), shape=(2, 6)), S(A(2, 3, 4), shape=(-1,)),
            S(A(6, layout="step"), shape=(1, 2, 3, 1)), S(A(), shape=(1, 1)),
            S(A(0, 4), shape=(-1, 2))), NUMBERS),
    OpCase("expand_dims", tf.expand_dims, np.expand_dims,
           (S(A(3, 4), axis=0), S(A(3, 4), axis=-1), S(A(3, 4, layout="T"), axis=1),
            S(A(), axis=0)), NUMBERS),
    OpCase("squeeze", tf.squeeze, np_squeeze,
           (S(A(1, 3, 1, 4), axis=0), S(A(1, 3, 1, 4), axis=(0, 2)),
            S(A(1, 3, 1, 4), axis=-2), S(A(1, 3, 1, 4, layout="T"), axis=(0, 2)),
            S(A(1, 1), axis=(0, 1))), NUMBERS),
    OpCase("squeeze_all", tf.squeeze, np_squeeze, (S(A(1, 3, 1, 4)), S(A(1, 1))), NUMBERS,
           dynamic=False, op="squeeze"),  # squeeze() without axis needs known dims
    OpCase("concat", concat, np_concat,
           (S(A(2, 3), A(4, 3), axis=0), S(A(3, 2), A(3, 1), A(3, 4), axis=1),
            S(A(2, 3, 4), A(2, 3, 2), axis=-1),
            S(A(2, 3, layout="T"), A(1, 3, layout="step"), axis=0),
            S(A(0, 3), A(2, 3), axis=0)), NUMBERS),
    OpCase("concat_piece", concat_piece, np_concat_piece,
           (S(A(6, 3), Ref(2, 3), Ref(4, 3), index=1, axis=0),
            S(A(3, 7), Ref(3, 2), Ref(3, 1), Ref(3, 4), index=0, axis=1),
            S(A(2, 3, 6, layout="T"), Ref(2, 3, 4), Ref(2, 3, 2), index=1, axis=-1),
            S(A(2, 3), Ref(0, 3), Ref(2, 3), index=0, axis=0)), NUMBERS),
    OpCase("stack", stack, np_stack,
           (S(A(3, 4), A(3, 4)), S(A(3, 4), A(3, 4), A(3, 4), axis=-1),
            S(A(2), A(2), axis=1), S(A(3, 4, layout="T"), A(3, 4, layout="step"), axis=1)),
           NUMBERS, sugar=True),
    OpCase("split", split, np_split,
           (S(A(6, 4), num_or_size_splits=3), S(A(3, 5), num_or_size_splits=[1, 3, 1], axis=1),
            S(A(2, 4, 3, layout="T"), num_or_size_splits=2, axis=-2),
            S(A(2, 5), num_or_size_splits=[2, -1], axis=1)), NUMBERS,
           dynamic=False, sugar=True),  # split needs the static size of the split axis
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
           NUMBERS),
    OpCase("getitem_mask", index_into, index_into,
           (S(A(3, 4), index=np.array([True, False, True])),
            S(A(2, 3), index=np.array([[True, False, True], [False, False, True]]))),
           NUMBERS, dynamic=False, op="getitem"),  # a mask must match dims known statically
    OpCase("getitem_grad", getitem_grad, np_getitem_grad,
           (S(A(2, 4), Ref(5, 4), index=(slice(1, 4, 2),)),
            S(A(4), Ref(5, 4), index=(-1,)),
            S(A(3, 4), Ref(5, 4), index=(np.array([1, 1, 3]),)),
            S(A(4, 3, layout="T"), Ref(4, 5), index=(slice(None), np.array([0, 2, 0]))),
            S(A(3), Ref(4, 5), index=(np.array([0, 0, 3]), np.array([1, 1, 2])))), NUMBERS),
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

INDEXING = [
    OpCase("take", take, np_take,
           (S(A(5, 4), Ids(1, 3, 1, 0)),
            S(A(3, 4), Ids(3, 0, 0, 2, shape=(2, 2)), axis=1),
            S(A(2, 3, 4, layout="T"), Ids(2, shape=()), axis=-1),
            S(A(5, 4, layout="step"), Ids(4, 4, 0, 1, 2, 3, shape=(2, 3), dtype=tf.int32))),
           NUMBERS),
    OpCase("take_grad", take_grad, np_take_grad,
           (S(A(4, 4), Ids(1, 3, 1, 0), Ref(5, 4)),
            S(A(3, 2, 2, layout="T"), Ids(3, 0, 0, 2, shape=(2, 2)), Ref(3, 4), axis=1)),
           NUMBERS),
    OpCase("gather", gather, np_gather,
           (S(A(3, 4), Ids(0, 3, 3, 1, 2, 2, shape=(3, 2)), dim=1),
            S(A(3, 4), Ids(2, 0, 1, 2, 0, 0, 1, 1, shape=(2, 4)), dim=0),
            S(A(2, 3, 4, layout="T"), Ids(3, 0, 1, 1, 2, 3, 0, 0, 2, 1, 3, 2, shape=(2, 3, 2)),
              dim=-1),
            S(A(3, 4), Ids(3, 3, 0, 1, shape=(2, 2)), dim=1)),
           NUMBERS),
    OpCase("gather_grad", gather_grad, np_gather_grad,
           (S(A(3, 2), Ids(0, 3, 3, 1, 2, 2, shape=(3, 2)), Ref(3, 4), dim=1),
            S(A(2, 4, layout="step"), Ids(2, 0, 1, 2, 2, 0, 1, 1, shape=(2, 4)), Ref(3, 4),
              dim=0)),
           NUMBERS),
    OpCase("setitem", setitem, np_setitem,
           (S(A(5, 4), A(4), index=1),
            S(A(5, 4), A(), index=(slice(1, 3),)),
            S(A(5, 4), A(3, 4), index=np.array([0, 2, 4])),
            S(A(4, 5), A(4, 1), index=(slice(None), slice(1, 3))),
            S(A(4, 3, layout="T"), A(4, layout="step"), index=(Ellipsis, 0)),
            S(A(5, 4, layout="step"), A(3, 4), index=slice(None, None, -2))),
           NUMBERS),
]

NN = [
    OpCase("softmax", tf.softmax, np_softmax, softmax_samples()),
    OpCase("log_softmax", tf.log_softmax, np_log_softmax, softmax_samples()),
    OpCase("softmax_cross_entropy", softmax_cross_entropy, np_softmax_cross_entropy,
           (S(A(3, 5, domain=simplex), A(3, 5)),
            S(A(4, domain=simplex), A(4)),
            S(A(2, 3, 4), A(2, 3, 4)),
            S(A(3, 5, domain=simplex, layout="T"), A(3, 5, domain=wide, layout="step")))),
    OpCase("sparse_softmax_cross_entropy", sparse_softmax_cross_entropy,
           np_sparse_softmax_cross_entropy,
           (S(Labels(3), A(3, 5)),
            S(Labels(2, 3, classes=4, dtype=tf.int32), A(2, 3, 4)),
            S(Labels(), A(5)),
            S(Labels(4), A(4, 5, domain=wide, layout="T")))),
]

CREATION = [
    OpCase("one_hot", one_hot, np_one_hot,
           (S(Labels(4, dtype=None), depth=5),
            S(Labels(2, 3, dtype=None), depth=5, dtype=tf.float64),
            S(Labels(dtype=None), depth=5, dtype=tf.int32),
            S(Labels(2, 3, dtype=None), Ref(4, 5), dtype=tf.float64)),
           (tf.int32, tf.int64), dtype_kwarg_or_float32, grad=False),
    OpCase("zeros_like", zeros_like, np_zeros_like,
           (S(A(3, 4)), S(A(2, 3), dtype=tf.int32), S(A(5, layout="step"), dtype=tf.float64)),
           NUMBERS + (tf.bool,), dtype_kwarg, grad=False),
    OpCase("ones_like", ones_like, np_ones_like,
           (S(A(3, 4)), S(A(2, 3), dtype=tf.int32), S(A(5, layout="step"), dtype=tf.float64)),
           NUMBERS + (tf.bool,), dtype_kwarg, grad=False),
]

# ---- ops and sugar the PyTorch-style front end added ------------------------------------

np_erf = np.vectorize(math.erf, otypes=[np.float64])


def expand(x, shape):
    return tf.ops.expand(x, shape)


def np_expand(x, shape):
    return np.broadcast_to(x, shape)


def pad(x, pads, value=0):
    return tf.ops.pad(x, pads, value)


def np_pad(x, pads, value=0):
    return np.pad(x, pads, constant_values=value)


def var(x, axis=None, correction=1, keepdims=False):
    return tf.ops.var(x, axis, correction, keepdims)


def np_var(x, axis=None, correction=1, keepdims=False):
    return np.var(x, axis=axis, ddof=correction, keepdims=keepdims)


def logsumexp(x, axis, keepdims=False):
    return tf.ops.logsumexp(x, axis, keepdims)


def np_logsumexp(x, axis, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis)


def clamp(x, min=None, max=None):  # noqa: A002
    return tf.ops.clamp(x, min, max)


def np_clamp(x, min=None, max=None):  # noqa: A002
    return np.clip(x, min, max)


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


def mm(a, b):
    return tf.mm(a, b)


TORCH = [
    OpCase("erf", tf.ops.erf, np_erf, unary_samples(), FLOATS, floating),
    OpCase("expand", expand, np_expand,
           (S(A(3, 1), shape=(2, 3, 4)), S(A(4), shape=(3, 4)), S(A(), shape=(2, 2)),
            S(A(2, 3, layout="T"), shape=(4, 2, 3))), NUMBERS),
    OpCase("copy", tf.ops.copy, np.array, unary_samples(), NUMBERS),
    OpCase("pad", pad, np_pad,
           (S(A(3, 4), pads=((1, 0), (2, 1))),
            S(A(2, 3, 4, layout="T"), pads=((0, 0), (1, 1), (0, 2)), value=2),
            S(A(5, layout="step"), pads=((3, 3),)), S(A(0, 2), pads=((1, 1), (0, 0)))),
           NUMBERS),
    OpCase("var", var, np_var,
           (S(A(3, 4)), S(A(3, 4), axis=1), S(A(2, 3, 4), axis=(0, 2), keepdims=True),
            S(A(3, 4, layout="T"), axis=0, correction=0)), FLOATS, sugar=True),
    OpCase("logsumexp", logsumexp, np_logsumexp,
           (S(A(3, 4), axis=1), S(A(2, 3, 4, domain=wide), axis=(0, 2), keepdims=True),
            S(A(3, 4, layout="step"), axis=-1)), FLOATS, sugar=True),
    OpCase("clamp", clamp, np_clamp,
           (S(A(3, 4), min=-0.5, max=0.5), S(A(3, 4, layout="T"), min=0.0),
            S(A(5), max=1.0)), FLOATS, sugar=True),
    OpCase("flatten", flatten, np_flatten,
           (S(A(2, 3, 4), start_dim=1), S(A(2, 3, 4)),
            S(A(2, 3, 4, 5, layout="T"), start_dim=1, end_dim=2)), NUMBERS,
           dynamic=False, sugar=True),  # merging dims needs their static sizes
    OpCase("chunk", chunk, np_chunk,
           (S(A(7, 2), chunks=3), S(A(2, 6), chunks=2, dim=1)), NUMBERS, dynamic=False,
           sugar=True),
    OpCase("mm", mm, np.matmul, (S(A(3, 4), A(4, 5)), S(A(4, 3, layout="T"), A(3, 2))),
           FLOATS, dynamic=False, sugar=True),  # mm checks the rank statically
]

# ==== CONV: convolution and pooling (tinyflow/ops/conv.py, tinyflow/ops/pool.py) ==========
# References loop over output pixels in float64 — slow, obvious, and unlike the kernels'
# strided taps. Samples: stride, padding (also asymmetric and TF's "same"), dilation, groups
# (also depthwise), non-square kernels, ceil_mode, non-contiguous inputs, batch 1 and 3.

def _np_pads(padding, hw, khw, stride, dilation):
    """((top, bottom), (left, right)): ints, pairs, pairs of pairs, 'valid' or TF's 'same'."""
    if padding == "valid":
        return ((0, 0), (0, 0))
    if padding == "same":
        pads = []
        for size, k, s, d in zip(hw, khw, stride, dilation):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)
    padding = (padding, padding) if isinstance(padding, int) else padding
    return tuple((p, p) if isinstance(p, int) else tuple(p) for p in padding)


def _np_pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _np_conv_geometry(x_shape, khw, stride, padding, dilation):
    stride, dilation = _np_pair(stride), _np_pair(dilation)
    pads = _np_pads(padding, x_shape[2:], khw, stride, dilation)
    out = tuple((size + a + b - d * (k - 1) - 1) // s + 1
                for size, (a, b), k, s, d in zip(x_shape[2:], pads, khw, stride, dilation))
    return stride, dilation, pads, out


def _np_windows(khw, stride, dilation, out):
    """(oh, ow, index of the padded input's window) for every output pixel."""
    for oh in range(out[0]):
        for ow in range(out[1]):
            rows = slice(oh * stride[0], oh * stride[0] + dilation[0] * (khw[0] - 1) + 1,
                         dilation[0])
            cols = slice(ow * stride[1], ow * stride[1] + dilation[1] * (khw[1] - 1) + 1,
                         dilation[1])
            yield oh, ow, (slice(None), slice(None), rows, cols)


def np_conv2d(x, w, stride=1, padding=0, dilation=1, groups=1):
    stride, dilation, pads, out = _np_conv_geometry(x.shape, w.shape[2:], stride, padding,
                                                    dilation)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0)) + pads)
    o, cg = w.shape[:2]
    og = o // groups
    y = np.zeros((x.shape[0], o) + out)
    for oh, ow, index in _np_windows(w.shape[2:], stride, dilation, out):
        patch = xp[index]
        for g in range(groups):
            y[:, g * og:(g + 1) * og, oh, ow] = np.einsum(
                "nchw,ochw->no", patch[:, g * cg:(g + 1) * cg], w[g * og:(g + 1) * og])
    return y.astype(np.result_type(x, w))


def np_conv2d_grad_input(g, w, ref, stride=1, padding=0, dilation=1, groups=1):
    stride, dilation, pads, out = _np_conv_geometry(ref.shape, w.shape[2:], stride, padding,
                                                    dilation)
    (top, bottom), (left, right) = pads
    n, c, h, wd = ref.shape
    gx = np.zeros((n, c, h + top + bottom, wd + left + right))
    o, cg = w.shape[:2]
    og = o // groups
    for oh, ow, (_, _, rows, cols) in _np_windows(w.shape[2:], stride, dilation, out):
        for k in range(groups):
            gx[:, k * cg:(k + 1) * cg, rows, cols] += np.einsum(
                "no,ochw->nchw", g[:, k * og:(k + 1) * og, oh, ow], w[k * og:(k + 1) * og])
    return gx[:, :, top:top + h, left:left + wd].astype(np.result_type(g, w))


def np_conv2d_grad_weight(x, g, ref, stride=1, padding=0, dilation=1, groups=1):
    stride, dilation, pads, out = _np_conv_geometry(x.shape, ref.shape[2:], stride, padding,
                                                    dilation)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0)) + pads)
    o, cg = ref.shape[:2]
    og = o // groups
    gw = np.zeros(ref.shape)
    for oh, ow, index in _np_windows(ref.shape[2:], stride, dilation, out):
        patch = xp[index]
        for k in range(groups):
            gw[k * og:(k + 1) * og] += np.einsum(
                "no,nchw->ochw", g[:, k * og:(k + 1) * og, oh, ow],
                patch[:, k * cg:(k + 1) * cg])
    return gw.astype(np.result_type(x, g))


def conv2d_grad_input(g, w, ref, **attrs):
    return apply(conv_ops.Conv2dGradInput(**conv_ops.conv_attrs(**attrs)), g, w, ref)


def conv2d_grad_weight(x, g, ref, **attrs):
    return apply(conv_ops.Conv2dGradWeight(**conv_ops.conv_attrs(**attrs)), x, g, ref)


def _np_pool_windows(shape, kernel_size, stride, padding, dilation, ceil_mode):
    """(oh, ow, rows, cols, pads) with rows/cols the window's positions in the unpadded
    input (negative or past the end where it covers padding), PyTorch's output size."""
    khw = _np_pair(kernel_size)
    stride = khw if stride is None else _np_pair(stride)
    dilation = _np_pair(dilation)
    pads = _np_pads(padding, shape[2:], khw, stride, dilation)
    out = []
    for size, (a, b), k, s, d in zip(shape[2:], pads, khw, stride, dilation):
        span = size + a + b - d * (k - 1) - 1
        n = (math.ceil(span / s) if ceil_mode else span // s) + 1
        out.append(n - 1 if ceil_mode and (n - 1) * s >= size + a else n)
    for oh in range(out[0]):
        for ow in range(out[1]):
            rows = oh * stride[0] - pads[0][0] + dilation[0] * np.arange(khw[0])
            cols = ow * stride[1] - pads[1][0] + dilation[1] * np.arange(khw[1])
            yield oh, ow, rows, cols, pads, tuple(out)


def _np_argmax(x, rows, cols):
    """Per (n, c): the input position (row, col) of the window's first maximum."""
    r, c = np.meshgrid(rows, cols, indexing="ij")
    inside = (r >= 0) & (r < x.shape[2]) & (c >= 0) & (c < x.shape[3])
    r, c = r[inside], c[inside]
    best = np.argmax(x[:, :, r, c], axis=-1)
    return r[best], c[best]


def _np_max_routes(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """(oh, ow, argmax rows, argmax cols, out size) for each output pixel."""
    for oh, ow, rows, cols, _, out in _np_pool_windows(x.shape, kernel_size, stride, padding,
                                                        dilation, ceil_mode):
        yield (oh, ow) + _np_argmax(x, rows, cols) + (out,)


def np_max_pool2d(x, **kw):
    routes = list(_np_max_routes(x, **kw))
    y = np.zeros(x.shape[:2] + routes[0][-1], x.dtype)
    n, c = np.indices(x.shape[:2])
    for oh, ow, r, col, _ in routes:
        y[:, :, oh, ow] = x[n, c, r, col]
    return y


def np_max_pool2d_select(t, x, **kw):
    routes = list(_np_max_routes(x, **kw))
    y = np.zeros(x.shape[:2] + routes[0][-1], t.dtype)
    n, c = np.indices(x.shape[:2])
    for oh, ow, r, col, _ in routes:
        y[:, :, oh, ow] = t[n, c, r, col]
    return y


def np_max_pool2d_grad(g, x, **kw):
    gx = np.zeros(x.shape, g.dtype)
    n, c = np.indices(x.shape[:2])
    for oh, ow, r, col, _ in _np_max_routes(x, **kw):
        np.add.at(gx, (n, c, r, col), g[:, :, oh, ow])
    return gx


def _np_avg_windows(shape, kernel_size, stride=None, padding=0, ceil_mode=False,
                    count_include_pad=True):
    """(oh, ow, rows, cols inside the input, divisor, out size), PyTorch's divisor rule."""
    for oh, ow, rows, cols, pads, out in _np_pool_windows(shape, kernel_size, stride,
                                                           padding, 1, ceil_mode):
        limits = [shape[2] + pads[0][1], shape[3] + pads[1][1]]
        covered = [np.sum(rows < limits[0]), np.sum(cols < limits[1])]
        rows = rows[(rows >= 0) & (rows < shape[2])]
        cols = cols[(cols >= 0) & (cols < shape[3])]
        divisor = covered[0] * covered[1] if count_include_pad else rows.size * cols.size
        yield oh, ow, rows, cols, divisor, out


def np_avg_pool2d(x, **kw):
    windows = list(_np_avg_windows(x.shape, **kw))
    y = np.zeros(x.shape[:2] + windows[0][-1])
    for oh, ow, rows, cols, divisor, _ in windows:
        y[:, :, oh, ow] = x[:, :, rows][:, :, :, cols].astype(np.float64).sum((2, 3)) / divisor
    return y.astype(x.dtype)


def np_avg_pool2d_grad(g, ref, **kw):
    gx = np.zeros(ref.shape)
    for oh, ow, rows, cols, divisor, _ in _np_avg_windows(ref.shape, **kw):
        gx[:, :, rows[:, None], cols[None, :]] += g[:, :, oh, ow, None, None] / divisor
    return gx.astype(g.dtype)


def max_pool2d_grad(g, x, **kw):
    return apply(pool_ops.MaxPool2dGrad(**_pool_attrs(**kw)), g, x)


def max_pool2d_select(t, x, **kw):
    return apply(pool_ops.MaxPool2dSelect(**_pool_attrs(**kw)), t, x)


def avg_pool2d_grad(g, ref, count_include_pad=True, **kw):
    op = pool_ops.AvgPool2dGrad(count_include_pad=count_include_pad, **_pool_attrs(**kw))
    return apply(op, g, ref)


def _pool_attrs(kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    return pool_ops.pool_attrs(kernel_size, stride, padding, dilation, ceil_mode)


def np_adaptive_avg_pool2d(x, output_size):
    size = (output_size,) * 2 if isinstance(output_size, int) else output_size
    size = [d if o is None else o for o, d in zip(size, x.shape[2:])]
    y = np.zeros(x.shape[:2] + tuple(size))
    for i in range(size[0]):
        r0, r1 = (i * x.shape[2]) // size[0], math.ceil((i + 1) * x.shape[2] / size[0])
        for j in range(size[1]):
            c0, c1 = (j * x.shape[3]) // size[1], math.ceil((j + 1) * x.shape[3] / size[1])
            y[:, :, i, j] = x[:, :, r0:r1, c0:c1].astype(np.float64).mean((2, 3))
    return y.astype(x.dtype)


def Dist(*shape, layout="C", diff=True) -> Arg:
    """Distinct values: no ties for max pooling's argmax."""
    return Arg(tuple(shape), distinct, layout, None, diff)


CONV = [
    OpCase("conv2d", tf.ops.conv2d, np_conv2d,
           (S(A(2, 4, 6, 5), A(6, 4, 3, 3)),
            S(A(1, 4, 6, 5), A(4, 4, 3, 2), stride=2, padding=1),
            S(A(3, 2, 6, 5), A(3, 2, 2, 3), dilation=2, padding=(2, 1)),
            S(A(2, 4, 6, 5), A(6, 2, 3, 3), groups=2, padding=1),
            S(A(2, 4, 5, 5, layout="T"), A(8, 1, 3, 3), groups=4, padding="same"),
            S(A(2, 3, 5, 6, layout="step"), A(4, 3, 2, 2), stride=(1, 2),
              padding=((1, 0), (0, 2))),
            S(A(2, 4, 6, 5), A(4, 4, 3, 2, layout="T"), padding="same", dilation=2)),
           atol=1e-5),  # float32 sums of up to 36 products of values in [-2, 2]
    OpCase("conv2d_grad_input", conv2d_grad_input, np_conv2d_grad_input,
           (S(A(1, 4, 3, 3), A(4, 4, 3, 2), Ref(1, 4, 6, 5), stride=2, padding=1),
            S(A(2, 6, 4, 3, layout="T"), A(6, 2, 3, 3), Ref(2, 4, 6, 5), groups=2),
            S(A(3, 4, 3, 3, layout="step"), A(4, 1, 3, 3), Ref(3, 4, 5, 5), groups=4,
              stride=2, padding=1),
            S(A(2, 2, 6, 3), A(2, 3, 2, 2), Ref(2, 3, 6, 5), dilation=2, padding=(1, 0)),
            S(A(2, 3, 2, 2), A(3, 2, 3, 2), Ref(2, 2, 6, 5), stride=2)),
           atol=1e-5),
    OpCase("conv2d_grad_weight", conv2d_grad_weight, np_conv2d_grad_weight,
           (S(A(1, 4, 6, 5), A(1, 4, 3, 3), Ref(4, 4, 3, 2), stride=2, padding=1),
            S(A(2, 4, 6, 5, layout="T"), A(2, 6, 4, 3), Ref(6, 2, 3, 3), groups=2),
            S(A(3, 4, 5, 5), A(3, 4, 3, 3, layout="step"), Ref(4, 1, 3, 3), groups=4,
              stride=2, padding=1),
            S(A(2, 3, 6, 5), A(2, 2, 6, 3), Ref(2, 3, 2, 2), dilation=2, padding=(1, 0)),
            S(A(2, 2, 6, 5), A(2, 3, 2, 2), Ref(3, 2, 3, 2), stride=2)),
           atol=1e-5),
    OpCase("max_pool2d", tf.ops.max_pool2d, np_max_pool2d,
           (S(Dist(2, 3, 6, 5), kernel_size=2),
            S(Dist(1, 2, 7, 6), kernel_size=3, stride=2, padding=1),
            S(Dist(3, 2, 5, 6, layout="T"), kernel_size=(3, 2), stride=(2, 1),
              ceil_mode=True),
            S(Dist(2, 2, 7, 6), kernel_size=2, stride=1, dilation=2),
            S(Dist(2, 2, 6, 6, layout="step"), kernel_size=3, stride=2, padding=1,
              ceil_mode=True),
            S(Dist(2, 2, 5, 5), kernel_size=3, stride=2, padding="same"))),
    OpCase("max_pool2d_grad", max_pool2d_grad, np_max_pool2d_grad,
           (S(A(2, 3, 3, 2), Dist(2, 3, 6, 5, diff=False), kernel_size=2),
            S(A(2, 2, 5, 4), Dist(2, 2, 7, 6, diff=False), kernel_size=2, stride=1,
              dilation=2),
            S(A(1, 2, 4, 4, layout="T"), Dist(1, 2, 6, 6, diff=False), kernel_size=3,
              stride=2, padding=1, ceil_mode=True),
            S(A(2, 2, 3, 3), Dist(2, 2, 5, 5, diff=False), kernel_size=3, stride=2,
              padding="same"))),
    OpCase("max_pool2d_select", max_pool2d_select, np_max_pool2d_select,
           (S(A(2, 3, 6, 5), Dist(2, 3, 6, 5, diff=False), kernel_size=2),
            S(A(1, 2, 7, 6, layout="step"), Dist(1, 2, 7, 6, diff=False), kernel_size=3,
              stride=2, padding=1),
            S(A(2, 2, 5, 5), Dist(2, 2, 5, 5, layout="T", diff=False), kernel_size=3,
              stride=2, padding="same"))),
    OpCase("avg_pool2d", tf.ops.avg_pool2d, np_avg_pool2d,
           (S(A(2, 3, 6, 5), kernel_size=2),
            S(A(1, 2, 7, 6), kernel_size=3, stride=2, padding=1),
            S(A(3, 2, 5, 6, layout="T"), kernel_size=(3, 2), stride=(2, 1), padding=1,
              ceil_mode=True),
            S(A(2, 2, 6, 6, layout="step"), kernel_size=3, stride=2, padding=1,
              ceil_mode=True, count_include_pad=False),
            S(A(2, 2, 5, 5), kernel_size=3, stride=2, padding="same",
              count_include_pad=False))),
    OpCase("avg_pool2d_grad", avg_pool2d_grad, np_avg_pool2d_grad,
           (S(A(2, 3, 3, 2), Ref(2, 3, 6, 5), kernel_size=2),
            S(A(1, 2, 4, 3), Ref(1, 2, 7, 6), kernel_size=3, stride=2, padding=1),
            S(A(2, 2, 4, 4, layout="T"), Ref(2, 2, 6, 6), kernel_size=3, stride=2,
              padding=1, ceil_mode=True, count_include_pad=False),
            S(A(2, 2, 3, 3), Ref(2, 2, 5, 5), kernel_size=3, stride=2, padding="same",
              count_include_pad=False))),
    OpCase("adaptive_avg_pool2d", tf.ops.adaptive_avg_pool2d, np_adaptive_avg_pool2d,
           (S(A(2, 3, 6, 4), output_size=(3, 2)),
            S(A(2, 3, 7, 5), output_size=(3, 4)),
            S(A(1, 2, 5, 6, layout="T"), output_size=(None, 4)),
            S(A(2, 2, 5, 5), output_size=1)),
           dynamic=False, sugar=True),  # the windows depend on the static spatial size
]

# ==== end of CONV ===========================================================================

# ==== RNN: the fused LSTM ===================================================================

def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_lstm(xw, h0, c0, w, hidden):
    """The textbook recurrence in float64, one step at a time."""
    h, c, rows = h0.astype(np.float64), c0.astype(np.float64), []
    for x_t in xw.astype(np.float64):
        pre = x_t + h @ w.astype(np.float64).T
        i, f, g, o = np.split(pre, 4, axis=-1)
        i, f, g, o = _np_sigmoid(i), _np_sigmoid(f), np.tanh(g), _np_sigmoid(o)
        c = f * c + i * g
        h = o * np.tanh(c)
        rows.append(np.stack([h, c, i, f, g, o, np.tanh(c)]))
    return np.stack(rows).astype(xw.dtype)


def np_lstm_grad(g, out, h0, c0, w, hidden):
    """Backpropagation through time written out per step from the packed states."""
    g, out, w = g.astype(np.float64), out.astype(np.float64), w.astype(np.float64)
    dh, dc = np.zeros(h0.shape), np.zeros(c0.shape)
    rows = []
    for t in reversed(range(out.shape[0])):
        _, c, i, f, gg, o, tanh_c = out[t]
        gh, gc, gi, gf, gg_, go, g_tanh_c = g[t]
        c_prev = out[t - 1][1] if t else c0
        dh = dh + gh
        dc = dc + gc + (dh * o + g_tanh_c) * (1 - tanh_c ** 2)
        d_pre = np.concatenate([(dc * gg + gi) * i * (1 - i), (dc * c_prev + gf) * f * (1 - f),
                                (dc * i + gg_) * (1 - gg ** 2),
                                (dh * tanh_c + go) * o * (1 - o)], -1)
        dc = dc * f
        rows.append(d_pre)
        dh = d_pre @ w
    last = np.zeros_like(rows[0])
    last[:, :dc.shape[1]] = dc
    return np.stack(rows[::-1] + [last]).astype(out.dtype)


def lstm_grad(g, out, h0, c0, w, hidden):
    return apply(rnn_ops.LstmGrad(hidden=hidden), g, out, h0, c0, w)


RNN = [
    OpCase("lstm", rnn_ops.lstm, np_lstm,
           (S(A(4, 2, 12), A(2, 3), A(2, 3), A(12, 3), hidden=3),
            S(A(1, 3, 8), A(3, 2, layout="T"), A(3, 2), A(8, 2, layout="step"), hidden=2),
            S(A(3, 2, 8, layout="step"), A(2, 2), A(2, 2, layout="step"), A(8, 2),
              hidden=2)),
           second_order=False,  # the fused backward has no rule of its own (as with cuDNN)
           dynamic=False,  # forward mode unrolls over a known number of steps (reverse mode
           atol=1e-5),     # with unknown sizes: test_nn's LSTM-in-a-graph test)
    OpCase("lstm_grad", lstm_grad, np_lstm_grad,
           (S(A(3, 7, 2, 3), A(3, 7, 2, 3, domain=positive), A(2, 3), A(2, 3), A(12, 3),
              hidden=3),
            S(A(2, 7, 2, 2, layout="step"), A(2, 7, 2, 2), A(2, 2, layout="T"), A(2, 2),
              A(8, 2), hidden=2)),
           grad=False, atol=1e-5),  # differentiating it again is refused (see ops/rnn.py)
]

# ==== FUSED: one-pass ops whose gradient ops differentiate their composition ==============

def np_gelu(x, approximate="none"):
    x = x.astype(np.float64)
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return x * 0.5 * (1 + np_erf(x / math.sqrt(2)))


def np_gelu_grad(g, x, approximate="none"):
    """g times the derivative of np_gelu, by hand (the gradient test checks it numerically)."""
    x = x.astype(np.float64)
    if approximate == "tanh":
        k = math.sqrt(2 / math.pi)
        t = np.tanh(k * (x + 0.044715 * x ** 3))
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t ** 2) * k * (1 + 3 * 0.044715 * x ** 2))
    return g * (0.5 * (1 + np_erf(x / math.sqrt(2))) + x * np.exp(-x ** 2 / 2)
                / math.sqrt(2 * math.pi))


def gelu_grad(g, x, approximate="none"):
    return apply(activation_ops.GeluGrad(approximate=approximate), g, x)


def np_normalize(x, axes, eps=1e-5):
    x = x.astype(np.float64)
    centered = x - x.mean(axes, keepdims=True)
    return centered / np.sqrt((centered ** 2).mean(axes, keepdims=True) + eps)


def np_normalize_grad(g, x, axes, eps=1e-5):
    """The textbook layer-norm backward: (g - mean(g) - y mean(g y)) / std."""
    g, x = g.astype(np.float64), x.astype(np.float64)
    y = np_normalize(x, axes, eps)
    std = np.sqrt(x.var(axes, keepdims=True) + eps)
    return (g - g.mean(axes, keepdims=True) - y * (g * y).mean(axes, keepdims=True)) / std


def normalize_grad(g, x, axes, eps=1e-5):
    return apply(normalization_ops.NormalizeGrad(axes=axes, eps=eps), g, x)


def np_relu_grad(g, x):
    return np.where(x > 0, g, 0).astype(np.result_type(g, x))


def np_affine(x, w, b):
    return x.astype(np.float64) @ w.T.astype(np.float64) + b


FUSED = [
    OpCase("relu_grad", tf.ops.relu_grad, np_relu_grad,
           # x only selects: its derivative is 0 wherever it exists
           (S(A(3, 4), A(3, 4, domain=nonzero, diff=False)),
            S(A(4), A(3, 4, domain=nonzero, diff=False)),
            S(A(2, 3, layout="T"), A(2, 3, domain=nonzero, layout="step", diff=False)))),
    OpCase("affine", tf.ops.affine, np_affine,
           (S(A(3, 4), A(5, 4), A(5)), S(A(4, 3, layout="T"), A(2, 3, layout="step"), A(2)))),
    OpCase("gelu", tf.ops.gelu, np_gelu,
           unary_samples() + (S(A(3, 4), approximate="tanh"), S(A(6, domain=wide)))),
    OpCase("gelu_grad", gelu_grad, np_gelu_grad,
           (S(A(3, 4), A(3, 4)), S(A(2, 3, layout="T"), A(2, 3, layout="step")),
            S(A(3, 4), A(3, 4), approximate="tanh"), S(A(4), A(3, 4))),
           atol=2e-6),  # float32 erf and exp are approximations (see _fast_math)
    OpCase("normalize", tf.ops.normalize, np_normalize,
           (S(A(3, 5), axes=(1,)), S(A(2, 3, 4, layout="T"), axes=(1, 2), eps=1e-3),
            S(A(4, 3, layout="step"), axes=(0,)))),
    OpCase("normalize_grad", normalize_grad, np_normalize_grad,
           (S(A(3, 5), A(3, 5), axes=(1,)),
            S(A(2, 3, 4, layout="step"), A(2, 3, 4, layout="T"), axes=(1, 2), eps=1e-3))),
]

TABLE: list[OpCase] = (MATH + REDUCE + LINALG + SHAPE + INDEXING + NN + CREATION + TORCH + CONV
                       + RNN + FUSED)

# Registered ops that the table cannot drive, and the test in test_ops.py that covers each.
COVERED_ELSEWHERE = {
    "multinomial": "test_multinomial_draws_in_proportion_to_the_weights",
    "random_normal": "test_random_ops_shape_dtype_statistics",
    "random_uniform": "test_random_ops_shape_dtype_statistics",
    "assign": "test_eager_assign_writes_in_place",
    "no_op": "test_group_runs_its_inputs",
    "random_mask": "test_random_mask_keeps_the_right_share_and_redraws",
}
