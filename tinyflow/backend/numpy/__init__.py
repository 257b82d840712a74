"""NumPy kernels: the complete reference backend. Importing this package fills `KERNELS`."""
from . import allocator  # noqa: F401  (first: malloc's thresholds before any kernel runs)
from . import (activation, attention, conv, creation, custom, fused, indexing,  # noqa: F401
               linalg, math, nn, normalization, pool, quantize, reduce, rnn, shape, special, state)
from .registry import KERNELS, kernel  # noqa: F401
