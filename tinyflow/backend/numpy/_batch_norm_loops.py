"""The Numba loops of training-mode batch norm (imported on first use: it imports Numba), at
module level with their helper in this same file so that Numba's disk cache serves them to
the next process (see `_fast_math_loops` for why closures and other files' helpers do not).

x is [outer, C, inner] (NCHW as [N, C, H*W]). Each loop does channels c0:c1, so a kernel can
give each thread its own channels. A channel's values (outer runs of inner) are read from
memory once and then from cache: the statistics, the sums and the result are passes over
one channel at a time. Sums are float64; the per-element work stays in x's dtype (SIMD).
"""
from ._numba import numba
import numpy as np

# error_model="numpy": 1/sqrt(0) is inf, not an exception (a constant channel of `moments`);
# fastmath without nnan/ninf: a NaN or inf in a channel gives NaN statistics, as PyTorch.
jit = numba.njit(cache=True, nogil=True, error_model="numpy",
                 fastmath={"contract", "arcp", "reassoc", "nsz", "afn"})


@jit
def channel_stats(x, k, eps):
    """Mean, biased variance and 1 / sqrt(variance + eps) of channel k, in float64, in one
    pass: sums of x - s and its square with s one of the channel's values (shifted sums: no
    cancellation when the mean is large against the spread, as two passes; one pass less
    over the channel in every loop below). An empty channel has mean 0 and variance 0, so
    the gradients' sums over it are 0 (as PyTorch's), not 0 * NaN."""
    count = x.shape[0] * x.shape[2]
    if count == 0:
        return 0.0, 0.0, 1.0 / np.sqrt(eps)
    shift = np.float64(x[0, k, 0])
    total = 0.0
    sq = 0.0
    for a in range(x.shape[0]):
        for b in range(x.shape[2]):
            d = x[a, k, b] - shift
            total += d
            sq += d * d
    mean_d = total / count
    var = max(sq / count - mean_d * mean_d, 0.0)
    return shift + mean_d, var, 1.0 / np.sqrt(var + eps)


@jit
def moments(x, out, c0, c1):
    """out[0, k] = mean, out[1, k] = biased variance of channel k."""
    for k in range(c0, c1):
        mean, var, _ = channel_stats(x, k, 0.0)
        out[0, k] = mean
        out[1, k] = var


@jit
def forward_channel(x, w, b, eps, y, k, coef):
    """Channel k of y = (x - mean) / std * w + b, as one multiply-add per element (coef: 2
    scratch values in y's dtype); returns the channel's mean, biased variance and
    1 / sqrt(variance + eps)."""
    mean, var, inv_std = channel_stats(x, k, eps)
    scale = w[k] * inv_std
    coef[0] = scale
    coef[1] = b[k] - mean * scale
    scale_, shift_ = coef[0], coef[1]
    for a in range(x.shape[0]):
        for c in range(x.shape[2]):
            y[a, k, c] = x[a, k, c] * scale_ + shift_
    return mean, var, inv_std


@jit
def forward(x, w, b, eps, y, c0, c1):
    """y = (x - mean) / std * w + b on channels c0:c1."""
    coef = np.empty(2, y.dtype)
    for k in range(c0, c1):
        forward_channel(x, w, b, eps, y, k, coef)


@jit
def forward_stats(x, w, b, eps, y, stats, saved, c0, c1):
    """`forward`, and each channel's mean and sum of squared deviations into stats [2, C]
    (x's dtype, rounded as PyTorch's are), for the running statistics; and its float64
    mean and 1 / std into saved [2, C], for the backward (`input_grad_saved`)."""
    coef = np.empty(2, y.dtype)
    values = x.shape[0] * x.shape[2]
    for k in range(c0, c1):
        mean, var, inv_std = forward_channel(x, w, b, eps, y, k, coef)
        stats[0, k] = mean
        stats[1, k] = var * values
        saved[0, k] = mean
        saved[1, k] = inv_std


@jit
def channel_sums(g, x, k, mean, inv_std):
    """sum(g * y) and sum(g) over channel k, y = (x - mean) * inv_std, in float64."""
    g_sum = 0.0
    gx_sum = 0.0
    for a in range(x.shape[0]):
        for c in range(x.shape[2]):
            g_sum += g[a, k, c]
            gx_sum += g[a, k, c] * (x[a, k, c] - mean)
    return gx_sum * inv_std, g_sum


@jit
def param_grad(g, x, eps, out, c0, c1):
    """out[0, k] = sum(g * y) (the weight's gradient), out[1, k] = sum(g) (the bias')."""
    for k in range(c0, c1):
        mean, _, inv_std = channel_stats(x, k, eps)
        gy, gs = channel_sums(g, x, k, mean, inv_std)
        out[0, k] = gy
        out[1, k] = gs


@jit
def input_grad_channel(g, x, w, k, mean, inv_std, dx, sums, coef):
    """Channel k of `input_grad`, given its mean and 1 / std (coef: 3 scratch values in
    dx's dtype)."""
    count = x.shape[0] * x.shape[2]
    gy, gs = channel_sums(g, x, k, mean, inv_std)
    sums[0, k] = gy
    sums[1, k] = gs
    s = w[k] * inv_std
    t = -s * inv_std * gy / count           # times y = (x - mean) * inv_std
    u = -s * gs / count - t * mean
    coef[0], coef[1], coef[2] = s, t, u
    s_, t_, u_ = coef[0], coef[1], coef[2]
    for a in range(x.shape[0]):
        for c in range(x.shape[2]):
            dx[a, k, c] = g[a, k, c] * s_ + x[a, k, c] * t_ + u_


@jit
def input_grad(g, x, w, eps, dx, sums, c0, c1):
    """dx = w / std * (g - mean(g) - y * mean(g y)), as one multiply-add per element:
    dx = g * s + x * t + u with per-channel s, t, u; and the sums it needs, which are the
    parameters' gradients, into sums [2, C] as `param_grad` gives them."""
    coef = np.empty(3, dx.dtype)     # the per-channel constants in dx's dtype
    for k in range(c0, c1):
        mean, _, inv_std = channel_stats(x, k, eps)
        input_grad_channel(g, x, w, k, mean, inv_std, dx, sums, coef)


@jit
def input_grad_saved(g, x, w, saved, dx, sums, c0, c1):
    """`input_grad` with each channel's mean and 1 / std read from saved [2, C] (float64,
    as `forward_stats` wrote them) instead of computed again: one pass over x fewer."""
    coef = np.empty(3, dx.dtype)
    for k in range(c0, c1):
        input_grad_channel(g, x, w, k, saved[0, k], saved[1, k], dx, sums, coef)


@jit
def affine(x, scale, shift, y, c0, c1):
    """y = x * scale[k] + shift[k] on channels c0:c1: eval-mode batch norm in one pass. Small
    images (under 64 pixels: a ResNet's last layers, 4x4 to 1x1) run as rows [N, C * H * W]
    against the scale and shift repeated per pixel: loops of 16 to 1 per channel use SIMD
    poorly (ResNet's [64, 256, 2, 2]: 8 us against 35). Loops index 1-D rows with range()
    variables: Numba then skips the negative-index test that kept LLVM from vectorizing."""
    inner = x.shape[2]
    if inner >= 64:
        for a in range(x.shape[0]):
            for k in range(c0, c1):
                s = scale[k]
                t = shift[k]
                x_row = x[a, k]
                y_row = y[a, k]
                for c in range(inner):
                    y_row[c] = x_row[c] * s + t
        return
    lo, width = c0 * inner, (c1 - c0) * inner
    s_row = np.empty(width, y.dtype)
    t_row = np.empty(width, y.dtype)
    for k in range(c0, c1):
        for c in range(inner):
            s_row[(k - c0) * inner + c] = scale[k]
            t_row[(k - c0) * inner + c] = shift[k]
    x2 = x.reshape(x.shape[0], -1)
    y2 = y.reshape(x.shape[0], -1)
    for a in range(x.shape[0]):
        x_row = x2[a, lo:lo + width]
        y_row = y2[a, lo:lo + width]
        for j in range(width):
            y_row[j] = x_row[j] * s_row[j] + t_row[j]
