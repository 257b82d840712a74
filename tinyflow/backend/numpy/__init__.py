"""NumPy kernels: the complete reference backend. Importing this package fills `KERNELS`."""
from . import _allocator  # noqa: F401  (first: malloc keeps freed arrays' pages)
from . import (activation, attention, control_flow, conv, creation, custom,  # noqa: F401
               debug, fused, indexing, dataset, discrete, linalg, losses, math, nn,
               normalization, pool, quantize, reduce, rnn, shape,
               matrix, product, sparse, special, special_functions, state, summary,
               tensor_array)
from .registry import KERNELS, kernel  # noqa: F401
