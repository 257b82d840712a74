"""Kernels, one table per backend keyed by op class. NumPy is the reference."""
from . import numpy  # noqa: F401
