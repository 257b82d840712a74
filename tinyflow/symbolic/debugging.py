"""TF1's checks and prints: `tf.Assert`, `tf.Print`, `tf.print` and `tf.debugging`'s
`assert_*` (also as `tf.assert_*`). In a graph each is an op that checks or prints when it
runs (ops/debug.py): an Operation to fetch or to put in `tf.control_dependencies`, as TF1's;
`tf.Print` instead passes its input on. On eager tensors they check or print at once."""
from __future__ import annotations

import sys
import types

import numpy as np

from .. import ops
from ..core.errors import InvalidArgumentError
from ..core.graph import get_default_graph
from ..core.op import apply, as_tensor
from ..core.tensor import EAGER, Tensor
from ..ops.debug import Check, Printer, PrintValues, Template
from .array_ops import reduce_all


def _pieces(data) -> tuple:
    """(templates, tensors): a string of data is text, anything else a tensor ("{}")."""
    items = [] if data is None else data if isinstance(data, (list, tuple)) else [data]
    texts = [f"[{_escape(d)}]" if isinstance(d, str) else
             "[{}]" if as_tensor(d).shape == () else "{}" for d in items]
    return texts, [as_tensor(d) for d in items if not isinstance(d, str)]


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def Assert(condition, data, summarize=None, name=None):  # noqa: N802 (TF1's name)
    """An Operation that raises InvalidArgumentError (listing data's values, the first
    `summarize` entries of each) when run unless every element of condition holds: on
    constants too, a node of the default graph checked when run (TF1's)."""
    return _check(condition, data, summarize, name, static=False)


def _check(condition, data, summarize, name, static: bool):
    """tf.Assert's op; with `static`, known values are checked now instead (None if they
    hold), as TF1's tf.debugging checks do."""
    condition = as_tensor(condition)
    texts, data = _pieces(data)
    template = "assertion failed: " + " ".join(texts)
    describe = Template(template, 3 if summarize is None else summarize)
    known = all(x.kind == EAGER for x in [condition, *data])
    if known and static:
        if not np.all(condition.array):
            raise InvalidArgumentError(describe(condition.array, *(d.array for d in data)))
        return None
    op = Check(describe=describe, error=InvalidArgumentError, passes=False)
    return apply(op, condition, *data, name=name or "Assert",
                 graph=get_default_graph() if known else None)


def Print(input_, data=None, message=None, first_n=None, summarize=None, name=None):  # noqa: N802
    """input_, printing message and data's values (the first `summarize` entries of each,
    3 by default) to stderr each time it is computed (the first `first_n` times if given):
    a node of the graph that prints when run, also on constants (TF1's, as a random op)."""
    x = as_tensor(input_)
    texts, data = _pieces(data)
    template = _escape(message or "") + "".join(texts)
    op = PrintValues(text=Template(template, 3 if summarize is None else summarize),
                  first_n=None if first_n is None or first_n < 0 else first_n, stream=None,
                  passes=True, printer=Printer())
    known = all(t.kind == EAGER for t in [x, *data])
    return apply(op, x, *data, name=name or "Print", graph=get_default_graph() if known else None)


def print_(*inputs, output_stream=None, summarize=3, sep=" ", end="\n", name=None):
    """TF2's `tf.print`: the inputs (tensors, or any value printed as Python prints it)
    joined by sep. Eagerly it prints now; in a graph it is an Operation that prints when
    run. output_stream: sys.stderr (default) or sys.stdout, as TF's."""
    stream = output_stream or sys.stderr
    if summarize is not None and summarize < 0:
        summarize = None
    tensors = [x for x in inputs if isinstance(x, Tensor)]
    pieces = ["{}" if isinstance(x, Tensor) else _escape(str(x)) for x in inputs]
    template = _escape(sep).join(pieces) + _escape(end.removesuffix("\n"))
    text = Template(template, summarize)
    if all(x.kind == EAGER for x in tensors):
        print(text(None, *(x.array for x in tensors)), file=stream)
        return None
    op = PrintValues(text=text, first_n=None, stream=stream, passes=False, printer=Printer())
    return apply(op, *tensors, name=name or "PrintV2")


def _assert_holds(fn: str, holds, x, y, message, summarize, name):
    """tf.debugging's checks: an Assert listing x (and y) when `holds` fails somewhere."""
    data = [f"{message + ': ' if message else ''}{fn} failed: x =", x] + \
        ([] if y is None else ["y =", y])
    return _check(reduce_all(holds), data, summarize, name, static=True)


def _comparison(fn: str, compare):
    def check(x, y, data=None, summarize=None, message=None, name=None):
        x, y = as_tensor(x), as_tensor(y)
        return _assert_holds(fn, compare(x, y), x, y, message, summarize, name)
    check.__name__ = fn
    check.__doc__ = f"TF1's `tf.{fn}(x, y)`: an Assert that the comparison holds everywhere."
    return check


def _sign_check(fn: str, compare):
    def check(x, data=None, summarize=None, message=None, name=None):
        x = as_tensor(x)
        return _assert_holds(fn, compare(x, ops.zeros_like(x)), x, None, message, summarize,
                             name)
    check.__name__ = fn
    check.__doc__ = f"TF1's `tf.{fn}(x)`: an Assert on the sign of every element."
    return check


assert_equal = _comparison("assert_equal", ops.equal)
assert_none_equal = _comparison("assert_none_equal", ops.not_equal)
assert_less = _comparison("assert_less", ops.less)
assert_less_equal = _comparison("assert_less_equal", ops.less_equal)
assert_greater = _comparison("assert_greater", ops.greater)
assert_greater_equal = _comparison("assert_greater_equal", ops.greater_equal)
assert_positive = _sign_check("assert_positive", ops.greater)
assert_negative = _sign_check("assert_negative", ops.less)
assert_non_negative = _sign_check("assert_non_negative", ops.greater_equal)
assert_non_positive = _sign_check("assert_non_positive", ops.less_equal)

debugging = types.SimpleNamespace(
    Assert=Assert, assert_equal=assert_equal, assert_none_equal=assert_none_equal,
    assert_less=assert_less, assert_less_equal=assert_less_equal,
    assert_greater=assert_greater, assert_greater_equal=assert_greater_equal,
    assert_positive=assert_positive, assert_negative=assert_negative,
    assert_non_negative=assert_non_negative, assert_non_positive=assert_non_positive)
