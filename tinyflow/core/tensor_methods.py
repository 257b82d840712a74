"""Tensor methods with PyTorch's names and semantics (`dim`, `keepdim`, in-place `_` ops).

Each is sugar over an op function; none holds a kernel. The TF1 spellings (`axis`,
`keepdims`) are the module-level functions in `tinyflow.ops`.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from . import dtypes
from .random import generator

MaxResult = namedtuple("MaxResult", ["values", "indices"])   # also sort's and topk's


def _dims(args) -> tuple:
    """Accept `f(2, 3)`, `f((2, 3))` and `f([2, 3])`."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


class TensorMethods:
    """Mixed into Tensor. `_ops` is the op-function namespace, bound when ops are loaded."""

    __slots__ = ()

    # ---- dtype conversion ----------------------------------------------------------------
    def to(self, *args, dtype=None, **kwargs):
        """`to(dtype)`, `to('cpu')`, `to(other_tensor)`; devices other than the CPU are refused."""
        for a in args:
            if isinstance(a, TensorMethods):
                dtype = a.dtype
            elif isinstance(a, str) and a not in ("cpu",):
                raise RuntimeError(f"device {a!r} is not available: tinyflow runs on the CPU")
            elif a is not None and not isinstance(a, str):
                dtype = a
        return self if dtype is None else _ops.cast(self, dtypes.as_dtype(dtype))

    def type(self, dtype=None):
        return self.dtype.name if dtype is None else self.to(dtype)

    def float(self): return _ops.cast(self, dtypes.float32)
    def double(self): return _ops.cast(self, dtypes.float64)
    def half(self): return _ops.cast(self, dtypes.float16)
    def long(self): return _ops.cast(self, dtypes.int64)
    def int(self): return _ops.cast(self, dtypes.int32)
    def bool(self): return _ops.cast(self, dtypes.bool_)
    def cpu(self): return self

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating

    def type_as(self, other): return self.to(other.dtype)

    @property
    def device(self): return _CPU
    @property
    def is_cuda(self) -> bool: return False

    def nelement(self) -> int: return self.numel()
    def element_size(self) -> int: return self.dtype.np.itemsize

    # new tensors of this dtype (PyTorch's `x.new_zeros(shape)`, ...)
    def new_zeros(self, *size, dtype=None): return self.new_full(_dims(size), 0, dtype=dtype)
    def new_ones(self, *size, dtype=None): return self.new_full(_dims(size), 1, dtype=dtype)
    def new_empty(self, *size, dtype=None): return self.new_zeros(*size, dtype=dtype)

    def new_full(self, size, fill_value, dtype=None):
        dt = dtypes.as_dtype(dtype) if dtype is not None else self.dtype
        return _constant(np.full(tuple(size), fill_value, dt.np))

    def new_tensor(self, data, dtype=None):
        dt = dtypes.as_dtype(dtype) if dtype is not None else self.dtype
        data = data.numpy() if isinstance(data, TensorMethods) else data
        return _constant(np.array(data, dt.np))

    # ---- linear algebra ------------------------------------------------------------------
    def matmul(self, other): return _ops.matmul(self, other)
    def mm(self, other): return _ops.mm(self, other)
    def bmm(self, other): return _ops.matmul(self, other)

    def dot(self, other):
        if self.ndim != 1 or other.ndim != 1:
            raise RuntimeError(f"dot: 1D tensors expected, but got {self.ndim}D and "
                               f"{other.ndim}D tensors")
        return _ops.reduce_sum(self * other)

    def outer(self, other): return self.reshape(-1, 1) * other.reshape(1, -1)

    def addmm(self, mat1, mat2, beta=1, alpha=1):
        """beta * self + alpha * (mat1 @ mat2)."""
        return _scaled(self, beta) + _scaled(_ops.mm(mat1, mat2), alpha)

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                               f"{self.ndim}D")
        return self if self.ndim < 2 else _ops.transpose(self, (1, 0))

    @property
    def T(self): return _ops.transpose(self)

    @property
    def mT(self): return self.transpose(-2, -1)

    # ---- reductions ------------------------------------------------------------------------
    def sum(self, dim=None, keepdim=False, dtype=None, axis=None, keepdims=False):
        x = self if dtype is None else self.to(dtype)
        return _ops.reduce_sum(x, _axis(dim, axis), keepdim or keepdims)

    def mean(self, dim=None, keepdim=False, dtype=None, axis=None, keepdims=False):
        x = self if dtype is None else self.to(dtype)
        return _ops.reduce_mean(x, _axis(dim, axis), keepdim or keepdims)

    def max(self, dim=None, keepdim=False):
        return _extreme(self, dim, keepdim, _ops.reduce_max, _ops.argmax, _ops.maximum)

    def min(self, dim=None, keepdim=False):
        return _extreme(self, dim, keepdim, _ops.reduce_min, _ops.argmin, _ops.minimum)

    def amax(self, dim=None, keepdim=False): return _ops.reduce_max(self, dim, keepdim)
    def amin(self, dim=None, keepdim=False): return _ops.reduce_min(self, dim, keepdim)

    def argmax(self, dim=None, keepdim=False):
        out = _ops.argmax(self, dim)
        return _ops.expand_dims(out, dim) if keepdim and dim is not None else out

    def argmin(self, dim=None, keepdim=False):
        out = _ops.argmin(self, dim)
        return _ops.expand_dims(out, dim) if keepdim and dim is not None else out

    def var(self, dim=None, unbiased=None, keepdim=False, correction=None):
        return _ops.var(self, dim, _correction(unbiased, correction), keepdim)

    def std(self, dim=None, unbiased=None, keepdim=False, correction=None):
        return _ops.sqrt(_ops.var(self, dim, _correction(unbiased, correction), keepdim))

    def norm(self, p=2, dim=None, keepdim=False):
        if p != 2:
            raise NotImplementedError("only the 2-norm is implemented")
        return _ops.sqrt(_ops.reduce_sum(self * self, dim, keepdim))

    def logsumexp(self, dim, keepdim=False): return _ops.logsumexp(self, dim, keepdim)
    def cumsum(self, dim): return _ops.cumsum(self, dim)
    def all(self): return bool(np.all(self.numpy()))
    def any(self): return bool(np.any(self.numpy()))

    # ---- elementwise ---------------------------------------------------------------------
    def exp(self): return _ops.exp(self)
    def log(self): return _ops.log(self)
    def sqrt(self): return _ops.sqrt(self)
    def rsqrt(self): return 1 / _ops.sqrt(self)
    def tanh(self): return _ops.tanh(self)
    def sigmoid(self): return _ops.sigmoid(self)
    def relu(self): return _ops.relu(self)
    def abs(self): return _ops.abs(self)
    def neg(self): return _ops.negative(self)
    def sign(self): return _ops.sign(self)
    def floor(self): return _ops.floor(self)
    def ceil(self): return _ops.ceil(self)

    def round(self, decimals=0):
        if decimals == 0:
            return _ops.round(self)
        scale = 10.0 ** decimals
        return _ops.round(self * scale) / scale

    def log1p(self): return _ops.log1p(self)
    def expm1(self): return _ops.expm1(self)
    def log2(self): return _ops.log(self) * (1 / np.log(2))
    def log10(self): return _ops.log(self) * (1 / np.log(10))
    def atan2(self, other): return _ops.atan2(self, other)
    def remainder(self, other): return _ops.remainder(self, other)
    def floor_divide(self, other): return _ops.floor_divide(self, other)

    def fmod(self, other):
        """C's remainder, with the sign of `self` (remainder's has the sign of `other`)."""
        r = _ops.remainder(self, other)
        flip = _ops.logical_and(_ops.not_equal(r, 0),
                                _ops.not_equal(_ops.less(self, 0), _ops.less(other, 0)))
        return _ops.where(flip, r - other, r)

    def logical_and(self, other): return _ops.logical_and(self, other)
    def logical_or(self, other): return _ops.logical_or(self, other)
    def logical_xor(self, other): return _ops.logical_xor(self, other)
    def clamp_min(self, min): return _ops.clamp(self, min, None)
    def clamp_max(self, max): return _ops.clamp(self, None, max)
    def count_nonzero(self, dim=None):
        return _ops.reduce_sum(_ops.cast(_ops.not_equal(self, 0), dtypes.int64), dim)
    def isnan(self): return _ops.not_equal(self, self)
    def isinf(self): return _ops.equal(_ops.abs(self), np.inf)
    def isfinite(self): return _ops.less(_ops.abs(self), np.inf)  # NaN compares False
    def maximum(self, other): return _ops.maximum(self, other)
    def minimum(self, other): return _ops.minimum(self, other)
    def lerp(self, end, weight): return self + weight * (end - self)
    def sin(self): return _ops.sin(self)
    def cos(self): return _ops.cos(self)
    def square(self): return _ops.square(self)
    def pow(self, exponent): return _ops.pow(self, exponent)
    def clamp(self, min=None, max=None): return _ops.clamp(self, min, max)
    clip = clamp
    def softmax(self, dim): return _ops.softmax(self, dim)
    def log_softmax(self, dim): return _ops.log_softmax(self, dim)
    def add(self, other, alpha=1): return self + (other if alpha == 1 else other * alpha)
    def sub(self, other, alpha=1): return self - (other if alpha == 1 else other * alpha)
    def mul(self, other): return self * other
    def div(self, other): return self / other
    def eq(self, other): return _ops.equal(self, other)
    def ne(self, other): return _ops.not_equal(self, other)
    def lt(self, other): return _ops.less(self, other)
    def le(self, other): return _ops.less_equal(self, other)
    def gt(self, other): return _ops.greater(self, other)
    def ge(self, other): return _ops.greater_equal(self, other)
    def logical_not(self): return _ops.logical_not(self)
    def masked_fill(self, mask, value): return _ops.where(mask, value, self)
    def where(self, condition, other): return _ops.where(condition, self, other)
    def tril(self, diagonal=0): return _ops.tril(self, diagonal)
    def triu(self, diagonal=0): return _ops.triu(self, diagonal)

    # ---- shape ----------------------------------------------------------------------------
    def reshape(self, *shape): return _ops.reshape(self, _dims(shape))

    def view(self, *shape):
        """Like reshape, but refuses when the result could not share this tensor's memory."""
        if len(shape) == 1 and isinstance(shape[0], dtypes.DType):
            raise NotImplementedError("view(dtype) is not supported")
        out = _ops.reshape(self, _dims(shape))
        if self.array is not None and out.array.size and not np.shares_memory(out.array,
                                                                             self.array):
            raise RuntimeError("view size is not compatible with input tensor's size and "
                               "stride; use .reshape(...) instead")
        return out

    def view_as(self, other): return self.view(other.shape)
    def reshape_as(self, other): return self.reshape(other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        return _ops.flatten(self, start_dim, end_dim)

    def permute(self, *dims): return _ops.transpose(self, _dims(dims))

    def transpose(self, dim0, dim1):
        perm = list(range(self.ndim))
        perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
        return _ops.transpose(self, perm)

    swapaxes = transpose

    def unsqueeze(self, dim): return _ops.expand_dims(self, dim)

    def squeeze(self, dim=None):
        if dim is None:
            return _ops.squeeze(self)
        return self if self.shape[dim] != 1 else _ops.squeeze(self, dim)

    def expand(self, *sizes):
        sizes = _dims(sizes)
        lead = len(sizes) - self.ndim
        shape = tuple(self.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
        return _ops.expand(self, shape)

    def expand_as(self, other): return _ops.expand(self, other.shape)

    def contiguous(self):
        if self.array is not None and self.array.flags.c_contiguous:
            return self
        return _ops.contiguous(self)

    def is_contiguous(self) -> bool:
        return self.array is None or self.array.flags.c_contiguous

    def clone(self): return _ops.copy(self)
    def chunk(self, chunks, dim=0): return _ops.chunk(self, chunks, dim)

    def split(self, split_size, dim=0):
        return _ops.torch_split(self, split_size, dim)

    def gather(self, dim, index): return _ops.gather(self, dim, index)
    def index_select(self, dim, index): return _ops.take(self, index, dim)

    def narrow(self, dim, start, length):
        return self[(slice(None),) * (dim % self.ndim) + (slice(start, start + length),)]

    def select(self, dim, index): return self[(slice(None),) * (dim % self.ndim) + (index,)]
    def unbind(self, dim=0): return tuple(self.select(dim, i) for i in range(self.shape[dim]))

    def flip(self, *dims):
        dims = {d % self.ndim for d in _dims(dims)}
        return self[tuple(slice(None, None, -1) if d in dims else slice(None)
                          for d in range(self.ndim))]

    def roll(self, shifts, dims=None):
        """Elements shifted along `dims` (all, flattened, if None), wrapping around."""
        if dims is None:
            return self.flatten().roll(shifts, 0).reshape(self.shape)
        shifts = shifts if isinstance(shifts, (tuple, list)) else (shifts,)
        dims = dims if isinstance(dims, (tuple, list)) else (dims,)
        out = self
        for shift, dim in zip(shifts, dims):
            n = self.shape[dim]
            if n and shift % n:
                cut = n - shift % n
                out = _ops.concat([out.narrow(dim, cut, n - cut), out.narrow(dim, 0, cut)], dim)
        return out

    def repeat(self, *sizes):
        """Tile: `x.repeat(2, 3)` stacks copies along each dim (PyTorch, not NumPy, repeat)."""
        sizes = _dims(sizes)
        if len(sizes) < self.ndim:
            raise RuntimeError("repeat: the number of sizes can not be smaller than the "
                               "number of dimensions of the tensor")
        if self.shape is None or None in self.shape:
            raise ValueError(f"repeat/tile needs the dims of the tensor known, got {self.shape}")
        shape = (1,) * (len(sizes) - self.ndim) + tuple(self.shape)
        x = self.reshape(tuple(d for n in shape for d in (1, n)))
        x = x.expand(tuple(d for r, n in zip(sizes, shape) for d in (r, n)))
        return x.reshape(tuple(r * n for r, n in zip(sizes, shape)))

    def unflatten(self, dim, sizes):
        dim = dim % self.ndim
        return self.reshape(tuple(self.shape[:dim]) + tuple(sizes) + tuple(self.shape[dim + 1:]))

    def movedim(self, source, destination):
        perm = [d for d in range(self.ndim) if d != source % self.ndim]
        perm.insert(destination % self.ndim, source % self.ndim)
        return _ops.transpose(self, perm)

    def argsort(self, dim=-1, descending=False): return _ops.argsort(self, dim, descending)

    def sort(self, dim=-1, descending=False, stable=False):
        indices = _ops.argsort(self, dim, descending)
        return MaxResult(_ops.gather(self, dim, indices), indices)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        if not 0 <= k <= self.shape[dim]:
            raise RuntimeError(f"topk: k ({k}) is out of range for dimension {dim} of size "
                               f"{self.shape[dim]}")
        indices = _ops.argsort(self, dim, largest).narrow(dim, 0, k)
        return MaxResult(_ops.gather(self, dim, indices), indices)

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    # ---- in place ---------------------------------------------------------------------------
    def _inplace(self, result):
        from ..autodiff.tape import write_inplace
        return write_inplace(self, result)

    def add_(self, other, alpha=1): return self._inplace(self.add(other, alpha))
    def sub_(self, other, alpha=1): return self._inplace(self.sub(other, alpha))
    def mul_(self, other): return self._inplace(self * other)
    def div_(self, other): return self._inplace(self / other)
    def pow_(self, exponent): return self._inplace(self ** exponent)
    def neg_(self): return self._inplace(-self)
    def relu_(self): return self._inplace(_ops.relu(self))
    def clamp_(self, min=None, max=None): return self._inplace(self.clamp(min, max))
    def masked_fill_(self, mask, value): return self._inplace(self.masked_fill(mask, value))
    def copy_(self, src):
        src = src if isinstance(src, TensorMethods) else _constant(np.asarray(src))
        return self._inplace(src.to(self.dtype))

    def zero_(self): return self.fill_(0)

    def fill_(self, value):
        return self._inplace(_constant(np.full(self.shape, value, self.dtype.np)))

    def normal_(self, mean=0.0, std=1.0):
        draw = generator().normal(mean, std, self.shape)
        return self._inplace(_constant(draw.astype(self.dtype.np)))

    def uniform_(self, a=0.0, b=1.0):
        draw = generator().uniform(a, b, self.shape)
        return self._inplace(_constant(draw.astype(self.dtype.np)))

    def __setitem__(self, index, value):
        self._inplace(_ops.setitem(self, index, value))

    def __iadd__(self, other): return self + other if self.is_symbolic else self.add_(other)
    def __isub__(self, other): return self - other if self.is_symbolic else self.sub_(other)
    def __imul__(self, other): return self * other if self.is_symbolic else self.mul_(other)
    def __itruediv__(self, other):
        return self / other if self.is_symbolic else self.div_(other)

    # ---- autograd ---------------------------------------------------------------------------
    @property
    def data(self):
        """A tensor sharing this one's buffer, outside autograd (PyTorch's `.data`)."""
        from .tensor import Tensor
        return Tensor._eager(self._require_data(".data"))

    @data.setter
    def data(self, value):
        arr = value.numpy() if isinstance(value, TensorMethods) else np.asarray(value)
        self.array, self.shape = arr, arr.shape
        self.dtype = dtypes.from_numpy(arr.dtype)

    def retain_grad(self):
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        self._retains_grad = True


def _constant(arr: np.ndarray):
    from .tensor import Tensor
    return Tensor._eager(arr)


class Device(str):
    """`torch.device`: tinyflow computes on the CPU only; any other device is refused."""

    def __new__(cls, kind="cpu", index=None):
        if str(kind).split(":")[0] != "cpu":
            raise RuntimeError(f"device {kind!r} is not available: tinyflow runs on the CPU")
        return super().__new__(cls, "cpu")

    @property
    def type(self) -> str:
        return "cpu"

    def __repr__(self) -> str:
        return "device(type='cpu')"


_CPU = Device()


def _scaled(x, factor):
    return x if factor == 1 else x * factor


def _axis(dim, axis):
    return dim if dim is not None else axis


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 0 if unbiased is False else 1


def _extreme(x, dim, keepdim, reduce, arg, pairwise):
    """PyTorch's max/min: over everything, (values, indices) along a dim, or pairwise."""
    if isinstance(dim, TensorMethods):
        return pairwise(x, dim)
    if dim is None:
        return reduce(x)
    values = reduce(x, dim, keepdim)
    indices = arg(x, dim)
    if keepdim:
        indices = _ops.expand_dims(indices, dim)
    return MaxResult(values, indices)


_ops = None  # bound by tinyflow.ops at import (ops import Tensor, so not the other way)
