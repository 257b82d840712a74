"""`torch.autograd` (functional gradients, anomaly detection, grad modes) and the autograd
methods of Tensor (`x.backward()`, `x.retain_grad()`), over the one reverse mode."""
from __future__ import annotations

from typing import Optional, Sequence

from ..autodiff.reverse import backward as tensor_backward
from ..autodiff.reverse import gradients
from ..autodiff.tape import FREED
from ..core.graph import topo_sort
from ..core.modes import (detect_anomaly, enable_grad, is_anomaly_enabled,  # noqa: F401
                          is_grad_enabled, no_grad, set_detect_anomaly, set_grad_enabled)
from ..core.tensor import Tensor

inference_mode = no_grad


def _as_tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (list, tuple)) else (x,)


def grad(outputs, inputs, grad_outputs=None, retain_graph: Optional[bool] = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple:
    """Gradients of `outputs` w.r.t. `inputs`, returned rather than stored in `.grad`."""
    outputs, inputs = _as_tuple(outputs), _as_tuple(inputs)
    if grad_outputs is None:
        for y in outputs:
            if y.array.size != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs, "
                                   f"got shape {list(y.shape)}")
    for x in inputs:
        if not x.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    with set_grad_enabled(create_graph):
        grads = gradients(list(outputs), list(inputs),
                          None if grad_outputs is None else list(_as_tuple(grad_outputs)))
    if not allow_unused and any(g is None for g in grads):
        raise RuntimeError("One of the differentiated Tensors appears to not have been used in "
                           "the graph. Set allow_unused=True if this is the desired behavior.")
    retain = create_graph if retain_graph is None else retain_graph
    if not retain:
        for node in topo_sort(list(outputs)):
            if node.op is not None:
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


def retain_grad(x) -> None:
    """Keep the gradient of a non-leaf in `.grad` after backward."""
    if not x.requires_grad:
        raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
    x._retains_grad = True


METHODS = {"backward": tensor_backward, "retain_grad": retain_grad}
