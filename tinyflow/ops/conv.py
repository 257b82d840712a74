"""2-D convolution (NCHW input, OIHW weight, as PyTorch) and its two gradient ops.

Convolution is bilinear in (x, w), so its gradients are bilinear too: the gradient with
respect to the input (`Conv2dGradInput`, a transposed convolution) and with respect to the
weight (`Conv2dGradWeight`) are ops whose own vjps are convolutions or each other. That is
what makes second order and forward mode work without any special case.

The window geometry helpers here (pairs, padding, output sizes) are shared by pooling and by
the kernels, which resolve `"same"` padding from run-time shapes.
"""
from __future__ import annotations


from ..core.dtypes import promote
from ..core.errors import ShapeError
from ..core.modes import autocast_state, needs_input_grad
from ..core.op import Op, apply, as_tensor, field_names, shared, sum_terms
from ..core.tensor import Tensor
from .math import autocast_inputs, check_floating
from .reduce import reduce_sum
from .shape import GetItem, Reshape, broadcast_to, concat, reshape

SAME = "same"


# ---- window geometry -------------------------------------------------------------------

def pair(value, what: str) -> tuple:
    """An int or a pair of ints as a pair (height, width)."""
    if isinstance(value, int):
        return (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ValueError(f"{what} must be an int or a pair of ints, got {value}")
    return value


def padding_attr(padding):
    """"same", or ((top, bottom), (left, right)) from an int, a pair, a pair of pairs or
    "valid" — one canonical form so ops compare and print the same way."""
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return ((0, 0), (0, 0))
        if mode == SAME:
            return SAME
        raise ValueError(f"padding must be 'valid', 'same' or ints, got {padding!r}")
    if isinstance(padding, int):
        return ((padding, padding), (padding, padding))
    padding = tuple(padding)
    if len(padding) != 2:
        raise ValueError(f"padding must be an int, a pair or two pairs, got {padding}")
    pads = tuple((int(p), int(p)) if isinstance(p, int) else tuple(int(q) for q in p)
                 for p in padding)
    if any(len(p) != 2 or min(p) < 0 for p in pads):
        raise ShapeError(f"negative padding is not supported: padding must be non-negative "
                         f"(before, after) pairs, got {padding}")
    return pads


def axis_pads(padding, axis: int, size: int, k: int, s: int, d: int) -> tuple:
    """(before, after) padding of one spatial axis.

    "same" is TensorFlow's rule: enough padding for ceil(size / stride) outputs, the odd
    element after. With stride 1 that is PyTorch's padding='same' as well.
    """
    if padding != SAME:
        return padding[axis]
    total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
    return (total // 2, total - total // 2)


def axis_out(size: int, k: int, s: int, d: int, pads: tuple, ceil_mode: bool = False) -> int:
    """Number of windows along one axis (PyTorch's rule, ceil_mode included); -1 if there
    is none: the dilated kernel does not fit in the padded input (in ceil_mode, one window
    may hang past the end, as long as it starts inside the input or its leading padding)."""
    span = size + pads[0] + pads[1] - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + pads[0]:
        out -= 1
    return out if out >= 1 else -1


def window_out(op, hw: tuple, khw: tuple, ceil_mode: bool = False) -> tuple:
    """Output (height, width) of `op`'s windows over an input of spatial size `hw`, with None
    where a size is unknown; a clear error if the kernel is larger than the padded input."""
    out = []
    for axis in (0, 1):
        size, k = hw[axis], khw[axis]
        if size is None or k is None:
            out.append(None)
            continue
        s, d = op.stride[axis], op.dilation[axis]
        pads = axis_pads(op.padding, axis, size, k, s, d)
        n = axis_out(size, k, s, d, pads, ceil_mode)
        if n <= 0:
            raise ValueError(f"kernel {khw[0]}x{khw[1]} (dilation {op.dilation}) is larger "
                             f"than the padded input: {hw[0]}x{hw[1]} padded by "
                             f"{_pads_repr(op.padding)}")
        out.append(n)
    return tuple(out)


def _pads_repr(padding) -> str:
    return "'same'" if padding == SAME else f"{padding[0]} (rows), {padding[1]} (columns)"


def rank4(shape, what: str) -> tuple:
    """A rank-4 shape, all None when even the rank is unknown (the result is still 4-D)."""
    if shape is None:
        return (None,) * 4
    if len(shape) != 4:
        raise ValueError(f"{what} must be 4-D (N, C, H, W), got shape {shape}")
    return tuple(shape)


# ---- the ops ---------------------------------------------------------------------------

_OUT_SHAPES: dict = {}   # (op, input shape[, weight shape]) -> output shape


def kept_out_shape(key: tuple, checked, *shapes) -> tuple:
    """`checked(*shapes)`, a conv or pool op's output shape, kept under `key` (the op and the
    shapes): an eager step asks again for each op and each of its gradient ops, with the same
    shapes every step. Shapes it refuses are not kept (each call raises)."""
    shape = _OUT_SHAPES.get(key)
    if shape is None:
        shape = checked(*shapes)
        if len(_OUT_SHAPES) >= 1024:   # (bounded: ops whose shapes keep changing)
            _OUT_SHAPES.clear()
        _OUT_SHAPES[key] = shape
    return shape


class _ConvGeometry(Op):
    """Shared by the three ops, each bilinear in its first two inputs (a third is read for
    its shape only): their attributes, in the canonical form of `conv_attrs`."""
    linearity = "multilinear"
    linear_inputs = 2
    stride: tuple[int, int]
    padding: str | tuple[tuple[int, int], tuple[int, int]]   # "same" or (before, after) pairs
    dilation: tuple[int, int]
    groups: int

    def _out_shape(self, x, w) -> tuple:
        """(N, O, Ho, Wo) of conv2d(x, w), checking channels and groups where known (kept:
        `kept_out_shape`)."""
        return kept_out_shape((self, x, w), self._checked_out_shape, x, w)

    def _checked_out_shape(self, x, w) -> tuple:
        n, c, h, wd = rank4(x, "the input")
        o, cg, kh, kw = rank4(w, "the weight")
        groups = self.groups
        if 0 in (c, cg, o):     # (the kernels' blocks would divide by it)
            raise ShapeError(f"input {x} and weight {w} (O, C/groups, kH, kW) "
                             f"leave no channels to convolve; a convolution needs at least "
                             f"one input and one output channel")
        if o is not None and o % groups:
            raise ValueError(f"weight {w} has {o} output channels, not divisible by "
                             f"groups={groups}")
        if c is not None and c % groups:
            raise ValueError(f"input {x} has {c} channels, not divisible by groups={groups}")
        if c is not None and cg is not None and c != cg * groups:
            raise ValueError(f"input {x} has {c} channels but weight {w} with groups={groups} "
                             f"expects {cg * groups}")
        return (n, o) + window_out(self, (h, wd), (kh, kw))

    def _check_grad(self, g_shape, expect) -> None:
        g = rank4(g_shape, "the output gradient")
        if any(a is not None and b is not None and a != b for a, b in zip(g, expect)):
            raise ValueError(f"output gradient of shape {g_shape} does not match the "
                             f"convolution's output shape {expect}")


class Conv2d(_ConvGeometry):
    """out[n, o] = sum over the group's input channels c and kernel taps of x * w."""
    name = "conv2d"
    saves_output = False

    def infer(self, x, w):
        check_floating(x, w)
        if x.dtype is not w.dtype:   # PyTorch and TF1 both refuse; promoting hides a mistake
            raise TypeError(f"the input ({x.dtype.name}) and the weight ({w.dtype.name}) must "
                            f"have the same dtype")
        return self._out_shape(x.shape, w.shape), x.dtype

    def vjp(self, g, out, x, w):
        return (apply(like(self, Conv2dGradInput), g, w, x) if needs_input_grad(0) else None,
                apply(like(self, Conv2dGradWeight), x, g, w) if needs_input_grad(1) else None)


class Conv2dBias(_ConvGeometry):
    """conv2d plus a per-output-channel bias b [O], added while the kernel writes its output
    (a separate add is one more pass over the output, and its gradient one more over g).
    Affine, not bilinear: its own class keeps conv2d's linearity for forward mode."""
    name = "conv2d_bias"
    saves_output = False
    linearity = linear_inputs = None

    def infer(self, x, w, b):
        shape, dtype = Conv2d.infer(self, x, w)
        check_floating(b)
        if b.dtype is not dtype:
            raise TypeError(f"the bias ({b.dtype.name}) must have the input's dtype "
                            f"({dtype.name})")
        if b.shape is not None and (len(b.shape) != 1 or None not in (b.shape[0], shape[1])
                                    and b.shape[0] != shape[1]):
            raise ValueError(f"bias of shape {b.shape} does not match the {shape[1]} output "
                             f"channels: it must be ({shape[1]},)")
        return shape, dtype

    def vjp(self, g, out, x, w, b):
        known = w.shape is not None and None not in w.shape
        if not (needs_input_grad(1) and needs_input_grad(2) and known):
            gx, gw = Conv2d.vjp(self, g, out, x, w)
            return gx, gw, reduce_sum(g, axis=(0, 2, 3)) if needs_input_grad(2) else None
        gx = apply(like(self, Conv2dGradInput), g, w, x) if needs_input_grad(0) else None
        return (gx, *_weight_and_bias(apply(like(self, Conv2dGradWeightBias), x, g, w),
                                      tuple(w.shape)))

    def jvp(self, tangents, out, x, w, b):
        tx, tw, tb = tangents
        conv = like(self, Conv2d)
        terms = [None if tx is None else apply(conv, tx, w),
                 None if tw is None else apply(conv, x, tw),
                 None if tb is None else broadcast_to(reshape(tb, (1, -1, 1, 1)), out)]
        return sum_terms(terms)


class Conv2dGradInput(_ConvGeometry):
    """The input gradient of conv2d: g scattered back through w (a transposed convolution),
    shaped like `ref`, the convolution's input (read for its shape only)."""
    name = "conv2d_grad_input"
    saves_output = False

    def infer(self, g, w, ref):
        check_floating(g, w)
        self._check_grad(g.shape, self._out_shape(ref.shape, w.shape))
        return rank4(ref.shape, "the input"), promote(g.dtype, w.dtype)

    def vjp(self, h, out, g, w, ref):
        return (apply(like(self, Conv2d), h, w),
                apply(like(self, Conv2dGradWeight), h, g, w), None)


class Conv2dGradWeight(_ConvGeometry):
    """The weight gradient of conv2d: correlation of x with g per group, shaped like `ref`,
    the weight (read for its shape only)."""
    name = "conv2d_grad_weight"
    saves_output = False

    def infer(self, x, g, ref):
        check_floating(x, g)
        self._check_grad(g.shape, self._out_shape(x.shape, ref.shape))
        return rank4(ref.shape, "the weight"), promote(x.dtype, g.dtype)

    def vjp(self, h, out, x, g, ref):
        return (apply(like(self, Conv2dGradInput), g, h, x),
                apply(like(self, Conv2d), x, h), None)


class Conv2dGradWeightBias(_ConvGeometry):
    """The weight and bias gradients of conv2d_bias in one flat vector: the weight's (shaped
    like `ref`, the weight, in its C order) then the bias's, the sum of g over all axes but
    the channels. One op so that its kernel sums g's blocks while the weight gradient's pass
    has them in cache (a separate sum is one more pass over g, as large as the output)."""
    name = "conv2d_grad_weight_bias"
    composed = True       # derivatives: autodiff differentiates compose()
    linearity = linear_inputs = None

    def infer(self, x, g, ref):
        shape, dtype = Conv2dGradWeight.infer(self, x, g, ref)
        size = None if None in shape else shape[0] * shape[1] * shape[2] * shape[3] + shape[0]
        return (size,), dtype

    def compose(self, x, g, ref):
        gw = apply(like(self, Conv2dGradWeight), x, g, ref)
        return concat([reshape(gw, (-1,)), reduce_sum(g, axis=(0, 2, 3))], axis=0)


_SPLITS: dict = {}   # a weight's shape -> the three view ops of `_weight_and_bias`


def _weight_and_bias(both: Tensor, shape: tuple) -> tuple:
    """The weight's (reshaped to `shape`) and the bias's gradients as views of
    `Conv2dGradWeightBias`'s flat output. The ops are built once per weight shape: the
    `getitem` and `reshape` front ends check the index and build a new op on every call,
    three times per conv node of every backward."""
    ops = _SPLITS.get(shape)
    if ops is None:
        channels = shape[0]
        ops = _SPLITS[shape] = (GetItem(index=(slice(None, -channels),)),
                                shared(Reshape, shape), GetItem(index=(slice(-channels, None),)))
    head, to_weight, tail = ops
    return apply(to_weight, apply(head, both)), apply(tail, both)


_LIKE: dict = {}   # (op, op_cls) -> like(op, op_cls)


def like(op: Op, op_cls: type) -> Op:
    """An `op_cls` with `op`'s values of the attributes it has (a gradient op of `op`): the
    one instance `shared` keeps for those values, not a frozen dataclass built per call;
    found by the op's identity after the first call (a backward asks per conv or pool node)."""
    found = _LIKE.get((op, op_cls))
    if found is None:
        if len(_LIKE) >= 1024:   # (bounded: ops that are not `shared`'s)
            _LIKE.clear()
        found = _LIKE[(op, op_cls)] = shared(op_cls, *[getattr(op, name)
                                                      for name in field_names(op_cls)])
    return found


# ---- the function users call -----------------------------------------------------------

def conv2d(x, w, stride=1, padding=0, dilation=1, groups=1, name=None, bias=None) -> Tensor:
    """PyTorch's F.conv2d: x [N, C, H, W], w [O, C/groups, kH, kW], optional bias [O].

    Args:
        stride, dilation: an int or a (height, width) pair.
        padding: an int, a pair, 'valid', 'same' (stride 1 only, as PyTorch; the odd pad goes
            after), or ((top, bottom), (left, right)) for asymmetric padding.
        groups: input and output channels split into this many independent convolutions.
    """
    attrs = conv_attrs(stride, padding, dilation, groups)
    if attrs["padding"] == SAME and attrs["stride"] != (1, 1):
        raise ValueError("conv2d: padding='same' needs stride 1: a strided output cannot "
                         "keep the input's size")
    x, w = as_tensor(x), as_tensor(w)
    if bias is None:
        if autocast_state.dtype is not None:
            x, w = autocast_inputs(x, w)
        return apply(shared(Conv2d, *attrs.values()), x, w, name=name)
    bias = as_tensor(bias)
    if autocast_state.dtype is not None:
        x, w, bias = autocast_inputs(x, w, bias)
    return apply(shared(Conv2dBias, *attrs.values()), x, w, bias, name=name)


def conv_attrs(stride=1, padding=0, dilation=1, groups=1) -> dict:
    """The attributes of the three conv ops in canonical form (pairs, padding pairs)."""
    stride, dilation = pair(stride, "stride"), pair(dilation, "dilation")
    if min(stride) < 1 or min(dilation) < 1 or int(groups) < 1:
        raise ValueError(f"conv2d: stride {stride}, dilation {dilation} and groups {groups} "
                         "must be positive")
    return dict(stride=stride, padding=padding_attr(padding), dilation=dilation,
                groups=int(groups))   # the order of the ops' fields (`shared` takes them so)
