"""The op registry and `apply`, the single entry point through which every op runs."""
from __future__ import annotations

import contextlib
import threading
from typing import Optional

import numpy as np

from . import dtypes
from .errors import DTypeError, ShapeError, user_site
from .tensor import EAGER, NODE, Tensor
from ..backend.numpy.registry import KERNELS

OPS: dict[str, type] = {}


class Op:
    """What an op means: its shape rule (`infer`), reverse rule (`vjp`), forward rule (`jvp`).

    Subclasses set `name` and the traits the passes and autodiff read. How an op *runs* lives
    in a backend's kernel table, keyed by the op class.
    """

    name: str = ""
    elementwise = False     # output[i] depends on input[i] only (fusable)
    broadcasts = False      # inputs broadcast to the output: autodiff sums gradients back
    reduction = False
    view = False            # output may share the input's buffer
    stateful = False        # writes state or draws random numbers: never folded or merged
    differentiable = True   # False: no gradient flows through (comparisons, argmax, ...)

    def __init__(self, **attrs) -> None:
        self.__dict__.update(attrs)
        self.attrs = attrs

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            if cls.name in OPS:
                raise TypeError(f"op name {cls.name!r} registered twice")
            OPS[cls.name] = cls

    def infer(self, *inputs: Tensor):
        """Return (shape, dtype) of the output; raise ValueError/TypeError on bad input."""
        raise NotImplementedError(self.name)

    def vjp(self, g: Tensor, out: Tensor, *inputs: Tensor) -> tuple:
        """Gradients w.r.t. each input (None: none), written with tinyflow ops."""
        raise NotImplementedError(f"{self.name} has no reverse-mode rule")

    def jvp(self, tangents: tuple, out: Tensor, *inputs: Tensor) -> Optional[Tensor]:
        """Tangent of the output given input tangents (None entries are zero)."""
        raise NotImplementedError(f"{self.name} has no forward-mode rule")

    def __repr__(self) -> str:
        attrs = ", ".join(f"{k}={v!r}" for k, v in self.attrs.items())
        return f"{type(self).__name__}({attrs})"


# ---- gradient mode ---------------------------------------------------------------------

class _GradMode(threading.local):
    enabled = True


grad_mode = _GradMode()


class no_grad(contextlib.ContextDecorator):
    """Eager ops inside record no autograd history (PyTorch's `torch.no_grad`)."""

    def __init__(self, enabled: bool = False) -> None:
        self._enabled = enabled

    def __enter__(self):
        self._prev = grad_mode.enabled
        grad_mode.enabled = self._enabled

    def __exit__(self, *exc) -> None:
        grad_mode.enabled = self._prev


class enable_grad(no_grad):
    def __init__(self) -> None:
        super().__init__(True)


class set_grad_enabled(no_grad):
    def __init__(self, mode: bool) -> None:
        super().__init__(bool(mode))


def is_grad_enabled() -> bool:
    return grad_mode.enabled


# ---- apply -----------------------------------------------------------------------------

def apply(op: Op, *inputs: Tensor, name: Optional[str] = None) -> Tensor:
    """Infer the output's shape and dtype, then run the kernel (eager) or add a node."""
    try:
        shape, dtype = op.infer(*inputs)
    except (ValueError, TypeError, IndexError) as e:
        shapes = ", ".join(str(x.shape) for x in inputs)
        kinds = ", ".join(x.dtype.name for x in inputs)
        cls = DTypeError if isinstance(e, TypeError) else ShapeError
        raise cls(f"{op.name}: {e} (input shapes {shapes}; dtypes {kinds}) "
                  f"at {user_site()}") from None
    graph = None
    for x in inputs:
        if x.kind != EAGER:
            if graph is None:
                graph = x.graph
            elif x.graph is not graph:
                raise ValueError(f"{op.name}: inputs {inputs[0].name} and {x.name} belong "
                                 f"to different graphs (at {user_site()})")
    if graph is not None:
        return Tensor._symbolic(NODE, shape, dtype, op, inputs, name=name, graph=graph,
                                site=user_site())
    data = KERNELS[type(op)](op, *[x.array for x in inputs])
    if type(data) is not np.ndarray or data.dtype != dtype.np:
        data = np.asarray(data, dtype=dtype.np)
    if grad_mode.enabled and op.differentiable and any(x.requires_grad for x in inputs):
        return Tensor._eager(data, op, inputs, True)
    return Tensor._eager(data)


def as_tensor(value, dtype=None) -> Tensor:
    """Tensors pass through; arrays, lists and numbers become eager constants."""
    if isinstance(value, Tensor):
        return value
    dt = dtypes.as_dtype(dtype) if dtype is not None else None
    if dt is None and isinstance(value, float):
        dt = dtypes.DEFAULT_FLOAT
    arr = np.asarray(value, dtype=None if dt is None else dt.np)
    if dt is None and arr.dtype == np.float64 and not isinstance(value, np.ndarray):
        arr = arr.astype(np.float32)  # Python float lists default to float32
    return Tensor._eager(arr)



