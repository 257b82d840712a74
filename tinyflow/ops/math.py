"""Elementwise ops: arithmetic, transcendental functions, comparisons, where, cast."""
from __future__ import annotations

import functools
import inspect
from typing import Callable, Optional

import numpy as np

from ..core import dtypes
from ..core.dtypes import float_result, promote
from ..core.errors import DTypeError
from ..core.modes import autocast_state, grad_mode, needs_input_grad, trace_state, vjp_request
from ..core.op import Op, apply, apply1, apply2, as_tensor, shared, sum_terms
from ..core.shapes import broadcast_shapes
from ..core.tensor import EAGER, Tensor
from .creation import zeros_like

# ---- operands --------------------------------------------------------------------------


def check_floating(*tensors) -> None:
    """Refuse integer inputs where an op is defined on reals only (conv, pool, gelu, ...)."""
    for t in tensors:
        if not t.dtype.is_floating:
            raise TypeError(f"needs floating-point tensors, got {t.dtype.name}")


# Read-only literal tensors by (type, value, dtype met): `x * 1.0001` in a loop makes its
# scalar once, not once per op (-0.0 == 0.0 and NaN != NaN, so zeros and NaN are not kept).
_LITERALS: dict = {}
_PYTHON_NUMBERS = frozenset((float, int, bool))
_LITERALS_KEPT = 4096


def forget_literals() -> None:
    """Drop the kept literals: after `set_default_dtype`, a float beside an integer tensor
    takes the new default dtype."""
    _LITERALS.clear()


def _lift(value, like: Tensor) -> Tensor:
    """A Python number takes the dtype of the tensor it meets ("weak" scalar typing)."""
    if type(value) in _PYTHON_NUMBERS or isinstance(
            value, (bool, int, float, np.number, np.bool_)) and not isinstance(value, np.ndarray):
        key = (type(value), value, like.dtype)
        tensor = _LITERALS.get(key)
        if tensor is None:
            dtype = dtypes.weak_scalar(value, like.dtype).np
            try:
                literal = np.array(value, dtype=dtype)
            except OverflowError:   # an int beyond the tensor's range wraps, as PyTorch's
                literal = np.array(value).astype(dtype)
            literal.flags.writeable = False   # nothing can change it: the passes may fold it
            tensor = Tensor._eager(literal)
            if value != 0 and value == value:
                if len(_LITERALS) >= _LITERALS_KEPT:
                    _LITERALS.clear()
                _LITERALS[key] = tensor
        return tensor
    return as_tensor(value)


def _weak_zero_dim(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """PyTorch's promotion: a 0-dim eager tensor beside a tensor with dims takes that one's
    dtype unless its kind (bool < integer < float) is higher, so float32 * a float64 scalar
    tensor stays float32 and int32 * an int64 scalar tensor stays int32. TF1 graphs keep
    exact dtypes (symbolic operands are left alone)."""
    if x.dtype is y.dtype or x.kind != EAGER or y.kind != EAGER or (x.ndim == 0) == (
            y.ndim == 0):
        return x, y
    if x.ndim == 0 and dtypes.kind_rank(x.dtype) <= dtypes.kind_rank(y.dtype):
        return cast(x, y.dtype), y
    if y.ndim == 0 and dtypes.kind_rank(y.dtype) <= dtypes.kind_rank(x.dtype):
        return x, cast(y, x.dtype)
    return x, y


def operands(x, y) -> tuple[Tensor, Tensor]:
    """Convert the operands of a binary op, letting Python scalars adopt the other's dtype."""
    if isinstance(x, Tensor):
        if isinstance(y, Tensor):
            return (x, y) if x.dtype is y.dtype else _weak_zero_dim(x, y)
        return x, _lift(y, x)
    if isinstance(y, Tensor):
        return _lift(x, y), y
    return as_tensor(x), as_tensor(y)


# ---- base classes ----------------------------------------------------------------------

class Elementwise(Op):
    """An op whose Jacobian is diagonal: the local derivative, stated once in `chain`, gives
    both vjp (applied to the cotangent) and jvp (applied to each tangent, summed)."""
    elementwise = True

    def chain(self, k: int, v: Tensor, out: Tensor, *inputs: Tensor) -> Optional[Tensor]:
        """v (a cotangent or a tangent) times d out / d input k, elementwise; None where
        input k has no derivative. A product with v rather than the derivative alone, so
        that add passes v on with no op and div costs one (`v / y`), as a hand-written vjp."""
        raise NotImplementedError(f"{self.name} has no derivative")

    def vjp(self, g, out, *inputs):
        return tuple([self.chain(k, g, out, *inputs) if needs_input_grad(k) else None
                      for k in range(len(inputs))])

    def jvp(self, tangents, out, *inputs):
        return sum_terms([self.chain(k, t, out, *inputs)
                          for k, t in enumerate(tangents) if t is not None])


class Unary(Elementwise):
    float_only = True  # integer inputs give float outputs

    def infer(self, x):
        return x.shape, (float_result(x.dtype) if self.float_only else x.dtype)

    def vjp(self, g, out, x):
        """Elementwise.vjp unrolled: it runs once per op of every eager backward pass."""
        return (self.chain(0, g, out, x),)


class ReadsInputOrOutput:
    """Mixin of an op whose gradient reads its input, or with `reads_output` (a field of the
    op) its output: in place, where the output overwrites the input (leaky ReLU, hardtanh)."""

    @property
    def saves_inputs(self):
        return not self.reads_output

    @property
    def saves_output(self):
        return self.reads_output


class Binary(Elementwise):
    broadcasts = True

    def infer(self, x, y):
        if x.dtype is y.dtype:   # the common cases: equal shapes, or a scalar on either side
            if x.shape == y.shape or y.shape == ():
                return x.shape, x.dtype
            if x.shape == ():   # `0.5 * x`, `1 - x`
                return y.shape, x.dtype
        return broadcast_shapes(x.shape, y.shape), promote(x.dtype, y.dtype)

    def vjp(self, g, out, x, y):
        """Elementwise.vjp unrolled: it runs once per op of every eager backward pass (the
        request read once: `needs_input_grad` of each input)."""
        needed = vjp_request.needed
        return (self.chain(0, g, out, x, y) if needed is None or needed[0] else None,
                self.chain(1, g, out, x, y) if needed is None or needed[1] else None)


class Compare(Binary):
    differentiable = False

    def infer(self, x, y):
        return broadcast_shapes(x.shape, y.shape), dtypes.bool_


# ---- arithmetic ------------------------------------------------------------------------

class Add(Binary):
    name = "add"
    saves_inputs = False   # only their shapes: they may be overwritten before backward
    saves_output = False

    def chain(self, k, v, out, x, y):
        return v

    def vjp(self, g, out, x, y):
        """`chain` inlined: the adjoint passes on to each input wanted, with no call."""
        needed = vjp_request.needed
        return (g if needed is None or needed[0] else None,
                g if needed is None or needed[1] else None)


_BOOL_SUBTRACTION = ("subtraction with a bool tensor is not supported (as PyTorch); to invert "
                     "a mask use ~ or logical_not()")


class Sub(Binary):
    name = "sub"
    saves_inputs = False   # as Add
    saves_output = False

    def infer(self, x, y):
        if x.dtype is dtypes.bool_ or y.dtype is dtypes.bool_:
            raise TypeError(_BOOL_SUBTRACTION)
        return Binary.infer(self, x, y)

    def chain(self, k, v, out, x, y):
        return v if k == 0 else -v


class Mul(Binary):
    name = "mul"
    linearity = "multilinear"   # so its gradient for x reads y alone (Op.vjp_reads)
    saves_output = False

    def chain(self, k, v, out, x, y):
        return v * y if k == 0 else v * x

    def vjp(self, g, out, x, y):
        """`chain` inlined (a product is most of the nodes of a backward pass)."""
        needed = vjp_request.needed
        gx = gy = None
        if needed is None or needed[0]:   # g * y; of one dtype, without the operator's call
            gx = apply2(self, g, y) if g.dtype is y.dtype else g * y
        if needed is None or needed[1]:
            gy = apply2(self, g, x) if g.dtype is x.dtype else g * x
        return gx, gy


class Div(Binary):
    name = "div"

    def infer(self, x, y):
        if x.dtype is y.dtype and x.dtype.is_floating and (x.shape == y.shape
                                                           or y.shape == ()):
            return x.shape, x.dtype   # the common case, as Binary's
        return broadcast_shapes(x.shape, y.shape), float_result(promote(x.dtype, y.dtype))

    def chain(self, k, v, out, x, y):
        return v / y if k == 0 else -v * out / y


class Pow(Binary):
    """`number_exponent`: the exponent is a Python number, which PyTorch's kernel takes a
    sqrt path for (x ** 0.5 as sqrt, x ** -0.5 as 1 / sqrt: -0.0 and -inf at -0.0, NaN at
    -inf); a tensor exponent is C's pow there (+0 and +inf at -0.0, +inf and 0 at -inf)."""
    name = "pow"
    number_exponent: bool = False

    def chain(self, k, v, out, x, y):
        if k == 1:
            return v * out * log(where(x > 0, x, 1))
        # y x^(y-1), 0 where y == 0 (PyTorch's; 0 * 0^-1 would be NaN at x = 0)
        if (y.shape == () and y.kind == EAGER and not y.requires_grad and y.dtype is x.dtype
                and trace_state.active is None):
            # a constant exponent (`x.pow(2)`, `x ** 3`): the exponent's where(y == 0, 1,
            # y - 1) is one number, so three ops of every backward through pow fewer, and
            # x ** 1 is x exactly (a square's gradient: two ops, not six). Exponent 0:
            # PyTorch's zeros, also where x is NaN or v * 0 * x would be -0. Not while
            # tracing: a compiled plan would keep this call's value of a captured exponent
            # that a later call has overwritten in place.
            e = y.array
            if e == 0:   # under create_graph still a function of v and x, as PyTorch's where
                return where(y == 0, zeros_like(v), v * y * x) if grad_mode.enabled \
                    else zeros_like(v)
            lowered = np.asarray(e - 1, e.dtype)
            if lowered == 1:
                return v * y * x
            return v * y * apply2(self, x, Tensor._eager(lowered))
        return v * y * apply2(self, x, where(y == 0, 1, y - 1))   # a number exponent still


class Atan2(Binary):
    """The angle of the point (x, y): `atan2(y, x)`, first argument y as in NumPy/PyTorch."""
    name = "atan2"

    def infer(self, y, x):
        return broadcast_shapes(y.shape, x.shape), float_result(promote(y.dtype, x.dtype))

    def chain(self, k, v, out, y, x):
        r2 = x * x + y * y
        return v * x / r2 if k == 0 else -v * y / r2


class Remainder(Binary):
    """`x - floor(x / y) * y`, with the sign of y (Python's %, torch.remainder). Piecewise
    `x - n*y` with n constant, so that is the gradient."""
    name = "remainder"

    def chain(self, k, v, out, x, y):
        if k == 0:
            return v
        if x.dtype is not out.dtype:    # an int or bool x beside a float y
            x = cast(x, out.dtype)
        n = round((x - out) / y)        # the integer n of x = n*y + out (up to rounding)
        return -v * n


class FloorDivide(Binary):
    name = "floor_divide"
    differentiable = False


class Logical(Op):
    """and / or / xor of truth values (any dtype: non-zero is true), giving bools."""
    elementwise = True
    broadcasts = True
    differentiable = False

    def infer(self, x, y):
        return broadcast_shapes(x.shape, y.shape), dtypes.bool_


class LogicalAnd(Logical):
    name = "logical_and"


class LogicalOr(Logical):
    name = "logical_or"


class LogicalXor(Logical):
    name = "logical_xor"


class Bitwise(Binary):
    """and / or / xor / shifts of the bits of integers and bools (PyTorch's `&`, `<<`, ...),
    in the operands' promoted dtype; floats are refused, as PyTorch refuses them."""
    differentiable = False

    def infer(self, x, y):
        for t in (x, y):
            if t.dtype.is_floating or not (t.dtype.is_integer or t.dtype.is_bool):
                raise TypeError(f"{self.name} is not implemented for '{t.dtype.name}' (only "
                                f"integer and bool tensors have bits to combine)")
        return broadcast_shapes(x.shape, y.shape), promote(x.dtype, y.dtype)


class BitwiseAnd(Bitwise):
    name = "bitwise_and"


class BitwiseOr(Bitwise):
    name = "bitwise_or"


class BitwiseXor(Bitwise):
    name = "bitwise_xor"


class LeftShift(Bitwise):
    """x * 2^y, wrapping at the dtype's width; a shift by the width or more (or below 0)
    gives 0, as PyTorch's."""
    name = "bitwise_left_shift"


class RightShift(Bitwise):
    """Arithmetic shift (the sign fills in); by the width or more: 0, or -1 for negatives."""
    name = "bitwise_right_shift"


class Maximum(Binary):
    name = "maximum"

    def chain(self, k, v, out, x, y):
        return v * _share(x < y if k == 0 else x > y, x == y, out.dtype)


class Minimum(Binary):
    name = "minimum"

    def chain(self, k, v, out, x, y):
        return v * _share(x > y if k == 0 else x < y, x == y, out.dtype)


def _share(loses, ties, dtype):
    """An argument's share of the gradient, as PyTorch's: 0 where it loses, 1/2 on ties, else
    1 (so where a NaN meets a number, both get all of it)."""
    return 1 - cast(loses, dtype) - 0.5 * cast(ties, dtype)


class Neg(Unary):
    name = "neg"
    float_only = False

    def infer(self, x):
        if x.dtype.is_bool:
            raise TypeError("neg: `-` of a bool tensor is refused; to flip a mask use `~x` "
                            "or logical_not(x)")
        return x.shape, x.dtype

    def chain(self, k, v, out, x):
        return -v


class Square(Unary):
    name = "square"
    float_only = False

    def infer(self, x):
        """The square of a bool is an int64 (PyTorch's x * x promotes bools to int64)."""
        return x.shape, (dtypes.int64 if x.dtype.is_bool else x.dtype)

    def chain(self, k, v, out, x):
        return v * (2 * x)


class Sqrt(Unary):
    name = "sqrt"

    def chain(self, k, v, out, x):
        return v / (2 * out)


class Exp(Unary):
    name = "exp"

    def chain(self, k, v, out, x):
        return v * out


class Log(Unary):
    name = "log"

    def chain(self, k, v, out, x):
        return v / x


class Log1p(Unary):
    """log(1 + x), accurate where x is tiny (log1p of 1e-10 is 1e-10, log(1 + 1e-10) is not)."""
    name = "log1p"

    def chain(self, k, v, out, x):
        return v / (1 + x)


class Expm1(Unary):
    """exp(x) - 1, accurate where x is tiny."""
    name = "expm1"

    def chain(self, k, v, out, x):
        return v * (out + 1)


class Sin(Unary):
    name = "sin"

    def chain(self, k, v, out, x):
        return v * cos(x)


class Cos(Unary):
    name = "cos"

    def chain(self, k, v, out, x):
        return -v * sin(x)


class Tanh(Unary):
    name = "tanh"

    def chain(self, k, v, out, x):
        return v * (1 - out * out)


class Sigmoid(Unary):
    name = "sigmoid"

    def chain(self, k, v, out, x):
        return v * (out * (1 - out))


class Relu(Unary):
    """max(x, 0). Its gradient reads the output (out > 0 exactly where x > 0), which the
    next layer keeps anyway, so x itself can be freed after the forward pass."""
    name = "relu"
    float_only = False
    saves_inputs = False

    def chain(self, k, v, out, x):
        return relu_grad(v, out)


class ReluGrad(Binary):
    """relu_grad(g, y) = 0 where y <= 0, else g: relu's backward in one pass (y: its output);
    a NaN passes g on, as PyTorch's threshold_backward."""
    name = "relu_grad"

    def chain(self, k, v, out, g, y):
        return relu_grad(v, y) if k == 0 else None


class Abs(Unary):
    name = "abs"
    float_only = False

    def infer(self, x):
        if x.dtype.is_bool:   # PyTorch's and TF's abs refuse masks
            raise TypeError("not implemented for 'bool' (a mask has no sign to drop)")
        return x.shape, x.dtype

    def chain(self, k, v, out, x):
        """sign(x), 0 at NaN as PyTorch's (TF's is NaN there; a NaN input's forward is NaN
        in both, so only a gradient masked downstream sees the difference)."""
        return v * apply(shared(Sign, True), x)


class Erf(Unary):
    name = "erf"
    saves_output = False

    def chain(self, k, v, out, x):
        return v * (_TWO_OVER_SQRT_PI * exp(-(x * x)))


_TWO_OVER_SQRT_PI = 1.1283791670955126


class PiecewiseConstant(Unary):
    """A zero gradient (PyTorch's: the result requires grad, and backward through it gives
    zeros rather than an error)."""
    float_only = False
    saves_inputs = False
    saves_output = False

    def chain(self, k, v, out, x):
        return zeros_like(v)


class Sign(PiecewiseConstant):
    """-1, 0 or 1; NaN gives NaN (TF's) or, with `nan_to_zero`, 0 (PyTorch's sign and sgn,
    and so abs's gradient there)."""
    name = "sign"
    nan_to_zero: bool = False


class Floor(PiecewiseConstant):
    """Round down; like sign, piecewise constant, so its gradient is zero."""
    name = "floor"


class Ceil(Floor):
    name = "ceil"


class Round(Floor):
    """Round half to even, as NumPy and PyTorch do."""
    name = "round"


class Cast(Op):
    """Conversion to `dtype`: linear, so a tangent is cast the same way, to a float type
    (a cast to integers has no derivative). Its gradient reads only dtypes, so a backward
    may run through it twice (autocast's cached weight copies)."""
    name = "cast"
    elementwise = True
    saves_inputs = False
    saves_output = False
    dtype: dtypes.DType

    def __post_init__(self):
        # a cast to integers or bool is not recorded, as in PyTorch: its result never
        # requires grad (`x.long().requires_grad` is False)
        object.__setattr__(self, "differentiable", self.dtype.is_floating)

    def infer(self, x):
        return x.shape, self.dtype

    def vjp(self, g, out, x):
        return (cast(g, x.dtype) if x.dtype.is_floating else None,)

    def jvp(self, t, out, x):
        return cast(t[0], out.dtype) if out.dtype.is_floating else None


class Where(Elementwise):
    name = "where"
    broadcasts = True

    def infer(self, cond, x, y):
        if not cond.dtype.is_bool:
            raise TypeError("the condition must be bool")
        return broadcast_shapes(cond.shape, x.shape, y.shape), promote(x.dtype, y.dtype)

    def chain(self, k, v, out, cond, x, y):
        if k == 0:
            return None          # the condition
        return where(cond, v, 0) if k == 1 else where(cond, 0, v)


class CondSelect(Op):
    """TF1's `tf.cond` output: the whole of `t` if the scalar `pred` holds, else of `f`. The
    branches may differ in shape (an empty feed in the untaken one), so nothing broadcasts;
    each branch's gradient is the output's where it was taken, else zeros."""
    name = "cond_select"
    saves_output = False
    linearity = "linear"
    linear_inputs = 2

    def infer(self, t, f, pred):
        if not pred.dtype.is_bool or pred.shape not in ((), None):
            raise TypeError(f"the predicate must be a bool scalar, got {pred.dtype.name} of "
                            f"shape {pred.shape}")
        if t.dtype is not f.dtype:
            raise TypeError(f"the branches are {t.dtype.name} and {f.dtype.name}")
        if t.shape is None or f.shape is None or len(t.shape) != len(f.shape):
            return None, t.dtype
        return tuple(a if a == b else None for a, b in zip(t.shape, f.shape)), t.dtype

    def vjp(self, g, out, t, f, pred):
        return cond_select(g, zeros_like(t), pred), cond_select(zeros_like(f), g, pred), None


class Equal(Compare):
    name = "equal"


class NotEqual(Compare):
    name = "not_equal"


class Less(Compare):
    name = "less"


class LessEqual(Compare):
    name = "less_equal"


class Greater(Compare):
    name = "greater"


class GreaterEqual(Compare):
    name = "greater_equal"


class LogicalNot(Op):
    name = "logical_not"
    elementwise = True
    differentiable = False

    def infer(self, x):
        return x.shape, dtypes.bool_


class BitwiseNot(Op):
    """~x: the bits flipped (logical not for bools); floats are refused."""
    name = "bitwise_not"
    elementwise = True
    differentiable = False

    def infer(self, x):
        if not (x.dtype.is_integer or x.dtype.is_bool):
            raise TypeError(f"bitwise_not is not implemented for '{x.dtype.name}' (only "
                            f"integer and bool tensors have bits to flip)")
        return x.shape, x.dtype


# ---- the functions users call ----------------------------------------------------------

def relu_grad(g, x, name=None) -> Tensor:
    return apply(shared(ReluGrad), as_tensor(g), as_tensor(x), name=name)


def _binary(op_cls, true_division: bool = False):
    op = op_cls()  # ops without attributes are immutable: one instance serves every call

    def fn(x, y, name=None, out=None):
        if type(x) is not Tensor or type(y) is not Tensor or x.dtype is not y.dtype:
            if type(x) is Tensor and type(y) is float:   # `x * 0.5`: operands' case, inline
                lifted = _LITERALS.get((float, y, x.dtype))   # _lift's kept literal: no frame
                y = _lift(y, x) if lifted is None else lifted
            elif type(y) is Tensor and type(x) is float:   # `0.5 * x` (rmul), `1 - x`
                lifted = _LITERALS.get((float, x, y.dtype))
                x = _lift(x, y) if lifted is None else lifted
            else:
                if true_division:
                    x, y = _ints_as_floats(x, y)
                elif op_cls is Sub and (type(x) is bool or type(y) is bool):
                    raise DTypeError(_BOOL_SUBTRACTION)   # a literal True would lift to an int
                x, y = operands(x, y)
        if name is None and out is None:   # no keywords to pass: the common, cheaper call
            return apply2(op, x, y)
        return apply(op, x, y, name=name, out=out)
    fn.__name__ = fn.__qualname__ = op_cls.name
    fn.__doc__ = f"Elementwise {op_cls.name} with NumPy broadcasting (eager: into `out`)."
    return fn


def _ints_as_floats(x, y) -> tuple:
    """A Python int beside an integer tensor, in a true division, as a float: uint8 / -4 is
    negative, as PyTorch's, where the int taking the tensor's dtype would wrap to 252."""
    if type(y) is int and type(x) is Tensor and not x.dtype.is_floating:
        return x, float(y)
    if type(x) is int and type(y) is Tensor and not y.dtype.is_floating:
        return float(x), y
    return x, y


def _unary(op_cls):
    op = op_cls()

    def fn(x, name=None, *, out=None):
        if type(x) is not Tensor:
            x = as_tensor(x)
        if name is None and out is None:
            return apply1(op, x)
        return apply(op, x, name=name, out=out)
    fn.__name__ = fn.__qualname__ = op_cls.name
    fn.__doc__ = f"Elementwise {op_cls.name} (`out=`: PyTorch's, written in place)."
    return fn


add = _binary(Add)
subtract = _binary(Sub)
multiply = _binary(Mul)
divide = _binary(Div, true_division=True)
_tensor_pow = _binary(Pow)
_NUMBER_POW = Pow(number_exponent=True)


def pow(x, y, name=None, out=None):
    """Elementwise pow with NumPy broadcasting (eager: into `out`); a Python number exponent
    of 0.5 or -0.5 as PyTorch's sqrt path (`Pow.number_exponent`)."""
    if isinstance(y, float) and (y == 0.5 or y == -0.5) and isinstance(x, Tensor):
        return apply(_NUMBER_POW, x, _lift(y, x), name=name, out=out)
    return _tensor_pow(x, y, name=name, out=out)
maximum = _binary(Maximum)
minimum = _binary(Minimum)
equal = _binary(Equal)
not_equal = _binary(NotEqual)
less = _binary(Less)
less_equal = _binary(LessEqual)
greater = _binary(Greater)
greater_equal = _binary(GreaterEqual)
remainder = _binary(Remainder)
floor_divide = _binary(FloorDivide)
logical_and = _binary(LogicalAnd)
logical_or = _binary(LogicalOr)
logical_xor = _binary(LogicalXor)
bitwise_and = _binary(BitwiseAnd)
bitwise_or = _binary(BitwiseOr)
bitwise_xor = _binary(BitwiseXor)
bitwise_left_shift = _binary(LeftShift)
bitwise_right_shift = _binary(RightShift)

negative = _unary(Neg)
square = _unary(Square)
sqrt = _unary(Sqrt)
exp = _unary(Exp)
log = _unary(Log)
log1p = _unary(Log1p)
expm1 = _unary(Expm1)
sin = _unary(Sin)
cos = _unary(Cos)
tanh = _unary(Tanh)
sigmoid = _unary(Sigmoid)
relu = _unary(Relu)
abs = _unary(Abs)
sign = _unary(Sign)


def sign_nan_to_zero(x, name=None) -> Tensor:
    """PyTorch's sign: as `sign`, but 0 at NaN."""
    return apply(shared(Sign, True), as_tensor(x), name=name)
floor = _unary(Floor)
ceil = _unary(Ceil)
round = _unary(Round)  # noqa: A001
erf = _unary(Erf)
logical_not = _unary(LogicalNot)
bitwise_not = _unary(BitwiseNot)


def cast(x, dtype, name=None) -> Tensor:
    x = as_tensor(x)
    dtype = dtypes.as_dtype(dtype)
    if x.dtype is dtype:
        return x
    return apply(shared(Cast, dtype), x, name=name)


def to_int32(x, name="ToInt32") -> Tensor:
    """TF1's cast shorthands tf.to_int32, to_int64, to_float and to_double."""
    return cast(x, dtypes.int32, name=name)


def to_int64(x, name="ToInt64") -> Tensor:
    return cast(x, dtypes.int64, name=name)


def to_float(x, name="ToFloat") -> Tensor:
    return cast(x, dtypes.float32, name=name)


def to_double(x, name="ToDouble") -> Tensor:
    return cast(x, dtypes.float64, name=name)


def in_float32(fn: Optional[Callable] = None, *, keep: tuple = (),
               autocast_float32: bool = False) -> Callable:
    """Decorator of a composed reduction or normalization (mean, var, norm, layer norm,
    losses): when its first argument is a reduced float (float16, bfloat16), every reduced
    float tensor argument (except those named in `keep`, e.g. running statistics written in
    place) is cast to float32 and the result cast back once: PyTorch's numerics, where the
    mean of 2000 float16 100s is 100 rather than an overflowed sum divided. Other dtypes pay
    one dtype test. `autocast_float32`: under `autocast` the result stays float32 (PyTorch's
    autocast policy for losses)."""
    if fn is None:
        return functools.partial(in_float32, keep=keep, autocast_float32=autocast_float32)
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def run(x, *args, **kwargs):
        if not (isinstance(x, Tensor) and x.dtype.is_reduced):
            return fn(x, *args, **kwargs)
        bound = signature.bind(x, *args, **kwargs)
        for name, value in bound.arguments.items():
            if isinstance(value, Tensor) and value.dtype.is_reduced and name not in keep:
                bound.arguments[name] = cast(value, dtypes.float32)
        out = fn(*bound.args, **bound.kwargs)
        if autocast_float32 and autocast_state.dtype is not None:
            return out
        return cast(out, x.dtype)
    return run


def autocast_inputs(*tensors) -> tuple:
    """Under `autocast`: the float tensors among a product's inputs cast to its low dtype
    (None and non-float inputs pass). Callers test `autocast_state.dtype` first, so products
    outside autocast pay one attribute read. Beside a symbolic input, an eager one (a
    parameter in a graph) is cast by a node of that graph, on every run, not once while the
    graph is built; an eager parameter's cast is made once per autocast region (PyTorch's
    cast cache: a weight used at every step of a loop is cast, and its copy saved, once)."""
    low = autocast_state.dtype
    graph = next((t.graph for t in tensors if isinstance(t, Tensor) and t.kind != EAGER),
                 None)
    return tuple(_autocast(t, low, graph) if isinstance(t, Tensor) and t.dtype.is_floating
                 else t for t in tensors)


def _autocast(t: Tensor, low, graph) -> Tensor:
    if t.dtype is low:
        return t
    if t.kind != EAGER or trace_state.active:   # a node; tracing makes every op a node
        return cast(t, low)
    if graph is not None:
        return apply(Cast(dtype=low), t, graph=graph)
    cache = autocast_state.cache
    if cache is None or not (t.requires_grad and t.is_leaf):
        return cast(t, low)
    key = (id(t), low, grad_mode.enabled)
    hit = cache.get(key)
    if hit is None or hit[0] is not t or hit[1] != t._version[0]:   # new, or written to
        hit = cache[key] = (t, t._version[0], cast(t, low))
    return hit[2]


def where(condition, x, y, name=None) -> Tensor:
    """Elements of x where condition holds, else of y (broadcasting all three)."""
    condition = as_tensor(condition)
    x, y = operands(x, y)
    return apply(shared(Where), condition, x, y, name=name)


def cond_select(t, f, pred, name=None) -> Tensor:
    return apply(shared(CondSelect), as_tensor(t), as_tensor(f), as_tensor(pred), name=name)


def atan2(y, x, name=None, out=None) -> Tensor:
    """The angle of the point (x, y), y first (NumPy, PyTorch and TF1 agree; `tf.atan2(y=,
    x=)` by keyword too)."""
    y, x = operands(y, x)
    return apply(Atan2(), y, x, name=name, out=out)
