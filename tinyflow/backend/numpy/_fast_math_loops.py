"""The Numba side of `_fast_math`: scalar helpers, the ufunc bodies built on them, and the
LSTM cell loops that call them (float32 or float64 versions, chosen per loop specialization
by the `sigmoid` and `tanh` overloads). Imported on first use (it imports Numba).

Everything that calls these helpers lives in this one file, at module level, on purpose:
Numba's disk cache keys a function by its own source file and by the values of its closure
variables. A jitted helper captured in a closure pickles differently in every process (so
nothing was ever loaded from the cache, and its index grew by one entry per process), and a
helper imported from another file could change without voiding its callers' cached code.
"""
import math

import numba
import numpy as np
from numba.core import types
from numba.extending import overload

f32 = np.float32
P0, P1, P2, P3, P4, P5, P6 = (f32(c) for c in (
    1.1283786914102385, 0.21407459297230688, 0.052452851775269496, 0.004298820272965021,
    0.0001556753085552305, -1.9909215344879327e-06, 1.9215571606112647e-08))
Q0, Q1, Q2, Q3, Q4 = (f32(c) for c in (1.0, 0.5230464217822568, 0.12085503439840134,
                                       0.015563245672685124, 0.0010994192656555513))
RSQRT2 = 0.7071067811865476
RSQRT_2PI = 0.3989422804014327
SQRT_2_OVER_PI = 0.7978845608028654
CUBIC = 0.044715

inline = numba.njit(inline="always", fastmath=True)


# ---- scalars (inlined into the loops below) ---------------------------------------------

@inline
def erf32(x):
    x = min(max(x, f32(-4)), f32(4))
    s = x * x
    p = (((((P6 * s + P5) * s + P4) * s + P3) * s + P2) * s + P1) * s + P0
    q = (((Q4 * s + Q3) * s + Q2) * s + Q1) * s + Q0
    return x * p / q


@inline
def exp_neg32(y):
    z = -min(y, f32(18)) * f32(0.0625)
    e = f32(1) + z * (f32(1) + z * (f32(0.5) + z * (f32(1 / 6) + z * (
        f32(1 / 24) + z * (f32(1 / 120) + z * (f32(1 / 720) + z * f32(1 / 5040)))))))
    e = e * e
    e = e * e
    e = e * e
    return e * e


@inline
def tanh32(u):
    e = exp_neg32(f32(2) * abs(u))
    t = (f32(1) - e) / (f32(1) + e)
    return t if u >= 0 else -t


@inline
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


def sigmoid(u):
    """sigmoid32 for a float32 argument, else sigmoid64 (chosen when the loop compiles)."""


def tanh(u):
    """tanh32 for a float32 argument, else tanh64."""


@overload(sigmoid, jit_options={"fastmath": True})
def _sigmoid(u):
    return sigmoid32.py_func if u == types.float32 else sigmoid64.py_func


@overload(tanh, jit_options={"fastmath": True})
def _tanh(u):
    return tanh32.py_func if u == types.float32 else tanh64.py_func


# ---- ufunc bodies: {name: (float32 body, float64 body, signature, fastmath)} ------------

def erf_32(x):
    return erf32(x)


def erf_64(x):
    return math.erf(x)


def gelu_32(x):
    return x * f32(0.5) * (f32(1) + erf32(x * f32(RSQRT2)))


def gelu_64(x):
    return x * 0.5 * (1 + math.erf(x * RSQRT2))


def gelu_grad_32(g, x):
    cdf = f32(0.5) * (f32(1) + erf32(x * f32(RSQRT2)))
    return g * (cdf + x * exp_neg32(f32(0.5) * x * x) * f32(RSQRT_2PI))


def gelu_grad_64(g, x):
    cdf = 0.5 * (1 + math.erf(x * RSQRT2))
    return g * (cdf + x * math.exp(-0.5 * x * x) * RSQRT_2PI)


def gelu_tanh_32(x):
    t = tanh32(f32(SQRT_2_OVER_PI) * x * (f32(1) + f32(CUBIC) * x * x))
    return f32(0.5) * x * (f32(1) + t)


def gelu_tanh_64(x):
    return 0.5 * x * (1 + math.tanh(SQRT_2_OVER_PI * x * (1 + CUBIC * x * x)))


def gelu_tanh_grad_32(g, x):
    x2 = x * x
    t = tanh32(f32(SQRT_2_OVER_PI) * x * (f32(1) + f32(CUBIC) * x2))
    du = f32(SQRT_2_OVER_PI) * (f32(1) + f32(3 * CUBIC) * x2)
    return g * (f32(0.5) * (f32(1) + t) + f32(0.5) * x * (f32(1) - t * t) * du)


def gelu_tanh_grad_64(g, x):
    x2 = x * x
    t = math.tanh(SQRT_2_OVER_PI * x * (1 + CUBIC * x2))
    du = SQRT_2_OVER_PI * (1 + 3 * CUBIC * x2)
    return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)


def relu_grad(g, x):
    return g if x > 0 else g * 0


UFUNCS = {"erf": (erf_32, erf_64, "float{0}(float{0})", (True, False)),
          "gelu": (gelu_32, gelu_64, "float{0}(float{0})", (True, False)),
          "gelu_grad": (gelu_grad_32, gelu_grad_64, "float{0}(float{0}, float{0})",
                        (True, False)),
          "gelu_tanh": (gelu_tanh_32, gelu_tanh_64, "float{0}(float{0})", (True, False)),
          "gelu_tanh_grad": (gelu_tanh_grad_32, gelu_tanh_grad_64,
                             "float{0}(float{0}, float{0})", (True, False)),
          "relu_grad": (relu_grad, relu_grad, "float{0}(float{0}, float{0})", (True, True))}


def vectorized(name: str, bits: int):
    """The float32 (bits 32) or float64 ufunc for `name`, compiled or loaded from the disk
    cache (`_fast_math.ufunc` keeps it)."""
    body32, body64, sig, (fast32, fast64) = UFUNCS[name]
    body, fast = (body32, fast32) if bits == 32 else (body64, fast64)
    return numba.vectorize([sig.format(bits)], cache=True, fastmath=fast)(body)


# ---- the LSTM cell (see backend/numpy/rnn.py) -------------------------------------------

cell = numba.njit(cache=True, nogil=True, fastmath=True, error_model="numpy")  # x/0: IEEE


@cell
def lstm_forward(product, xw, c_prev, row):
    """product, xw [B, 4H] (i f g o); row [7, B, H] <- h c i f g o tanh(c). Rows as 1-D
    arrays: LLVM vectorizes those inner loops. float32 takes the libm-free sigmoid/tanh."""
    H = c_prev.shape[1]
    for b in range(c_prev.shape[0]):
        p, x, c0 = product[b], xw[b], c_prev[b]
        h, c, i_, f_, g_, o_, t_ = (row[0, b], row[1, b], row[2, b], row[3, b], row[4, b],
                                    row[5, b], row[6, b])
        for j in range(H):
            i = sigmoid(p[j] + x[j])
            f = sigmoid(p[H + j] + x[H + j])
            g = tanh(p[2 * H + j] + x[2 * H + j])
            o = sigmoid(p[3 * H + j] + x[3 * H + j])
            cj = f * c0[j] + i * g
            tanh_c = tanh(cj)
            h[j] = o * tanh_c
            c[j] = cj
            i_[j] = i
            f_[j] = f
            g_[j] = g
            o_[j] = o
            t_[j] = tanh_c


@cell
def lstm_backward(dh, dc, g_row, row, c_prev, d, one):
    """d [B, 4H] <- adjoints of the gate pre-activations; dc <- dc_{t-1} (dh, dc: the
    adjoints reaching h_t, c_t through the recurrence; g_row: through the output; one:
    1 in the data's dtype)."""
    H = dh.shape[1]
    for b in range(dh.shape[0]):
        for j in range(H):
            i, f, gg, o, tanh_c = (row[2, b, j], row[3, b, j], row[4, b, j],
                                   row[5, b, j], row[6, b, j])
            dh_j = dh[b, j] + g_row[0, b, j]
            dc_j = dc[b, j] + g_row[1, b, j] + (dh_j * o + g_row[6, b, j]) * (
                one - tanh_c * tanh_c)
            d[b, j] = (dc_j * gg + g_row[2, b, j]) * i * (one - i)
            d[b, H + j] = (dc_j * c_prev[b, j] + g_row[3, b, j]) * f * (one - f)
            d[b, 2 * H + j] = (dc_j * i + g_row[4, b, j]) * (one - gg * gg)
            d[b, 3 * H + j] = (dh_j * tanh_c + g_row[5, b, j]) * o * (one - o)
            dc[b, j] = dc_j * f
