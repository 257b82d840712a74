"""Small facts about a tensor and its dtype as PyTorch names them (`x.itemsize`, `x.nbytes`,
`x.ndimension()`, `x.is_signed()`, `x.retains_grad`, `torch.can_cast`), and the sampling and
binning methods (`x.bernoulli()`, `x.multinomial(n)`, `torch.searchsorted`,
`torch.bucketize`)."""
from __future__ import annotations

import numpy as np

from ..core import dtypes, shared_memory
from ..core.op import as_tensor
from ..core.random import python_draws
from ..core.tensor import Tensor
from ..ops.math import forget_literals
from .inplace import write_out
from .shared_names import multinomial


def itemsize(x) -> int: return x.dtype.np.itemsize
def nbytes(x) -> int: return x.numel() * x.dtype.np.itemsize
def ndimension(x) -> int: return x.ndim
def is_complex(x) -> bool: return False   # tinyflow has no complex dtypes
def retains_grad(x) -> bool: return bool(x._retains_grad)


def is_signed(x) -> bool:
    return not x.dtype.is_bool and x.dtype is not dtypes.uint8


def is_same_size(x, other) -> bool:
    return tuple(x.shape) == tuple(other.shape)


def data_ptr(x) -> int:
    """The address of the first element (0 for an empty tensor, as PyTorch)."""
    data = x._require_data("data_ptr()")
    return data.ctypes.data if data.size else 0


def share_memory_(x):
    """Move the data into a shared block (core/shared_memory.py), so the processes this
    tensor is passed to read and write the same memory (Hogwild training)."""
    data = x._require_data("share_memory_()")
    if x._base is not None and shared_memory.place_of(data) is None:
        raise RuntimeError("share_memory_(): the tensor is a view; share the tensor it "
                           "views, before taking the view")
    x.array = shared_memory.share(data)
    return x


def is_shared(x) -> bool:
    return x.array is not None and shared_memory.place_of(x.array) is not None


def index(x) -> int:
    """`x` as a Python index (`labels[pred.argmax()]`): integer tensors of one element only,
    as PyTorch."""
    if x.numel() != 1 or not (x.dtype.is_integer or x.dtype.is_bool):
        raise TypeError(f"index: a {x.dtype.name} tensor of {x.numel()} elements cannot be "
                        f"used as an index; it must be one integer")
    return int(x.item())


def can_cast(from_, to) -> bool:
    """PyTorch's rule: a cast may not lower the kind (float > integer > bool)."""
    return dtypes.kind_rank(dtypes.torch_dtype(from_)) <= dtypes.kind_rank(dtypes.torch_dtype(to))


def set_default_dtype(d) -> None:
    """The dtype Python floats, float factories and new layers' parameters take; a torch
    dtype, not a Python or NumPy type (`float` is refused, as PyTorch refuses it)."""
    if isinstance(d, type):
        raise TypeError(f"set_default_dtype: give a dtype such as torch.float64, not the "
                        f"type {d.__name__}")
    dtypes.set_default_float(d)
    forget_literals()


def bernoulli(input, p=None, *, generator_=None, out=None):  # noqa: A002
    """1 with probability p (the input's values if p is None), else 0, in the input's dtype."""
    x = as_tensor(input)
    probs = x._require_data("bernoulli()") if p is None else np.broadcast_to(
        np.asarray(p), x.shape)
    if np.any((probs < 0) | (probs > 1)):
        raise RuntimeError("bernoulli: the probabilities must be in [0, 1]")
    draw = python_draws("bernoulli").random(x.shape) < probs
    return write_out(Tensor._eager(draw.astype(x.dtype.np)), out)


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,  # noqa: A002
                 sorter=None, out=None):
    """Where each value would be inserted to keep each (last-dim) row sorted."""
    seq = np.asarray(as_tensor(sorted_sequence)._require_data("searchsorted()"))
    values = input._require_data("searchsorted()") if isinstance(input, Tensor) else (
        np.asarray(input))
    if sorter is not None:
        seq = np.take_along_axis(seq, np.asarray(as_tensor(sorter).numpy()), -1)
    how = side or ("right" if right else "left")
    if seq.ndim <= 1:
        found = np.searchsorted(seq, values, how)
    else:
        if seq.shape[:-1] != values.shape[:-1]:
            raise RuntimeError(f"searchsorted: boundaries {seq.shape} and input "
                               f"{values.shape} must agree in all but the last dim")
        rows_s, rows_v = seq.reshape(-1, seq.shape[-1]), values.reshape(-1, values.shape[-1])
        found = np.stack([np.searchsorted(s, v, how) for s, v in zip(rows_s, rows_v)]
                         ).reshape(values.shape)
    return write_out(Tensor._eager(np.asarray(found, np.int32 if out_int32 else np.int64)),
                     out)


def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):  # noqa: A002
    """The bucket of each value among 1-D sorted boundaries."""
    if as_tensor(boundaries).ndim != 1:
        raise RuntimeError("bucketize: boundaries tensor must be 1 dimension")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)


def multinomial_method(input, num_samples, replacement=False, *, generator=None):  # noqa: A002
    return multinomial(input, num_samples, replacement)


# ---- the complex-number API on real tensors (tinyflow has no complex dtypes) --------------

def real(input):  # noqa: A002
    """A real tensor's real part: the tensor itself, as PyTorch returns it."""
    return input


def imag(input):  # noqa: A002
    raise RuntimeError("imag: tinyflow has no complex tensors, so a tensor has no imaginary "
                       "part")


def conj(input):  # noqa: A002
    """The conjugate of a real tensor: the tensor itself (so are conj_physical, resolve_conj
    and resolve_neg)."""
    return input


def is_conj(input) -> bool:  # noqa: A002
    return False


METHODS = {
    "itemsize": property(itemsize), "nbytes": property(nbytes), "ndimension": ndimension,
    "is_complex": is_complex, "retains_grad": property(retains_grad), "is_signed": is_signed,
    "__index__": index, "data_ptr": data_ptr, "share_memory_": share_memory_, "is_shared": is_shared,
    "bernoulli": bernoulli, "multinomial": multinomial_method,
    "real": property(real), "imag": property(imag), "conj": conj, "conj_physical": conj,
    "resolve_conj": conj, "resolve_neg": conj, "is_conj": is_conj, "is_neg": is_conj,
}

