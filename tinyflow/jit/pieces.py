"""Graph breaks as compiled pieces with eager glue.

Data-dependent Python on a traced tensor (`loss.item()`, `.numpy()`, `bool`, printing) needs
a value while the function is being traced. The trace goes on through it: the nodes made
since the previous break are one *piece*, run as a compiled plan whose fetches are the value
asked for and the values later pieces read (the live values at the break); Python gets the
value and continues (the eager glue), and the tracer keeps recording the rest.

A function with breaks is traced again on every call, so its Python (prints, branches on the
value, appends to lists) runs as often as eagerly; only the planning is cached. A piece's
plan is cached by its *signature*: the ops, shapes and inputs of its nodes (graph inputs by
position in the trace, captured tensors by identity, small constants by value). A branch on
a break value makes another signature (another piece) only for the branch taken; a break
value used as a number (`x * loss.item()`) becomes a constant, keyed by value, as
torch.compile specializes on it. The first time a piece is met, or when a new path needs a
value a cached piece does not fetch, the values are computed by the kernels one node at a
time (`_interpret`, eager speed) and the piece is planned at the end of the call, when it is
known which of its values later pieces read.

Writes (optimizer steps, in-place ops, `.grad`) stay deferred to the end of the call as
without breaks, so a piece never changes state and can be re-run; a random op re-computed
for a new path draws again (the one way a first call on a new path can differ from eager).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
from typing import Callable, Optional

import numpy as np

from ..core.errors import user_site
from ..core.kernels import numpy_kernels
from ..core.modes import trace_state
from ..core.tensor import PLACEHOLDER, Tensor
from ..passes.program import is_literal

_SMALL = 64    # constants up to this many elements are keyed by their bytes, larger by hash


@dataclasses.dataclass
class Piece:
    """The plan of the nodes between two breaks: feeds and fetches are trace positions."""
    plan: Optional[object]
    feeds: list
    fetches: list


class Splitter:
    """One call's pieces: the values computed so far (by trace position) and the breaks."""

    def __init__(self, tracer, cache: dict) -> None:
        self.tracer, self.cache = tracer, cache
        self.nodes = tracer.graph.nodes
        self.index: dict[int, int] = {}     # id(node) -> position in the trace
        self.sigs: list = []                # per position: what makes the node the same
        self.values: dict[int, np.ndarray] = {}
        self.start = 0                      # first position of the piece being traced
        self.segments: list = []            # (start, end, signature key) of each piece
        self.targets: list[int] = []        # the position each break asked for
        self.breaks: list = []              # (file:line, reason), in order
        self.missed = False                 # a value came from `_interpret`: plan at the end
        self._index_to(len(self.nodes))

    # ---- at a break ------------------------------------------------------------------------
    def concrete(self, t: Tensor, reason: str) -> np.ndarray:
        """The value of traced tensor `t` now: the open piece is closed and run."""
        self.breaks.append((user_site(), reason))
        active, trace_state.active = trace_state.active, None   # plans run, not traced
        try:
            return self._concrete(t)
        finally:
            trace_state.active = active

    def _concrete(self, t: Tensor) -> np.ndarray:
        end = len(self.nodes)
        self._index_to(end)
        if end > self.start:
            key = ("piece", self.start, end, tuple(self.sigs[self.start:end]))
            piece = self.cache.get(key)
            if piece is not None and piece.plan is not None:
                arrays = piece.plan.run([self.value(i) for i in piece.feeds])
                self.values.update(zip(piece.fetches, arrays))
            self.segments.append((self.start, end, key))
            self.start = end
        position = self.index.get(id(t))
        if position is None:     # not made by the trace: a constant a write stored
            return np.array(t.array)
        self.targets.append(position)
        return np.array(self.value(position))   # the caller's own copy, as eager gives

    def value(self, position: int) -> np.ndarray:
        if position not in self.values:
            self._interpret(position)
        return self.values[position]

    def _interpret(self, position: int) -> None:
        """Compute a value no plan fetched, node by node with the kernels."""
        self.missed = True
        missing = self._upstream([position], known=self.values)
        for k in sorted(missing):
            node = self.nodes[k]
            arrays = [self._array(x) for x in node.inputs]
            data = numpy_kernels[type(node._op)](node._op, *arrays)
            self.values[k] = np.asarray(data, node.dtype.np)

    def _array(self, x: Tensor) -> np.ndarray:
        k = self.index.get(id(x))
        return x.array if k is None else self.values[k]

    # ---- at the end of the call ------------------------------------------------------------
    def finish(self, fetches: list, make_plan: Callable) -> tuple:
        """The last piece's plan (cached) and its feed values; the earlier pieces planned if
        this call computed a value without one."""
        end = len(self.nodes)
        self._index_to(end)
        wanted = [self.index[id(f)] for f in fetches]
        feeds = sorted(self._upstream(wanted, below=self.start))
        key = ("last", self.start, end, tuple(self.sigs[self.start:end]), tuple(wanted),
               tuple(feeds))
        plan = self.cache.get(key)
        if plan is None:
            plan = self.cache[key] = make_plan(fetches, [self.nodes[k] for k in feeds])
        arrays = [self.value(k) for k in feeds]
        if self.missed:
            self._plan_pieces(feeds, make_plan)
        return plan, arrays

    def _plan_pieces(self, needed: list, make_plan: Callable) -> None:
        """From the last piece back: each piece fetches what the later ones and the breaks
        read of it (with what it fetched for other paths) and feeds on what it reads."""
        needed = set(needed) | set(self.targets)
        for start, end, key in reversed(self.segments):
            old = self.cache.get(key)
            mine = {k for k in needed if start <= k < end and
                    self.nodes[k].kind != PLACEHOLDER}
            if old is not None:
                mine |= set(old.fetches)
            fetches = sorted(mine)
            feeds = sorted(self._upstream(fetches, below=start))
            needed |= set(feeds)
            if old is not None and old.fetches == fetches:
                continue
            plan = make_plan([self.nodes[k] for k in fetches],
                             [self.nodes[k] for k in feeds]) if fetches else None
            self.cache[key] = Piece(plan, feeds, fetches)

    def signature(self, end: int) -> tuple:
        """Of the whole trace up to `end`: what a plan over all of it (autograd's) keys on."""
        self._index_to(end)
        return tuple(self.sigs[:end])

    # ---- the trace as positions ------------------------------------------------------------
    def _upstream(self, roots, below: Optional[int] = None, known=None) -> set:
        """With `below`: the positions under `below` (and the arguments) that the nodes at
        `roots` read (through nodes at or above it). With `known`: every position `roots` need that is not known."""
        seen, found, stack = set(), set(), list(roots)
        while stack:
            k = stack.pop()
            if k in seen:
                continue
            seen.add(k)
            if below is not None and (k < below or self.nodes[k].kind == PLACEHOLDER):
                found.add(k)
                continue
            if known is not None:
                if k in known:
                    continue
                found.add(k)
            node = self.nodes[k]
            for x in node.inputs + tuple(node.control_inputs):
                j = self.index.get(id(x))
                if j is not None:
                    stack.append(j)
        return found

    def _index_to(self, end: int) -> None:
        real = self.tracer.real   # placeholders: the arguments, and `.grad`s read later
        for k in range(len(self.sigs), end):
            node = self.nodes[k]
            self.index[id(node)] = k
            self.sigs.append(self._signature(node))
            if id(node) in real:
                self.values[k] = real[id(node)].array

    def _signature(self, node: Tensor) -> tuple:
        shape = None if node.shape is None else tuple(node.shape)
        if node._op is None:
            return ("arg", shape, node.dtype.name)
        refs = tuple(self._ref(x) for x in node.inputs + tuple(node.control_inputs))
        return (op_signature(node._op), shape, node.dtype.name, refs)

    def _ref(self, x: Tensor):
        k = self.index.get(id(x))
        if k is not None:
            return k
        if is_literal(x):      # a constant: equal values are the same input
            arr = x.array
            data = arr.tobytes() if arr.size <= _SMALL else \
                hashlib.blake2b(arr.tobytes(), digest_size=16).digest()
            return ("const", arr.dtype.str, arr.shape, data)
        return ("tensor", id(x))   # read by reference: the cached plan holds this object


def op_signature(op) -> tuple:
    """The op's class and attribute values, hashable (index arrays and slices by value)."""
    return (type(op),) + tuple(_frozen(getattr(op, name)) for name in _fields(type(op)))


@functools.lru_cache(maxsize=None)
def _fields(op_class) -> tuple:
    return tuple(f.name for f in dataclasses.fields(op_class)) \
        if dataclasses.is_dataclass(op_class) else ()


def _frozen(value):
    if isinstance(value, (tuple, list)):
        return (type(value).__name__,) + tuple(_frozen(v) for v in value)
    if isinstance(value, slice):
        return ("slice", value.start, value.stop, value.step)
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    try:
        hash(value)
    except TypeError:
        return ("object", id(value))
    return value
