"""NumPy's floating-point warnings silenced around one kernel call (log of 0, x / 0, sqrt of
-1, exp overflowing to inf, NaN compared): PyTorch answers inf/NaN silently. Errors PyTorch
raises (an integer divided by zero) are checked by the kernels themselves.

`np.errstate(all="ignore")` costs ~3 us per use (it builds NumPy's error state each time);
here that state is built once and set through the context variable NumPy keeps it in (per
thread, as errstate; ~0.5 us per kernel call). NumPy versions without that variable fall back to errstate.
"""
from __future__ import annotations

import numpy as np

try:
    from numpy._core.umath import _extobj_contextvar as _STATE
    from numpy._core.umath import _make_extobj
    _IGNORE_STATE = _make_extobj(all="ignore")
    _SET, _RESET = _STATE.set, _STATE.reset
except ImportError:   # another NumPy layout: the public, slower way
    _IGNORE_STATE = None

    def _SET(_):  # noqa: N802
        state = np.errstate(all="ignore")
        state.__enter__()
        return state

    def _RESET(token) -> None:  # noqa: N802
        token.__exit__(None, None, None)


def enter():
    """Silence NumPy's floating-point warnings in this thread; returns what `leave` takes."""
    return _SET(_IGNORE_STATE)


def leave(token) -> None:
    """Restore the error state `enter` replaced."""
    _RESET(token)


def state_setters():
    """(set, reset, the ignoring state): `token = set(state)` ... `reset(token)` silences
    NumPy's floating-point warnings inline in a kernel's own frame (~0.5 us; errstate ~3)."""
    return _SET, _RESET, _IGNORE_STATE
