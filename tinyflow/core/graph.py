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
            for c in control_inputs:
                if not hasattr(c, "kind") or not hasattr(c, "inputs"):
                    raise TypeError(f"control_dependencies: can not convert a "
                                    f"{type(c).__name__} into a Tensor or Operation")
                if c.kind == "eager":
                    continue
                if c.graph is not self:
                    raise ValueError(f"control_dependencies: {c.name} is not an element of "
                                     f"this graph")
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
        return list(self.nodes)

    def get_tensor_by_name(self, name: str):
        """Look up `name` or `name:0`."""
        key = name[:-2] if name.endswith(":0") else name
        try:
            return self._names[key]
        except KeyError:
            raise KeyError(f"the graph has no tensor named {name!r}") from None

    def get_operation_by_name(self, name: str):
        """The node named `name` (an op's name, no ':0'): tinyflow's nodes are both TF1's
        operation and its output tensor."""
        if ":" in name:
            raise ValueError(f"get_operation_by_name: {name!r} names a tensor; give the "
                             f"operation's name without ':0' (or use get_tensor_by_name)")
        return self.get_tensor_by_name(name)

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


def _collect_assigns(node, updated: dict) -> None:
    """The variable assigns `node` stands for (itself, or those a `tf.group` runs), so that
    inside `control_dependencies` a read of the variable is the assigned value, as TF1's
    reads after the update see it (tinyflow's runtime otherwise gives every read in one run
    the value from before the run)."""
    stack = [node]
    while stack:
        n = stack.pop()
        op = n.op
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
