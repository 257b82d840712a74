"""TF1 placeholders and variables: the symbolic leaves of a graph."""
from __future__ import annotations

import re
from typing import Optional

from ..core import dtypes
from ..core.graph import GLOBAL_VARIABLES, TRAINABLE_VARIABLES, get_default_graph
from ..core.op import as_tensor
from ..core.shapes import as_shape
from ..core.tensor import NODE, PLACEHOLDER, VARIABLE, Tensor
from ..ops.creation import tf1_constant
from ..ops.math import cast
from ..ops.shape import Copy, StopGradient
from ..ops.state import assign, assign_add, assign_sub, group
from .control_flow import construct_built, no_op


def placeholder(dtype, shape=None, name: Optional[str] = None) -> Tensor:
    """A value fed at run time; `None` dims (or shape=None) are checked only when fed."""
    return Tensor._symbolic(PLACEHOLDER, as_shape(shape), dtypes.as_dtype(dtype),
                            name=name or "Placeholder")


def placeholder_with_default(input, shape, name: Optional[str] = None) -> Tensor:  # noqa: A002
    """A graph tensor of `input`'s value unless a run feeds it (a `training` flag that is
    False unless fed True); `shape` may leave dims unknown."""
    value = tf1_constant(input)
    shape = as_shape(shape)
    if shape is None or len(shape) != value.ndim or any(
            d is not None and d != v for d, v in zip(shape, value.shape)):
        raise ValueError(f"placeholder_with_default: the default of shape {value.shape} does "
                         f"not match shape {shape}")
    return Tensor._symbolic(NODE, shape, value.dtype, Copy(), (value,),
                            name=name or "PlaceholderWithDefault", graph=get_default_graph())


class Variable(Tensor):
    """State that persists across `Session.run` calls; its value lives in each Session."""

    __slots__ = ("initial_value", "initializer", "trainable", "_loader")

    def __init__(self, initial_value=None, trainable: bool = True, name: Optional[str] = None,
                 dtype=None, collections=None, **unused) -> None:
        if initial_value is None:
            raise ValueError("Variable: initial_value is required")
        if callable(initial_value):
            initial_value = initial_value()
        elif construct_built() is not None:
            raise ValueError(f"Variable {name or 'Variable'}: made inside a {construct_built()} "
                             f"with an initial value, which TF1 refuses; give a callable "
                             f"(lambda: value) or use tf.get_variable")
        init = tf1_constant(initial_value, dtype=dtype)
        if dtype is not None and init.dtype is not dtypes.as_dtype(dtype):
            init = cast(init, dtype)
        if init.shape is None:
            raise ValueError("Variable: the initial value needs a known rank")
        graph = get_default_graph() if init.kind == "eager" else init.graph
        self._init_symbolic(VARIABLE, init.shape, init.dtype, name=name or "Variable",
                            graph=graph)
        self.initial_value = init
        self.trainable = bool(trainable)
        # the assign reads the initial value through a graph node, so a run may feed it
        # (TF1 programs load weights from elsewhere as `{var.initializer.inputs[1]: w}`);
        # it depends on nothing an enclosing control_dependencies names (TF1's init_scope:
        # an optimizer's slots made under `control_dependencies(update_ops)`). The node is a
        # view of the constant, so the initializer run allocates nothing
        with graph.control_dependencies(None):
            value = init if init.kind != "eager" else Tensor._symbolic(
                NODE, init.shape, init.dtype, StopGradient(), (init,),
                name=self._name + "/initial_value", graph=graph)
            self.initializer = assign(self, value, name=self._name + "/Assign")
        self._loader = None
        keys = [GLOBAL_VARIABLES] if collections is None else list(collections)
        if trainable and TRAINABLE_VARIABLES not in keys:
            keys.append(TRAINABLE_VARIABLES)
        for key in keys:     # TF1: `collections` replaces the global one (local variables)
            graph.add_to_collection(key, self)

    def assign(self, value, name=None) -> Tensor:
        return assign(self, value, name=name)

    def assign_add(self, value, name=None) -> Tensor:
        return assign_add(self, value, name=name)

    def assign_sub(self, value, name=None) -> Tensor:
        return assign_sub(self, value, name=name)

    def value(self) -> Tensor:
        return self

    read_value = value

    def initialized_value(self) -> Tensor:
        return self.initial_value

    def load(self, value, session=None) -> None:
        """Set the value in `session` directly (TF1 `Variable.load`). The feed-and-assign
        pair is built once, so loading every step does not grow the graph."""
        from .session import get_default_session
        sess = session or get_default_session()
        if self._loader is None:
            with self.graph.as_default():
                feed = placeholder(self.dtype, self.shape, name=self._name + "/load_value")
                self._loader = (feed, assign(self, feed, name=self._name + "/Load"))
        feed, op = self._loader
        sess.run(op, {feed: value})

    def __repr__(self) -> str:
        return f"<tf.Variable '{self.name}' shape={self.shape} dtype={self.dtype.name}>"


def global_variables(graph=None) -> list:
    return (graph or get_default_graph()).get_collection(GLOBAL_VARIABLES)


def trainable_variables(graph=None) -> list:
    return (graph or get_default_graph()).get_collection(TRAINABLE_VARIABLES)


def variables_initializer(var_list, name: str = "init") -> Tensor:
    return group(*[v.initializer for v in var_list if v.initializer is not None], name=name)


def global_variables_initializer() -> Tensor:
    """One node that runs every variable's initializer (build it after the variables)."""
    return variables_initializer(global_variables())


initialize_all_variables = global_variables_initializer


def tables_initializer(name="init_all_tables") -> Tensor:
    """A no-op: tinyflow has no lookup tables, so there is nothing to initialize (programs
    run it with their variables' initializer)."""
    return no_op(name=name)


def add_to_collection(name: str, value) -> None:
    """TF1 `tf.add_to_collection`: value joins the default graph's collection `name`."""
    get_default_graph().add_to_collection(name, value)


def get_collection(key: str, scope=None, graph=None) -> list:
    """TF1 `tf.get_collection`, e.g. `tf.get_collection(tf.GraphKeys.UPDATE_OPS)`; with
    `scope`, the items whose names match it from the start (re.match, as TF1)."""
    items = (graph or get_default_graph()).get_collection(key)
    if scope is None:
        return items
    return [item for item in items if re.match(scope, getattr(item, "name", None) or "")]
