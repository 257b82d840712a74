"""The Numba side of `_fast_math`: scalar helpers, the ufunc bodies built on them, and the
loops that call them: the LSTM recurrence and the single-step LSTM and GRU cells
(ops/rnn_cell.py), float32 or float64 versions chosen per loop specialization by the
`sigmoid`/`tanh` and `gate_sigmoid`/`gate_tanh` overloads. Imported on first use (it
imports Numba).

Everything that calls these helpers lives in this one file, at module level, on purpose:
Numba's disk cache keys a function by its own source file and by the values of its closure
variables. A jitted helper captured in a closure pickles differently in every process (so
nothing was ever loaded from the cache, and its index grew by one entry per process), and a
helper imported from another file could change without voiding its callers' cached code.
"""
import math

from ._numba import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload

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


# ---- float64 exp without libm, and gates that keep NaN (the single-step cells) -----------
# libm's exp and tanh are scalar calls: float64 cells on them ran 3-10x slower than NumPy's
# SIMD passes. e^-y is 2^-k e^r with k = round(y / ln 2), r = k ln 2 - y in [-0.35, 0.35]
# (ln 2 in two parts, Cody and Waite), e^r - 1 = q by its Taylor polynomial (degree 13:
# under 2e-16 relative) and 2^-k as two exponent fields (so results down to the smallest
# subnormal are right). Measured against NumPy: within 2.3e-16 relative (exp), 4.5e-16
# (sigmoid, tanh). Compiled without fast-math's no-NaN and reassociation flags (those would
# merge the two parts of ln 2), and branch-free: a NaN passes through Numba's min and max
# as their first argument, signs are copied, and k becomes an integer by the 1.5 * 2^52
# trick rather than a conversion (undefined for NaN). The cells' loops inline these.

EXACT = {"nsz", "contract"}
exact = numba.njit(inline="always", fastmath=EXACT)
LOG2E = 1.4426950408889634
LN2_HI, LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
ROUND = 6755399441055744.0          # 1.5 * 2^52: x + ROUND has round(x) in its low bits
E3, E4, E5, E6, E7, E8, E9, E10, E11, E12, E13 = (1 / math.factorial(k) for k in range(3, 14))


@intrinsic
def float_bits(typingctx, n):
    """The float64 whose bits are the int64 n."""
    if n != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@intrinsic
def int_bits(typingctx, x):
    """The int64 whose bits are the float64 x."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@exact
def exp_neg_parts(y):
    """(s, q) with e^-y = s (1 + q), s a power of two and |q| < 0.42, for y >= 0 (or NaN:
    then q is NaN)."""
    shifted = min(y, 746.0) * LOG2E + ROUND
    k = shifted - ROUND
    r = (k * LN2_HI - min(y, 746.0)) + k * LN2_LO
    q = r * (1.0 + r * (0.5 + r * (E3 + r * (E4 + r * (E5 + r * (E6 + r * (E7 + r * (
        E8 + r * (E9 + r * (E10 + r * (E11 + r * (E12 + r * E13))))))))))))
    n = int_bits(shifted) - int_bits(ROUND)
    half = n >> 1
    return float_bits((1023 - half) << 52) * float_bits((1023 - (n - half)) << 52), q


@exact
def sigmoid64_exact(u):
    """1 / (1 + e) for u >= 0, else e / (1 + e), with e = e^-|u| (no overflow)."""
    s, q = exp_neg_parts(abs(u))
    e = s + s * q
    return max(e, 0.5 + math.copysign(0.5, u)) / (1.0 + e)


@exact
def tanh64_exact(u):
    """-m / (2 + m) with m = expm1(-2|u|) = s q + (s - 1) (no cancellation near 0), and
    the sign of u."""
    s, q = exp_neg_parts(min(2.0 * abs(u), 40.0))
    m = s * q + (s - 1.0)
    return math.copysign(m / (-2.0 - m), u)


@exact
def sigmoid32_exact(u):
    """float32 gates through the float64 ones, rounded once: `sigmoid32`'s exp stops at
    e^-18 and its tanh loses digits near 0, which a cell's state carries step to step."""
    return f32(sigmoid64_exact(np.float64(u)))


@exact
def tanh32_exact(u):
    return f32(tanh64_exact(np.float64(u)))


def gate_sigmoid(u):
    """sigmoid32_exact for a float32 argument, else sigmoid64_exact."""


def gate_tanh(u):
    """tanh32_exact for a float32 argument, else tanh64_exact."""


@overload(gate_sigmoid, inline="always", jit_options={"fastmath": EXACT})
def _gate_sigmoid(u):
    return sigmoid32_exact.py_func if u == types.float32 else sigmoid64_exact.py_func


@overload(gate_tanh, inline="always", jit_options={"fastmath": EXACT})
def _gate_tanh(u):
    return tanh32_exact.py_func if u == types.float32 else tanh64_exact.py_func


# ---- ufunc bodies: {name: (float32 body, float64 body, signature, fastmath)} ------------

@inline
def erf_32(x):
    return erf32(x)


def erf_64(x):
    return math.erf(x)


def erfc_any(x):
    """libm's erfc (float32 and float64): no cancellation, unlike 1 - erf."""
    return math.erfc(x)


@inline
def gelu_32(x):
    return x * f32(0.5) * (f32(1) + erf32(x * f32(RSQRT2)))


def gelu_64(x):
    return x * 0.5 * (1 + math.erf(x * RSQRT2))


@inline
def gelu_grad_32(g, x):
    cdf = f32(0.5) * (f32(1) + erf32(x * f32(RSQRT2)))
    return g * (cdf + x * exp_neg32(f32(0.5) * x * x) * f32(RSQRT_2PI))


def gelu_grad_64(g, x):
    cdf = 0.5 * (1 + math.erf(x * RSQRT2))
    return g * (cdf + x * math.exp(-0.5 * x * x) * RSQRT_2PI)


@inline
def gelu_tanh_32(x):
    t = tanh32(f32(SQRT_2_OVER_PI) * x * (f32(1) + f32(CUBIC) * x * x))
    return f32(0.5) * x * (f32(1) + t)


def gelu_tanh_64(x):
    return 0.5 * x * (1 + math.tanh(SQRT_2_OVER_PI * x * (1 + CUBIC * x * x)))


@inline
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
    """0 where x <= 0, else g (a NaN x passes g, as PyTorch): compiled without fastmath,
    whose no-NaN assumption would fold the test."""
    return 0.0 if x <= 0 else g


UFUNCS = {"erf": (erf_32, erf_64, "float{0}(float{0})", (True, False)),
          "erfc": (erfc_any, erfc_any, "float{0}(float{0})", (False, False)),
          "gelu": (gelu_32, gelu_64, "float{0}(float{0})", (True, False)),
          "gelu_grad": (gelu_grad_32, gelu_grad_64, "float{0}(float{0}, float{0})",
                        (True, False)),
          "gelu_tanh": (gelu_tanh_32, gelu_tanh_64, "float{0}(float{0})", (True, False)),
          "gelu_tanh_grad": (gelu_tanh_grad_32, gelu_tanh_grad_64,
                             "float{0}(float{0}, float{0})", (True, False)),
          "relu_grad": (relu_grad, relu_grad, "float{0}(float{0}, float{0})", (False, False))}


def vectorized(name: str, bits: int):
    """The float32 (bits 32) or float64 ufunc for `name`, compiled or loaded from the disk
    cache (`_fast_math.ufunc` keeps it)."""
    body32, body64, sig, (fast32, fast64) = UFUNCS[name]
    body, fast = (body32, fast32) if bits == 32 else (body64, fast64)
    built = numba.vectorize([sig.format(bits)], cache=True, fastmath=fast)(
        getattr(body, "py_func", body))
    # the NumPy ufunc inside Numba's DUFunc: no Python-level __call__ per use, and NumPy's
    # floating-point warnings point at the kernel that called it (filtered there)
    return getattr(built, "ufunc", built)


# ---- float32 loops over flat arrays -------------------------------------------------------
# The same bodies as jitted loops: Numba's disk cache holds their whole machine code, where a
# `vectorize` ufunc builds its NumPy loop wrapper with LLVM in every process (~40 ms each,
# paid by the first GELU of every process). `_fast_math.call` takes these for contiguous
# float32 arrays of one shape; one branch per body, each a loop LLVM vectorizes.

UNARY32 = {"erf": 0, "gelu": 1, "gelu_tanh": 2}
BINARY32 = {"gelu_grad": 0, "gelu_tanh_grad": 1}

loop = numba.njit(cache=True, nogil=True, fastmath=True, error_model="numpy")


@loop
def unary32(body, x, out):
    if body == 0:
        for i in range(x.shape[0]):
            out[i] = erf_32(x[i])
    elif body == 1:
        for i in range(x.shape[0]):
            out[i] = gelu_32(x[i])
    else:
        for i in range(x.shape[0]):
            out[i] = gelu_tanh_32(x[i])


@loop
def binary32(body, g, x, out):
    if body == 0:
        for i in range(x.shape[0]):
            out[i] = gelu_grad_32(g[i], x[i])
    else:
        for i in range(x.shape[0]):
            out[i] = gelu_tanh_grad_32(g[i], x[i])


@numba.njit(cache=True, nogil=True)     # no fastmath: it would assume no NaN
def relu_flat(x, out):
    """out = max(x, 0) over flat float arrays, as PyTorch's relu: NaN and -0.0 pass.
    NumPy's maximum tests for NaN per element; this loop vectorizes to compares and selects,
    2x faster on arrays in cache (200k float32: 44 against 24 us, one thread)."""
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = 0 if v < 0 else v


@numba.njit(cache=True, nogil=True)     # no fastmath: it would assume no NaN
def leaky_relu_flat(x, slope, out):
    """out = x where x > 0, else slope * x, over flat float arrays; slope has x's dtype, so
    the product rounds as PyTorch's (a NaN stays NaN, -0.0 stays -0.0)."""
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = v if v > 0 else v * slope


@numba.njit(cache=True, nogil=True)
def leaky_relu_grad_flat(g, y, slope, out):
    """out = g where y > 0, else slope * g (at 0 and NaN the slope, as PyTorch's)."""
    for i in range(g.shape[0]):
        out[i] = g[i] if y[i] > 0 else g[i] * slope


@numba.njit(cache=True, nogil=True)     # no fastmath: it would assume no NaN
def clamp_flat(x, low, high, out):
    """out = x limited to [low, high] (infinite for no limit), as PyTorch's clamp: a NaN
    passes, -0.0 stays -0.0 at a limit of 0, and with low > high every value is high."""
    for i in range(x.shape[0]):
        v = x[i]
        v = low if v < low else v
        out[i] = high if v > high else v


@numba.njit(cache=True, nogil=True)
def clamp_grad_flat(g, y, low, high, hard, zero, out):
    """out = g where low <= y <= high, else 0 (clamp's: 0 at NaN); with `hard` (hardtanh's)
    0 where y <= low or y >= high, else g (so g at NaN). Both loads unconditional, bitwise
    `|`/`&` and `zero` of g's dtype: LLVM then vectorizes the select (0.69 -> 0.50 ms on
    786k float32, one thread; a select between g[i] and the literal 0 mixed in float64)."""
    if hard:
        for i in range(g.shape[0]):
            v, w = y[i], g[i]
            out[i] = zero if (v <= low) | (v >= high) else w
    else:
        for i in range(g.shape[0]):
            v, w = y[i], g[i]
            out[i] = w if (v >= low) & (v <= high) else zero


SUM_BLOCK = 32   # rows summed in float32 before a float64 add (as the layer norm loops)


@loop
def binary32_column_sums(body, g, x, out, sums):
    """`binary32` over rows [rows, width], with each column of out summed into `sums`
    (float64 [width]) while its row is in cache: a GELU gradient and the bias gradient of
    the Linear before it in one pass. Blocks of `SUM_BLOCK` rows are summed in float32."""
    part = np.zeros(x.shape[1], np.float32)
    for r in range(x.shape[0]):
        gr, xr, orow = g[r], x[r], out[r]
        if body == 0:
            for j in range(xr.shape[0]):
                orow[j] = gelu_grad_32(gr[j], xr[j])
        else:
            for j in range(xr.shape[0]):
                orow[j] = gelu_tanh_grad_32(gr[j], xr[j])
        for j in range(xr.shape[0]):
            part[j] += orow[j]
        if r % SUM_BLOCK == SUM_BLOCK - 1 or r == x.shape[0] - 1:
            for j in range(xr.shape[0]):
                sums[j] += part[j]
                part[j] = 0


# ---- the LSTM cell and recurrence (see backend/numpy/rnn.py) ----------------------------

cell = numba.njit(cache=True, nogil=True, fastmath=True, error_model="numpy")  # x/0: IEEE
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112     # CBLAS's enum values


@intrinsic
def gemm(typingctx, address, trans_a, trans_b, m, n, k, a, a_at, lda, b, b_at, ldb, beta, c,
         c_at, ldc):
    """c[c_at:] <- op(a[a_at:]) op(b[b_at:]) + beta c[c_at:] (row-major [m, k] x [k, n],
    leading dimensions lda, ldb, ldc, in elements) by CBLAS ?gemm with 64-bit integers at
    `address` (backend/numpy/blas.py finds it). The address is an argument, not a constant,
    so the compiled caller stays valid in the disk cache across processes."""
    if not (isinstance(a, types.Array) and a.dtype in (types.float32, types.float64)
            and b.dtype == a.dtype and c.dtype == a.dtype):
        return None
    sig = types.void(address, trans_a, trans_b, m, n, k, a, a_at, lda, b, b_at, ldb, beta, c,
                     c_at, ldc)

    def codegen(context, builder, signature, args):
        kinds = signature.args
        real = context.get_value_type(a.dtype)
        i32, i64 = ir.IntType(32), ir.IntType(64)

        def num(at, ty):
            return context.cast(builder, args[at], kinds[at], ty)

        def data(at):
            array = context.make_array(kinds[at])(context, builder, args[at])
            return builder.gep(array.data, [num(at + 1, types.int64)])
        fn_type = ir.FunctionType(ir.VoidType(), [i32, i32, i32, i64, i64, i64, real,
                                                  real.as_pointer(), i64, real.as_pointer(),
                                                  i64, real, real.as_pointer(), i64])
        fn = builder.inttoptr(num(0, types.int64), fn_type.as_pointer())
        builder.call(fn, [context.get_constant(types.int32, ROW_MAJOR),
                          num(1, types.int32), num(2, types.int32), num(3, types.int64),
                          num(4, types.int64), num(5, types.int64),
                          context.get_constant(a.dtype, 1.0), data(6), num(8, types.int64),
                          data(9), num(11, types.int64), num(12, a.dtype), data(13),
                          num(15, types.int64)])
        return context.get_dummy_value()
    return sig, codegen


@intrinsic
def load_acquire(typingctx, array, at):
    """array[at] (int64) by an atomic load with acquire order: a spin loop re-reads it (a
    plain load could be hoisted out), and what its writer stored before is visible after."""
    if not (isinstance(array, types.Array) and array.dtype == types.int64):
        return None

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        at_ = context.cast(builder, args[1], signature.args[1], types.int64)
        return builder.load_atomic(builder.gep(data, [at_]), "acquire", 8)
    return types.int64(array, at), codegen


@intrinsic
def store_release(typingctx, array, at, value):
    """array[at] = value (int64) by an atomic store with release order: everything this
    thread wrote before is visible to a thread that then reads the value (load_acquire)."""
    if not (isinstance(array, types.Array) and array.dtype == types.int64):
        return None

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        at_ = context.cast(builder, args[1], signature.args[1], types.int64)
        v = context.cast(builder, args[2], signature.args[2], types.int64)
        builder.store_atomic(v, builder.gep(data, [at_]), "release", 8)
        return context.get_dummy_value()
    return types.void(array, at, value), codegen


@intrinsic
def fetch_add(typingctx, array, at, value):
    """array[at] += value (int64) atomically, sequentially consistent; the value before: a
    piece of a step is claimed by the one thread that saw 0 (`claim_and_run`)."""
    if not (isinstance(array, types.Array) and array.dtype == types.int64):
        return None

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        at_ = context.cast(builder, args[1], signature.args[1], types.int64)
        v = context.cast(builder, args[2], signature.args[2], types.int64)
        return builder.atomic_rmw("add", builder.gep(data, [at_]), v, "seq_cst")
    return types.int64(array, at, value), codegen


@intrinsic
def call_int(typingctx, address, arg):
    """The C function int f(unsigned) at `address` (sched_yield, which ignores the argument;
    usleep), found by ctypes."""
    def codegen(context, builder, signature, args):
        fn_type = ir.FunctionType(ir.IntType(32), [ir.IntType(32)])
        at = context.cast(builder, args[0], signature.args[0], types.int64)
        value = context.cast(builder, args[1], signature.args[1], types.int32)
        return builder.call(builder.inttoptr(at, fn_type.as_pointer()), [value])
    return types.int32(address, arg), codegen


SPINS = 256         # reads of the counter between sched_yields (see wait_for)
YIELDS = 256        # sched_yields (~0.1-0.3 ms when nothing else wants the core) before naps
NAP_US = 20         # usleep between reads after that (with the kernel's timer slack ~70 us)


@cell
def wait_for(sync, at, count, yield_at, nap_at):
    """Until sync[at] >= count: spin on it, calling sched_yield (at `yield_at`) every SPINS
    reads, and after YIELDS of those usleep (at `nap_at`; 0: keep yielding) between reads.
    A core that only yields stays busy, so the scheduler does not move the descheduled
    thread being waited for onto it; a nap lets it. It never gives up: what it waits for is
    a piece claimed by a thread that runs it to the end without waiting (`claim_and_run`)."""
    spins = 0
    while load_acquire(sync, at) < count:
        spins += 1
        if spins % SPINS == 0:
            if nap_at and spins // SPINS > YIELDS:
                call_int(nap_at, NAP_US)
            else:
                call_int(yield_at, 0)


@inline
def _rows(n):
    """n, 2n and 3n unsigned (int64 + uint64 is a float in Numba: offsets of unsigned rows
    must be unsigned too)."""
    u = np.uint64(n)
    return u, u + u, u + u + u


@cell
def lstm_forward(product, xw, bias, c, out, t, j0, j1, b0, b1):
    """One step, hidden-major, of hidden rows [j0, j1) and batch columns [b0, b1): product
    [4n, B] = the rows i f g o of w_hh for those n = j1 - j0 hidden rows times h_{t-1}^T
    (n = H: all of them), xw [4H, T, B] and bias [4H] (gates i f g o), c [H, B] the cell
    state, updated in place; out [T + 1, 6, H, B] (planes h c i f g o) <- slot t + 1. Each
    row is a 1-D contiguous array over the batch: LLVM vectorizes those loops, provided
    nothing read comes from `out` (the reason c is a separate array). float32 takes the
    libm-free sigmoid/tanh."""
    H, H2, H3 = _rows(out.shape[2])
    n, n2, n3 = _rows(j1 - j0)
    s = t + 1
    for r in range(n):                                  # unsigned rows: no wraparound checks
        j = np.uint64(j0) + r
        p_i, p_f, p_g, p_o = product[r], product[n + r], product[n2 + r], product[n3 + r]
        x_i, x_f, x_g, x_o = xw[j, t], xw[H + j, t], xw[H2 + j, t], xw[H3 + j, t]
        b_i, b_f, b_g, b_o = bias[j], bias[H + j], bias[H2 + j], bias[H3 + j]
        c_j = c[j]
        h_, c_, i_, f_, g_, o_ = (out[s, 0, j], out[s, 1, j], out[s, 2, j], out[s, 3, j],
                                  out[s, 4, j], out[s, 5, j])
        for b in range(np.uint64(b0), np.uint64(b1)):   # unsigned: no wraparound check
            i = sigmoid(p_i[b] + x_i[b] + b_i)
            f = sigmoid(p_f[b] + x_f[b] + b_f)
            g = tanh(p_g[b] + x_g[b] + b_g)
            o = sigmoid(p_o[b] + x_o[b] + b_o)
            cb = f * c_j[b] + i * g
            c_j[b] = cb
            h_[b] = o * tanh(cb)
            c_[b] = cb
            i_[b] = i
            f_[b] = f
            g_[b] = g
            o_[b] = o


@cell
def lstm_backward(dh, dc, g, out, t, d, e, one, j0, j1, b0, b1, zero):
    """One step back, hidden-major, of hidden rows [j0, j1) and batch columns [b0, b1):
    e [4H, B] <- the adjoints of step t's gate pre-activations, then copied to d[:, t]
    (d [4H, T + 1, B]; the next product reads e: d[:, t]'s rows lie 6.5 KB apart at T 50,
    and that product ran a third slower on them; writing both in the cell's loop made the
    backward a third slower, a copy after it does not); dc <- the adjoint reaching c at slot t.
    dh, dc [H, B]: the adjoints reaching slot t + 1 through the recurrence; g [k, 2, H, B]:
    the adjoint of the h and c planes of `lstm`'s output (its gate planes carry none) in its
    last k slots, the earlier slots' being `zero` [2, H, B] (g [k, 1, H, B]: the h planes'
    alone, c's being zero); out [T + 1, 6, H, B]; one: 1 in the data's dtype. tanh(c) is
    recomputed rather than stored: a cheap pass instead of one more plane written and read."""
    H, H2, H3 = _rows(out.shape[2])
    s = t + 1
    first = out.shape[0] - g.shape[0]     # the slot g[0] is the adjoint of
    gs = g[s - first] if s >= first else zero
    gcs = gs[1] if gs.shape[0] == 2 else zero[1]
    for j in range(np.uint64(j0), np.uint64(j1)):      # unsigned: no wraparound checks
        i_, f_, g_, o_, c_, c0 = (out[s, 2, j], out[s, 3, j], out[s, 4, j], out[s, 5, j],
                                  out[s, 1, j], out[t, 1, j])
        gh, gc, dh_, dc_ = gs[0, j], gcs[j], dh[j], dc[j]
        d_i, d_f, d_g, d_o = e[j], e[H + j], e[H2 + j], e[H3 + j]
        for b in range(np.uint64(b0), np.uint64(b1)):   # unsigned: no wraparound check
            i, f, gg, o = i_[b], f_[b], g_[b], o_[b]
            tanh_c = tanh(c_[b])
            dh_b = dh_[b] + gh[b]
            dc_b = dc_[b] + gc[b] + dh_b * o * (one - tanh_c * tanh_c)
            d_i[b] = dc_b * gg * i * (one - i)
            d_f[b] = dc_b * c0[b] * f * (one - f)
            d_g[b] = dc_b * i * (one - gg * gg)
            d_o[b] = dh_b * tanh_c * o * (one - o)
            dc_[b] = dc_b * f
    for k in range(4):
        for j in range(np.uint64(j0), np.uint64(j1)):
            row, e_row = d[k * H + j, t], e[k * H + j]
            for b in range(np.uint64(b0), np.uint64(b1)):
                row[b] = e_row[b]


gates = numba.njit(cache=True, nogil=True, fastmath=EXACT, error_model="numpy")


@gates
def sigmoid64_flat(x, out):
    """out <- sigmoid(x), float64, flat: one vectorized pass where NumPy's branch-safe
    sigmoid takes eight (eager torch.sigmoid of a [97, 51] float64: 25 -> ~7 us)."""
    for i in range(x.shape[0]):
        out[i] = sigmoid64_exact(x[i])


@gates
def lstm_cell(xw, hw, c, out):
    """One step of N rows: xw, hw [N, 4H] (gates i f g o), c [N, H]; out [7, N, H] <- the
    planes h' c' i f g o tanh(c') (ops/rnn_cell.py). Rows are C-contiguous."""
    H, H2, H3 = _rows(c.shape[1])
    for n in range(c.shape[0]):
        x, h, c_n = xw[n], hw[n], c[n]
        h_, c_, i_, f_, g_, o_, t_ = (out[0, n], out[1, n], out[2, n], out[3, n], out[4, n],
                                      out[5, n], out[6, n])
        for j in range(H):
            i = gate_sigmoid(x[j] + h[j])
            f = gate_sigmoid(x[H + j] + h[H + j])
            g = gate_tanh(x[H2 + j] + h[H2 + j])
            o = gate_sigmoid(x[H3 + j] + h[H3 + j])
            c_new = f * c_n[j] + i * g
            t = gate_tanh(c_new)
            h_[j] = o * t
            c_[j] = c_new
            i_[j] = i
            f_[j] = f
            g_[j] = g
            o_[j] = o
            t_[j] = t


@gates
def lstm_cell_grad(dh, dc, out, c, grads, one):
    """grads [N, 5H] <- the adjoints of the gate pre-activations i f g o, then of c, from
    dh, dc [N, H] (the adjoints of h' and c') and `lstm_cell`'s planes out [7, N, H]."""
    H, H2, H3 = _rows(c.shape[1])
    H4 = H2 + H2
    for n in range(c.shape[0]):
        dh_, dc_, c_n, d = dh[n], dc[n], c[n], grads[n]
        i_, f_, g_, o_, t_ = out[2, n], out[3, n], out[4, n], out[5, n], out[6, n]
        for j in range(H):
            i, f, g, o, t = i_[j], f_[j], g_[j], o_[j], t_[j]
            dh_j = dh_[j]
            dc_j = dc_[j] + dh_j * o * (one - t * t)
            d[j] = dc_j * g * i * (one - i)
            d[H + j] = dc_j * c_n[j] * f * (one - f)
            d[H2 + j] = dc_j * i * (one - g * g)
            d[H3 + j] = dh_j * t * o * (one - o)
            d[H4 + j] = dc_j * f


@gates
def gru_cell(xw, hw, h, out):
    """One GRU step of N rows: xw, hw [N, 3H] (gates r z n), h [N, H]; out [4, N, H] <- the
    planes h' r z n, h' = n + z (h - n) (PyTorch's arithmetic)."""
    H, H2, _ = _rows(h.shape[1])
    for m in range(h.shape[0]):
        x, y, h_m = xw[m], hw[m], h[m]
        h_, r_, z_, n_ = out[0, m], out[1, m], out[2, m], out[3, m]
        for j in range(H):
            r = gate_sigmoid(x[j] + y[j])
            z = gate_sigmoid(x[H + j] + y[H + j])
            n = gate_tanh(x[H2 + j] + r * y[H2 + j])
            h_[j] = n + z * (h_m[j] - n)
            r_[j] = r
            z_[j] = z
            n_[j] = n


@gates
def gru_cell_grad(dh, out, hw, h, grads, one):
    """grads [N, 7H] <- the adjoints of xw (r z n), of hw (r z n) and of h, from dh [N, H]
    and `gru_cell`'s planes out [4, N, H]."""
    H, H2, H3 = _rows(h.shape[1])
    H4, H6 = H2 + H2, H3 + H3
    H5 = H4 + H
    for m in range(h.shape[0]):
        dh_, y, h_m, d = dh[m], hw[m], h[m], grads[m]
        r_, z_, n_ = out[1, m], out[2, m], out[3, m]
        for j in range(H):
            r, z, n, g = r_[j], z_[j], n_[j], dh_[j]
            d_n = g * (one - z) * (one - n * n)
            d_r = d_n * y[H2 + j] * r * (one - r)
            d_z = g * (h_m[j] - n) * z * (one - z)
            d[j] = d_r
            d[H + j] = d_z
            d[H2 + j] = d_n
            d[H3 + j] = d_r
            d[H4 + j] = d_z
            d[H5 + j] = d_n * r
            d[H6 + j] = g * z


@cell
def gemm_blocks(address, m, n, k, a, a_at, lda, b, b_at, ldb, c, c_at, ldc, rows, depth):
    """c[c_at:] <- a[a_at:] b[b_at:] (row-major [m, k] x [k, n], no transposes) as products
    of at most `rows` rows and `depth` inner terms each, the depth blocks accumulating into
    c: small enough for OpenBLAS's unpacked small-matrix kernels (see `rnn._blocks`)."""
    for r0 in range(0, m, rows):
        r = min(rows, m - r0)
        for k0 in range(0, k, depth):
            gemm(address, NO_TRANS, NO_TRANS, r, n, min(depth, k - k0), a,
                 a_at + r0 * lda + k0, lda, b, b_at + k0 * ldb, ldb, 0.0 if k0 == 0 else 1.0,
                 c, c_at + r0 * ldc, ldc)


@numba.njit(cache=True, nogil=True)
def affine_gemm(address, trans_b, a, lda, b, ldb, bias, c):
    """c [m, n] <- a [m, k] op(b) + bias (row-major, leading dimensions in elements; op(b) is
    b^T when trans_b is TRANS) as PyTorch's addmm computes it: the bias written into c, the
    product added by ?gemm at `address` with beta 1 (`linalg.affine` says why)."""
    m, n = c.shape
    for i in range(m):
        for j in range(n):
            c[i, j] = bias[j]
    gemm(address, NO_TRANS, trans_b, m, n, a.shape[1], a, 0, lda, b, 0, ldb, 1.0, c, 0, n)


@cell
def claim(sync, unit, slots, q, pieces):
    """Whether this thread takes piece q of `unit` (always, when there is one piece): the
    first thread to reach a piece runs it, whichever thread it was meant for."""
    return pieces == 1 or fetch_add(sync, unit * slots + q, 1) == 0


@cell
def lstm_forward_steps(address, w_rows, xw, bias, c, out, product, cuts, b0, b1, rows,
                       depth, sync, piece, yield_at, nap_at):
    """Every step of `lstm_forward` for batch columns [b0, b1), each step's product by ?gemm
    at `address` in blocks of `rows` x `depth` (`gemm_blocks`): no Python between steps, and
    the GIL stays released, so pieces run at once on the kernel pool's threads. The hidden
    rows are cut in len(cuts) - 1 pieces ([cuts[q], cuts[q + 1]); one: all of them):
    w_rows [pieces, 4m, H] holds in w_rows[q]'s first rows w_hh's rows i f g o of piece q's
    rows, product [pieces, 4m, B] its product. Every row piece of a step reads all of
    h_{t-1}, so a step's pieces start once all of the step before are done (`sync`: per
    step a claim count per piece and a done count). A thread (this one meant for piece
    `piece`) runs every piece of a step it reaches unclaimed, its own first: a thread the
    OS has descheduled holds up only the piece it is inside, and the recurrence runs at one
    thread's speed, not at the pace of the scheduler's time slices, when the machine has
    more runnable threads than cores. It returns when every step is done."""
    H = out.shape[2]
    B = out.shape[3]
    pieces = cuts.shape[0] - 1
    slots = pieces + 1
    steps = out.shape[0] - 1
    for t in range(steps):
        if t and pieces > 1:
            wait_for(sync, (t - 1) * slots + pieces, pieces, yield_at, nap_at)
        for k in range(pieces):
            q = (piece + k) % pieces
            if not claim(sync, t, slots, q, pieces):
                continue
            j0, j1 = cuts[q], cuts[q + 1]
            gemm_blocks(address, 4 * (j1 - j0), b1 - b0, H, w_rows, q * w_rows.shape[1] * H, H,
                        out, t * 6 * H * B + b0, B, product[q], b0, B, rows, depth)
            lstm_forward(product[q], xw, bias, c, out, t, j0, j1, b0, b1)
            if pieces > 1:
                fetch_add(sync, t * slots + pieces, 1)
    if pieces > 1 and steps:
        wait_for(sync, (steps - 1) * slots + pieces, pieces, yield_at, nap_at)


@cell
def lstm_backward_steps(address, w_t, dh, dc, g, out, d, e, one, cuts, b0, b1, rows, depth,
                        sync, piece, yield_at, nap_at, zero):
    """Every step of `lstm_backward` for batch columns [b0, b1), last step first, the hidden
    rows cut as in `lstm_forward_steps` (and shared out the same way), each step's
    dh[j0:j1] = w_t[j0:j1] e by ?gemm at `address` in blocks of `rows` x `depth`
    (`gemm_blocks`), e [2, 4H, B] the step's gate adjoints, contiguous, in e[t % 2]; w_t =
    w_hh^T [H, 4H], C-ordered. A piece of step t (unit last - t) is that product for
    step t + 1's adjoints, which reads every row of e[(t + 1) % 2] (so it waits for all of
    the unit before), then step t's cell; two buffers, as a piece may write step t's rows
    while another still reads step t + 1's."""
    H, gates = w_t.shape
    B = out.shape[3]
    pieces = cuts.shape[0] - 1
    slots = pieces + 1
    last = out.shape[0] - 2
    for u in range(last + 1):
        t = last - u
        if u and pieces > 1:
            wait_for(sync, (u - 1) * slots + pieces, pieces, yield_at, nap_at)
        for k in range(pieces):
            q = (piece + k) % pieces
            if not claim(sync, u, slots, q, pieces):
                continue
            j0, j1 = cuts[q], cuts[q + 1]
            if u:
                gemm_blocks(address, j1 - j0, b1 - b0, gates, w_t, j0 * gates, gates, e,
                            ((t + 1) % 2) * gates * B + b0, B, dh, j0 * B + b0, B, rows, depth)
            lstm_backward(dh, dc, g, out, t, d, e[t % 2], one, j0, j1, b0, b1, zero)
            if pieces > 1:
                fetch_add(sync, u * slots + pieces, 1)
    if pieces > 1 and last >= 0:
        wait_for(sync, last * slots + pieces, pieces, yield_at, nap_at)
