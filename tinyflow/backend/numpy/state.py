"""State kernels. Assigning to a TF1 variable is done by the runtime (it owns the values);
this kernel covers eager tensors, which are overwritten in place."""
import functools
import math

import numpy as np

from ...ops import state
from .registry import kernel


@kernel(state.Assign)
def assign(op, target, value):
    target[...] = value
    return target


@kernel(state.NoOp)
def no_op(op):
    return None


# Both updates stream their arrays once (Adam: four read, three written; momentum: three
# read, two written) on one thread: memory-bound, they ran no faster on the kernel pool's two
# threads (2026-12-05, SCHED_FIFO on the 2-core VM: momentum over 256k / 1M / 4M floats 94 /
# 429 / 1748 us on one thread, 101 / 438 / 1761 on two; Adam over 256k / 1M 143 / 615 against
# 149 / 626), and the MLP step took 7.24 -> 6.90 ms without it (GPT 1-2% less)
@functools.cache
def _adam_loop():
    """One pass over flat arrays: each element read and written once (Numba, cached;
    without the GIL, so the user's other threads run meanwhile)."""
    from ._numba import numba

    # IEEE division: no check, so SIMD
    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def adam_flat(p, g, m, v, decay, w1, beta2, w2, step_size, root2, eps):
        for i in range(p.size):
            gi = g[i]
            mi = m[i] + w1 * (gi - m[i])
            vi = beta2 * v[i] + w2 * (gi * gi)
            m[i] = mi
            v[i] = vi
            p[i] = p[i] * decay - step_size * (mi / (math.sqrt(vi) / root2 + eps))
    return adam_flat


@functools.cache
def _momentum_loop():
    """One pass over flat arrays, as `_adam_loop`."""
    from ._numba import numba

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def momentum_flat(p, g, v, lr, mu, w, nesterov):
        for i in range(p.size):
            vi = mu * v[i] + w * g[i]
            v[i] = vi
            p[i] = p[i] - lr * (g[i] + mu * vi if nesterov else vi)
    return momentum_flat


@kernel(state.MomentumStep)
def momentum_step(op, p, g, v):
    """v = mu v + (1 - dampening) g; p -= lr v (Nesterov: lr (g + mu v)), in place."""
    f = p.dtype.type
    lr, mu, w = f(op.lr), f(op.momentum), f(1 - op.dampening)
    if all(a.flags.c_contiguous for a in (p, g, v)) and p.dtype in (np.float32, np.float64):
        loop, flat = _momentum_loop(), [a.reshape(-1) for a in (p, g, v)]
        loop(*flat, lr, mu, w, op.nesterov)
        return p
    v[...] = mu * v + w * g         # strided or half precision: NumPy, in place
    p[...] = p - lr * (g + mu * v if op.nesterov else v)
    return p


@kernel(state.AdamStep)
def adam_step(op, p, g, m, v):
    """Adam(W) in place: m lerps toward g, v toward g*g, p steps by the corrected ratio."""
    f = p.dtype.type
    decay, w1, beta2, w2 = (f(1 - op.lr * op.weight_decay), f(1 - op.beta1), f(op.beta2),
                            f(1 - op.beta2))
    step_size = f(op.lr / (1 - op.beta1 ** op.step))
    root2, eps = f(math.sqrt(1 - op.beta2 ** op.step)), f(op.eps)
    if all(a.flags.c_contiguous for a in (p, g, m, v)) and p.dtype in (np.float32, np.float64):
        loop, flat = _adam_loop(), [a.reshape(-1) for a in (p, g, m, v)]
        loop(*flat, decay, w1, beta2, w2, step_size, root2, eps)
        return p
    m += w1 * (g - m)               # strided or half precision: NumPy, in place
    v[...] = beta2 * v + w2 * (g * g)
    p[...] = p * decay - step_size * (m / (np.sqrt(v) / root2 + eps))
    return p
