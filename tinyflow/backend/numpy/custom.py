"""A user's autograd.Function output (its forward already computed the value, input 0) and
TF1's py_func (the user's Python function of arrays)."""
import numpy as np

from ...ops import custom
from .registry import kernel


@kernel(custom.CustomFunction)
def custom_function(op, value, *inputs):
    return value


@kernel(custom.PyFunc)
def py_func(op, *inputs):
    calls = op.calls
    if calls.kept and not calls.recording:   # the recording run's call, if of these values
        args, results = calls.kept[0]
        if len(args) == len(inputs) and all(
                a.dtype == b.dtype and np.array_equal(a, b) for a, b in zip(args, inputs)):
            del calls.kept[0]
            return results
        calls.kept.clear()
    results = custom.call_user_function(op.func, op.douts, inputs, op.fn_name)
    if calls.recording:
        calls.kept.append((tuple(np.array(a) for a in inputs), results))
    return results


@kernel(custom.PyFuncOutput)
def py_func_output(op, results):
    return results[op.index]
