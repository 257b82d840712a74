"""Ops that make tensors from shapes: zeros/ones like another tensor, one-hot, random."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..core import dtypes
from ..core.graph import get_default_graph
from ..core.op import Op, apply, as_tensor, shared
from ..core.shapes import as_shape
from ..core.tensor import Tensor, new_eager


class ZerosLike(Op):
    name = "zeros_like"
    differentiable = False
    dtype: Optional[dtypes.DType]    # None: x's

    def infer(self, x):
        return x.shape, self.dtype or x.dtype


class OnesLike(ZerosLike):
    name = "ones_like"


class OneHot(Op):
    """One-hot rows of `depth`; with depth None, as many as the last dim of a second input
    (a gradient rule's logits, whose class count may be known only at run time)."""
    name = "one_hot"
    differentiable = False
    depth: Optional[int]    # None: the last dim of `like`
    dtype: dtypes.DType

    def infer(self, indices, like=None):
        if not indices.dtype.is_integer:
            raise TypeError("one_hot indices must be integers")
        if self.depth is not None and self.depth < 0:
            raise ValueError(f"depth must be non-negative, got {self.depth}")
        depth = self.depth if like is None else (like.shape or (None,))[-1]
        shape = None if indices.shape is None else indices.shape + (depth,)
        return shape, self.dtype


class RandomNormal(Op):
    """Normal samples; `truncated` redraws those beyond two standard deviations (TF1). With
    an input (a 1-D integer tensor, e.g. tf.shape(x)) that is the shape, read at run time,
    and `shape` holds what is known of it while building (None for the rest)."""
    name = "random_normal"
    stateful = draws = True
    differentiable = False
    shape: tuple
    mean: float
    stddev: float
    dtype: dtypes.DType
    truncated: bool

    def infer(self, dims=None):
        return self.shape, self.dtype


class RandomUniform(Op):
    name = "random_uniform"
    stateful = draws = True
    differentiable = False
    shape: tuple
    minval: float
    maxval: float
    dtype: dtypes.DType

    def infer(self, dims=None):   # dims: the shape read at run time, as RandomNormal's
        return self.shape, self.dtype


class RandomMask(Op):
    """1 with probability `keep_prob`, else 0, shaped like `x` at run time (dropout). With a
    second input, that scalar (TF1's `keep_prob` placeholder) is the probability, checked to
    be in (0, 1] when the kernel runs; `keep_prob` is then ignored."""
    name = "random_mask"
    stateful = draws = True
    differentiable = False
    keep_prob: float

    def infer(self, x, keep=None):
        if keep is not None:
            if keep.shape is not None and keep.shape != ():
                raise ValueError(f"keep_prob must be a scalar, got shape {keep.shape}")
            if not keep.dtype.is_floating:
                raise TypeError(f"keep_prob must be a float, got {keep.dtype.name}")
        return x.shape, x.dtype


class Range(Op):
    """start, start + delta, ... up to (not including) limit, from scalar tensors known only
    at run time (TF1's `tf.range` of a `tf.shape` entry); the length is unknown until then."""
    name = "range"
    differentiable = False
    dtype: dtypes.DType

    def infer(self, start, limit, delta):
        for what, t in (("start", start), ("limit", limit), ("delta", delta)):
            if t.shape is not None and t.shape != ():
                raise ValueError(f"{what} must be a scalar, got shape {t.shape}")
        return (None,), self.dtype


class Fill(Op):
    """A tensor of shape `dims` (a 1-D integer tensor, e.g. from `tf.shape`, known perhaps
    only at run time) with every element `value` (a scalar): TF1's `tf.fill`, and `tf.zeros`
    / `tf.ones` of a shape that is a tensor. Linear in the value; its gradient is g's sum."""
    name = "fill"
    linearity = "linear"
    linear_inputs = 1

    def infer(self, value, dims):
        if value.shape is not None and value.shape != ():
            raise ValueError(f"value must be a scalar, got shape {value.shape}")
        if not dims.dtype.is_integer:
            raise TypeError(f"dims must be integers, got {dims.dtype.name}")
        if dims.shape is not None and len(dims.shape) != 1:
            raise ValueError(f"dims must be 1-D, got shape {dims.shape}")
        rank = None if dims.shape is None else dims.shape[0]
        return (None if rank is None else (None,) * rank), value.dtype

    def vjp(self, g, out, value, dims):
        from .reduce import reduce_sum
        return reduce_sum(g), None


def fill(dims, value, name=None) -> Tensor:
    """TF1's `tf.fill(dims, value)`: `dims` a list of ints and scalar tensors, or a 1-D
    integer tensor."""
    if isinstance(dims, (list, tuple)) and any(isinstance(d, Tensor) for d in dims):
        from .shape import stack
        dims = stack([d if isinstance(d, Tensor) else tf1_constant(d) for d in dims])
    return apply(Fill(), tf1_constant(value), tf1_constant(dims), name=name)


def zeros_like(x, dtype=None, name=None) -> Tensor:
    dt = None if dtype is None else dtypes.as_dtype(dtype)
    return apply(shared(ZerosLike, dt), as_tensor(x), name=name)


def ones_like(x, dtype=None, name=None) -> Tensor:
    dt = None if dtype is None else dtypes.as_dtype(dtype)
    return apply(shared(OnesLike, dt), as_tensor(x), name=name)


def one_hot(indices, depth: int, dtype=dtypes.float32, name=None) -> Tensor:
    return apply(OneHot(depth=int(depth), dtype=dtypes.as_dtype(dtype)), as_tensor(indices),
                 name=name)


def one_hot_like(indices, like, dtype=dtypes.float32) -> Tensor:
    """`one_hot(indices, like.shape[-1])` with the depth read at run time."""
    return apply(OneHot(depth=None, dtype=dtypes.as_dtype(dtype)), as_tensor(indices), like)


def tf1_constant(value, dtype=None, what: str = "tf.constant") -> Tensor:
    """TF1's conversion of a value: as `as_tensor`, but Python ints (and lists of them) are
    int32 when they fit, as `tf.constant(3)` and `tf.Variable(3)` are in TF1, and Python
    floats float32 whatever torch's `set_default_dtype` says."""
    dtype = None if dtype is None else dtypes.as_dtype(dtype)
    if _holds_text(value) or dtype is dtypes.string:
        if dtype not in (None, dtypes.string):
            raise TypeError(f"tf.constant: {value!r} is text, not {dtype.name} (TF1 does not "
                            f"parse strings into numbers)")
        return new_eager(_byte_strings(value), dtypes.string)
    if dtype is not None and not dtype.is_floating and _holds_python_float(value):
        raise TypeError(f"{what}: {value!r} holds a Python float, which TF1 does not "
                        f"convert to {dtype.name} (cast a float tensor with tf.cast)")
    if dtype is None and not isinstance(value, (Tensor, np.ndarray, np.generic)):
        arr = np.asarray(value) if isinstance(value, (int, float, list, tuple)) else None
        if arr is not None and arr.dtype == np.int64 and (
                arr.size == 0 or np.iinfo(np.int32).min <= arr.min() <= arr.max()
                <= np.iinfo(np.int32).max):
            return as_tensor(arr.astype(np.int32))
        if arr is not None and arr.dtype == np.float64:
            return as_tensor(arr.astype(np.float32))
    return as_tensor(value, dtype)


def _holds_python_float(value) -> bool:
    """Whether a Python number or (nested) list of them holds a float (NumPy arrays are
    cast, as TF1 casts them)."""
    if isinstance(value, (list, tuple)):
        return any(_holds_python_float(v) for v in value)
    return isinstance(value, float)


def _holds_text(value) -> bool:
    """Whether `value` is a str or bytes, a (nested) list of them or a NumPy array of text:
    a tf.string constant."""
    while isinstance(value, (list, tuple)) and value:
        value = value[0]
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "US"
    return isinstance(value, (str, bytes, np.str_, np.bytes_))


def _byte_strings(value) -> np.ndarray:
    """TF1's tf.string values: bytes (str encoded as UTF-8) in an object array."""
    text = np.asarray(value, dtype=object)   # a <U or S array's items become str / bytes
    if text.dtype != object or not all(isinstance(v, (str, bytes)) for v in text.flat):
        raise TypeError(f"a tf.string constant holds str or bytes, got {value!r}")
    return np.vectorize(lambda v: v.encode() if isinstance(v, str) else bytes(v),
                        otypes=[object])(text) if text.size else text


def tf_range(start, limit=None, delta=1, dtype=None, name="range") -> Tensor:
    """TF1 `tf.range(start, limit, delta)` (or `tf.range(limit)`). Numbers give a constant;
    a tensor among them (`tf.shape(x)[0]`) gives a `Range` node computed at run time. The
    dtype is the tensors' (else int32, or float32 if a number is a float) unless given."""
    if limit is None:
        start, limit = 0, start
    values = (start, limit, delta)
    if dtype is None:
        given = [v.dtype for v in values if isinstance(v, Tensor)]
        floats = any(isinstance(v, float) for v in values)
        dtype = given[0] if given else (dtypes.float32 if floats else dtypes.int32)
    dtype = dtypes.as_dtype(dtype)
    if not any(isinstance(v, Tensor) for v in values):
        return as_tensor(np.arange(start, limit, delta, dtype=dtype.np))
    return apply(Range(dtype=dtype), *(v if isinstance(v, Tensor) else _fixed(v, dtype)
                                       for v in values), name=name)


def _fixed(number, dtype: dtypes.DType) -> Tensor:
    """A number as a read-only eager tensor: a literal the passes may rely on (a range's
    length then depends on shapes alone when its tensor bound does)."""
    value = np.array(number, dtype=dtype.np)
    value.flags.writeable = False
    return new_eager(value, dtype)


def _static_shape(shape, what):
    shape = as_shape(shape)
    if shape is None or None in shape:
        raise ValueError(f"{what}: the shape must be fully known, got {shape}")
    return shape


def _random_shape(shape, what) -> tuple:
    """(what is known of the shape, the 1-D shape tensor to read at run time or None): a
    shape given as a tensor (tf.shape(x)) or a list holding scalar tensors is read when
    the graph runs; tf.shape(x) keeps x's known dims."""
    if isinstance(shape, Tensor) or isinstance(shape, (list, tuple)) and any(
            isinstance(d, Tensor) for d in shape):
        from .shape import ShapeOf, stack
        if isinstance(shape, Tensor):
            dims = shape
            known = (tuple(dims.inputs[0].shape) if isinstance(dims._op, ShapeOf)
                     and dims.inputs[0].shape is not None else
                     (None,) * (dims.shape[0] if dims.shape and dims.shape[0] else 0))
        else:
            dims = stack([d if isinstance(d, Tensor) else tf1_constant(d) for d in shape])
            known = tuple(None if isinstance(d, Tensor) else int(d) for d in shape)
        if dims.shape is None or len(dims.shape) != 1 or not dims.dtype.is_integer:
            raise ValueError(f"{what}: a shape tensor must be a 1-D integer tensor, got "
                             f"shape {dims.shape} and dtype {dims.dtype.name}")
        return known, (dims,)
    return _static_shape(shape, what), ()


def random_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None,
                  name=None) -> Tensor:
    known, dims = _random_shape(shape, "random_normal")
    op = RandomNormal(shape=known, mean=float(mean), stddev=float(stddev),
                      dtype=dtypes.as_dtype(dtype), truncated=False)
    return apply(op, *dims, name=name, graph=get_default_graph())


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None,
                     name=None) -> Tensor:
    known, dims = _random_shape(shape, "truncated_normal")
    op = RandomNormal(shape=known, mean=float(mean), stddev=float(stddev),
                      dtype=dtypes.as_dtype(dtype), truncated=True)
    return apply(op, *dims, name=name, graph=get_default_graph())


def random_uniform(shape, minval=0.0, maxval=None, dtype=dtypes.float32, seed=None,
                   name=None) -> Tensor:
    dt = dtypes.as_dtype(dtype)
    if maxval is None:
        if not dt.is_floating:
            raise ValueError("random_uniform: integer dtypes need maxval")
        maxval = 1.0
    known, dims = _random_shape(shape, "random_uniform")
    op = RandomUniform(shape=known, minval=minval, maxval=maxval, dtype=dt)
    return apply(op, *dims, name=name, graph=get_default_graph())


def random_mask(x, keep_prob) -> Tensor:
    """A 0/1 mask like `x` keeping each element with probability `keep_prob` (a float, or a
    scalar tensor such as a placeholder), drawn anew on every eager call or graph run."""
    if isinstance(keep_prob, Tensor):
        return apply(RandomMask(keep_prob=1.0), as_tensor(x), keep_prob)
    if not 0 < keep_prob <= 1:
        raise ValueError(f"random_mask: keep_prob must be in (0, 1], got {keep_prob}")
    return apply(RandomMask(keep_prob=float(keep_prob)), as_tensor(x))


class Multinomial(Op):
    """`num_samples` class ids per row of non-negative weights `probs` ([n] or [rows, n]),
    drawn with the global generator (sampling from a language model)."""
    name = "multinomial"
    stateful = draws = True
    differentiable = False
    num_samples: int
    replacement: bool

    def infer(self, probs):
        if probs.shape is not None and len(probs.shape) not in (1, 2):
            raise ValueError(f"probs must be 1-D or 2-D, got shape {probs.shape}")
        if not probs.dtype.is_floating:
            raise TypeError(f"probs must be floating point, got {probs.dtype.name}")
        shape = None if probs.shape is None else probs.shape[:-1] + (self.num_samples,)
        return shape, dtypes.int64


class LogUniformCandidates(Op):
    """`num_sampled` class ids in [0, range_max) drawn from TF1's log-uniform (Zipfian)
    distribution, P(k) = log((k + 2) / (k + 1)) / log(range_max + 1), distinct when
    `unique`; the output's last element is how many draws that took (the expected counts
    of sampled-loss functions depend on it). Drawn anew on every run."""
    name = "log_uniform_candidates"
    stateful = draws = True
    differentiable = False
    num_sampled: int
    range_max: int
    unique: bool

    def infer(self):
        if self.unique and self.num_sampled > self.range_max:
            raise ValueError(f"cannot draw {self.num_sampled} distinct candidates from "
                             f"range_max={self.range_max}")
        return (self.num_sampled + 1,), dtypes.int64


def log_uniform_candidates(num_sampled: int, range_max: int, unique: bool,
                           name=None) -> Tensor:
    op = LogUniformCandidates(num_sampled=int(num_sampled), range_max=int(range_max),
                              unique=bool(unique))
    return apply(op, name=name, graph=get_default_graph())


def multinomial(probs, num_samples: int, replacement: bool = False) -> Tensor:
    return apply(Multinomial(num_samples=int(num_samples), replacement=bool(replacement)),
                 as_tensor(probs))


def categorical(logits, num_samples: int, dtype=None, seed=None, name=None) -> Tensor:
    """TF1's tf.random.categorical / tf.multinomial: num_samples class indices per row of
    logits [batch, classes], drawn with replacement from softmax(logits)."""
    from .math import cast
    from .nn import softmax
    x = as_tensor(logits)
    if x.ndim != 2:
        raise ValueError(f"categorical: logits must be [batch, classes], got {x.shape}")
    draws = multinomial(softmax(x, -1), int(num_samples), replacement=True)
    return cast(draws, dtypes.as_dtype(dtype or dtypes.int64), name=name)
