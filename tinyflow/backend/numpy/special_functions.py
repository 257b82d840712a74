"""Kernels of lgamma, digamma, trigamma, erfinv, erfc, erfcx, i0 and i1 (ops/special_functions.py), in
NumPy: computed in float64 (series, recurrences and reflection formulas; Newton steps on erf
for erfinv; NumPy's own i0), returned in the input's float dtype (float32 for integers)."""
import math

import numpy as np

from ...ops import special_functions as sf
from . import _fast_math
from .registry import kernel

# Lanczos' approximation of Gamma, g = 7, 9 terms (relative error ~1e-15)
_LANCZOS_G = 7.0
_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028,
            771.32342877765313, -176.61502916214059, 12.507343278686905,
            -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7)
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_SHIFT_TO = 10.0   # the asymptotic series of digamma and trigamma is used from here on


def _result_dtype(x):
    return x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)


def _lgamma_right(x):
    """log |Gamma(x)| for x >= 0.5."""
    z = x - 1
    series = np.full_like(z, _LANCZOS[0])
    for i, c in enumerate(_LANCZOS[1:], start=1):
        series += c / (z + i)
    t = z + _LANCZOS_G + 0.5
    return _HALF_LOG_2PI + (z + 0.5) * np.log(t) - t + np.log(series)


@kernel(sf.Lgamma)
def lgamma(op, x):
    v = np.asarray(x, np.float64)
    left = v < 0.5
    with np.errstate(divide="ignore", invalid="ignore"):
        out = _lgamma_right(np.where(left, 1 - v, v))
        reflected = np.log(np.pi / np.abs(np.sin(np.pi * v))) - out
    out = np.where(left, reflected, out)
    out = np.where(np.isinf(v) | _poles(v), np.inf, out)
    return out.astype(_result_dtype(x))


def _shifted(v, step):
    """(v moved up to >= _SHIFT_TO by steps of 1, the sum of step(v) over the steps)."""
    total = np.zeros_like(v)
    v = v.copy()
    for _ in range(int(_SHIFT_TO)):
        low = v < _SHIFT_TO
        if not low.any():
            break
        total += np.where(low, step(np.where(low, v, 1.0)), 0.0)
        v = np.where(low, v + 1, v)
    return v, total


def _digamma_right(v):
    v, total = _shifted(v, lambda u: -1 / u)
    r = 1 / (v * v)
    series = r * (1 / 12 - r * (1 / 120 - r * (1 / 252 - r * (1 / 240 - r * (1 / 132)))))
    return total + np.log(v) - 0.5 / v - series


def _trigamma_right(v):
    v, total = _shifted(v, lambda u: 1 / (u * u))
    r = 1 / (v * v)
    series = (1 + (0.5 + (1 / 6 - r * (1 / 30 - r * (1 / 42 - r * (1 / 30 - r * 5 / 66))))
                   / v) / v) / v
    return total + series


def _poles(v):
    return (v <= 0) & (v == np.floor(v))


@kernel(sf.Digamma)
def digamma(op, x):
    v = np.asarray(x, np.float64)
    left = v < 0.5
    with np.errstate(divide="ignore", invalid="ignore"):
        out = _digamma_right(np.where(left, 1 - v, v))
        out = np.where(left, out - np.pi / np.tan(np.pi * v), out)
    out = np.where(_poles(v), np.where(v == 0, -np.inf, np.nan), out)   # as PyTorch
    return out.astype(_result_dtype(x))


@kernel(sf.Trigamma)
def trigamma(op, x):
    v = np.asarray(x, np.float64)
    left = v < 0.5
    with np.errstate(divide="ignore", invalid="ignore"):
        out = _trigamma_right(np.where(left, 1 - v, v))
        out = np.where(left, (np.pi / np.sin(np.pi * v)) ** 2 - out, out)
    out = np.where(_poles(v), np.inf, out)
    return out.astype(_result_dtype(x))


_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
            -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
         -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)


def _polynomial(coefficients, w):
    p = np.full_like(w, coefficients[0])
    for c in coefficients[1:]:
        p = c + p * w
    return p


@kernel(sf.Erfinv)
def erfinv(op, x):
    """Giles' single-precision approximation, then Newton steps on erf to float64."""
    v = np.asarray(x, np.float64)
    inside = np.abs(v) < 1
    u = np.where(inside, v, 0.0)
    w = -np.log((1 - u) * (1 + u))
    guess = np.where(w < 5, _polynomial(_CENTRAL, w - 2.5),
                     _polynomial(_TAIL, np.sqrt(np.maximum(w, 5)) - 3)) * u
    y = guess
    for _ in range(3):
        y = y - (_fast_math.call("erf", y) - u) / (2 / math.sqrt(math.pi) * np.exp(-y * y))
    edge = np.where(v == 1, np.inf, np.where(v == -1, -np.inf, np.nan))
    out = np.where(inside, y, edge)
    return out.astype(_result_dtype(x))


@kernel(sf.Erfc)
def erfc(op, x):
    """libm's erfc in float64, vectorized by Numba (see _fast_math), rounded once to the
    result dtype (float32's erfcf is off by one ulp among the subnormals)."""
    return _fast_math.call("erfc", np.asarray(x, np.float64)).astype(_result_dtype(x))


_ERFCX_SERIES_FROM = 25.0   # x beyond: erfc underflows soon; the asymptotic series instead


@kernel(sf.Erfcx)
def erfcx(op, x):
    """e^(x^2) erfc(x) in float64: x^2 split into an exact part and a small rest (so the
    exponent's rounding is not magnified by e^(x^2)); beyond x = 25 the asymptotic series
    1 / (x sqrt(pi)) sum (-1)^n (2n - 1)!! / (2 x^2)^n, five terms (error < 1e-17)."""
    v = np.asarray(x, np.float64)
    small = ~(v > _ERFCX_SERIES_FROM)   # NaN stays on the direct side (NaN out)
    near = np.where(small & (v > -30.0), v, -30.0)     # e^900: inf, as erfcx(-30) is
    high = np.round(near * 4096.0) / 4096.0            # 12 fraction bits: high^2 is exact
    low = near - high
    with np.errstate(over="ignore"):
        direct = (np.exp(high * high) * np.exp(low * (high + near))
                  * _fast_math.call("erfc", near))
    direct = np.where(np.isnan(v), v, direct)
    far = np.where(small, _ERFCX_SERIES_FROM + 1, v)
    inv = 1.0 / (2.0 * far * far)
    series = 1.0 + inv * (-1.0 + inv * (3.0 + inv * (-15.0 + inv * (105.0 - 945.0 * inv))))
    out = np.where(small, direct, series / (far * math.sqrt(math.pi)))
    with np.errstate(over="ignore"):   # beyond float32's range: inf, as PyTorch's
        return out.astype(_result_dtype(x))


@kernel(sf.I0)
def i0(op, x):
    return np.i0(np.asarray(x, np.float64)).astype(_result_dtype(x))


_SERIES_UP_TO = 30.0   # |x| beyond: the asymptotic expansion of i1


def _i1_series(a):
    """sum over k of (a/2)^(2k+1) / (k! (k+1)!), a <= 30: all terms positive, no cancellation."""
    term = a / 2
    total = term.copy()
    quarter_square = a * a / 4
    for k in range(1, 120):
        term = term * quarter_square / (k * (k + 1))
        total += term
    return total


def _asymptotic(a, order: int, scaled: bool = False):
    """i_order(a) for large a: e^a / sqrt(2 pi a) * sum over k of prod_j ((2j - 1)^2 -
    4 order^2) / (k! (8a)^k); without the e^a when scaled."""
    term = np.ones_like(a)
    total = term.copy()
    for k in range(1, 16):
        term = term * ((2 * k - 1) ** 2 - 4 * order * order) / (k * 8 * a)
        total += term
    return (1.0 if scaled else np.exp(a)) / np.sqrt(2 * np.pi * a) * total


def _i1(x, scaled: bool = False):
    v = np.asarray(x, np.float64)
    a = np.abs(v)
    small = a <= _SERIES_UP_TO
    with np.errstate(over="ignore", invalid="ignore"):
        series = _i1_series(np.where(small, a, 0.0))
        if scaled:
            series *= np.exp(-np.where(small, a, 0.0))
        out = np.where(small, series, _asymptotic(np.where(small, _SERIES_UP_TO + 1, a), 1,
                                                  scaled))
    return (np.sign(v) * out).astype(_result_dtype(x))


@kernel(sf.I1)
def i1(op, x):
    return _i1(x)


@kernel(sf.I1e)
def i1e(op, x):
    return _i1(x, scaled=True)


@kernel(sf.I0e)
def i0e(op, x):
    """np.i0 times e^-|x| up to |x| = 30, the scaled asymptotic expansion beyond."""
    a = np.abs(np.asarray(x, np.float64))
    small = a <= _SERIES_UP_TO
    near = np.where(small, a, 0.0)
    out = np.where(small, np.i0(near) * np.exp(-near),
                   _asymptotic(np.where(small, _SERIES_UP_TO + 1, a), 0, scaled=True))
    return out.astype(_result_dtype(x))


@kernel(sf.Logit)
def logit(op, x):
    p = np.asarray(x, _result_dtype(x))
    if op.eps is not None:
        p = np.clip(p, op.eps, 1 - op.eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(p / (1 - p))
