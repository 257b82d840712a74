"""PyTorch's module-level tensor functions (`torch.cat`, `torch.max`, ...).

Most are the Tensor methods under another spelling. Where PyTorch and TF1 share a name with
different meanings (`split`, `transpose`), the arguments decide: PyTorch keywords (`dim`)
or an eager tensor select PyTorch semantics, TF1 keywords or a symbolic tensor select TF1's.
"""
from __future__ import annotations

import numpy as np

from . import ops
from .core import dtypes
from .core.op import as_tensor
from .core.tensor import Tensor
from .io import checkpoint


def cat(tensors, dim=0, out=None) -> Tensor:
    return _out(ops.concat(list(tensors), dim), out)


concatenate = cat


def stack(tensors, dim=0, axis=None, out=None, name=None) -> Tensor:
    return _out(ops.stack(list(tensors), dim if axis is None else axis, name=name), out)


def split(tensor, split_size_or_sections=None, axis_or_dim=None, *, dim=None, axis=None,
          num_or_size_splits=None, name=None):
    """`torch.split` (an int is the size of each piece) or `tf.split` (the number of pieces).

    TF1 keywords (`axis=`, `num_or_size_splits=`) or a symbolic tensor mean TF1; `dim=` or an
    eager tensor mean PyTorch. A list of sizes means the same in both.
    """
    tensor = as_tensor(tensor)
    tf_style = num_or_size_splits is not None or axis is not None or (
        dim is None and tensor.is_symbolic)
    if tf_style:
        n = num_or_size_splits if num_or_size_splits is not None else split_size_or_sections
        axis = axis if axis is not None else (axis_or_dim or 0)
        return ops.split(tensor, n, axis, name=name)
    dim = dim if dim is not None else (axis_or_dim or 0)
    return tensor.split(split_size_or_sections, dim)


def chunk(tensor, chunks, dim=0):
    return tensor.chunk(chunks, dim)


def transpose(x, *args, perm=None, dim0=None, dim1=None, name=None, conjugate=False):
    """`torch.transpose(x, dim0, dim1)` swaps two dims; `tf.transpose(x, perm)` permutes."""
    x = as_tensor(x)
    if len(args) == 2 or dim0 is not None:
        d0, d1 = args if len(args) == 2 else (dim0, dim1)
        return x.transpose(d0, d1)
    if args:
        perm = args[0]
    return ops.transpose(x, perm, name=name)


def permute(x, dims): return x.permute(*dims)
def flatten(x, start_dim=0, end_dim=-1): return x.flatten(start_dim, end_dim)
def unsqueeze(x, dim): return x.unsqueeze(dim)
def mm(a, b, out=None): return _out(ops.mm(a, b), out)
def bmm(a, b, out=None): return _out(ops.matmul(a, b), out)
def gather(x, dim, index): return x.gather(dim, index)
def index_select(x, dim, index): return x.index_select(dim, index)
def clamp(x, min=None, max=None, out=None): return _out(ops.clamp(x, min, max), out)
def masked_fill(x, mask, value): return x.masked_fill(mask, value)
def numel(x) -> int: return x.numel()
def is_tensor(x) -> bool: return isinstance(x, Tensor)
def std(x, dim=None, unbiased=True, keepdim=False): return x.std(dim, unbiased, keepdim)
def var(x, dim=None, unbiased=True, keepdim=False): return x.var(dim, unbiased, keepdim)
def logsumexp(x, dim, keepdim=False): return x.logsumexp(dim, keepdim)
def max(x, dim=None, keepdim=False): return x.max(dim, keepdim)  # noqa: A001
def min(x, dim=None, keepdim=False): return x.min(dim, keepdim)  # noqa: A001
def amax(x, dim=None, keepdim=False): return x.amax(dim, keepdim)
def amin(x, dim=None, keepdim=False): return x.amin(dim, keepdim)


def sum(x, dim=None, keepdim=False, dtype=None):  # noqa: A001
    return as_tensor(x).sum(dim, keepdim, dtype)


def mean(x, dim=None, keepdim=False, dtype=None):
    return as_tensor(x).mean(dim, keepdim, dtype)


def add(x, y, alpha=1, out=None, name=None):
    return _out(ops.add(x, y if alpha == 1 else y * alpha, name=name), out)


def mul(x, y, out=None, name=None):
    return _out(ops.multiply(x, y, name=name), out)


def softmax(x, dim=-1, *, axis=None, dtype=None, name=None) -> Tensor:
    """`torch.softmax(x, dim)` / `tf.softmax(logits, axis)`."""
    x = as_tensor(x) if dtype is None else as_tensor(x).to(dtype)
    return ops.softmax(x, dim if axis is None else axis, name=name)


def log_softmax(x, dim=-1, *, axis=None, dtype=None, name=None) -> Tensor:
    x = as_tensor(x) if dtype is None else as_tensor(x).to(dtype)
    return ops.log_softmax(x, dim if axis is None else axis, name=name)


def cumsum(x, dim=0, *, axis=None, exclusive=False, reverse=False, name=None) -> Tensor:
    """`torch.cumsum(x, dim)` or `tf.cumsum(x, axis, exclusive, reverse)`."""
    x = as_tensor(x)
    out = ops.cumsum(x, dim if axis is None else axis, reverse)
    return out - x if exclusive else out
def tril(x, diagonal=0): return x.tril(diagonal)
def triu(x, diagonal=0): return x.triu(diagonal)
def sort(x, dim=-1, descending=False, stable=False, *, axis=None, direction=None, name=None):
    """`torch.sort` gives (values, indices); TF1's `tf.sort(x, axis, direction)` (TF1
    keywords or a symbolic tensor) gives the values."""
    x = as_tensor(x)
    tf_style = axis is not None or direction is not None or x.is_symbolic
    result = x.sort(dim if axis is None else axis,
                    descending or direction == "DESCENDING")
    return result.values if tf_style else result


def argsort(x, dim=-1, descending=False, *, axis=None, direction=None, stable=False,
            name=None) -> Tensor:
    return as_tensor(x).argsort(dim if axis is None else axis,
                                descending or direction == "DESCENDING")
def topk(x, k, dim=-1, largest=True, sorted=True): return x.topk(k, dim, largest)  # noqa: A002
def flip(x, dims): return x.flip(dims)
def roll(x, shifts=None, dims=None, *, shift=None, axis=None, name=None) -> Tensor:
    """`torch.roll(x, shifts, dims)` or `tf.roll(x, shift, axis)`."""
    return as_tensor(x).roll(shifts if shift is None else shift, dims if axis is None else axis)
def narrow(x, dim, start, length): return x.narrow(dim, start, length)
def unbind(x, dim=0): return x.unbind(dim)
def outer(a, b): return a.outer(b)
def dot(a, b): return a.dot(b)
def addmm(x, mat1, mat2, beta=1, alpha=1): return x.addmm(mat1, mat2, beta=beta, alpha=alpha)
def lerp(x, end, weight): return x.lerp(end, weight)
def floor(x): return x.floor()
def ceil(x): return x.ceil()
def round(x, decimals=0): return x.round(decimals)  # noqa: A001
def log1p(x): return as_tensor(x).log1p()
def expm1(x): return as_tensor(x).expm1()
def log2(x): return as_tensor(x).log2()
def log10(x): return as_tensor(x).log10()
def atan2(y, x): return ops.atan2(y, x)
def remainder(x, y): return ops.remainder(x, y)
def fmod(x, y): return as_tensor(x).fmod(y)
def floor_divide(x, y): return ops.floor_divide(x, y)
def true_divide(x, y): return ops.divide(x, y)
def logical_and(x, y): return ops.logical_and(x, y)
def logical_or(x, y): return ops.logical_or(x, y)
def logical_xor(x, y): return ops.logical_xor(x, y)
def clip(x, min=None, max=None): return ops.clamp(x, min, max)  # noqa: A002
def clamp_min(x, min): return ops.clamp(x, min, None)  # noqa: A002
def clamp_max(x, max): return ops.clamp(x, None, max)  # noqa: A002
def count_nonzero(x, dim=None): return as_tensor(x).count_nonzero(dim)
def get_default_dtype(): return dtypes.float32


def finfo(dtype=None):
    """`torch.finfo(torch.float32).eps`, `.max`, `.min`, `.tiny`: NumPy's figures."""
    return np.finfo(dtypes.as_dtype(dtype or dtypes.float32).np)


def iinfo(dtype):
    return np.iinfo(dtypes.as_dtype(dtype).np)


def isnan(x): return x.isnan()
def isinf(x): return x.isinf()
def isfinite(x): return x.isfinite()
def tile(x, dims, name=None) -> Tensor:
    """`torch.tile` / `tf.tile`: copies of `x` along each dim (fewer dims than x: leading 1s)."""
    x = as_tensor(x)
    return x.repeat(*((1,) * (x.ndim - len(dims)) + tuple(dims)))
def movedim(x, source, destination): return x.movedim(source, destination)


def broadcast_to(x, shape, name=None) -> Tensor:
    """`torch.broadcast_to` / `tf.broadcast_to`: a broadcast view of `x` as `shape`."""
    return ops.expand(as_tensor(x), tuple(shape))


def multinomial(probs, num_samples, replacement=False, generator=None) -> Tensor:
    return ops.multinomial(probs, num_samples, replacement)


class cuda:  # noqa: N801  (torch.cuda namespace)
    """There is no GPU here: code that checks `torch.cuda.is_available()` takes its CPU path."""

    @staticmethod
    def is_available() -> bool:
        return False

    @staticmethod
    def device_count() -> int:
        return 0


def save(obj, f) -> None:
    """`torch.save(model.state_dict(), path)`, written as safetensors (atomically), so that
    `torch.load` never unpickles: only flat {name: tensor} dicts can be saved."""
    if not isinstance(obj, dict):
        raise TypeError(f"save: tinyflow saves a flat {{name: tensor}} dict such as "
                        f"model.state_dict() as safetensors, not a {type(obj).__name__} "
                        f"(nothing is pickled)")
    checkpoint.save(obj, f)


def load(f, map_location=None, weights_only=True) -> dict:
    """`torch.load(path)` of a file written by `save`: {name: tensor}."""
    return checkpoint.load(f)


def allclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool:
    return bool(np.allclose(np.asarray(a), np.asarray(b), rtol, atol, equal_nan))


def _out(result: Tensor, out) -> Tensor:
    """`out=`: write the result into an existing tensor (outside autograd, as PyTorch)."""
    if out is None:
        return result
    if out.requires_grad and result.requires_grad:
        raise RuntimeError("functions with out=... arguments don't support automatic "
                           "differentiation, but one of the arguments requires grad.")
    if out.shape != result.shape:
        out.data = np.empty(result.shape, out.dtype.np)  # PyTorch resizes `out`
    return out.copy_(result.detach())
