"""Elementwise ops: arithmetic, transcendental functions, comparisons, where, cast."""
from __future__ import annotations

import numpy as np

from ..core import dtypes
from ..core.op import Op, apply, as_tensor
from ..core.shapes import broadcast_shapes
from ..core.tensor import Tensor

# ---- dtype rules -----------------------------------------------------------------------


def promote(a: dtypes.DType, b: dtypes.DType) -> dtypes.DType:
    """NumPy's rules within a kind; a float meeting an int or bool wins (PyTorch: int32 *
    float32 -> float32, where NumPy would widen to float64)."""
    if a is b:
        return a
    if a.is_floating != b.is_floating:
        return a if a.is_floating else b
    return dtypes.from_numpy(np.result_type(a.np, b.np))


def check_floating(*tensors) -> None:
    for t in tensors:
        if not t.dtype.is_floating:
            raise TypeError(f"needs floating-point tensors, got {t.dtype.name}")


def float_result(dt: dtypes.DType) -> dtypes.DType:
    """exp/log/... of integers give the default float type, as in PyTorch."""
    return dt if dt.is_floating else dtypes.DEFAULT_FLOAT


def _lift(value, like: Tensor) -> Tensor:
    """A Python number takes the dtype of the tensor it meets ("weak" scalar typing)."""
    if isinstance(value, (bool, int, float, np.number, np.bool_)) and not isinstance(
            value, np.ndarray):
        dt = like.dtype
        if isinstance(value, (float, np.floating)) and not dt.is_floating:
            dt = dtypes.DEFAULT_FLOAT
        elif isinstance(value, (int, np.integer)) and not isinstance(value, bool) and dt.is_bool:
            dt = dtypes.int64
        return Tensor._eager(np.array(value, dtype=dt.np))
    return as_tensor(value)


def operands(x, y) -> tuple[Tensor, Tensor]:
    """Convert the operands of a binary op, letting Python scalars adopt the other's dtype."""
    if isinstance(x, Tensor):
        return x, (y if isinstance(y, Tensor) else _lift(y, x))
    if isinstance(y, Tensor):
        return _lift(x, y), y
    return as_tensor(x), as_tensor(y)


# ---- base classes ----------------------------------------------------------------------

class Unary(Op):
    elementwise = True
    float_only = True  # integer inputs give float outputs

    def infer(self, x):
        return x.shape, (float_result(x.dtype) if self.float_only else x.dtype)


class Binary(Op):
    elementwise = True
    broadcasts = True

    def infer(self, x, y):
        return broadcast_shapes(x.shape, y.shape), promote(x.dtype, y.dtype)


class Compare(Binary):
    differentiable = False

    def infer(self, x, y):
        return broadcast_shapes(x.shape, y.shape), dtypes.bool_

    def jvp(self, tangents, out, x, y):
        return None


def _tsum(*terms):
    """Sum of the non-None terms (None if all are None): zero tangents stay symbolic-free."""
    terms = [t for t in terms if t is not None]
    if not terms:
        return None
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


# ---- arithmetic ------------------------------------------------------------------------

class Add(Binary):
    name = "add"

    def vjp(self, g, out, x, y):
        return g, g

    def jvp(self, t, out, x, y):
        return _tsum(t[0], t[1])


class Sub(Binary):
    name = "sub"

    def vjp(self, g, out, x, y):
        return g, -g

    def jvp(self, t, out, x, y):
        return _tsum(t[0], None if t[1] is None else -t[1])


class Mul(Binary):
    name = "mul"

    def vjp(self, g, out, x, y):
        return g * y, g * x

    def jvp(self, t, out, x, y):
        return _tsum(None if t[0] is None else t[0] * y, None if t[1] is None else x * t[1])


class Div(Binary):
    name = "div"

    def infer(self, x, y):
        return broadcast_shapes(x.shape, y.shape), float_result(promote(x.dtype, y.dtype))

    def vjp(self, g, out, x, y):
        return g / y, -g * out / y

    def jvp(self, t, out, x, y):
        return _tsum(None if t[0] is None else t[0] / y,
                     None if t[1] is None else -t[1] * out / y)


class Pow(Binary):
    name = "pow"

    def vjp(self, g, out, x, y):
        gx = g * y * x ** (y - 1)
        gy = g * out * log(where(x > 0, x, 1))
        return gx, gy

    def jvp(self, t, out, x, y):
        return _tsum(None if t[0] is None else t[0] * y * x ** (y - 1),
                     None if t[1] is None else t[1] * out * log(where(x > 0, x, 1)))


class Atan2(Binary):
    """The angle of the point (x, y): `atan2(y, x)`, first argument y as in NumPy/PyTorch."""
    name = "atan2"

    def infer(self, y, x):
        return broadcast_shapes(y.shape, x.shape), float_result(promote(y.dtype, x.dtype))

    def vjp(self, g, out, y, x):
        r2 = x * x + y * y
        return g * x / r2, -g * y / r2

    def jvp(self, t, out, y, x):
        r2 = x * x + y * y
        return _tsum(None if t[0] is None else t[0] * x / r2,
                     None if t[1] is None else -t[1] * y / r2)


class Remainder(Binary):
    """`x - floor(x / y) * y`, with the sign of y (Python's %, torch.remainder). Piecewise
    `x - k*y` with k constant, so that is the gradient."""
    name = "remainder"

    def _quotient(self, out, x, y):
        q = (x - out) / y               # the integer k of x = k*y + out
        return round(q)                 # exact up to rounding error

    def vjp(self, g, out, x, y):
        return g, -g * self._quotient(out, x, y)

    def jvp(self, t, out, x, y):
        return _tsum(t[0], None if t[1] is None else -t[1] * self._quotient(out, x, y))


class FloorDivide(Binary):
    name = "floor_divide"
    differentiable = False

    def jvp(self, t, out, x, y):
        return None


class Logical(Op):
    """and / or / xor of truth values (any dtype: non-zero is true), giving bools."""
    elementwise = True
    broadcasts = True
    differentiable = False

    def infer(self, x, y):
        return broadcast_shapes(x.shape, y.shape), dtypes.bool_

    def jvp(self, t, out, x, y):
        return None


class LogicalAnd(Logical):
    name = "logical_and"


class LogicalOr(Logical):
    name = "logical_or"


class LogicalXor(Logical):
    name = "logical_xor"


class Maximum(Binary):
    name = "maximum"

    def vjp(self, g, out, x, y):
        share = _share(x > y, x == y, g.dtype)
        return g * share, g * (1 - share)

    def jvp(self, t, out, x, y):
        share = _share(x > y, x == y, out.dtype)
        return _tsum(None if t[0] is None else t[0] * share,
                     None if t[1] is None else t[1] * (1 - share))


class Minimum(Binary):
    name = "minimum"

    def vjp(self, g, out, x, y):
        share = _share(x < y, x == y, g.dtype)
        return g * share, g * (1 - share)

    def jvp(self, t, out, x, y):
        share = _share(x < y, x == y, out.dtype)
        return _tsum(None if t[0] is None else t[0] * share,
                     None if t[1] is None else t[1] * (1 - share))


def _share(wins, ties, dtype):
    """The first argument's share of the gradient: 1 where it wins, 1/2 on ties (as PyTorch)."""
    return cast(wins, dtype) + 0.5 * cast(ties, dtype)


class Neg(Unary):
    name = "neg"
    float_only = False

    def vjp(self, g, out, x):
        return (-g,)

    def jvp(self, t, out, x):
        return -t[0]


class Square(Unary):
    name = "square"
    float_only = False

    def vjp(self, g, out, x):
        return (g * (2 * x),)

    def jvp(self, t, out, x):
        return t[0] * (2 * x)


class Sqrt(Unary):
    name = "sqrt"

    def vjp(self, g, out, x):
        return (g / (2 * out),)

    def jvp(self, t, out, x):
        return t[0] / (2 * out)


class Exp(Unary):
    name = "exp"

    def vjp(self, g, out, x):
        return (g * out,)

    def jvp(self, t, out, x):
        return t[0] * out


class Log(Unary):
    name = "log"

    def vjp(self, g, out, x):
        return (g / x,)

    def jvp(self, t, out, x):
        return t[0] / x


class Log1p(Unary):
    """log(1 + x), accurate where x is tiny (log1p of 1e-10 is 1e-10, log(1 + 1e-10) is not)."""
    name = "log1p"

    def vjp(self, g, out, x):
        return (g / (1 + x),)

    def jvp(self, t, out, x):
        return t[0] / (1 + x)


class Expm1(Unary):
    """exp(x) - 1, accurate where x is tiny."""
    name = "expm1"

    def vjp(self, g, out, x):
        return (g * (out + 1),)

    def jvp(self, t, out, x):
        return t[0] * (out + 1)


class Sin(Unary):
    name = "sin"

    def vjp(self, g, out, x):
        return (g * cos(x),)

    def jvp(self, t, out, x):
        return t[0] * cos(x)


class Cos(Unary):
    name = "cos"

    def vjp(self, g, out, x):
        return (-g * sin(x),)

    def jvp(self, t, out, x):
        return -t[0] * sin(x)


class Tanh(Unary):
    name = "tanh"

    def vjp(self, g, out, x):
        return (g * (1 - out * out),)

    def jvp(self, t, out, x):
        return t[0] * (1 - out * out)


class Sigmoid(Unary):
    name = "sigmoid"

    def vjp(self, g, out, x):
        return (g * (out * (1 - out)),)

    def jvp(self, t, out, x):
        return t[0] * (out * (1 - out))


class Relu(Unary):
    """max(x, 0). Its gradient reads the output (out > 0 exactly where x > 0), which the
    next layer keeps anyway, so x itself can be freed after the forward pass."""
    name = "relu"
    float_only = False
    saves_inputs = False

    def vjp(self, g, out, x):
        return (relu_grad(g, out),)

    def jvp(self, t, out, x):
        return relu_grad(t[0], out)


class ReluGrad(Binary):
    """relu_grad(g, y) = g where y > 0, else 0: relu's backward in one pass (y: its output)."""
    name = "relu_grad"

    def vjp(self, h, out, g, x):
        return relu_grad(h, x), None

    def jvp(self, t, out, g, x):
        return None if t[0] is None else relu_grad(t[0], x)


class Abs(Unary):
    name = "abs"
    float_only = False

    def vjp(self, g, out, x):
        return (g * sign(x),)

    def jvp(self, t, out, x):
        return t[0] * sign(x)


class Erf(Unary):
    name = "erf"
    saves_output = False

    def vjp(self, g, out, x):
        return (g * (_TWO_OVER_SQRT_PI * exp(-(x * x))),)

    def jvp(self, t, out, x):
        return t[0] * (_TWO_OVER_SQRT_PI * exp(-(x * x)))


_TWO_OVER_SQRT_PI = 1.1283791670955126


class Sign(Unary):
    name = "sign"
    float_only = False
    differentiable = False

    def jvp(self, t, out, x):
        return None


class Floor(Unary):
    """Round down; like sign, piecewise constant, so no gradient flows."""
    name = "floor"
    float_only = False
    differentiable = False

    def jvp(self, t, out, x):
        return None


class Ceil(Floor):
    name = "ceil"


class Round(Floor):
    """Round half to even, as NumPy and PyTorch do."""
    name = "round"


class Cast(Op):
    name = "cast"
    elementwise = True

    def infer(self, x):
        return x.shape, self.dtype

    def vjp(self, g, out, x):
        return (cast(g, x.dtype) if x.dtype.is_floating and out.dtype.is_floating else None,)

    def jvp(self, t, out, x):
        return cast(t[0], out.dtype) if out.dtype.is_floating else None


class Where(Op):
    name = "where"
    elementwise = True
    broadcasts = True

    def infer(self, cond, x, y):
        if not cond.dtype.is_bool:
            raise TypeError("the condition must be bool")
        return broadcast_shapes(cond.shape, x.shape, y.shape), promote(x.dtype, y.dtype)

    def vjp(self, g, out, cond, x, y):
        return None, where(cond, g, 0), where(cond, 0, g)

    def jvp(self, t, out, cond, x, y):
        if t[1] is None and t[2] is None:
            return None
        return where(cond, 0 if t[1] is None else t[1], 0 if t[2] is None else t[2])


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

    def jvp(self, t, out, x):
        return None


# ---- the functions users call ----------------------------------------------------------

def relu_grad(g, x, name=None) -> Tensor:
    return apply(ReluGrad(), as_tensor(g), as_tensor(x), name=name)


def _binary(op_cls):
    op = op_cls()  # ops without attributes are immutable: one instance serves every call

    def fn(x, y, name=None, out=None):
        x, y = operands(x, y)
        return apply(op, x, y, name=name, out=out)
    fn.__name__ = op_cls.name
    fn.__doc__ = f"Elementwise {op_cls.name} with NumPy broadcasting (eager: into `out`)."
    return fn


def _unary(op_cls):
    op = op_cls()

    def fn(x, name=None):
        return apply(op, as_tensor(x), name=name)
    fn.__name__ = op_cls.name
    fn.__doc__ = f"Elementwise {op_cls.name}."
    return fn


add = _binary(Add)
subtract = _binary(Sub)
multiply = _binary(Mul)
divide = _binary(Div)
pow = _binary(Pow)
maximum = _binary(Maximum)
minimum = _binary(Minimum)
equal = _binary(Equal)
not_equal = _binary(NotEqual)
less = _binary(Less)
less_equal = _binary(LessEqual)
greater = _binary(Greater)
greater_equal = _binary(GreaterEqual)
atan2 = _binary(Atan2)
remainder = _binary(Remainder)
floor_divide = _binary(FloorDivide)
logical_and = _binary(LogicalAnd)
logical_or = _binary(LogicalOr)
logical_xor = _binary(LogicalXor)

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
floor = _unary(Floor)
ceil = _unary(Ceil)
round = _unary(Round)  # noqa: A001
erf = _unary(Erf)
logical_not = _unary(LogicalNot)


def cast(x, dtype, name=None) -> Tensor:
    x = as_tensor(x)
    dtype = dtypes.as_dtype(dtype)
    if x.dtype is dtype:
        return x
    return apply(Cast(dtype=dtype), x, name=name)


def where(condition, x, y, name=None) -> Tensor:
    """Elements of x where condition holds, else of y (broadcasting all three)."""
    condition = as_tensor(condition)
    x, y = operands(x, y)
    return apply(Where(), condition, x, y, name=name)


def clamp(x, min=None, max=None) -> Tensor:  # noqa: A002
    """Values limited to [min, max]; the gradient passes where min <= x <= max (PyTorch)."""
    x = as_tensor(x)
    if min is not None:
        x = where(x < min, min, x)
    if max is not None:
        x = where(x > max, max, x)
    return x
