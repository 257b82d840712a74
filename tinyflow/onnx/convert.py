"""One converter per op class: `convert(b, step, ins) -> name` adds the ONNX nodes computing
the step's output from the ONNX values `ins` (its inputs, in order) and returns the name of
the result, of the step's dtype. Looked up by the exact op class (`LogSoftmax` is not a
`Softmax` here), so an op without an entry is refused rather than converted as its base."""
from __future__ import annotations

import math

import numpy as np
from onnx import numpy_helper

from ..core import dtypes
from ..core.dtypes import promote
from ..core.op import Typed
from ..ops import (activation, attention, conv, creation, fused, indexing, linalg, nn,
                   normalization, pool, rnn_cell)
from ..ops import math as m
from ..ops.clamp import Clamp
from ..ops import reduce as r
from ..ops import shape as s
from ..passes import Step
from .builder import Builder, onnx_type

CONVERTERS: dict = {}
INT64_MAX, INT64_MIN = np.iinfo(np.int64).max, np.iinfo(np.int64).min


def converts(*op_classes):
    def register(fn):
        for cls in op_classes:
            CONVERTERS[cls] = fn
        return fn
    return register


def _hint(step) -> str:
    return step.name or step.op.name


# ---- elementwise ------------------------------------------------------------------------

_BINARY = {m.Add: "Add", m.Sub: "Sub", m.Mul: "Mul", m.Div: "Div", m.Pow: "Pow",
           m.Maximum: "Max", m.Minimum: "Min"}
_COMPARE = {m.Equal: "Equal", m.Less: "Less", m.LessEqual: "LessOrEqual",
            m.Greater: "Greater", m.GreaterEqual: "GreaterOrEqual"}
_LOGICAL = {m.LogicalAnd: "And", m.LogicalOr: "Or", m.LogicalXor: "Xor"}
_UNARY = {m.Neg: "Neg", m.Sqrt: "Sqrt", m.Exp: "Exp", m.Log: "Log", m.Sin: "Sin",
          m.Cos: "Cos", m.Tanh: "Tanh", m.Sigmoid: "Sigmoid", m.Relu: "Relu", m.Abs: "Abs",
          m.Erf: "Erf", m.Sign: "Sign", m.Floor: "Floor", m.Ceil: "Ceil", m.Round: "Round"}


@converts(*_BINARY)
def _binary(b: Builder, step, ins):
    """Both operands cast to the result's dtype: ONNX does not promote."""
    return b.node(_BINARY[type(step.op)], [b.cast(i, step.dtype) for i in ins], _hint(step))


@converts(*_COMPARE, m.NotEqual)
def _compare(b: Builder, step, ins):
    common = promote(b.dtype(ins[0]), b.dtype(ins[1]))
    ins = [b.cast(i, common) for i in ins]
    if type(step.op) is m.NotEqual:
        return b.node("Not", [b.node("Equal", ins)], _hint(step))
    return b.node(_COMPARE[type(step.op)], ins, _hint(step))


@converts(*_LOGICAL)
def _logical(b: Builder, step, ins):
    return b.node(_LOGICAL[type(step.op)], [b.cast(i, dtypes.bool_) for i in ins], _hint(step))


@converts(m.LogicalNot)
def _not(b: Builder, step, ins):
    return b.node("Not", [b.cast(ins[0], dtypes.bool_)], _hint(step))


@converts(*_UNARY)
def _unary(b: Builder, step, ins):
    x = b.cast(ins[0], step.dtype)     # integer inputs of float-only ops give floats
    if isinstance(step.op, m.Floor) and not step.dtype.is_floating:
        return b.node("Identity", [x], _hint(step))   # floor/ceil/round of an integer
    if isinstance(step.op, m.Sign) and step.op.nan_to_zero and step.dtype.is_floating:
        x = b.node("Where", [b.node("IsNaN", [x]), b.const(0, step.dtype), x])  # torch's
    return b.node(_UNARY[type(step.op)], [x], _hint(step))


@converts(m.Square)
def _square(b: Builder, step, ins):
    x = b.cast(ins[0], step.dtype)
    return b.node("Mul", [x, x], _hint(step))


@converts(m.Log1p)
def _log1p(b: Builder, step, ins):
    x = b.cast(ins[0], step.dtype)
    return b.node("Log", [b.node("Add", [x, b.const(1, step.dtype)])], _hint(step))


@converts(m.Expm1)
def _expm1(b: Builder, step, ins):
    x = b.cast(ins[0], step.dtype)
    return b.node("Sub", [b.node("Exp", [x]), b.const(1, step.dtype)], _hint(step))


@converts(m.Cast)
def _cast(b: Builder, step, ins):
    return b.node("Cast", ins, _hint(step), to=onnx_type(step.dtype))


@converts(m.Where)
def _where(b: Builder, step, ins):
    cond, x, y = ins
    return b.node("Where", [b.cast(cond, dtypes.bool_), b.cast(x, step.dtype),
                            b.cast(y, step.dtype)], _hint(step))


@converts(activation.Gelu)
def _gelu(b: Builder, step, ins):
    """The Gelu node from opset 20; before that x * Phi(x) written out (erf or tanh)."""
    x, approximate = ins[0], step.op.approximate
    if b.opset >= 20:
        return b.node("Gelu", [x], _hint(step), approximate=approximate)
    c = lambda v: b.const(v, step.dtype)  # noqa: E731
    if approximate == "tanh":
        cubic = b.node("Mul", [b.node("Mul", [b.node("Mul", [x, x]), x]), c(0.044715)])
        inner = b.node("Mul", [b.node("Add", [x, cubic]), c(math.sqrt(2 / math.pi))])
        phi2 = b.node("Add", [b.node("Tanh", [inner]), c(1.0)])
    else:
        phi2 = b.node("Add", [b.node("Erf", [b.node("Mul", [x, c(1 / math.sqrt(2))])]), c(1.0)])
    return b.node("Mul", [b.node("Mul", [x, c(0.5)]), phi2], _hint(step))


@converts(activation.LeakyRelu)
def _leaky_relu(b: Builder, step, ins):
    return b.node("LeakyRelu", [b.cast(ins[0], step.dtype)], _hint(step), alpha=step.op.slope)


@converts(Clamp)
def _clamp(b: Builder, step, ins):
    """Clip with its limits as inputs (opset 11 on; a missing one left empty)."""
    limits = [b.const(v, step.dtype) if v is not None else "" for v in (step.op.low,
                                                                         step.op.high)]
    return b.node("Clip", [b.cast(ins[0], step.dtype)] + limits, _hint(step))


@converts(nn.Softmax, nn.LogSoftmax)
def _softmax(b: Builder, step, ins):
    kind = "LogSoftmax" if type(step.op) is nn.LogSoftmax else "Softmax"
    return b.node(kind, ins, _hint(step), axis=step.op.axis)


@converts(attention.AttentionWeights)
def _attention_weights(b: Builder, step, ins):
    """Softmax(MatMul(q, k^T) * scale, masked): a bool mask (and the causal triangle, a
    constant) by Where, a float mask by Add."""
    lengths = None if step.shape is None else step.shape[-2:]
    return _softmax_scores(b, step.op, step.dtype, ins, lengths, _hint(step))


@converts(attention.Attention)
def _attention(b: Builder, step, ins):
    """MatMul(the attention weights (as `_attention_weights`), v)."""
    q, k = (b.shape(i) for i in ins[:2])
    lengths = None if q is None or k is None else (q[-2], k[-2])
    weights = _softmax_scores(b, step.op, step.dtype, ins[:2] + ins[3:], lengths)
    return b.node("MatMul", [weights, b.cast(ins[2], step.dtype)], _hint(step))


def _softmax_scores(b: Builder, op, dtype, ins, lengths, hint: str = ""):
    """Softmax over the keys of q k^T * op.scale masked by ins[2:] (and op.causal: the
    [T, S] triangle, `lengths`, as a constant)."""
    q, k = (b.cast(i, dtype) for i in ins[:2])
    scores = b.node("Mul", [b.node("MatMul", [q, _swap_last_two(b, k)]),
                            b.const(op.scale, dtype)])
    masks = list(ins[2:])
    if op.causal:
        if lengths is None or None in lengths:
            raise ValueError("a causal attention exports with its query and key lengths known")
        masks.append(b.const(np.tril(np.ones(lengths, bool)), dtypes.bool_))
    for mask in masks:
        if np.dtype(getattr(b.dtype(mask), "np", b.dtype(mask))) == np.bool_:
            scores = b.node("Where", [mask, scores, b.const(-np.inf, dtype)])
        else:
            scores = b.node("Add", [scores, b.cast(mask, dtype)])
    return b.node("Softmax", [scores], hint, axis=-1)


# ---- linear algebra ---------------------------------------------------------------------

def _swap_last_two(b: Builder, x: str) -> str:
    rank = b.rank(x, "matmul with a transpose flag")
    return b.node("Transpose", [x], hint=f"{x}_T", perm=list(range(rank - 2)) + [rank - 1,
                                                                                  rank - 2])


@converts(linalg.MatMul)
def _matmul(b: Builder, step, ins):
    """2-D: Gemm with its transpose flags; batched: MatMul after explicit transposes."""
    op = step.op
    a, c = (b.cast(i, step.dtype) for i in ins)
    if b.shape(a) is not None and b.shape(c) is not None and len(b.shape(a)) == 2 == len(
            b.shape(c)):
        return b.node("Gemm", [a, c], _hint(step), transA=int(op.transpose_a),
                      transB=int(op.transpose_b))
    if op.transpose_a:
        a = _swap_last_two(b, a)
    if op.transpose_b:
        c = _swap_last_two(b, c)
    return b.node("MatMul", [a, c], _hint(step))


@converts(linalg.Affine)
def _affine(b: Builder, step, ins):
    """Gemm; a single sample x [in] (Gemm takes matrices only): MatMul by w^T, then Add."""
    if b.shape(ins[0]) is not None and len(b.shape(ins[0])) == 1:
        product = b.node("MatMul", [ins[0], b.node("Transpose", [ins[1]], perm=[1, 0])])
        return b.node("Add", [product, ins[2]], _hint(step))
    return b.node("Gemm", ins, _hint(step), transB=1)


@converts(linalg.Einsum)
def _einsum(b: Builder, step, ins):
    return b.node("Einsum", ins, _hint(step), equation=step.op.equation)


@converts(linalg.Tril, linalg.Triu)
def _triangle(b: Builder, step, ins):
    if b.opset < 14:
        raise ValueError("tril/triu export as Trilu, which needs opset 14 or later")
    return b.node("Trilu", [ins[0], b.const(step.op.diagonal, np.int64)], _hint(step),
                  upper=int(type(step.op) is linalg.Triu))


# ---- convolution and pooling ------------------------------------------------------------

def _pads(b: Builder, op, x: str, kernel) -> dict:
    """ONNX's pads [top, left, bottom, right], or auto_pad for "same" over unknown sizes."""
    if op.padding != conv.SAME:
        (top, bottom), (left, right) = op.padding
        return {"pads": [top, left, bottom, right]}
    shape = b.shape(x)
    hw = None if shape is None else shape[2:]
    if hw is None or None in hw or None in kernel:
        return {"auto_pad": "SAME_UPPER"}   # TensorFlow's rule: the odd pad goes after
    (top, bottom), (left, right) = (conv.axis_pads(op.padding, a, hw[a], kernel[a],
                                                   op.stride[a], op.dilation[a])
                                    for a in (0, 1))
    return {"pads": [top, left, bottom, right]}


@converts(conv.Conv2d, conv.Conv2dBias)
def _conv2d(b: Builder, step, ins):
    """Conv, with the bias as its third input when the step has one."""
    op = step.op
    ins = [b.cast(i, step.dtype) for i in ins]
    x, w = ins[:2]
    kernel = (None, None) if b.shape(w) is None else b.shape(w)[2:]
    return b.node("Conv", ins, _hint(step), strides=list(op.stride),
                  dilations=list(op.dilation), group=op.groups, **_pads(b, op, x, kernel))


@converts(conv.Conv2dGradInput)
def _conv_transpose(b: Builder, step, ins):
    """conv_transpose2d: ConvTranspose, with the output padding that gives `ref`'s size."""
    op = step.op
    g, w = (b.cast(i, step.dtype) for i in ins[:2])
    size, kernel, g_shape = b.shape(ins[2]), b.shape(w), b.shape(g)
    if None in (size, kernel, g_shape) or None in size[2:] + kernel[2:] + g_shape[2:]:
        raise ValueError("a transposed convolution exports with its spatial sizes known")
    pads, extra = [], []
    for a in (0, 1):
        k, st, d = kernel[2 + a], op.stride[a], op.dilation[a]
        before, after = conv.axis_pads(op.padding, a, size[2 + a], k, st, d)
        pads.append((before, after))
        extra.append(size[2 + a] - (st * (g_shape[2 + a] - 1) + d * (k - 1) + 1 - before - after))
    (top, bottom), (left, right) = pads
    return b.node("ConvTranspose", [g, w], _hint(step), strides=list(op.stride),
                  dilations=list(op.dilation), group=op.groups,
                  pads=[top, left, bottom, right], output_padding=extra)


@converts(pool.MaxPool2d)
def _max_pool(b: Builder, step, ins):
    op = step.op
    return b.node("MaxPool", ins, _hint(step), kernel_shape=list(op.kernel),
                  strides=list(op.stride), dilations=list(op.dilation),
                  ceil_mode=int(op.ceil_mode), **_pads(b, op, ins[0], op.kernel))


@converts(pool.AvgPool2d)
def _avg_pool(b: Builder, step, ins):
    op = step.op
    return b.node("AveragePool", ins, _hint(step), kernel_shape=list(op.kernel),
                  strides=list(op.stride), ceil_mode=int(op.ceil_mode),
                  count_include_pad=int(op.count_include_pad),
                  **_pads(b, op, ins[0], op.kernel))


# ---- normalization ----------------------------------------------------------------------

@converts(normalization.Normalize)
def _normalize(b: Builder, step, ins):
    """LayerNormalization (opset 17) when the axes are the known trailing dims, with a scale
    of ones; else mean and biased variance written out."""
    op, x = step.op, ins[0]
    shape = b.shape(x)
    rank = None if shape is None else len(shape)
    axes = None if rank is None else sorted(a % rank for a in op.axes)
    trailing = axes is not None and axes == list(range(rank - len(axes), rank))
    if b.opset >= 17 and trailing and None not in shape[axes[0]:]:
        ones = b.const(np.ones(shape[axes[0]:]), step.dtype)
        return b.node("LayerNormalization", [x, ones], _hint(step), axis=axes[0],
                      epsilon=op.eps)
    return _normalized(b, x, op.axes, op.eps, step.dtype, _hint(step))


def _normalized(b: Builder, x, axes, eps, dtype, hint: str = ""):
    """(x - mean) / sqrt(biased var + eps) over `axes`, mean and variance written out."""
    centered = b.node("Sub", [x, b.reduce("ReduceMean", x, axes, True)])
    var = b.reduce("ReduceMean", b.node("Mul", [centered, centered]), axes, True)
    std = b.node("Sqrt", [b.node("Add", [var, b.const(eps, dtype)])])
    return b.node("Div", [centered, std], hint)


@converts(normalization.LayerNorm)
def _layer_norm(b: Builder, step, ins):
    """LayerNormalization (opset 17) over the scale's dims; before, written out."""
    x, weight, bias = ins
    dims = b.rank(weight, "layer_norm")
    if b.opset >= 17:
        return b.node("LayerNormalization", [x, weight, bias], _hint(step), axis=-dims,
                      epsilon=step.op.eps)
    rank = b.rank(x, "layer_norm")
    y = _normalized(b, x, list(range(rank - dims, rank)), step.op.eps, step.dtype)
    return b.node("Add", [b.node("Mul", [y, weight]), bias], _hint(step))


@converts(normalization.BatchNorm)
def _batch_norm(b: Builder, step, ins):
    """Training-mode batch norm: BatchNormalization (inference form) fed with the batch's
    mean and biased variance per channel."""
    x, weight, bias = ins
    axes = [0] + list(range(2, b.rank(x, "batch_norm")))
    mean = b.reduce("ReduceMean", x, axes, False)
    centered = b.node("Sub", [x, b.reduce("ReduceMean", x, axes, True)])
    var = b.reduce("ReduceMean", b.node("Mul", [centered, centered]), axes, False)
    return b.node("BatchNormalization", [x, weight, bias, mean, var], _hint(step),
                  epsilon=step.op.eps)


@converts(normalization.BatchNormEval)
def _batch_norm_eval(b: Builder, step, ins):
    """BatchNormalization (its inference form) as it is: x, weight, bias, mean, variance."""
    x, mean, var, weight, bias = ins
    return b.node("BatchNormalization", [x, weight, bias, mean, var], _hint(step),
                  epsilon=step.op.eps)


@converts(normalization.BatchNormScale)
def _batch_norm_scale(b: Builder, step, ins):
    """1 / sqrt(var + eps) * w (a folded batch norm's scale)."""
    var, weight = ins
    std = b.node("Sqrt", [b.node("Add", [var, b.const(step.op.eps, step.dtype)])])
    return b.node("Mul", [b.node("Reciprocal", [std]), weight], _hint(step))


@converts(normalization.ChannelAffine)
def _channel_affine(b: Builder, step, ins):
    """Mul and Add, the [C] vectors unsqueezed to [C, 1, ...] (ONNX broadcasts from the end)."""
    x, scale, shift = ins
    extra = list(range(1, b.rank(x, "channel_affine") - 1))
    if extra:
        scale, shift = b.unsqueeze(scale, extra), b.unsqueeze(shift, extra)
    return b.node("Add", [b.node("Mul", [x, scale]), shift], _hint(step))


# ---- reductions -------------------------------------------------------------------------

_REDUCE = {r.Sum: "ReduceSum", r.Max: "ReduceMax", r.Min: "ReduceMin"}


@converts(*_REDUCE)
def _reduce(b: Builder, step, ins):
    op, x = step.op, b.cast(ins[0], step.dtype)   # a sum of bools counts in int64
    if op.axis == ():
        return b.node("Identity", [x], _hint(step))   # ONNX would reduce every axis
    return b.reduce(_REDUCE[type(step.op)], x, op.axis, op.keepdims, _hint(step))


@converts(r.Count)
def _count(b: Builder, step, ins):
    """The number of elements reduced: a constant where those dims are known, else the
    product of the run-time dims."""
    op, x = step.op, ins[0]
    shape = b.shape(x)
    axes = None if op.axis is None or shape is None else [a % len(shape) for a in op.axis]
    if shape is not None:
        dims = shape if axes is None else [shape[a] for a in axes]
        if None not in dims:
            return b.const(math.prod(dims), step.dtype)
    if op.axis is None:
        n = b.node("Size", [x])
    else:
        dims = b.node("Gather", [b.shape_of(x), b.ints(op.axis)], axis=0)
        n = b.reduce("ReduceProd", dims, None, False)
    return b.node("Cast", [n], _hint(step), to=onnx_type(step.dtype))


@converts(r.ArgMax, r.ArgMin)
def _arg(b: Builder, step, ins):
    op, x = step.op, ins[0]
    kind = "ArgMax" if type(op) is r.ArgMax else "ArgMin"
    if op.axis is None:   # over the flattened input
        return b.node(kind, [b.node("Reshape", [x, b.ints([-1])])], _hint(step), axis=0,
                      keepdims=0)
    return b.node(kind, [x], _hint(step), axis=op.axis[0], keepdims=0)


@converts(r.Cumsum)
def _cumsum(b: Builder, step, ins):
    x = b.cast(ins[0], step.dtype)
    return b.node("CumSum", [x, b.const(step.op.axis, np.int64)], _hint(step),
                  reverse=int(step.op.reverse))


# ---- shapes -----------------------------------------------------------------------------

@converts(s.Reshape)
def _reshape(b: Builder, step, ins):
    target = step.op.shape   # a 0 means size 0 here, "copy the dim" to ONNX unless allowzero
    allow = 1 if 0 in target else None
    if allow and b.opset < 14:
        raise ValueError("a reshape to a size-0 dim needs opset 14 (allowzero)")
    return b.node("Reshape", [ins[0], b.ints(target)], _hint(step), allowzero=allow)


@converts(s.ReshapeTo)
def _reshape_to(b: Builder, step, ins):
    return b.node("Reshape", [ins[0], b.shape_of(ins[1])], _hint(step))


@converts(s.Transpose)
def _transpose(b: Builder, step, ins):
    perm = None if step.op.perm is None else list(step.op.perm)  # None: reversed, as ONNX
    return b.node("Transpose", ins, _hint(step), perm=perm)


@converts(s.ExpandDims)
def _expand_dims(b: Builder, step, ins):
    return b.unsqueeze(ins[0], [step.op.axis], _hint(step))


@converts(s.Squeeze)
def _squeeze(b: Builder, step, ins):
    axis = step.op.axis
    axes = None if axis is None else ([axis] if isinstance(axis, int) else list(axis))
    return b.squeeze(ins[0], axes, _hint(step))


@converts(s.Concat)
def _concat(b: Builder, step, ins):
    return b.node("Concat", [b.cast(i, step.dtype) for i in ins], _hint(step),
                  axis=step.op.axis)


@converts(s.Expand)
def _expand(b: Builder, step, ins):
    return b.node("Expand", [ins[0], b.ints(step.op.shape)], _hint(step))


@converts(s.BroadcastTo)
def _broadcast_to(b: Builder, step, ins):
    x, ref = ins
    if step.op.axes:
        x = b.unsqueeze(x, step.op.axes)
    return b.node("Expand", [x, b.shape_of(ref)], _hint(step))


@converts(s.Copy)
def _copy(b: Builder, step, ins):
    return b.node("Identity", ins, _hint(step))


@converts(s.Pad)
def _pad(b: Builder, step, ins):
    pads = [p[0] for p in step.op.pads] + [p[1] for p in step.op.pads]
    return b.node("Pad", [ins[0], b.ints(pads), b.const(step.op.value, step.dtype)],
                  _hint(step), mode="constant")


@converts(s.GatherPlanes)
def _gather_planes(b: Builder, step, ins):
    """One Gather per dim: the rows of the second-to-last, then the columns of the last."""
    x = b.node("Gather", [ins[0], b.const(np.array(step.op.rows, np.int64), np.int64)],
               axis=-2)
    return b.node("Gather", [x, b.const(np.array(step.op.cols, np.int64), np.int64)],
                  _hint(step), axis=-1)


@converts(s.GetItem)
def _getitem(b: Builder, step, ins):
    """NumPy indexing: one Slice for the slice items; then, with index arrays, one GatherND
    over all the integer indices (constants, broadcast together), else a Gather per integer
    (dropping its dim) and an Unsqueeze per None."""
    x = ins[0]
    index = _expand_ellipsis(_masks_as_indices(step.op.index), b.rank(x, "indexing"))
    dims = [i for i in index if i is not None]      # the items addressing input dims
    slices = [(d, item) for d, item in enumerate(dims)
              if isinstance(item, slice) and item != slice(None)]
    if slices:
        starts, ends, steps = zip(*(_slice_bounds(item) for _, item in slices))
        x = b.node("Slice", [x, b.ints(starts), b.ints(ends), b.ints([d for d, _ in slices]),
                             b.ints(steps)])
    if any(isinstance(i, np.ndarray) for i in index):
        if len(dims) != len(index):
            raise ValueError("None together with index arrays does not export")
        return _gather_nd(b, x, dims)
    pos = 0     # the axis of x that the next index item addresses
    for item in index:
        if item is None:
            x = b.unsqueeze(x, [pos])
            pos += 1
        elif isinstance(item, slice):
            pos += 1
        else:
            x = b.node("Gather", [x, b.const(item, np.int64)], axis=pos)
    return x


def _gather_nd(b: Builder, x: str, dims: list) -> str:
    """x[dims] with integer arrays (and integers) at some dims and full slices at the rest,
    as NumPy: the indexed dims become the broadcast index shape, in place if they are
    adjacent, else first."""
    advanced = [d for d, item in enumerate(dims) if not isinstance(item, slice)]
    rest = [d for d in range(len(dims)) if d not in advanced]
    arrays = np.broadcast_arrays(*(np.asarray(dims[d], np.int64) for d in advanced))
    if advanced != list(range(len(advanced))):
        x = b.node("Transpose", [x], perm=advanced + rest)
    x = b.node("GatherND", [x, b.const(np.stack(arrays, -1), np.int64)])
    first, n = advanced[0], arrays[0].ndim
    if first and advanced == list(range(first, first + len(advanced))):   # back in place
        x = b.node("Transpose", [x], perm=list(range(n, n + first)) + list(range(n)) +
                   list(range(n + first, n + len(rest))))
    return x


def _masks_as_indices(index: tuple) -> tuple:
    """A boolean mask over k dims is the k integer arrays of its nonzero positions."""
    out = []
    for item in index:
        if isinstance(item, np.ndarray) and item.dtype == bool:
            out += list(np.nonzero(item))
        elif isinstance(item, (bool, np.bool_)):
            raise ValueError("a boolean scalar index does not export")
        else:
            out.append(item)
    return tuple(out)


def _expand_ellipsis(index: tuple, rank: int) -> tuple:
    used = sum(1 for i in index if i is not None and i is not Ellipsis)
    out = []
    for item in index:
        out += [slice(None)] * (rank - used) if item is Ellipsis else [item]
    if not any(i is Ellipsis for i in index):
        out += [slice(None)] * (rank - used)
    return tuple(out)


def _slice_bounds(item: slice) -> tuple:
    step = 1 if item.step is None else int(item.step)
    if step > 0:
        start, end = (0 if item.start is None else item.start,
                      INT64_MAX if item.stop is None else item.stop)
    else:
        start, end = (INT64_MAX if item.start is None else item.start,
                      INT64_MIN if item.stop is None else item.stop)
    return int(start), int(end), step


# ---- recurrent cells ----------------------------------------------------------------------

def _gate_blocks(b: Builder, pre: str, count: int, hidden: int) -> list:
    """pre [..., count H] cut along its last axis into `count` blocks."""
    return [b.node("Slice", [pre, b.ints([k * hidden]), b.ints([(k + 1) * hidden]),
                             b.ints([-1])]) for k in range(count)]


def _packed(b: Builder, step, planes: list) -> str:
    """The cell's packed output: its planes stacked on a new first axis."""
    return b.node("Concat", [b.unsqueeze(p, [0]) for p in planes], _hint(step), axis=0)


@converts(rnn_cell.LstmCell)
def _lstm_cell(b: Builder, step, ins):
    """Planes h', c', i, f, g, o, tanh(c') from xw + hw (gates i, f, g, o) and c."""
    xw, hw, c = ins
    i, f, g, o = _gate_blocks(b, b.node("Add", [xw, hw]), 4, step.shape[-1])
    i, f, o = (b.node("Sigmoid", [gate]) for gate in (i, f, o))
    g = b.node("Tanh", [g])
    c_new = b.node("Add", [b.node("Mul", [f, c]), b.node("Mul", [i, g])])
    tanh_c = b.node("Tanh", [c_new])
    return _packed(b, step, [b.node("Mul", [o, tanh_c]), c_new, i, f, g, o, tanh_c])


@converts(rnn_cell.GruCell)
def _gru_cell(b: Builder, step, ins):
    """Planes h', r, z, n: r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z);
    n = tanh(x_n + r h_n); h' = n + z (h - n)."""
    xw, hw, h = ins
    hidden = step.shape[-1]
    (xr, xz, xn), (hr, hz, hn) = (_gate_blocks(b, w, 3, hidden) for w in (xw, hw))
    r, z = (b.node("Sigmoid", [b.node("Add", pair)]) for pair in ((xr, hr), (xz, hz)))
    n = b.node("Tanh", [b.node("Add", [xn, b.node("Mul", [r, hn])])])
    h_new = b.node("Add", [n, b.node("Mul", [z, b.node("Sub", [h, n])])])
    return _packed(b, step, [h_new, r, z, n])


# ---- indexing and creation --------------------------------------------------------------

@converts(indexing.Take)
def _take(b: Builder, step, ins):
    return b.node("Gather", ins, _hint(step), axis=step.op.axis)


@converts(indexing.Gather)
def _gather(b: Builder, step, ins):
    return b.node("GatherElements", ins, _hint(step), axis=step.op.axis)


@converts(creation.ZerosLike, creation.OnesLike)
def _fill_like(b: Builder, step, ins):
    value = 1 if type(step.op) is creation.OnesLike else 0
    fill = numpy_helper.from_array(np.array([value], step.dtype.np))
    return b.node("ConstantOfShape", [b.shape_of(ins[0])], _hint(step), value=fill)


# ---- fused groups (made by the fusion pass) ---------------------------------------------

@converts(fused.FusedElementwise, fused.FusedSum)
def _fused(b: Builder, step, ins):
    """A fused group exports as its members, each by its own converter (ONNX runtimes fuse
    again as they see fit); a `FusedSum` ends in a sum over every axis."""
    op, values = step.op, list(ins)
    for member, operands in zip(op.members, op.args):
        shape, dtype = member.infer(*[Typed(b.shape(values[k]), b.dtype(values[k]))
                                      for k in operands])
        member_step = Step(member, (), -1, dtype, shape)
        values.append(CONVERTERS[type(member)](b, member_step, [values[k] for k in operands]))
        if values[-1] not in b.types:
            b.declare(values[-1], shape, dtype)
    if isinstance(op, fused.FusedSum):
        total = r.Sum(axis=None, keepdims=op.keepdims)
        return _reduce(b, Step(total, (), -1, step.dtype, step.shape, name=step.name),
                       [values[-1]])
    return b.node("Identity", [values[-1]], _hint(step))
