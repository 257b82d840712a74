"""Autograd across a compiled call: `loss = compiled_model(x); loss.backward()`.

When a compiled function returns a tensor that eager autograd would differentiate (grad mode
on, it depends on leaves that require grad, and the function did not call `backward()`
itself), its result records one eager-tape node, `CompiledCall`, whose reverse rule runs a
second plan: the traced graph's gradients for a given cotangent. That plan recomputes the
forward values it needs (nothing is kept between the two runs), so a compiled forward costs
one forward run plus, at backward time, one forward-and-backward run.
"""
from __future__ import annotations

import dataclasses
import weakref
from typing import Optional

import numpy as np

from ..autodiff.reverse import gradients
from ..autodiff.tape import FREED
from ..core.errors import freed_graph_error
from ..core.graph import topo_sort
from ..core.op import Op
from ..core.tensor import PLACEHOLDER, Tensor
from ..runtime.plan import Plan
from .tracer import Tracer


@dataclasses.dataclass
class Backward:
    """The gradient plan of one traced output: feeds are the arguments and the cotangent."""
    plan: Plan
    leaves: list          # eager tensors that require grad, after the arguments
    wanted: list          # per op input (arguments, then leaves): its fetch index or None
    reads: list = dataclasses.field(default_factory=list)   # the plan's graph: its nodes
    draws: list = dataclasses.field(default_factory=list)   # its random nodes, fed

    def node(self, value: np.ndarray, args: list, drawn: tuple = (),
             results: list = None) -> Tensor:
        """The eager result of one call, recorded on the tape over its real inputs; `drawn`:
        the forward run's values of `draws` (dropout's mask), which the gradient plan is
        fed rather than drawing new ones; `results`: the call's results so far (this one
        is added), which share one forward as PyTorch's compiled node does."""
        inputs = tuple(args) + tuple(self.leaves)
        results = [] if results is None else results
        out = Tensor._eager(value, CompiledCall(backward=self, drawn=tuple(drawn),
                                                results=results), inputs, True)
        out._saved = tuple(x._version[0] for x in inputs) + (out._version[0],)
        results.append(weakref.ref(out))
        return out


class CompiledCall(Op):
    """One call of a compiled function, as a node of the eager tape (not a graph op)."""
    backward: object
    drawn: tuple = ()
    results: list = None   # weak references to the results of the same call
    saves_output = False

    def vjp(self, g: Tensor, out: Tensor, *inputs: Tensor) -> tuple:
        for ref in self.results or ():
            other = ref()
            if other is not None and other is not out and other._saved is FREED:
                raise freed_graph_error("a compiled call (another of its results)")
        count = len(inputs) - len(self.backward.leaves)
        feeds = [x.array for x in inputs[:count]] + list(self.drawn) + [
            np.asarray(g.array, out.dtype.np)]
        values = self.backward.plan.run(feeds)
        return tuple(None if k is None else Tensor._eager(np.asarray(values[k]))
                     for k in self.backward.wanted)


def plan_backward(tracer: Tracer, output: Tensor) -> Optional[Backward]:
    """The gradient plan of `output` w.r.t. the arguments and captured tensors that require
    grad, or None if it depends on none (then the result is a plain tensor)."""
    if not output.dtype.is_floating or not tracer.records(output):
        return None
    leaves = [n for n in topo_sort([output]) if tracer.wants_grad(n)]
    if not leaves:
        return None
    args = [ph for ph in tracer.graph.nodes if id(ph) in tracer.real]
    seed = Tensor._symbolic(PLACEHOLDER, output.shape, output.dtype, name="cotangent",
                            graph=tracer.graph)
    grads = dict(zip(map(id, leaves), gradients([output], leaves, [seed])))
    eager = [n for n in leaves if n.kind != PLACEHOLDER]
    fetches, wanted = [], []
    for x in args + eager:
        g = grads.get(id(x))
        wanted.append(None if g is None else len(fetches))
        if g is not None:
            fetches.append(g)
    reads, forward = topo_sort(fetches), {id(n) for n in topo_sort([output])}
    draws = [n for n in reads   # the forward's random draws (not the seed's stateful ops)
             if n._op is not None and n._op.stateful and id(n) in forward]
    return Backward(Plan(fetches, tuple(args) + tuple(draws) + (seed,), {}), eager, wanted,
                    reads, draws)
