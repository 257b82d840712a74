"""PyTorch's `torch.nn.attention`: choosing the kernels behind scaled_dot_product_attention.

tinyflow has one attention kernel for every choice, with the values of PyTorch's math
backend, so `sdpa_kernel` checks what it is given (as PyTorch does) and changes nothing:
programs written for GPUs wrap their attention in it.
"""
from __future__ import annotations

import contextlib
import enum

__all__ = ["SDPBackend", "sdpa_kernel"]


class SDPBackend(enum.IntEnum):
    """PyTorch's backend names and numbers."""
    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority: bool = False):
    """`with sdpa_kernel(SDPBackend.MATH):` (or a list of backends): runs the body as it is."""
    chosen = backends if isinstance(backends, (list, tuple)) else [backends]
    if not all(isinstance(b, SDPBackend) for b in chosen):
        raise AssertionError(f"sdpa_kernel: backends is a {type(backends).__name__}; give "
                             f"an SDPBackend or a list of them")
    yield
