"""Random TF1 graphs for the property tests of the graph rewrites (Hypothesis strategies).

`random_graphs()` draws a `RandomGraph`: placeholders of a few small shapes (broadcasting
ones, a None batch dim), sometimes variables and eager parameters, then a random sequence of
`KINDS`: plain ops of the registry (elementwise, matmul, reductions, reshape, transpose,
softmax, concat, slicing) and, on purpose, the patterns the rewrites look for (x*1 and x+0,
double transposes, reshape chains, a subexpression built twice, log(softmax(x)), Q/K/V
projections of one input, (M1 @ M2) @ v, elementwise chains, softmax cross-entropy, linear +
batch norm, random draws, assigns). The loss sums the values no op read; the graph fetches
those values, the gradients of the loss with respect to every placeholder and variable, and
the assigns.

Each value is also computed eagerly on every feed set as it is drawn (its shadows), so the
generator knows its run-time shapes (a None dim may be n, 2n, ...) and its range: exp only
sees bounded values, log and sqrt positive ones, div safe denominators, and no value leaves
[-LIMIT, LIMIT], so float32 rounding, not overflow, is all that can tell two graphs apart.
The graph's own shape inference decides what is valid statically.
"""
from __future__ import annotations

import functools
import operator

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
from hypothesis import strategies as st

import tinyflow as tf
import tinyflow.nn.functional as F
from tinyflow.core.errors import TinyflowError

LIMIT = 30.0          # values stay in [-LIMIT, LIMIT]
SOFTMAX_SPREAD = 20.0  # log(softmax(x)) only where max(x) - min(x) <= this (no underflow)


@dataclass
class Value:
    """A float value of the graph under construction and its eager shadow per feed set."""
    tensor: object
    shadows: tuple
    name: str

    @property
    def ndim(self) -> int:
        return self.shadows[0].ndim

    @property
    def static(self) -> tuple:
        return tuple(self.tensor.shape)

    def shape(self, k: int) -> tuple:
        return self.shadows[k].shape

    def low(self) -> float:
        return min(float(s.min()) if s.size else 0.0 for s in self.shadows)

    def high(self) -> float:
        return max(float(s.max()) if s.size else 0.0 for s in self.shadows)

    def magnitude(self) -> float:
        return max(abs(self.low()), abs(self.high()))


@dataclass(repr=False)
class RandomGraph:
    """A drawn graph: run `fetches + assigns` with each of `feeds` in turn, calling
    `between_runs()` after each run (it changes the eager parameters the graph reads)."""
    graph: object
    feeds: list                      # one {placeholder: array} per feed set
    fetches: list                    # sinks, loss, gradients
    assigns: list                    # assign outputs (stateful)
    variables: list                  # whose values after each run must match too
    params: list                     # eager tensors the graph reads (changed between runs)
    listing: str
    kinds: list = field(default_factory=list)

    def between_runs(self) -> None:
        for p in self.params:
            p.data[...] = np.tanh(p.data + 0.5)   # in place: the graph reads it by reference

    def __repr__(self) -> str:
        return self.listing

    def _repr_pretty_(self, printer, cycle) -> None:   # how Hypothesis prints an example
        printer.text(self.listing)


class Builder:
    """The state of one draw: the graph, the values ops may read, the listing."""

    def __init__(self, draw, batches: tuple, seed: int) -> None:
        self.draw = draw
        self.batches = batches
        self.rng = np.random.default_rng(seed)
        self.graph = tf.Graph()
        self.pool: list[Value] = []
        self.feeds: list[dict] = [{} for _ in batches]
        self.placeholders: list = []
        self.variables: list = []
        self.params: list = []
        self.assigns: list = []
        self.assigned: set = set()
        self.read: set = set()
        self.lines: list[str] = []
        self.ops: list[tuple] = []     # (text, fn, operands, value) of each op line, for CSE
        self.kinds: list[str] = []
        self.differentiate = True      # False: an inference graph (no gradients fetched)

    # ---- drawing helpers ---------------------------------------------------------------
    def pick(self, candidates: list, label: str = ""):
        return self.draw(st.sampled_from(candidates), label=label) if candidates else None

    def flag(self) -> bool:
        return self.draw(st.booleans())

    def fresh_name(self) -> str:
        return f"v{len(self.pool)}"

    def random_array(self, shape, low=-1.0, high=1.0) -> np.ndarray:
        return np.asarray(self.rng.uniform(low, high, shape), np.float32)

    # ---- inputs --------------------------------------------------------------------------
    def placeholder(self, static: tuple, make: Optional[Callable] = None, rows=None) -> Value:
        """A placeholder; None dims are fed the batch size of each feed set (or `rows[k]`)."""
        with self.graph.as_default():
            ph = tf.placeholder(tf.float32, list(static))
        shadows = []
        for k, n in enumerate(self.batches):
            shape = tuple((n if rows is None else rows[k]) if d is None else d for d in static)
            value = (make or self.random_array)(shape)
            self.feeds[k][ph] = value
            shadows.append(value)
        self.placeholders.append(ph)
        return self.add(ph, tuple(shadows), f"tf.placeholder(tf.float32, {list(static)})")

    def variable(self, shape: tuple) -> Value:
        initial = self.random_array(shape)
        with self.graph.as_default():
            var = tf.Variable(initial)
        self.variables.append(var)
        return self.add(var, (initial,) * len(self.batches), f"tf.Variable(<{shape} array>)")

    def param(self, shape: tuple) -> Value:
        """An eager tensor the graph reads by reference (as a Module's parameter)."""
        p = tf.tensor(self.random_array(shape))
        self.params.append(p)
        before = p.numpy().copy()
        after = np.tanh(before + 0.5)    # what `between_runs` makes of it
        return self.add(p, (before,) + (after,) * (len(self.batches) - 1),
                        f"eager parameter <{shape} array>")

    def constant(self, shape: tuple, low=-1.0, high=1.0) -> Value:
        value = self.random_array(shape, low, high)
        return self.add(tf.constant(value), (value,) * len(self.batches),
                        f"tf.constant(<{shape} array>)")

    def weight(self, shape: tuple) -> Value:
        """A new input of a static shape: a variable, a constant or an eager parameter."""
        how = self.pick(["variable", "constant", "param"], "weight")
        return getattr(self, how)(shape)

    def add(self, tensor, shadows: tuple, text: str) -> Value:
        value = Value(tensor, tuple(np.asarray(s) for s in shadows), self.fresh_name())
        self.pool.append(value)
        self.lines.append(f"{value.name} = {text}")
        return value

    # ---- ops -----------------------------------------------------------------------------
    def op(self, text: str, fn: Callable, *operands: Value) -> Optional[Value]:
        """Add `fn(*operands)` (text: its spelling, `{0}`... naming the operands) if it is valid
        statically and on every feed set and stays in range; else add nothing, return None."""
        try:
            with self.graph.as_default():
                tensor = fn(*[v.tensor for v in operands])
            shadows = tuple(np.asarray(fn(*[tf.tensor(v.shadows[k]) for v in operands]).numpy())
                            for k in range(len(self.batches)))
        except (TinyflowError, ValueError, TypeError, IndexError):
            return None
        if not all(np.all(np.isfinite(s)) and np.all(np.abs(s) <= LIMIT) for s in shadows):
            return None
        self.read.update(v.name for v in operands)
        value = self.add(tensor, shadows, text.format(*[v.name for v in operands]))
        self.ops.append((text, fn, operands, value))
        return value

    def matching(self, a: Value, accept: Callable) -> list:
        """Values `b` of the pool with `accept(shape of a, shape of b)` on every feed set."""
        return [b for b in self.pool
                if all(accept(a.shape(k), b.shape(k)) for k in range(len(self.batches)))]

    def broadcasting(self, a: Value) -> list:
        return self.matching(a, _broadcasts)

    def values(self, where: Callable = lambda v: True) -> list:
        return [v for v in self.pool if where(v)]


def _broadcasts(s: tuple, t: tuple) -> bool:
    try:
        np.broadcast_shapes(s, t)
        return True
    except ValueError:
        return False


def _index_text(index: tuple) -> str:
    parts = []
    for i in index:
        if isinstance(i, slice):
            parts.append(":" if i == slice(None) else f"{i.start}:{i.stop}")
        else:
            parts.append(str(i))
    return ", ".join(parts)


# ---- kinds: each draws one op or pattern into the builder; False if nothing fitted ------

UNARY = {   # spelling -> (function, which operands it accepts)
    "tf.negative": (tf.negative, lambda v: True),
    "tf.tanh": (tf.tanh, lambda v: True),
    "tf.sigmoid": (tf.sigmoid, lambda v: True),
    "tf.nn.relu": (tf.nn.relu, lambda v: True),
    "F.gelu": (F.gelu, lambda v: True),
    "tf.square": (tf.square, lambda v: v.magnitude() <= 5),
    "tf.exp": (tf.exp, lambda v: v.high() <= 3),
    "tf.log": (tf.log, lambda v: v.low() >= 0.05),
    "tf.sqrt": (tf.sqrt, lambda v: v.low() >= 0.05),
}

BINARY = {   # spelling -> (function, which right operands it accepts)
    "+": (lambda a, b: a + b, lambda v: True),
    "-": (lambda a, b: a - b, lambda v: True),
    "*": (lambda a, b: a * b, lambda v: True),
    "/": (lambda a, b: a / b, lambda v: all(np.all(np.abs(s) >= 0.5) for s in v.shadows)),
    "tf.maximum": (tf.maximum, lambda v: True),
    "tf.minimum": (tf.minimum, lambda v: True),
}


def unary(b: Builder) -> bool:
    name = b.pick(sorted(UNARY), "unary")
    fn, accepts = UNARY[name]
    v = b.pick(b.values(accepts), name)
    return v is not None and b.op(f"{name}({{0}})", fn, v) is not None


def binary(b: Builder) -> bool:
    name = b.pick(sorted(BINARY), "binary")
    fn, accepts = BINARY[name]
    a = b.pick(b.pool, "left")
    right = b.pick([v for v in b.broadcasting(a) if accepts(v)], "right")
    if right is None:
        return False
    text = f"{{0}} {name} {{1}}" if len(name) == 1 else f"{name}({{0}}, {{1}})"
    return b.op(text, fn, a, right) is not None


def scalar(b: Builder) -> bool:
    """A value with a Python number: the number becomes an eager scalar in the graph."""
    a = b.pick(b.pool, "value")
    c = b.draw(st.sampled_from([0.5, 2.0, -1.5, 0.25]))
    form = b.pick(["{0} * c", "c * {0}", "{0} + c", "c - {0}", "{0} / c"], "form")
    fn = {"{0} * c": lambda x: x * c, "c * {0}": lambda x: c * x, "{0} + c": lambda x: x + c,
          "c - {0}": lambda x: c - x, "{0} / c": lambda x: x / c}[form]
    return b.op(form.replace("c", repr(c)), fn, a) is not None


def _contraction_fits(ta: bool, tb: bool):
    def accept(s: tuple, t: tuple) -> bool:
        if len(s) < 2 or len(t) != len(s):
            return False
        inner_a = s[-2] if ta else s[-1]
        inner_b = t[-1] if tb else t[-2]
        return inner_a == inner_b and s[:-2] == t[:-2]
    return accept


def matmul(b: Builder) -> bool:
    a = b.pick(b.values(lambda v: v.ndim >= 2), "left")
    if a is None:
        return False
    ta, tb = b.flag(), b.flag()
    right = b.pick(b.matching(a, _contraction_fits(ta, tb)), "right")
    inner = a.static[-2] if ta else a.static[-1]
    if right is None and a.ndim == 2 and inner is not None:
        width = b.pick([1, 2, 3], "width")
        right = b.weight((width, inner) if tb else (inner, width))
    if right is None:
        return False
    return b.op(f"tf.matmul({{0}}, {{1}}, transpose_a={ta}, transpose_b={tb})",
                lambda x, y: tf.matmul(x, y, transpose_a=ta, transpose_b=tb), a, right) is not None


def reduction(b: Builder) -> bool:
    name = b.pick(["reduce_sum", "reduce_mean", "reduce_max"], "reduction")
    a = b.pick(b.values(lambda v: v.ndim >= 1), "value")
    if a is None:
        return False
    axis = b.pick([None] + list(range(-a.ndim, a.ndim)), "axis")
    keep = b.flag()
    fn = getattr(tf, name)
    return b.op(f"tf.{name}({{0}}, axis={axis}, keepdims={keep})",
                lambda x: fn(x, axis=axis, keepdims=keep), a) is not None


def _reshape_targets(v: Value) -> list:
    """Target shapes valid on every feed set: -1 absorbs what depends on the batch."""
    targets = [[-1], [-1, 1]]
    if v.ndim >= 1 and v.static[-1] is not None:
        last = v.static[-1]
        targets.append([-1, last])
        targets.append([-1, 1, last])
        targets += [[-1, f, last // f] for f in (2, 3) if last % f == 0 and last > f]
    if all(d is not None for d in v.static):
        targets.append(list(v.static) + [1])
        targets.append([int(np.prod(v.static))])
    return targets


def reshape(b: Builder) -> bool:
    a = b.pick(b.pool, "value")
    target = b.pick(_reshape_targets(a), "shape")
    return b.op(f"tf.reshape({{0}}, {target})", lambda x: tf.reshape(x, target), a) is not None


def reshape_chain(b: Builder) -> bool:
    """reshape(reshape(x, s), back): the rewrite folds it into one (or none)."""
    a = b.pick(b.values(lambda v: sum(d is None for d in v.static) <= 1), "value")
    if a is None:
        return False
    first = b.pick(_reshape_targets(a), "shape")
    back = [-1 if d is None else d for d in a.static]
    mid = b.op(f"tf.reshape({{0}}, {first})", lambda x: tf.reshape(x, first), a)
    return mid is not None and b.op(f"tf.reshape({{0}}, {back})",
                                    lambda x: tf.reshape(x, back), mid) is not None


def transpose(b: Builder) -> bool:
    a = b.pick(b.values(lambda v: v.ndim >= 2), "value")
    if a is None:
        return False
    perm = list(b.draw(st.permutations(range(a.ndim))))
    return b.op(f"tf.transpose({{0}}, perm={perm})",
                lambda x: tf.transpose(x, perm=perm), a) is not None


def double_transpose(b: Builder) -> bool:
    """transpose(transpose(x, p), q), q often p's inverse: the rewrite cancels or merges."""
    a = b.pick(b.values(lambda v: v.ndim >= 2), "value")
    if a is None:
        return False
    p = list(b.draw(st.permutations(range(a.ndim))))
    q = list(np.argsort(p)) if b.flag() else list(b.draw(st.permutations(range(a.ndim))))
    q = [int(i) for i in q]
    mid = b.op(f"tf.transpose({{0}}, perm={p})", lambda x: tf.transpose(x, perm=p), a)
    return mid is not None and b.op(f"tf.transpose({{0}}, perm={q})",
                                    lambda x: tf.transpose(x, perm=q), mid) is not None


def transposed_matmul(b: Builder) -> bool:
    """matmul(transpose(a), b): the rewrite moves the transpose into matmul's flags."""
    a = b.pick(b.values(lambda v: v.ndim == 2), "left")
    if a is None:
        return False
    at = b.op("tf.transpose({0})", tf.transpose, a)
    if at is None:
        return False
    right = b.pick(b.matching(at, _contraction_fits(False, False)), "right")
    if right is None:
        return False
    if b.flag():
        return b.op("tf.matmul({0}, {1})", tf.matmul, at, right) is not None
    rt = b.op("tf.transpose({0})", tf.transpose, right)
    return rt is not None and b.op("tf.matmul({0}, tf.transpose({1}))",
                                   lambda x, y: tf.matmul(x, tf.transpose(y)), at, rt) is not None


def identity(b: Builder) -> bool:
    """x*1, 1*x, x+0, 0+x, x/1, x-0, x*ones (that may also broadcast x to a larger shape),
    x + zeros_like(x): the simplifier drops them where the shape stays the same."""
    a = b.pick(b.pool, "value")
    forms = {"{0} * 1.0": lambda x: x * 1.0, "1.0 * {0}": lambda x: 1.0 * x,
             "{0} + 0.0": lambda x: x + 0.0, "0.0 + {0}": lambda x: 0.0 + x,
             "{0} / 1.0": lambda x: x / 1.0, "{0} - 0.0": lambda x: x - 0.0,
             "{0} * tf.constant(1.0)": lambda x: x * tf.constant(1.0),
             "{0} + tf.zeros_like({0})": lambda x: x + tf.zeros_like(x)}
    if all(d is not None for d in a.static):
        ones, wider = np.ones(a.static, np.float32), np.ones((2,) + a.static, np.float32)
        forms["{0} * ones(its shape)"] = lambda x: x * tf.constant(ones)
        forms["ones((2,) + its shape) * {0}"] = lambda x: tf.constant(wider) * x
    form = b.pick(sorted(forms), "form")
    return b.op(form, forms[form], a) is not None


def repeat(b: Builder) -> bool:
    """An op line built again on the same inputs (CSE merges the two), often both used."""
    if not b.ops:
        return False
    text, fn, operands, first = b.pick(b.ops, "repeated")
    again = b.op(text, fn, *operands)
    if again is not None and b.flag():
        b.op("{0} + {1}", lambda x, y: x + y, first, again)
    return again is not None


def softmax(b: Builder) -> bool:
    name = b.pick(["softmax", "log_softmax"], "softmax")
    a = b.pick(b.values(lambda v: v.ndim >= 1), "logits")
    if a is None:
        return False
    axis = b.pick(list(range(-a.ndim, a.ndim)), "axis")
    fn = getattr(tf.nn, name)
    return b.op(f"tf.nn.{name}({{0}}, axis={axis})", lambda x: fn(x, axis=axis), a) is not None


def _spread(v: Value) -> float:
    return v.high() - v.low()


def log_softmax_pattern(b: Builder) -> bool:
    """log(softmax(x)): the stable rewrite makes it log_softmax(x)."""
    a = b.pick(b.values(lambda v: v.ndim >= 1 and _spread(v) <= SOFTMAX_SPREAD), "logits")
    if a is None:
        return False
    axis = b.pick([-1] + list(range(a.ndim)), "axis")
    s = b.op(f"tf.nn.softmax({{0}}, axis={axis})", lambda x: tf.nn.softmax(x, axis=axis), a)
    return s is not None and b.op("tf.log({0})", tf.log, s) is not None


def cross_entropy(b: Builder) -> bool:
    """-reduce_sum(y * log(softmax(x)), 1) as the seed writes it (or the fused TF1 op), with
    one-hot labels fed for every row: the stable rewrite makes it the fused op."""
    a = b.pick(b.values(lambda v: v.ndim == 2 and v.static[1] is not None
                        and _spread(v) <= SOFTMAX_SPREAD), "logits")
    if a is None:
        return False
    classes = a.static[1]
    rows = [a.shape(k)[0] for k in range(len(b.batches))]

    def one_hot(shape):
        return np.eye(classes, dtype=np.float32)[b.rng.integers(0, classes, shape[0])]
    y = b.placeholder((a.static[0], classes), one_hot, rows)
    if b.flag():
        s = b.op("tf.nn.softmax({0})", tf.nn.softmax, a)
        logp = s and b.op("tf.log({0})", tf.log, s)
        prod = logp and b.op("{0} * {1}", lambda p, q: p * q, y, logp)
        loss = prod and b.op("-tf.reduce_sum({0}, reduction_indices=[1])",
                             lambda p: -tf.reduce_sum(p, reduction_indices=[1]), prod)
    else:
        loss = b.op("tf.nn.softmax_cross_entropy_with_logits(labels={0}, logits={1})",
                    lambda p, q: tf.nn.softmax_cross_entropy_with_logits(labels=p, logits=q),
                    y, a)
    return loss is not None and (not b.flag() or b.op("tf.reduce_mean({0})", tf.reduce_mean,
                                                      loss) is not None)


def _two_d(b: Builder, label: str) -> Optional[Value]:
    return b.pick(b.values(lambda v: v.ndim == 2 and v.static[1] is not None), label)


def shared_input_matmuls(b: Builder) -> bool:
    """Q, K, V = h @ Wq, h @ Wk, h @ Wv: the rewrite makes one matmul of the joined weights."""
    h = _two_d(b, "h")
    if h is None:
        return False
    width = b.pick([2, 3], "width")
    outs = []
    for name in "qkv":
        w = b.weight((h.static[1], width))
        out = b.op(f"tf.matmul({{0}}, {{1}})  # {name}", tf.matmul, h, w)
        if out is None:
            return False
        outs.append(out)
    if b.flag():
        q, k, v = outs
        mixed = b.op("{0} * {1}", lambda x, y: x * y, q, k)
        return mixed is not None and b.op("{0} + {1}", lambda x, y: x + y, mixed, v) is not None
    return True


def matmul_chain(b: Builder) -> bool:
    """(M1 @ M2) @ v with a column v: re-associated to M1 @ (M2 @ v) by FLOPs where the shapes
    are static and nothing else reads M1 @ M2 (a gradient with respect to v would: so v is
    often a constant or an eager parameter, which the gradients leave alone)."""
    if b.flag():
        m1 = b.placeholder((b.pick([3, 4], "rows"), b.pick([2, 3, 4], "columns")))
    else:
        m1 = _two_d(b, "M1")
    if m1 is None:
        return False
    inner = b.pick([2, 3, 4], "inner")
    m2 = b.weight((m1.static[1], inner))
    how = b.pick(["constant", "param", "variable", "placeholder"], "v")
    v = getattr(b, how)((inner, 1))
    m12 = b.op("tf.matmul({0}, {1})", tf.matmul, m1, m2)
    return m12 is not None and b.op("tf.matmul({0}, {1})", tf.matmul, m12, v) is not None


def elementwise_chain(b: Builder) -> bool:
    """E = D + (A + B) * C, as the lectures write it: one fused kernel."""
    a = b.pick(b.pool, "A")
    names = []
    value = a
    for op_name, fn in (("+", lambda x, y: x + y), ("*", lambda x, y: x * y),
                        ("+", lambda x, y: y + x)):
        other = b.pick(b.broadcasting(value), "operand")
        text = "{1} + {0}" if len(names) == 2 else f"{{0}} {op_name} {{1}}"
        value = b.op(text, fn, value, other)
        if value is None:
            return bool(names)
        names.append(value.name)
    return True


def bias_activation(b: Builder) -> bool:
    """relu(x @ W + b): a linear layer, the bias and activation fused."""
    x = _two_d(b, "x")
    if x is None:
        return False
    width = b.pick([2, 3, 4], "width")
    w, bias = b.weight((x.static[1], width)), b.weight((width,))
    h = b.op("tf.matmul({0}, {1})", tf.matmul, x, w)
    h = h and b.op("{0} + {1}", lambda p, q: p + q, h, bias)
    act = b.pick(["tf.nn.relu", "tf.tanh", "F.gelu"], "activation")
    return h is not None and b.op(f"{act}({{0}})", UNARY[act][0], h) is not None


def linear_batch_norm(b: Builder) -> bool:
    """x @ W + b, then batch norm with fixed statistics (inference): the rewrite folds it
    into the matmul's weights and bias."""
    x = _two_d(b, "x")
    if x is None:
        return False
    width = b.pick([2, 3], "width")
    w, bias = b.weight((x.static[1], width)), b.weight((width,))
    h = b.op("tf.matmul({0}, {1})", tf.matmul, x, w)
    h = h and b.op("{0} + {1}", lambda p, q: p + q, h, bias)
    if h is None:
        return False
    mean, var = b.weight((width,)), b.constant((width,), 0.5, 1.5)
    gamma, beta = b.weight((width,)), b.weight((width,))
    if b.flag():
        return b.op("F.batch_norm({0}, {1}, {2}, {3}, {4}, training=False)",
                    lambda *t: F.batch_norm(*t, training=False),
                    h, mean, var, gamma, beta) is not None
    return b.op("tf.nn.batch_normalization({0}, {1}, {2}, {3}, {4}, 1e-3)",
                lambda p, m, s, o, g: tf.nn.batch_normalization(p, m, s, o, g, 1e-3),
                h, mean, var, beta, gamma) is not None


def layer_norm(b: Builder) -> bool:
    """Layer norm by hand (reductions fed by elementwise ops), F.layer_norm, or two pre-norm
    residual blocks y = x + gelu(F.layer_norm(x, (width,), w, c) + u), y + tanh(
    F.layer_norm(y, ...)) of a static x: x's and y's gradients add the residual's to the
    layer norm's (the residual_grads rewrite), u's sums the GELU gradient (bias_grads), the
    second layer norm reads an add (add_layer_norm)."""
    a = b.pick(b.values(lambda v: v.ndim >= 1 and v.static[-1] is not None
                        and v.static[-1] >= 2), "value")
    if a is None:
        return False
    width = a.static[-1]
    how = b.pick(["functional", "by hand", "residual"], "spelling")
    if how == "functional":
        return b.op(f"F.layer_norm({{0}}, ({width},))",
                    lambda x: F.layer_norm(x, (width,)), a) is not None
    if how == "residual":
        if None in a.static:
            return False
        w, c, u = (b.variable((width,)) for _ in range(3))
        y = b.op(f"{{0}} + F.gelu(F.layer_norm({{0}}, ({width},), {{1}}, {{2}}) + {{3}})",
                 lambda x, w_, c_, u_: x + F.gelu(F.layer_norm(x, (width,), w_, c_) + u_),
                 a, w, c, u)
        return y is not None and b.op(
            f"{{0}} + tf.tanh(F.layer_norm({{0}}, ({width},), {{1}}, {{2}}))",
            lambda y_, w_, c_: y_ + tf.tanh(F.layer_norm(y_, (width,), w_, c_)),
            y, w, c) is not None
    mean = b.op("tf.reduce_mean({0}, axis=-1, keepdims=True)",
                lambda x: tf.reduce_mean(x, axis=-1, keepdims=True), a)
    centred = mean and b.op("{0} - {1}", lambda x, m: x - m, a, mean)
    var = centred and b.op("tf.reduce_mean(tf.square({0}), axis=-1, keepdims=True)",
                           lambda c: tf.reduce_mean(tf.square(c), axis=-1, keepdims=True),
                           centred)
    return var is not None and b.op("{0} / tf.sqrt({1} + 1e-3)",
                                    lambda c, s: c / tf.sqrt(s + 1e-3), centred, var) is not None


def concat(b: Builder) -> bool:
    a = b.pick(b.values(lambda v: v.ndim >= 1), "first")
    if a is None:
        return False
    axis = b.pick(list(range(a.ndim)), "axis")

    def same_but_axis(s, t):
        return len(s) == len(t) and all(i == axis or x == y for i, (x, y) in
                                        enumerate(zip(s, t)))
    other = b.pick(b.matching(a, same_but_axis), "second")
    return b.op(f"tf.concat([{{0}}, {{1}}], {axis})",
                lambda x, y: tf.concat([x, y], axis), a, other) is not None


def slicing(b: Builder) -> bool:
    a = b.pick(b.values(lambda v: v.ndim >= 1), "value")
    if a is None:
        return False
    axis = b.pick(list(range(a.ndim)), "axis")
    size = min(a.shape(k)[axis] for k in range(len(b.batches)))
    if size < 1:
        return False
    start = b.draw(st.integers(0, size - 1))
    if b.flag():
        stop = b.draw(st.integers(start + 1, size))
        item = slice(start, stop)
    else:
        item = start
    index = (slice(None),) * axis + (item,)
    return b.op(f"{{0}}[{_index_text(index)}]", lambda x: x[index], a) is not None


def random_pair(b: Builder) -> bool:
    """Two identical random draws: stateful, so never merged, dropped or reordered."""
    fixed = b.values(lambda v: all(d is not None for d in v.static) and v.ndim >= 1)
    shape = b.pick(sorted({v.static for v in fixed}) + [(3,)], "shape")
    made = []
    for _ in range(2):
        with b.graph.as_default():
            r = tf.random_uniform(list(shape))
        made.append(b.add(r, tuple(b.random_array(shape, 0.0, 1.0) for _ in b.batches),
                          f"tf.random_uniform({list(shape)})"))
    b.op("{0} - {1}", lambda x, y: x - y, *made)
    return True


def assign(b: Builder) -> bool:
    """v <- f(v, u): stateful; every read in the run sees the old value."""
    variables = {id(t) for t in b.variables}
    var = b.pick([v for v in b.pool if id(v.tensor) in variables
                  and id(v.tensor) not in b.assigned], "variable")
    if var is None:
        shapes = sorted({v.static for v in b.pool if None not in v.static} | {(3,)})
        var = b.variable(b.pick(shapes, "shape"))
    u = b.pick(b.matching(var, lambda s, t: _broadcasts(t, s)
                          and np.broadcast_shapes(s, t) == s), "update")
    if u is None:
        return False
    step = b.op("0.1 * tf.tanh({0})", lambda x: 0.1 * tf.tanh(x), u)
    if step is None:
        return False
    how = b.pick(["assign", "assign_add", "assign_sub"], "how")
    if how == "assign":
        new = b.op("{0} * 0.9 - {1}", lambda v, s: v * 0.9 - s, var, step)
        if new is None:
            return False
        operands = (var, new)
    else:
        operands = (var, step)
    fn = getattr(tf, how)
    with b.graph.as_default():
        out = fn(operands[0].tensor, operands[1].tensor)
    b.assigned.add(id(var.tensor))
    b.assigns.append(out)
    b.read.update(v.name for v in operands)
    b.lines.append(f"assign{len(b.assigns) - 1} = tf.{how}({operands[0].name}, "
                   f"{operands[1].name})")
    b.op("tf.tanh({0})  # a read after the assign: still the old value", tf.tanh, var)
    return True


KINDS: dict[str, Callable[[Builder], bool]] = {
    "unary": unary, "binary": binary, "scalar": scalar, "matmul": matmul,
    "reduction": reduction, "reshape": reshape, "transpose": transpose, "softmax": softmax,
    "concat": concat, "slicing": slicing,
    # the patterns the rewrites target
    "identity": identity, "double_transpose": double_transpose,
    "reshape_chain": reshape_chain, "transposed_matmul": transposed_matmul,
    "repeat": repeat, "log_softmax_pattern": log_softmax_pattern,
    "cross_entropy": cross_entropy, "shared_input_matmuls": shared_input_matmuls,
    "matmul_chain": matmul_chain, "elementwise_chain": elementwise_chain,
    "bias_activation": bias_activation, "linear_batch_norm": linear_batch_norm,
    "layer_norm": layer_norm, "random_pair": random_pair, "assign": assign,
}

# The registry ops the kinds build (tests check each is registered, so that a renamed op
# shows up here rather than as a silently narrower test).
REGISTRY_OPS = ("neg", "tanh", "sigmoid", "relu", "gelu", "square", "exp", "log", "sqrt",
                "add", "sub", "mul", "div", "maximum", "minimum", "matmul", "sum", "max",
                "reshape", "transpose", "softmax", "log_softmax", "concat", "getitem",
                "zeros_like", "softmax_cross_entropy", "random_uniform", "assign", "normalize")

# Extra inputs a graph may start with, besides x [None, d].
INPUTS = ("same", "row", "column", "scalar", "matrix", "cube", "variable", "param")


def _inputs(b: Builder, d: int, e: int) -> None:
    b.placeholder((None, d))
    extra = b.draw(st.lists(st.sampled_from(INPUTS), max_size=3, unique=True), label="inputs")
    for what in extra:
        if what == "same":
            b.placeholder((None, d))
        elif what == "row":
            b.placeholder((d,))
        elif what == "column":
            b.placeholder((None, 1))
        elif what == "scalar":
            b.placeholder(())
        elif what == "matrix":
            b.placeholder((d, e))
        elif what == "cube":
            b.placeholder((None, d, e))
        elif what == "variable":
            b.variable((d, e) if b.flag() else (d,))
        else:
            b.param((d, e) if b.flag() else (d,))


@st.composite
def random_graphs(draw, max_ops: int = 12) -> RandomGraph:
    """A random graph of up to `max_ops` kinds over two feed sets of different batch sizes."""
    n = draw(st.integers(1, 3), label="batch")
    seed = draw(st.integers(0, 2 ** 32 - 1), label="seed")
    b = Builder(draw, (n, n + 2), seed)
    b.differentiate = draw(st.integers(0, 3), label="inference only if 0") > 0
    d, e = draw(st.sampled_from([2, 3, 4])), draw(st.sampled_from([2, 3]))
    _inputs(b, d, e)
    # kinds in an order from a seeded generator, none twice before all have come: every
    # kind must come up about as often, and Hypothesis' own choices favour the first entries
    ops = draw(st.integers(1, max_ops), label="ops")
    mixed = np.random.default_rng([seed, draw(st.integers(0, 2 ** 32 - 1)), n, d, e, ops,
                                   len(b.pool)])   # Hypothesis repeats its seeds often
    order = list(mixed.permutation(sorted(KINDS)))
    for _ in range(ops):
        kind = str(order.pop()) if order else "repeat"
        if KINDS[kind](b):
            b.kinds.append(kind)
    if not b.ops:
        b.op("tf.tanh({0})", tf.tanh, b.pool[0])
    return _finish(b)


def _finish(b: Builder) -> RandomGraph:
    """The loss (sum of squares of the values no op read), gradients, fetches."""
    sinks = [v for v in b.pool if v.name not in b.read and v.tensor.kind == "node"]
    with b.graph.as_default():
        loss = functools.reduce(operator.add, [0.5 * tf.reduce_sum(tf.square(v.tensor))
                                               for v in sinks]) if sinks else None
        targets = b.placeholders + b.variables
        grads = [] if loss is None or not b.differentiate else [
            g for g in tf.gradients(loss, targets) if g is not None]
    b.lines.append("loss = sum of 0.5 * reduce_sum(square(s)) over " +
                   ", ".join(v.name for v in sinks))
    b.lines.append(f"fetch {', '.join(v.name for v in sinks)}, loss, {len(grads)} gradient(s)"
                   f"{'' if b.differentiate else ' (inference only)'}"
                   f"{', ' + str(len(b.assigns)) + ' assign(s)' if b.assigns else ''}; "
                   f"batches {b.batches}")
    fetches = [v.tensor for v in sinks] + ([loss] if loss is not None else []) + grads
    return RandomGraph(b.graph, b.feeds, fetches, b.assigns, b.variables, b.params,
                       "\n".join(b.lines), b.kinds)

