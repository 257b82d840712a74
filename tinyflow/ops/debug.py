"""Checks and prints that run with the graph: TF1's `tf.Assert` and `tf.Print` / `tf.print`,
and the checks of values the graph cannot see while it is built (the functions of
symbolic/array_ops.py check their indices with `checked`).

Each is one op whose kernel tests or prints its inputs' values when it runs. With `passes`
the op's value is its first input (a view, so no copy): a reader of that value runs after
the check or print. Without it the op is an Operation (no value), which a program runs by
fetching it or through `tf.control_dependencies`, as TF1's."""
from __future__ import annotations

import numpy as np

from ..core.errors import InvalidArgumentError
from ..core.op import Op, apply, as_tensor
from ..core.tensor import Tensor
from .dataset import HostState


class Check(Op):
    """Raise `error(describe(condition, *data))` (with their values) unless every element of
    `condition` holds. Inputs: [the value passed on, if `passes`], condition, data."""
    name = "assert"
    stateful = True          # never folded, merged or dropped while its value is read
    view = True
    saves_inputs = False
    saves_output = False
    describe: object         # (condition, *data) -> the message, e.g. a `Template`
    error: type
    passes: bool

    def infer(self, *inputs):
        condition = inputs[1 if self.passes else 0]
        if condition.dtype.name != "bool":
            raise TypeError(f"condition must be a bool tensor, got {condition.dtype.name}")
        return (inputs[0].shape, inputs[0].dtype) if self.passes else ((), None)

    def vjp(self, g, out, *inputs):
        return (g,) + (None,) * (len(inputs) - 1)


class PrintValues(Op):
    """Write `text(None, *data)` (a `Template` of data's values) to `stream` (sys.stderr
    when None) each run, the first `first_n` runs only if given. Inputs: [the value passed
    on, if `passes`], data."""
    name = "print"
    stateful = True
    view = True
    saves_inputs = False
    saves_output = False
    text: object
    first_n: object          # None: every run
    stream: object
    passes: bool
    printer: "Printer"

    def infer(self, *inputs):
        return (inputs[0].shape, inputs[0].dtype) if self.passes else ((), None)

    def vjp(self, g, out, *inputs):
        return (g,) + (None,) * (len(inputs) - 1)


class Printer(HostState):
    """A PrintValues op's count of prints (for first_n); a plan's recording run, which a
    real run follows, prints nothing (snapshot mutes, restore unmutes)."""

    def __init__(self) -> None:
        self.runs, self.muted = 0, False

    def snapshot(self):
        self.muted = True
        return self.runs

    def restore(self, saved) -> None:
        self.runs, self.muted = saved, False


class Template:
    """A message of data's values: template.format(*their `show`s)."""

    def __init__(self, template: str, summarize) -> None:
        self.template, self.summarize = template, summarize

    def __call__(self, condition, *data) -> str:
        return self.template.format(*(show(v, self.summarize) for v in data))


def checked(x, condition, describe, *data, error: type = InvalidArgumentError,
            name=None) -> Tensor:
    """x, once condition holds everywhere when run; else `error(describe(condition's value,
    *data's values))`."""
    op = Check(describe=describe, error=error, passes=True)
    return apply(op, as_tensor(x), as_tensor(condition), *map(as_tensor, data), name=name)


def show(value, summarize) -> str:
    """A value as TF prints it: a scalar as itself, an array flattened in brackets, past
    `summarize` entries (None: all) cut with '...'."""
    a = np.asarray(value)
    if a.ndim == 0:
        return str(a.item())
    flat = a.reshape(-1)
    shown = flat if summarize is None else flat[:summarize]
    return "[" + " ".join(str(v) for v in shown.tolist()) + \
        ("..." if len(shown) < flat.size else "") + "]"
