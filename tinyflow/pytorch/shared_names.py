"""Names that TF1 (or an op function in `tinyflow.ops`) and PyTorch both use, with different
arguments or meanings: `split`, `transpose`, `softmax`, `sort`, `cumsum`, `roll`, `zeros_like`,
... This module is the one place where the arguments decide which is meant.

The rule: PyTorch keywords (`dim`, `keepdim`, `out`) or an eager tensor select PyTorch's
semantics; TF1 keywords (`axis`, `num_or_size_splits`, `direction`, `name`) or a TF1
graph's tensor (symbolic outside `tinyflow.compile`: traced code is PyTorch's) select
TF1's. Each function here is the top-level `tinyflow.<name>`; where it is also a Tensor
method, `METHODS` below says so. The op function of the same name (`ops.split`,
`ops.softmax`, ...) keeps TF1's spelling.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..core import dtypes
from ..core.modes import AUTOCAST_THREADS, autocast_state, trace_state
from ..core.op import apply, apply2, as_tensor
from ..core.tensor import EAGER, Tensor
from ..ops.linalg import PLAIN_MATMUL
from ..ops.shape import tile_in_graph
from .creation import dtype_or, ignored_options, leaf, torch_normal
from .dtype import check_device
from .inplace import write_out, with_out
from .logic import torch_equal
from .math import times_alpha, with_other
from .movement import flatten, narrow, repeat, torch_split, torch_transpose
from .reduce import correction_of, in_outs_dtype, torch_argmax, torch_argmin, torch_sort, widened
from .scatter_gather import flat_take, nonzero

# ---- shapes -------------------------------------------------------------------------------


def split(tensor, split_size_or_sections=None, axis_or_dim=None, *, dim=None, axis=None,
          num_or_size_splits=None, name=None):
    """`torch.split` (an int is the size of each piece) or `tf.split` (the number of pieces).

    TF1 keywords (`axis=`, `num_or_size_splits=`) or a symbolic tensor mean TF1; `dim=` or an
    eager tensor mean PyTorch. A list of sizes means the same in both.
    """
    tensor = as_tensor(tensor)
    tf_style = num_or_size_splits is not None or axis is not None or (
        dim is None and tensor.is_symbolic and trace_state.active is None)
    if tf_style:
        n = num_or_size_splits if num_or_size_splits is not None else split_size_or_sections
        axis = axis if axis is not None else (axis_or_dim or 0)
        return ops.split(tensor, n, axis, name=name)
    dim = dim if dim is not None else (axis_or_dim or 0)
    return torch_split(tensor, split_size_or_sections, dim)


def transpose(x, *args, perm=None, dim0=None, dim1=None, name=None, conjugate=False):
    """`torch.transpose(x, dim0, dim1)` swaps two dims; `tf.transpose(x, perm)` permutes."""
    x = as_tensor(x)
    if len(args) == 2 or dim0 is not None:
        d0, d1 = args if len(args) == 2 else (dim0, dim1)
        return torch_transpose(x, d0, d1)
    if args:
        perm = args[0]
    return ops.transpose(x, perm, name=name)


def stack(tensors, dim=0, axis=None, out=None, name=None) -> Tensor:
    return write_out(ops.stack(list(tensors), dim if axis is None else axis, name=name), out)


def gather(input=None, dim_or_indices=None, index=None, *, dim=None, indices=None, axis=None,
           params=None, validate_indices=None, batch_dims=0, name=None, sparse_grad=False,
           out=None):
    """`torch.gather(input, dim, index)` (elements picked along dim) or `tf.gather(params,
    indices, axis=0)` (whole slices along axis, TF1's). An `index` (third argument) or `dim=`
    means PyTorch; two arguments, `params=`, `indices=` or `axis=` mean TF1."""
    input = params if input is None else input
    if index is not None or dim is not None:
        return write_out(ops.gather(input, dim if dim is not None else dim_or_indices, index),
                         out)
    if batch_dims:
        raise NotImplementedError("tf.gather: batch_dims is not supported")
    indices = indices if indices is not None else dim_or_indices
    if indices is None:
        raise TypeError("gather: give torch's (input, dim, index) or TF's (params, indices)")
    return ops.take(input, indices, axis or 0, name=name)


def tile(x, dims, name=None) -> Tensor:
    """`torch.tile` / `tf.tile`: copies of `x` along each dim (fewer dims than x: leading 1s)."""
    x = as_tensor(x)
    if isinstance(dims, Tensor) and dims.is_symbolic:
        raise NotImplementedError("tf.tile: multiples as one tensor known only when run are "
                                  "not supported; give a list of ints and scalar tensors")
    if x.shape is None:
        raise ValueError("tf.tile: the input's rank must be known (give the placeholder a "
                         "shape)")
    dims = (1,) * (x.ndim - len(dims)) + tuple(dims)
    if any(isinstance(d, Tensor) and d.is_symbolic for d in dims) or None in x.shape:
        if len(dims) != x.ndim:   # (TF1 requires one multiple per dim)
            raise ValueError(f"tf.tile: {len(dims)} multiples for an input of rank {x.ndim} "
                             f"(shape {x.shape}): give one multiple per dim")
        return tile_in_graph(x, dims)
    return repeat(x, *dims)


def roll(x, shifts=None, dims=None, *, shift=None, axis=None, name=None) -> Tensor:
    """`torch.roll(x, shifts, dims)` or `tf.roll(x, shift, axis)`: elements shifted along
    `dims` (all, flattened, if None), wrapping around."""
    x = as_tensor(x)
    shifts = shifts if shift is None else shift
    dims = dims if axis is None else axis
    if dims is None:
        return roll(flatten(x), shifts, 0).reshape(x.shape)
    shifts = shifts if isinstance(shifts, (tuple, list)) else (shifts,)
    dims = dims if isinstance(dims, (tuple, list)) else (dims,)
    out = x
    for step, dim in zip(shifts, dims):
        n = x.shape[dim]
        if n and step % n:
            cut = n - step % n
            out = ops.concat([narrow(out, dim, cut, n - cut), narrow(out, dim, 0, cut)], dim)
    return out if out is not x else ops.copy(x)  # a new tensor even when nothing moves, as torch


def broadcast_to(x, shape, name=None) -> Tensor:
    """`torch.broadcast_to` / `tf.broadcast_to`: a broadcast view of `x` as `shape` (the op
    function `ops.broadcast_to` broadcasts to another tensor's run-time shape)."""
    return ops.expand(as_tensor(x), tuple(shape))


# ---- math -----------------------------------------------------------------------------------


def add(x, y, name=None, *, alpha=1, out=None):
    """`torch.add(x, y, alpha=2)` (x + 2 y) or `tf.add(x, y, name)`."""
    if alpha != 1 or type(alpha) is not int:
        x, y = times_alpha(x, y, alpha)
    return write_out(ops.add(x, y, name=name), out)


def clamp(x, min=None, max=None, out=None):  # noqa: A002
    return write_out(ops.clamp(x, min, max), out)


clip = clamp


@with_out
def round(x, decimals=0):  # noqa: A001
    """Half to even, as both; `decimals` (PyTorch) rounds to that many decimal places."""
    if decimals == 0:
        return ops.round(x)
    scale = 10.0 ** decimals
    return ops.round(x * scale) / scale


def softmax(x, dim=-1, *, axis=None, dtype=None, name=None) -> Tensor:
    """`torch.softmax(x, dim)` / `tf.softmax(logits, axis)`."""
    x = as_tensor(x) if dtype is None else as_tensor(x).to(dtype)
    return ops.softmax(x, dim if axis is None else axis, name=name)


def log_softmax(x, dim=-1, *, axis=None, dtype=None, name=None) -> Tensor:
    x = as_tensor(x) if dtype is None else as_tensor(x).to(dtype)
    return ops.log_softmax(x, dim if axis is None else axis, name=name)


# ---- reductions and order -----------------------------------------------------------------


def var(x, dim=None, unbiased=None, keepdim=False, correction=None, *, out=None):
    """PyTorch's `unbiased`/`correction` (`ops.var` takes `axis`, `correction`, `keepdims`)."""
    return write_out(ops.var(x, dim, correction_of(unbiased, correction), keepdim), out)


def logsumexp(x, dim, keepdim=False, *, out=None):
    return write_out(ops.logsumexp(x, dim, keepdim), out)


def cumsum(x, dim=None, *, axis=None, exclusive=False, reverse=False, name=None,
           dtype=None, out=None) -> Tensor:
    """`torch.cumsum(x, dim, dtype=)` (integers and bools summed in int64; torch requires
    dim) or `tf.cumsum(x, axis=0, exclusive, reverse)` (no dim, TF1 keywords or a symbolic
    x: the dtype is kept)."""
    x = as_tensor(x)
    dtype = in_outs_dtype(dtype, out)
    tf_style = dim is None or axis is not None or exclusive or reverse or name is not None or (
        x.is_symbolic and trace_state.active is None)
    if not tf_style and (dtype is not None or not x.dtype.is_floating):
        x = widened(x, dtype)
    if dim is None and axis is None:
        axis = 0
    sums = ops.cumsum(x, dim if axis is None else axis, reverse)
    return write_out(sums - x if exclusive else sums, out)


def sort(x, dim=-1, descending=False, stable=False, *, axis=None, direction=None, name=None,
         out=None):
    """`torch.sort` gives (values, indices); TF1's `tf.sort(x, axis, direction)` (TF1
    keywords or a symbolic tensor) gives the values."""
    x = as_tensor(x)
    tf_style = out is None and (axis is not None or direction is not None   # out=: torch's
                                or x.is_symbolic and trace_state.active is None)
    result = torch_sort(x, dim if axis is None else axis,
                        descending or direction == "DESCENDING")
    return result.values if tf_style else write_out(result, out)


def argsort(x, dim=-1, descending=False, *, axis=None, direction=None, stable=False,
            name=None) -> Tensor:
    return ops.argsort(as_tensor(x), dim if axis is None else axis,
                       descending or direction == "DESCENDING")


# ---- creation -------------------------------------------------------------------------------


def zeros_like(x, dtype=None, requires_grad=False, name=None, device=None,
               **options) -> Tensor:
    """On an eager tensor a new leaf (PyTorch); on a TF1 tensor a node of its graph."""
    check_device(device)
    ignored_options("zeros_like", options)
    if x.is_symbolic:
        return ops.zeros_like(x, dtype, name)
    return leaf(np.zeros(x.shape, dtype_or(dtype, x.dtype).np), requires_grad)


def ones_like(x, dtype=None, requires_grad=False, name=None, device=None,
              **options) -> Tensor:
    check_device(device)
    ignored_options("ones_like", options)
    if x.is_symbolic:
        return ops.ones_like(x, dtype, name)
    return leaf(np.ones(x.shape, dtype_or(dtype, x.dtype).np), requires_grad)


empty_like = zeros_like



def matmul(a, b, transpose_a=False, transpose_b=False, name=None, *, out=None):
    """`torch.matmul` / `x @ y` and TF1's `tf.matmul`, one name. PyTorch's vector cases
    (1-D @ 1-D is a dot product, 1-D @ 2-D a vector-matrix product, ...: the vector gets a
    dim that is then dropped) apply to eager operands, also under `tinyflow.compile`; TF1's
    graphs keep rank >= 2."""
    if (type(a) is Tensor and type(b) is Tensor and type(a.shape) is tuple   # eager, 2-D+
            and type(b.shape) is tuple and len(a.shape) > 1 and len(b.shape) > 1
            and out is None and not (transpose_a or transpose_b)
            and not (AUTOCAST_THREADS and autocast_state.dtype is not None)):
        # every `x @ w`: ops.matmul's work, inline (apply2: no `apply` frame and keywords)
        return apply2(PLAIN_MATMUL, a, b) if name is None else apply(PLAIN_MATMUL, a, b, name=name)
    a, b = as_tensor(a), as_tensor(b)
    vector = a.ndim == 1 or b.ndim == 1
    if not vector or transpose_a or transpose_b or (
            a.is_symbolic or b.is_symbolic) and trace_state.active is None:   # TF1's
        result = ops.matmul(a, b, transpose_a, transpose_b, name=name)
        return result if out is None else write_out(result, out)
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"matmul: the arguments are {a.ndim}-D and {b.ndim}-D; both must "
                           f"be 1-D or more (use mul for a 0-D one)")
    result = ops.matmul(a.reshape(1, -1) if a.ndim == 1 else a,
                        b.reshape(-1, 1) if b.ndim == 1 else b)
    if b.ndim == 1:
        result = ops.squeeze(result, -1)
    if a.ndim == 1:
        result = ops.squeeze(result, -1 if b.ndim == 1 else -2)
    return write_out(result, out)
def argmax(x, dim=None, keepdim=False, axis=None, name=None, dimension=None,
           output_type=None, *, out=None):
    """`torch.argmax(x, dim=1, keepdim=True)` or TF1's `tf.argmax(x, axis=1, name=...,
    output_type=tf.int32)`."""
    if axis is not None or name is not None or dimension is not None or output_type:
        if out is not None:   # TF1's spelling takes no out=: refused, never left unwritten
            raise TypeError("argmax: out= is PyTorch's; TF1's axis/name/output_type take none")
        found = ops.argmax(x, dim if axis is None else axis, name, dimension)
        return found if output_type is None else ops.cast(found, output_type)
    return write_out(torch_argmax(as_tensor(x), dim, keepdim), out)


def argmin(x, dim=None, keepdim=False, axis=None, name=None, dimension=None,
           output_type=None, *, out=None):
    if axis is not None or name is not None or dimension is not None or output_type:
        if out is not None:   # TF1's spelling takes no out=: refused, never left unwritten
            raise TypeError("argmin: out= is PyTorch's; TF1's axis/name/output_type take none")
        found = ops.argmin(x, dim if axis is None else axis, name, dimension)
        return found if output_type is None else ops.cast(found, output_type)
    return write_out(torch_argmin(as_tensor(x), dim, keepdim), out)


@with_out
def multinomial(probs, num_samples, replacement=False, generator=None, *, seed=None,
                name=None, output_dtype=None) -> Tensor:
    """`torch.multinomial(probs, n)`: indices drawn by the probabilities in each row; or
    TF1's `tf.multinomial(logits, n)` (with replacement, from softmax(logits)) for a TF1
    graph's tensor or TF1's keywords."""
    if (seed is not None or name is not None or output_dtype is not None
            or isinstance(probs, Tensor) and probs.kind != EAGER and trace_state.active is None):
        return ops.categorical(probs, num_samples, output_dtype, seed, name)
    return ops.multinomial(probs, num_samples, replacement)


METHODS = {
    "add": with_other(add), "clamp": clamp, "clip": clamp, "round": round, "softmax": softmax,
    "log_softmax": log_softmax, "var": var, "logsumexp": logsumexp, "cumsum": cumsum,
    "argsort": argsort, "roll": roll, "matmul": with_other(matmul), "__matmul__": matmul,
    "__rmatmul__": lambda x, y: matmul(y, x),
}


def normal(*args, **kwargs) -> Tensor:
    """`torch.normal(mean, std, size)` (numbers or tensors), or tqchen/tinyflow's
    `tf.normal(shape, stdev)`: a graph node of N(0, stdev^2) draws, chosen by a shape (a list
    or tuple) in first place without `size=`."""
    if "shape" in kwargs or "stdev" in kwargs or (
            args and isinstance(args[0], (list, tuple)) and "size" not in kwargs):
        shape = args[0] if args else kwargs["shape"]
        stdev = args[1] if len(args) > 1 else kwargs.get("stdev", 1.0)
        return ops.random_normal(list(shape), stddev=stdev,
                                 dtype=kwargs.get("dtype", dtypes.float32))
    return torch_normal(*args, **kwargs)


def equal(x, y, name=None):
    """`torch.equal(a, b)`: one Python bool (same shape, same values) for two eager or
    traced tensors; `tf.equal(x, y)`: the elementwise comparison in a TF1 graph, with `name=`,
    or of values that are not tensors (arrays, lists, numbers: torch.equal refuses them)."""
    if name is not None or not (isinstance(x, Tensor) and isinstance(y, Tensor)):
        return ops.equal(x, y, name=name)
    a, b = x, y
    if (a.is_symbolic or b.is_symbolic) and trace_state.active is None:
        return ops.equal(x, y, name=name)
    return torch_equal(a, b)


def sign(x, name=None, *, out=None) -> Tensor:
    """-1, 0 or 1; at NaN PyTorch's 0 for eager and traced tensors, TF1's NaN in a graph."""
    x = as_tensor(x)
    if x.is_symbolic and trace_state.active is None:
        return ops.sign(x, name=name)
    return write_out(ops.math.sign_nan_to_zero(x, name=name), out)


def take(input, index, axis=None, name=None):  # noqa: A002
    """`torch.take(x, index)`: elements at flat positions (the op function `ops.take` is
    TF1-style: slices along an axis)."""
    if axis is not None or name is not None:
        return ops.take(input, index, axis or 0, name=name)
    return flat_take(input, index)


def where(condition, x=None, y=None, name=None, *, out=None):
    """`torch.where(cond, x, y)` / `tf.where(cond, x, y)`: x where cond holds, else y; with
    the condition alone on an eager tensor, PyTorch's `torch.where(cond)`: the coordinates of
    its True elements, one 1-D tensor per dim (nonzero(as_tuple=True))."""
    if x is None and y is None and (not as_tensor(condition).is_symbolic
                                    or trace_state.active is not None):   # not TF1's
        return nonzero(condition, as_tuple=True)
    return write_out(ops.where(condition, x, y, name=name), out)
