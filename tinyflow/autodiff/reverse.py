"""Reverse-mode autodiff: the textbook algorithm, for graphs and eager tapes alike.

Walk the nodes `ys` depend on in reverse topological order; sum each node's partial adjoints
(`node_to_grad`), ask its op for the vector-Jacobian product, and push the results to its
inputs. Gradient rules are written with tinyflow ops, so on symbolic tensors this builds a
backward graph (which can itself be differentiated), and on eager tensors it computes.
"""
from __future__ import annotations

import threading
from typing import Optional, Sequence

import numpy as np

from ..core import devices
from ..core.errors import implicit_seed_error, no_history_error
from ..core.graph import topo_sort
from ..core.modes import anomaly_mode, grad_mode, set_grad_mode, trace_state, vjp_request
from ..core.op import as_tensor
from ..core.tensor import EAGER, REMOTE, Tensor, new_eager
from ..ops.creation import ones_like
from ..ops.linalg import product_sum
from ..ops.math import cast
from ..ops.shape import GetItem, SlicedAdjoint, sum_to
from ..ops.shape import copy as copy_tensor
from .composed import traced
from .tape import FREED, MOVED, check_saved, mend_stale_edges


def _as_list(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def unbroadcast(g: Tensor, x: Tensor) -> Tensor:
    """Sum a gradient back to the shape of the input it belongs to (the one place for it)."""
    if g.shape == x.shape and g.shape is not None and None not in g.shape:
        return g
    return sum_to(g, x)


def _depends_on(order: list, xs: list) -> set:
    """Ids of the nodes in `order` (inputs first) that depend on some x: only they need adjoints."""
    marked = {id(x) for x in xs}
    for node in order:
        if node._op is not None and node._op.differentiable:
            for i in node.inputs:
                if id(i) in marked:
                    marked.add(id(node))
                    break
    return marked


def gradients(ys, xs, grad_ys=None) -> list:
    """d(sum of ys)/d(each x) as tensors; None for an x that the ys do not depend on.

    Args:
        ys: a tensor or list of tensors to differentiate.
        xs: a tensor or list of tensors to differentiate with respect to.
        grad_ys: optional adjoints of the ys (default: ones), as in `tf.gradients`.
    """
    ys, xs = _as_list(ys), _as_list(xs)
    grad_ys = [None] * len(ys) if grad_ys is None else _as_list(grad_ys)
    if len(grad_ys) != len(ys):
        raise ValueError(f"gradients: {len(grad_ys)} grad_ys for {len(ys)} ys")
    ys = [as_tensor(y) for y in ys]
    for x in xs:
        if not isinstance(x, Tensor):
            raise TypeError(f"gradients: xs must be tensors, got {x!r} of type "
                            f"{type(x).__name__}")
    graph = _one_graph(ys, xs, grad_ys)
    if graph is None:
        order = topo_sort(ys)
        while MOVED[0] and mend_stale_edges(order):   # in-place writes moved histories
            order = topo_sort(ys)
        return _backprop(order, ys, xs, grad_ys)
    with graph.name_scope("gradients"):   # TF1's names: the backward graph is gradients/...
        return _backprop(topo_sort(ys), ys, xs, grad_ys)


def _one_graph(ys: list, xs: list, grad_ys: list):
    """The graph of the symbolic tensors among the arguments (None if all are eager); as
    TF1, tensors of two graphs are refused (their gradients would silently be None)."""
    graph, first = None, None
    for role, items in (("ys", ys), ("xs", xs), ("grad_ys", grad_ys)):
        for t in items:
            if isinstance(t, Tensor) and t.is_symbolic:
                if graph is None:
                    graph, first = t.graph, t
                elif t.graph is not graph:
                    raise ValueError(f"gradients: {role} tensor {t.name} must be from the "
                                     f"same graph as {first.name}")
    return graph


grad_hooks: dict = {}   # id(tensor) -> its `register_hook` functions (pytorch/autograd.py)


def run_grad_hooks(node: Tensor, g: Tensor) -> Tensor:
    """PyTorch's tensor hooks: each may return a replacement of the node's gradient."""
    for hook in tuple(grad_hooks.get(id(node), ())):
        new = hook(g)
        if new is not None:
            if not isinstance(new, Tensor) or new.shape != g.shape:
                raise RuntimeError(f"hook {getattr(hook, '__name__', hook)!r} returned "
                                   f"{getattr(new, 'shape', type(new).__name__)} for a "
                                   f"gradient of shape {g.shape}")
            g = new
    return g


class _EndOfBackward(threading.local):
    """What `queue_callback` queued during this thread's sweeps under way (another thread's
    backward runs its own)."""

    def __init__(self) -> None:
        self.queued = []


end_of_backward = _EndOfBackward()


def queue_callback(fn) -> None:
    """Run `fn()` when the backward sweep under way ends (PyTorch's
    `Variable._execution_engine.queue_callback`): a module's full backward hook waits there
    for inputs that may get no gradient. A sweep that raises drops what it queued."""
    end_of_backward.queued.append(fn)


def _run_queued(queued: list, mark: int) -> None:
    mine = queued[mark:]
    del queued[mark:]
    for fn in mine:
        fn()


def _backprop(order: list, ys: list, xs: list, grad_ys: list, on_final=None,
              relevant: Optional[set] = None) -> list:
    """The reverse sweep over `order` (the nodes the ys depend on, inputs first).

    `on_final(x, g, shared)` is called for each x of `xs` as soon as its gradient is complete
    (every node reading x has been swept), so a caller can act on it while the sweep goes on;
    `shared` says g's array was also handed to another node (an op like `add` passes its
    adjoint through to both inputs), so a caller keeping it must copy it. `relevant`: ids
    of the nodes that depend on some x, if the caller knows them.

    This loop runs once per node of every eager backward, so its common case is written
    out: a node's partial adjoints are one tensor until a second arrives (then a list), and
    the version check (up to three inputs: a Linear's affine), the handed-out record and the
    request are inlined. A tensor read by many products (`Op.sums_adjoints`) gets its later gradient
    terms kept and summed as one op (`_defer`)."""
    if relevant is None:
        relevant = _depends_on(order, xs)
    keep = {id(x) for x in xs}
    terms: dict = {}   # id -> the `_Terms` of a tensor whose products `_defer` keeps (and
    #                    None -> their last sums)
    node_to_grad: dict = {}   # id -> the one partial (a Tensor), or a list of them
    handed = set() if on_final is not None else None   # ids of arrays handed out (backward)
    shared: set = set()
    for y, gy in zip(ys, grad_ys):
        if id(y) in relevant:
            gy = ones_like(y, name="grad_ys") if gy is None else as_tensor(gy, dtype=y.dtype)
            _add_partial(node_to_grad, id(y), gy)
            _hand(handed, shared, gy)
    outer, anomaly = vjp_request.needed, anomaly_mode.enabled
    defers = not grad_mode.enabled and not anomaly   # no backward graph, no per-node check
    current = outer   # the request set now: rewritten only when it changes (a thread-local)
    pop, get = node_to_grad.pop, node_to_grad.get
    queued = end_of_backward.queued
    mark = len(queued)
    try:
        for node in reversed(order):
            key = id(node)
            if key in keep:
                partials = get(key)
                if partials is None:
                    continue
                if grad_hooks and key in grad_hooks:
                    _flush(terms)   # user code next: it sees no gradient term still kept
                    node_to_grad[key] = partials = run_grad_hooks(node, _total(partials, node))
                    _hand(handed, shared, partials)
                if on_final is not None:
                    if terms and node._post_grad_hooks:
                        _flush(terms)
                    total = _total(partials, node)
                    if total is not partials:   # a new sum (a single partial: counted once)
                        _hand(handed, shared, total)  # a retained non-leaf passes it on
                    node_to_grad[key] = partials = total
                    vjp_request.needed = current = outer  # the caller's code: its own request
                    on_final(node, total, id(total.array) in shared)
            else:
                partials = pop(key, None)   # eager adjoints go as soon as they are used
                if partials is None:
                    continue
                if grad_hooks and key in grad_hooks:
                    _flush(terms)
                    partials = run_grad_hooks(node, _total(partials, node))
            op = node._op
            if op is None:
                continue
            inputs = node.inputs
            n = len(inputs)
            if n == 1:
                needed = (id(inputs[0]) in relevant,)
                if not needed[0]:
                    continue
            elif n == 2:
                needed = (id(inputs[0]) in relevant, id(inputs[1]) in relevant)
                if needed == _NONE_OF_TWO:
                    continue
            else:
                needed = tuple([id(i) in relevant for i in inputs])
                if True not in needed:
                    continue
            if type(partials) is not list:
                g = partials
            elif op.sliced_adjoint and not op.composed:   # the op reads the pieces itself
                g = _sliced(partials, node)
            else:
                g = _total(partials, node)
            eager = node.kind == "eager"
            if eager:
                saved = node._saved
                if saved is not None and (
                        saved is FREED or n > 3 or node._version[0] != saved[-1]
                        or inputs[0]._version[0] != saved[0]
                        or n > 1 and (inputs[1]._version[0] != saved[1]
                                      or n == 3 and inputs[2]._version[0] != saved[2])):
                    check_saved(node, order, ys)   # raises unless nothing it reads was overwritten
            if type(op) is GetItem and inputs[0].dtype.is_floating and (
                    eager or not node.graph.placements):
                # gathered with the other getitems' gradients of that input (see `_total`)
                xid = id(inputs[0])
                prev = get(xid)
                piece = _Piece(op.index, g)
                if prev is None:
                    node_to_grad[xid] = [piece]
                elif type(prev) is list:
                    prev.append(piece)
                else:
                    node_to_grad[xid] = [prev, piece]
                continue
            if eager and op.plain_vjp:   # `_vjp` without the call: most eager nodes
                if needed != current:   # what `needs_input_grad` answers inside the rule
                    vjp_request.needed = current = needed
                input_grads = op.vjp(g, node, *inputs)
            else:
                if op.sums_adjoints and eager and defers:
                    needed = _defer(op, g, node, inputs, needed, node_to_grad, terms)
                    if True not in needed:
                        continue
                if needed != current:
                    vjp_request.needed = current = needed
                if not eager and node.graph.placements:   # gradients beside their op
                    with node.graph.colocate(node):
                        input_grads = _vjp(node, g)
                elif op.composed:
                    input_grads = _vjp(node, g)
                elif op.joins_first_adjoint and eager:
                    input_grads = _joined_vjp(node, g, node_to_grad)
                else:
                    input_grads = op.vjp(g, node, *inputs)
            if anomaly:
                _check_finite(node, input_grads)
            broadcasts = op.broadcasts
            for x, gx, wanted in zip(inputs, input_grads, needed):
                if gx is None or not wanted or not x.dtype.is_floating:
                    continue
                if broadcasts and (gx.shape != x.shape or not eager):
                    gx = unbroadcast(gx, x)
                if gx.dtype is not x.dtype:
                    gx = cast(gx, x.dtype)  # float32 input meeting float64: a float32 grad
                xid = id(x)
                prev = get(xid)
                if prev is None:
                    node_to_grad[xid] = gx
                elif type(prev) is list:
                    prev.append(gx)
                else:
                    node_to_grad[xid] = [prev, gx]
                if handed is not None:
                    array = gx.array
                    if array is not None:
                        if id(array) in handed:
                            shared.add(id(array))
                        else:
                            handed.add(id(array))
    except BaseException:
        del queued[mark:]
        raise
    finally:
        vjp_request.needed = outer
    if len(queued) > mark:
        _run_queued(queued, mark)
    return [_total(node_to_grad.get(id(x), ()), x) for x in xs]


_NONE_OF_TWO = (False, False)


def _add_partial(node_to_grad: dict, key: int, g) -> None:
    """Record one more partial adjoint of the node `key` (the sweep's loop inlines this)."""
    prev = node_to_grad.get(key)
    if prev is None:
        node_to_grad[key] = g
    elif type(prev) is list:
        prev.append(g)
    else:
        node_to_grad[key] = [prev, g]


def _hand(handed: Optional[set], shared: set, g: Tensor) -> None:
    """Record g's array as handed out; a second time, it goes in `shared` (only tracked for
    `backward()`, which keeps gradients as `.grad`; the sweep's loop inlines this)."""
    if handed is not None and g.array is not None:
        key = id(g.array)
        if key in handed:
            shared.add(key)
        else:
            handed.add(key)


# The terms `_defer` keeps for one tensor are summed once they hold this many bytes: memory
# stays bounded, and the products read terms still in cache. The LSTMCell example's backward
# (float64, 6 pairs of [97, 204] and [97, 51] a MiB; 4 MiB L2 a core) took 145-148 ms with
# 1 MiB, 149-151 with 256 KiB, 164-167 with 4 MiB, 160-164 summing each term at once, 155-160
# before (a product and an add per reader); the whole sequence's terms at the end, 176-190
TERM_BYTES = 1 << 20


class _Terms:
    """The gradient terms `_defer` kept for one tensor: pairs (a, b) of a^T b, or b's whose
    row sums add up (`rows`: a bias), summed by `product_sum` when `TERM_BYTES` of them are
    held or the gradient is wanted (`dense`). `sums` holds the sweep's last few sums and
    their terms: two tensors given the same terms share one sum (nn.LSTMCell's bias_ih and
    bias_hh both get the gates' gradient)."""

    __slots__ = ("rows", "xs", "held", "total", "sums")

    def __init__(self, rows: bool, sums: list) -> None:
        self.rows, self.xs, self.held, self.total, self.sums = rows, [], 0, None, sums

    def add(self, a: Optional[Tensor], b: Tensor) -> None:
        if a is not None:
            self.xs.append(a)
            self.held += a.array.nbytes
        self.xs.append(b)
        self.held += b.array.nbytes
        if self.held >= TERM_BYTES:
            self.flush()

    def flush(self) -> None:
        xs = self.xs
        if not xs:
            return
        for rows, seen, part in self.sums:
            if rows is self.rows and len(seen) == len(xs) and all(
                    a is b for a, b in zip(seen, xs)):
                break
        else:
            part = product_sum(*xs, rows=self.rows)
            self.sums.append((self.rows, xs, part))
            if len(self.sums) > 4:
                del self.sums[0]
        self.total = part if self.total is None else self.total + part
        self.xs, self.held = [], 0

    def dense(self) -> Tensor:
        self.flush()
        return self.total


def _defer(op, g: Tensor, node: Tensor, inputs: tuple, needed: tuple, node_to_grad: dict,
           terms: dict) -> tuple:
    """`needed` without the inputs whose gradient terms are kept instead (in `terms`, and in
    the input's partials): each input that already has a partial (a tensor read by many
    products: a weight used at every step of a loop, a tied embedding) and whose gradient
    is a product `op.adjoint_terms` names. T products [k, n] x [n, m] and T - 1 sums then
    run as one `product_sum` (one op, no Python between the products), and a bias's T row
    sums as one. Only in an eager sweep that builds no graph (not create_graph), so the
    terms are plain values; the sum's order differs from one product at a time (float
    rounding)."""
    kept = None
    for k, x in enumerate(inputs):
        if not needed[k]:
            continue
        xid = id(x)
        prev = node_to_grad.get(xid)
        if prev is None:   # the first reader: its gradient now (a tensor read once: as ever)
            continue
        pair = op.adjoint_terms(k, g, node, *inputs)
        if pair is None:
            continue
        a, b = pair
        if b.dtype is not x.dtype or b.array is None or a is not None and (
                a.dtype is not x.dtype or a.array is None):
            continue
        mine = terms.get(xid)
        if mine is None:
            mine = terms[xid] = _Terms(a is None, terms.setdefault(None, []))
            if type(prev) is list:
                prev.append(mine)
            else:
                node_to_grad[xid] = [prev, mine]
        elif mine.rows != (a is None):
            continue
        mine.add(a, b)
        if kept is None:
            kept = list(needed)
        kept[k] = False
    return needed if kept is None else tuple(kept)


def _flush(terms: dict) -> None:
    """Sum every kept term now: user code (a hook) is about to run, and may write in place
    to a value a kept product reads."""
    for key, mine in terms.items():
        if key is not None:
            mine.flush()


class _Piece:
    """A getitem's gradient not yet placed in its input's shape: `g` at `index`."""

    __slots__ = ("index", "g")

    def __init__(self, index: tuple, g: Tensor) -> None:
        self.index, self.g = index, g


def _sliced(partials: list, x: Tensor) -> SlicedAdjoint:
    """x's partial adjoints as a SlicedAdjoint: the getitems' gradients, and the rest."""
    return SlicedAdjoint(x, [(p.index, p.g) for p in partials if type(p) is _Piece],
                         [p.dense() if type(p) is _Terms else p for p in partials
                          if type(p) is not _Piece])


def _total(partials, x: Tensor) -> Optional[Tensor]:
    """The sum of x's partial adjoints (one tensor, or a list of them): the getitems'
    gradients among them (split, chunk, slices of one tensor) are written into one buffer by
    one op, not each into zeros of x's shape and then added."""
    if type(partials) is not list and type(partials) is not tuple:
        return partials
    if len(partials) == 1 and type(partials[0]) is not _Piece:
        return partials[0].dense() if type(partials[0]) is _Terms else partials[0]
    return _sliced(partials, x).dense()


def _joined_vjp(node: Tensor, g: Tensor, node_to_grad: dict) -> tuple:
    """The rule of an eager node whose op can add its first input's adjoint so far, r, into
    that input's gradient in its own kernel (`Op.vjp_joining`; LayerNorm in a pre-norm
    block, `x + f(layer_norm(x))`, where r is the residual stream's gradient): r then leaves
    the input's partials, instead of being summed with the op's gradient later in a pass
    over three arrays of the input's size."""
    x = node.inputs[0]
    r = node_to_grad.get(id(x))
    if isinstance(r, Tensor):
        grads = node._op.vjp_joining(g, node, r, *node.inputs)
        if grads is not None:
            del node_to_grad[id(x)]
            return grads
    return node._op.vjp(g, node, *node.inputs)


def _vjp(node: Tensor, g: Tensor) -> tuple:
    """The node's op's reverse rule, or the gradients of its composition (`composed` ops)."""
    if node._op.composed:
        y, xs = traced(node._op, node.inputs)
        return tuple(gradients(y, xs, grad_ys=g))
    return node._op.vjp(g, node, *node.inputs)


def _check_finite(node: Tensor, grads) -> None:
    """Anomaly mode: name the op (and where the forward pass created it) that made NaN/Inf."""
    for k, g in enumerate(grads):
        if g is not None and g.kind == "eager" and g.dtype.is_floating and not np.all(
                np.isfinite(g.array)):
            where = f", created at {node.site}" if node.site else ""
            raise RuntimeError(f"Function '{node._op.name}' returned nan or inf values in its "
                               f"gradient for input {k}{where}")


def backward(tensor: Tensor, gradient=None, retain_graph: bool = False,
             create_graph: bool = False, inputs: Optional[Sequence[Tensor]] = None) -> None:
    """Eager `loss.backward()`: accumulate d(tensor)/d(leaf) into each leaf's `.grad`."""
    if tensor.kind == REMOTE:   # a loss on a declared device: its worker starts the pass
        if create_graph or inputs is not None:
            raise NotImplementedError(f"backward() of a tensor on {tensor.remote.device.name}"
                                      f": create_graph and inputs are not supported")
        return tensor.remote.device.backward(tensor, gradient, retain_graph)
    if (create_graph or inputs is not None) and devices.crosses_devices is not None \
            and devices.crosses_devices(tensor):
        raise NotImplementedError("backward(): create_graph and inputs are not supported for a "
                                  "loss computed from tensors that came from a device")
    if tensor.kind != EAGER:   # symbolic (REMOTE went above)
        if trace_state.active is not None:   # under compile: the symbolic backward graph
            return trace_state.active.backward(tensor, gradient, inputs, retain_graph)
        raise TypeError(f"backward() is for eager tensors; {tensor.name} is symbolic — "
                        "use tf.gradients to build its gradient graph")
    if not tensor.requires_grad:
        raise no_history_error()
    if gradient is None:
        if tensor.array.size != 1:
            raise implicit_seed_error(tensor.shape)
        ones = (np.ones(tensor.shape, tensor.array.dtype) if tensor.shape   # a loss: 0-d
                else np.array(1, tensor.array.dtype))
        seed = new_eager(ones, tensor.dtype)
    else:
        seed = Tensor._eager(np.array(as_tensor(gradient).numpy(force=True),
                                      dtype=tensor.array.dtype))
        if seed.shape != tensor.shape:
            raise RuntimeError(f"backward: gradient of shape {seed.shape} for a tensor of "
                               f"shape {tensor.shape}")
    walk = _recorded if inputs is None else (lambda t: (topo_sort([t]), list(inputs), None))
    order, targets, relevant = walk(tensor)   # without inputs: into every leaf, one pass
    while MOVED[0] and mend_stale_edges(order):   # in-place writes moved histories
        order, targets, relevant = walk(tensor)
    def accumulate(target: Tensor, g: Tensor, shared: bool) -> None:
        # a leaf's .grad accumulates in place (AccumulateGrad); a retained non-leaf's is
        # replaced by the new sum, as PyTorch does
        if not create_graph and target._op is None and _accumulates_in_place(target._grad, g):
            np.add(target._grad.array, g.array, out=target._grad.array)
            target._grad._version[0] += 1
        elif not create_graph:
            g = Tensor._eager(np.array(g.array) if shared else _owned(g.array))
            target.grad = g if target.grad is None else target.grad + g
        else:
            if shared:        # a differentiable copy: .grad is the target's own tensor
                g = copy_tensor(g)
            target.grad = g if target.grad is None else target.grad + g
        for hook in target._post_grad_hooks or ():
            hook(target)

    enabled = grad_mode.enabled   # `set_grad_enabled(create_graph)`, without its frames
    set_grad_mode(create_graph)
    try:
        _backprop(order, [tensor], targets, [seed], on_final=accumulate, relevant=relevant)
    finally:
        set_grad_mode(enabled)
    if not (retain_graph or create_graph):
        for node in order:
            if node._op is not None:
                node._saved = FREED
    if devices.after_backward is not None:   # inputs that came from a device: go back there
        devices.after_backward(tensor, retain_graph)


def _recorded(root: Tensor) -> tuple[list, list, set]:
    """For a `backward()` into every leaf, in one walk of root's recorded history (only
    tensors that require grad): the post-order (inputs first), the leaves and retained
    non-leaves, and the ids of the nodes gradients flow through. Each recorded tensor
    depends on a leaf that requires grad (a node left with no such input gets a gradient
    no leaf receives; its own inputs are skipped). `topo_sort(requires_grad_only=True)`
    and a pass over its order, written as one loop: it runs on every training step."""
    order, targets, relevant, visited = [], [], set(), set()
    stack = [(root, False)]
    pop, push = stack.pop, stack.append
    while stack:
        node, expanded = pop()
        if expanded:
            order.append(node)
            continue
        key = id(node)
        if key in visited:
            continue
        visited.add(key)
        push((node, True))
        op = node._op
        if op is None:
            targets.append(node)
            relevant.add(key)
            continue
        if node._retains_grad:
            targets.append(node)
        if op.differentiable:
            relevant.add(key)
        for dep in reversed(node.inputs):   # the first input is swept first
            if dep.requires_grad and id(dep) not in visited:
                push((dep, False))
    return order, targets, relevant


def _accumulates_in_place(grad: Optional[Tensor], g: Tensor) -> bool:
    """Whether `backward()` may add g into the existing `.grad`'s buffer, as PyTorch's
    AccumulateGrad does outside create_graph: a plain eager gradient of g's shape and dtype
    that autograd does not track, in a writable buffer."""
    return (grad is not None and grad.kind == "eager" and not grad.requires_grad
            and grad.shape == g.shape and grad.dtype is g.dtype
            and grad.array.flags.writeable)


def _owned(arr: np.ndarray) -> np.ndarray:
    """A writable array of its own: `.grad` must not alias a view or someone else's buffer."""
    if arr.flags.owndata and arr.flags.writeable and arr.flags.c_contiguous:
        return arr
    return np.array(arr)
