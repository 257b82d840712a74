"""TF1's `tf.py_func` and `tf.numpy_function`: a Python function of NumPy arrays as a graph
step (ops/custom.py's `PyFunc`), called once per run with its inputs' values; on eager
tensors it is called at once (without inputs it is a graph step). Results are converted to
the Tout dtypes (an array of another dtype is refused); their shapes are known only when
run. As TF1's it is not differentiable: a gradient through it is None."""
from __future__ import annotations

from ..core import dtypes
from ..core.graph import get_default_graph
from ..core.op import apply, as_tensor
from ..core.tensor import EAGER, Tensor
from ..ops.custom import PyFunc, PyFuncCalls, PyFuncOutput, call_user_function


def py_func(func, inp, Tout, stateful=True, name=None):  # noqa: N803 (TF1's names)
    """func(*inputs' arrays) when run: one tensor if Tout is one dtype, else a list."""
    return _python_function("py_func", func, inp, Tout, name)


def numpy_function(func, inp, Tout, stateful=True, name=None):  # noqa: N803
    """TF 1.14's name of py_func."""
    return _python_function("numpy_function", func, inp, Tout, name)


def _python_function(fn_name: str, func, inp, Tout, name):  # noqa: N803
    if not callable(func):
        raise TypeError(f"tf.{fn_name}: func must be callable, got {func!r}")
    single = not isinstance(Tout, (list, tuple))
    douts = tuple(dtypes.as_dtype(t) for t in ([Tout] if single else Tout))
    inputs = [as_tensor(x) for x in (inp if isinstance(inp, (list, tuple)) else [inp])]
    if inputs and all(x.kind == EAGER for x in inputs):
        results = call_user_function(func, douts, [x.array for x in inputs], fn_name)
        outs = [Tensor._eager(a) for a in results]
    else:
        graph = next((x.graph for x in inputs if x.kind != EAGER), get_default_graph())
        op = PyFunc(func=func, douts=douts, fn_name=fn_name, calls=PyFuncCalls())
        node = apply(op, *inputs, graph=graph, name=name or "PyFunc")
        outs = [apply(PyFuncOutput(index=k, dtype=d), node)
                for k, d in enumerate(douts)]
    return outs[0] if single else outs
