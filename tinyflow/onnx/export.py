"""ONNX export of inference graphs, from either front end.

TF1: `export(sess, outputs, inputs, f)` exports the part of the session's graph that the
outputs need given the inputs, with the variables' current values in the session.
PyTorch: `export(model, args, f, input_names=, output_names=, dynamic_axes=)` calls the
model (in eval mode) on placeholders shaped like `args`, as `torch.onnx.export` traces it:
eager parameters become leaves the graph references, exported with their current values.

Both lower the graph with `passes.lower` (the compiler's IR) and convert it step by step
(`convert.py`). The program exported is the one written, unoptimized; `optimize=True`
exports it after the graph rewrites instead (`passes.optimize`).
"""
from __future__ import annotations

import io
import os
from typing import Optional

import numpy as np

from ..core.errors import FeedError, TinyflowError, UninitializedVariableError
from ..core.graph import Graph
from ..core.pytree import tree_flatten
from ..core.tensor import Tensor
from ..io.atomic import atomic_path
from ..passes import lower, optimize as run_rewrites
from ..symbolic import Session, placeholder

DEFAULT_OPSET = 17


class UnsupportedOpError(TinyflowError, NotImplementedError):
    """A step of the graph that has no ONNX equivalent (or not with these attributes)."""


def export(model, *args, **kwargs):
    """`export(sess, outputs, inputs, f, ...)` for a TF1 session (see `export_graph`), or
    `export(model, args, f, ...)` for a module or function (see `export_module`)."""
    if isinstance(model, Session):
        return export_graph(model, *args, **kwargs)
    return export_module(model, *args, **kwargs)


def export_graph(sess: Session, outputs, inputs, f=None, *, output_names=None,
                 dynamic_axes: Optional[dict] = None, opset: int = DEFAULT_OPSET,
                 optimize: bool = False):
    """Export the graph computing `outputs` from `inputs` to `f`; returns the ModelProto.

    Args:
        outputs: a tensor (or tensor name), a list of them, or a {name: tensor} dict.
        inputs: a placeholder, a list of them (named as in the graph), or {name: placeholder}.
        f: a path (written atomically) or a binary file object; None writes nothing.
        output_names: names of the outputs in the file (default: the tensors' names).
        dynamic_axes: {input or output name: {axis: dim name} or [axes]} to name dims; the
            None dims of placeholders are dynamic whether named or not.
        opset: the ONNX opset (13 or later).
        optimize: export the program after the graph rewrites, not as written.
    """
    input_names, feed_keys = _named(inputs, sess.graph, "inputs")
    default_names, fetches = _named(outputs, sess.graph, "outputs")

    def value_of(tensor: Tensor) -> np.ndarray:
        try:
            return sess.variables[tensor]
        except KeyError:
            raise UninitializedVariableError(
                f"ONNX export: variable {tensor.name} has no value in this session: run its "
                f"initializer (tf.global_variables_initializer()) first") from None

    return _export(fetches, feed_keys, input_names, output_names or default_names, f,
                   dynamic_axes, opset, optimize, value_of, {})


def export_module(model, args, f=None, *, input_names=None, output_names=None,
                  dynamic_axes: Optional[dict] = None, opset_version: Optional[int] = None,
                  opset: Optional[int] = None, optimize: bool = False, kwargs=None):
    """`torch.onnx.export`: trace `model(*args)` on placeholders and export the result.

    Args:
        model: an `nn.Module` (exported in eval mode; its mode is restored) or a function.
        args: example inputs (a tensor or array, or a tuple of them): their dtypes and
            shapes, except the dims named in `dynamic_axes`, which may vary at run time.
        f: a path (written atomically) or a binary file object; None writes nothing.
        input_names, output_names: names in the file (default input_0.., output_0..; a
            single one is "input" / "output").
        dynamic_axes: {name: {axis: dim name} or [axes]}: dims left free in the model.
        opset_version (or opset): the ONNX opset (13 or later; default 17).
        optimize: export the program after the graph rewrites, not as written.
        kwargs: keyword arguments for the model's call.
    """
    args = args if isinstance(args, tuple) else (args,)
    arrays = [a.numpy(force=True) if isinstance(a, Tensor) else np.asarray(a)
              for a in args]
    input_names = list(input_names or _default_names("input", len(arrays)))
    if len(input_names) != len(arrays):
        raise ValueError(f"ONNX export: {len(input_names)} input_names for {len(arrays)} args")
    dynamic_axes = _dynamic_axes(dynamic_axes)
    graph = Graph()
    with graph.as_default():
        feed_keys = [placeholder(a.dtype, [None if d in dynamic_axes.get(name, {}) else n
                                           for d, n in enumerate(a.shape)], name=name)
                     for name, a in zip(input_names, arrays)]
        with _eval_mode(model):
            result = model(*feed_keys, **(kwargs or {}))
    fetches = [t for t in tree_flatten(result)[0] if t is not None]
    output_names = list(output_names or _default_names("output", len(fetches)))
    if len(output_names) != len(fetches):
        raise ValueError(f"ONNX export: {len(output_names)} output_names for the model's "
                         f"{len(fetches)} outputs")
    names = {}
    if hasattr(model, "named_parameters"):
        names = {id(t): n for n, t in list(model.named_parameters()) +
                 list(model.named_buffers()) if t is not None}
    return _export(fetches, feed_keys, input_names, output_names, f, dynamic_axes,
                   opset_version or opset or DEFAULT_OPSET, optimize, None, names)


# ---- the shared part -------------------------------------------------------------------

def _export(fetches, feed_keys, input_names, output_names, f, dynamic_axes, opset, optimize,
            variable_value, eager_names):
    try:
        from .model import to_model
    except ImportError as e:
        raise ImportError(f"ONNX export needs the onnx package (pip install onnx): {e}") from None
    try:
        program = lower(list(fetches), tuple(feed_keys))
    except FeedError as e:
        raise FeedError(f"ONNX export: {e}; list it in the inputs") from None
    if optimize:
        program = run_rewrites(program)
    inputs = [(name, k.shape, k.dtype) for name, k in zip(input_names, feed_keys)]
    model = to_model(program, inputs, list(output_names),
                     _dynamic_axes(dynamic_axes), opset, variable_value, eager_names,
                     UnsupportedOpError)
    if f is not None:
        _write(model.SerializeToString(), f)
    return model


def _write(data: bytes, f) -> None:
    if isinstance(f, (str, os.PathLike)):
        with atomic_path(os.fspath(f), suffix=".onnx") as tmp:
            with open(tmp, "wb") as out:
                out.write(data)
    elif isinstance(f, io.IOBase) or hasattr(f, "write"):
        f.write(data)
    else:
        raise TypeError(f"ONNX export: f must be a path or a binary file, got {type(f).__name__}")


def _named(spec, graph: Graph, what: str) -> tuple:
    """(names, tensors) from a tensor or name, a list of them, or a {name: tensor} dict."""
    if isinstance(spec, dict):
        items = list(spec.items())
    else:
        items = [(None, t) for t in (spec if isinstance(spec, (list, tuple)) else [spec])]
    names, tensors = [], []
    for name, t in items:
        if isinstance(t, str):
            t = graph.get_tensor_by_name(t)
        if not isinstance(t, Tensor):
            raise TypeError(f"ONNX export: {what} must be tensors or tensor names, got "
                            f"{type(t).__name__}")
        names.append(name if name is not None else (t.name or "value").split(":")[0])
        tensors.append(t)
    return names, tensors


def _default_names(prefix: str, n: int) -> list:
    return [prefix] if n == 1 else [f"{prefix}_{i}" for i in range(n)]


def _dynamic_axes(spec) -> dict:
    """{name: {axis: dim name}}; a list of axes gets torch's names, name_dynamic_axes_k."""
    out = {}
    for name, axes in (spec or {}).items():
        if isinstance(axes, dict):
            out[name] = {int(a): str(d) for a, d in axes.items()}
        else:
            out[name] = {int(a): f"{name}_dynamic_axes_{k + 1}" for k, a in enumerate(axes)}
    return out




class _eval_mode:
    """Run a module in eval mode (dropout off, batch norm on running statistics), then give
    every submodule its own mode back."""

    def __init__(self, model) -> None:
        self.modules = list(model.modules()) if hasattr(model, "modules") else []

    def __enter__(self):
        self.modes = [m.training for m in self.modules]
        for m in self.modules:
            m.training = False

    def __exit__(self, *exc):
        for m, mode in zip(self.modules, self.modes):
            m.training = mode
