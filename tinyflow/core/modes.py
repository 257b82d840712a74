"""Thread-local modes that change what `apply` and the reverse sweep do, as context managers.

Grad mode decides whether eager ops record autograd history (`torch.no_grad`); anomaly mode
records where each op was created and fails on the first NaN/Inf gradient; the vjp request
tells a gradient rule which of its inputs the sweep in progress wants; autocast picks the
dtype of products and losses (mixed precision, `torch.autocast`).
"""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import inspect
import math
import threading
import weakref
from typing import Optional

from .dtypes import DType, as_dtype, bfloat16, float8_e4m3fn, float8_e5m2, float16


# The threads (idents) where a mode is not at its default (a trace or an autocast region
# on, grad mode off, anomaly mode on), kept by the states' own __setattr__. A thread-local
# read costs about as much as a small op's kernel call, so the eager hot paths ask
# `TRACING_THREADS and trace_state.active ...`: an empty set (the usual case) skips the read.
# Set updates are atomic under the GIL.
TRACING_THREADS: set = set()
AUTOCAST_THREADS: set = set()
GRAD_OFF_THREADS: set = set()
ANOMALY_THREADS: set = set()
_LOCAL_SET, _THREAD = threading.local.__setattr__, threading.get_ident
_NEW = object.__new__


class _GradMode(threading.local):
    enabled = True

    def __setattr__(self, name: str, value) -> None:
        _LOCAL_SET(self, name, value)
        (GRAD_OFF_THREADS.discard if self.enabled else GRAD_OFF_THREADS.add)(_THREAD())


def set_grad_mode(enabled: bool) -> None:
    """`grad_mode.enabled = enabled` without the Python `__setattr__` frame: every eager
    step enters and leaves `no_grad` (and backward sets the mode twice), and the frame
    cost half of each write. The store goes into this thread's dict of the thread-local:
    ~1k instructions fewer than calling `threading.local.__setattr__`."""
    grad_mode.__dict__["enabled"] = enabled
    if enabled:   # (statements: `(s.discard if enabled else s.add)(t)` builds a bound method)
        GRAD_OFF_THREADS.discard(_THREAD())
    else:
        GRAD_OFF_THREADS.add(_THREAD())


class _AnomalyMode(threading.local):
    enabled = False

    def __setattr__(self, name: str, value) -> None:
        _LOCAL_SET(self, name, value)
        (ANOMALY_THREADS.add if self.enabled else ANOMALY_THREADS.discard)(_THREAD())


class _VjpRequest(threading.local):
    needed: Optional[tuple] = None   # per input of the node being differentiated


class _TraceState(threading.local):
    active = None   # the JIT's tracer while `tinyflow.compile` traces a function (jit/tracer.py)

    def __setattr__(self, name: str, value) -> None:
        _LOCAL_SET(self, name, value)
        (TRACING_THREADS.discard if self.active is None else TRACING_THREADS.add)(_THREAD())


class _AutocastState(threading.local):
    dtype = None     # the low dtype of products under `autocast` (None: autocast is off)
    fp8 = None       # the recipe of an active `fp8_autocast` (nn.Linear in fp8)
    cache = None     # (id, dtype, grad mode) -> (parameter, version, low copy) in a region

    def __setattr__(self, name: str, value) -> None:
        _LOCAL_SET(self, name, value)
        (AUTOCAST_THREADS.discard if self.dtype is None and self.fp8 is None
         else AUTOCAST_THREADS.add)(_THREAD())


grad_mode = _GradMode()
autocast_state = _AutocastState()
trace_state = _TraceState()
anomaly_mode = _AnomalyMode()
vjp_request = _VjpRequest()


class no_grad(contextlib.ContextDecorator):
    """Eager ops inside record no autograd history (PyTorch's `torch.no_grad`)."""

    _enabled = False   # a class default: `with no_grad():` of every step runs no __init__

    def __new__(cls, func=None, mode=None):
        """`@torch.no_grad` without parentheses decorates `func`, as PyTorch's does. (`mode`:
        the subclasses' argument, which their __init__ reads; named, not `**kwargs`, and no
        zero-argument super(): every step enters one.)"""
        self = _NEW(cls)
        return self if func is None or not callable(func) else self(func)

    def _recreate_cm(self):
        """A fresh copy for each call of a decorated function (ContextDecorator reuses
        self): a recursive call, or one in another thread, would overwrite the outer call's
        saved mode and leave grad mode off after it, as PyTorch's copy avoids."""
        fresh = _NEW(type(self))
        fresh.__dict__.update(self.__dict__)
        return fresh

    def __call__(self, func):
        """As a decorator. A generator function's body runs at each `next`, after the
        call has returned, so the mode is entered around every resumption instead (as
        PyTorch's decorators do): otherwise `@no_grad` on a generator records history."""
        if not inspect.isgeneratorfunction(func):
            return super().__call__(func)

        @functools.wraps(func)
        def resumed_in_mode(*args, **kwargs):
            gen = func(*args, **kwargs)
            try:   # (a StopIteration escaping a generator is a RuntimeError: PEP 479)
                with self._recreate_cm():
                    value = next(gen)
                while True:
                    try:
                        sent = yield value
                    except GeneratorExit:
                        with self._recreate_cm():
                            gen.close()
                        raise
                    except BaseException as e:
                        with self._recreate_cm():
                            value = gen.throw(e)
                    else:
                        with self._recreate_cm():
                            value = gen.send(sent)
            except StopIteration as stop:   # the generator returned: so does this one
                return stop.value
        return resumed_in_mode

    def __enter__(self):
        # set_grad_mode written out (every step enters one), through this thread's dict of
        # the thread-local: one read of it, not two (an unset mode is the class default).
        # Statements, not `(s.discard if e else s.add)(t)`, which builds a bound method.
        # (no_grad's own: enable_grad has its own __enter__, so no read of a class attribute,
        # which an instance's LOAD_ATTR does not specialize)
        modes = grad_mode.__dict__
        self._prev = modes.get("enabled", True)
        modes["enabled"] = False
        GRAD_OFF_THREADS.add(_THREAD())

    def __exit__(self, kind, value, traceback) -> None:
        if self._prev:   # set_grad_mode written out
            grad_mode.__dict__["enabled"] = True
            GRAD_OFF_THREADS.discard(_THREAD())
        else:
            grad_mode.__dict__["enabled"] = False
            GRAD_OFF_THREADS.add(_THREAD())


class enable_grad(no_grad):
    _enabled = True

    def __enter__(self):
        modes = grad_mode.__dict__   # no_grad.__enter__ with the mode on
        self._prev = modes.get("enabled", True)
        modes["enabled"] = True
        GRAD_OFF_THREADS.discard(_THREAD())


class inference_mode(no_grad):
    """PyTorch's `torch.inference_mode(mode=True)`: here no_grad (there are no separate
    inference tensors); `mode=False` turns grad mode on, as PyTorch's does (its
    InferenceMode(false) guard enables autograd, even inside no_grad)."""

    _mode = True     # also when used bare, `@inference_mode` (no __init__ then)

    def __init__(self, mode: bool = True) -> None:
        self._mode = bool(mode)

    def __enter__(self):
        self._prev = grad_mode.enabled
        set_grad_mode(not self._mode)


class set_grad_enabled(no_grad):
    """Sets the mode when called, so `torch.set_grad_enabled(False)` as a plain statement
    works as in PyTorch; used with `with`, leaving the block restores the previous mode."""

    def __init__(self, mode: bool) -> None:
        self._enabled = bool(mode)
        self._prev = grad_mode.enabled
        set_grad_mode(self._enabled)

    def __enter__(self):
        pass

    def __call__(self, func):
        """`@set_grad_enabled(mode)`: decorating leaves the mode as it was; each call of
        `func` runs in `mode` (as PyTorch's)."""
        set_grad_mode(self._prev)
        return (enable_grad() if self._enabled else no_grad())(func)


class autocast(contextlib.ContextDecorator):
    """Mixed precision as PyTorch's `torch.autocast(device_type="cpu", dtype=torch.bfloat16)`:
    inside, products (matmul, linear, conv, attention, einsum) cast their float inputs to
    `dtype`, losses compute and return float32, and everything else runs in its inputs'
    dtype (reductions and norms of bfloat16 still add up in float32). Parameters stay float32
    (the casts are ops, so their gradients come back in float32). Around TF1 graph
    construction it puts the casts in the graph; `tinyflow.compile` guards on it."""

    def __init__(self, device_type: str = "cpu", dtype=None, enabled: bool = True,
                 cache_enabled=None) -> None:
        if device_type not in ("cpu", "cuda"):
            raise RuntimeError(f"autocast: device_type={device_type!r} is not available: "
                               f"tinyflow runs on the CPU ('cpu')")
        self.dtype = bfloat16 if dtype is None else as_dtype(dtype)
        if self.dtype not in (bfloat16, float16):
            raise ValueError(f"autocast: dtype must be bfloat16 or float16, got "
                             f"{self.dtype.name} (fp8 products: tinyflow.fp8_autocast)")
        self.enabled = bool(enabled)
        self.cache_enabled = cache_enabled is None or bool(cache_enabled)

    def __enter__(self):
        self._prev = autocast_state.dtype, autocast_state.cache
        autocast_state.dtype = self.dtype if self.enabled else None
        if self.enabled and self.cache_enabled and autocast_state.cache is None:
            autocast_state.cache = {}   # the outermost region's: cleared on its exit
        return self

    def __exit__(self, *exc) -> None:
        autocast_state.dtype, autocast_state.cache = self._prev


class AmaxHistory:
    """The last `length` amaxes of one tensor, for delayed scaling (Transformer Engine's
    DelayedScaling, "max" algorithm): a step's scale comes from the largest amax of the steps
    before it (values beyond it saturate), then its own amax joins the history. The first
    step, with no history, scales by its own amax. (The fp8 kernel reads and extends it.)"""

    def __init__(self, length: int) -> None:
        self.amaxes = collections.deque(maxlen=length)

    def scale(self, current: float, fmax: float, margin: int) -> float:
        amax = max(self.amaxes) if self.amaxes else current
        if math.isfinite(current):
            self.amaxes.append(current)
        return fmax / amax / 2.0 ** margin if 0.0 < amax < math.inf else 1.0


@dataclasses.dataclass(frozen=True, eq=False)   # by identity: each recipe owns histories
class Fp8Recipe:
    """How `fp8_autocast` rounds nn.Linear's products: activations and weights to `forward`,
    the output's gradient to `backward`, each with a per-tensor scale (Transformer Engine's
    "hybrid" format; `margin` leaves 2^margin of headroom). `amax_history_len` 0: each
    tensor scaled by its current amax; n > 0: by the max of its last n steps' amaxes
    (delayed scaling, kept per layer: `histories_of(weight)`)."""
    forward: DType = float8_e4m3fn
    backward: DType = float8_e5m2
    margin: int = 0
    amax_history_len: int = 0
    _histories: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def histories_of(self, weight) -> list:
        """[input, weight, output gradient] amax histories of the layer with this weight
        (by identity, forgotten with the weight)."""
        entry = self._histories.get(id(weight))
        if entry is None or entry[0]() is not weight:
            entry = (weakref.ref(weight),
                     [AmaxHistory(self.amax_history_len) for _ in range(3)])
            self._histories[id(weight)] = entry
            weakref.finalize(weight, self._histories.pop, id(weight), None)
        return entry[1]


class fp8_autocast(contextlib.ContextDecorator):
    """Inside, every nn.Linear / F.linear computes its product on fp8-rounded operands
    (simulated: rounded with ml_dtypes, multiplied in float32), as Transformer Engine's
    `te.fp8_autocast(enabled=True, fp8_recipe=...)`."""

    def __init__(self, enabled: bool = True, fp8_recipe: Optional[Fp8Recipe] = None) -> None:
        self.recipe = (fp8_recipe or Fp8Recipe()) if enabled else None

    def __enter__(self):
        self._prev = autocast_state.fp8
        autocast_state.fp8 = self.recipe
        return self

    def __exit__(self, *exc) -> None:
        autocast_state.fp8 = self._prev


def is_autocast_enabled(device_type: str = "cpu") -> bool:
    return autocast_state.dtype is not None


def get_autocast_dtype(device_type: str = "cpu"):
    return autocast_state.dtype or bfloat16


def is_grad_enabled() -> bool:
    return grad_mode.enabled


def set_detect_anomaly(mode: bool) -> None:
    """Record where each op was created and fail on the first NaN/Inf gradient, naming it."""
    anomaly_mode.enabled = bool(mode)


@contextlib.contextmanager
def detect_anomaly(check_nan: bool = True):
    previous = anomaly_mode.enabled
    anomaly_mode.enabled = check_nan
    try:
        yield
    finally:
        anomaly_mode.enabled = previous


def is_anomaly_enabled() -> bool:
    return anomaly_mode.enabled


def needs_input_grad(k: int) -> bool:
    """Inside a `vjp`: whether the sweep wants the gradient of input k (PyTorch's
    ctx.needs_input_grad). A rule may return None for the others and skip their work, as
    the input gradient of a first layer or of a convolution over the data."""
    needed = vjp_request.needed
    return needed is None or needed[k]
