"""Static shape rules. A shape is a tuple of ints, with None for a dim unknown until run
time; a shape of None means even the rank is unknown."""
from __future__ import annotations

import operator
from typing import Optional, Sequence

Shape = Optional[tuple]


def _whole_dim(d, i: int) -> int:
    try:
        return operator.index(d)
    except TypeError:
        raise TypeError(f"Size: each dim must be a whole number; dim {i} is {d!r} "
                        f"(a {type(d).__name__})") from None


class Size(tuple):
    """What PyTorch's `x.size()` returns: a tuple of ints that prints as `torch.Size([3, 4])`,
    as programs print it. Anything with `__index__` (a bool, a NumPy int, an integer 0-d
    tensor) is a dim; a float or a string is refused, as PyTorch refuses them."""

    def __new__(cls, dims=()):
        size = tuple.__new__(cls, dims)
        if all(type(d) is int for d in size):   # the common case, checked cheaply
            return size
        return tuple.__new__(cls, [_whole_dim(d, i) for i, d in enumerate(size)])

    def __repr__(self) -> str:
        return f"torch.Size({list(self)})"

    __str__ = __repr__

    def numel(self) -> int:
        n = 1
        for d in self:
            n *= d
        return n

    # A slice, a concatenation or a repeat of a Size is a Size, as PyTorch's
    def __getitem__(self, index):
        item = tuple.__getitem__(self, index)
        return Size(item) if isinstance(index, slice) else item

    def __add__(self, other):
        return Size(tuple.__add__(self, other)) if isinstance(other, tuple) else NotImplemented

    def __radd__(self, other):
        return Size(other + tuple(self)) if isinstance(other, tuple) else NotImplemented

    def __mul__(self, times):
        return Size(tuple.__mul__(self, times))

    __rmul__ = __mul__


def as_shape(shape) -> Shape:
    """Normalize a user-given shape (list, tuple, int, None, with -1 or None dims)."""
    if shape is None:
        return None
    if isinstance(shape, int):
        return (shape,)
    return tuple(None if d is None or d == -1 else int(d) for d in shape)


def broadcast_shapes(*shapes: Shape) -> Shape:
    """NumPy broadcasting over static shapes; raises ValueError naming the clash."""
    if len(shapes) == 2:  # the common cases, without the general loop
        a, b = shapes
        if a == b or b == ():
            return a
        if a == ():
            return b
    if any(s is None for s in shapes):
        return None
    rank = max(len(s) for s in shapes)
    out = []
    for i in range(-rank, 0):
        dim = 1
        for s in shapes:
            d = s[i] if -i <= len(s) else 1
            if d == 1:
                continue
            if dim == 1:
                dim = d
            elif d is None or dim is None:
                dim = dim if d is None else d
            elif d != dim:
                raise ValueError(f"dimension {i} is {dim} in one and {d} in another")
        out.append(dim)
    return tuple(out)


def normalize_axes(axis, rank: Optional[int]) -> Optional[tuple]:
    """Axes as a sorted tuple of non-negative ints; None means all axes."""
    if axis is None:
        return None if rank is None else tuple(range(rank))
    if not isinstance(axis, int) and getattr(axis, "ndim", None) == 0:
        axis = int(axis)    # a 0-d array or constant tensor (TF1's tf.constant(1) as axis)
    axes = (axis,) if isinstance(axis, int) else tuple(int(a) for a in axis)
    if rank is None:
        if any(a < 0 for a in axes):
            return axes
        return tuple(sorted(axes))
    out = []
    for a in axes:
        if not -rank <= a < rank:
            raise ValueError(f"axis {a} is out of range for rank {rank}")
        out.append(a % rank)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis}")
    return tuple(sorted(out))


def num_elements(shape: Shape) -> Optional[int]:
    if shape is None or any(d is None for d in shape):
        return None
    n = 1
    for d in shape:
        n *= d
    return n


def is_compatible(static: Shape, actual: Sequence[int]) -> bool:
    """Whether a concrete shape fits a static one with None wildcards."""
    if static is None:
        return True
    if len(static) != len(actual):
        return False
    return all(s is None or s == a for s, a in zip(static, actual))


# ---- TF1's TensorShape ------------------------------------------------------------------------
# A symbolic tensor's `.shape` / `get_shape()` is a TensorShape: a tuple (so every `shape ==
# (2, 3)`, unpacking and `shape[1:]` in the code base and in user code keeps working) with
# TF1's methods. Indexing gives a `Dimension` (an int with TF1's `.value`) or None.


class Dimension(int):
    """A known dim as TF1 gives it: an int (arithmetic gives plain ints) with `.value`."""

    __slots__ = ()

    @property
    def value(self) -> int:
        return int(self)


class TensorShape(tuple):
    """TF1's `tf.TensorShape` over a tuple of ints and None (unknown dims).

    `TensorShape(None)` (unknown rank) is `UNKNOWN_SHAPE`, which is not a tuple: tensors of
    unknown rank keep `shape is None` inside tinyflow and show it only through `get_shape()`.
    """

    __slots__ = ()

    def __new__(cls, dims=()):
        if dims is None:
            return UNKNOWN_SHAPE
        if isinstance(dims, (int, Dimension)):
            dims = (dims,)
        return super().__new__(cls, (None if d is None else int(d) for d in dims))

    def __getitem__(self, index):
        item = tuple.__getitem__(self, index)
        if isinstance(index, slice):
            return TensorShape(item)
        return None if item is None else Dimension(item)

    def __eq__(self, other) -> bool:
        return tuple.__eq__(self, tuple(other) if isinstance(other, list) else other)

    def __ne__(self, other) -> bool:
        return not self == other

    __hash__ = tuple.__hash__

    @property
    def ndims(self) -> int:
        return len(self)

    rank = ndims

    @property
    def dims(self) -> list:
        return [self[i] for i in range(len(self))]

    def as_list(self) -> list:
        return list(tuple.__iter__(self))

    def num_elements(self):
        return num_elements(self)

    def is_fully_defined(self) -> bool:
        return None not in tuple(self)

    def is_compatible_with(self, other) -> bool:
        other = TensorShape(other) if not isinstance(other, _UnknownShape) else other
        if other.ndims is None:
            return True
        return len(other) == len(self) and all(
            a is None or b is None or a == b for a, b in zip(self, other))

    def merge_with(self, other) -> "TensorShape":
        """The more specific of two compatible shapes (TF1 raises ValueError if they clash)."""
        other = TensorShape(other) if not isinstance(other, _UnknownShape) else other
        if other.ndims is None:
            return self
        if not self.is_compatible_with(other):
            raise ValueError(f"Shapes {self} and {other} are not compatible")
        return TensorShape(a if a is not None else b for a, b in zip(self, other))

    def concatenate(self, other) -> "TensorShape":
        if isinstance(other, _UnknownShape):
            return other
        return TensorShape(tuple(self) + tuple(TensorShape(other)))

    def as_shape(self):
        return self


class _UnknownShape:
    """`TensorShape(None)`: a shape whose rank is not known (TF1's `tf.TensorShape(None)`)."""

    ndims = rank = dims = None

    def as_list(self):
        raise ValueError("as_list() is not defined on an unknown TensorShape.")

    def num_elements(self):
        return None

    def is_fully_defined(self) -> bool:
        return False

    def is_compatible_with(self, other) -> bool:
        return True

    def merge_with(self, other):
        return other if isinstance(other, _UnknownShape) else TensorShape(other)

    def concatenate(self, other):
        return self

    def __eq__(self, other) -> bool:
        return other is None or isinstance(other, _UnknownShape)

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return "TensorShape(None)"


UNKNOWN_SHAPE = _UnknownShape()


def tensor_shape(shape: Shape):
    """The TensorShape of an internal shape (a tuple, or None for unknown rank)."""
    if shape is None:
        return UNKNOWN_SHAPE
    return shape if type(shape) is TensorShape else TensorShape(shape)
