"""Variables whose shape is worked out later, for programs written for tqchen/tinyflow (the
project whose name we share): `tf.nn.linear(x, num_hidden=100)` makes its weight before x's
shape is known, and `tf.infer_variable_shapes(loss, feed_dict={x: [100, 784]})` infers
every such variable's shape from the placeholders' shapes and yields (variable, name,
shape), which the program then initializes with `tf.assign`."""
from __future__ import annotations

from ..core import dtypes
from ..core.graph import GLOBAL_VARIABLES, TRAINABLE_VARIABLES, get_default_graph, topo_sort
from ..core.shapes import tensor_shape
from ..core.tensor import VARIABLE, Tensor
from .variables import Variable


class DeferredVariable(Variable):
    """A trainable variable whose shape is `rule(shape of data)`, known once `data`'s shape
    is (at `infer_variable_shapes`); it has no initializer: assign it a value."""

    __slots__ = ("data", "rule")

    def __init__(self, name: str, data: Tensor, rule, dtype=dtypes.float32) -> None:
        graph = data.graph if data.is_symbolic else get_default_graph()
        shape = rule(data.shape) if data.shape is not None else None   # None dims if unknown
        self._init_symbolic(VARIABLE, shape, dtypes.as_dtype(dtype), name=name, graph=graph)
        self.initial_value = self.initializer = self._loader = None
        self.trainable = True
        self.data, self.rule = data, rule
        graph.add_to_collection(GLOBAL_VARIABLES, self)
        graph.add_to_collection(TRAINABLE_VARIABLES, self)


class _Static:
    """A stand-in tensor with a shape and dtype, for re-running an op's `infer`."""
    kind = "node"
    array = None

    def __init__(self, shape, dtype, name) -> None:
        self.shape, self.dtype, self.name = shape, dtype, name

    @property
    def ndim(self):
        return None if self.shape is None else len(self.shape)


def infer_variable_shapes(loss, feed_dict: dict):
    """Yield (variable, name, shape) for each deferred variable `loss` depends on, its shape
    inferred from the placeholders' shapes in `feed_dict` ({placeholder: shape})."""
    known = {id(k): tuple(v) for k, v in feed_dict.items()}
    shapes: dict = {}
    found = []
    for node in topo_sort(loss if isinstance(loss, (list, tuple)) else [loss]):
        if id(node) in known:
            shapes[id(node)] = known[id(node)]
        elif isinstance(node, DeferredVariable):
            if node.shape is None or None in node.shape:
                if id(node.data) not in shapes:
                    raise ValueError(f"infer_variable_shapes: the shape of {node.name} needs "
                                     f"the shape of {node.data.name}, not known yet")
                data_shape = shapes[id(node.data)]
                if data_shape is None or None in data_shape:
                    raise ValueError(f"infer_variable_shapes: {node.data.name} has shape "
                                     f"{data_shape}; give its shape in feed_dict")
                node.shape = tensor_shape(node.rule(data_shape))
            shapes[id(node)] = tuple(node.shape)
            found.append((node, node._name, list(node.shape)))
        elif node._op is None:
            shapes[id(node)] = node.shape
        else:
            inputs = [_Static(shapes[id(i)], i.dtype, i.name) for i in node.inputs]
            shapes[id(node)] = node._op.infer(*inputs)[0]
    return iter(found)
