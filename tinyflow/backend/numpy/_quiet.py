"""NumPy's floating-point warnings silenced around one kernel call (log of 0, x / 0, sqrt of
-1, exp overflowing to inf, NaN compared): PyTorch answers inf/NaN silently. Errors PyTorch
raises (an integer divided by zero) are checked by the kernels themselves.

`np.errstate(all="ignore")` costs ~3 us per use (it builds NumPy's error state each time);
here that state is built once and set through the context variable NumPy keeps it in (~0.2
us, and per thread, as errstate). NumPy versions without that variable fall back to errstate.
"""
from __future__ import annotations

import functools

import numpy as np

try:
    from numpy._core.umath import _extobj_contextvar as _STATE
    from numpy._core.umath import _make_extobj
    _IGNORE = _make_extobj(all="ignore")

    def enter():
        return _STATE.set(_IGNORE)

    def leave(token) -> None:
        _STATE.reset(token)
except ImportError:   # another NumPy layout: the public, slower way
    def enter():
        state = np.errstate(all="ignore")
        state.__enter__()
        return state

    def leave(token) -> None:
        token.__exit__(None, None, None)


def quiet(function):
    """`function` (a kernel or a ufunc) with NumPy's floating-point warnings silenced."""
    @functools.wraps(function)
    def run(*args, **kwargs):
        token = enter()
        try:
            return function(*args, **kwargs)
        finally:
            leave(token)
    return run
