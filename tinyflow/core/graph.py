"""Graphs: the home of symbolic nodes, their names and the TF1 collections."""
from __future__ import annotations

import contextlib
import threading
from typing import Iterable, Iterator

GLOBAL_VARIABLES = "variables"
TRAINABLE_VARIABLES = "trainable_variables"
UPDATE_OPS = "update_ops"
SUMMARIES = "summaries"
LOCAL_VARIABLES = "local_variables"
GLOBAL_STEP = "global_step"
REGULARIZATION_LOSSES = "regularization_losses"


class GraphKeys:
    """TF1's standard collection names."""
    GLOBAL_VARIABLES = GLOBAL_VARIABLES
    TRAINABLE_VARIABLES = TRAINABLE_VARIABLES
    UPDATE_OPS = UPDATE_OPS
    SUMMARIES = SUMMARIES
    LOCAL_VARIABLES = LOCAL_VARIABLES
    GLOBAL_STEP = GLOBAL_STEP
    REGULARIZATION_LOSSES = REGULARIZATION_LOSSES


class Graph:
    """A namespace for symbolic tensors (placeholders, variables and op nodes)."""

    def __init__(self) -> None:
        self.nodes: list = []
        self._names: dict[str, object] = {}
        self._name_counts: dict[str, int] = {}
        self._collections: dict[str, list] = {}
        self._scope = ""  # the open name scope's prefix, "gradients/" inside tf.gradients
        self.version = 0  # bumped on every new node, so cached plans can tell
        self.control = ()  # control inputs of each op node made now (`control_dependencies`)
        self.updated: dict = {}  # id(variable) -> its assign among them: reads see its value
        self._device = None      # the open `tf.device` scope's device name (None: unplaced)
        self.placements: dict[str, str] = {}  # node name ('x:0') -> its device, if placed

    def unique_name(self, base: str) -> str:
        """TF1-style unique names: `matmul`, `matmul_1`, ..."""
        count = self._name_counts.get(base, 0)
        name = base if count == 0 else f"{base}_{count}"
        while name in self._names:
            count += 1
            name = f"{base}_{count}"
        self._name_counts[base] = count + 1
        return name

    def add_node(self, tensor, base_name: str) -> str:
        name = self.unique_name(self._scope + base_name)
        self._names[name] = tensor
        self.nodes.append(tensor)
        if self._device is not None:
            self.placements[name + ":0"] = self._device
        self.version += 1
        return name

    def mark(self) -> tuple:
        """Where the graph is now, for `rewind`."""
        return len(self.nodes), dict(self._name_counts)

    def rewind(self, mark: tuple) -> None:
        """Forget the nodes made since `mark` (and the names they took): for a build whose
        result was computed at once and that nothing else may run (a loop over constants)."""
        first, counts = mark
        gone = {id(node) for node in self.nodes[first:]}
        if not gone:
            return
        del self.nodes[first:]
        self._names = {k: v for k, v in self._names.items() if id(v) not in gone}
        self._name_counts = counts
        self.placements = {k: v for k, v in self.placements.items() if k[:-2] in self._names}
        self.version += 1

    @contextlib.contextmanager
    def name_scope(self, name: str) -> Iterator[str]:
        """TF1 name scopes: nodes made inside are named `name/...` (`name_1/...` if the scope
        was opened before), so a reader (or a picture) can tell which call built them."""
        scope = self.unique_name(self._scope + name)
        outer, self._scope = self._scope, scope + "/"
        try:
            yield scope
        finally:
            self._scope = outer

    @contextlib.contextmanager
    def device(self, name) -> Iterator[None]:
        """TF1's `tf.device`: nodes made inside are placed on device `name` (None: unplaced,
        this process); a Session partitions the graph by these placements."""
        outer, self._device = self._device, name
        try:
            yield
        finally:
            self._device = outer

    def colocate(self, node):
        """The scope placing nodes where `node` is (its gradient's nodes, TF1's
        colocate_gradients_with_ops); no change for an unplaced node."""
        placed = self.placements.get(node.name) if self.placements else None
        return self.device(placed) if placed is not None else contextlib.nullcontext()

    @contextlib.contextmanager
    def control_dependencies(self, control_inputs) -> Iterator[None]:
        """TF1's `control_dependencies`: every op node made inside runs after
        `control_inputs` (tensors or ops of this graph; eager constants need nothing run);
        None clears the enclosing blocks' dependencies."""
        if control_inputs is None:
            deps = None
        else:
            deps = []
            for c in map(node_of, control_inputs):
                if not hasattr(c, "kind") or not hasattr(c, "inputs"):
                    raise TypeError(f"control_dependencies: can not convert a "
                                    f"{type(c).__name__} into a Tensor or Operation")
                if c.kind == "eager":
                    continue
                if c.graph is not self:
                    raise ValueError(f"control_dependencies: {c.name} belongs to another "
                                     f"graph than this one")
                deps.append(c)
        outer, outer_updated = self.control, self.updated
        if deps is None:
            self.control, self.updated = (), {}
        else:
            self.control = outer + tuple(d for d in deps if all(d is not o for o in outer))
            self.updated = dict(outer_updated)
            for d in deps:
                _collect_assigns(d, self.updated)
        try:
            yield
        finally:
            self.control, self.updated = outer, outer_updated

    def add_to_collection(self, key: str, value) -> None:
        self._collections.setdefault(key, []).append(value)

    def get_collection(self, key: str) -> list:
        return list(self._collections.get(key, ()))

    def get_operations(self) -> list:
        """TF1's list of operations, in the order they were made."""
        return [Operation(n) for n in self.nodes]

    def as_graph_element(self, obj, allow_tensor: bool = True, allow_operation: bool = True):
        """TF1's lookup of a fetch or feed: a name `op` is the operation, `op:0` its tensor
        (every node has one output); a tensor or operation of this graph is itself."""
        if isinstance(obj, str):
            node_name, colon, index = obj.partition(":")
            node = self._names.get(node_name)
            if node is None:
                raise KeyError(f"{obj!r}: the graph has no operation named {node_name!r}"
                               if colon else f"{obj!r}: the graph has no operation of that "
                               f"name")
            if not colon:
                if not allow_operation:
                    raise ValueError(f"{obj!r} names an operation; a tensor is named "
                                     f"'<op name>:<output index>', here {obj + ':0'!r}")
                return Operation(node)
            if index != "0" or node.dtype is None:
                outputs = 0 if node.dtype is None else 1
                raise KeyError(f"{obj!r}: operation {node_name!r} has {outputs} output(s), "
                               f"so there is no output {index}")
            return node
        is_op = isinstance(obj, Operation)
        if is_op and not allow_operation or not is_op and not allow_tensor:
            raise TypeError(f"{obj!r}: {'a Tensor' if allow_tensor else 'an Operation'} is "
                            f"expected here")
        if getattr(obj, "graph", self) not in (self, None):
            raise ValueError(f"{obj!r} belongs to another graph than this one")
        return obj

    def get_tensor_by_name(self, name: str):
        """The tensor `name` (`op:0`), as TF1: a bare operation name is refused."""
        return self.as_graph_element(name, allow_operation=False)

    def get_operation_by_name(self, name: str) -> "Operation":
        """The operation `name` (no ':0'), TF1's `Operation` view of the node."""
        if ":" in name:
            raise ValueError(f"get_operation_by_name: {name!r} names a tensor; give the "
                             f"operation's name without ':0' (or use get_tensor_by_name)")
        return self.as_graph_element(name, allow_tensor=False)

    @contextlib.contextmanager
    def as_default(self) -> Iterator["Graph"]:
        """Nodes made inside go to this graph. Leaving removes this graph's own entry, not
        the top one: an InteractiveSession closed inside another graph's block leaves that
        block's graph the default (TF1's InteractiveSession does not enforce nesting)."""
        _state.stack.append(self)
        try:
            yield self
        finally:
            stack = _state.stack
            del stack[len(stack) - 1 - stack[::-1].index(self)]

    def __repr__(self) -> str:
        return f"<tinyflow.Graph with {len(self.nodes)} nodes>"


class Operation:
    """TF1's Operation: a view of a graph node as the op that makes it (`t.op`,
    `graph.get_operation_by_name`). A tinyflow node is both the op and its one output, so
    the operation has the node's name without ':0', and the node as its output."""

    __slots__ = ("_node",)

    def __init__(self, node) -> None:
        self._node = node

    @property
    def name(self) -> str:
        return self._node._name

    @property
    def type(self) -> str:
        """The op's kind: TF1's for placeholders and variables, and where a front end that
        builds one TF1 op from several nodes marks the node TF1 sees (`_tf1_type`: the
        transpose giving tf.nn.conv2d's NHWC result is a Conv2D); else tinyflow's op class
        name (TF1's for the common ones: MatMul, Relu, Assign, NoOp)."""
        node = self._node
        if "_tf1_type" in node.__dict__:
            return node._tf1_type
        if node._op is None:
            return {"placeholder": "Placeholder", "variable": "VariableV2"}.get(node.kind,
                                                                               node.kind)
        return type(node._op).__name__

    @property
    def inputs(self) -> tuple:
        return tuple(self._node.inputs)

    @property
    def outputs(self) -> list:
        return [] if self._node.dtype is None else [self._node]

    def values(self) -> tuple:
        return tuple(self.outputs)

    @property
    def graph(self) -> "Graph":
        return self._node.graph

    @property
    def device(self) -> str:
        return self._node.graph.placements.get(self._node.name, "")

    @property
    def control_inputs(self) -> list:
        return [Operation(c) for c in self._node.control_inputs]

    def run(self, feed_dict=None, session=None) -> None:
        """Run this operation in the default session (or `session`), as TF1's."""
        self._node.run(feed_dict, session)

    def __eq__(self, other) -> bool:
        return isinstance(other, Operation) and other._node is self._node

    def __hash__(self) -> int:
        return id(self._node)

    def __repr__(self) -> str:
        return f"<tf.Operation '{self.name}' type={self.type}>"


def node_of(x):
    """The graph node behind a tensor or an Operation (TF1 takes either in
    `control_dependencies`, `tf.group` and `Session.run`)."""
    return x._node if isinstance(x, Operation) else x


def _collect_assigns(node, updated: dict) -> None:
    """The variable assigns `node` stands for (itself, or those a `tf.group` runs), so that
    inside `control_dependencies` a read of the variable is the assigned value, as TF1's
    reads after the update see it (tinyflow's runtime otherwise gives every read in one run
    the value from before the run)."""
    stack = [node]
    while stack:
        n = stack.pop()
        op = n._op
        if op is not None and getattr(op, "writes_input", None) == 0 and \
                n.inputs and n.inputs[0].kind == "variable":
            updated[id(n.inputs[0])] = n
        elif op is not None and n.dtype is None:      # a group: its control inputs run
            stack.extend(n.control_inputs)


class _GraphState(threading.local):
    def __init__(self) -> None:
        self.default = Graph()
        self.stack: list[Graph] = []


_state = _GraphState()


def get_default_graph() -> Graph:
    return _state.stack[-1] if _state.stack else _state.default


def control_graph():
    """The default graph while a `control_dependencies` block with control inputs is open,
    else None: TF1 functions of constants made there pass it to `apply` as the graph, so they
    become nodes that run after the control inputs rather than computing now."""
    graph = get_default_graph()
    return graph if graph.control else None


def reset_default_graph() -> None:
    """Start a fresh default graph (TF1: only outside any `with graph.as_default()`)."""
    if _state.stack:
        raise RuntimeError("reset_default_graph() called inside a `with graph.as_default()` "
                           "block or while an InteractiveSession is open (close it first)")
    _state.default = Graph()


def topo_sort(roots: Iterable, include_control: bool = False, stop=None,
              requires_grad_only: bool = False) -> list:
    """Post-order (inputs first) of everything `roots` depend on, without recursion.

    `stop` is an optional set of ids of tensors whose inputs are not followed (e.g. feeds).
    `requires_grad_only`: follow only inputs that require grad (what a `backward()` into
    every leaf can reach; constants and data are not walked).
    """
    order: list = []
    visited: set[int] = set()
    for root in roots:
        if id(root) in visited:
            continue
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            if stop is not None and id(node) in stop:
                continue
            deps = node.inputs
            if include_control and node.control_inputs:
                deps = tuple(deps) + tuple(node.control_inputs)
            for dep in reversed(deps):
                if id(dep) not in visited and (dep.requires_grad or not requires_grad_only):
                    stack.append((dep, False))
    return order
