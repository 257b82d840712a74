"""lgamma, digamma, trigamma, erfinv, the Bessel functions
(tinyflow/ops/special_functions.py) against PyTorch's
(the test oracle; imported only when these cases run)."""
from __future__ import annotations

import numpy as np

import tinyflow as tf
from tinyflow.ops.special_functions import (digamma, erfc, erfcx, erfinv, i0, i0e, i1, i1e,
                                            lgamma, trigamma)

from .common import FLOATS, NUMBERS, A, OpCase, S, floating


def gamma_domain(rng, shape):
    """Away from the poles at 0, -1, -2, ...: (0.2, 6) and (-2.8, -2.2)."""
    values = rng.uniform(0.2, 6, shape)
    flip = rng.random(shape) < 0.25
    return np.where(flip, rng.uniform(-2.8, -2.2, shape), values)


def inside_unit(rng, shape):
    return rng.uniform(-0.95, 0.95, shape)


def _by_torch(name, *args):
    def reference(x, **kwargs):
        import torch   # noqa: PLC0415  (the oracle, loaded on first use)
        t = torch.from_numpy(np.ascontiguousarray(x))
        if not t.is_floating_point():
            t = t.to(torch.float32)
        space = torch.special if name.startswith("special_") else torch
        return getattr(space, name.removeprefix("special_"))(*args, t, **kwargs).numpy()
    reference.__name__ = f"torch_{name}"
    return reference


def np_trigamma(x):
    """sum 1 / (x + k)^2 over k < n, plus the Euler-Maclaurin tail from n (PyTorch's own
    polygamma(1) is off by up to ~1e-9 in float64, so it is not the reference here)."""
    v = x.astype(np.float64).reshape(-1, 1)
    n = 10_000
    head = np.sum(1 / (v + np.arange(n)) ** 2, axis=1)
    z = v[:, 0] + n
    return (head + 1 / z + 1 / (2 * z * z) + 1 / (6 * z ** 3)).reshape(x.shape).astype(x.dtype)


def odds(rng, shape):
    """Inside (0, 1), some beyond the clamp [0.2, 0.8] the eps cases use (not near it)."""
    parts = [rng.uniform(0.05, 0.15, shape), rng.uniform(0.3, 0.7, shape),
             rng.uniform(0.85, 0.95, shape)]
    return np.choose(rng.integers(0, 3, shape), parts)


def zeros(rng, shape):
    return np.zeros(shape)


def bessel_domain(rng, shape):
    """Both signs, up to 10 (float16's range holds i0(10)); beyond 30, where i1 switches to
    its asymptotic expansion, test_torch_api_surface.py checks against PyTorch."""
    return rng.uniform(-1, 1, shape) * rng.choice([1.0, 3.0, 10.0], shape)


def scaled_bessel_domain(rng, shape):
    """Both signs, up to 800: i0 and i1 overflow float32 beyond ~90, float64 beyond ~713;
    the scaled functions do not."""
    return rng.uniform(-1, 1, shape) * rng.choice([3.0, 40.0, 120.0, 800.0], shape)


def tails(rng, shape):
    """Both signs, up to 30: erfc underflows past ~27 (float64), erfcx switches to its
    asymptotic series at 25."""
    return rng.uniform(-1, 1, shape) * rng.choice([1.0, 3.0, 8.0, 30.0], shape)


def scaled_tails(rng, shape):
    """The tails, above -2: erfcx grows as 2 e^(x^2) below 0 (inf past ~-26.6)."""
    return np.maximum(tails(rng, shape), rng.uniform(-2, 0, shape))


BESSEL_SAMPLES = (S(A(3, 4, domain=bessel_domain)), S(A(4, 5, domain=bessel_domain,
                                                         layout="T")), S(A(0, 2)))
SAMPLES = (S(A(3, 4, domain=gamma_domain)), S(A(5, domain=gamma_domain, layout="step")),
           S(A(0, 2, domain=gamma_domain)))
CASES: list[OpCase] = [
    OpCase("logit", tf.logit, _by_torch("logit"),
           (S(A(3, 4, domain=odds)), S(A(4, 5, domain=odds, layout="T")), S(A(0, 3)),
            S(A(3, 4, domain=odds), eps=0.2), S(A(5, domain=odds, layout="step"), eps=0.2)),
           NUMBERS, floating),
    OpCase("lgamma", lgamma, _by_torch("lgamma"), SAMPLES, NUMBERS, floating),
    OpCase("digamma", digamma, _by_torch("digamma"), SAMPLES, NUMBERS, floating,
           second_order=False),   # trigamma, its derivative, has no derivative here
    OpCase("trigamma", trigamma, np_trigamma, SAMPLES, FLOATS, floating,
           grad=False),
    OpCase("erfinv", erfinv, _by_torch("erfinv"),
           (S(A(3, 4, domain=inside_unit)), S(A(4, 5, domain=inside_unit, layout="T")),
            S(A(0, 3, domain=inside_unit))), FLOATS, floating),
    OpCase("erfc", erfc, _by_torch("erfc"), (S(A(3, 4)), S(A(4, 5, domain=tails, layout="T")),
                                             S(A(0, 3))), NUMBERS, floating),
    OpCase("erfcx", erfcx, _by_torch("special_erfcx"),
           (S(A(3, 4)), S(A(4, 5, domain=scaled_tails, layout="T")), S(A(0, 3))), FLOATS,
           floating),
    OpCase("i0", i0, _by_torch("i0"), BESSEL_SAMPLES, NUMBERS, floating),
    OpCase("i1", i1, _by_torch("special_i1"), BESSEL_SAMPLES + (S(A(3, domain=zeros)),),
           FLOATS, floating),
    OpCase("i0e", i0e, _by_torch("special_i0e"),
           BESSEL_SAMPLES + (S(A(3, 4, domain=scaled_bessel_domain)),), FLOATS, floating),
    OpCase("i1e", i1e, _by_torch("special_i1e"),
           BESSEL_SAMPLES + (S(A(3, 4, domain=scaled_bessel_domain)), S(A(3, domain=zeros))),
           FLOATS, floating),
]
