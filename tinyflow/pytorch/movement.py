"""Shape and movement as PyTorch spells them: `view`, `permute`, `cat`, `chunk`, `flatten`,
indexing and iteration. All are sugar over the shape ops (ops/shape.py); `split`, `transpose`,
`stack`, `tile`, `roll` and `broadcast_to`, which TF1 spells differently, are in
shared_names.py.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..core import dtypes
from ..core.dtypes import DType
from ..core.modes import grad_mode, trace_state
from ..core.op import apply1, as_tensor
from ..core.tensor import EAGER, Tensor
from ..core.shapes import normalize_axes
from ..ops.shape import GetItem, flatten
from .inplace import write_out, with_out


def size_args(args) -> tuple:
    """Accept `f(2, 3)`, `f((2, 3))` and `f([2, 3])`."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def torch_reshape(x, *shape):
    """`x.reshape(2, 3)` or `x.reshape((2, 3))`; the top-level `reshape` is TF1's."""
    return ops.reshape(x, size_args(shape))


def view(x, *shape, dtype=None):
    """Like reshape, but refuses when the result could not share this tensor's memory.
    `view(dtype)` of the tensor's own dtype is the tensor's view; of another, which would
    reinterpret its bytes, is refused (not built)."""
    if dtype is None and len(shape) == 1 and (isinstance(shape[0], (DType, np.dtype))
                                              or shape[0] in (float, int, bool)):
        shape, dtype = (), shape[0]
    if dtype is not None:
        if shape:
            raise TypeError("view() takes a shape or a dtype, not both")
        if dtypes.torch_dtype(dtype) is x.dtype:
            return ops.reshape(x, x.shape)
        raise NotImplementedError(f"view({dtype!r}) of a {x.dtype.name} tensor: reinterpreting "
                                  f"its bytes as another dtype is not supported; .to(dtype) "
                                  f"converts values")
    out = ops.reshape(x, size_args(shape))
    # (a result sharing x's memory is a view already) x's strides decide; traced, the
    # strides x would have eagerly
    memory = x.array if trace_state.active is None else trace_state.active.layout(x)
    if out._base is None and memory is not None and memory.size:
        try:
            np.reshape(memory, out.shape, copy=False)
        except ValueError:
            raise RuntimeError(f"view: these elements are not evenly spaced in memory, so "
                               f"no view can have this shape (shape {tuple(x.shape)}, strides "
                               f"{tuple(s // memory.itemsize for s in memory.strides)} -> "
                               f"{tuple(out.shape)}); use .reshape(...) instead") from None
    return out


def view_as(x, other): return view(x, other.shape)
def reshape_as(x, other): return ops.reshape(x, other.shape)




def unflatten(x, dim, sizes):
    dim = dim % x.ndim
    return ops.reshape(x, tuple(x.shape[:dim]) + tuple(sizes) + tuple(x.shape[dim + 1:]))


def permute(x, *args, dims=None):
    """`x.permute(2, 0, 1)`, `torch.permute(x, (2, 0, 1))` or `dims=(2, 0, 1)`; negative
    dims count from the end, as PyTorch's."""
    perm = size_args(args) if dims is None else tuple(dims)
    if any(d < 0 for d in perm):
        if len(perm) != x.ndim:
            raise RuntimeError(f"permute: the order {perm} names {len(perm)} dims of a "
                               f"{x.ndim}-d tensor; give each of its dims once")
        perm = tuple(d % x.ndim for d in perm)
    return ops.transpose(x, perm)


def torch_transpose(x, dim0, dim1):
    """`x.transpose(dim0, dim1)` swaps two dims; the top-level `transpose` also permutes."""
    perm = list(range(x.ndim))
    perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
    return ops.transpose(x, perm)


def movedim(x, source, destination):
    """torch.movedim / moveaxis: dims `source` (an int or a sequence) moved to
    `destination`, the others keeping their order."""
    sources = [source] if isinstance(source, int) else list(source)
    destinations = [destination] if isinstance(destination, int) else list(destination)
    if len(sources) != len(destinations):
        raise ValueError(f"movedim: source {sources} and destination {destinations} must "
                         f"list the same number of dims")
    n = x.ndim
    sources, destinations = [s % n for s in sources], [d % n for d in destinations]
    if len(set(sources)) < len(sources) or len(set(destinations)) < len(destinations):
        raise ValueError(f"movedim: repeated dim in source {sources} or destination "
                         f"{destinations}")
    order = [d for d in range(n) if d not in sources]
    for d, s in sorted(zip(destinations, sources)):
        order.insert(d, s)
    return ops.transpose(x, order)


def unsqueeze(x, dim): return ops.expand_dims(x, dim)


def torch_squeeze(x, dim=None):
    """`x.squeeze(dim)` leaves a dim that is not 1 alone (TF1's `squeeze` refuses it)."""
    if dim is None:
        return ops.squeeze(x)
    if isinstance(dim, (tuple, list)):   # several dims (PyTorch 2.0): those of size 1
        ones = [d for d in normalize_axes(tuple(dim), x.ndim) if x.shape[d] == 1]
        return ops.squeeze(x, ones) if ones else x
    return x if x.shape[dim] != 1 else ops.squeeze(x, dim)


def expand(x, *sizes):
    sizes = size_args(sizes)
    lead = len(sizes) - x.ndim
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    return ops.expand(x, shape)


def expand_as(x, other): return ops.expand(x, other.shape)


def repeat(x, *sizes):
    """Tile: `x.repeat(2, 3)` stacks copies along each dim (PyTorch, not NumPy, repeat)."""
    sizes = size_args(sizes)
    if len(sizes) < x.ndim:
        raise RuntimeError(f"repeat: {len(sizes)} repeats for a {x.ndim}-D tensor; give at "
                           f"least one per dim")
    if x.shape is None or None in x.shape:
        raise ValueError(f"repeat/tile needs the dims of the tensor known, got {x.shape}")
    shape = (1,) * (len(sizes) - x.ndim) + tuple(x.shape)
    x = ops.reshape(x, tuple(d for n in shape for d in (1, n)))
    x = ops.expand(x, tuple(d for r, n in zip(sizes, shape) for d in (r, n)))
    out = ops.reshape(x, tuple(r * n for r, n in zip(sizes, shape)))
    # A writable copy, as torch's: the reshape is still a view of x (stride 0 over the
    # copies) when only leading size-1 dims repeat, or when nothing repeats.
    view = out.array is not None and np.may_share_memory(out.array, x.array)
    return ops.copy(out) if view or all(r == 1 for r in sizes) else out


def contiguous(x):
    if x.array is not None and x.array.flags.c_contiguous:
        return x
    return ops.copy(x)


def is_contiguous(x) -> bool:
    return x.array is None or x.array.flags.c_contiguous


def cat(tensors, dim=0, out=None):
    return write_out(ops.concat(list(tensors), dim), out)


concatenate = cat


def torch_split(x, split_size, dim=0) -> tuple:
    """`x.split(...)`: pieces of `split_size` (the last may be smaller), or a list of sizes;
    a tuple, as PyTorch's (`a, b = ...` works either way; `pieces + [t]` does not)."""
    x = as_tensor(x)
    dim = normalize_axes(dim, x.ndim)[0]
    total = x.shape[dim]
    if isinstance(split_size, int):
        if split_size < 0 or split_size == 0 and total != 0:
            raise RuntimeError(f"split: split_size 0 would never cover the {total} elements "
                               f"of dim {dim}" if split_size == 0 else
                               f"split: split_size must be >= 0, got {split_size}")
        if split_size == 0:
            return (x,)
        sizes = [min(split_size, total - start) for start in range(0, total, split_size)]
    else:
        sizes = list(split_size)
    return multi_output_views(tuple(ops.split(x, sizes, dim)), x)


def multi_output_views(views: tuple, x) -> tuple:
    """PyTorch makes the views one call returns several of (split, chunk, unbind; not
    tensor_split, made of slices) of a tensor without grad as if under no_grad: once the base
    takes a history (`b[0] += w`), differentiating through or writing into one raises
    (`tape.views_take_history`), rather than following the base's new history. Of a tensor
    with grad, it refuses to write one (or a view of one) in place in grad mode, as their
    shared gradient node cannot take one piece's new history (`tape._refuse_leaf`)."""
    if not x.requires_grad:
        for view in views:
            if view._base is not None:
                view.made_without_grad = True
    elif grad_mode.enabled:
        tracer = trace_state.active   # (under compile, a traced view node is one too)
        for view in views:
            if view._base is not None or tracer is not None and tracer.is_view(view):
                view.multi_output_view = True
    return views


def chunk(x, chunks, dim=0) -> tuple:
    x = as_tensor(x)
    total = x.shape[normalize_axes(dim, x.ndim)[0]]
    if not isinstance(chunks, int) or chunks <= 0:
        raise RuntimeError(f"chunk: chunks must be >= 1, got {chunks}")
    return torch_split(x, -(-total // chunks), dim)


def narrow(x, dim, start, length):
    return x[(slice(None),) * (dim % x.ndim) + (slice(start, start + length),)]


def select(x, dim, index): return x[(slice(None),) * (dim % x.ndim) + (index,)]
def unbind(x, dim=0):
    return multi_output_views(tuple(select(x, dim, i) for i in range(x.shape[dim])), x)
@with_out
def index_select(x, dim, index): return ops.take(x, index, dim)


def flip(x, *args, dims=None):
    """`x.flip(0, 2)`, `torch.flip(x, (0, 2))` or `dims=(0, 2)`: a new contiguous tensor (as
    torch's; a reversed view would share the input's memory and refuse `.view`)."""
    dims = {d % x.ndim for d in (size_args(args) if dims is None else dims)}
    return ops.copy(ops.getitem(x, tuple(slice(None, None, -1) if d in dims else slice(None)
                                         for d in range(x.ndim))))


def iterate(x):
    """`for row in x`: the slices along the first dim."""
    if not x.shape:
        raise TypeError("iteration over a 0-d tensor")
    if type(x) is not Tensor or x.kind != EAGER:
        return (x[i] for i in range(x.shape[0]))
    return (apply1(GetItem(index=(i,)), x) for i in range(x.shape[0]))   # x[i], checked


def getitem(x, index):
    """`x[index]` with PyTorch's order: integers select before arrays index."""
    steps = ops.shape.torch_index_steps(index)
    if steps is None:
        return ops.getitem(x, index)
    return ops.getitem(ops.getitem(x, steps[0]), steps[1])


METHODS = {
    "reshape": torch_reshape, "view": view, "view_as": view_as, "reshape_as": reshape_as,
    "flatten": flatten, "unflatten": unflatten, "permute": permute,
    "transpose": torch_transpose, "swapaxes": torch_transpose, "movedim": movedim,
    "unsqueeze": unsqueeze, "squeeze": torch_squeeze, "expand": expand,
    "expand_as": expand_as, "repeat": repeat, "contiguous": contiguous,
    "is_contiguous": is_contiguous, "clone": ops.copy, "split": torch_split, "chunk": chunk,
    "narrow": narrow, "select": select, "unbind": unbind, "gather": ops.gather,
    "index_select": index_select, "flip": flip,
    "__getitem__": getitem, "__iter__": iterate,
}
