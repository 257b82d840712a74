"""NumPy kernels: the complete reference backend. Importing this package fills `KERNELS`."""
from . import creation, indexing, linalg, math, nn, reduce, shape, special, state  # noqa: F401
from .registry import KERNELS, kernel  # noqa: F401
