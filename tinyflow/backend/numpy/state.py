"""State kernels. Assigning to a TF1 variable is done by the runtime (it owns the values);
this kernel covers eager tensors, which are overwritten in place."""
import functools
import math

import numpy as np

from ...ops import state
from . import parallel
from .registry import kernel


@kernel(state.Assign)
def assign(op, target, value):
    target[...] = value
    return target


@kernel(state.NoOp)
def no_op(op):
    return None


# Each update reads and writes every element once (Adam: four arrays read, three written;
# momentum: three read, two written), at about this many elementwise passes' worth of time
# per element, which `parallel.MIN_ELEMENTS` is counted in: the flat arrays are cut among the
# kernel pool's threads from ~128k (momentum) / ~100k (Adam) elements. Each element's
# arithmetic is the same on any thread, so one and two threads give the same bits. Measured
# (bench/pool_handoff.py, 2026-12-06, quiet, float32, the pool's thread polling): momentum
# over 256k / 1M / 4M floats 110 / 455 / 2280 us on one thread, 53 / 274 / 1199 on two (torch:
# 132 / 803 / 3834 on one, 64 / 402 / 1908 on two); Adam 188 / 748 / 4213 against 127 / 433 /
# 2018. In the MLP step (bench/op_threads.py mlp mlp_train_sgdm --min, two processes each)
# the six updates' fastest calls sum to 1.52 / 1.29 ms before, 1.06 / 0.88 after. An earlier
# measurement (2026-12-05, SCHED_FIFO) saw no gain (momentum 94 / 429 / 1748 us on one
# thread, 101 / 438 / 1761 on two) and the MLP step 7.24 -> 6.90 ms with the updates on one
# thread; why is not known. (A script that imported NumPy before tinyflow had the pool off
# then, and measured the same on "two" threads as on one: `parallel.shorten_blas_spin`.)
MOMENTUM_PASSES, ADAM_PASSES = 4, 5


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


def _in_pieces(loop, arrays, numbers, passes: int) -> None:
    """loop(*flat arrays, *numbers) over the C-contiguous `arrays`, cut into pieces of their
    flat index on the pool's threads when `passes` passes over them are worth it."""
    size = arrays[0].size
    if size * passes < parallel.MIN_ELEMENTS:   # the common case (never worth threads): no
        loop(*[a.reshape(-1) for a in arrays], *numbers)    # lambda, no split frame
        return
    flat = [a.reshape(-1) for a in arrays]
    parallel.split(lambda a, b: loop(*(x[a:b] for x in flat), *numbers), size,
                   size * passes, blas=False)


# (op, scalar type, its numbers in that type) of the last momentum step: every parameter of
# an optimizer's step shares one op (`ops.state._momentum_op`), so its numbers are made once
_LAST_MOMENTUM = [None]


@kernel(state.MomentumStep)
def momentum_step(op, p, g, v):
    """v = mu v + (1 - dampening) g; p -= lr v (Nesterov: lr (g + mu v)), in place."""
    f = p.dtype.type
    last = _LAST_MOMENTUM[0]
    if last is not None and last[0] is op and last[1] is f:
        lr, mu, w = last[2]
    else:
        lr, mu, w = numbers = f(op.lr), f(op.momentum), f(1 - op.dampening)
        _LAST_MOMENTUM[0] = (op, f, numbers)
    if (p.flags.c_contiguous and g.flags.c_contiguous and v.flags.c_contiguous
            and p.dtype in (np.float32, np.float64)):
        _in_pieces(_momentum_loop(), (p, g, v), (lr, mu, w, op.nesterov), MOMENTUM_PASSES)
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
        _in_pieces(_adam_loop(), (p, g, m, v), (decay, w1, beta2, w2, step_size, root2, eps),
                   ADAM_PASSES)
        return p
    m += w1 * (g - m)               # strided or half precision: NumPy, in place
    v[...] = beta2 * v + w2 * (g * g)
    p[...] = p * decay - step_size * (m / (np.sqrt(v) / root2 + eps))
    return p
