"""PyTorch's dims of a 0-d tensor: `torch.tensor(3.).sum(0)`, `.max(-1)`, `.softmax(0)`,
`.cumsum(0)`, `.flip(0)` all work, as if the scalar were a 1-element vector (dims -1 and 0);
the result is 0-d, also with keepdim=True.

TF1 refuses an axis on a scalar (its reduce_sum raises), and so do the ops; only the
PyTorch front end's functions are wrapped here, at registration (`scalar_dims`), so the
functions themselves stay the plain, fast ones for every tensor with dims.
"""
from __future__ import annotations

import functools

from .. import ops
from ..core.tensor import Tensor

# the functions whose dim argument a 0-d tensor accepts, by name (methods and torch.*)
NAMES = ("sum", "mean", "max", "min", "amax", "amin", "argmax", "argmin", "softmax",
         "log_softmax", "cumsum", "cumprod", "logsumexp", "flip", "norm", "std", "var",
         "prod", "all", "any", "median", "nansum", "nanmean", "count_nonzero", "cummax",
         "cummin", "logcumsumexp", "kthvalue", "mode", "aminmax", "std_mean", "var_mean",
         "nanmedian")
# where dim comes positionally when it is not the first argument: norm(p, dim), kthvalue(k, dim)
DIM_POSITION = {"norm": 1, "kthvalue": 1}
# the ones whose dim defaults to -1 (not to all dims): `torch.tensor(3.).mode()` works too
DIM_DEFAULT_LAST = ("kthvalue", "mode")


def _dim_of(args, kwargs, dim_name, position):
    """(the dim given, where it was given) or (None, None)."""
    for name in (dim_name, "dims"):   # flip(dims=...)
        if name in kwargs:
            return kwargs[name], name
    if len(args) > position and (isinstance(args[position], int)
                                 and not isinstance(args[position], bool)
                                 or isinstance(args[position], (tuple, list))):
        return args[position], position
    return None, None


def _check(dim) -> None:
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    for d in dims:
        if not -1 <= d <= 0:
            raise IndexError(f"dim {d} is out of range for a 0-D tensor (use 0 or -1)")
    if len(dims) > 1:   # 0 and -1 name the one dim a 0-d tensor is read with: a repeat
        raise RuntimeError(f"dims {tuple(dims)} name dim 0 of a 0-D tensor "
                           f"{len(dims)} times (0 and -1 are the same dim); give it once")


def _scalar(result):
    if isinstance(result, Tensor):
        return ops.reshape(result, ())
    if isinstance(result, tuple):   # (values, indices) named tuples
        return type(result)(*(_scalar(r) for r in result))
    return result


def scalar_dims(function, dim_name: str = "dim", position: int = 0,
                default_last: bool = False):
    """`function(x, dim, ...)` that also takes dim 0 or -1 (or a tuple of them) on a 0-d x;
    `position`: dim's index among the positional arguments after x."""
    @functools.wraps(function)
    def call(x, *args, **kwargs):
        if (type(x) is not Tensor and not isinstance(x, Tensor)   # (Parameter: a subclass)
                or x.shape or x.shape is None):   # a tensor with dims, the common case
            # (`loss.sum()`: a plain call, which CPython runs without unpacking anything)
            return function(x, *args, **kwargs) if args or kwargs else function(x)
        dim, where = _dim_of(args, kwargs, dim_name, position)
        if where is None and default_last:
            dim, where = -1, dim_name
        if where is None or dim is None or isinstance(dim, (tuple, list)) and not dim:
            return function(x, *args, **kwargs)
        _check(dim)
        if isinstance(where, str):
            kwargs = dict(kwargs, **{where: (0,) if where == "dims" else 0})
        else:
            args = args[:where] + (0,) + args[where + 1:]
        return _scalar(function(ops.reshape(x, (1,)), *args, **kwargs))
    return call


def wrap_table(table: dict) -> dict:
    """A METHODS table with the functions named in NAMES wrapped by `scalar_dims`."""
    return {name: _wrapped(name, fn) if name in NAMES else fn for name, fn in table.items()}


def _wrapped(name: str, function):
    if getattr(function, "scalar_dims", False):   # it takes them itself (pytorch/reduce.py)
        return function
    return scalar_dims(function, position=DIM_POSITION.get(name, 0),
                       default_last=name in DIM_DEFAULT_LAST)


def wrap_namespace(namespace: dict) -> None:
    """The torch.* functions named in NAMES, wrapped in place (pytorch/__init__.py)."""
    for name in NAMES:
        if callable(namespace.get(name)):
            namespace[name] = _wrapped(name, namespace[name])
