"""A user's Python code as ops.

`CustomFunction`: a user's `autograd.Function` as one op per output: the value is what the
user's forward computed (input 0, which autodiff never enters), the gradients what the
user's backward returns for the other inputs (the tensors the forward was given). Because
the forward and backward are written with tinyflow ops, the same op works eagerly, under
`tinyflow.compile` and in a TF1 graph, and `create_graph=True` differentiates the user's
backward.

`PyFunc`: TF1's `tf.py_func`, a Python function of NumPy arrays run as a graph step; as
TF1's it is not differentiable (gradients through it are None)."""
from __future__ import annotations

import numpy as np

from ..core.errors import InvalidArgumentError
from ..core.op import Op
from .dataset import HostState


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


class PyFunc(Op):
    """TF1's `tf.py_func` / `tf.numpy_function`: `func` called on its inputs' arrays when run;
    the value is the tuple of its results as arrays of `douts` (read by `PyFuncOutput`).
    `calls` lets a plan's recording run hand its results to the real run that follows, so
    func runs once per Session.run."""
    name = "py_func"
    stateful = True          # func may do anything: never folded, merged or dropped
    differentiable = False   # as TF1's: gradients through it are None
    func: object
    douts: tuple
    fn_name: str             # the user's spelling: py_func or numpy_function
    calls: "PyFuncCalls"

    def infer(self, *inputs):
        return (), None


class PyFuncOutput(Op):
    """Result `index` of a PyFunc call (its shape is known only when run)."""
    name = "py_func_output"
    differentiable = False
    index: int
    dtype: object

    def infer(self, results):
        return None, self.dtype


class PyFuncCalls(HostState):
    """The recording run's calls (arguments, results), in order, each used once by the real
    run that follows when its arguments are equal."""

    def __init__(self) -> None:
        self.recording, self.kept = False, []

    def snapshot(self):
        self.recording, self.kept = True, []

    def restore(self, saved) -> None:
        self.recording = False


def call_user_function(func, douts: tuple, inputs, fn_name: str) -> tuple:
    """func's results as arrays of the dtypes `douts` (numbers converted; an array of
    another dtype refused, naming the function and the result)."""
    results = func(*inputs)
    results = tuple(results) if isinstance(results, (list, tuple)) else (results,)
    if len(results) != len(douts):
        raise InvalidArgumentError(f"{fn_name}: {getattr(func, '__name__', 'func')} returned "
                                   f"{len(results)} values for {len(douts)} Tout dtypes")
    out = []
    for k, (value, dtype) in enumerate(zip(results, douts)):
        if isinstance(value, np.ndarray) and value.dtype != dtype.np:
            raise InvalidArgumentError(f"{fn_name}: result {k} of "
                                       f"{getattr(func, '__name__', 'func')} is "
                                       f"{value.dtype.name}, but Tout says {dtype.name}")
        out.append(np.asarray(value, dtype=dtype.np))
    return tuple(out)
