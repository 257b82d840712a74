"""Elementwise kernels."""
import functools

import numpy as np

from ...core import dtypes
from ...core.dtypes import REDUCED_NUMPY
from ...core.errors import IntegerDivisionByZero
from ...core.kernels import widened
from ...ops import math as m
from . import _fast_math, _quiet, parallel
from .registry import kernel

_BINARY = {m.Add: np.add, m.Sub: np.subtract, m.Mul: np.multiply, m.Div: np.true_divide,
           m.Maximum: np.maximum, m.Minimum: np.minimum, m.Equal: np.equal,
           m.NotEqual: np.not_equal, m.Less: np.less, m.LessEqual: np.less_equal,
           m.Greater: np.greater, m.GreaterEqual: np.greater_equal, m.Atan2: np.arctan2,
           m.LogicalAnd: np.logical_and,
           m.LogicalOr: np.logical_or, m.LogicalXor: np.logical_xor,
           m.BitwiseAnd: np.bitwise_and, m.BitwiseOr: np.bitwise_or,
           m.BitwiseXor: np.bitwise_xor}
_UNARY = {m.Neg: np.negative, m.Square: np.square, m.Sqrt: np.sqrt, m.Exp: np.exp,
          m.Log: np.log, m.Sin: np.sin, m.Cos: np.cos, m.Tanh: np.tanh, m.Abs: np.abs,
          m.LogicalNot: np.logical_not, m.Floor: np.floor, m.Ceil: np.ceil,
          m.Round: np.round, m.Log1p: np.log1p, m.Expm1: np.expm1, m.BitwiseNot: np.invert}


# ufuncs whose inf/NaN answers NumPy warns about (log of 0, x / 0, sqrt of -1, overflow,
# sin/cos of inf): called with the warnings silenced, as PyTorch is silent. Add, sub and
# multiply, the hot ones, warn only on inf - inf, 0 * inf or overflow: left as they are
# (setting NumPy's error state made an eager add of 16 floats 11 % more instructions)
_QUIET = {m.Div, m.Pow, m.Exp, m.Log, m.Sqrt, m.Log1p, m.Expm1, m.Atan2, m.Sin, m.Cos}


# Ufuncs that map a float dtype to itself: on large arrays (the scores of attention written
# out by hand, scaled by 1/sqrt(d)) they go to the kernel pool (`parallel.ufunc`)
_SAME_DTYPE = {m.Add, m.Sub, m.Mul, m.Div, m.Maximum, m.Minimum, m.Neg, m.Square, m.Sqrt,
               m.Exp, m.Log, m.Sin, m.Cos, m.Tanh, m.Abs, m.Log1p, m.Expm1}


# Float functions of bool, int8 and uint8 are computed in float32 (`lift`), as PyTorch's:
# NumPy's loops give float16 for them (exp(12) overflows, log(5) has 3 digits)
_NARROW = frozenset(np.dtype(t) for t in (np.bool_, np.int8, np.uint8))
_FLOAT_OF_INTS = {m.Sqrt, m.Exp, m.Log, m.Sin, m.Cos, m.Tanh, m.Log1p, m.Expm1}


def _ufunc_kernel(ufunc, arity: int, quiet: bool, pooled: bool, lift: bool = False):
    """The kernel of a one-ufunc op, its operands spelled out: every eager `x * y` runs it,
    and a call through `*xs` and `out=None` costs more than a 16-element ufunc itself. With
    NumPy's warnings silenced when `quiet` (the state set in this frame: a wrapper would cost
    another); arrays from `parallel.MIN_ELEMENTS` cut across the kernel pool when `pooled`
    (the size test inline: small arrays pay no frame more)."""
    set_state, reset_state, ignore = _quiet.state_setters()
    if arity == 2 and quiet:
        def run(op, x, y, out=None):
            if pooled and (x.size >= parallel.MIN_ELEMENTS or y.size >= parallel.MIN_ELEMENTS):
                return _pooled(ufunc, quiet, (x, y), out)
            token = set_state(ignore)
            try:
                return ufunc(x, y) if out is None else ufunc(x, y, out=out)
            finally:
                reset_state(token)
    elif arity == 2:
        def run(op, x, y, out=None):
            if pooled and (x.size >= parallel.MIN_ELEMENTS or y.size >= parallel.MIN_ELEMENTS):
                return _pooled(ufunc, quiet, (x, y), out)
            return ufunc(x, y) if out is None else ufunc(x, y, out=out)
    elif quiet:
        def run(op, x, out=None):
            if lift and x.dtype in _NARROW:
                x = x.astype(np.float32)
            if pooled and x.size >= parallel.MIN_ELEMENTS:
                return _pooled(ufunc, quiet, (x,), out)
            token = set_state(ignore)
            try:
                return ufunc(x) if out is None else ufunc(x, out=out)
            finally:
                reset_state(token)
    else:
        def run(op, x, out=None):
            if lift and x.dtype in _NARROW:
                x = x.astype(np.float32)
            if pooled and x.size >= parallel.MIN_ELEMENTS:
                return _pooled(ufunc, quiet, (x,), out)
            return ufunc(x) if out is None else ufunc(x, out=out)
    run.__name__ = getattr(ufunc, "__name__", "ufunc")
    return run


def _pooled(ufunc, quiet: bool, xs, out):
    """A large ufunc call on the kernel pool, its warnings silenced when `quiet` (the pieces
    run in a copy of this thread's context, so NumPy's error state holds there)."""
    if not quiet:
        return parallel.ufunc(ufunc, *xs, out=out)
    token = _quiet.enter()
    try:
        return parallel.ufunc(ufunc, *xs, out=out)
    finally:
        _quiet.leave(token)


def _register_ufuncs(table, arity: int):
    for op_cls, ufunc in table.items():
        kernel(op_cls, inplace=True)(
            _ufunc_kernel(ufunc, arity, op_cls in _QUIET, op_cls in _SAME_DTYPE,
                          op_cls in _FLOAT_OF_INTS))


_register_ufuncs(_BINARY, 2)
_register_ufuncs(_UNARY, 1)
_POWER = _ufunc_kernel(np.power, 2, quiet=True, pooled=False)
_SQUARE = _ufunc_kernel(np.multiply, 2, quiet=True, pooled=True)


@kernel(m.Pow, inplace=True)
def power(op, x, y, out=None):
    """x ** 3 and x ** -2 of float32/float64 as products, x ** 0.5 and x ** -0.5 of a Python
    number exponent as sqrt and 1 / sqrt, as PyTorch computes them (the same bits; (-0.0) **
    -0.5 is -inf, so the gradient of x ** 0.5 at -0.0 is torch's -inf, where pow gives +inf;
    a tensor exponent is pow there, as torch's): NumPy's power of a negative base goes a
    slow path, 45 ns an element, so a GELU
    written with `torch.pow(x, 3.0)` took 6 ms per [32, 16, 256] call against 0.03. Other
    integer exponents: the power of |x|, signed (x ** 5 of 2000 elements 97 -> 5 us).
    x ** 2 is x * x (pooled when large) and x ** 1 a copy, PyTorch's bits: `h.pow(2)` and
    its gradient's x ** 1 took |x| and NumPy's power, 4.8 ms for [5000, 500] against 0.6."""
    if y.ndim == 0 and y.dtype == x.dtype and x.dtype in _EXACT_PRODUCTS:
        exponent = y[()]
        if exponent == 2:
            return _SQUARE(op, x, x, out)
        if exponent == 1:
            return np.positive(x, out=out)
        if (exponent == 0.5 or exponent == -0.5) and op.number_exponent:
            token = _quiet.enter()          # sqrt of x < 0 is NaN, 1 / 0 is inf: silent
            try:
                if exponent == 0.5:
                    return np.sqrt(x, out=out)
                root = np.sqrt(x, out=np.empty_like(x) if out is None else out)
                return np.divide(1, root, out=root)   # an array even when x is 0-d
            finally:
                _quiet.leave(token)
        if exponent == 3 or exponent == -2:
            token = _quiet.enter()          # overflow to inf, 1 / 0: silent, as power is
            try:
                square = np.multiply(x, x)
                if exponent == 3:
                    return np.multiply(square, x, out=out)
                return np.divide(1, square, out=out if out is not None else square)
            finally:
                _quiet.leave(token)
        if float(exponent).is_integer():   # x ** 4, x ** 5 of negative x: the same slow path
            token = _quiet.enter()
            try:                           # pow(-a, n) is +-pow(a, n) exactly (IEEE)
                if exponent % 2 == 0:
                    return np.power(np.abs(x), y, out=out)
                return np.copysign(np.power(np.abs(x), y), x, out=out)
            finally:
                _quiet.leave(token)
    return _POWER(op, x, y, out)


_EXACT_PRODUCTS = frozenset((np.dtype(np.float32), np.dtype(np.float64)))


def _integer_divisor(ufunc):
    """// and % of integers by zero have no value: NumPy answers 0 with a warning, PyTorch
    and TensorFlow raise; so do these kernels ("ZeroDivisionError", as PyTorch says)."""
    def run(op, x, y, out=None):
        if y.dtype.kind in "iub" and not np.all(y):
            if x.dtype.kind in "iub":
                raise IntegerDivisionByZero(f"{op.name}: integer division by zero "
                                            f"(ZeroDivisionError)")
            with np.errstate(divide="ignore", invalid="ignore"):   # a float x: inf or NaN
                return ufunc(x, y, out=out)
        if x.dtype.kind == "f" or y.dtype.kind == "f":   # inf % y, x % 0.0: NaN, silently
            token = _quiet.enter()
            try:
                return ufunc(x, y, out=out)
            finally:
                _quiet.leave(token)
        return ufunc(x, y, out=out)
    return run


kernel(m.Remainder, inplace=True)(_integer_divisor(np.mod))
kernel(m.FloorDivide, inplace=True)(_integer_divisor(np.floor_divide))


def _shift(left: bool):
    """x << y or x >> y with PyTorch's answer where C's is undefined: a shift by the
    width or more, or by a negative amount, gives 0 (right shifts of negatives: -1)."""
    def run(op, x, y, out=None):
        dtype = np.result_type(x, y)
        x = np.asarray(x, dtype)
        bits = 8 * dtype.itemsize if dtype != np.bool_ else 1
        if dtype == np.bool_:                # bools shift as the integers 0 and 1
            x, y = x.astype(np.uint8), np.asarray(y, np.uint8)
        inside = (y >= 0) & (y < bits)
        amount = np.where(inside, y, 0).astype(x.dtype)
        if left:
            value = np.where(inside, np.left_shift(x, amount), 0)
        else:
            value = np.where(inside, np.right_shift(x, amount), np.where(x < 0, -1, 0))
        value = value.astype(dtype, copy=False)
        if out is None:
            return value
        np.copyto(out, value)
        return out
    return run


kernel(m.LeftShift, inplace=True)(_shift(left=True))
kernel(m.RightShift, inplace=True)(_shift(left=False))


@kernel(m.Sign, inplace=True)
def sign(op, x, out=None):
    """np.sign has no bool loop; the sign of a bool is itself (as PyTorch). NaN stays NaN
    unless `op.nan_to_zero` (PyTorch's 0)."""
    if x.dtype == np.bool_:
        return np.copyto(out, x) or out if out is not None else x.copy()
    if not op.nan_to_zero or x.dtype.kind in "iu":
        return np.sign(x, out=out)
    result = np.sign(x, out=np.empty_like(x) if out is None else out)   # an array, 0-d too
    result[np.isnan(result)] = 0    # sign keeps NaN, so this reads the input's NaNs
    return result


@kernel(m.Sigmoid)
def sigmoid(op, x):
    if x.dtype == np.float64 and x.flags.c_contiguous:
        out = np.empty_like(x)
        _fast_math.loops().sigmoid64_flat(x.reshape(-1), out.reshape(-1))
        return out
    if x.dtype.kind in "biu":    # -|x| of unsigned ints wraps; PyTorch computes in float32
        x = x.astype(np.float32)
    # exp of -|x| never overflows; the two branches give the same value.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


@kernel(m.Relu, inplace=True)
def relu(op, x, out=None):
    """Every MLP layer's: the tests inline (not in a `widened` or `parallel.ufunc` frame).
    Zero goes first in `np.maximum`: of two equal values it keeps the second, so -0.0 stays
    -0.0 as in PyTorch (tested)."""
    zero = _ZEROS.get(x.dtype)
    if zero is None:
        if x.dtype in REDUCED_NUMPY:         # reduced floats: NumPy has no fast loop
            return _WIDE_RELU(op, x, out=out)
        return np.maximum(x, 0, out=out)
    size = x.size   # (read once: an ndarray attribute is not a specialized load)
    if size < RELU_LOOP_MIN or not x.flags.c_contiguous or out is not None and not (
            out.flags.c_contiguous and out.dtype == x.dtype and out.shape == x.shape):
        if size < parallel.MIN_ELEMENTS:   # (no out=: NumPy parses a keyword slower)
            return np.maximum(zero, x) if out is None else np.maximum(zero, x, out=out)
        return parallel.ufunc(np.maximum, zero, x, out=out)   # large arrays on every thread
    out = np.empty_like(x) if out is None else out
    parallel.rows(_relu_flat, out.reshape(-1), x.reshape(-1))   # large arrays on every thread
    return out


def _relu_flat(x, out):
    _fast_math.loops().relu_flat(x, out)


# Fewest elements for relu's Numba loop (a call costs ~1 us more than NumPy's maximum)
RELU_LOOP_MIN = 1 << 14
_ZEROS = {np.dtype(t): np.zeros((), t) for t in parallel.FLOATS}   # not one per call
_WIDE_RELU = widened(relu, 0)


@kernel(m.ReluGrad, inplace=True)
def relu_grad(op, g, x, out=None):
    if g.dtype == x.dtype and g.dtype in parallel.FLOATS and (out is None
                                                              or out.dtype == g.dtype):
        loop = _fast_math.ufunc("relu_grad", 64 if g.dtype == np.float64 else 32)
        token = _quiet.enter()   # a NaN x compares "invalid": PyTorch passes g silently
        try:
            return parallel.ufunc(loop, g, x, out=out)
        finally:
            _quiet.leave(token)
    if out is not None and out.dtype not in (np.float32, np.float64):
        out[...] = _fast_math.call("relu_grad", g, x)
        return out
    result = _fast_math.call("relu_grad", g, x, out=out)   # float16 and bfloat16 in float32
    return result if result.dtype == g.dtype else result.astype(g.dtype)


@kernel(m.Cast, inplace=True)
def cast(op, x, out=None):
    if op.dtype.is_reduced:
        return _round(op.dtype, x, out)
    if out is None:
        return x.astype(op.dtype.np)
    np.copyto(out, x, casting="unsafe")
    return out


def _round(dtype, x, out):
    """A cast to a reduced float as PyTorch's: quiet overflow to inf, and float8_e4m3fn
    (which has no inf) saturating at +-448 where NumPy's cast would give NaN."""
    if dtype is dtypes.float8_e4m3fn:
        x = np.clip(x, -448, 448)
    with np.errstate(over="ignore"):
        if out is None:
            return x.astype(dtype.np)
        np.copyto(out, x, casting="unsafe")
    return out


@kernel(m.CondSelect)
def cond_select(op, t, f, pred):
    if np.ndim(pred):   # a predicate of unknown shape fed more than one value
        raise ValueError(f"cond: the predicate must be a scalar, got a value of shape "
                         f"{np.shape(pred)}")
    return np.array(t if pred else f, order="C")


@kernel(m.Where, out=True)
def where(op, cond, x, y, out=None):
    """np.where; a large float result as one pass (`_fill_where`: masked_fill of attention's
    scores and its gradient) or two copies (y, then x where cond: 15 % faster than
    np.where's broadcasting loop), cut along its first axis across the kernel pool."""
    large = min(WHERE_COPIES_FROM, parallel.MIN_ELEMENTS)
    if ((x.size >= large or y.size >= large)
            and x.dtype == y.dtype and x.dtype in parallel.FLOATS
            and (out is None or out.dtype == x.dtype)):
        shape = np.broadcast_shapes(cond.shape, x.shape, y.shape)
        out = np.empty(shape, x.dtype) if out is None else out
        if _fill_where(cond, x, y, out):
            return out
        if shape and parallel.worth_it(x.size + y.size, shape[0]):
            cond, x, y = (np.broadcast_to(a, shape) for a in (cond, x, y))
            parallel.run(lambda a, b: _copy_where(cond[a:b], x[a:b], y[a:b], out[a:b]),
                         shape[0], blas=False)
            return out
        return _copy_where(cond, x, y, out)
    if out is None:
        return np.where(cond, x, y)
    return _copy_where(cond, x, y, out)


WHERE_COPIES_FROM = 1 << 16   # elements; below, np.where's one call costs less Python


def _fill_where(cond, x, y, out) -> bool:
    """out <- where(cond, x, y) in one pass when one of x, y is a single value, the other
    has out's shape and cond is out's trailing dims (one mask for every batch entry, as
    masked_fill of [B, H, T, S] scores under a [T, S] mask), all C-contiguous: a Numba loop
    per row of the batch (0.145 ms on [8, 4, 128, 128] float32 at one thread, NumPy's two
    copies 0.24, np.where 0.34). False (nothing written) for any other case."""
    value, full, fill_if = (x, y, True) if x.size == 1 else (y, x, False)
    mask = cond.reshape(cond.shape[next((i for i, n in enumerate(cond.shape) if n != 1),
                                        cond.ndim):])
    if not (value.size == 1 and full.shape == out.shape and mask.size and mask.ndim
            and out.shape[out.ndim - mask.ndim:] == mask.shape and mask.flags.c_contiguous
            and full.flags.c_contiguous and out.flags.c_contiguous
            and not np.may_share_memory(out, full)):
        return False
    n = mask.size
    rows, full_rows, mask = out.reshape(-1, n), full.reshape(-1, n), mask.reshape(-1)
    fill, loop = out.dtype.type(value.reshape(-1)[0]), _where_loop()
    parallel.split(lambda a, b: loop(mask, full_rows[a:b], fill, fill_if, rows[a:b]),
                   len(rows), out.size, blas=False)
    return True


@functools.cache
def _where_loop():
    from ._attention_loops import fill_where     # imports Numba: on first use
    return fill_where


def _copy_where(cond, x, y, out):
    np.copyto(out, y)
    np.copyto(out, x, where=cond)
    return out
