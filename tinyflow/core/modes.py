"""Thread-local modes that change what `apply` and the reverse sweep do, as context managers.

Grad mode decides whether eager ops record autograd history (`torch.no_grad`); anomaly mode
records where each op was created and fails on the first NaN/Inf gradient; the vjp request
tells a gradient rule which of its inputs the sweep in progress wants.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Optional


class _GradMode(threading.local):
    enabled = True


class _AnomalyMode(threading.local):
    enabled = False


class _VjpRequest(threading.local):
    needed: Optional[tuple] = None   # per input of the node being differentiated


class _TraceState(threading.local):
    active = None   # the JIT's tracer while `tinyflow.compile` traces a function (jit/trace.py)


grad_mode = _GradMode()
trace_state = _TraceState()
anomaly_mode = _AnomalyMode()
vjp_request = _VjpRequest()


class no_grad(contextlib.ContextDecorator):
    """Eager ops inside record no autograd history (PyTorch's `torch.no_grad`)."""

    def __init__(self, enabled: bool = False) -> None:
        self._enabled = enabled

    def __enter__(self):
        self._prev = grad_mode.enabled
        grad_mode.enabled = self._enabled

    def __exit__(self, *exc) -> None:
        grad_mode.enabled = self._prev


class enable_grad(no_grad):
    def __init__(self) -> None:
        super().__init__(True)


class set_grad_enabled(no_grad):
    """Sets the mode when called, so `torch.set_grad_enabled(False)` as a plain statement
    works as in PyTorch; used with `with`, leaving the block restores the previous mode."""

    def __init__(self, mode: bool) -> None:
        super().__init__(bool(mode))
        self._prev = grad_mode.enabled
        grad_mode.enabled = self._enabled

    def __enter__(self):
        pass


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
