"""`parameters_to_vector` / `vector_to_parameters`: all parameters as one flat vector and
back (second-order methods, weight averaging, evolution strategies)."""
from __future__ import annotations

from typing import Iterable

import numpy as np

from ... import ops
from ...core.tensor import Tensor


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """The parameters flattened and concatenated in order; differentiable, as PyTorch's."""
    flat = [ops.reshape(p, (-1,)) for p in parameters]
    if not flat:
        raise RuntimeError("parameters_to_vector: expected a non-empty list of parameters")
    return ops.concat(flat, 0)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of `vec` into the parameters, in order, outside autograd
    (PyTorch's writes `.data` too); a longer `vec` leaves its tail unused, as PyTorch's."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    values = vec.numpy(force=True).reshape(-1 if vec.ndim else 1)
    start = 0
    for p in parameters:
        n = int(np.prod(p.shape, dtype=np.int64))
        if start + n > values.size:
            raise RuntimeError(f"vector_to_parameters: the vector has {values.size} "
                               f"elements, too few for parameters of {start + n} and more")
        piece = values[start:start + n].reshape(p.shape).astype(p.array.dtype, copy=False)
        if p.array.flags.writeable:
            np.copyto(p.array, piece)
        else:
            p.array = piece.copy()
        p._version[0] += 1
        start += n
