"""A user's `autograd.Function` as one op per output: the value is what the user's forward
computed (input 0, which autodiff never enters), the gradients what the user's backward
returns for the other inputs (the tensors the forward was given). Because the forward and
backward are written with tinyflow ops, the same op works eagerly, under `tinyflow.compile`
and in a TF1 graph, and `create_graph=True` differentiates the user's backward."""
from __future__ import annotations

from ..core.op import Op


class CustomFunction(Op):
    """Output `index` of one call of a user's Function; `call` (the front end's record of that
    call) runs the user's backward and jvp."""
    name = "custom_function"
    view = True              # the output is input 0's buffer
    saves_inputs = False
    saves_output = False
    call: object
    index: int

    def infer(self, value, *inputs):
        return value.shape, value.dtype

    def vjp(self, g, out, value, *inputs):
        return (None,) + tuple(self.call.backward(self.index, g))

    def jvp(self, tangents, out, value, *inputs):
        return self.call.jvp(self.index, tangents[1:])
