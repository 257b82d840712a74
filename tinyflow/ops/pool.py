"""2-D pooling over NCHW tensors with PyTorch's semantics (padding, dilation, ceil_mode,
count_include_pad), and the gradient ops that make second order work.

Max pooling routes each output's gradient to the position of its window's maximum (the
first one on ties, as PyTorch). Three ops share that routing: `MaxPool2d` (values of x at
the argmax), `MaxPool2dSelect` (values of another tensor at x's argmax: the jvp, and the
vjp of the gradient) and `MaxPool2dGrad` (scatter-add to x's argmax: the vjp). Average
pooling is linear: its gradient `AvgPool2dGrad` spreads g over the windows, and the vjp of
that is average pooling again.
"""
from __future__ import annotations

import numpy as np

from ..core.op import Op, apply, as_tensor, shared
from ..core.tensor import Tensor
from .conv import SAME, axis_pads, kept_out_shape, like, pair, padding_attr, rank4, window_out
from .math import check_floating
from .linalg import matmul


class _Pool(Op):
    """The attributes of every pooling op, in the canonical form of `pool_attrs`."""
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: str | tuple[tuple[int, int], tuple[int, int]]   # "same" or (before, after) pairs
    dilation: tuple[int, int]
    ceil_mode: bool

    def _out_shape(self, x_shape) -> tuple:
        return kept_out_shape((self, x_shape), self._checked_out_shape, x_shape)

    def _checked_out_shape(self, x_shape) -> tuple:
        n, c, h, w = rank4(x_shape, "the input")
        return (n, c) + window_out(self, (h, w), self.kernel, self.ceil_mode)

    def _check_pooled(self, g, x) -> None:
        expect = self._out_shape(x.shape)
        g_shape = rank4(g.shape, "the output gradient")
        if any(a is not None and b is not None and a != b for a, b in zip(g_shape, expect)):
            raise ValueError(f"output gradient of shape {g.shape} does not match the pooled "
                             f"shape {expect}")


class MaxPool2d(_Pool):
    name = "max_pool2d"
    saves_output = False

    def infer(self, x):
        check_floating(x)
        shape = self._out_shape(x.shape)
        if self.dilation != (1, 1) and self.padding != ((0, 0), (0, 0)):
            self._check_windows(x.shape, shape)
        return shape, x.dtype

    def _check_windows(self, x_shape, out_shape) -> None:
        """A dilated window may step over a small input and read only padding: its maximum
        is undefined (PyTorch returns -inf or, in ceil_mode, reads memory it never wrote)."""
        for axis in (0, 1):
            size, out = x_shape[2 + axis], out_shape[2 + axis]
            if size is None or out is None:
                continue
            k, s, d = self.kernel[axis], self.stride[axis], self.dilation[axis]
            before = axis_pads(self.padding, axis, size, k, s, d)[0]
            for o in range(out):
                start = o * s - before
                if not any(0 <= start + i * d < size for i in range(k)):
                    raise ValueError(
                        f"window {o} along {('rows', 'columns')[axis]} covers only padding: "
                        f"kernel {self.kernel} with dilation {self.dilation}, padding "
                        f"{self.padding}, input {x_shape}")

    def vjp(self, g, out, x):
        return (apply(like(self, MaxPool2dGrad), g, x),)

    def jvp(self, t, out, x):
        return apply(like(self, MaxPool2dSelect), t[0], x)   # linear in t, not in x


class MaxPool2dSelect(_Pool):
    """t at the positions where x's windows attain their maximum (shaped like the pooled x).

    x only picks the positions: they are piecewise constant in x, so x gets no gradient.
    """
    name = "max_pool2d_select"
    saves_output = False
    linearity = "linear"
    linear_inputs = 1

    def infer(self, t, x):
        check_floating(t, x)
        _same_shape(t, x)
        return self._out_shape(x.shape), t.dtype

    def vjp(self, g, out, t, x):
        return apply(like(self, MaxPool2dGrad), g, x), None


class MaxPool2dGrad(_Pool):
    """g (shaped like the pooled x) added at the argmax of each of x's windows; overlapping
    windows that share a maximum add up."""
    name = "max_pool2d_grad"
    saves_output = False
    linearity = "linear"
    linear_inputs = 1

    def infer(self, g, x):
        check_floating(g, x)
        self._check_pooled(g, x)
        return rank4(x.shape, "the input"), g.dtype

    def vjp(self, h, out, g, x):
        return apply(like(self, MaxPool2dSelect), h, x), None


class AvgPool2d(_Pool):
    name = "avg_pool2d"
    saves_inputs = False
    saves_output = False
    linearity = "linear"
    count_include_pad: bool

    def infer(self, x):
        check_floating(x)
        return self._out_shape(x.shape), x.dtype

    def vjp(self, g, out, x):
        return (apply(like(self, AvgPool2dGrad), g, x),)


class AvgPool2dGrad(_Pool):
    """g / divisor spread evenly over each window, shaped like `ref` (the pooled input, read
    for its shape only)."""
    name = "avg_pool2d_grad"
    saves_inputs = False
    saves_output = False
    linearity = "linear"
    linear_inputs = 1
    count_include_pad: bool

    def infer(self, g, ref):
        check_floating(g)
        self._check_pooled(g, ref)
        return rank4(ref.shape, "the input"), g.dtype

    def vjp(self, h, out, g, ref):
        return apply(like(self, AvgPool2d), h), None


def _same_shape(a, b) -> None:
    if a.shape is not None and b.shape is not None and (len(a.shape) != len(b.shape) or any(
            p is not None and q is not None and p != q for p, q in zip(a.shape, b.shape))):
        raise ValueError(f"shapes {a.shape} and {b.shape} must be equal")


# ---- the functions users call ----------------------------------------------------------

def check_padding(op: str, kernel: tuple, padding: tuple, given) -> None:
    """PyTorch's rule that no side pads more than half the kernel, so that every window
    holds at least one input element; `padding` has an int or a (before, after) pair per
    axis, `given` is what the user wrote, for the message."""
    if any(max(p if isinstance(p, tuple) else (p,)) > k // 2 for p, k in zip(padding, kernel)):
        raise ValueError(f"{op}: padding {given} is more than half of kernel_size {kernel}: "
                         "a window could hold padding only")


def pool_attrs(kernel_size, stride, padding, dilation, ceil_mode, op: str) -> dict:
    """Pool attributes in canonical form, checked for `op` (the function the user called)."""
    kernel = pair(kernel_size, "kernel_size")
    stride = kernel if stride is None or stride == [] else pair(stride, "stride")
    dilation = pair(dilation, "dilation")
    given, padding = padding, padding_attr(padding)
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{op}: kernel_size {kernel}, stride {stride} and dilation "
                         f"{dilation} must be positive")
    if padding != SAME:
        check_padding(op, kernel, padding, given)
    return dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                ceil_mode=bool(ceil_mode))   # the order of the ops' fields (as `shared` takes)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               name=None) -> Tensor:
    """PyTorch's F.max_pool2d over x [N, C, H, W]: padding counts as -inf.

    Args:
        stride: defaults to kernel_size.
        padding: an int or pair (at most half the kernel), or "same" (TensorFlow's) or
            ((top, bottom), (left, right)).
    """
    attrs = pool_attrs(kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d")
    return apply(shared(MaxPool2d, *attrs.values()), as_tensor(x), name=name)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, name=None) -> Tensor:
    """PyTorch's F.avg_pool2d over x [N, C, H, W].

    Args:
        count_include_pad: divide by the window's size including zero padding (but not the
            part of a ceil_mode window beyond it), else by the number of input elements.
    """
    attrs = pool_attrs(kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d")
    # (count_include_pad is AvgPool2d's last field, after _Pool's in `pool_attrs` order)
    op = shared(AvgPool2d, *attrs.values(), bool(count_include_pad))
    return apply(op, as_tensor(x), name=name)


def adaptive_avg_pool2d(x, output_size, name=None) -> Tensor:
    """PyTorch's F.adaptive_avg_pool2d: output cell i averages input rows
    floor(i * H / oh) to ceil((i + 1) * H / oh), and likewise for columns.

    An evenly dividing size is plain average pooling; otherwise the windows differ in size
    and overlap, and the mean over each (separable in rows and columns) is two products with
    constant averaging matrices: P_h @ x @ P_w^T. Needs H and W known.
    """
    x = as_tensor(x)
    n, c, h, w = rank4(x.shape, "adaptive_avg_pool2d: the input")
    if h is None or w is None:
        raise ValueError(f"adaptive_avg_pool2d needs the spatial size known, got {x.shape}")
    if isinstance(output_size, int):
        output_size = (output_size, output_size)
    if len(output_size) != 2:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be an int or a pair, got "
                         f"{output_size}")
    oh, ow = (size if o is None else int(o) for o, size in zip(output_size, (h, w)))
    if min(oh, ow) < 1:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be positive, got {(oh, ow)}")
    if h % oh == 0 and w % ow == 0:
        return avg_pool2d(x, (h // oh, w // ow), name=name)
    rows = as_tensor(_averaging_matrix(h, oh, x.dtype.np))
    cols = as_tensor(_averaging_matrix(w, ow, x.dtype.np).T)
    return matmul(matmul(rows, x), cols, name=name)


def _averaging_matrix(size: int, out: int, dtype) -> np.ndarray:
    """[out, size]: row i averages inputs floor(i * size / out) .. ceil((i+1) * size / out)."""
    m = np.zeros((out, size), dtype)
    for i in range(out):
        start, end = (i * size) // out, -(-((i + 1) * size) // out)
        m[i, start:end] = 1 / (end - start)
    return m
