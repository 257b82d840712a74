"""Which dimensions of a compiled function's tensor arguments are symbolic.

As torch.compile: `dynamic=True` makes every dimension symbolic; `dynamic=False` none;
the default (`None`) is *automatic*: a call whose sizes differ from the first compiled
call's recompiles once with exactly the dimensions that changed made symbolic, so a third
size compiles nothing. `mark_dynamic(x, dim)` makes one dimension of one tensor symbolic
(also under `dynamic=False`, which only turns the automatic mode off). A symbolic dimension is `None` in the traced graph; the plan still
specializes its buffers per shape. Code that needs a size as a number (`x.shape[0] * 2`)
fails to trace with a symbolic one, and the function is then traced with static shapes.
"""
from __future__ import annotations

import weakref
from typing import Optional

from ..core.tensor import EAGER, Tensor

_marked: dict[int, tuple] = {}   # id(tensor) -> (weak reference, dims)


def mark_dynamic(t: Tensor, dim) -> None:
    """`torch._dynamo.mark_dynamic`: compile dimension `dim` (or each of a list) of `t`
    symbolically wherever `t` is passed to a compiled function."""
    dims = {dim} if isinstance(dim, int) else set(dim)
    rank = len(t.shape)
    for d in dims:
        if not isinstance(d, int) or not -rank <= d < rank:
            raise IndexError(f"mark_dynamic: dimension {d} out of range for a tensor of "
                             f"shape {tuple(t.shape)}")
    dims = {d % rank for d in dims} | set(marked_dims(t))
    key = id(t)
    _marked[key] = (weakref.ref(t, lambda _, key=key: _marked.pop(key, None)),
                    frozenset(dims))


def marked_dims(t: Tensor) -> frozenset:
    if not _marked:   # the common case, on every call of a compiled function
        return frozenset()
    entry = _marked.get(id(t))
    return entry[1] if entry is not None and entry[0]() is t else frozenset()


def all_eager(args: tuple) -> bool:
    """Whether every argument is an eager tensor, none marked dynamic (a compiled call's
    fast path: its guard key follows from their shapes, dtypes and requires_grad)."""
    if _marked:
        return False
    for a in args:
        if not isinstance(a, Tensor) or a.kind != EAGER:
            return False
    return True


class DynamicDims:
    """The symbolic dimensions of each tensor argument (by its path in the arguments)."""

    def __init__(self, dynamic: Optional[bool]) -> None:
        self.dynamic = dynamic
        self.static = False                  # tracing with symbolic sizes failed once
        self.first: dict[tuple, tuple] = {}  # path -> shape at the first compile
        self.changed: dict[tuple, set] = {}  # path -> dims seen to change (automatic)

    def of(self, path: tuple, t: Tensor) -> tuple:
        if self.static:
            return ()
        if self.dynamic:
            return tuple(range(len(t.array.shape)))
        marked = marked_dims(t)
        if marked:   # a mark sticks to the argument's position: next calls pass new tensors
            self.changed.setdefault(path, set()).update(marked)
        elif path not in self.changed:   # the common case, on every call: all static
            return ()
        return tuple(sorted(marked | self.changed.get(path, set())))

    def learn(self, tensors: list) -> bool:
        """At a compile: remember the first sizes, or (automatic) mark the dims that changed
        since. True if a dim became symbolic (the guard key changes)."""
        if self.dynamic is not None or self.static:
            return False
        grew = False
        for path, t in tensors:
            shape = t.array.shape
            first = self.first.setdefault(path, shape)
            if len(first) != len(shape):
                continue
            new = {d for d, (a, b) in enumerate(zip(first, shape)) if a != b}
            if new - self.changed.get(path, set()):
                self.changed.setdefault(path, set()).update(new)
                grew = True
        return grew
