"""What every group of the op table is written with: value domains, inputs (`Arg`), samples,
expected output dtypes, the `OpCase` entry and its `ErrorInput`s, and the samples shared
across groups (elementwise unary and binary)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

import tinyflow as tf

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


# ---- inputs and samples ----------------------------------------------------------------

@dataclass(frozen=True)
class Arg:
    """One input of a sample.

    Args:
        shape: the input's shape. A None dim (a placeholder of unknown size) is allowed in
            error inputs only; they are then checked in a graph, not eagerly.
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


@dataclass(frozen=True)
class ErrorInput:
    """A bad input and the error it raises (as PyTorch OpInfo's ErrorInput).

    Args:
        sample: the input, in float32 where its args do not fix a dtype.
        error: the exception type raised.
        match: a regular expression the message must contain (re.search).
        at_run: raised by the kernel when it sees the values (an index out of range): by the
            call when eager, by Session.run in a graph. Otherwise the call raises in both.
    """
    sample: Sample
    error: type
    match: str
    at_run: bool = False


# ---- expected output dtype, from the dtype under test and the sample's keyword arguments ----

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


# ---- the entry -------------------------------------------------------------------------

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
        value_shaped: the output's size depends on the input values (range), so a graph
            knows it only when run.
        op: the registered op this entry tests, when it is not `name`.
        sugar: a composition of other ops, not the entry of a registered op.
        atol, rtol: forward tolerance in float32 (float64 is checked to ~1e-12, float16 to
            1e-3, ints and bools exactly).
        errors: bad inputs and what they raise.
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
    value_shaped: bool = False
    op: str = ""
    sugar: bool = False
    atol: float = 1e-6
    rtol: float = 1e-5
    errors: tuple = ()

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


# ---- samples shared by several groups --------------------------------------------------

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


def broadcast_error(op: str) -> ErrorInput:
    """Two shapes that do not broadcast, for an op whose inputs broadcast."""
    return ErrorInput(S(A(3, 4), A(2, 4)), tf.ShapeError,
                      rf"^{op}: dimension -2 is 3 in one and 2 in another")
