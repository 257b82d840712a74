"""NumPy kernels: the complete reference backend. Importing this package fills `KERNELS`."""
from . import (activation, conv, creation, fused, indexing, linalg, math, nn,  # noqa: F401
               normalization, pool, quantize, reduce, rnn, shape, special, state)
from .registry import KERNELS, kernel  # noqa: F401
