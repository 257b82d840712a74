"""The eager tape's bookkeeping: saved versions, freed nodes, and in-place writes.

`apply` records on each result the versions of its inputs and output (`_saved`). Here:
refusing a backward through values overwritten since (`check_saved`), marking nodes FREED
after a backward without retain_graph, and PyTorch's in-place semantics under autograd
(`write_inplace`: a tensor overwritten in place takes over the new history).
"""
from __future__ import annotations

import gc
import sys

import numpy as np

from ..core.dtypes import kind_rank
from ..core.errors import freed_graph_error, leaf_write_error, overwritten_error
from ..core.modes import grad_mode, trace_state
from ..core.op import apply, as_dtype_array
from ..core.tensor import EAGER, REMOTE, Tensor, new_eager
from ..ops.indexing import setitem
from ..ops.math import where
from ..ops.shape import Copy, GetItem


FREED = "freed"  # `_saved` of a node whose backward ran without retain_graph
MOVED = [0]      # histories moved to stand-ins by in-place writes: while 0, no edge is stale


def check_saved(node: Tensor, order: list = (), roots: list = ()) -> None:
    """Refuse to differentiate through a node whose inputs or output were overwritten
    (`order` and `roots`: the nodes and ys of the backward under way, for
    `_read_since_written`)."""
    saved = node._saved
    if saved is None:
        return
    if saved is FREED:
        if node._op.saves_inputs or node._op.saves_output:
            raise freed_graph_error(
                f"{node._op.name or type(node._op).__name__}{_created_at(node)}")
        return
    tensors = node.inputs + (node,)
    for t, version in zip(tensors, saved):   # the common case: nothing was overwritten
        if t._version[0] != version:
            break
    else:
        if type(saved) is NoGradView:
            _refuse_no_grad_view(node)
        return
    if type(saved) is NoGradView:
        _refuse_no_grad_view(node)
    if node.multi_output_view and _read_since_written(node, order, roots):
        raise RuntimeError(MULTI_OUTPUT_VIEW_READ)
    reads = node._op.vjp_reads(tuple(x.requires_grad for x in node.inputs))
    for k, (t, version, read) in enumerate(zip(tensors, saved, reads)):
        if t._version[0] != version and read:   # values the vjp does not read may change
            what = f"input {k}" if k < len(node.inputs) else "the output"
            raise overwritten_error(f"{what} of {node._op.name}{_created_at(node)}", t,
                                    version)


def _read_since_written(piece: Tensor, order: list, roots: list) -> bool:
    """Whether a node of `order` read `piece`, an output of split/chunk/unbind (or a view of
    one), at a version other than the one it was made at, or the backward starts at it:
    PyTorch refuses the piece at that read (the one node of all the pieces cannot take a
    new history), but not a read made before its base or a sibling was written (an
    optimizer's step under no_grad between the forward and the backward). Scans `order`:
    only a piece whose base was written since it was made gets here."""
    if any(y is piece for y in roots):
        return True
    made = piece._saved[-1]
    for node in order:
        saved = node._saved
        if type(saved) is tuple:
            for x, version in zip(node.inputs, saved):
                if x is piece and version != made:
                    return True
    return False


def _created_at(node: Tensor) -> str:
    return f" created at {node.site}" if node.site else ""


def refuse_symbolic(target: Tensor, name: str = "") -> None:
    """In-place ops write eager tensors (a traced one too); a graph (TF1) tensor is refused,
    naming the op when given, before its unknown dims reach NumPy."""
    if target.kind != EAGER and trace_state.active is None:
        raise TypeError(f"{name + ': ' if name else ''}in-place operations need an eager "
                        f"tensor; {target.name} is symbolic (shape {target.shape})")


def write_inplace(target: Tensor, result: Tensor) -> Tensor:
    """Make `target` hold `result`, computed out of place, as PyTorch's in-place ops do.

    The new values go into target's own buffer (its views see them) and its version is
    bumped. If autograd records `result`, target takes over result's history and its old
    history moves to a stand-in tensor holding a copy of the old values.
    """
    if target.kind == REMOTE:   # its worker writes its own buffer (outside autograd only)
        return apply(Copy(), result, out=target)
    if target.kind != EAGER:
        refuse_symbolic(target)
    tracked = result.requires_grad and grad_mode.enabled
    _refuse_leaf(target, tracked)
    if result.dtype is not target.dtype and kind_rank(result.dtype) > kind_rank(
            target.dtype):   # PyTorch's rule: no float
        raise RuntimeError(f"in-place: the result is {result.dtype.name}, which a "
                           f"{target.dtype.name} tensor cannot hold without losing its kind; "
                           f"write out of place")
    if grad_mode.enabled and target.requires_grad and not tracked:
        # constants written into a tensor with history (`y.fill_(1)`, `y.copy_(c)`): it
        # still requires grad, and its old history gets a zero gradient, as in PyTorch
        keep_all = Tensor._eager(np.ones((1,) * len(target.shape), np.bool_))
        result, tracked = where(keep_all, result, target), True
    if trace_state.active is not None:   # under compile: a state write the plan performs
        return trace_state.active.write(target, result)
    if tracked and target._base is not None:
        return _write_view(target, result)
    shape = target.shape
    if result.shape != shape:   # (NumPy's broadcast_shapes: ~10 us; one shape needs none)
        try:
            shape = np.broadcast_shapes(result.shape, target.shape)
        except ValueError:
            shape = None
    if shape != target.shape:
        raise RuntimeError(f"output with shape {list(target.shape)} doesn't match the "
                           f"broadcast shape {list(result.shape)}")
    first = tracked and not target.requires_grad   # its views made before take history
    moves = _buffer_moves(target, result)
    if tracked:
        _rewire(result, target, _remember(target, moves))
        target._op, target.inputs, target.requires_grad = result._op, result.inputs, True
        target.site = result.site
    if moves:
        target.array = result.array
    else:
        writable_memory(target.array)[...] = result.array
    target._version[0] += 1
    if tracked:
        target._saved = tuple(x._version[0] for x in target.inputs) + (target._version[0],)
        if first and sys.getrefcount(target._version) > 2:   # a view shares the counter
            views_take_history(target)
    return target


def view_inplace(target: Tensor, view, name: str) -> Tensor:
    """Make `target` itself `view(target)`, a view of its own memory (PyTorch's in-place view
    ops: `unsqueeze_`, `t_`, `transpose_`, `squeeze_`, `as_strided_`; `resize_`, outside
    autograd, may give a grown buffer). Its version is bumped, as by any in-place op, so a
    node that saved it refuses a backward; under autograd its history becomes the view of
    its old one, which moves to a stand-in on the same buffer."""
    if trace_state.active is not None:
        trace_state.active.graph_break(f"{name}() changes a tensor's shape in place")
    refuse_symbolic(target, name)
    if target.kind == REMOTE:
        raise TypeError(f"{name}: a tensor on a declared device cannot change shape in "
                        f"place; write x = x.{name[:-1]}(...)")
    tracked = grad_mode.enabled and target.requires_grad
    _refuse_leaf(target, tracked)
    if target.requires_grad and not tracked and target._op is not None:
        raise RuntimeError(f"{name}: under no_grad, a tensor with autograd history cannot "
                           f"change shape in place (its history would keep the old shape); "
                           f"write x = x.{name[:-1]}(...) or call it in grad mode")
    source = target
    if tracked:   # the stand-in shares target's memory, so its version counter too
        source = _stand_in(target, keeps_buffer=True)
        source._version = target._version
        source._base = target._base   # a view too: its edge stays (`mend_stale_edges`)
        if getattr(target, "_earlier", None):   # the histories it had before, for old reads
            source._earlier = list(target._earlier)
        _views_read_stand_in(target, source)
    result = view(source)
    if tracked and storage_of(result.array) is not storage_of(target.array):
        raise RuntimeError(f"{name}: the result is not a view of the tensor's memory "
                           f"(shape {tuple(target.shape)} to {tuple(result.shape)}); write "
                           f"x = x.{name[:-1]}(...) instead")
    if tracked:
        _kept(target, source)
        target._op, target.inputs, target.site = result._op, result.inputs, result.site
        # a view of the stand-in, which keeps the memory's first layout: a later write into
        # target rewrites the stand-in (`_write_view`), so the views made before see it
        target._base = target._base if target._base is not None else source
    target.array, target.shape = result.array, result.array.shape
    target._version[0] += 1
    if tracked:
        target._saved = tuple(x._version[0] for x in target.inputs) + (target._version[0],)
    return target


def _views_read_stand_in(target: Tensor, source: Tensor) -> None:
    """The view nodes made of `target` before it changes layout in place read `source`, its
    stand-in on the same memory: their memory keeps the layout they were made over (an edge
    to target would route their gradient through target's new view op). They share target's
    version counter, so the heap is scanned only when its refcount says one is alive."""
    if sys.getrefcount(target._version) <= 3:   # (target, source, the argument)
        return
    for v in gc.get_referrers(target._version):
        if type(v) is not Tensor or v is target or v is source:
            continue
        if v._op is not None and v._op.view and any(x is target for x in v.inputs):
            v.inputs = tuple(source if x is target else x for x in v.inputs)
        if v._base is target:   # their memory is the stand-in's, in its layout
            v._base = source


class NoGradView(tuple):
    """The `_saved` of a view made under no_grad whose base then took a history: PyTorch
    refuses to differentiate through it (or write it), and so does `check_saved`."""


NO_GRAD_VIEW = ("a view was created in no_grad mode and its base (or another view of its "
                "base) was then modified in place with grad mode enabled, so it has no "
                "history; make the view again after the in-place write, or make it under "
                "grad mode")


MULTI_OUTPUT_VIEW_WRITE = ("in-place write, with grad mode enabled, into an output of "
                           "split/chunk/unbind (or a view of one) of a tensor that requires "
                           "grad: these return several views, which PyTorch does not let be "
                           "modified in place; write out of place, or into a clone()")


MULTI_OUTPUT_VIEW_READ = ("backward(): an output of split/chunk/unbind (or a view of one) is "
                          "differentiated after its base or another view of its base was "
                          "modified in place: PyTorch refuses it, as these functions return "
                          "several views; write out of place, or split a clone()")


def views_take_history(base: Tensor) -> None:
    """`base`, which took no part in autograd, has just taken a history by an in-place write:
    each of its views made before (a view of a tensor without grad records no node) becomes
    `base[index]` of its new history, as PyTorch regenerates a view's grad_fn from its
    base's. The views made in grad mode are in `base._views` (weak references
    `core.op.share_version` keeps); others share `base`'s version counter too (views made
    under no_grad, which no-grad inference makes by the million, are not remembered; nor are
    detach()es): only if the counter's refcount says one is alive is the heap scanned for
    them (gc.get_referrers: ~40 ms with 2 million live objects, so never the common case)."""
    MOVED[0] += 1   # views read base now: the walks `_rewire` skips are stale
    counter = base._version
    views, base._views = base._views or (), None   # it has grad now: new views record nodes
    views = [v for v in (r() for r in views) if v is not None and v._version is counter]
    if sys.getrefcount(counter) > 3 + len(views):   # (base, the argument, this frame)
        views += [v for v in gc.get_referrers(counter)
                  if type(v) is Tensor and v._base is base and not v.requires_grad]
    version = counter[0]
    for view in views:
        if view.requires_grad:
            continue
        index = _memory_index(view.array, base.array, distinct=False)
        view._op, view.inputs, view.requires_grad = GetItem(index=index), (base,), True
        view._saved = (version, version)
        if view.made_without_grad or index is None:   # (versions no node has: checked)
            view._saved = NoGradView((-1, -1))


def _refuse_no_grad_view(t: Tensor) -> None:
    if isinstance(t._saved, NoGradView):
        raise RuntimeError(NO_GRAD_VIEW if t.made_without_grad else _NOT_IN_MEMORY)


def strided_offsets(shape, strides) -> np.ndarray:
    """The offset of each element of a layout `shape` with `strides` (in any unit), as an
    int64 array of that shape."""
    offsets = np.zeros((), np.int64)
    for n, stride in zip(shape, strides):
        offsets = np.add.outer(offsets, np.arange(n, dtype=np.int64) * stride)
    return offsets


def _memory_index(view: np.ndarray, base: np.ndarray, distinct: bool = True):
    """The index into C-ordered `base` of each element of `view`, a view of its memory, as a
    tuple of integer arrays shaped like `view` (NumPy's advanced index); None when `base`
    is not C-ordered or the view's elements are not distinct elements of it (if `distinct`:
    an expand is read, never written, this way)."""
    size = base.itemsize
    if not base.flags.c_contiguous or view.dtype != base.dtype:
        return None
    start, rest = divmod(view.__array_interface__["data"][0] -
                         base.__array_interface__["data"][0], size)
    if rest or any(stride % size for stride in view.strides):
        return None
    flat = start + strided_offsets(view.shape, [stride // size for stride in view.strides])
    if flat.size and (flat.min() < 0 or flat.max() >= base.size
                      or distinct and np.unique(flat).size != flat.size):
        return None
    return np.unravel_index(flat, base.shape)


OVERLAP = ("in-place write into a tensor whose elements share memory (an expand()ed or "
           "stride-0 view), so one write would land in several elements; clone() it first")


def writable_memory(array: np.ndarray, one_value: bool = False) -> np.ndarray:
    """`array` itself, or a writeable view of the same memory when NumPy handed out a
    read-only one (np.broadcast_to, behind expand and broadcast_to): PyTorch writes through
    such views into their base. Refused as PyTorch refuses it when elements share memory (a
    dim of stride 0 and size > 1): the result would depend on the order of the writes
    (unless the caller writes `one_value` everywhere: fill_, zero_)."""
    if array.flags.writeable:
        return array
    if not one_value and overlaps(array):
        raise RuntimeError(OVERLAP)
    root = storage_of(array)
    if not (root.flags.writeable and (root.flags.c_contiguous or root.flags.f_contiguous)):
        raise ValueError("assignment destination is read-only")
    offset = (array.__array_interface__["data"][0] - root.__array_interface__["data"][0])
    # the root's elements in memory order (a view: a Fortran-ordered root, such as
    # from_numpy of one, is one block too)
    flat = root.ravel(order="A")[offset // root.itemsize:]
    return np.lib.stride_tricks.as_strided(flat, array.shape, array.strides, writeable=True)


def storage_of(array: np.ndarray) -> np.ndarray:
    """The array whose buffer `array` looks into (itself if it owns its memory), also through
    NumPy's as_strided, whose result's base is a stand-in holding the array it views."""
    while True:
        base = array.base
        if not isinstance(base, np.ndarray):
            base = getattr(base, "base", None)   # as_strided's DummyArray
            if not isinstance(base, np.ndarray):
                return array
        array = base


def overlaps(array: np.ndarray) -> bool:
    """Whether two elements of `array` share memory (a stride-0 dim of an expand, the windows
    of an unfold). Dims sorted by stride that each step past all the dims below do not; where
    that test fails, the elements' offsets are compared (beyond 65536 elements they are
    taken to overlap: a write is then refused, never order-dependent)."""
    if 0 in array.shape:
        return False
    reach = 0
    for stride, size in sorted((abs(s), n) for s, n in zip(array.strides, array.shape) if n > 1):
        if stride < reach + array.itemsize:
            break
        reach += stride * (size - 1)
    else:
        return False
    if array.size > 1 << 16:
        return True
    offsets = strided_offsets(array.shape, array.strides)
    return np.unique(offsets).size < offsets.size


def _refuse_leaf(target: Tensor, tracked: bool) -> None:
    """PyTorch refuses every in-place write (add_, fill_, copy_, zero_, x[i] = v, ...) into a
    leaf that requires grad, or a view of one, while grad mode is on, whatever is written:
    the leaf's values are what its gradient is computed at. Under no_grad it is allowed (an
    optimizer's step, an init function). So is a write into a view made under no_grad, in
    grad mode, when its base or the value written takes part in autograd: the view has no
    history to rebase."""
    if not grad_mode.enabled:
        return
    if target.requires_grad and target._op is None and target.is_leaf:
        raise leaf_write_error()   # (a traced argument's stand-in: the argument's leafness)
    if target.multi_output_view:   # (also a traced view node, which has no `_base`)
        raise RuntimeError(MULTI_OUTPUT_VIEW_WRITE)
    base = target._base
    if base is None:
        return
    if target.made_without_grad and (tracked or base.requires_grad):
        raise RuntimeError("in-place write, with grad mode enabled, into a view created in "
                           "no_grad mode whose base or value takes part in autograd: "
                           "PyTorch refuses it too; make the view under grad mode, or write "
                           "under torch.no_grad()")
    if isinstance(target._saved, NoGradView):
        _refuse_no_grad_view(target)
    if base.requires_grad and base._op is None:
        raise leaf_write_error(view=True)


def _buffer_moves(target: Tensor, result: Tensor) -> bool:
    """Whether `write_inplace` may give target result's buffer instead of copying into its
    own (and its stand-in target's old buffer instead of a copy): when nothing but `target`
    holds target's memory and nothing but the caller's argument holds `result` or its
    memory (reference counts: no view, `.numpy()`, `.data` or kernel memo of either, and
    `result` a fresh value, as `x.relu_()`'s), and both own C-ordered writeable buffers of
    one dtype and shape. The in-place activations of every CNN (`nn.ReLU(inplace=True)`,
    ReLU6) then cost no copy, where copying the old values out and the new ones in cost
    two passes over each activation."""
    a, r = target.array, result.array
    return (sys.getrefcount(result) <= 3 and sys.getrefcount(a) <= 3
            and sys.getrefcount(r) <= 3 and _sole_way_in(a) and _sole_way_in(r)
            and a.dtype == r.dtype and a.shape == r.shape and a.flags.writeable
            and r.flags.writeable and a.flags.c_contiguous and r.flags.c_contiguous)


def _sole_way_in(array: np.ndarray) -> bool:
    """Whether `array` owns its memory, or is a view of all of an array that nothing else
    holds (a kernel's output reshaped, as batch norm's)."""
    base = array.base
    return base is None or (type(base) is np.ndarray and base.base is None
                            and sys.getrefcount(base) <= 3 and base.nbytes == array.nbytes)


def _stand_in(target: Tensor, keeps_buffer: bool = False) -> Tensor:
    """A tensor with target's current values (its own copy, or target's buffer itself when
    target is about to take another), history and version."""
    values = target.array if keeps_buffer else target.array.copy()
    old = new_eager(values, target.dtype, target._op, target.inputs, target.requires_grad)
    old._saved = target._saved
    old._version = [target._version[0]]  # its own buffer now, at the version it had
    old.site = target.site
    return old


def _remember(target: Tensor, keeps_buffer: bool = False) -> Tensor:
    """target's stand-in, kept on target with the version it stands for: the nodes that
    read target until now (they hold target itself, not its history) are pointed at it
    before a backward (`mend_stale_edges`), as PyTorch's edges keep the old grad_fn."""
    return _kept(target, _stand_in(target, keeps_buffer))


def _kept(target: Tensor, old: Tensor) -> Tensor:
    """`old`, target's stand-in, kept on target (see `_remember`)."""
    earlier = getattr(target, "_earlier", None)
    if earlier is None:
        earlier = target._earlier = []
    earlier.append((target._version[0], old))
    MOVED[0] += 1
    return old


def _history_at(t: Tensor, version: int) -> Tensor:
    """The tensor holding t's history as it was at `version`: the stand-in of the first
    in-place write after it, else t itself. A view is read by nodes at several versions of
    its base: one that read it after its base moved its history, or before, gets a node of
    its own over the base as it was then (a view's own edge is never moved)."""
    first = None   # (from the newest: a write's own read is of the version it replaces)
    for moved_at, old in reversed(getattr(t, "_earlier", ())):
        if moved_at < version:
            break
        first = old
    if first is not None and (t._base is None or not isinstance(first._saved, tuple)
                              or version >= first._saved[-1]):
        return first   # (a view's stand-in holds its values from its last read of its base)
    if t._base is None or t._op is None or not t._op.view:
        return t
    inner = t.inputs[0]
    then = _history_at(inner, version)
    if then is inner:
        return t
    # its values as they were then (t's memory holds the write): the view op on the stand-in
    values = t._op._eager_kernel(then.array, *(i.array for i in t.inputs[1:]))
    fresh = Tensor._eager(as_dtype_array(values, t.dtype), t._op, (then,) + t.inputs[1:],
                          True)
    fresh._saved = (version,) * (len(fresh.inputs) + 1)   # not a view: its edge is fixed
    fresh._version = [version]
    return fresh


def mend_stale_edges(order: list) -> bool:
    """Point the edges of the nodes of `order` at the histories their nodes read
    (`_history_at` each input's saved version); True if any edge moved (the caller walks
    again: the stand-ins bring nodes of their own). A node reads its inputs at one version
    for good, so its edges are rewritten; a view's are not (see `_history_at`)."""
    moved = False
    for node in order:
        saved = node._saved
        if node._op is None or node._base is not None or not isinstance(saved, tuple):
            continue
        inputs = node.inputs
        for x, v in zip(inputs, saved):   # a moved history bumped the input's version
            if x._version[0] != v:
                break
        else:
            continue
        read = tuple([_history_at(x, v) for x, v in zip(inputs, saved)])
        if any(a is not b for a, b in zip(read, inputs)):
            node.inputs, moved = read, True
    return moved


def _rewire(result: Tensor, target: Tensor, old: Tensor) -> None:
    """Before `target` is overwritten by `result`: every node of result's history that read
    target (e.g. the `x * 2` in `x.add_(x * 2)`) reads the stand-in `old` instead (or an
    earlier one, for a node that read target before an earlier write: `_history_at`), so
    the history keeps the values it was computed from and has no cycle through target.
    A node that read a view of target's memory (same version counter) reads a view node of
    its own over the stand-in: the view itself, whose memory takes the write, keeps its
    edge (its later readers differentiate the new history, as PyTorch's)."""
    for node in _unwalked(result, target):   # (holds no reference to target's version
        # counter: `_unwalked` counts them) a view node's own edges stay: it is read at
        # several versions of its base
        counter = target._version if node._base is None else None
        for x in node.inputs:   # (a loop, not any() of a generator: once per node walked)
            if x is target or x._version is counter:
                break
        else:
            continue
        saved = node._saved if isinstance(node._saved, tuple) else None
        node.inputs = tuple(x if x is not target and x._version is not counter
                            else (old if x is target else x) if saved is None
                            else _history_at(x, saved[k])
                            for k, x in enumerate(node.inputs))


def _unwalked(result: Tensor, target: Tensor):
    """The nodes of result's history (up to target) that a write into target must look at.
    When target is no view and has none (no other tensor shares its version counter), the
    walk goes on into a node's inputs as they were before the caller rewired them: the
    stand-ins put in hold target's earlier histories, which its earlier writes walked (an
    in-place activation, `clamp_(x)`, so looks at one node, not at the whole network). With
    views, the stand-ins are walked too: a view's reads are rewired by memory, not identity.

    A node a walk has left reads target nowhere in its history, and stays so until some
    tensor's history moves (`MOVED`): if only target's own write moved one since its last
    walk, the nodes that walk left are not walked again. A loss summed in place over an
    RNN's steps (`loss += criterion(out, y[t])`) so walks each step's new nodes only, where
    the whole history so far made a sequence quadratic in its length."""
    mine = id(target)
    walked = mine if target._walked_at == MOVED[0] - 1 else None
    alone = target._base is None and sys.getrefcount(target._version) <= 2
    stack, seen = [result], set()
    while stack:
        node = stack.pop()
        if node is target or node._op is None or id(node) in seen or (
                walked is not None and node._walked_for == walked):
            continue
        seen.add(id(node))
        node._walked_for = mine
        inputs = node.inputs
        yield node
        stack.extend(inputs if alone else node.inputs)
    target._walked_at = MOVED[0]


_NOT_IN_MEMORY = ("in-place modification of this view of a tensor that takes part in "
                  "autograd is not supported (its elements are not a part of its base's "
                  "memory); use an out-of-place operation instead")


def _write_view(view: Tensor, result: Tensor) -> Tensor:
    """In-place on a view under autograd, as PyTorch's CopySlices: the base takes over the
    history `setitem(base, index, result)` (so gradients reach both the old base and the
    result), and the view becomes `base[index]` again. A view made by slicing the base
    directly keeps its index; any other (a chain of reshapes, transposes and slices, as
    einops' rearrange makes) is indexed by the base elements its memory covers. A view
    whose elements cannot be told that way is refused rather than differentiated wrongly."""
    base = view._base
    direct = type(view._op) is GetItem and view.inputs[0] is base
    index = view._op.index if direct else _memory_index(view.array, base.array)
    if index is None:
        raise RuntimeError(_NOT_IN_MEMORY)
    if base.requires_grad and base._op is None:
        raise leaf_write_error(view=True)
    if not direct:   # the same values, read as base[index] (the chain's nodes keep theirs)
        view._op, view.inputs = GetItem(index=index), (base,)
    view._saved = (base._version[0], view._version[0])   # read now, not when it was made
    _rewire(result, view, _remember(view))   # the stand-in reads base: rewired just below
    write_inplace(base, setitem(base, index, result))   # writes the view's memory too
    view._op, view.inputs, view.requires_grad = view._op, (base,), True
    view._saved = (base._version[0], view._version[0])
    return view
