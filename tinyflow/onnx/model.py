"""A lowered `Program` as an ONNX model: feeds become graph inputs, variables, eager
tensors and constants become initializers, each step becomes the nodes its converter
writes, and each fetch an output (through Identity, so it can carry the user's name)."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from .builder import MIN_OPSET, Builder, onnx_type
from .convert import CONVERTERS


def to_model(program, inputs: list, output_names: list, dynamic_axes: dict, opset: int,
             variable_value, eager_names: dict, unsupported) -> onnx.ModelProto:
    """Convert `program`, whose feeds are `inputs` [(name, shape, dtype)] in order;
    `variable_value(var)` gives a TF1 variable's array, `eager_names` {id(tensor): name}
    names parameters; a step no converter takes raises `unsupported` naming the op and the
    graph node."""
    if opset < MIN_OPSET:
        raise ValueError(f"ONNX export needs opset {MIN_OPSET} or later, got {opset}")
    b = Builder(opset)
    input_names = [name for name, _, _ in inputs]
    for name in input_names + list(output_names):
        b.reserve(name)
    names = {}          # slot -> ONNX value name
    for slot, ext in sorted(program.externals.items()):
        if ext.kind == "feed":
            name = input_names[ext.ref]
            b.declare(name, ext.shape, ext.dtype)
            names[slot] = name
        else:
            value = _value(ext, variable_value)
            hint = eager_names.get(id(ext.ref)) or ext.name or f"const_{slot}"
            names[slot] = b.initializer(np.asarray(value, ext.dtype.np), hint)
    graph_inputs = [_value_info(name, shape, dtype, dynamic_axes.get(name, {}), True)
                    for name, shape, dtype in inputs]
    for step in program.steps:
        convert = CONVERTERS.get(type(step.op))
        where = f"op {step.op.name or '?'!r} ({type(step.op).__name__}) at graph node " \
                f"{step.name or '(unnamed)'}"
        if convert is None:
            raise unsupported(f"ONNX export: no ONNX conversion for {where}; the ops that "
                              f"export are listed in tinyflow.onnx.supported_ops()")
        try:
            out = convert(b, step, [names[i] for i in step.inputs])
        except (ValueError, TypeError) as e:
            raise unsupported(f"ONNX export: cannot convert {where}: {e}") from None
        if out not in b.types:   # else an existing value (a shared constant, an input)
            b.declare(out, step.shape, step.dtype)
        names[step.output] = out
    outputs = []
    for slot, name in zip(program.fetches, output_names):
        b.node("Identity", [names[slot]], out=name)
        shape, dtype = program.value_of(slot)
        outputs.append(_value_info(name, shape, dtype, dynamic_axes.get(name, {}), False))
    graph = b.graph("tinyflow", graph_inputs, outputs)
    model = helper.make_model(graph, producer_name="tinyflow",
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = helper.find_min_ir_version_for(list(model.opset_import))
    return model


def _value(ext, variable_value):
    if ext.kind == "variable":
        return variable_value(ext.ref)
    if ext.kind == "eager":
        return ext.ref.array
    return ext.ref    # "const": the value itself


def _value_info(name: str, shape, dtype, dims: dict, is_input: bool):
    """A typed graph input/output; unknown dims named from `dynamic_axes`, else by
    position for inputs (so two inputs' batch dims are not claimed equal)."""
    if shape is not None:
        shape = [dims.get(d, (f"{name}_dim{d}" if is_input else None) if n is None else n)
                 for d, n in enumerate(shape)]
    return helper.make_tensor_value_info(name, onnx_type(dtype), shape)
