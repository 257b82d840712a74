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
MOMENTUM_PASSES, ADAM_PASSES, SGD_PASSES = 4, 5, 3


# `decay` and `sign` fold in the optimizer's direction, sign g + decay p
# (`optim/rules.gradient`: maximize, the coupled L2 penalty), rounded as that rule's Mul and
# Add (PyTorch's `(-g).add(p, alpha=decay)` is a fused multiply-add: float32 results differ
# from its in the last bit at places, as they do for the updates' products). Widening the
# product to float64 to round once made the loops 2-2.5x slower per element (64k float32
# momentum with decay: 56 vs 22 us), slower than the separate Mul + Add it replaced.

@functools.cache
def _adam_loop():
    """One pass over flat arrays: each element read and written once (Numba, cached;
    without the GIL, so the user's other threads run meanwhile)."""
    from ._numba import numba

    # IEEE division: no check, so SIMD
    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def adam_flat(p, g, m, v, decay, w1, beta2, w2, step_size, root2, eps, l2, sign):
        for i in range(p.size):
            gi = sign * g[i]
            if l2 != 0:
                gi = p[i] * l2 + gi
            mi = m[i] + w1 * (gi - m[i])
            vi = beta2 * v[i] + w2 * (gi * gi)
            m[i] = mi
            v[i] = vi
            p[i] = p[i] * decay - step_size * (mi / (math.sqrt(vi) / root2 + eps))
    return adam_flat


@functools.cache
def _momentum_loop():
    """One pass over flat arrays, as `_adam_loop`: v = mu v + w d (v = d when `starts`);
    p += neg_lr v (Nesterov: neg_lr (d + mu v))."""
    from ._numba import numba

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def momentum_flat(p, g, v, neg_lr, mu, w, nesterov, decay, sign, starts):
        if decay == 0 and not nesterov and not starts:    # the common case: no branch (SIMD)
            for i in range(p.size):
                vi = mu * v[i] + w * (sign * g[i])
                v[i] = vi
                p[i] = p[i] + neg_lr * vi
            return
        for i in range(p.size):
            d = sign * g[i]
            if decay != 0:
                d = p[i] * decay + d
            vi = d if starts else mu * v[i] + w * d
            v[i] = vi
            p[i] = p[i] + neg_lr * (d + mu * vi if nesterov else vi)
    return momentum_flat


@functools.cache
def _sgd_loop():
    """One pass over flat arrays, as `_adam_loop`: p += neg_lr d."""
    from ._numba import numba

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def sgd_flat(p, g, neg_lr, decay, sign):
        for i in range(p.size):
            d = sign * g[i]
            if decay != 0:
                d = p[i] * decay + d
            p[i] = p[i] + neg_lr * d
    return sgd_flat


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


# (op, scalar type, its numbers in that type) of the last SGD or momentum step: every
# parameter of an optimizer's step shares one op (`ops.state._reused`), so its numbers are
# made once
_LAST_NUMBERS = [None]


def _numbers(op, f) -> tuple:
    """The loop's numbers of a MomentumStep or SGDStep `op` in scalar type `f`."""
    last = _LAST_NUMBERS[0]
    if last is not None and last[0] is op and last[1] is f:
        return last[2]
    numbers = (f(-op.lr), f(op.weight_decay), f(-1 if op.maximize else 1))
    if isinstance(op, state.MomentumStep):
        numbers += (f(op.momentum), f(1 - op.dampening))
    _LAST_NUMBERS[0] = (op, f, numbers)
    return numbers


def _fast(*arrays) -> bool:
    """Can the Numba loops take these arrays (C-contiguous float32 or float64)?"""
    if arrays[0].dtype not in _LOOP_DTYPES:
        return False
    for a in arrays:    # (a loop, not all(...): this runs once per parameter per step)
        if not a.flags.c_contiguous:
            return False
    return True


_LOOP_DTYPES = (np.float32, np.float64)


def _direction(p, g, decay, sign):
    """sign g + decay p in NumPy (strided or half precision), rounded as the loops."""
    d = sign * g
    return d if decay == 0 else p * decay + d


@kernel(state.MomentumStep)
def momentum_step(op, p, g, v):
    """v = mu v + (1 - dampening) d; p -= lr v (Nesterov: lr (d + mu v)), in place."""
    neg_lr, decay, sign, mu, w = _numbers(op, p.dtype.type)
    if _fast(p, g, v):
        _in_pieces(_momentum_loop(), (p, g, v),
                   (neg_lr, mu, w, op.nesterov, decay, sign, op.starts), MOMENTUM_PASSES)
        return p
    d = _direction(p, g, decay, sign)    # strided or half precision: NumPy, in place
    v[...] = d if op.starts else mu * v + w * d
    p[...] = p + neg_lr * (d + mu * v if op.nesterov else v)
    return p


@kernel(state.SGDStep)
def sgd_step(op, p, g):
    """p -= lr d, in place."""
    neg_lr, decay, sign = _numbers(op, p.dtype.type)
    if _fast(p, g):
        _in_pieces(_sgd_loop(), (p, g), (neg_lr, decay, sign), SGD_PASSES)
        return p
    p[...] = p + neg_lr * _direction(p, g, decay, sign)
    return p


@kernel(state.AdamStep)
def adam_step(op, p, g, m, v):
    """Adam(W) in place: m lerps toward g, v toward g*g, p steps by the corrected ratio."""
    f = p.dtype.type
    decay, w1, beta2, w2 = (f(1 - op.lr * op.weight_decay), f(1 - op.beta1), f(op.beta2),
                            f(1 - op.beta2))
    step_size = f(op.lr / (1 - op.beta1 ** op.step))
    root2, eps = f(math.sqrt(1 - op.beta2 ** op.step)), f(op.eps)
    l2, sign = f(op.coupled_decay), f(-1 if op.maximize else 1)
    if _fast(p, g, m, v):
        _in_pieces(_adam_loop(), (p, g, m, v),
                   (decay, w1, beta2, w2, step_size, root2, eps, l2, sign), ADAM_PASSES)
        return p
    g = _direction(p, g, l2, sign)  # strided or half precision: NumPy, in place
    m += w1 * (g - m)
    v[...] = beta2 * v + w2 * (g * g)
    p[...] = p * decay - step_size * (m / (np.sqrt(v) / root2 + eps))
    return p
