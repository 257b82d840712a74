"""What the convolution and pooling kernels share beyond NumPy: reused scratch buffers, and
Numba loops for what NumPy cannot do in one pass — col2im (adding columns back into the
input) and max pooling (maximum, argmax and gradient routing in one sweep).

The pooling loops stage one image at a time in NHWC (it stays in cache), channels
innermost, so a window's taps are contiguous vectors and the data-dependent choice of the
argmax is a vector select rather than a mispredicted branch (4x faster than per-plane loops).
The loops are in `_conv_loops`, compiled on first use (and cached on disk). They are not
Numba-parallel (prange): OpenBLAS's idle threads spin for a while after each call, and an
OpenMP region beside them ran tens of times slower. The tile loops take a range of planes
instead, which `parallel.split` hands to the kernel pool's threads (the convolutions cut
their batch the same way, with one BLAS thread per piece).
"""
import collections
import math
import sys
import threading

import numpy as np

from . import parallel

SCRATCH_BYTES = 64 << 20  # largest scratch buffer kept between calls

_scratch = threading.local()


def scratch(name: str, shape, dtype) -> np.ndarray:
    """An uninitialized array reused by later calls in this thread (so never return it). A
    fresh buffer of a few MB may come back from the allocator as new pages, a page fault
    each: that cost up to 10 ms of a 20 ms convolution in a loop."""
    size = math.prod(shape)     # (np.prod: 2 us a call, 1 ms of a 13 ms convolution)
    buffer = getattr(_scratch, name, None)
    if buffer is None or buffer.dtype != dtype or buffer.size < size:
        buffer = np.empty(size, dtype)
        if buffer.nbytes <= SCRATCH_BYTES:
            setattr(_scratch, name, buffer)
    return buffer[:size].reshape(shape)


# ---- convolution -----------------------------------------------------------------------

class Shared:
    """A value all pieces of a kernel read (a transformed weight), made by the first piece that
    asks, inside the run, where BLAS has one thread; a piece asking meanwhile waits for it.
    Made before the run, its product ran on OpenBLAS's two threads, whose second thread then
    spun ~0.4 ms (OPENBLAS_THREAD_TIMEOUT) on the core the run's pool thread woke up on: the
    pool's half of a ResNet's 64 -> 64 3x3 layer started 0.37 ms late (2-core VM), nearly
    all that layer gained from two threads. The caller's piece (the first) should ask at once
    and the others only when they need it: theirs start later, after their own wake-up."""

    def __init__(self, make):
        self.make, self.value, self.lock = make, None, threading.Lock()

    def get(self):
        value = self.value      # made once: later reads need no lock
        if value is None:
            with self.lock:
                if self.value is None:
                    self.value = self.make()
                value = self.value
        return value


# Bytes of derived weights (and copies of the weights they came from) kept: a ResNet-18's
# Winograd layers take 12 MB. Past the limit every call of a model cycling through its layers
# misses and pays the copy.
MEMO_BYTES = 48 << 20


class WeightMemo:
    """Arrays the convolutions derive from a weight (Winograd's transforms), kept from recent
    calls under a purpose name, each with a copy of the weight it came from. A call whose
    weight (same memory, shape, strides and dtype) still holds those bits (`_conv_loops.
    same_bits`: a weight an optimizer changed differs at once) gets the kept array. A model
    in eval calls every layer with the same weights: Winograd's transform of 128 -> 128 3x3
    was 0.43 ms of a 1.4 ms forward at 4x4 (batch 64, two threads). A miss costs the copy (a
    quarter of the bytes Winograd's transform writes). The check reads two weights' bytes:
    not worth it for a mere relayout (the pixel pairs' [O, taps, C] of 256 -> 256 3x3 kept
    made that layer 0.35 ms slower a call). The least recently used go past MEMO_BYTES.
    Kept arrays are read only. A weight found changed CHANGES_TO_STOP times (training) is
    no longer kept (`wanted`): its copies and fresh transforms had made each training call
    of 128 -> 128 3x3 at 4x4 ~15 % slower than making the transform in scratch memory. What
    its forward hands its backward of the same step (Winograd's input-gradient transform)
    is kept in the array of the step before (`slot`): no fresh pages, and found only while
    the weight keeps the bits (an in-place change between the two calls misses). A kept
    array found dropped (past MEMO_BYTES) counts as a change: fast_neural_style's twelve
    Winograd layers (60 MB of transforms in two orders) had cycled through the memo, every
    call missing, copying its weight and writing its transform to fresh pages."""

    CHANGES_TO_STOP = 2

    def __init__(self):
        self.entries, self.bytes = collections.OrderedDict(), 0
        self.changes = {}                        # key -> times its bits were found changed
        self.spare = {}                          # key -> copy buffer of an entry in `slot`
        self.lock = threading.Lock()

    def wanted(self, w, purpose) -> bool:
        """Whether a transform made of w should be kept (w has not been seen changing)."""
        return self.changes.get(self._key(w, purpose), 0) < self.CHANGES_TO_STOP

    @staticmethod
    def _key(w, purpose):
        return (purpose, w.__array_interface__["data"][0], w.shape, w.strides, w.dtype.str)

    def find(self, w, purpose):
        key = self._key(w, purpose)
        with self.lock:
            entry = self.entries.get(key)
            if entry is not None:
                self.entries.move_to_end(key)
            elif key in self.changes:   # kept once, since dropped (past MEMO_BYTES): a miss
                self.changes[key] += 1  # as a change is (else many layers trained, or run
        if entry is None:               # in eval, cycled through the memo, never found)
            return None
        from . import _conv_loops
        bits = np.dtype(f"u{w.itemsize}")
        if _conv_loops.same_bits(entry[0].view(bits).reshape(-1),
                                 np.ascontiguousarray(w).view(bits).reshape(-1)):
            return entry[1]
        with self.lock:
            if len(self.changes) > 4096:        # addresses of long-gone weights
                self.changes.clear()
            self.changes[key] = self.changes.get(key, 0) + 1
            if self.changes[key] >= self.CHANGES_TO_STOP and self.entries.get(key) is entry:
                del self.entries[key]
                self.bytes -= entry[0].nbytes + entry[1].nbytes
        return None

    def slot(self, w, purpose, shape):
        """A writable array of shape (w's dtype) to make a transform of w in and `keep`: the
        one kept under the same key (taken out meanwhile, its copy buffer kept for `keep`),
        else a new one if it fits beside the others without dropping any, else None."""
        key, shape = self._key(w, purpose), tuple(shape)
        with self.lock:
            entry = self.entries.get(key)
            # not while a run found it and still reads it (another thread's backward): the
            # loop writes partial sums in place (refs: the entry's and getrefcount's)
            if entry is None or entry[1].shape != shape or sys.getrefcount(entry[1]) > 2:
                size = math.prod(shape) * w.itemsize + w.nbytes
                fits = self.bytes + size <= MEMO_BYTES
                return np.empty(shape, w.dtype) if fits else None
            del self.entries[key]
            self.bytes -= entry[0].nbytes + entry[1].nbytes
            self.spare[key] = entry[0]
        made = entry[1]
        made.flags.writeable = True     # its own memory (np.empty): made again in place
        return made

    def keep(self, w, purpose, made):
        made.flags.writeable = False
        key = self._key(w, purpose)
        with self.lock:
            copy = self.spare.pop(key, None)
        if copy is None:
            copy = np.array(w, order="C")
        else:
            np.copyto(copy, w)
        size = copy.nbytes + made.nbytes
        if size > MEMO_BYTES:
            return
        with self.lock:
            if len(self.changes) > 4096:    # ever new weights' keys: only those that count
                self.changes = {k: v for k, v in self.changes.items()
                                if v or k in self.entries}
                if len(self.changes) > 4096:
                    self.changes.clear()
            self.changes.setdefault(key, 0)
            old = self.entries.pop(key, None)
            if old is not None:
                self.bytes -= old[0].nbytes + old[1].nbytes
            self.entries[key] = (copy, made)
            self.bytes += size
            while self.bytes > MEMO_BYTES:
                first = self.entries.popitem(last=False)[1]
                self.bytes -= first[0].nbytes + first[1].nbytes


weight_memo = WeightMemo()


# A weight gradient is a sum over the batch: summed per thread's share of the images, its bits
# depended on the thread count (1, 2 and 4 threads gave three results). It is summed in parts
# fixed by the shapes instead, at most GRAD_PARTS of at least PART_MIN_PIXELS output pixels
# each (each part adds one weight-sized sum: a 256 -> 256 3x3 layer at 2x2 outputs, batch 64,
# stays one part, one product on OpenBLAS's threads). Two parts, as two threads cut it
# before: four cost the CNN's weight gradients ~0.1 ms more each at two threads (quiet, noisy;
# more threads than parts leave the rest idle here).
GRAD_PARTS = 2
PART_MIN_PIXELS = 256


def sum_parts(part_sum, n: int, pixels: int, work: int) -> list:
    """[part_sum(start, stop) for each part of the batch of n images, pixels output pixels
    each], the parts run on the threads (`parallel.split`) and listed in batch order: add them
    up in that order and the result does not depend on the threads."""
    parts = max(1, min(GRAD_PARTS, n, n * pixels // PART_MIN_PIXELS))
    bounds = [(n * k // parts, n * (k + 1) // parts) for k in range(parts)]
    results = [None] * parts

    def piece(p0, p1):
        for k in range(p0, p1):
            results[k] = part_sum(*bounds[k])
    parallel.split(piece, parts, work)
    return results


def nhwc_padded(x, pads, xp, start, stop):
    """Images start:stop of x [N, C, H, W] into the zero-padded NHWC buffer xp [N, top + H +
    bottom, left + W + right, C]."""
    h, w = x.shape[2:]
    (top, bottom), (left, right) = pads
    part = xp[start:stop]
    for border in (np.s_[:, :top], np.s_[:, top + h:], np.s_[:, top:top + h, :left],
                   np.s_[:, top:top + h, left + w:]):
        part[border] = 0
    part[:, top:top + h, left:left + w] = x[start:stop].transpose(0, 2, 3, 1)


def padded_buffer(x, pads):
    """The (uninitialized) padded NHWC buffer of x, in this thread's scratch."""
    n, c, h, w = x.shape
    (top, bottom), (left, right) = pads
    return scratch("padded", (n, top + h + bottom, left + w + right, c), x.dtype)


def col2im(dcols, dxp, block, wo, stride, dilation, khw) -> None:
    """Add columns dcols [G, pixels, kH * kW * Cg] of the output block (n0, n1, a0, a1) back
    into the padded NHWC gradient dxp, where their windows read the input."""
    n0, _, a0, a1 = block
    from . import _conv_loops
    general, runs = _conv_loops.col2im_general, _conv_loops.col2im_runs
    if dcols.shape[0] == 1 and dilation[1] == 1:
        n, hp, wp, c = dxp.shape
        runs(dcols[0], dxp.reshape(n, hp, wp * c), n0, a0, a1 - a0, wo, stride[0],
             stride[1] * c, dilation[0], khw[0])
    else:
        general(dcols, dxp, n0, a0, a1 - a0, wo, *stride, *dilation, *khw)


# ---- max pooling -----------------------------------------------------------------------

def tile_max_pool_grad(x, g, kernel):
    """The max-pool gradient over tiles (see `_conv_loops.tile_max_grad`), in g's dtype,
    planes (or tile rows) cut among the threads."""
    n, c, h, w = x.shape
    planes = np.ascontiguousarray(x).reshape(n * c, h, w)
    g_planes = np.ascontiguousarray(g).reshape(n * c, *g.shape[2:])
    dx = np.empty((n * c, h, w), g.dtype)
    from . import _conv_loops
    if tuple(kernel) == (2, 2) and h % 2 == 0 and w % 2 == 0:
        pairs, rows = _conv_loops.pair_max_grad, n * c * h // 2
        flat = planes.reshape(-1), g_planes.reshape(-1), dx.reshape(-1)
        zero = dx.dtype.type(0)
        parallel.split(lambda r0, r1: pairs(*flat, r0, r1, w, zero), rows, x.size,
                       blas=False)
    else:
        loop = _conv_loops.tile_max_grad
        parallel.split(lambda p0, p1: loop(planes, g_planes, *kernel, dx, p0, p1), n * c,
                       x.size, blas=False)
    return dx.reshape(x.shape)


def _windows(out, stride, k, d, before, size):
    """[3, out]: each window's start along one axis and its range of taps inside the input
    (never empty: padding is at most half the kernel)."""
    start = np.arange(out) * stride - before
    lo = np.where(start >= 0, 0, (d - 1 - start) // d)
    hi = np.minimum(k, (size - 1 - start) // d + 1)
    return np.stack([start, lo, hi])


def max_pool(which: str, x, kernel, stride, dilation, pads, out, g=None):
    """Max pooling of x [N, C, H, W]: "forward" gives the maxima, "argmax" their flat
    indices h * W + w, "backward" g [N, C, Ho, Wo] added at them (shaped like x)."""
    n, c, h, w = x.shape
    like = x.dtype if g is None else g.dtype
    dtype = _loop_float(x.dtype if g is None else np.result_type(x, g))
    # C-contiguous: each loop compiles once per float dtype (transposed or strided inputs
    # would each compile their own; a fresh clone's tests compiled six of each)
    x = np.ascontiguousarray(x, dtype)
    geometry = (_windows(out[0], stride[0], kernel[0], dilation[0], pads[0][0], h),
                _windows(out[1], stride[1], kernel[1], dilation[1], pads[1][0], w),
                *dilation)
    from . import _conv_loops
    forward, argmax, backward = (_conv_loops.pool_forward, _conv_loops.pool_argmax,
                                 _conv_loops.pool_backward)
    if which == "forward":   # images cut among the threads (the other two: one thread)
        result = np.empty((n, c) + tuple(out), dtype)
        parallel.split(lambda n0, n1: forward(x, *geometry, result, n0, n1), n, x.size,
                       blas=False)
        return result.astype(like, copy=False)
    if which == "argmax":
        result = np.empty((n, c) + tuple(out), np.intp)
        argmax(x, *geometry, result)
        return result
    result = np.empty(x.shape, dtype)
    backward(x, np.ascontiguousarray(g, dtype), *geometry, result)
    return result.astype(like, copy=False)


def _loop_float(dtype):
    """float32 or float64 (the loops' types); narrower floats convert exactly to float32."""
    return np.dtype(dtype) if dtype in (np.float32, np.float64) else np.dtype(np.float32)
