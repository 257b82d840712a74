"""TF1's `while_loop` as ops: `WhileLoop` runs a loop whose condition and body are
sub-programs (graph fragments over placeholder-like parameters), `LoopVar` reads one loop
variable of its result, and `WhileLoopGrad` runs the body's reverse rule backwards over the
iterates the loop kept.

A graph of tinyflow is a straight line of steps, so the loop lives inside one step: the
runtime sees one `while_loop` step whose inputs are the initial loop variables and the
outer tensors the condition and body read (their captures), and whose value is a
`LoopResult` (not an array). Each output of the user's loop is a `LoopVar` step reading it.
The kernels (backend/numpy/control_flow.py) interpret the sub-programs node by node.

Gradients: `LoopVar.vjp` asks the front end's record of the loop (`frame`, see
symbolic/while_loop.py) for the body's reverse rule as a sub-program (built once with
autodiff) and applies `WhileLoopGrad`, which walks the kept iterates from the last to the
first; so `tf.gradients` works for any trip count the run takes. One backward loop runs
per gradient asked (a `tf.gradients` call), whatever the number of loop variables it
differentiates, and gradients of gradients are refused.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..core import dtypes
from ..core.op import Op, apply
from ..core.tensor import EAGER
from .dataset import ops_host_states


@dataclass(frozen=True, eq=False)
class Subprogram:
    """A graph fragment run as a function: `params` are bound per call, `order` are its op
    nodes in a runnable order, `outputs` what a call returns. Any other tensor it reads is
    eager (read as is) or one of the enclosing op's captures (bound by the kernel)."""
    params: tuple
    order: tuple
    outputs: tuple


def subprogram(params, outputs, made: set, what: str) -> tuple:
    """(Subprogram, captures): the nodes of `made` (ids of the nodes a call of the user's
    function created) that `outputs` need, in order, and the outer symbolic tensors they
    read. Ops that write state are refused: a loop step must be a function of its inputs."""
    bound = {id(p) for p in params}
    order, captures, seen = [], {}, set()

    def visit(t) -> None:
        if id(t) in seen or id(t) in bound or t.kind == EAGER:
            return
        seen.add(id(t))
        if t._op is None or id(t) not in made:
            captures[id(t)] = t
            return
        if getattr(t._op, "writes_input", None) is not None:
            raise ValueError(f"while_loop: the {what} writes a variable ({t._op.name}, "
                             f"{t.name}); a loop's cond and body must be functions of the "
                             f"loop variables (assign outside the loop)")
        for x in (*t.inputs, *t.control_inputs):
            visit(x)
        order.append(t)

    for out in outputs:
        if out is not None:     # (a gradient that is zero)
            visit(out)
    return Subprogram(tuple(params), tuple(order), tuple(outputs)), list(captures.values())


def run_inside(nodes) -> set:
    """The ids of those of `nodes` that a loop step runs (its sub-programs' nodes), not the
    runtime: a rewrite of the outer graph (tf.cond's gates) must leave them as built."""
    inside = set()
    for node in nodes:
        for sub in getattr(node._op, "subprograms", ()):
            inside.update(id(n) for n in sub.order)
    return inside


def inner_state(*subs: Subprogram) -> dict:
    """The `stateful` and `states` of a WhileLoop over these sub-programs."""
    inner = [node._op for sub in subs for node in sub.order]
    return {"stateful": any(op.stateful for op in inner), "states": tuple(ops_host_states(inner))}


class LoopResult:
    """What a `while_loop` step produced: the final loop variables; when kept for a gradient,
    the iterates (the loop variables before each trip, then after the last), the values of
    the body's stateful nodes in each trip, and the captures' values."""
    __slots__ = ("final", "iterates", "kept", "captures")

    def __init__(self, final: list, iterates, kept, captures) -> None:
        self.final, self.iterates, self.kept, self.captures = final, iterates, kept, captures


class WhileLoop(Op):
    """while cond(*v): v = body(*v), with at most `maximum_iterations` trips when `bounded`.

    Inputs: the `n_vars` initial loop variables, the captures (outer tensors cond and body
    read, bound by identity), then the iteration limit if bounded. `invariants` are the
    loop variables' (partial) shapes, checked after every trip; `keep_iterates` (TF1's
    back_prop) keeps every trip's loop variables for `WhileLoopGrad`.
    """
    name = "while_loop"
    differentiable = False   # LoopVar carries the gradients, to the inputs they reach
    saves_inputs = False
    saves_output = False
    cond: Subprogram
    body: Subprogram
    captures: tuple
    invariants: tuple
    bounded: bool
    keep_iterates: bool
    kept: tuple        # with keep_iterates, the body's stateful nodes, whose values each
    #                    trip keeps for the gradient (a draw is not drawn again)
    stateful: bool     # an op of cond or body is (a random draw, a print, a py_func)
    states: tuple      # the HostStates their ops hold (a plan's recording run sets them)
    owned: tuple = ()  # the loop variables (TensorArray buffers) the body writes in place:
    #                    the kernel copies each once on entry (ops/tensor_array.owned_writes)

    @property
    def subprograms(self) -> tuple:
        return self.cond, self.body

    def infer(self, *inputs):
        n = len(self.invariants)
        if len(inputs) != n + len(self.captures) + self.bounded:
            raise ValueError(f"expected {n} loop variables, {len(self.captures)} captures"
                             f"{' and a limit' if self.bounded else ''}, got {len(inputs)}")
        return (), None


class LoopVar(Op):
    """Loop variable `index` of a `WhileLoop` result. Inputs: the result, then the loop's
    other inputs (initial values and captures), which the gradient reaches."""
    name = "while_loop_var"
    saves_output = False
    index: int
    shape: tuple
    dtype: dtypes.DType
    frame: object     # the front end's record of the loop, which builds the backward (None:
    #                   built with back_prop=False, which stops gradients as TF1's)

    def infer(self, result, *inputs):
        return self.shape, self.dtype

    def vjp(self, g, out, result, *inputs):
        if self.frame is None:   # back_prop=False: no gradient flows back (TF1's)
            return (None,) * (1 + len(inputs))
        return (None,) + tuple(self.frame.gradients(self.index, g, result, inputs))


class WhileLoopGrad(Op):
    """The gradients of the final values of loop variables `indices` (adjoints `g`, one
    each) with respect to the initial loop variables and the loop's captures `wrt`, as a
    tuple: the body's reverse rule `backward` (a sub-program) run over the kept iterates from
    the last trip to the first. Inputs: the loop's result, the captures `backward` reads,
    the loop's own inputs (initial values and captures: the kept iterates hold those
    arrays, so the runtime must keep them unchanged until this step has run), then the
    adjoints."""
    name = "while_loop_grad"   # differentiable, so that GradPart.vjp is reached and refuses
    indices: tuple         # the loop variables whose adjoints are the last inputs
    floating: tuple        # the loop variables that have adjoints (floating dtypes)
    backward: Subprogram   # params: the loop variables, the adjoints of the floating ones,
    #                        the body's kept nodes; outputs: adjoints of the floating ones,
    #                        then of `wrt`
    captures: tuple
    wrt: tuple             # the gradients' captures, as indices into the loop's captures

    @property
    def subprograms(self) -> tuple:
        return (self.backward,)

    def infer(self, result, *inputs):
        return (), None


class GradPart(Op):
    """Gradient `index` of a `WhileLoopGrad` tuple. Its own derivative is not written:
    second-order gradients through a loop are refused, not zeros."""
    name = "while_loop_grad_part"
    index: int
    shape: tuple
    dtype: dtypes.DType

    def infer(self, grads):
        return self.shape, self.dtype

    def vjp(self, g, out, grads):
        raise NotImplementedError("while_loop: gradients of a loop's gradients (second "
                                  "order) are not supported")


def loop_var(result, inputs, index: int, shape, dtype, frame, name=None):
    return apply(LoopVar(index=index, shape=shape, dtype=dtype, frame=frame), result,
                 *inputs, name=name)
