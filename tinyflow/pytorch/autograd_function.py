"""`torch.autograd.Function`: a user's forward and backward (static methods over tensors),
applied with `MyFunction.apply(*args)`. The forward runs outside autograd; each tensor it
returns is wrapped in a `custom_function` op (ops/custom.py) whose gradient rule calls the
user's backward, so custom gradients (straight-through estimators, stable formulas) work in
eager code, under `tinyflow.compile`, in TF1 graphs and, with `create_graph=True`, twice."""
from __future__ import annotations

import inspect

from ..core.errors import overwritten_error
from ..core.modes import grad_mode, no_grad
from ..core.op import apply
from ..core.tensor import EAGER, Tensor
from ..ops.creation import zeros_like
from ..ops.custom import CustomFunction


class FunctionCtx:
    """The `ctx` a Function's forward stores into and its backward reads."""

    def __init__(self, needs_input_grad: tuple) -> None:
        self.needs_input_grad = needs_input_grad
        self._saved: tuple = ()       # (tensor, its version when saved) pairs
        self.materialize_grads = True
        self.non_differentiable: set = set()
        self.dirty: tuple = ()

    def save_for_backward(self, *tensors) -> None:
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save tensors (or None), got "
                                f"{type(t).__name__}; keep other values as ctx attributes")
        self._saved = tuple((t, t._version[0] if t is not None and t._version else None)
                            for t in tensors)

    @property
    def saved_tensors(self) -> tuple:
        """The saved tensors, refused (as PyTorch) if one was written in place since it was
        saved: the user's backward would read the new values and give a wrong gradient."""
        for t, version in self._saved:
            if version is not None and t._version[0] != version:
                raise overwritten_error("a tensor of save_for_backward", t, version)
        return tuple(t for t, _ in self._saved)

    def save_for_forward(self, *tensors) -> None:
        self.saved_for_forward = tensors

    def mark_non_differentiable(self, *outputs) -> None:
        self.non_differentiable.update(id(t) for t in outputs)

    def mark_dirty(self, *tensors) -> None:
        self.dirty = tensors

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = bool(value)


class _Call:
    """One `apply`: what the op's gradient rules need to call the user's backward and jvp."""

    def __init__(self, function: type, ctx: FunctionCtx, args: tuple, outputs: tuple) -> None:
        self.function, self.ctx, self.args, self.outputs = function, ctx, args, outputs
        self.tensor_positions = [k for k, a in enumerate(args) if isinstance(a, Tensor)]

    @property
    def label(self) -> str:
        return f"{self.function.__name__}Backward"

    def backward(self, index: int, g: Tensor) -> list:
        """Gradients for the tensor arguments given the gradient of output `index`."""
        grads_out = [g if k == index else
                     (zeros_like(o) if self.ctx.materialize_grads else None)
                     if isinstance(o, Tensor) else None for k, o in enumerate(self.outputs)]
        got = self.function.backward(self.ctx, *grads_out)
        got = got if isinstance(got, tuple) else (got,)
        n = len(self.args)
        if len(got) < n or any(x is not None for x in got[n:]):
            raise RuntimeError(f"{self.label}: backward returned {len(got)} gradients for "
                               f"{n} forward inputs; return one per input (None for "
                               f"non-tensors)")
        for k, (arg, grad) in enumerate(zip(self.args, got)):
            if grad is None:
                continue
            if not isinstance(arg, Tensor):
                raise RuntimeError(f"{self.label}: backward returned a gradient for input "
                                   f"{k}, a {type(arg).__name__}, not a Tensor; return None "
                                   f"there")
            if isinstance(grad, Tensor) and grad.shape is not None and arg.shape is not None \
                    and tuple(grad.shape) != tuple(arg.shape):
                raise RuntimeError(f"{self.label}: backward returned a gradient of shape "
                                   f"{list(grad.shape)} for input {k} of shape "
                                   f"{list(arg.shape)}; they must match")
        return [_own(got[k]) for k in self.tensor_positions]

    def jvp(self, index: int, tangents: tuple):
        rule = getattr(self.function, "jvp", None)
        if rule is None or rule is Function.jvp:
            raise NotImplementedError(f"{self.function.__name__} has no jvp staticmethod: "
                                      f"forward-mode AD through it is not defined")
        per_arg = [None] * len(self.args)
        for k, t in zip(self.tensor_positions, tangents):
            per_arg[k] = t
        out = rule(self.ctx, *per_arg)
        return (out if isinstance(out, tuple) else (out,))[index]


def _own(grad):
    """A gradient the user's backward returned, as a fresh array when it is a plain eager
    tensor: it may be one the user keeps (a global, a saved input), and `.grad` accumulates
    into its array in place on the next backward."""
    if isinstance(grad, Tensor) and grad.kind == EAGER and not grad.requires_grad:
        return Tensor._eager(grad.array.copy())
    return grad


class Function:
    """Subclass with `forward(ctx, *args)` and `backward(ctx, *grad_outputs)` static methods
    (or `forward(*args)` with `setup_context(ctx, inputs, output)`), then call `.apply`."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("autograd.Function subclass has no forward: define "
                                  "forward as a staticmethod")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("autograd.Function subclass has no backward (or vjp): "
                                  "define one to differentiate it by backward()")

    vjp = backward

    @staticmethod
    def jvp(ctx, *grad_inputs):
        raise NotImplementedError("autograd.Function subclass has no jvp: define one to "
                                  "differentiate it in forward mode")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("autograd.Function subclass has no setup_context")

    def __init__(self, *args, **kwargs) -> None:
        raise RuntimeError(f"{type(self).__name__}: custom autograd.Function classes are used "
                           f"through their static apply: {type(self).__name__}.apply(...)")

    @classmethod
    def apply(cls, *args, **kwargs):
        if kwargs:
            args = _bind(cls, args, kwargs)
        tensors = [a for a in args if isinstance(a, Tensor)]
        symbolic = any(t.kind != EAGER for t in tensors)
        recording = symbolic or grad_mode.enabled and any(t.requires_grad for t in tensors)
        ctx = FunctionCtx(tuple(isinstance(a, Tensor) and (symbolic or a.requires_grad)
                                and recording for a in args))
        with no_grad():
            if cls.setup_context is Function.setup_context:
                output = cls.forward(ctx, *args)
            else:
                output = cls.forward(*args)
                cls.setup_context(ctx, args, output)
        if ctx.dirty and recording:
            raise NotImplementedError(
                f"{cls.__name__}: ctx.mark_dirty (a forward that modifies its input in place) "
                f"is not supported under autograd here; return a new tensor instead")
        if not recording:
            return output
        outputs = output if isinstance(output, tuple) else (output,)
        call = _Call(cls, ctx, args, outputs)
        wrapped = tuple(
            apply(CustomFunction(call=call, index=k), o, *tensors)
            if isinstance(o, Tensor) and id(o) not in ctx.non_differentiable else o
            for k, o in enumerate(outputs))
        return wrapped if isinstance(output, tuple) else wrapped[0]


def _bind(cls, args: tuple, kwargs: dict) -> tuple:
    """Keyword arguments of apply placed by the forward's signature (ctx excluded)."""
    params = list(inspect.signature(cls.forward).parameters)
    if cls.setup_context is Function.setup_context:
        params = params[1:]
    bound = list(args)
    for name in params[len(args):]:
        if name not in kwargs:
            break
        bound.append(kwargs.pop(name))
    if kwargs:
        raise TypeError(f"{cls.__name__}.apply got unexpected keyword arguments "
                        f"{sorted(kwargs)}")
    return tuple(bound)


def once_differentiable(backward):
    """PyTorch's decorator for a backward that cannot itself be differentiated; here the
    backward's ops are recorded under create_graph as any others, so it changes nothing."""
    return backward
