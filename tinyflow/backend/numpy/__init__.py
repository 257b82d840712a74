"""NumPy kernels: the complete reference backend. Importing this package fills `KERNELS`."""
from . import (conv, creation, indexing, linalg, math, nn, pool, reduce,  # noqa: F401
               rnn, shape, special, state)
from .registry import KERNELS, kernel  # noqa: F401
