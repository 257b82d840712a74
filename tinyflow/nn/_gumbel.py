"""F.gumbel_softmax: a differentiable sample of a categorical distribution (its soft form),
or a one-hot sample whose gradient is the soft one's (straight-through)."""
from __future__ import annotations

import numpy as np

from .. import ops
from ..core.op import as_tensor
from ..core.tensor import Tensor
from ..pytorch.creation import rand_like


def gumbel_softmax(logits: Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1) -> Tensor:
    """softmax((logits + g) / tau) along `dim`, g standard Gumbel noise (-log of an Exp(1)
    draw); `hard=True` returns the one-hot of its argmax, with the soft sample's gradient.
    `eps` is unused, as in PyTorch (kept for old call sites)."""
    x = as_tensor(logits)
    if not x.dtype.is_floating:
        raise TypeError(f"gumbel_softmax: logits must be floating point, got {x.dtype.name}")
    if not -max(x.ndim, 1) <= dim < max(x.ndim, 1):
        raise IndexError(f"gumbel_softmax: dim {dim} is out of range for logits of shape "
                         f"{list(x.shape)}")
    if x.ndim == 0:   # one category: PyTorch treats the scalar as a vector of one
        return gumbel_softmax(x.reshape(1), tau, hard, eps, 0).reshape(())
    uniform = rand_like(x)
    exponential = -ops.log1p(-uniform)      # Exp(1), as PyTorch's exponential_() draws
    soft = ops.softmax((x - ops.log(exponential)) / tau, dim)
    if not hard:
        return soft
    dim %= x.ndim
    positions = np.arange(x.shape[dim]).reshape([-1 if d == dim else 1 for d in range(x.ndim)])
    one_hot = ops.cast(ops.equal(soft.argmax(dim, keepdim=True), positions), x.dtype)
    return one_hot - soft.detach() + soft
