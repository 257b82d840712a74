"""`torch.autograd` (functional gradients, anomaly detection, grad modes) and the autograd
methods of Tensor (`x.backward()`, `x.retain_grad()`), over the one reverse mode."""
from __future__ import annotations

import warnings
import weakref
from typing import Optional, Sequence

import numpy as np

from ..autodiff.forward import forward_gradients
from ..autodiff.reverse import backward as tensor_backward
from ..autodiff.reverse import grad_hooks, gradients
from ..autodiff.tape import FREED
from ..core.errors import implicit_seed_error
from ..core.graph import topo_sort
from ..core.modes import (detect_anomaly, enable_grad, inference_mode,  # noqa: F401
                          is_anomaly_enabled, is_grad_enabled, no_grad, set_detect_anomaly,
                          set_grad_enabled, trace_state)
from ..core.tensor import EAGER, Tensor
from ..ops.shape import stack


def _as_tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (list, tuple)) else (x,)


def grad(outputs, inputs, grad_outputs=None, retain_graph: Optional[bool] = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple:
    """Gradients of `outputs` w.r.t. `inputs`, returned rather than stored in `.grad`."""
    outputs, inputs = _as_tuple(outputs), _as_tuple(inputs)
    if trace_state.active is not None:   # (not built symbolically: eager runs it)
        trace_state.active.graph_break("torch.autograd.grad inside a compiled function")
    if grad_outputs is None:
        for y in outputs:
            if y.array.size != 1:
                raise implicit_seed_error(list(y.shape))
    for x in inputs:
        if not x.requires_grad:
            raise RuntimeError(f"grad(): an input of shape {list(x.shape)} does not require "
                               f"grad, so no gradient reaches it; set requires_grad=True on it")
    with set_grad_enabled(create_graph):
        grads = gradients(list(outputs), list(inputs),
                          None if grad_outputs is None else list(_as_tuple(grad_outputs)))
    if not allow_unused and any(g is None for g in grads):
        k = next(k for k, g in enumerate(grads) if g is None)
        raise RuntimeError(f"grad(): input {k} (shape {list(inputs[k].shape)}) is not used to "
                           f"compute the outputs, so it has no gradient; pass allow_unused=True "
                           f"to get None for it")
    retain = create_graph if retain_graph is None else retain_graph
    if not retain:
        for node in topo_sort(list(outputs)):
            if node._op is not None:
                node._saved = FREED
    if not create_graph:
        grads = [None if g is None else Tensor._eager(g.array) for g in grads]
    return tuple(grads)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
             inputs: Optional[Sequence[Tensor]] = None) -> None:
    tensors = _as_tuple(tensors)
    grads = _as_tuple(grad_tensors) if grad_tensors is not None else (None,) * len(tensors)
    for t, g in zip(tensors, grads):
        tensor_backward(t, g, retain_graph=bool(retain_graph), create_graph=create_graph,
                        inputs=inputs)


def _hook_without_grad(name: str) -> RuntimeError:
    return RuntimeError(f"{name}: the tensor does not require grad, so no gradient would "
                        f"ever reach the hook; set requires_grad=True first")


def retain_grad(x) -> None:
    """Keep the gradient of a non-leaf in `.grad` after backward."""
    if not x.requires_grad:
        raise RuntimeError("retain_grad(): the tensor does not require grad, so it gets no "
                           ".grad to keep")
    if trace_state.active is not None and x.kind != EAGER:   # (a traced backward keeps
        #                                                        only the leaves' .grad)
        trace_state.active.graph_break("retain_grad() of a traced tensor")
    x._retains_grad = True


class RemovableHandle:
    """What `register_post_accumulate_grad_hook` returns: `.remove()` takes the hook off."""

    def __init__(self, tensor: Tensor, hook) -> None:
        self.tensor, self.hook = tensor, hook

    def remove(self) -> None:
        hooks = self.tensor._post_grad_hooks or ()
        self.tensor._post_grad_hooks = tuple(h for h in hooks if h is not self.hook) or None


class GradHookHandle:
    """What `register_hook` returns: `.remove()` takes the hook off."""

    def __init__(self, key: int, hook) -> None:
        self.key, self.hook = key, hook

    def remove(self) -> None:
        hooks = grad_hooks.get(self.key)
        if hooks is not None and self.hook in hooks:
            hooks.remove(self.hook)
            if not hooks:
                del grad_hooks[self.key]


def _forget_hooks(key: int) -> None:
    grad_hooks.pop(key, None)


def register_hook(x, hook) -> GradHookHandle:
    """PyTorch's `Tensor.register_hook`: `hook(grad)` is called with x's gradient during a
    backward pass, before it is used; a tensor it returns replaces the gradient. Under
    `compile`, a graph break: the hook runs in the eager backward."""
    if x.is_symbolic and trace_state.active is not None:
        trace_state.active.graph_break("Tensor.register_hook")
    if not x.requires_grad:
        raise _hook_without_grad("register_hook")
    key = id(x)
    if key not in grad_hooks:
        grad_hooks[key] = []
        weakref.finalize(x, _forget_hooks, key)   # an id is reused once x is gone
    grad_hooks[key].append(hook)
    return GradHookHandle(key, hook)


def register_post_accumulate_grad_hook(x, hook) -> RemovableHandle:
    """Call `hook(x)` during `backward()` as soon as the leaf x's `.grad` holds its final
    value, before the rest of the sweep (DDP starts reducing a gradient bucket there)."""
    if not x.requires_grad:
        raise _hook_without_grad("register_post_accumulate_grad_hook")
    if x._op is not None:
        raise RuntimeError("register_post_accumulate_grad_hook: the tensor is not a leaf "
                           "(an op made it), and only leaves accumulate into .grad")
    x._post_grad_hooks = (x._post_grad_hooks or ()) + (hook,)
    return RemovableHandle(x, hook)


class _VariableType(type):
    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor)


class AutogradVariable(metaclass=_VariableType):
    """PyTorch's pre-0.4 wrapper, kept by old programs: `Variable(t)` is a detached alias of
    t (same data) requiring grad as asked; every tensor is a Variable; volatile is ignored,
    with PyTorch's warning."""

    def __new__(cls, data=None, requires_grad: bool = False, volatile=None):
        if volatile is not None:
            warnings.warn("Variable(volatile=...) is ignored (the flag no longer exists); "
                          "compute under `with torch.no_grad():` instead", UserWarning,
                          stacklevel=2)
        if data is None:
            data = Tensor(())
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable(data): data must be a Tensor, got "
                            f"{type(data).__name__}")
        return data.detach().requires_grad_(requires_grad)


METHODS = {"backward": tensor_backward, "retain_grad": retain_grad,
           "register_post_accumulate_grad_hook": register_post_accumulate_grad_hook,
           "register_hook": register_hook}


# ---- numerical checks and forward mode as functions --------------------------------------
class GradcheckError(RuntimeError):
    """`torch.autograd.gradcheck` found an analytical Jacobian that differs from the
    finite-difference one (PyTorch's class of the same name, a RuntimeError)."""


def _outputs_of(func, inputs: tuple) -> tuple:
    out = func(*inputs)
    return tuple(t for t in _as_tuple(out) if isinstance(t, Tensor))


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, fast_mode: bool = False, **options) -> bool:
    """PyTorch's `gradcheck`: compare the reverse-mode Jacobian of `func` at `inputs` with
    central finite differences (step `eps`), for every input that requires grad and every
    floating output. True if all agree to `atol + rtol * |numerical|`; else GradcheckError
    naming the output and input (or False with raise_exception=False). Inputs should be
    float64, as in PyTorch: float32 differences are too coarse for the default tolerances.
    """
    inputs = _as_tuple(inputs)
    wrt = [k for k, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check; "
                         "set requires_grad=True on the inputs to check")
    for k in wrt:
        if inputs[k].dtype.name != "float64":
            import warnings
            warnings.warn(f"gradcheck: input {k} is {inputs[k].dtype.name}; finite "
                          f"differences are only accurate enough in float64, so the check "
                          f"may fail: pass .double() inputs", stacklevel=2)
    with enable_grad():
        outputs = _outputs_of(func, inputs)
    for j, y in enumerate(outputs):
        if not y.dtype.is_floating:
            continue
        for k in wrt:
            analytical = _analytical_jacobian(y, inputs[k])
            numerical = _numerical_jacobian(func, inputs, j, k, eps)
            if not np.allclose(analytical, numerical, rtol=rtol, atol=atol):
                if not raise_exception:
                    return False
                raise GradcheckError(f"gradcheck: the gradient of output {j} w.r.t. input "
                                     f"{k} differs from finite differences;\nnumerical:"
                                     f"{numerical}\nanalytical:{analytical}\n")
    return True


def _analytical_jacobian(y: Tensor, x: Tensor) -> np.ndarray:
    """Rows: elements of x; columns: elements of y (PyTorch's layout), by one reverse sweep
    per output element."""
    jac = np.zeros((x.numel(), y.numel()))
    if not y.requires_grad:
        return jac
    for i in range(y.numel()):
        seed = np.zeros(y.numel(), y.dtype.np)
        seed[i] = 1
        (g,) = grad(y, x, Tensor._eager(seed.reshape(y.shape)), retain_graph=True,
                    allow_unused=True)
        if g is not None:
            jac[:, i] = np.asarray(g.array, np.float64).reshape(-1)
    return jac


def _numerical_jacobian(func, inputs: tuple, j: int, k: int, eps: float) -> np.ndarray:
    """Central differences of output j in each element of input k, perturbed in place."""
    x = inputs[k].array
    flat = x.reshape(-1)   # a view: x is an eager leaf's own buffer
    columns = []
    with no_grad():
        for i in range(flat.size):
            orig = flat[i]
            flat[i] = orig + eps
            plus = np.asarray(_outputs_of(func, inputs)[j].array, np.float64).reshape(-1)
            flat[i] = orig - eps
            minus = np.asarray(_outputs_of(func, inputs)[j].array, np.float64).reshape(-1)
            flat[i] = orig
            columns.append((plus - minus) / (2 * eps))
    return np.array(columns).reshape(flat.size, -1)


def jvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False) -> tuple:
    """`torch.autograd.functional.jvp`: (func(inputs), J v) by forward mode."""
    inputs = _as_tuple(inputs)
    if v is None:
        if any(x.numel() != 1 for x in inputs):
            raise RuntimeError(f"jvp: v is needed (it may be left out only for one "
                               f"one-element input), inputs have shapes "
                               f"{[list(x.shape) for x in inputs]}")
        v = tuple(Tensor._eager(np.ones(x.shape, x.dtype.np)) for x in inputs)
    v = _as_tuple(v)
    if len(v) != len(inputs):
        raise RuntimeError(f"jvp: v has {len(v)} tensors for {len(inputs)} inputs")
    for x, t in zip(inputs, v):
        if tuple(t.shape) != tuple(x.shape):
            raise RuntimeError(f"jvp: the tangent of shape {list(t.shape)} does not match its "
                               f"input of shape {list(x.shape)}")
    primals = tuple(Tensor._eager(x.array.copy(), requires_grad=True) for x in inputs)
    with enable_grad():
        out = func(*primals)
        outs = _as_tuple(out)
        tangents = forward_gradients(list(outs), list(primals), list(v))
    tangents = [Tensor._eager(np.zeros(y.shape, y.dtype.np)) if t is None else t.detach()
                for y, t in zip(outs, tangents)]
    detached = tuple(y.detach() for y in outs)
    if isinstance(out, (list, tuple)):
        return detached, tuple(tangents)
    return detached[0], tangents[0]


def _primals(inputs: tuple, create_graph: bool) -> tuple:
    """The inputs to differentiate at: fresh leaves, or (create_graph, inside another
    derivative) the tensors themselves so the outer one sees through."""
    return tuple(x if create_graph and x.requires_grad else
                 Tensor._eager(x.array.copy(), requires_grad=True) for x in inputs)


def _grads_or_zeros(output, primals, cotangent, create_graph):
    with enable_grad():
        found = gradients([output], list(primals), None if cotangent is None else [cotangent])
    return tuple(Tensor._eager(np.zeros(x.shape, x.dtype.np)) if g is None else
                 (g if create_graph else g.detach()) for g, x in zip(found, primals))


def vjp_of(func, inputs, v=None, create_graph: bool = False, strict: bool = False) -> tuple:
    """`torch.autograd.functional.vjp`: (func(inputs), v^T J), shaped as the inputs."""
    primals = _primals(_as_tuple(inputs), create_graph)
    with enable_grad():
        out = func(*primals)
    if v is None and out.numel() != 1:
        raise RuntimeError(f"vjp: v is needed (it may be left out only when func returns "
                           f"one element), func returned shape {list(out.shape)}")
    grads = _grads_or_zeros(out, primals, v, create_graph)
    return (out if create_graph else out.detach(),
            grads if isinstance(inputs, (list, tuple)) else grads[0])


def jacobian(func, inputs, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode"):
    """`torch.autograd.functional.jacobian`: one reverse sweep per output element; each
    block is shaped output.shape + input.shape, nested as torch's (per output, per input)."""
    primals = _primals(_as_tuple(inputs), create_graph)
    with enable_grad():
        out = func(*primals)
    blocks = []
    for y in _as_tuple(out):
        flat = y.reshape(-1)
        rows = [_grads_or_zeros(flat[i], primals, None, create_graph)
                for i in range(flat.shape[0])]
        per_input = []
        for k, x in enumerate(primals):
            stacked = (stack([r[k] for r in rows]) if rows else
                       Tensor._eager(np.zeros((0,) + tuple(x.shape), x.dtype.np)))
            per_input.append(stacked.reshape(tuple(y.shape) + tuple(x.shape)))
        blocks.append(tuple(per_input) if isinstance(inputs, (list, tuple)) else per_input[0])
    return tuple(blocks) if isinstance(out, (list, tuple)) else blocks[0]


def hessian(func, inputs, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode"):
    """`torch.autograd.functional.hessian` of a scalar function: the Jacobian of its
    gradient."""
    def gradient(*xs):
        return jacobian(func, xs if isinstance(inputs, (list, tuple)) else xs[0],
                        create_graph=True)
    return jacobian(gradient, inputs, create_graph=create_graph)


def hvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False) -> tuple:
    """`torch.autograd.functional.hvp`: (func(inputs), H v) (H symmetric: also v^T H, vhp)."""
    many = isinstance(inputs, (list, tuple))
    primals = _primals(_as_tuple(inputs), True)
    with enable_grad():
        out = func(*primals)
        first = _grads_or_zeros(out, primals, None, True)
        inner = None
        for g, t in zip(first, _as_tuple(v)):
            term = (g * t).sum()
            inner = term if inner is None else inner + term
    second = _grads_or_zeros(inner, primals, None, create_graph)
    return out.detach(), second if many else second[0]


class functional:  # noqa: N801  (torch.autograd.functional namespace)
    jvp = staticmethod(jvp)
    vjp = staticmethod(vjp_of)
    jacobian = staticmethod(jacobian)
    hessian = staticmethod(hessian)
    hvp = staticmethod(hvp)
    vhp = staticmethod(hvp)
