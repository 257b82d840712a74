"""In-place Tensor methods (`add_`, `x[i] = v`, `+=`, `fill_`, ...) and PyTorch's `out=`.

Each computes out of place, then `write_inplace` copies the result into the tensor's buffer
and takes over its autograd history (see docs/ARCHITECTURE.md, "The flow of one backward()").
"""
from __future__ import annotations

import functools
import warnings

import numpy as np

from .. import ops
from ..autodiff.tape import (OVERLAP, overlaps, refuse_symbolic, view_inplace,
                              writable_memory, write_inplace)
from ..core.dtypes import float_info, promote, weak_scalar
from ..core.errors import out_needs_grad_error
from ..core.modes import TRACING_THREADS, grad_mode, trace_state
from ..core.op import apply, fit_out
from ..core.random import check_draw_range, python_draws, refuse_integers
from ..core.tensor import EAGER, REMOTE, Tensor
from ..ops.fused import FusedElementwise
from ..ops.math import Add, Mul, Sub


def _old_overload(name: str, other, alpha) -> tuple:
    """(other, alpha) of PyTorch's deprecated `add_(Number alpha, Tensor other)`, which old
    programs' hand-written SGD steps call (`p.data.add_(-lr, p.grad.data)`), with its
    warning; other calls pass through."""
    if isinstance(alpha, Tensor) and not isinstance(other, Tensor):
        warnings.warn(f"{name}(alpha, other), the number first, is deprecated; write "
                      f"{name}(other, alpha=alpha)", UserWarning, stacklevel=3)
        return alpha, other
    return other, alpha


def add_(x, other, alpha=1):
    if isinstance(alpha, Tensor):   # (not a frame for every `p -= lr * g`)
        other, alpha = _old_overload("add_", other, alpha)
    if _into_own_buffer(x, other):
        if alpha == 1:
            return ops.add(x, other, out=x)
        if _scaled_in_one_pass(x, other, alpha):
            return apply(_ADD_SCALED, x, other, _alpha(x, alpha), out=x)
    if alpha == 1 and type(alpha) is int:   # `loss += l`: x.add's own test, one frame fewer
        return write_inplace(x, ops.add(x, other))
    return write_inplace(x, x.add(other, alpha=alpha))


def sub_(x, other, alpha=1):
    if isinstance(alpha, Tensor):   # (not a frame for every `p -= lr * g`)
        other, alpha = _old_overload("sub_", other, alpha)
    if _into_own_buffer(x, other):
        if alpha == 1:
            return ops.subtract(x, other, out=x)
        if _scaled_in_one_pass(x, other, alpha):
            return apply(_SUB_SCALED, x, other, _alpha(x, alpha), out=x)
    return write_inplace(x, x.sub(other, alpha=alpha))


# x + other * alpha (x - other * alpha) as one fused elementwise op writing x: a hand-written
# SGD step's `p.add_(p.grad, alpha=-lr)` reads p and g and writes p once, where the product,
# the sum and the copy back made seven passes over the parameter (word_language_model's
# 33278 x 200 embedding and decoder weights)
_ADD_SCALED, _SUB_SCALED = (
    FusedElementwise(members=(Mul(), combine()), args=((1, 2), (0, 3)), num_inputs=3)
    for combine in (Add, Sub))


def _scaled_in_one_pass(x, other, alpha) -> bool:
    """Whether `_ADD_SCALED` may write x: float x (`times_alpha`'s checks are for integer
    and bool results), a number alpha, and `other` a tensor that is x itself or shares no
    memory with it (the fused loop reads each element just before writing it)."""
    return (x.dtype.is_floating and isinstance(other, Tensor) and type(alpha) in (int, float)
            and (other.array is x.array or not np.may_share_memory(x.array, other.array)))


def _alpha(x, alpha) -> Tensor:
    """alpha as a 0-d tensor of x's dtype (as `other * alpha` takes a Python number)."""
    return Tensor._eager(np.asarray(alpha, x.dtype.np))


def mul_(x, other):
    if _into_own_buffer(x, other):
        return ops.multiply(x, other, out=x)
    return write_inplace(x, x * other)


def div_(x, other):
    if x.dtype.is_floating and _into_own_buffer(x, other):
        return ops.divide(x, other, out=x)
    return write_inplace(x, x / other)


def pow_(x, exponent): return write_inplace(x, x ** exponent)
def neg_(x): return write_inplace(x, -x)
def relu_(x): return write_inplace(x, ops.relu(x))
def clamp_(x, min=None, max=None): return write_inplace(x, x.clamp(min, max))  # noqa: A002
def masked_fill_(x, mask, value):
    check_fill(value, x.dtype)
    if fill_shared(x, mask, value, "masked_fill_"):
        return x
    return write_inplace(x, x.masked_fill(mask, value))
def zero_(x): return fill_(x, 0)


def detach_(x):
    """Cut x from the graph that made it, in place: a leaf that does not require grad."""
    if x.kind != EAGER:
        if trace_state.active is not None:   # (eager code cuts the history it recorded)
            trace_state.active.graph_break("detach_() of a traced tensor")
        raise TypeError(f"detach_() needs an eager tensor; {x.name} is symbolic")
    x._op, x.inputs, x.requires_grad, x._saved = None, (), False, None
    x.__dict__.pop("_earlier", None)   # its stand-ins (autodiff/tape.py) go with the history
    return x


# PyTorch's in-place view ops: x itself becomes the view (`target.unsqueeze_(-1)` in the
# char-RNN tutorials), through the out-of-place method, whose checks and errors it keeps
def unsqueeze_(x, dim): return view_inplace(x, lambda t: t.unsqueeze(dim), "unsqueeze_")
def squeeze_(x, *dim): return view_inplace(x, lambda t: t.squeeze(*dim), "squeeze_")
def t_(x): return view_inplace(x, lambda t: t.t(), "t_")
def transpose_(x, dim0, dim1):
    return view_inplace(x, lambda t: t.transpose(dim0, dim1), "transpose_")
def swapdims_(x, dim0, dim1):
    return view_inplace(x, lambda t: t.transpose(dim0, dim1), "swapdims_")
def as_strided_(x, size, stride, storage_offset=None):
    return view_inplace(x, lambda t: t.as_strided(size, stride, storage_offset), "as_strided_")


def copy_(x, src):
    src = src if isinstance(src, Tensor) else Tensor._eager(np.asarray(src))
    return write_inplace(x, src.to(x.dtype))


def check_fill(value, dtype) -> None:
    """PyTorch refuses a fill value its dtype cannot hold (`-torch.inf` or NaN into integers,
    300 into int8, 1e5 into float16) where a cast would write INT_MIN, a wrapped int or inf."""
    if value == 0 or type(value) not in (int, float) or not (
            dtype.is_integer or dtype.is_floating and not dtype.is_fp8):
        return
    if dtype.is_floating and (value != value or value in (np.inf, -np.inf)):
        return
    info = np.iinfo(dtype.np) if dtype.is_integer else float_info(dtype)
    low = -info.max if info.min == 0 else info.min     # unsigned: down to -max wraps, as torch
    if not float(low) <= value <= float(info.max):     # NaN fails too
        raise RuntimeError(f"value cannot be converted to type {dtype.name} without overflow")


def fill_(x, value):
    check_fill(value, x.dtype)
    if isinstance(value, (bool, int, float)) and (_outside_autograd(x) or _one_memory_fill(x)):
        # `p.grad.zero_()` in every training loop: no temporary (an expand's memory too)
        writable_memory(x.array, one_value=True).fill(value)
        x._version[0] += 1
        return x
    return write_inplace(x, Tensor._eager(np.full(shape_to_fill("fill_", x), value,
                                                  x.dtype.np)))


def shape_to_fill(name: str, x) -> tuple:
    """x's shape, for values made in Python to write into it (a graph tensor refused)."""
    refuse_symbolic(x, name)
    return tuple(x.shape)


def normal_(x, mean=0.0, std=1.0):
    refuse_integers("normal_", x.dtype)
    return _drawn(x, "normal_", lambda rng, shape: rng.normal(mean, std, shape))


def uniform_(x, a=0.0, b=1.0):
    refuse_integers("uniform_", x.dtype)
    return _drawn(x, "uniform_", lambda rng, shape: rng.uniform(a, b, shape))


def _positive(name: str, what: str, value) -> None:
    if not value > 0:
        raise RuntimeError(f"{name}: expects {what} > 0.0, but found {what}={value}")


def exponential_(x, lambd=1.0):
    refuse_integers("exponential_", x.dtype)
    _positive("exponential_", "lambda", lambd)
    return _drawn(x, "exponential_", lambda rng, shape: rng.exponential(1.0 / lambd, shape))


def log_normal_(x, mean=1.0, std=2.0):
    refuse_integers("log_normal_", x.dtype)
    _positive("log_normal_", "std", std)
    return _drawn(x, "log_normal_", lambda rng, shape: rng.lognormal(mean, std, shape))


def cauchy_(x, median=0.0, sigma=1.0):
    refuse_integers("cauchy_", x.dtype)
    _positive("cauchy_", "sigma", sigma)
    return _drawn(x, "cauchy_", lambda rng, shape: median + sigma * rng.standard_cauchy(shape))


def geometric_(x, p):
    """The number of Bernoulli(p) trials up to the first success (1, 2, ...)."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_: expects p in (0, 1), got {p}")
    return _drawn(x, "geometric_", lambda rng, shape: rng.geometric(p, shape))


def random_(x, from_or_to=None, to=None, *, generator=None, **kwargs):
    """Integers drawn uniformly from [from, to): `random_(to)` starts at 0; without `to`, up
    to the largest integer x's dtype holds exactly (2^24 for float32, as PyTorch)."""
    low = kwargs.pop("from", None)   # (`from` is a Python keyword: only as **{"from": 2})
    if kwargs:
        raise TypeError(f"random_() got an unexpected keyword argument {next(iter(kwargs))!r}")
    if from_or_to is not None and to is None and low is None:
        low, to = 0, from_or_to
    elif low is None:
        low = 0 if from_or_to is None else from_or_to
    if to is None:
        to = (2 ** (float_info(x.dtype).nmant + 1) + 1 if x.dtype.is_floating
              else 2 if x.dtype.is_bool else int(np.iinfo(x.dtype.np).max) + 1)
    if low >= to:
        raise RuntimeError(f"random_: expects 'from' < 'to', got from={low} >= to={to}")
    check_draw_range("random_", low, to, x.dtype)
    return _drawn(x, "random_", lambda rng, shape: rng.integers(low, to - 1, shape,
                                                                endpoint=True),
                  None if generator is None else generator.rng)


def _drawn(x, name: str, draw, rng=None):
    """x takes the values `draw(generator, shape)` gives (in its dtype), in place."""
    shape = shape_to_fill(name, x)
    return write_inplace(x, Tensor._eager(draw(python_draws(name, rng), shape).astype(
        x.dtype.np)))


def fill_diagonal_(x, fill_value, wrap: bool = False):
    """Write fill_value on the main diagonal (all dims of equal size past 2-D); a tall
    matrix's diagonal restarts every N + 1 rows with `wrap=True`, as NumPy's."""
    if x.ndim < 2 or x.ndim > 2 and len(set(x.shape)) > 1:
        raise RuntimeError(f"fill_diagonal_: dimensions must be at least 2 and all of equal "
                           f"length past 2, got shape {list(x.shape)}")
    mask = np.zeros(shape_to_fill("fill_diagonal_", x), bool)
    np.fill_diagonal(mask, True, wrap=wrap)
    return masked_fill_(x, Tensor._eager(mask), fill_value)


def setitem_(x, index, value) -> None:
    """`x[index] = value`. Into a view whose elements share memory (an expand), only the
    indexed region is written, as PyTorch does (refused if the region itself shares; a
    boolean mask and one value: filled, as `masked_fill_`)."""
    if (isinstance(index, Tensor) and index.dtype.is_bool and index.kind == EAGER
            and tuple(index.shape) == tuple(x.shape[:index.ndim]) and fill_shared(
                x, index.numpy().reshape(tuple(index.shape) + (1,) * (x.ndim - index.ndim)),
                value, "index_put_")):
        return   # the mask indexes x's leading dims
    if x.kind == EAGER and _shares_memory_within(x.array):
        region = x.array[_as_view_index(index)]  # advanced indexing copies: refused below
        if not np.shares_memory(region, x.array) or (
                grad_mode.enabled and (x.requires_grad or getattr(value, "requires_grad",
                                                                  False))):
            raise RuntimeError(OVERLAP)
        value = value.numpy(force=True) if isinstance(value, Tensor) else value
        writable_memory(region)[...] = np.asarray(value, x.dtype.np)
        x._version[0] += 1
        return
    steps = ops.shape.torch_index_steps(index)
    if steps is None and _outside_autograd(x) and not (
            isinstance(value, Tensor) and (value.kind != EAGER or value.requires_grad
                                           and grad_mode.enabled)):
        result = ops.setitem(x, index, value, out=x)   # only the indexed elements
        if result is not x:
            write_inplace(x, result)
        return
    if steps is not None:   # PyTorch's order: x[ints][arrays] = value
        part = ops.getitem(ops.copy(x), steps[0])   # not a view of x: written below
        value = ops.setitem(part, steps[1], value)
        index = steps[0]
    write_inplace(x, ops.setitem(x, index, value))


def fill_shared(x, mask, value, what: str) -> bool:
    """One value written where `mask` (broadcast to x) is True, into an expand's shared
    memory, outside autograd: PyTorch allows it for index_fill_, masked_fill_ and
    `x[mask] = v` (with a deprecation warning; every element sharing a written location
    sees the value). False, doing nothing, for any other tensor or value."""
    if isinstance(value, Tensor):
        if value.ndim or value.kind != EAGER:
            return False
        value = value.item()
    if not isinstance(value, (bool, int, float)) or not _one_memory_fill(x):
        return False
    where = mask.numpy() if isinstance(mask, Tensor) else np.asarray(mask)
    warnings.warn(f"{what} writes into an expanded tensor, whose elements share memory "
                  f"(deprecated in PyTorch); clone() it first", UserWarning, stacklevel=3)
    writable_memory(x.array, one_value=True)[np.broadcast_to(where, x.shape)] = value
    x._version[0] += 1
    return True


def _one_memory_fill(x) -> bool:
    """A number written into an expand of a tensor outside autograd: PyTorch allows it
    (one value, whatever the order of the writes)."""
    return (x.kind == EAGER and trace_state.active is None and _shares_memory_within(x.array)
            and not (grad_mode.enabled and (x.requires_grad or (x._base is not None and x._base.requires_grad))))


def _as_view_index(index):
    """index, ending in `...` so that NumPy gives a (0-d) view where it would a scalar."""
    index = index if isinstance(index, tuple) else (index,)
    return index if any(i is Ellipsis for i in index) else index + (Ellipsis,)


def _shares_memory_within(array) -> bool:
    """Read-only views whose elements share memory: expands, overlapping unfold windows."""
    return not array.flags.writeable and overlaps(array)


# `x += y` writes into x when eager; on a symbolic tensor it is `x = x + y` (as in TF1)
def iadd(x, other): return add_(x, other) if _writes_in_place(x) else x + other
def isub(x, other): return sub_(x, other) if _writes_in_place(x) else x - other
def imul(x, other): return mul_(x, other) if _writes_in_place(x) else x * other
def itruediv(x, other): return div_(x, other) if _writes_in_place(x) else x / other


def _augmented(operator: str):
    """`x &= y`, `x <<= y`, ...: written into x when eager (its views see it, as PyTorch's),
    `x = x & y` on a symbolic tensor."""
    def method(x, other):
        result = getattr(x, operator)(other)
        return write_inplace(x, result) if _writes_in_place(x) else result
    method.__name__ = method.__qualname__ = operator.replace("__", "__i", 1)
    return method


_HELD = (EAGER, REMOTE)   # tensors with a value (not `is_symbolic`, without its frame)


def _writes_in_place(x) -> bool:
    """Whether `x += y` writes x (PyTorch) or rebinds the name to `x + y` (TF1's graph
    tensors). A tensor of the function `tinyflow.compile` is tracing stands for an eager
    one: it is written, so the compiled call writes its argument as the eager call does."""
    return x.kind in _HELD or (TRACING_THREADS and trace_state.active is not None
                               and x.graph is trace_state.active.graph)


def _outside_autograd(x) -> bool:
    """Whether an in-place write into x needs none of `write_inplace`'s autograd work (no
    history to take over, no leaf to refuse, no trace to record): then it may go straight
    into x's buffer. A view qualifies when its base takes no part in autograd either
    (`x[:, :10] *= 0` on a clone): a base gains history only by requiring grad. A read-only
    view (an expand) goes to `write_inplace`, which writes it or refuses as PyTorch does."""
    return x.kind == EAGER and not (TRACING_THREADS and trace_state.active is not None) and (
        x._base is None or x.array.flags.writeable) and not (
        grad_mode.enabled and (x.requires_grad or x._base is not None and x._base.requires_grad))


def _into_own_buffer(x, other) -> bool:
    """Whether `x op= other` may run as the op with out=x (a kernel writing x's buffer,
    no temporary, no copy): outside autograd, and the result has x's shape and dtype (else
    `write_inplace` gives PyTorch's error)."""
    if not _outside_autograd(x):
        return False
    if isinstance(other, Tensor):
        return (other.kind == EAGER and other.dtype is x.dtype
                and not (other.requires_grad and grad_mode.enabled)
                and (other.shape == x.shape or _broadcasts_into(other.shape, x.shape)))
    if isinstance(other, (bool, int, float)):
        return promote(x.dtype, weak_scalar(other, x.dtype)) is x.dtype
    return False


def _broadcasts_into(shape: tuple, target: tuple) -> bool:
    if shape == target:   # the common case: no per-dim comparison
        return True
    if len(shape) > len(target):
        return False
    return all(a == b or a == 1 for a, b in zip(reversed(shape), reversed(target)))


def write_out(result: Tensor, out) -> Tensor:
    """`out=`: write the result into an existing tensor (outside autograd, as PyTorch); a
    (values, indices) result into a pair of tensors."""
    if out is None:
        return result
    if isinstance(result, tuple):
        if not isinstance(out, (tuple, list)) or len(out) != len(result):
            raise TypeError(f"out=: the result is {len(result)} tensors; give a tuple of "
                            f"{len(result)} tensors")
        return type(result)(*map(write_out, result, out))
    if result.requires_grad or out.requires_grad and grad_mode.enabled:
        raise out_needs_grad_error("out=")
    if result.kind != EAGER and trace_state.active is None:
        raise TypeError(f"out= writes eager tensors; {result.name} is symbolic (a graph "
                        f"tensor): drop out= and run the graph")
    fit_out("out=", out, result.shape, result.dtype)
    return copy_(out, result.detach())


def with_out(function):
    """`function` with PyTorch's `out=` (one frame more: for functions composed of ops; an
    op function takes `out=` itself, through `apply`)."""
    @functools.wraps(function)
    def writing_out(*args, out=None, **kwargs):
        return write_out(function(*args, **kwargs), out)
    return writing_out


# `x.abs_()` and the like: the method's out-of-place result written into x (looked up when
# called, so each table keeps its own methods); only methods whose result has x's shape
SAME_SHAPE = """abs sqrt rsqrt square exp exp2 expm1 log log2 log10 log1p sigmoid tanh
sin cos tan sinh cosh asin acos atan asinh acosh atanh arcsin arccos arctan arcsinh arccosh
arctanh atan2 floor ceil round trunc fix frac sign sgn reciprocal clamp_min clamp_max
clip erf erfc erfinv lgamma digamma i0 logit xlogy hypot copysign heaviside sinc gcd lcm
nextafter
nan_to_num deg2rad rad2deg addcmul addcdiv lerp tril triu fmod remainder cumsum cumprod
logical_not logical_and logical_or logical_xor negative multiply divide subtract
floor_divide eq ne lt le gt ge greater greater_equal less less_equal not_equal
bitwise_and bitwise_or bitwise_xor bitwise_not bitwise_left_shift bitwise_right_shift
absolute arctan2 true_divide addmm addmv baddbmm""".split()


def float_power_(x, exponent):
    """float_power's result is float64 whatever the base: PyTorch refuses to write it into
    a base of another dtype rather than round it."""
    if x.dtype.name != "float64":
        raise RuntimeError(f"the base given to float_power_ has dtype {x.dtype.name} but the "
                           f"operation's result requires dtype float64")
    return write_inplace(x, x.float_power(exponent))


def _in_place_of(name: str):
    def method(self, *args, **kwargs):
        return write_inplace(self, getattr(self, name)(*args, **kwargs))
    method.__name__ = method.__qualname__ = name + "_"
    method.__doc__ = f"In-place {name}."
    return method


METHODS = {
    **{name + "_": _in_place_of(name) for name in SAME_SHAPE}, "float_power_": float_power_,
    "add_": add_, "sub_": sub_, "mul_": mul_, "div_": div_, "pow_": pow_, "neg_": neg_,
    "relu_": relu_, "clamp_": clamp_, "detach_": detach_, "masked_fill_": masked_fill_, "copy_": copy_,
    "zero_": zero_, "fill_": fill_, "normal_": normal_, "uniform_": uniform_,
    "exponential_": exponential_, "log_normal_": log_normal_, "cauchy_": cauchy_,
    "geometric_": geometric_, "random_": random_, "fill_diagonal_": fill_diagonal_,
    "__setitem__": setitem_, "unsqueeze_": unsqueeze_, "squeeze_": squeeze_, "t_": t_,
    "transpose_": transpose_, "swapdims_": swapdims_, "swapaxes_": swapdims_,
    "as_strided_": as_strided_,
    "__iadd__": iadd, "__isub__": isub, "__imul__": imul, "__itruediv__": itruediv,
    **{f"__i{name}__": _augmented(f"__{name}__") for name in ("and", "or", "xor", "lshift",
                                                              "rshift", "floordiv", "mod")},
}
