"""The ONNX graph under construction: nodes, initializers, unique value names, the static
type of every value a converter may ask about, and the small opset-aware helpers
(constants, casts, reductions, squeeze/unsqueeze) that converters share."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..core import dtypes

MIN_OPSET = 13   # Squeeze, Unsqueeze and ReduceSum take their axes as an input from here on


def onnx_type(dtype) -> int:
    """The ONNX element type of a tinyflow DType (or NumPy dtype)."""
    return helper.np_dtype_to_tensor_dtype(np.dtype(getattr(dtype, "np", dtype)))


class Builder:
    """Collects one ONNX graph. Converters add nodes with `node`, constants with `const`,
    and read their inputs' static (shape, dtype) with `shape` / `dtype`."""

    def __init__(self, opset: int) -> None:
        self.opset = opset
        self.nodes: list = []
        self.initializers: dict = {}   # name -> array, written if a node reads it
        self.types: dict = {}      # value name -> (static shape or None, tinyflow DType)
        self._taken: set = set()
        self._suffix: dict = {}    # hint -> the next number to try after it
        self._consts: dict = {}    # (dtype, shape, bytes) -> name: small constants once

    # ---- names and types -----------------------------------------------------------------
    def fresh(self, hint: str) -> str:
        """A value name not used yet, readable: the hint itself, else hint_1, hint_2, ..."""
        base = (hint or "v").split(":")[0] or "v"    # graph names end in ":0"
        name, n = base, self._suffix.get(base, 0)
        while name in self._taken:
            n += 1
            name = f"{base}_{n}"
        self._suffix[base] = n
        self._taken.add(name)
        return name

    def reserve(self, name: str) -> None:
        """Claim a name given by the user (an input or output) before any other."""
        if name in self._taken:
            raise ValueError(f"ONNX export: the name {name!r} is given twice")
        self._taken.add(name)

    def declare(self, name: str, shape, dtype) -> None:
        self.types[name] = (None if shape is None else tuple(shape), dtypes.as_dtype(dtype))

    def shape(self, name: str):
        return self.types[name][0]

    def dtype(self, name: str):
        return self.types[name][1]

    def rank(self, name: str, what: str) -> int:
        shape = self.shape(name)
        if shape is None:
            raise ValueError(f"{what} needs the rank of {name!r} known")
        return len(shape)

    # ---- nodes and constants ---------------------------------------------------------------
    def node(self, op_type: str, inputs, hint: str = "", name: str | None = None,
             out: str | None = None, **attrs) -> str:
        """Add a node with one output (named `out`, else fresh from `hint` or the op type)."""
        out = out or self.fresh(hint or op_type.lower())
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=name or out,
                                           **attrs))
        return out

    def initializer(self, array: np.ndarray, hint: str) -> str:
        name = self.fresh(hint)
        array = np.asarray(array)
        self.initializers[name] = array
        self.declare(name, array.shape, array.dtype)
        return name

    def const(self, value, dtype) -> str:
        """A constant initializer of `dtype` (small ones are shared)."""
        array = np.asarray(value, dtype=getattr(dtype, "np", dtype))
        key = (array.dtype.str, array.shape, array.tobytes()) if array.size <= 64 else None
        if key is not None and key in self._consts:
            return self._consts[key]
        name = self.initializer(array, "const")
        if key is not None:
            self._consts[key] = name
        return name

    def ints(self, values) -> str:
        """A 1-D int64 constant (shapes, axes, pads)."""
        return self.const(np.asarray(list(values), np.int64).reshape(-1), np.int64)

    # ---- shared helpers ----------------------------------------------------------------------
    def cast(self, name: str, dtype) -> str:
        """`name` as `dtype` (no node when it already is)."""
        dtype = dtypes.as_dtype(dtype)
        if self.dtype(name) is dtype:
            return name
        out = self.node("Cast", [name], hint=f"{name}_{dtype.name}", to=onnx_type(dtype))
        self.declare(out, self.shape(name), dtype)
        return out

    def reduce(self, op_type: str, x: str, axes, keepdims: bool, hint: str = "") -> str:
        """ReduceSum/Mean/Max/Min/Prod over `axes` (None: all): axes became an input in
        opset 13 for ReduceSum and in opset 18 for the others."""
        inputs, attrs = [x], {"keepdims": int(keepdims)}
        if axes is not None:
            if op_type == "ReduceSum" or self.opset >= 18:
                inputs.append(self.ints(axes))
            else:
                attrs["axes"] = list(axes)
        return self.node(op_type, inputs, hint=hint, **attrs)

    def unsqueeze(self, x: str, axes, hint: str = "") -> str:
        return self.node("Unsqueeze", [x, self.ints(axes)], hint=hint)

    def squeeze(self, x: str, axes=None, hint: str = "") -> str:
        return self.node("Squeeze", [x] if axes is None else [x, self.ints(axes)], hint=hint)

    def shape_of(self, x: str) -> str:
        return self.node("Shape", [x], hint=f"{x}_shape")

    # ---- the result --------------------------------------------------------------------------
    def graph(self, name: str, inputs: list, outputs: list) -> onnx.GraphProto:
        """The graph, with the initializers some node reads (a value read only for its
        shape, such as a transposed convolution's size reference, is not written)."""
        read = {i for n in self.nodes for i in n.input}
        initializers = [numpy_helper.from_array(np.array(a, order="C"), name)
                        for name, a in self.initializers.items() if name in read]
        return helper.make_graph(self.nodes, name, inputs, outputs, initializers)
