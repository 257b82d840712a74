"""The tracer: while it is active (`core.modes.trace_state`), every `apply` adds a node to its
private graph, and what eager code would do to eager tensors — in-place writes, `.grad`
updates, `backward()` — is recorded as values the compiled plan computes instead."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..autodiff.reverse import gradients
from ..autodiff.tape import MULTI_OUTPUT_VIEW_READ
from ..core import dtypes
from ..core.errors import implicit_seed_error, no_history_error, user_site
from ..core.graph import Graph, topo_sort
from ..core.modes import grad_mode, set_grad_mode, trace_state
from ..core.op import apply
from ..core.printing import format_tensor
from ..core.tensor import EAGER, PLACEHOLDER, Tensor
from ..ops.indexing import setitem
from ..ops.math import cast
from ..ops.shape import (BroadcastTo, ConcatPiece, Expand, ExpandDims, GetItem, Reshape,
                          ReshapeTo, Squeeze, StopGradient, Transpose, broadcast_to,
                          stop_gradient)
from .captures import seen_data
from .pieces import Splitter


# the view ops that only move or select elements: `Tracer.layout` re-runs them on a stand-in
_MOVES = (Reshape, ReshapeTo, Transpose, ExpandDims, Squeeze, ConcatPiece, GetItem,
          BroadcastTo, Expand)


def _c_order(layout: Optional[np.ndarray]) -> bool:
    """Whether an elementwise result of `layout` (a `Tracer.layout`) is C-contiguous also
    when it follows its operand's axis order (a ufunc's `order='K'`); None (unknown): as
    assumed before."""
    return layout is None or np.empty_like(layout).flags.c_contiguous


class GraphBreak(Exception):
    """Data-dependent Python met a traced tensor: the function cannot be one graph."""

    def __init__(self, reason: str, site: str) -> None:
        super().__init__(f"{reason} at {site}")
        self.reason, self.site = reason, site


class Tracer:
    """Records one call of a function as a graph over placeholders and eager leaves.

    `real` maps each placeholder to the argument it stands for; `current` maps a tensor
    written during the trace to its new (symbolic) value, so later reads see it; `writes`
    and `grads` are what the run must store into the real tensors afterwards.
    """

    def __init__(self, pieces: Optional[dict] = None, fullgraph: bool = True) -> None:
        self.graph = Graph()
        self.pieces = pieces                     # the compiled pieces of earlier calls
        self.fullgraph = fullgraph               # a break raises (else: pieces)
        self.splitter: Optional[Splitter] = None   # made at the first break
        self.real: dict[int, Tensor] = {}        # id(placeholder) -> the argument
        self.current: dict[int, Tensor] = {}     # id(written tensor) -> its value now
        self.writes: dict[int, tuple] = {}       # id(real tensor) -> (tensor, value)
        self.grads: dict[int, tuple] = {}        # id(tensor) -> (tensor, .grad before)
        self.grad_guards: dict[int, tuple] = {}  # id(tensor) -> (tensor, .grad read)
        self.grad_feeds: dict[int, Tensor] = {}  # id(placeholder of a .grad read) -> owner
        self.data_reads: dict[int, tuple] = {}   # id(tensor) -> (tensor, what Python read)
        self.rebound: dict[int, Tensor] = {}     # id(new value of a leaf) -> that leaf
        self.no_grad: dict[int, Tensor] = {}     # id(node made under no_grad) -> the node
        self.stopped: dict[int, Tensor] = {}     # id(such a node) -> it, read with grad on
        self.alias_of: dict[int, Tensor] = {}    # id(detached alias) -> the tensor it shares
        self.aliases: dict[int, list] = {}       # id(that tensor) -> its detached aliases
        self.views: dict[int, list] = {}         # id(tensor) -> view nodes made of it
        self.view_nodes: dict[int, Tensor] = {}  # id(such a view node) -> its base
        self.maybe_copies: set[int] = set()      # ids of reshapes that may copy eagerly
        self.stale: set[int] = set()             # ids of tensors a view write made stale
        self.moved_pieces: set[int] = set()      # ids of split/chunk/unbind pieces read
        #                                          again after their base was written
        self.contiguity: dict[int, tuple] = {}   # id(eager tensor) -> (it, C-contiguous?)
        self.new_states: list[tuple] = []        # (state dict, key, buffer) made by the run
        self.single_use = False                  # the trace made state: retrace next time
        self.optimizers: dict[int, tuple] = {}   # stepped: (it, its options at the step)
        self.modules: dict[int, object] = {}     # called: their `training` is a constant
        self.freed = False   # a backward() ran without retain_graph: the results' graph is spent
        self.last_draw: Optional[Tensor] = None   # the random draw made last
        self.layouts: dict[int, Optional[np.ndarray]] = {}   # `layout` of each node

    def placeholder(self, arg: Tensor, dims: tuple = ()) -> Tensor:
        """The stand-in for argument `arg`; its dimensions `dims` are symbolic (None)."""
        shape = tuple(None if k in dims else n for k, n in enumerate(arg.shape))
        ph = Tensor._symbolic(PLACEHOLDER, shape, arg.dtype, name="arg", graph=self.graph)
        ph.requires_grad = arg.requires_grad
        self.real[id(ph)] = arg
        return ph

    def __enter__(self) -> "Tracer":
        trace_state.active = self
        return self

    def __exit__(self, *exc) -> None:
        trace_state.active = None
        # (a .grad written in place after it was set, `p.grad.zero_()`: its new value)
        self.final_grads = [(t, t._grad if t._grad is None else self.current.get(
            id(t._grad), t._grad)) for t, _ in self.grads.values()]
        for t, before in self.grads.values():   # the real tensors keep their own .grad
            t._grad = before

    # ---- hooks called by core, autodiff and optim while tracing --------------------------
    def reads(self, inputs: tuple) -> tuple:
        current = self.current
        if self.stale and any(id(x) in self.stale for x in inputs):
            self.graph_break("a read of a tensor whose view was written in place")
        if current:
            inputs = tuple([current.get(id(x), x) for x in inputs])
        if self.no_grad and grad_mode.enabled:
            inputs = tuple([self._without_grad(x) if id(x) in self.no_grad else x
                            for x in inputs])
        return inputs

    def made_without_grad(self, node: Tensor) -> None:
        """`node` was made under `torch.no_grad()`: read with grad mode on (or handed out),
        it has no history, as eagerly."""
        if node._op.differentiable:
            self.no_grad[id(node)] = node

    def _without_grad(self, node: Tensor) -> Tensor:
        stopped = self.stopped.get(id(node))
        if stopped is None:
            del self.no_grad[id(node)]     # (its stop_gradient reads it as it is)
            stopped = self.stopped[id(node)] = stop_gradient(node)
            self.no_grad[id(node)] = node
        return stopped

    def made_view(self, node: Tensor, base: Tensor) -> None:
        """`node`, made by a view op of `base` (as the caller holds it), shares its memory:
        a later write into base is seen by node (`_views_see`), and a write into node makes
        base and its other views stale (`_view_written`). A detach is an alias (`detach`),
        written both ways. Integer-array indexing copies, as eagerly: not a view. A reshape
        of a tensor that may not be contiguous may copy eagerly: a write into its base is
        then a graph break (eager knows which it was)."""
        op = node._op
        if isinstance(op, StopGradient):
            return
        if isinstance(op, GetItem) and not all(
                i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice))
                for i in op.index):
            return
        if isinstance(op, (Reshape, ReshapeTo)) and not self._contiguous(base):
            self.maybe_copies.add(id(node))
        self.views.setdefault(id(base), []).append(node)
        self.view_nodes[id(node)] = base
        if base.multi_output_view and grad_mode.enabled:   # as `core.op.share_version`
            node.multi_output_view = True

    def drew(self, node: Tensor) -> None:
        """`node` draws from the global generator: after the draw made before it (a plan
        may order independent nodes otherwise), as eager code draws them in turn."""
        if self.last_draw is not None:
            node.control_inputs = tuple(node.control_inputs) + (self.last_draw,)
        self.last_draw = node

    def is_view(self, node: Tensor) -> bool:
        """Whether traced `node` shares its base's memory eagerly (`made_view`)."""
        return id(node) in self.view_nodes

    def _contiguous(self, t: Tensor) -> bool:
        """Whether `t` is surely C-contiguous eagerly (so a reshape of it is a view): an
        eager tensor or argument by its array; a computed node is (a new buffer); a view
        node only as a reshape, unsqueeze or squeeze of a contiguous tensor."""
        real = self.real.get(id(t), t)
        if real.kind == EAGER:   # guarded: a later call's tensor may be laid out otherwise
            seen = bool(real.array.flags.c_contiguous)
            self.contiguity[id(real)] = (real, seen)
            return seen
        base = self.view_nodes.get(id(t))
        if base is None:
            return True
        return (isinstance(t._op, (Reshape, ReshapeTo, ExpandDims, Squeeze))
                and id(t) not in self.maybe_copies and self._contiguous(base))

    def layout(self, t: Tensor) -> Optional[np.ndarray]:
        """An array laid out in memory as `t` would be eagerly, for eager's checks on strides
        (`view` of a transpose): an eager tensor's or argument's own array (its contiguity
        guarded), a new buffer for a computed node, a view node's op applied to its base's
        layout; None if a size is symbolic. Its values are not t's."""
        if id(t) not in self.layouts:   # (a node read by several is laid out once)
            self.layouts[id(t)] = self._layout(t)
        return self.layouts[id(t)]

    def _layout(self, t: Tensor) -> Optional[np.ndarray]:
        if isinstance(t._op, StopGradient):   # a detach shares t's memory
            return self.layout(t.inputs[0])
        real = self.real.get(id(t), t)
        if real.kind == EAGER:
            self._contiguous(real)
            return real.array
        if t.shape is None or any(d is None for d in t.shape):
            return None
        base = self.view_nodes.get(id(t))
        if base is None:
            if t._op.elementwise and any(
                    x.shape == t.shape and not _c_order(self.layout(x)) for x in t.inputs):
                # eagerly laid out as its input (a NumPy ufunc) or not, by its kernel
                self.graph_break("view() of an elementwise result of a tensor that is not "
                                 "in C order: its eager strides depend on the kernel")
            return np.empty(t.shape, np.uint8)
        if not isinstance(t._op, _MOVES):   # (a view op that runs code: not re-run here)
            return None
        inner = self.layout(base)
        if inner is None or any(x.kind != EAGER for x in t.inputs[1:]):
            return None
        return t._op._eager_kernel(inner, *[x.array for x in t.inputs[1:]])

    def _views_see(self, target: Tensor, real: Tensor) -> None:
        """After a write into `target` (and `real`, the argument it stands for), their
        views, and theirs, read the new value as eager views of its memory do: each is its
        view op again, of its base's value now."""
        pending = [(view, base) for base in ((target,) if real is target else (target, real))
                   for view in self.views.get(id(base), ())]
        while pending:
            view, base = pending.pop()
            if id(view) in self.maybe_copies:
                self.graph_break("a write into the base of a reshape that may have copied")
            now = self.current.get(id(base), base)
            self.current[id(view)] = seen = apply(view._op, now, *view.inputs[1:])
            if view.multi_output_view:
                self.moved_pieces.add(id(seen))
            pending += [(inner, view) for inner in self.views.get(id(view), ())]

    def _view_written(self, target: Tensor) -> None:
        """An in-place write into view node `target`: eagerly it writes its base's memory.
        Its views see it (`_views_see`); its base and the base's other views are stale (a
        read of one is a graph break), and a base that is an argument or state tensor
        (whose memory the graph would have to write) is a graph break now. Code that writes
        a view of a temporary and reads only the view (`h = x.view(n, -1); h.relu_()`)
        stays one graph."""
        if id(target) in self.maybe_copies:    # unknown whether it writes its base
            self.graph_break("an in-place write into a reshape that may be a view")
        root = target
        while id(root) in self.view_nodes:
            root = self.view_nodes[id(root)]
        if root.kind == EAGER or id(root) in self.real:
            self.graph_break("an in-place write into a view")
        keep = {id(target)}
        pending = [target]
        while pending:
            for v in self.views.get(id(pending.pop()), ()):
                keep.add(id(v))
                pending.append(v)
        pending = [root]
        while pending:
            t = pending.pop()
            if id(t) not in keep:
                self.stale.add(id(t))
                pending += self.views.get(id(t), ())

    def write(self, target: Tensor, value: Tensor) -> Tensor:
        if target._base is not None:
            self.graph_break("an in-place write into a view")
        if id(target) in self.view_nodes:
            if isinstance(target._op, GetItem):
                return self._write_through(target, value)
            self._view_written(target)
        real = self.real.get(id(target), target)
        if not grad_mode.enabled and target.kind != EAGER and real._op is not None \
                and self.current.get(id(target), target).requires_grad:
            # eagerly it keeps its history under the new values (a leaf's is its own)
            self.graph_break("an in-place write under no_grad into a tensor whose history "
                             "autograd records (eagerly it keeps that history)")
        if grad_mode.enabled and real.kind == EAGER and not real.requires_grad \
                and value.requires_grad:
            # (eagerly the argument or captured tensor takes the value's history)
            self.graph_break("an in-place write of a value with history into an argument "
                             "or captured tensor that does not require grad")
        if real is target and target.kind == EAGER and any(
                a is target for a in self.real.values()):
            # also an argument (an optimizer over parameters passed in): its placeholder's
            # reads would not see this write, as they see one through the placeholder
            self.graph_break("a write into a captured tensor the call also gets as an "
                             "argument")
        if value.dtype is not real.dtype:
            value = cast(value, real.dtype)
        if tuple(value.shape) != tuple(real.shape):
            value = broadcast_to(value, target)
        root = self.alias_of.get(id(target))
        if root is not None:     # through `t.detach()`: into t's memory, t's history kept
            return self._write_alias(target, root, value)
        self.writes[id(real)] = (real, value)
        if real.requires_grad and real._op is None:
            # a leaf overwritten (an optimizer step) is read as a leaf again, with no
            # history: a later backward in this call differentiates w.r.t. the new value
            value = stop_gradient(value)
            self.rebound[id(value)] = real
        self.current[id(target)] = self.current[id(real)] = value
        if self.views:
            self._views_see(target, real)
        aliases = self.aliases.get(id(target), []) + self.aliases.get(id(real), [])
        if aliases:      # they share its memory: they read the new value, without gradient
            seen = stop_gradient(value)
            for alias in aliases:
                self.current[id(alias)] = seen
        return target

    def _write_through(self, target: Tensor, value: Tensor) -> Tensor:
        """A write into `target`, a basic-index GetItem view (`cache[:, pos].copy_(k)`):
        eagerly it writes its base's memory, so its base is written with the region set
        (`base[index] = value`), and its views, `target` among them, are read again. A
        leaf that requires grad under grad mode is refused eagerly: a graph break."""
        base = self.view_nodes[id(target)]
        root = base
        while id(root) in self.view_nodes:
            root = self.view_nodes[id(root)]
        root = self.real.get(id(root), root)
        if grad_mode.enabled and root.requires_grad and root.is_leaf:
            self.graph_break("an in-place write into a view of a leaf that requires grad")
        if value.dtype is not target.dtype:
            value = cast(value, target.dtype)
        if tuple(value.shape) != tuple(target.shape):
            value = broadcast_to(value, target)
        self.write(base, setitem(self.current.get(id(base), base), target._op.index, value))
        return target

    def detach(self, t: Tensor) -> Tensor:
        """`t.detach()` (or `.data`) of a traced or captured tensor: a node holding t's
        value that autograd does not go through, and an alias of t's memory: a write
        through either is seen by both, as eagerly."""
        root = self.alias_of.get(id(t), t)
        node = stop_gradient(t)
        self.alias_of[id(node)] = root
        self.aliases.setdefault(id(root), []).append(node)
        return node

    def set_data(self, t: Tensor, value: Tensor) -> None:
        """`t.data = value`: t holds value's values, without its history."""
        if tuple(value.shape) != tuple(t.shape) or value.dtype is not t.dtype:
            self.graph_break("assigning .data a tensor of another shape or dtype")
        self.write(t, stop_gradient(value))

    def _write_alias(self, alias: Tensor, root: Tensor, value: Tensor) -> Tensor:
        """An in-place write through a detached alias: `root` takes the new value without
        its gradient (a leaf is read as a leaf again), the alias with it (eager `d.add_(w)`
        makes d require grad). A root whose history autograd records would keep that
        history under new values, which a graph cannot express: a graph break."""
        if root.kind != EAGER and root.kind != PLACEHOLDER and self.records(
                self.current.get(id(root), root)):
            self.graph_break("an in-place write through .detach() of a tensor whose history "
                             "autograd records (its values change under that history)")
        self.write(root, stop_gradient(value))
        self.current[id(alias)] = value
        return alias

    def records(self, node: Tensor) -> bool:
        """Whether traced `node` has a history autograd would differentiate (through
        differentiable ops: not through a `.detach()`)."""
        records: dict[int, bool] = {}
        for n in topo_sort([node]):
            records[id(n)] = self.wants_grad(n) or (
                n._op is not None and n._op.differentiable and id(n) not in self.no_grad
                and any(records.get(id(i), False) for i in n.inputs))
        return records[id(node)]

    def reads_moved_piece(self, roots: list) -> bool:
        """Whether autograd would differentiate `roots` through a split/chunk/unbind piece read
        after it, its base or a sibling was written: eager refuses that backward
        (`tape._read_since_written`), as PyTorch does; a piece read before the write is
        differentiated as made. Walks what autograd records (not into a `.detach()` or a
        node made under no_grad)."""
        if not self.moved_pieces:
            return False
        seen, pending = set(), list(roots)
        while pending:
            n = pending.pop()
            if id(n) in seen:
                continue
            seen.add(id(n))
            if id(n) in self.moved_pieces:
                return True
            if n._op is not None and n._op.differentiable and id(n) not in self.no_grad:
                pending.extend(n.inputs)
        return False

    def new_state(self, state: dict, key: str, value: Tensor) -> None:
        """An optimizer's first step makes a state buffer: it enters `state` after the run
        (an eager fallback must not see it), and the next call retraces with it."""
        buf = Tensor._eager(np.zeros(tuple(value.shape), value.dtype.np))
        self.new_states.append((state, key, buf))
        self.write(buf, value)
        self.single_use = True

    def stepped(self, optimizer) -> None:
        """`optimizer.step()`: the options it reads now (lr, betas, ...) are constants of the
        graph, guarded as they are now, not after the trace (a scheduler stepped after it
        in the function changes them)."""
        if id(optimizer) not in self.optimizers:
            self.optimizers[id(optimizer)] = (optimizer, options(optimizer))

    def grad_read(self, t: Tensor) -> Optional[Tensor]:
        """`t.grad`: the `.grad` of the real tensor behind `t` (an argument's stand-in reads
        its argument's). One the trace had not set is read as a placeholder fed with the
        owner's `.grad` of each run (`grad_feeds`), guarded on its presence, shape and
        dtype: a new `.grad` tensor per step (`zero_grad()` sets None, backward outside
        makes one) reuses the graph, and a run never reads an older step's."""
        real = self.leaf_of(t)
        if id(real) in self.grads:
            return real._grad
        if id(real) not in self.grad_guards:
            grad, seen = real._grad, None
            if grad is not None:
                seen = self.placeholder(grad)
                self.grad_feeds[id(seen)] = real
            self.grad_guards[id(real)] = (real, seen)
        return self.grad_guards[id(real)][1]

    def data_read(self, t: Tensor) -> None:
        """Python read the value of eager tensor `t` (a captured global, a buffer): the
        trace holds what it read (`float(scale)` became a constant), so the graph is valid
        only while `t` holds it (jit/captures.py `seen_data`)."""
        if id(t) not in self.data_reads:
            self.data_reads[id(t)] = (t, seen_data(t))

    def tf1_inputs(self, inputs: tuple, graph) -> Optional[tuple]:
        """An op on a TF1 graph's tensors (`tf.placeholder` and the graph a compiled
        function builds to run in a `tf.Session`) is a node of that graph, as eagerly: None
        if the op is the trace's, else its inputs, a traced one as its value now (a graph
        break, as `.numpy()`), which the TF1 graph holds as a constant as it would hold the
        eager tensor."""
        if graph is None or graph is self.graph:
            graph = None
            for x in inputs:
                if x.kind != EAGER and x.graph is not self.graph and x.graph is not None:
                    graph = x.graph
                    break
            if graph is None:
                return None
        return tuple([Tensor._eager(self.concrete(x, "a TF1 graph op reads a traced "
                                                  "tensor (it takes its value)"))
                      if x.kind != EAGER and x.graph is self.graph else x for x in inputs])

    def outside(self, reason: str, reads=()) -> list:
        """Python that runs on its own values every call (`tf.Session.run` of a graph the
        function built): a graph break, the function runs as pieces (traced each call, so
        that Python runs each call as eagerly). Returns the values of `reads` (traced
        tensors among them as their values now). A call that already wrote state runs
        eagerly: its writes are deferred to the end, that Python would read old values."""
        if self.fullgraph or self.pieces is None or self.writes or self.grads:
            self.graph_break(reason if not (self.writes or self.grads) else
                             f"{reason} after an in-place write or a .grad set")
        if self.splitter is None:
            self.splitter = Splitter(self, self.pieces)
        self.splitter.breaks.append((user_site(), reason))
        return [Tensor._eager(self.concrete(x, reason)) if isinstance(x, Tensor)
                and x.kind != EAGER and x.graph is self.graph else x for x in reads]

    def grad_set(self, t: Tensor, value) -> None:
        t = self.leaf_of(t)
        if id(t) not in self.grads:
            self.grads[id(t)] = (t, t._grad)
        t._grad = value

    def graph_break(self, reason: str):
        raise GraphBreak(reason, user_site())

    def concrete(self, t: Tensor, reason: str) -> np.ndarray:
        """Data-dependent Python needs the value of traced `t`: a graph break. The code
        traced so far becomes a compiled piece and runs (jit/pieces.py); tracing goes on."""
        if self.fullgraph or self.pieces is None:
            self.graph_break(reason)
        if self.splitter is None:
            self.splitter = Splitter(self, self.pieces)
        return self.splitter.concrete(self.current.get(id(t), t), reason)

    def printed(self, t: Tensor) -> str:
        """What printing traced `t` shows eagerly: its value (a graph break), and whether
        autograd would record it."""
        node = self.current.get(id(t), t)
        value = self.concrete(t, "printing a traced tensor")
        records = grad_mode.enabled and any(self.wants_grad(n) for n in topo_sort([node]))
        leaf = node._op is None or id(node) in self.rebound
        grad_fn = type(node._op).__name__ if records and not leaf else None
        return format_tensor(value, t.dtype.name, t.dtype.name in dtypes.ML_FLOATS, records,
                             grad_fn)

    def backward(self, loss: Tensor, gradient, inputs, retain_graph: bool = False) -> None:
        """`loss.backward()` on a traced loss: the symbolic gradient graph, added into the
        `.grad` of every leaf that requires grad (arguments and captured parameters)."""
        self.freed = self.freed or not retain_graph
        if gradient is None:
            if loss.shape is None or any(d is None for d in loss.shape) or \
                    int(np.prod(loss.shape)) != 1:
                raise implicit_seed_error(loss.shape)
        elif not isinstance(gradient, Tensor):
            gradient = Tensor(np.asarray(gradient, loss.dtype.np))
        if inputs is None:
            targets = [n for n in topo_sort([loss]) if self.wants_grad(n)]
        else:
            targets = list(inputs)
        if not targets:
            raise no_history_error("the traced loss")
        if self.reads_moved_piece([loss]):
            raise RuntimeError(MULTI_OUTPUT_VIEW_READ)
        if any(self.leaf_of(t)._post_grad_hooks for t in targets):
            self.graph_break("a post-accumulate-grad hook (it runs Python on each .grad)")
        # The gradient reads each node's inputs as they were when it was made (eager
        # autograd saves them; `h *= x` keeps h's old value for x's gradient), not the
        # values later in-place writes gave them; and it is made without grad, as eager's
        # backward (no create_graph) makes it: a later backward through a `.grad` does not
        # differentiate the gradient's graph
        current, self.current = self.current, {}
        enabled = grad_mode.enabled
        set_grad_mode(False)
        try:
            grads = gradients([loss], targets, None if gradient is None else [gradient])
        finally:
            self.current = current
            set_grad_mode(enabled)
        for t, g in zip(targets, grads):
            if g is None:
                continue
            real = self.leaf_of(t)
            before = real.grad
            self.grad_set(real, g if before is None else before + g)

    def leaf_of(self, t: Tensor) -> Tensor:
        """The real tensor whose `.grad` a gradient target's gradient goes to."""
        leaf = self.rebound.get(id(t))
        return leaf if leaf is not None else self.real.get(id(t), t)

    def wants_grad(self, n: Tensor) -> bool:
        if id(n) in self.rebound:
            return True
        if n.kind == PLACEHOLDER:
            return n.graph is self.graph and self.real[id(n)].requires_grad
        return n.kind == EAGER and n.requires_grad and n._op is None


def options(optimizer) -> tuple:
    """The options of each parameter group (what its step read as Python constants): per
    group, its number of entries, the option names and their values."""
    seen = []
    for group in optimizer.param_groups:
        names = tuple(k for k in group if k not in ("params", "param_names"))
        seen.append((len(group), names, tuple(map(group.get, names))))
    return tuple(seen)
