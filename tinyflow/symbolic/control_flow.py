"""TF1 control flow and graph plumbing: `control_dependencies`, `identity`, `no_op`, `cond`
(`while_loop` is in while_loop.py)."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator, Optional

import numpy as np

from .. import ops
from ..core.graph import control_graph, get_default_graph
from ..core.op import apply, as_tensor
from ..core.tensor import EAGER, NODE, Tensor
from ..ops import control_flow as cf
from ..ops.math import cond_select
from ..ops.shape import Copy
from ..ops.state import Assign, NoOp


def control_dependencies(control_inputs):
    """`with tf.control_dependencies([update]): y = tf.identity(x)` — op nodes made inside
    run after `control_inputs` (None clears the enclosing blocks'). The default graph's
    `Graph.control_dependencies`."""
    return get_default_graph().control_dependencies(control_inputs)


class _Construct(threading.local):
    """The control-flow construct whose functions are being built (while_loop, cond)."""
    name: Optional[str] = None


_construct = _Construct()


def construct_built() -> Optional[str]:
    """The construct whose functions are being built, or None."""
    return _construct.name


@contextmanager
def building(construct: str) -> Iterator[None]:
    """Mark the building of a loop's or a conditional's functions: a Variable made there
    needs a callable initial value (TF1 refuses a value made inside the construct)."""
    outer, _construct.name = _construct.name, construct
    try:
        yield
    finally:
        _construct.name = outer


def identity(input, name=None) -> Tensor:  # noqa: A002
    """A new tensor with the value of `input` (a copy): inside `control_dependencies` it is
    the way to read a value after other ops ran."""
    return apply(Copy(), as_tensor(input), name=name or "Identity", graph=control_graph())


def no_op(name=None) -> Tensor:
    """An op that does nothing; run it to run its control dependencies."""
    graph = get_default_graph()
    node = Tensor._symbolic(NODE, (), None, NoOp(), (), name=name or "NoOp", graph=graph)
    return node


def cond(pred, true_fn=None, false_fn=None, strict=False, name=None, fn1=None, fn2=None):
    """TF1's `tf.cond(pred, true_fn, false_fn)`: the value of the branch `pred` chooses.

    Both branches are built and run, and a select picks each output whole (tinyflow has no
    branching step), so the branches may differ in shape when run; the results are TF1's.
    Side effects are handled so that the untaken branch changes nothing: every `assign`
    made inside a branch writes its new value only if its branch is taken (else it writes
    the variable's own value back). What cannot be undone: random ops of the untaken
    branch still draw (advancing the generator), and an error raised by the untaken branch
    (say, a failed check) is raised.
    """
    true_fn, false_fn = true_fn or fn1, false_fn or fn2
    if not callable(true_fn) or not callable(false_fn):
        raise TypeError("cond: true_fn and false_fn must be callable")
    if isinstance(pred, (bool, np.bool_)) or not isinstance(pred, Tensor):
        raise TypeError(f"cond: pred must be a boolean tensor (a placeholder or a comparison),"
                        f" not a Python {type(pred).__name__}")
    if pred.dtype is None or pred.dtype.name != "bool":
        raise TypeError(f"cond: pred must be a bool tensor, got {pred.dtype.name}")
    if pred.shape is not None and pred.shape != ():
        raise ValueError(f"cond: pred must be a scalar, got shape {pred.shape}")
    graph = pred.graph if pred.kind != EAGER else get_default_graph()
    with graph.as_default():
        with building("cond"):
            t = _branch(true_fn, pred, taken_if=True)
            f = _branch(false_fn, pred, taken_if=False)
        return _merge(t, f, pred, name)


def _branch(fn, pred, taken_if: bool):
    """Call a branch; its assigns then write their value only when the branch is taken, and
    the floating tensors it reads from outside pass through gates, as TF1's Switch: a
    gate's gradient is the branch's only when the branch is taken, so a NaN or inf that the
    untaken branch's rules make from a zero (sqrt's at 0, log's at 0) is dropped, not
    added in."""
    graph = get_default_graph()
    first = len(graph.nodes)
    result = fn()
    looped = cf.run_inside(graph.nodes[first:])   # a loop's own nodes read its parameters
    made = [node for node in graph.nodes[first:] if id(node) not in looped]
    inside, gates = {id(node) for node in made}, {}
    for node in made:
        written = getattr(node._op, "writes_input", None)
        if written is not None and not isinstance(node._op, Assign):
            continue   # a fused update writes its inputs in place: none behind a copy
        node.inputs = tuple(
            x if k == written or id(x) in inside or x.kind == EAGER or x.dtype is None
            or not x.dtype.is_floating else _gate(x, pred, taken_if, gates)
            for k, x in enumerate(node.inputs))
    for node in made:
        if isinstance(node._op, Assign) and node.inputs[0].kind != EAGER and \
                node is not getattr(node.inputs[0], "initializer", None):
            target, value = node.inputs
            node.inputs = (target, ops.where(pred, value, target) if taken_if
                           else ops.where(pred, target, value))
    return result


def _gate(x: Tensor, pred, taken_if: bool, gates: dict) -> Tensor:
    """x's value; its gradient reaches x only if pred == taken_if (one gate per tensor)."""
    gate = gates.get(id(x))
    if gate is None:
        held = ops.stop_gradient(x)
        gate = gates[id(x)] = (cond_select(x, held, pred) if taken_if
                               else cond_select(held, x, pred))
    return gate


def _merge(t, f, pred, name):
    """Select between the branches' outputs, which must have one structure."""
    if isinstance(t, (list, tuple)) or isinstance(f, (list, tuple)):
        if not isinstance(t, (list, tuple)) or not isinstance(f, (list, tuple)) \
                or len(t) != len(f):
            raise ValueError(f"cond: true_fn and false_fn must return the same structure, "
                             f"got {_describe(t)} and {_describe(f)}")
        return type(t)(_merge(a, b, pred, None) for a, b in zip(t, f))
    if t is None or f is None:
        raise ValueError("cond: true_fn and false_fn must return a value (an op or tensor);"
                         " one returned None")
    t, f = as_tensor(t), as_tensor(f)
    if t.dtype is None or f.dtype is None:       # ops (tf.group, assign groups): run both
        return ops.group(t, f, name=name)
    if t.dtype is not f.dtype:
        raise ValueError(f"cond: the branches return {t.dtype.name} and {f.dtype.name}; "
                         f"they must match")
    return cond_select(t, f, pred, name=name)


def _describe(x) -> str:
    return f"a {type(x).__name__} of {len(x)}" if isinstance(x, (list, tuple)) else "one value"
