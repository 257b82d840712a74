"""Making eager tensors: PyTorch's `tensor`, `randn`, `arange`, `x.new_zeros`, ...; TF1's
`constant`; and `zeros`/`ones`, which accept both spellings (`zeros_like`, which means a
graph node on a TF1 tensor, is in shared_names.py)."""
from __future__ import annotations

import functools
import json

import numpy as np

from ..core import dtypes
from ..core.graph import control_graph
from ..core.op import apply
from ..core.op import as_tensor as _wrap
from ..core.modes import trace_state
from ..core.random import check_draw_range, python_draws, refuse_integers
from ..core.shapes import as_shape
from ..core.tensor import Tensor, new_eager
from ..ops.creation import RandomNormal, RandomUniform, fill as _fill, tf1_constant
from ..ops.shape import Copy
from .dtype import check_device
from .inplace import check_fill, copy_, shape_to_fill, write_out
from .movement import size_args


def tensor(data, dtype=None, device=None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new eager tensor holding a copy of `data` (PyTorch's `torch.tensor`)."""
    check_device(device)
    arr = data.numpy(force=True) if isinstance(data, Tensor) else data
    dtype = None if dtype is None else dtypes.torch_dtype(dtype)
    t = _wrap(np.array(arr, dtype=None if dtype is None else dtype.np), dtype)
    if t.dtype is dtypes.float64 and dtype is None and not _holds_doubles(arr):
        t = Tensor._eager(t.array.astype(dtypes.DEFAULT_FLOAT.np))  # Python floats
    if requires_grad:
        if not t.dtype.is_floating:
            raise RuntimeError("only floating-point tensors can require gradients")
        t.requires_grad = True
    return t


def _holds_doubles(data) -> bool:
    """Whether `data` is, or holds, NumPy float64 values (an array, `np.float64(1.5)`, a
    list with one): PyTorch keeps float64 for those, where Python floats give float32."""
    if isinstance(data, (np.ndarray, np.generic)):
        return data.dtype == np.float64
    if isinstance(data, (list, tuple)):
        return any(_holds_doubles(item) for item in data if type(item) is not float)
    return False


def constant(value, dtype=None, shape=None, name=None) -> Tensor:
    """TF1 `tf.constant`: `value` converted to `dtype` (Python ints: int32, as TF1),
    broadcast to `shape` if given."""
    t = tf1_constant(value, dtype)
    if shape is not None:
        shape = as_shape(shape)
        if t.array.size == 1:
            t = Tensor._eager(np.full(shape, t.array.reshape(()), dtype=t.array.dtype))
        elif t.array.size != int(np.prod(shape)):
            raise ValueError(f"constant: {t.array.size} values cannot fill shape {shape}")
        else:
            t = Tensor._eager(t.array.reshape(shape))
    graph = control_graph()   # in a control_dependencies block: a node run after its inputs
    return t if graph is None else apply(Copy(), t, graph=graph, name=name or "Const")


def _shape_args(args, size=None, device=None):
    """`zeros(2, 3)` (PyTorch), `zeros(size=(2, 3))`, `zeros((2, 3))` and
    `zeros([2, 3], tf.float32)` (TF1); checks PyTorch's `device=` on the way."""
    check_device(device)
    if size is not None:
        if args and not isinstance(args[0], (str, dtypes.DType)) and args[0] is not None:
            raise TypeError(f"size given both as positional {args} and as size={size}")
        return tuple(size_args((size,))), args
    if args and isinstance(args[0], (list, tuple)):
        return tuple(args[0]), args[1:]
    dims = []
    rest = list(args)
    while rest and isinstance(rest[0], (int, np.integer)):
        dims.append(int(rest.pop(0)))
    return tuple(dims), tuple(rest)


IGNORED = {"layout", "pin_memory", "memory_format"}


def ignored_options(fn: str, options: dict) -> None:
    """PyTorch's memory options have no meaning here (one strided CPU layout); any other
    keyword is a mistake and is refused, never silently ignored."""
    if not options:
        return
    unknown = sorted(set(options) - IGNORED)
    if unknown:
        raise TypeError(f"{fn}() got an unexpected keyword argument {unknown[0]!r}")


def dtype_or(dtype, default=None) -> dtypes.DType:
    """`dtype`, else `default`, else the default float dtype."""
    if dtype is not None:
        return dtypes.torch_dtype(dtype)
    return default if default is not None else dtypes.DEFAULT_FLOAT


def leaf(arr: np.ndarray, requires_grad: bool, dtype=None) -> Tensor:
    """A new tensor of `arr` (`dtype`: its dtype, when the caller knows it)."""
    t = Tensor._eager(arr) if dtype is None else new_eager(arr, dtype)
    if requires_grad:
        if not t.dtype.is_floating:
            raise RuntimeError("only floating-point tensors can require gradients")
        t.requires_grad = True
    return t


def writes_out(factory):
    """PyTorch's `out=` for a factory: the values are made in out's dtype (a `dtype=` that
    differs from it is refused, as PyTorch refuses it) and written into `out`."""
    @functools.wraps(factory)
    def into_out(*args, out=None, **kwargs):
        if out is None:
            return factory(*args, **kwargs)
        dtype = kwargs.get("dtype")
        if dtype is not None and dtypes.torch_dtype(dtype) is not out.dtype:
            raise RuntimeError(f"{factory.__name__}: dtype {dtypes.torch_dtype(dtype).name} "
                               f"does not match out's dtype {out.dtype.name}")
        return write_out(factory(*args, **dict(kwargs, dtype=out.dtype)), out)
    return into_out


def _filled(fill, args, dtype, requires_grad, size=None, device=None):
    if args and (isinstance(args[0], Tensor) or isinstance(args[0], (list, tuple)) and any(
            isinstance(d, Tensor) for d in args[0])):   # TF1: a shape known when run
        dtype = args[1] if len(args) > 1 else dtype
        return _fill(args[0], np.full((), fill, dtype_or(dtype).np))
    shape, rest = _shape_args(args, size, device)
    if rest:
        dtype = rest[0]
    dt = dtype_or(dtype)
    values = np.zeros(shape, dt.np) if fill == 0 else np.full(shape, fill, dt.np)
    return leaf(values, requires_grad, None if dt is dtypes.string else dt)   # (refused)


@writes_out
def zeros(*shape, size=None, dtype=None, name=None, device=None, requires_grad=False,
          **options) -> Tensor:
    """`torch.zeros(2, 3)`, `torch.zeros(size=(2, 3))`, `tf.zeros([2, 3], tf.int32)`,
    `tf.zeros(shape=[2, 3])` (TF1's keyword is `shape`)."""
    shape = _keyword_shape(shape, options.pop("shape", None))
    ignored_options("zeros", options)
    return _filled(0, shape, dtype, requires_grad, size, device)


@writes_out
def ones(*shape, size=None, dtype=None, name=None, device=None, requires_grad=False,
         **options) -> Tensor:
    shape = _keyword_shape(shape, options.pop("shape", None))
    ignored_options("ones", options)
    return _filled(1, shape, dtype, requires_grad, size, device)


def _keyword_shape(dims: tuple, shape) -> tuple:
    """TF1's `shape=` keyword as the positional form (given both: a TypeError as Python's)."""
    if shape is None:
        return dims
    if dims and not isinstance(dims[0], dtypes.DType):
        raise TypeError("got the shape both as an argument and as shape=")
    return (tuple(shape),) + dims


@writes_out
def empty(*shape, size=None, dtype=None, device=None, requires_grad=False,
          **options) -> Tensor:
    ignored_options("empty", options)
    return _filled(0, shape, dtype, requires_grad, size, device)


@writes_out
def full(size, fill_value, dtype=None, device=None, requires_grad=False, **options) -> Tensor:
    ignored_options("full", options)
    check_device(device)
    if dtype is None:
        dtype = dtypes.int64 if isinstance(fill_value, (bool, int)) else None
        dtype = dtypes.bool_ if isinstance(fill_value, bool) else dtype
    check_fill(fill_value, dtype_or(dtype))
    return leaf(np.full(tuple(size), fill_value, dtype=dtype_or(dtype).np), requires_grad)


def full_like(x, fill_value, dtype=None, device=None, requires_grad=False,
              **options) -> Tensor:
    ignored_options("full_like", options)
    check_device(device)
    check_fill(fill_value, dtype_or(dtype, x.dtype))
    return leaf(np.full(x.shape, fill_value, dtype_or(dtype, x.dtype).np), requires_grad)


@writes_out
def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False,
           **options) -> Tensor:
    ignored_options("arange", options)
    check_device(device)
    if end is None:
        start, end = 0, start
    is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    dt = dtype_or(dtype, dtypes.int64 if is_int else None)
    return leaf(np.arange(start, end, step).astype(dt.np), requires_grad)


@writes_out
def linspace(start, end, steps, dtype=None, device=None, requires_grad=False,
             **options) -> Tensor:
    ignored_options("linspace", options)
    check_device(device)
    return leaf(np.linspace(start, end, int(steps)).astype(dtype_or(dtype).np), requires_grad)


@writes_out
def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False,
             **options) -> Tensor:
    """`steps` values from base**start to base**end, evenly spaced in the exponent."""
    ignored_options("logspace", options)
    check_device(device)
    values = np.logspace(start, end, int(steps), base=base)
    return leaf(values.astype(dtype_or(dtype).np), requires_grad)


@writes_out
def eye(n, m=None, dtype=None, device=None, requires_grad=False, **options) -> Tensor:
    ignored_options("eye", options)
    check_device(device)
    return leaf(np.eye(n, m, dtype=dtype_or(dtype).np), requires_grad)


@writes_out
def randn(*size_, size=None, dtype=None, device=None, requires_grad=False, generator=None,
          **options) -> Tensor:
    ignored_options("randn", options)
    shape, _ = _shape_args(size_, size, device)
    dt = _random_float("randn", dtype)
    if _traced(generator, requires_grad, shape):
        return apply(RandomNormal(shape=shape, mean=0.0, stddev=1.0, dtype=dt,
                                  truncated=False))
    return leaf(_rng(generator, "randn").standard_normal(shape).astype(dt.np), requires_grad)


@writes_out
def rand(*size_, size=None, dtype=None, device=None, requires_grad=False, generator=None,
         **options) -> Tensor:
    ignored_options("rand", options)
    shape, _ = _shape_args(size_, size, device)
    dt = _random_float("rand", dtype)
    if _traced(generator, requires_grad, shape):
        return apply(RandomUniform(shape=shape, minval=0.0, maxval=1.0, dtype=dt))
    return leaf(_rng(generator, "rand").random(shape).astype(dt.np), requires_grad)


def _traced(generator, requires_grad: bool, shape: tuple) -> bool:
    """Whether a draw is a node of the graph `tinyflow.compile` traces, drawn from the global
    generator on every run as the eager call draws (its kernel draws the same numbers). Of a
    symbolic size, a TypeError: the compile then specializes the sizes, as for other code
    that needs a size as a number."""
    if trace_state.active is None or generator is not None or requires_grad:
        return False
    if any(d is None for d in shape):
        raise TypeError(f"a random draw of shape {shape}: its size is symbolic")
    return True


def _random_float(name: str, dtype) -> dtypes.DType:
    """The dtype of rand / randn's floats; an integer or bool dtype is refused, as PyTorch
    refuses it (its values would be all zeros, or all False, after the cast)."""
    dt = dtype_or(dtype)
    refuse_integers(name, dt)
    return dt


@writes_out
def randint(low, high=None, size=None, dtype=None, generator=None, device=None,
            **options) -> Tensor:
    ignored_options("randint", options)
    check_device(device)
    if isinstance(high, (tuple, list)) and size is None:   # randint(high, size)
        low, high, size = 0, low, high
    if size is None:
        raise TypeError("randint() missing the size argument (a tuple of ints)")
    if high is None:
        low, high = 0, low
    dt = dtype_or(dtype, dtypes.int64)
    check_draw_range("randint", low, high, dt)
    arr = _rng(generator, "randint").integers(low, high, size=tuple(size))   # (int64 draws)
    return new_eager(arr.astype(dt.np, copy=False), dt)


def randn_like(x, dtype=None, device=None, requires_grad=False, **options) -> Tensor:
    ignored_options("randn_like", options)
    return randn(size=x.shape, dtype=dtype or x.dtype, device=device,
                 requires_grad=requires_grad)


def rand_like(x, dtype=None, device=None, requires_grad=False, **options) -> Tensor:
    ignored_options("rand_like", options)
    return rand(size=x.shape, dtype=dtype or x.dtype, device=device,
                requires_grad=requires_grad)


def torch_normal(mean, std=1.0, size=None, *, generator=None, out=None, dtype=None,
                 device=None, requires_grad=False) -> Tensor:
    """`torch.normal`: draws of N(mean, std^2); mean and std numbers (then `size` is
    required) or tensors, broadcast together."""
    check_device(device)
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    if not tensors and size is None:
        raise TypeError("normal(): with a float mean and std, give the size (a tuple of ints)")
    if any(not t.dtype.is_floating for t in tensors):
        raise RuntimeError("normal expects floating-point mean and std tensors")
    dt = dtypes.torch_dtype(dtype) if dtype is not None else (
        tensors[0].dtype if tensors else dtypes.DEFAULT_FLOAT)
    m = mean.numpy(force=True) if isinstance(mean, Tensor) else np.asarray(mean, np.float64)
    s = std.numpy(force=True) if isinstance(std, Tensor) else np.asarray(std, np.float64)
    if np.any(s < 0):
        raise RuntimeError(f"normal: std must be >= 0, got {float(np.min(s))}")
    shape = tuple(size_args((size,))) if size is not None else np.broadcast_shapes(m.shape,
                                                                                   s.shape)
    draws = m + s * _rng(generator, "normal").standard_normal(shape)
    return write_out(leaf(draws.astype(dt.np), requires_grad), out)


def bernoulli_(x, p=0.5, *, generator=None) -> Tensor:
    """In-place: x holds 0/1 draws, 1 with probability p (a number or a tensor)."""
    prob = p.numpy() if isinstance(p, Tensor) else p
    shape = shape_to_fill("bernoulli_", x)
    draws = _rng(generator, "bernoulli_").random(shape) < np.broadcast_to(prob, shape)
    return copy_(x, Tensor._eager(draws.astype(x.dtype.np)))


@writes_out
def randperm(n, dtype=None, generator=None, device=None, **options) -> Tensor:
    ignored_options("randperm", options)
    check_device(device)
    return Tensor._eager(_rng(generator, "randperm").permutation(n).astype(
        dtype_or(dtype, dtypes.int64).np))


def get_rng_state() -> Tensor:
    """The global generator's state as a uint8 tensor (its NumPy bit generator's state, as
    JSON), for `set_rng_state`: a run resumed from a checkpoint draws what it would have."""
    state = json.dumps(python_draws("get_rng_state").bit_generator.state).encode()
    return Tensor._eager(np.frombuffer(state, np.uint8).copy())


def set_rng_state(new_state) -> None:
    """Put the global generator back in a state `get_rng_state` returned."""
    data = new_state.numpy() if isinstance(new_state, Tensor) else np.asarray(new_state)
    if data.dtype != np.uint8 or data.ndim != 1:
        raise TypeError(f"set_rng_state expects the uint8 tensor get_rng_state returned, got "
                        f"{data.dtype} of shape {data.shape}")
    try:
        state = json.loads(data.tobytes().decode())
        python_draws("set_rng_state").bit_generator.state = state
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"set_rng_state: not a state get_rng_state returned ({e})") from None


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """PyTorch's `torch.as_tensor`: a tensor passes through (cast if `dtype` differs), an
    ndarray of a supported dtype is shared, not copied; other data is copied as by `tensor`."""
    check_device(device)
    wanted = None if dtype is None else dtypes.torch_dtype(dtype)
    if isinstance(data, Tensor):
        return data if wanted is None or data.dtype is wanted else data.to(wanted)
    if isinstance(data, np.ndarray) and (wanted is None or wanted.np == data.dtype):
        return from_numpy(data)
    return tensor(data, wanted)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing `array`'s memory: writes to either show in both."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    return Tensor._eager(array)


def _rng(gen, what: str) -> np.random.Generator:
    """A `Generator` object (see `tinyflow.Generator`) or the global one, for a draw made now
    (`python_draws`)."""
    return python_draws(what, None if gen is None else gen.rng)


# ---- new tensors of a tensor's dtype (PyTorch's `x.new_zeros(shape)`, ...) --------------
def new_full(x, size, fill_value, dtype=None, device=None, requires_grad=False):
    check_device(device)
    return leaf(np.full(tuple(size), fill_value, dtype_or(dtype, x.dtype).np), requires_grad)


def new_zeros(x, *size, dtype=None, device=None):
    return new_full(x, size_args(size), 0, dtype=dtype, device=device)


def new_ones(x, *size, dtype=None, device=None):
    return new_full(x, size_args(size), 1, dtype=dtype, device=device)


def new_empty(x, *size, dtype=None, device=None):
    return new_zeros(x, *size, dtype=dtype, device=device)


def new_tensor(x, data, dtype=None, device=None, requires_grad=False):
    check_device(device)
    data = data.numpy(force=True) if isinstance(data, Tensor) else data
    return leaf(np.array(data, dtype_or(dtype, x.dtype).np), requires_grad)


METHODS = {"bernoulli_": bernoulli_, "new_full": new_full, "new_zeros": new_zeros, "new_ones": new_ones,
           "new_empty": new_empty, "new_tensor": new_tensor}


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad: bool = False) -> Tensor:
    """PyTorch's `torch.asarray`: shares a tensor's or an ndarray's memory where it can
    (`copy=None`), always copies with `copy=True`, and refuses a needed copy with
    `copy=False`."""
    shared = as_tensor(obj, dtype, device)
    if copy is not None:   # (only then: reading values would break a graph or a trace)
        shares = isinstance(obj, (Tensor, np.ndarray)) and np.shares_memory(
            shared.numpy(force=True), obj.numpy(force=True) if isinstance(obj, Tensor) else obj)
        if copy is False and not shares:
            raise ValueError("asarray: copy=False, but the data cannot be shared (another "
                             "dtype, or not a tensor or an ndarray)")
        shared = tensor(shared, shared.dtype) if copy and shares else shared
    return shared.requires_grad_() if requires_grad else shared


def scalar_tensor(s, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A 0-d tensor holding the number `s`, float32 unless `dtype` says otherwise."""
    return tensor(s, dtype or dtypes.float32, device, requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, device=None, generator=None,
                 **options) -> Tensor:
    """`randint` shaped like input, of input's dtype (`randint_like(x, high)` or
    `randint_like(x, low, high)`)."""
    low, high = (0, low) if high is None else (low, high)
    return randint(low, high, tuple(input.shape), dtype=dtype or input.dtype,
                   generator=generator, device=device, **options)


# ---- signal windows (STFT's `window=`): the periodic ones drop the last point of N + 1 ----
def _window(name: str, length: int, periodic: bool, values, dtype=None, device=None,
            requires_grad: bool = False, **options) -> Tensor:
    ignored_options(name, options)
    check_device(device)
    if not isinstance(length, int) or length < 0:
        raise RuntimeError(f"{name}: window_length must be a non-negative int, got {length!r}")
    dt = dtype_or(dtype)
    if not dt.is_floating:
        raise RuntimeError(f"{name}: expected a floating point dtype, got {dt.name}")
    n = length + 1 if periodic and length > 1 else length
    points = np.ones(n) if n <= 1 else values(n)
    return leaf(np.asarray(points[:length], dt.np), requires_grad)


def hann_window(window_length: int, periodic: bool = True, **options) -> Tensor:
    return _window("hann_window", window_length, periodic, np.hanning, **options)


def hamming_window(window_length: int, periodic: bool = True, alpha: float = 0.54,
                   beta: float = 0.46, **options) -> Tensor:
    return _window("hamming_window", window_length, periodic, lambda n: alpha - beta * np.cos(
        2 * np.pi * np.arange(n) / (n - 1)), **options)


def blackman_window(window_length: int, periodic: bool = True, **options) -> Tensor:
    return _window("blackman_window", window_length, periodic, np.blackman, **options)


def bartlett_window(window_length: int, periodic: bool = True, **options) -> Tensor:
    return _window("bartlett_window", window_length, periodic, np.bartlett, **options)


def kaiser_window(window_length: int, periodic: bool = True, beta: float = 12.0,
                  **options) -> Tensor:
    return _window("kaiser_window", window_length, periodic, lambda n: np.kaiser(n, beta),
                   **options)
