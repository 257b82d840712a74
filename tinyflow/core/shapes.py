"""Static shape rules. A shape is a tuple of ints, with None for a dim unknown until run
time; a shape of None means even the rank is unknown."""
from __future__ import annotations

from typing import Optional, Sequence

Shape = Optional[tuple]


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
