"""The process-wide switches PyTorch scripts set in their first lines: float32 matmul
precision, deterministic algorithms, inter-op threads.

tinyflow's CPU kernels compute float32 products in float32 and give the same bits run to run
(each kernel splits its work the same way every time), so these switches change no kernel:
they are recorded, checked as PyTorch checks them, and read back.
"""
from __future__ import annotations

_STATE = {"matmul_precision": "highest", "deterministic": False, "warn_only": False,
          "interop_threads": 1}


def set_float32_matmul_precision(precision: str) -> None:
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError(f"set_float32_matmul_precision: precision must be 'highest', "
                           f"'high' or 'medium', got {precision!r}")
    _STATE["matmul_precision"] = precision


def get_float32_matmul_precision() -> str:
    return _STATE["matmul_precision"]


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    if not isinstance(mode, bool):
        raise RuntimeError(f"use_deterministic_algorithms: mode must be a bool, got "
                           f"{type(mode).__name__}")
    _STATE.update(deterministic=mode, warn_only=bool(warn_only))


def are_deterministic_algorithms_enabled() -> bool:
    return _STATE["deterministic"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _STATE["warn_only"]


def set_num_interop_threads(num: int) -> None:
    """Recorded only: tinyflow runs one op at a time (its kernel pool is set_num_threads')."""
    if not isinstance(num, int) or num < 1:
        raise RuntimeError(f"set_num_interop_threads: expected a positive int, got {num!r}")
    _STATE["interop_threads"] = num


def get_num_interop_threads() -> int:
    return _STATE["interop_threads"]
