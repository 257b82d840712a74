"""gcd, lcm and nextafter (tinyflow/ops/discrete.py) against PyTorch's (the oracle,
imported only when these cases run)."""
from __future__ import annotations

import numpy as np

import tinyflow as tf
from tinyflow.ops.discrete import gcd, lcm, nextafter

from .common import (FLOATS, A, ErrorInput, OpCase, S, binary_samples, broadcast_error,
                     even_grid, odd_grid)


def _by_torch(name):
    def reference(x, y):
        import torch   # noqa: PLC0415  (the oracle, loaded on first use)
        as_torch = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
        return getattr(torch, name)(as_torch(x), as_torch(y)).numpy()
    reference.__name__ = f"torch_{name}"
    return reference


def multiples(rng, shape):
    """Signed multiples of small primes, zeros among them: common divisors to find."""
    return rng.choice([-1, 1], shape) * rng.integers(0, 4, shape) * rng.choice([2, 3, 6, 35],
                                                                                shape)


def huge(rng, shape):
    """Near 2^40: lcm of two of them wraps in int64 (PyTorch takes |.| after the wrap)."""
    return 2 ** 40 - rng.integers(0, 3, shape)


def at_minimum(dtype):
    """The signed minimum among small values: |min| wraps to min, and PyTorch's gcd and lcm
    keep that sign (not low + 1: PyTorch's int64 lcm traps dividing low by -1 there)."""
    def domain(rng, shape):
        low = np.iinfo(dtype.np).min
        return rng.choice(np.array([low, -6, -1, 0, 1, 6, 35, 64], dtype.np), shape)
    domain.__name__ = f"at_{dtype.name}_minimum"
    return domain


INTS = (tf.int8, tf.int16, tf.int32, tf.int64)   # int8 and int16 products wrap after |.|
FLOAT_INPUT = ErrorInput(S(A(3, dtype=tf.float32), A(3, dtype=tf.float32)), tf.DTypeError,
                         r"not implemented for 'float32'")
CASES: list[OpCase] = [
    OpCase(name, fn, _by_torch(name), binary_samples(multiples, multiples), INTS, grad=False,
           errors=(broadcast_error(name), FLOAT_INPUT))
    for name, fn in (("gcd", gcd), ("lcm", lcm))
] + [
    OpCase("lcm_wraps", lcm, _by_torch("lcm"),
           (S(A(4, domain=huge), A(4, domain=huge)),), (tf.int64,),
           grad=False, op="lcm"),
] + [
    OpCase(f"{name}_{dtype.name}_minimum", fn, _by_torch(name),
           (S(A(6, 6, domain=at_minimum(dtype)), A(6, domain=at_minimum(dtype))),), (dtype,),
           grad=False, op=name)
    for name, fn in (("gcd", gcd), ("lcm", lcm)) for dtype in (tf.int8, tf.int64)
] + [
    OpCase("nextafter", nextafter, np.nextafter, binary_samples(even_grid, odd_grid),
           FLOATS + (tf.float16,),
           errors=(broadcast_error("nextafter"),
                   ErrorInput(S(A(3, dtype=tf.int64), A(3, dtype=tf.int64)), tf.DTypeError,
                              r"not implemented for 'int64'"))),
]
