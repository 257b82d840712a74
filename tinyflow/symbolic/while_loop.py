"""TF1's `tf.while_loop`: a loop with a trip count decided by the data, in a graph and eagerly.

`cond` and `body` are called once each, on placeholder-like parameters, and what they build
becomes two sub-programs of one `while_loop` op (ops/control_flow.py), which the runtime
runs for as many trips as the condition asks: at each Session.run, so a tf.Print or a
random draw in the body acts on every run, as TF1's. When the loop variables hold data
(constants, eager tensors) and the loop reads nothing else of the graph and has no
effects, the built loop is run at once and its values returned, as an op on constants is.
Loop variables or tensors read inside that autograd records (requires_grad) make the loop
run in Python instead, as TF2's eager while_loop, so that autograd records every trip.
`tf.gradients` differentiates through the op: the loop keeps every trip's loop variables
(with back_prop=True, TF1's default) and the gradient runs the body's reverse rule
back over them (`LoopFrame.gradients`).

Supported as in TF1: loop_vars as a (nested) tuple, list or namedtuple of tensors, numbers or
arrays; a body returning a bare tensor for a single loop variable (then one tensor is
returned, unless return_same_structure); shape_invariants (a partial shape per loop
variable, checked after every trip; by default each variable keeps its initial shape);
maximum_iterations (an int or int scalar tensor; the condition is not evaluated once the
limit is reached); back_prop=False (no iterates kept; gradients stop there); TensorArrays
among the loop variables (the loop carries each one's `flow`, of any shape). Not
supported: bodies that assign variables, and second-order gradients through a loop.
parallel_iterations and swap_memory are accepted and ignored (the trips run one after
another).
"""
from __future__ import annotations

from ..autodiff.reverse import end_of_backward, queue_callback
from ..autodiff.reverse import gradients as _gradients
from ..core.graph import get_default_graph
from ..core.op import apply
from ..core.pytree import tree_flatten, tree_unflatten
from ..core.shapes import as_shape
from ..core.modes import grad_mode
from ..core.tensor import EAGER, Tensor
from ..ops import control_flow as cf
from ..ops.creation import tf1_constant
from ..ops.tensor_array import owned_writes
from ..runtime.plan import Plan
from .tensor_array import TensorArray
from .control_flow import building
from .variables import placeholder


def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations=10,
               back_prop=True, swap_memory=False, name=None, maximum_iterations=None,
               return_same_structure=False):
    """Repeat `loop_vars = body(*loop_vars)` while `cond(*loop_vars)` holds (see the module
    docstring for what is supported)."""
    if not callable(cond) or not callable(body):
        raise TypeError("while_loop: cond and body must be callable")
    if not isinstance(parallel_iterations, int) or parallel_iterations < 1:
        raise ValueError(f"while_loop: parallel_iterations must be a positive int, got "
                         f"{parallel_iterations!r}")
    if not isinstance(loop_vars, (list, tuple)):
        loop_vars = [loop_vars]
    if not loop_vars:
        raise ValueError("while_loop: loop_vars is empty; give at least one loop variable")
    leaves, spec = tree_flatten(loop_vars)
    arrays = {k: x for k, x in enumerate(leaves) if isinstance(x, TensorArray)}
    leaves = [x.flow if k in arrays else x if isinstance(x, Tensor) else tf1_constant(x)
              for k, x in enumerate(leaves)]
    limit = None if maximum_iterations is None else _limit(maximum_iterations)
    loop = _Loop(cond, body, spec, leaves, arrays)
    invariants = _invariants(shape_invariants, leaves)
    for k in arrays:   # a TensorArray's rows are allocated by its first write, and may grow
        invariants[k] = (None, leaves[k].dtype)
    known = all(x.kind == EAGER for x in leaves) and (limit is None or limit.kind == EAGER)
    eager_limit = None if limit is None or not known else int(limit.array)
    result = None
    if known and _recorded(leaves):
        result = loop.run_eagerly(invariants, eager_limit)
    if result is None:
        graph = next((x.graph for x in [*leaves, limit] if x is not None and x.kind != EAGER),
                     get_default_graph())
        mark = graph.mark()
        with graph.as_default(), graph.name_scope(name or "while"):
            result = loop.build(invariants, limit, back_prop, graph)
        if known and loop.reads_recorded:   # autograd must see the trips: run in Python
            ran = loop.run_eagerly(invariants, eager_limit)
            if ran is not None:
                result = ran
                graph.rewind(mark)
        elif known and loop.self_contained:
            result = _values_now(result)
            graph.rewind(mark)
    single = len(loop_vars) == 1 and not return_same_structure
    packed = tree_unflatten(spec, loop.wrapped(result))
    return packed[0] if single else packed


def _recorded(tensors) -> bool:
    """Whether autograd records ops on any of these eager tensors."""
    return grad_mode.enabled and any(getattr(t, "requires_grad", False) for t in tensors)


def _values_now(outputs: list) -> list:
    """The values of a built loop that reads only data, as eager tensors (one plain run)."""
    values = Plan(outputs, (), {}, planned=False).run([])
    return [Tensor(v, dtype=t.dtype) for v, t in zip(values, outputs)]


def _limit(maximum_iterations) -> Tensor:
    limit = maximum_iterations if isinstance(maximum_iterations, Tensor) else \
        tf1_constant(maximum_iterations)
    if not limit.dtype.is_integer or limit.shape not in ((), None):
        raise ValueError(f"while_loop: maximum_iterations must be an int scalar, got "
                         f"{limit.dtype.name} of shape {limit.shape}")
    return limit


def _invariants(shape_invariants, leaves: list) -> list:
    """(shape, dtype) per loop variable: its shape invariant, else its initial shape."""
    if shape_invariants is None:
        return [(x.shape, x.dtype) for x in leaves]
    shapes = _shape_leaves(shape_invariants)
    if len(shapes) != len(leaves):
        raise ValueError(f"while_loop: {len(shapes)} shape_invariants for {len(leaves)} "
                         f"loop variables")
    out = []
    for k, (x, shape) in enumerate(zip(leaves, shapes)):
        shape = None if shape is None or getattr(shape, "ndims", 0) is None else as_shape(shape)
        if not _fits(shape, x.shape):
            raise ValueError(f"while_loop: loop variable {k} has shape {x.shape}, which does "
                             f"not fit its shape invariant {shape}")
        out.append((shape, x.dtype))
    return out


def _fits(invariant, shape) -> bool:
    """Whether a static shape may be one of invariant's (None: any size, or any rank)."""
    if invariant is None or shape is None:
        return True
    return len(invariant) == len(shape) and all(
        a is None or b is None or a == b for a, b in zip(invariant, shape))


def _shape_leaves(tree) -> list:
    """The shapes in a nest of shapes (a shape itself is a list or tuple of dims)."""
    if isinstance(tree, (list, tuple)) and all(d is None or isinstance(d, int) for d in tree) \
            or not isinstance(tree, (list, tuple, dict)):
        return [tree]
    leaves = tree.values() if isinstance(tree, dict) else tree
    return [s for leaf in leaves for s in _shape_leaves(leaf)]


class _Loop:
    """One call of while_loop: the user's functions over the loop variables' structure."""

    def __init__(self, cond, body, spec, leaves: list, arrays: dict) -> None:
        self.cond, self.body, self.spec, self.leaves = cond, body, spec, leaves
        self.arrays = arrays          # index -> the TensorArray that entered there
        self.self_contained = False   # (build sets these) no captures, no effects
        self.reads_recorded = False   # cond or body reads an eager tensor autograd records

    def wrapped(self, leaves: list) -> list:
        """The leaves, with each TensorArray's flow made a TensorArray again."""
        return [self.arrays[k]._with(x) if k in self.arrays else x
                for k, x in enumerate(leaves)]

    def _args(self, leaves) -> list:
        return list(tree_unflatten(self.spec, self.wrapped(leaves)))

    def _step(self, leaves: list) -> list:
        """body's loop variables, flattened, numbers made tensors of their variable's dtype."""
        new = self.body(*self._args(leaves))
        if len(leaves) == 1 and not isinstance(new, (list, tuple, dict)):
            new = [new]
        flat, _ = tree_flatten(new)
        if len(flat) != len(leaves):
            raise ValueError(f"while_loop: body returned {len(flat)} loop variables for "
                             f"{len(leaves)}; it must return loop_vars' structure")
        for k in self.arrays:
            if not isinstance(flat[k], TensorArray):
                raise TypeError(f"while_loop: loop variable {k} is a TensorArray, but the "
                                f"body returned {type(flat[k]).__name__} for it")
            self.arrays[k], flat[k] = flat[k], flat[k].flow   # (it may know its shapes now)
        flat = [v if isinstance(v, Tensor) else tf1_constant(v, dtype=x.dtype)
                for v, x in zip(flat, leaves)]
        for k, (v, x) in enumerate(zip(flat, leaves)):
            if v.dtype is not x.dtype:
                raise TypeError(f"while_loop: body made loop variable {k} {v.dtype.name}, "
                                f"but it entered the loop as {x.dtype.name}")
        return flat

    def _condition(self, leaves: list) -> Tensor:
        go = self.cond(*self._args(leaves))
        go = go if isinstance(go, Tensor) else tf1_constant(go)
        if go.dtype.name != "bool" or go.shape not in ((), None):
            raise TypeError(f"while_loop: cond must return a bool scalar, got "
                            f"{go.dtype.name} of shape {go.shape}")
        return go

    def run_eagerly(self, invariants: list, limit):
        """The loop run now, or None when cond or body reads a graph tensor (build it)."""
        state, trips = self.leaves, 0
        while limit is None or trips < limit:
            go = self._condition(state)
            if go.kind != EAGER:
                return None
            if not bool(go.array):
                break
            state = self._step(state)
            if any(v.kind != EAGER for v in state):
                return None
            _check_shapes(state, invariants)
            trips += 1
        return state

    def build(self, invariants: list, limit, back_prop: bool, graph) -> list:
        """The loop as a `while_loop` node and one `while_loop_var` node per variable."""
        with graph.control_dependencies(None):   # the loop node itself takes the outer ones
            params = [placeholder(dtype, shape, name="loop_var")
                      for shape, dtype in invariants]
            first = len(graph.nodes)
            with building("while_loop"):
                go = self._condition(params)
            cond_sub, cond_captures = cf.subprogram(params, [go], _made(graph, first), "cond")
            first = len(graph.nodes)
            with building("while_loop"):
                new = self._step(params)
            made = _made(graph, first)
            body_sub, body_captures = cf.subprogram(params, new, made, "body")
        _check_shapes(new, invariants)
        captures = list({id(t): t for t in cond_captures + body_captures}.values())
        kept = tuple(node for node in body_sub.order if node._op.stateful) if back_prop else ()
        owned = owned_writes(params, new, body_sub.order, self.arrays)
        op = cf.WhileLoop(cond=cond_sub, body=body_sub, captures=tuple(captures),
                          invariants=tuple(invariants), bounded=limit is not None,
                          keep_iterates=bool(back_prop), kept=kept, owned=owned,
                          **cf.inner_state(cond_sub, body_sub))
        self.self_contained = not captures and not op.stateful
        self.reads_recorded = _recorded(x for sub in (cond_sub, body_sub) for node in sub.order
                                        for x in node.inputs if x.kind == EAGER)
        inputs = [*self.leaves, *captures]
        result = apply(op, *inputs, *([limit] if limit is not None else []), graph=graph,
                       name="loop")
        frame = LoopFrame(params, new, made, captures, kept, graph) if back_prop else None
        return [cf.loop_var(result, inputs, k, shape, dtype, frame, name="exit")
                for k, (shape, dtype) in enumerate(invariants)]


def _check_shapes(new: list, invariants: list) -> None:
    for k, (v, (shape, _)) in enumerate(zip(new, invariants)):
        if not _fits(shape, v.shape):
            raise ValueError(f"while_loop: body made loop variable {k} of shape {v.shape}, "
                             f"which does not fit its shape invariant {shape} (give "
                             f"shape_invariants to let a dimension change)")


def _made(graph, first: int) -> set:
    return {id(node) for node in graph.nodes[first:]}


class LoopFrame:
    """What a loop's gradient needs: the body's parameters, outputs and nodes, the captures,
    and its stateful nodes (random draws, prints, py_funcs), whose values the loop keeps per
    trip: the reverse rule reads those instead of running them again (a dropout's gradient
    uses the forward's mask). The rule is built once, on the first gradient asked of it."""

    def __init__(self, params, outputs, made, captures, kept, graph) -> None:
        self.params, self.outputs, self.made = params, outputs, made
        self.captures, self.kept, self.graph = captures, kept, graph
        self.backward = None
        self.pending = None   # (the backward loop made in the sweep under way, its closer)

    def _build_backward(self) -> None:
        floating = [p for p in self.params if p.dtype.is_floating]
        wrt = [j for j, c in enumerate(self.captures)
               if c.dtype is not None and c.dtype.is_floating]
        graph = self.graph
        with graph.as_default(), graph.control_dependencies(None):
            adjoints = [placeholder(p.dtype, p.shape, name="loop_adjoint") for p in floating]
            first = len(graph.nodes)
            ys = [y for p, y in zip(self.params, self.outputs) if p.dtype.is_floating]
            grads = _gradients(ys, floating + [self.captures[j] for j in wrt],
                               grad_ys=adjoints)
            made = self.made | _made(graph, first)
            sub, captures = cf.subprogram([*self.params, *adjoints, *self.kept], grads, made,
                                          "gradient")
        self.backward = sub, tuple(captures), tuple(wrt)

    def gradients(self, index: int, g, result, loop_inputs) -> list:
        """d(loop variable `index`'s final value)/d(initial loop variables, captures), with
        adjoint g (None for what is not floating). One backward loop serves a whole sweep
        (one tf.gradients call): the first variable differentiated makes it, and the others
        join it (`_join`), returning nothing, since its parts carry their share already."""
        if self.backward is None:
            self._build_backward()
        n = len(self.params)
        out = [None] * (n + len(self.captures))
        pending = self.pending
        if pending is not None and pending[1] in end_of_backward.queued \
                and index not in pending[0]._op.indices:
            _join(pending[0], index, g)
            return out
        sub, captures, wrt = self.backward
        floating = tuple(k for k, p in enumerate(self.params) if p.dtype.is_floating)
        op = cf.WhileLoopGrad(indices=(index,), floating=floating, backward=sub,
                              captures=captures, wrt=wrt)
        grads = apply(op, result, *captures, *loop_inputs, g, graph=self.graph)
        self.pending = grads, self._sweep_ended
        queue_callback(self._sweep_ended)
        for k, p in enumerate(self.params):
            if p.dtype.is_floating:
                out[k] = apply(cf.GradPart(index=k, shape=p.shape, dtype=p.dtype), grads)
        for part, j in enumerate(wrt):
            c = self.captures[j]
            out[n + j] = apply(cf.GradPart(index=n + part, shape=c.shape, dtype=c.dtype), grads)
        return out

    def _sweep_ended(self) -> None:
        self.pending = None


def _join(grads, index: int, g) -> None:
    """Add loop variable `index`'s adjoint `g` to a backward loop made in this sweep: its
    node gets one more input, before anything reads its value (the sweep reaches the loop's
    inputs, where its parts go, only after every loop variable)."""
    op = grads._op
    grads._op = cf.WhileLoopGrad(indices=op.indices + (index,), floating=op.floating,
                                 backward=op.backward, captures=op.captures, wrt=op.wrt)
    grads.inputs = (*grads.inputs, g)
