"""PyTorch's spellings over tinyflow's ops: the Tensor methods and the `torch.*` functions.

Each name is defined once, in one module per kind (as tinygrad's mixins):

- dtype.py: dtypes and devices (`x.float()`, `x.to(...)`, `torch.device`, `torch.cuda`)
- math.py: elementwise math, linear algebra and the operators (`x + y`, `x @ y`, `a & b`)
- reduce.py: reductions, sorting and top-k (`dim`, `keepdim`, (values, indices))
- movement.py: shape and movement (`view`, `permute`, `cat`, `chunk`, `flatten`, `x[i]`)
- inplace.py: in-place methods (`add_`, `x[i] = v`, `+=`) and `out=`
- creation.py: `tensor`, `zeros`, `randn`, ..., `x.new_zeros`
- autograd.py: `torch.autograd`, `no_grad`, `x.backward()`
- shared_names.py: names TF1 also uses with another meaning (`split`, `softmax`, ...): the
  arguments decide
- serialization.py: `torch.save` / `torch.load`
- aliases.py: PyTorch's second spellings of one function (`torch.relu_(x)` is `x.relu_()`,
  `torch.conv2d` is F.conv2d, `x.dist(y)` is `torch.dist(x, y)`)
- settings.py: process-wide switches (`set_float32_matmul_precision`, determinism)

A function serves as both `torch.f(x, ...)` and the method `x.f(...)` wherever the spellings
agree. Each kind module ends in a `METHODS` table (method name -> function) that
`install_tensor_methods` puts on `Tensor`. The imports below are the `torch.*` function
table; `tinyflow/__init__.py` exports it.
"""
from ..core.shapes import Size
from ..core.tensor import Tensor
from . import (autograd, creation, dtype, inplace, logic, math, movement, reduce,
               scatter_gather, shared_names, sparse, statistics, strided, zero_dim)
from . import elementwise, fft, linalg, serialization, shaping, special, tensor_info
from .amp import (Fp8Recipe, GradScaler, amp, autocast, cpu, fp8_autocast, get_autocast_dtype,
                  is_autocast_enabled)
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .creation import as_tensor
from .creation import (arange, constant, empty, eye, from_numpy, full, full_like,
                       get_rng_state, linspace, logspace, ones, set_rng_state,
                       rand, rand_like, randint, randn, randn_like, randperm, tensor, zeros)
from .. import backends
from .dtype import (accelerator, cuda, device, finfo, get_default_dtype, iinfo, is_tensor,
                    promote_types, result_type)
from .math import (addmm, bmm, clamp_max, clamp_min, div, dot, fmod, isfinite, isinf,
                   isnan, lerp, log2, log10, masked_fill, mm, mul, neg, outer, sub,
                   true_divide)
from .movement import (cat, chunk, concatenate, flatten, flip, index_select, movedim, narrow,
                       permute, unbind, unsqueeze)
from .reduce import amax, amin, count_nonzero, max, mean, min, std, sum, topk
from .serialization import load, save
from .shared_names import (add, argmax, argmin, argsort, broadcast_to, clamp, clip, cumsum,
                           empty_like, equal, gather, log_softmax, normal, logsumexp, matmul, multinomial,
                           ones_like,
                           roll, round, sign, softmax, sort, split, stack, take, tile, transpose,
                           var, where,
                           zeros_like)
from .diagonal import diag, diag_embed, tril_indices, triu_indices
from .legacy import (BoolTensor, ByteTensor, DoubleTensor, FloatTensor, HalfTensor, IntTensor,
                     LongTensor)
from .sparse import sparse_coo_tensor, spmm
from .strided import as_strided
from .logic import (all, allclose, any, eq, ge, gt, is_nonzero, isclose, isin, le, lt, ne,  # noqa: A004
                    signbit)
from .logic import isneginf, isposinf
from .math import rsqrt, t
from .scatter_gather import (argwhere, index_add, index_copy, index_fill, masked_scatter,
                      masked_select, nonzero, repeat_interleave, scatter, scatter_add,
                      scatter_reduce, take_along_dim, unique, unique_consecutive)
from .statistics import aminmax, std_mean, var_mean
from .statistics import (bincount, cummax, cummin, diff, dist, histc, kthvalue, logcumsumexp,
                         median, mode, nanmean, nanmedian, nanquantile, nansum, norm, prod,
                         quantile, trace)
from .statistics import torch_cumprod as cumprod
from .elementwise import (acos, acosh, addcdiv, addcmul, asin, asinh, atan, atanh, copysign,
                          cosh, deg2rad, erfc, exp2, float_power, fmax, fmin, frac,
                          heaviside, hypot, logaddexp, logaddexp2, logit, nan_to_num, rad2deg,
                          reciprocal, sgn, sinc, sinh, tan, trunc, xlogy)
from ..ops.discrete import gcd, lcm, nextafter
from .elementwise import asin as arcsin, acos as arccos, atan as arctan, trunc as fix
from .linalg import (addmv, baddbmm, cdist, chain_matmul, det, ger, inner, inverse,
                     logdet, matrix_power, mv, pinverse, slogdet, tensordot)
from .linalg import torch_cholesky as cholesky, torch_qr as qr
from .dtype import is_floating_point
from .tensor_info import is_complex
from .shaping import (atleast_1d, atleast_2d, atleast_3d, block_diag, broadcast_tensors,
                      cartesian_prod, column_stack, combinations, cross, diagonal, dstack,
                      dsplit, fliplr, flipud, hsplit, hstack, kron, meshgrid, ravel, rot90,
                      row_stack, split_with_sizes, swapdims, tensor_split, vsplit, vstack)
from .shaping import swapdims as swapaxes
from ..ops import (bitwise_and, bitwise_left_shift, bitwise_not, bitwise_or,  # noqa: F401
                   bitwise_right_shift, bitwise_xor)
from .movement import movedim as moveaxis
from ..ops.special_functions import digamma, erfinv, i0, lgamma
from .tensor_info import bernoulli, bucketize, can_cast, searchsorted, set_default_dtype
from .tensor_info import conj, imag, is_conj, real
from .tensor_info import conj as conj_physical, conj as resolve_conj, conj as resolve_neg

from .aliases import *  # noqa: F401,F403  (torch.clone, torch.relu_, torch.conv2d: aliases.py)
from . import aliases as _aliases

from ..core.printing import set_printoptions
from ..core.random import initial_seed, seed
from .creation import (asarray, bartlett_window, blackman_window, hamming_window, hann_window,
                       kaiser_window, randint_like, scalar_tensor)
from .diagonal import diagflat
from .math import rsub, vdot
from .settings import (are_deterministic_algorithms_enabled, get_float32_matmul_precision,
                       get_num_interop_threads, is_deterministic_algorithms_warn_only_enabled,
                       set_float32_matmul_precision, set_num_interop_threads,
                       use_deterministic_algorithms)
from .shaping import torch_broadcast_shapes as broadcast_shapes
from .tensor_info import is_same_size

numel = Tensor.numel
zero_dim.wrap_namespace(globals())   # torch.sum(torch.tensor(3.), 0): zero_dim.py


def install_tensor_methods(cls: type, *more: dict) -> None:
    """The one late binding: put every kind module's `METHODS` (and the tables in `more`:
    TF1's `x.eval()`) on `cls`.

    `Tensor` (core/tensor.py) is the data structure only, and core imports nothing above it;
    the methods live here, above the ops they call. `tinyflow/__init__.py` runs this once,
    when `tinyflow` is imported; it refuses a name that two tables define or that the class
    already has, so every method has exactly one home.
    """
    tables = (dtype.METHODS, math.METHODS, reduce.METHODS, movement.METHODS,
              inplace.METHODS, creation.METHODS, autograd.METHODS, shared_names.METHODS,
              strided.METHODS, sparse.METHODS, logic.METHODS, statistics.METHODS,
              scatter_gather.METHODS, elementwise.METHODS, shaping.METHODS,
              linalg.METHODS, tensor_info.METHODS, _aliases.METHODS, *more)
    installed = set()
    for table in tables:
        for name, fn in zero_dim.wrap_table(table).items():   # dims of 0-d tensors
            if name in installed or name in vars(cls):
                raise TypeError(f"Tensor.{name} is defined twice")
            installed.add(name)
            setattr(cls, name, fn)


# torch's math constants (`masked_fill(mask, -torch.inf)`, `math.sqrt(2 / torch.pi)`) and
# `x[:, torch.newaxis]`: the `math` module's floats themselves and None, as torch's are
# (`value is torch.nan` holds for `math.nan` in both)
from math import e, inf, nan, pi  # noqa: E402
newaxis = None

__all__ = ["inf", "nan", "pi", "e", "newaxis",
    "Size", "sparse", "sparse_coo_tensor", "spmm", "diag", "BoolTensor", "ByteTensor",
    "DoubleTensor", "FloatTensor", "HalfTensor", "IntTensor", "LongTensor",
    "Fp8Recipe", "GradScaler", "accelerator", "add", "addmm", "amp", "autocast", "cpu",
    "fp8_autocast", "get_autocast_dtype", "is_autocast_enabled", "allclose", "amax", "amin", "arange", "argmax", "argmin",
    "argsort", "as_strided", "as_tensor", "backends", "bmm", "broadcast_to", "cat", "chunk", "clamp",
    "clamp_max", "clamp_min", "clip", "concatenate", "constant", "count_nonzero", "cuda",
    "cumsum", "device", "div", "dot", "empty", "empty_like", "enable_grad", "eye", "finfo",
    "flatten", "flip", "fmod", "from_numpy", "full", "full_like", "gather", "get_default_dtype",
    "iinfo",
    "index_select", "inference_mode", "is_grad_enabled", "is_tensor", "isfinite", "isinf",
    "isnan", "lerp", "linspace", "load", "log10", "log2", "log_softmax", "logsumexp",
    "masked_fill", "matmul", "max", "mean", "min", "mm", "movedim", "mul", "multinomial",
    "narrow", "neg", "no_grad", "numel", "ones", "ones_like", "outer", "permute",
    "promote_types", "rand", "rand_like", "randint", "randn", "randn_like", "randperm",
    "result_type", "roll", "round", "save", "set_grad_enabled", "softmax", "sort", "split",
    "stack", "std", "sub", "sum", "tensor", "tile", "topk", "transpose", "true_divide",
    "unbind", "unsqueeze", "var", "zeros", "zeros_like",
    # logic.py, statistics.py, scatter_gather.py
    "all", "any", "eq", "ge", "gt", "is_nonzero", "isclose", "isin", "le", "lt", "ne",
    "signbit", "rsqrt", "t", "argwhere", "index_add", "index_copy", "index_fill",
    "masked_scatter", "masked_select", "nonzero", "repeat_interleave", "scatter",
    "scatter_add", "take", "take_along_dim", "unique", "bincount", "cummax", "cummin",
    "cumprod", "diff", "histc", "kthvalue", "logcumsumexp", "median", "mode", "nanmean",
    "nansum", "norm", "prod", "quantile", "trace", "nanmedian", "nanquantile",
    "scatter_reduce", "unique_consecutive", "real", "imag", "conj", "conj_physical",
    "resolve_conj", "resolve_neg", "is_conj",
    # elementwise.py, linalg.py, shaping.py; the namespaces torch.linalg, torch.special
    "acos", "acosh", "addcdiv", "addcmul", "asin", "asinh", "atan", "atanh", "copysign",
    "cosh", "deg2rad", "erfc", "exp2", "float_power", "fmax", "fmin", "frac", "heaviside", "hypot",
    "logaddexp", "logaddexp2", "logit", "nan_to_num", "rad2deg", "reciprocal", "sgn", "sinh",
    "tan", "trunc", "xlogy", "arcsin", "arccos", "arctan", "fix", "addmv", "baddbmm",
    "cdist", "det", "ger", "inner", "inverse", "logdet", "mv", "slogdet", "tensordot",
    "chain_matmul", "cholesky", "matrix_power", "pinverse", "qr", "is_floating_point",
    "is_complex",
    "atleast_1d", "atleast_2d", "atleast_3d", "block_diag", "broadcast_tensors",
    "cartesian_prod", "column_stack", "combinations", "cross", "diagonal", "dstack",
    "fliplr", "flipud", "hstack", "kron", "meshgrid", "moveaxis", "ravel", "rot90",
    "row_stack", "split_with_sizes", "swapdims", "swapaxes", "tensor_split", "vstack",
    "hsplit", "vsplit", "dsplit", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
    "bitwise_left_shift", "bitwise_right_shift", "sign", "equal", "normal", "bernoulli",
    "diag_embed", "tril_indices", "triu_indices", "dist", "logspace", "get_rng_state",
    "set_rng_state", "aminmax", "std_mean", "var_mean", "gcd", "lcm", "nextafter", "sinc",
    "isposinf", "isneginf",
    "where", "fft", "linalg", "serialization", "special", "digamma", "erfinv", "i0", "lgamma", "bucketize", "can_cast", "searchsorted", "set_default_dtype",
]
__all__ += _aliases.__all__ + [
    "set_printoptions", "initial_seed", "seed", "asarray", "bartlett_window", "blackman_window",
    "hamming_window", "hann_window", "kaiser_window", "randint_like", "scalar_tensor",
    "diagflat", "rsub", "vdot", "are_deterministic_algorithms_enabled",
    "get_float32_matmul_precision", "get_num_interop_threads",
    "is_deterministic_algorithms_warn_only_enabled", "set_float32_matmul_precision",
    "set_num_interop_threads", "use_deterministic_algorithms", "broadcast_shapes",
    "is_same_size"]
