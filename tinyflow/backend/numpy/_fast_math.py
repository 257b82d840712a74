"""Transcendental functions as Numba ufuncs that vectorize: float32 versions are branch-free
rational and polynomial approximations (no libm call, so LLVM emits SIMD code); float64
versions call libm's erf and exp for full precision.

float32 erf: erf(x) = x P(x^2) / Q(x^2) on [-4, 4] (clamped beyond, where erf rounds to +-1),
coefficients fitted here by iteratively reweighted least squares against math.erf; max
absolute error 6e-8 in exact arithmetic, 4e-7 evaluated in float32.
float32 exp(-y), y in [0, 18]: e^(-y/16) by its Taylor polynomial, squared four times.
float32 tanh(u) = sign(u) (1 - e) / (1 + e) with e = exp(-2|u|) (exp_neg32 above): the tanh
GELU in one pass, where NumPy takes eight over the activation.
"""
import functools
import math

import numpy as np

f32 = np.float32
_P = [f32(c) for c in (1.1283786914102385, 0.21407459297230688, 0.052452851775269496,
                       0.004298820272965021, 0.0001556753085552305, -1.9909215344879327e-06,
                       1.9215571606112647e-08)]
_Q = [f32(c) for c in (1.0, 0.5230464217822568, 0.12085503439840134, 0.015563245672685124,
                       0.0010994192656555513)]
_RSQRT2 = 0.7071067811865476
_RSQRT_2PI = 0.3989422804014327
_SQRT_2_OVER_PI = 0.7978845608028654
_CUBIC = 0.044715


@functools.cache
def scalars() -> dict:
    """The scalar building blocks as inlined Numba functions, for kernels that fuse them into
    loops of their own (the ufuncs below, the LSTM cell): float32 erf, exp(-y), tanh and
    sigmoid without libm, and libm's float64 tanh and sigmoid beside them."""
    import numba

    jit = numba.njit(inline="always", fastmath=True)
    p0, p1, p2, p3, p4, p5, p6 = _P
    q0, q1, q2, q3, q4 = _Q

    @jit
    def erf32(x):
        x = min(max(x, f32(-4)), f32(4))
        s = x * x
        p = (((((p6 * s + p5) * s + p4) * s + p3) * s + p2) * s + p1) * s + p0
        q = (((q4 * s + q3) * s + q2) * s + q1) * s + q0
        return x * p / q

    @jit
    def exp_neg32(y):
        z = -min(y, f32(18)) * f32(0.0625)
        e = f32(1) + z * (f32(1) + z * (f32(0.5) + z * (f32(1 / 6) + z * (
            f32(1 / 24) + z * (f32(1 / 120) + z * (f32(1 / 720) + z * f32(1 / 5040)))))))
        e = e * e
        e = e * e
        e = e * e
        return e * e

    @jit
    def tanh32(u):
        e = exp_neg32(f32(2) * abs(u))
        t = (f32(1) - e) / (f32(1) + e)
        return t if u >= 0 else -t

    @jit
    def sigmoid32(u):
        e = exp_neg32(abs(u))
        return f32(1) / (f32(1) + e) if u >= 0 else e / (f32(1) + e)

    @numba.njit(inline="always")
    def tanh64(u):
        return math.tanh(u)

    @numba.njit(inline="always")
    def sigmoid64(u):
        e = math.exp(-abs(u))
        return 1 / (1 + e) if u >= 0 else e / (1 + e)

    return {"erf32": erf32, "exp_neg32": exp_neg32, "tanh32": tanh32, "sigmoid32": sigmoid32,
            "tanh64": tanh64, "sigmoid64": sigmoid64}


@functools.cache
def ufuncs() -> dict:
    """{name: (float32 ufunc, float64 ufunc)}, compiled on first use and cached on disk."""
    import numba

    fns = scalars()
    erf32, exp_neg32, tanh32 = fns["erf32"], fns["exp_neg32"], fns["tanh32"]

    def vec(sig, fastmath):
        return numba.vectorize([sig], cache=True, fastmath=fastmath)

    @vec("float32(float32)", True)
    def erf_32(x):
        return erf32(x)

    @vec("float64(float64)", False)
    def erf_64(x):
        return math.erf(x)

    @vec("float32(float32)", True)
    def gelu_32(x):
        return x * f32(0.5) * (f32(1) + erf32(x * f32(_RSQRT2)))

    @vec("float64(float64)", False)
    def gelu_64(x):
        return x * 0.5 * (1 + math.erf(x * _RSQRT2))

    @vec("float32(float32, float32)", True)
    def gelu_grad_32(g, x):
        cdf = f32(0.5) * (f32(1) + erf32(x * f32(_RSQRT2)))
        return g * (cdf + x * exp_neg32(f32(0.5) * x * x) * f32(_RSQRT_2PI))

    @vec("float64(float64, float64)", False)
    def gelu_grad_64(g, x):
        cdf = 0.5 * (1 + math.erf(x * _RSQRT2))
        return g * (cdf + x * math.exp(-0.5 * x * x) * _RSQRT_2PI)

    @vec("float32(float32)", True)
    def gelu_tanh_32(x):
        t = tanh32(f32(_SQRT_2_OVER_PI) * x * (f32(1) + f32(_CUBIC) * x * x))
        return f32(0.5) * x * (f32(1) + t)

    @vec("float64(float64)", False)
    def gelu_tanh_64(x):
        return 0.5 * x * (1 + math.tanh(_SQRT_2_OVER_PI * x * (1 + _CUBIC * x * x)))

    @vec("float32(float32, float32)", True)
    def gelu_tanh_grad_32(g, x):
        x2 = x * x
        t = tanh32(f32(_SQRT_2_OVER_PI) * x * (f32(1) + f32(_CUBIC) * x2))
        du = f32(_SQRT_2_OVER_PI) * (f32(1) + f32(3 * _CUBIC) * x2)
        return g * (f32(0.5) * (f32(1) + t) + f32(0.5) * x * (f32(1) - t * t) * du)

    @vec("float64(float64, float64)", False)
    def gelu_tanh_grad_64(g, x):
        x2 = x * x
        t = math.tanh(_SQRT_2_OVER_PI * x * (1 + _CUBIC * x2))
        du = _SQRT_2_OVER_PI * (1 + 3 * _CUBIC * x2)
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)

    def relu_grad(g, x):
        return g if x > 0 else g * 0

    return {"erf": (erf_32, erf_64), "gelu": (gelu_32, gelu_64),
            "gelu_grad": (gelu_grad_32, gelu_grad_64),
            "gelu_tanh": (gelu_tanh_32, gelu_tanh_64),
            "gelu_tanh_grad": (gelu_tanh_grad_32, gelu_tanh_grad_64),
            "relu_grad": (vec("float32(float32, float32)", True)(relu_grad),
                          vec("float64(float64, float64)", True)(relu_grad))}


def call(name: str, *xs: np.ndarray, out=None) -> np.ndarray:
    """The float64 ufunc if any input is float64, else the float32 one (other dtypes compute
    in float32); `out` as for any ufunc."""
    f32_fn, f64_fn = ufuncs()[name]
    if any(x.dtype == np.float64 for x in xs):
        return f64_fn(*xs, out=out)
    return f32_fn(*(x.astype(np.float32, copy=False) for x in xs), out=out)
