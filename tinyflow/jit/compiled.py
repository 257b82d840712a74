"""`tinyflow.compile`: a function (or module) traced into a graph once per guard set and run
as a compiled plan; data-dependent Python splits it into compiled pieces (jit/pieces.py)."""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import threading
import time
import warnings
from collections import Counter
from typing import Any, Callable, Optional

import numpy as np

from ..autodiff.tape import FREED
from ..core import dtypes
from ..core.graph import topo_sort
from ..core.modes import autocast_state, grad_mode, trace_state
from ..core.tensor import EAGER, Tensor
from ..nn.modules.module import Module
from ..runtime.plan import Plan
from .arguments import flatten_result, guard, leaves, map_tree, rebuild
from .bridge import CompiledCall, plan_backward
from .captures import (MISSING, capture_guards, changed, data_matches, holds_traced,
                       matches, python_state, restore)
from .dynamic import DynamicDims, all_eager
from .search import search
from .tracer import GraphBreak, Tracer

RECOMPILE_LIMIT = 8   # as torch._dynamo's cache_size_limit: past it, eager (and a warning)


@dataclasses.dataclass
class CompileStats:
    """What a compiled function has done so far."""
    compiles: int = 0        # graphs traced and planned
    recompiles: int = 0      # of those, made because a call failed every cached guard set
    graph_breaks: int = 0    # distinct places (file:line, reason) the function breaks at
    warmup_s: float = 0.0    # time spent tracing, planning and in each graph's first run
    calls: int = 0
    eager_calls: int = 0     # calls run eagerly (an unsupported break, or too many graphs)
    split_calls: int = 0     # calls run as compiled pieces with eager glue between


@dataclasses.dataclass
class _Graph:
    """One compiled graph: its plan and what a run must do to the real tensors."""
    plan: Plan
    outputs: Any         # the result's structure: ("fetch", k) | ("value", v) | containers
    writes: list         # (tensor, fetch index or constant array)
    grads: list          # (tensor, fetch index | None | eager constant, adds to the old)
    #                      (tensor: an int for the call's k-th tensor argument, `_by_slot`)
    guards: list   # ("grad" | "contiguous" | "leaf" | "training" | "data" | "value" | "cell"
    #                 | "options", object, what the trace saw); "data", "value", "cell":
    #                 jit/captures.py
    new_states: list
    single_use: bool
    backward: Optional[list] = None   # per result, its reverse rule or None (jit/bridge.py)
    drawn: Optional[list] = None      # per result, the fetch indices of its rule's draws
    spent: Optional[list] = None      # per result of a call that ran backward: its leaves
    fed: list = dataclasses.field(default_factory=list)   # owners of the `.grad`s it is fed

    def inputs(self, tensors) -> Optional[list]:
        """What the plan is fed: the tensor arguments, then the `.grad` of each owner in
        `fed` (an argument's slot or a captured tensor) as it is now; None if one is None."""
        if not self.fed:
            return tensors
        grads = [(tensors[o] if type(o) is int else o)._grad for o in self.fed]
        return None if any(g is None for g in grads) else list(tensors) + grads

    def valid(self, tensors: list) -> bool:
        tensors = self.inputs(tensors)
        if tensors is None:
            return False
        for kind, obj, seen in self.guards:
            if kind == "grad":   # read as None, or fed: what the graph depends on
                grad = (tensors[obj] if type(obj) is int else obj)._grad
                if (grad is not None) if seen is None else (
                        grad is None or (grad.array.shape, grad.dtype) != seen):
                    return False
            elif kind == "contiguous":   # a reshape of it was traced as a view (or a copy)
                if (tensors[obj] if type(obj) is int else obj).array.flags.c_contiguous \
                        is not seen:
                    return False
            elif kind == "aliases":   # fed .grads, arguments, captured tensors written
                if _aliases(tensors + obj) != seen:
                    return False
            elif kind == "leaf":
                if (obj.array.shape, obj.array.dtype, obj.requires_grad) != seen:
                    return False
            elif kind == "training":   # a module's mode; a hook added since: eager
                if obj.training != seen or obj._hooked():
                    return False
            elif kind == "data":    # an eager tensor whose value the traced Python read
                if not data_matches(obj, seen):
                    return False
            elif kind == "value":   # a global, or a module's attribute
                if not matches(obj[0].get(obj[1], MISSING), seen):
                    return False
            elif kind == "cell":
                try:
                    if not matches(obj.cell_contents, seen):
                        return False
                except ValueError:   # the variable was deleted (`del` of a nonlocal)
                    return False
            elif not _same_options(obj, seen):   # an optimizer's lr, betas, ... (a scheduler)
                return False
        return True


class CompiledFunction:
    """The callable `tinyflow.compile` returns; `stats` says what it compiled."""

    def __init__(self, fn: Callable, module: Optional[Module], fullgraph: bool,
                 dynamic: Optional[bool], budget_s: Optional[float] = None) -> None:
        self.fn, self.module = fn, module
        self.fullgraph, self.dynamic = fullgraph, dynamic
        self.dims = DynamicDims(dynamic)     # which sizes are symbolic (jit/dynamic.py)
        self.budget_s = budget_s             # None: no search, the default rewrites
        self.search_reports: list = []       # one per graph compiled with search
        self.stats = CompileStats()
        self._cache: dict[tuple, list] = {}    # guard key -> [_Graph] (or "eager", "split")
        self._fast: dict[tuple, tuple] = {}    # `_fast_key` -> the guard key it stands for
        self._pieces: dict = {}              # signature -> plan of a piece (jit/pieces.py)
        self._warming = False                # the last split call planned a new piece
        self._changes: dict[tuple, int] = {}  # guard key -> traces that changed Python state
        self.breaks: list[tuple] = []        # (file:line, reason) of each graph break
        self.graphs: list[int] = []          # steps of each compiled graph's program
        self._submodules = None if module is None else list(module.modules())
        functools.update_wrapper(self, fn, updated=())

    def __getattr__(self, name: str):
        """A compiled module's other attributes are the module's (`model =
        torch.compile(model)`, then `model.train()`, `model.parameters()`, `.state_dict()`),
        as torch.compile's wrapper forwards them."""
        module = self.__dict__.get("module")
        if module is None or name.startswith("__"):
            raise AttributeError(f"{type(self).__name__} object has no attribute {name!r}")
        return getattr(module, name)

    def __call__(self, *args, **kwargs):
        if trace_state.active is not None:   # called while an outer compile traces: inline
            return self.fn(*args, **kwargs)
        self.stats.calls += 1
        fast = self._fast_key(args) if not kwargs else None
        key = self._fast.get(fast) if fast is not None else None
        if key is not None:   # the common call: only tensors, seen before
            entries = self._cache.get(key)
            if type(entries) is list:
                for entry in entries:
                    if entry.valid(args):
                        return self._run(entry, list(args))
        key, tensors, dims = self._key(args, kwargs)
        if fast is not None:
            self._fast[fast] = key
        entries = self._cache.get(key)
        if entries == "eager":
            self.stats.eager_calls += 1
            return self.fn(*args, **kwargs)
        if entries == "split":
            return self._split_call(key, args, kwargs, tensors, dims)
        if entries:
            for entry in entries:
                if entry.valid(tensors):
                    return self._run(entry, tensors)
        self._fast.clear()    # a compile may make sizes symbolic: other keys then
        if self.dims.learn(self._paths):   # automatic dynamic: the sizes that changed
            key, tensors, dims = self._key(args, kwargs)
        with one_full_collection():
            return self._compile_and_run(key, args, kwargs, tensors, dims)

    # ---- guards ----------------------------------------------------------------------------
    def _fast_key(self, args: tuple):
        """What decides the guard key of a call whose arguments are all eager tensors (none
        marked dynamic, no module compiled), in one tuple; None for other calls."""
        if self._submodules is not None or not all_eager(args):
            return None
        return (grad_mode.enabled, autocast_state.dtype, autocast_state.fp8,
                dtypes.DEFAULT_FLOAT, _aliases(args),
                *[(t.array.shape, t.dtype, t.requires_grad) for t in args])

    def _key(self, args, kwargs) -> tuple:
        """The guard key of a call, its tensor arguments in order and their symbolic dims."""
        parts, tensors, dims, self._paths = ([grad_mode.enabled, autocast_state.dtype,
                                              autocast_state.fp8, dtypes.DEFAULT_FLOAT],
                                             [], [], [])
        for path, value in leaves(args, (0,)) + (leaves(kwargs, (1,)) if kwargs else []):
            free = ()
            if isinstance(value, Tensor):
                free = self.dims.of(path, value) if value.kind == EAGER else ()
                tensors.append(value)
                dims.append(free)
                self._paths.append((path, value))
            parts.append(guard(value, free, path))
        parts.append(_aliases(tensors))
        if self._submodules is not None:
            parts.append(tuple(m.training for m in self._submodules))
            parts.append(tuple(id(p) for p in self.module.parameters()))
        return tuple(parts), tensors, dims

    # ---- compile ---------------------------------------------------------------------------
    def _compile_and_run(self, key, args, kwargs, tensors, dims):
        start = time.perf_counter()
        state = self._python_state(args, kwargs)   # what a trace may change
        try:
            try:
                tracer, outputs, fetches = self._trace(args, kwargs, dims)
            except GraphBreak:
                raise
            except Exception:
                if not any(dims):
                    raise
                # code that needs a size as a number: specialize, as torch does
                restore(state)
                self.dims.static = True
                key, tensors, dims = self._key(args, kwargs)
                tracer, outputs, fetches = self._trace(args, kwargs, dims)
            changes = changed(state)
            if changes and holds_traced(state):   # (a split trace's pieces wrote nothing yet)
                restore(state)
                return self._changed_state(key, args, kwargs)
            if tracer.splitter is not None:   # (its Python runs on every call)
                self._cache[key] = "split"
                return self._finish_split(key, tracer, outputs, fetches, tensors, start)
            entry = self._plan(tracer, outputs, fetches, tensors)
        except GraphBreak as e:
            restore(state)   # the eager run makes the trace's changes to Python state
            return self._graph_break(key, e, args, kwargs)
        entries = self._cache.setdefault(key, [])
        if not entry.single_use and not changes:   # (changed: the next call traces again)
            entries.append(entry)
        self._count_compile(entry.plan)
        if self.stats.recompiles >= RECOMPILE_LIMIT:   # as torch: this key runs eagerly now
            self._cache[key] = "eager"
        if changes:
            self._note_changes(key)
        out = self._run(entry, tensors)
        for state, name, buf in entry.new_states:
            state[name] = buf
        self.stats.warmup_s += time.perf_counter() - start
        return out

    def _python_state(self, args, kwargs) -> list:
        """`python_state` of the function, of the compiled module and of the modules passed
        as arguments (`step(model, x)`)."""
        passed = [v for _, v in leaves((args, kwargs)) if isinstance(v, Module)]
        return python_state(self.fn, [*(self._submodules or ()),
                                      *(m for p in passed for m in p.modules())])

    def _trace(self, args, kwargs, dims: list) -> tuple:
        """Call the function on placeholders standing for its tensor arguments (`dims`: the
        symbolic dimensions of each, in order)."""
        tracer = Tracer(self._pieces, self.fullgraph)
        free = iter(dims)

        def substitute(value):
            return tracer.placeholder(value, next(free)) if isinstance(value, Tensor) \
                else value

        traced_args, traced_kwargs = map_tree((args, kwargs), substitute)
        with tracer:
            result = self.fn(*traced_args, **traced_kwargs)
            outputs, fetches = flatten_result(result, tracer)
        return tracer, outputs, fetches

    def _plan(self, tracer: Tracer, outputs, fetches: list, tensors: list) -> _Graph:
        results = len(fetches)
        fetches, writes, grads = _effects(tracer, fetches)
        placeholders = [ph for ph in tracer.graph.nodes if id(ph) in tracer.real]
        inputs = [tracer.real[id(ph)] for ph in placeholders]   # the arguments, then .grads
        _refuse_overlapping_writes(writes + _added_into(grads), fetches, self.fn, inputs)
        fed = [tracer.grad_feeds[id(ph)] for ph in placeholders if id(ph) in tracer.grad_feeds]
        guards = [("grad", t, None if g is None else (tuple(g.shape), g.dtype))
                  for t, g in tracer.grad_guards.values()]
        if fed:   # a later call's .grad may be an argument or a tensor it writes (no new trace
            #       checks the overlap then): their aliasing is guarded, as the arguments'
            ids = {id(t) for t in inputs}
            written = [t for t, _ in writes if id(t) not in ids]
            guards.append(("aliases", written, _aliases(inputs + written)))
        guards += [("leaf", n, (n.array.shape, n.array.dtype, n.requires_grad))
                   for n in _eager_leaves(fetches)]
        guards += [("training", m, m.training) for m in tracer.modules.values()]
        guards += [("data", t, seen) for t, seen in tracer.data_reads.values()]
        guards += [("options", o, seen) for o, seen in tracer.optimizers.values()]
        guards += [("contiguous", t, seen) for t, seen in tracer.contiguity.values()]
        guards += capture_guards(self.fn, tracer.modules.values())
        backward = None
        spent = grads and tracer.freed   # a backward() inside freed the results' graph
        if grad_mode.enabled and not spent:   # autograd may go through it
            backward = self._backward(tracer, fetches[:results])
            if backward is not None and tracer.reads_moved_piece(
                    [t for t, rule in zip(fetches, backward) if rule is not None]):
                raise GraphBreak("its results' gradient goes through a split/chunk/unbind "
                                 "piece read after its memory was written (eager refuses "
                                 "that backward)", _defined_at(self.fn))
            if backward is not None and _reads_written(backward, writes, inputs):
                # run at backward time, its gradient would read the written values: eager
                # code keeps the results differentiable, so this call runs eagerly
                raise GraphBreak("its results' gradient reads a tensor the call writes in "
                                 "place", _defined_at(self.fn))
        drawn = None if backward is None else _fetch_draws(backward, fetches)
        spent = _spent(tracer, fetches[:results]) if grad_mode.enabled and spent else None
        if self.budget_s is None:
            plan = Plan(fetches, tuple(placeholders), {}, planned=_shape_generic(placeholders),
                        writes=[(k, t) for t, k in writes if isinstance(k, int)])
        else:
            plan, report = search(fetches, tuple(placeholders), [t.array for t in inputs],
                                  self.budget_s)
            self.search_reports.append(report)
        fed = _by_slot(tensors, [], [], [("grad", t, None) for t in fed])[2]
        writes, grads, guards = _by_slot(inputs, writes, grads, guards)
        return _Graph(plan, outputs, writes, grads, guards, tracer.new_states,
                      tracer.single_use, backward, drawn, spent, [o for _, o, _ in fed])

    def _backward(self, tracer: Tracer, fetches: list) -> Optional[list]:
        """Per result, the reverse rule of its tape node (None: a plain tensor), or None if
        no result needs autograd. Each result is a node of its own (a model's `(logits,
        loss)`): a backward from one runs only its gradient plan, from several adds them."""
        needs = [plan_backward(tracer, t) for t in fetches]
        return needs if any(b is not None for b in needs) else None

    # ---- graph breaks ----------------------------------------------------------------------
    def _split_call(self, key, args, kwargs, tensors, dims):
        """A call of a function with graph breaks: traced again (its Python runs), each
        piece run by its cached plan (jit/pieces.py)."""
        start = time.perf_counter()
        state = self._python_state(args, kwargs)
        try:
            tracer, outputs, fetches = self._trace(args, kwargs, dims)
            if changed(state) and holds_traced(state):
                restore(state)
                return self._changed_state(key, args, kwargs)
            return self._finish_split(key, tracer, outputs, fetches, tensors, start)
        except GraphBreak as e:
            restore(state)   # as in `_compile_and_run`
            return self._graph_break(key, e, args, kwargs)

    def _finish_split(self, key, tracer: Tracer, outputs, fetches, tensors, start: float):
        """Run the last piece, store what the call wrote, report new breaks."""
        self.stats.split_calls += 1
        compiled_before = self.stats.compiles
        splitter, results = tracer.splitter, len(fetches)
        fetches, writes, grads = _effects(tracer, fetches)
        tensors = tensors + [tracer.real[k] for k in tracer.grad_feeds]   # and fed .grads
        _refuse_overlapping_writes(writes + _added_into(grads), fetches, self.fn, tensors)
        plan, feeds = splitter.finish(fetches, self._new_piece)
        backward = None
        if grad_mode.enabled and not grads:
            signature = ("autograd", splitter.signature(len(tracer.graph.nodes)),
                         tuple(splitter.index[id(f)] for f in fetches[:results]))
            if signature not in self._pieces:
                self._pieces[signature] = self._backward(tracer, fetches[:results])
            backward = self._pieces[signature]
            if backward is not None and (_reads_written(backward, writes, tensors) or any(
                    rule is not None and rule.draws for rule in backward)):
                backward = None   # (a cached rule's draws are nodes of an earlier trace)
        entry = _Graph(plan, outputs, writes, grads, [], tracer.new_states, True, backward)
        out = self._run(entry, tensors, feeds)
        for state, name, buf in entry.new_states:
            state[name] = buf
        for site, reason in splitter.breaks:
            if (site, reason) not in self.breaks:
                self.breaks.append((site, reason))
                self.stats.graph_breaks += 1
                warnings.warn(f"tinyflow.compile: graph break at {site}: {reason}; "
                              f"{self._name} runs there eagerly, between compiled "
                              f"pieces", stacklevel=4)
        compiled = self.stats.compiles > compiled_before
        if compiled or self._warming:   # new plans compile per shape on their first run
            self.stats.warmup_s += time.perf_counter() - start
        self._warming = compiled
        if compiled and self.stats.recompiles >= RECOMPILE_LIMIT:   # as torch: give up here
            self._cache[key] = "eager"
        return out

    def _new_piece(self, fetches: list, feeds: list) -> Plan:
        plan = Plan(fetches, tuple(feeds), {}, planned=_shape_generic(feeds))
        if plan.program.steps:   # not a piece that only hands on values
            self._count_compile(plan)
        return plan

    def _count_compile(self, plan: Plan) -> None:
        first = self.stats.compiles == 0 or self.stats.calls == 1
        self.stats.compiles += 1
        self.graphs.append(len(plan.program.steps))
        if not first:
            self.stats.recompiles += 1
        if self.stats.recompiles >= RECOMPILE_LIMIT:
            warnings.warn(f"tinyflow.compile: {self._name} compiled "
                          f"{self.stats.compiles} graphs (limit {RECOMPILE_LIMIT}); its guards "
                          f"keep failing (new shapes? pass dynamic=True; a break value, or a "
                          f"captured tensor's value, used as a number?); these inputs run "
                          f"eagerly from now on", stacklevel=5)

    def _changed_state(self, key, args, kwargs):
        """A trace left traced tensors in Python state the function reads (a cache set on the
        first call): undone (`restore`), the call runs eagerly, and the next call traces
        again (the cache, set once, is then read and compiled)."""
        self._note_changes(key)
        self.stats.eager_calls += 1
        return self.fn(*args, **kwargs)

    def _note_changes(self, key) -> None:
        """A trace changed Python state the function reads (a counter, a cache): a graph
        would not change it again, so it is not kept; a second trace that changes it makes
        these inputs run eagerly."""
        self._changes[key] = self._changes.get(key, 0) + 1
        if self._changes[key] > 1:
            self._note_break(GraphBreak("it changes Python state it reads (a global, a "
                                        "closure variable, a list, dict or attribute), "
                                        "which a compiled graph would not repeat",
                                        _defined_at(self.fn)))
            self._cache[key] = "eager"

    def _graph_break(self, key, e: GraphBreak, args, kwargs):
        if self.fullgraph:
            raise RuntimeError(f"tinyflow.compile(fullgraph=True): graph break in "
                               f"{self._name}: {e.reason} at {e.site}") from None
        self._note_break(e)
        self._cache[key] = "eager"
        self.stats.eager_calls += 1
        return self.fn(*args, **kwargs)

    def _note_break(self, e: GraphBreak) -> None:
        """Count a graph break, and warn of it once per site and reason."""
        self.stats.graph_breaks += 1
        if (e.site, e.reason) not in self.breaks:
            self.breaks.append((e.site, e.reason))
            warnings.warn(f"tinyflow.compile: graph break at {e.site}: {e.reason}; "
                          f"{self._name} runs eagerly for these inputs", stacklevel=5)

    @property
    def _name(self) -> str:
        return getattr(self.fn, "__qualname__", type(self.fn).__name__)

    @property
    def search_report(self):
        """The rewrite search of the last graph compiled with `search=True` (None before)."""
        return self.search_reports[-1] if self.search_reports else None

    # ---- run -------------------------------------------------------------------------------
    def _run(self, entry: _Graph, tensors: list, feeds: Optional[list] = None):
        tensors = entry.inputs(tensors)
        values = entry.plan.run([t.array for t in tensors] if feeds is None else feeds)
        for t, source in entry.writes:
            if type(t) is int:
                t = tensors[t]
            new = values[source] if isinstance(source, int) else source.array
            if new is not t.array:     # else the plan wrote it in place (write_state.py)
                np.copyto(t.array, new, casting="same_kind")
            t._version[0] += 1
        for t, source, accumulated in entry.grads:
            if type(t) is int:
                t = tensors[t]
            if source is None:
                t._grad = None
            elif accumulated and t._grad is not None:   # the graph reads this buffer
                np.copyto(t._grad.array, values[source] if isinstance(source, int)
                          else source.array)   # (a constant: `p.grad.zero_()`)
                t._grad._version[0] += 1
            elif not isinstance(source, int):
                t._grad = Tensor._eager(np.array(source.array))
            else:   # a new tensor, as eager backward makes
                t._grad = Tensor._eager(np.asarray(values[source], t.dtype.np))
        rules = entry.backward
        if rules is not None:
            results = []    # the call's differentiable results: one forward, freed as one
            return rebuild(entry.outputs, lambda k: Tensor._eager(np.asarray(values[k]))
                           if rules[k] is None else rules[k].node(
                               values[k], tensors,
                               [values[i] for i in entry.drawn[k]] if entry.drawn else (),
                               results), tensors)
        if entry.spent is not None:
            return rebuild(entry.outputs, lambda k: _spent_result(values[k], entry.spent[k]),
                           tensors)
        return rebuild(entry.outputs, lambda k: Tensor._eager(np.asarray(values[k])), tensors)


_collecting = threading.Lock()
_compiling = [0]    # compiles under way (threads): the outermost sets and restores


@contextlib.contextmanager
def one_full_collection():
    """Full (generation 2) garbage collections deferred while a compile runs, then at most
    one: each walks every object of the process (Numba's alone are ~25 ms of it), and the
    objects a compile makes (graph, program, records) start one every few thousand, so a
    GPT step's first call made two (46 ms CPU); generations 0 and 1 go on collecting."""
    with _collecting:
        _compiling[0] += 1
        outermost = _compiling[0] == 1
        thresholds = gc.get_threshold()
        if outermost:
            gc.set_threshold(thresholds[0], thresholds[1], 1 << 30)
    try:
        yield
    finally:
        with _collecting:
            _compiling[0] -= 1
            if outermost:
                gc.set_threshold(*thresholds)
                deferred = gc.isenabled() and thresholds[0] and \
                    gc.get_count()[2] > thresholds[2]
        if outermost and deferred:
            gc.collect()


def _spent(tracer: Tracer, results: list) -> Optional[list]:
    """Per result of a function that ran `backward()`, the real leaves requiring grad that
    it depends on (None: none): its result then has a history whose saved values that
    backward freed, as eager's loss does, so a second `backward()` raises as PyTorch's."""
    spent = [tuple(tracer.leaf_of(n) for n in topo_sort([t]) if tracer.wants_grad(n))
             if t.dtype.is_floating and tracer.records(t) else () for t in results]
    spent = [s or None for s in spent]
    return spent if any(spent) else None


def _spent_result(value, leaves: Optional[tuple]) -> Tensor:
    if leaves is None:
        return Tensor._eager(np.asarray(value))
    out = Tensor._eager(np.asarray(value), CompiledCall(backward=None), leaves, True)
    out._saved = FREED
    return out


def _shape_generic(feeds) -> bool:
    """False if a feed has a symbolic size: then the plan runs its one loop for every
    shape (rewrites applied) instead of planning memory and generating code per shape,
    which would be a compile per new size (per token when decoding)."""
    return not any(d is None for f in feeds for d in (f.shape or ()))


def _effects(tracer: Tracer, fetches: list) -> tuple:
    """The fetches of a trace's plan: its results, then the new value of every tensor it
    wrote and every final `.grad` (their fetch index, or the eager value itself), and its
    last random draw (which the draws before it precede)."""
    fetches = list(fetches)

    def fetch(value):
        if isinstance(value, Tensor) and value.kind != EAGER:
            fetches.append(value)
            return len(fetches) - 1
        return None if value is None else value

    writes = [(t, fetch(v)) for t, v in tracer.writes.values()
              if t.kind == EAGER]   # a write into a tensor made in the trace only rebinds it
    grads = [(t, fetch(g), id(t) in tracer.grad_guards) for t, g in tracer.final_grads]
    if tracer.last_draw is not None:   # run, even unused: each call draws what eager does
        fetch(tracer.last_draw)
    return fetches, writes, grads


def _by_slot(tensors: list, writes: list, grads: list, guards: list) -> tuple:
    """A cached graph's writes, `.grad`s and grad guards, each tensor argument named by its
    position: a later call writes into its own arguments, not the traced call's."""
    slots = {id(t): k for k, t in enumerate(tensors)}

    def slot(t):
        return slots.get(id(t), t)
    return ([(slot(t), source) for t, source in writes],
            [(slot(t), source, added) for t, source, added in grads],
            [(kind, slot(obj) if kind in ("grad", "contiguous") else obj, seen)
             for kind, obj, seen in guards])


def _fetch_draws(rules: list, fetches: list) -> list:
    """Per result, the fetch indices of its gradient plan's random draws, appended to
    `fetches`: the backward is fed the forward's draws (the same dropout mask)."""
    index = {id(f): k for k, f in enumerate(fetches)}
    drawn = []
    for rule in rules:
        positions = []
        for node in ([] if rule is None else rule.draws):
            if id(node) not in index:
                index[id(node)] = len(fetches)
                fetches.append(node)
            positions.append(index[id(node)])
        drawn.append(positions)
    return drawn


def _reads_written(rules: list, writes: list, tensors: list) -> bool:
    """Whether a gradient plan may read a tensor the call writes (any argument, or a
    captured tensor in its graph): run at backward time, it would read the new value.
    Writes it does not read (batch norm's running statistics) leave the results
    differentiable."""
    written = {id(t) for t, _ in writes}
    return bool(written) and (any(id(t) in written for t in tensors) or any(
        id(n) in written for rule in rules if rule is not None for n in rule.reads))


def _aliases(tensors) -> tuple:
    """Per tensor argument, the position of the first one over the same buffer: a graph
    traced with distinct arguments must not run for `f(x, x)` (a write to one is a write to
    the other), so this is part of the guard key."""
    if len(tensors) < 2:
        return ()
    first: dict = {}
    return tuple([first.setdefault(id(a if a.base is None else a.base), k)
                  for k, a in enumerate([t.array for t in tensors])])


def _added_into(grads: list) -> list:
    """The `.grad`s a run adds into in place (`entry.grads`' accumulated ones), as writes:
    two parameters sharing one `.grad` must not each copy their own sum into it."""
    return [(t._grad, None) for t, source, accumulated in grads
            if accumulated and source is not None and t._grad is not None]


def _refuse_overlapping_writes(writes: list, fetches: list, fn, arguments=()) -> None:
    """A graph break when a tensor the call writes shares memory with another tensor it reads
    or writes (Parameters made from slices of one tensor; a `.grad` that is a view of a
    written tensor, even of the same shape), or reaches the trace twice (one tensor passed as
    two arguments, or as an argument and captured): eager code updates them one after the
    other through the shared memory, a plan computes every new value from the old ones."""
    written = [t.array for t, _ in writes]
    if not written:
        return
    arrays = {id(a): a for a in written}
    used = [t.array for t in arguments] + [leaf.array for leaf in _eager_leaves(fetches)]
    for a in used:
        arrays.setdefault(id(a), a)
    uses = Counter(id(a) for a in used)
    for w in written:
        if uses[id(w)] > 1:
            raise GraphBreak(f"it writes a tensor of shape {w.shape} that it also gets as "
                             f"another argument (or captures)", _defined_at(fn))
    written_ids = {id(w) for w in written}
    for a, b in _overlapping_extents(list(arrays.values())):
        if (id(a) in written_ids or id(b) in written_ids) \
                and np.shares_memory(a, b):
            w, other = (a, b) if id(a) in written_ids else (b, a)
            raise GraphBreak(f"it writes a tensor of shape {w.shape} that shares memory "
                             f"with another tensor of shape {other.shape} it uses (views of "
                             f"one buffer)", _defined_at(fn))


def _overlapping_extents(arrays: list) -> list:
    """The pairs of `arrays` whose byte extents overlap (what `np.may_share_memory` checks),
    found by one sweep over the extents sorted by start: a step's hundreds of parameters,
    moments and gradients are compared with their neighbours, not each with all."""
    extents = sorted((lo, hi, k) for k, a in enumerate(arrays) if a.size
                     for lo, hi in [np.lib.array_utils.byte_bounds(a)])
    pairs, open_ = [], []
    for lo, hi, k in extents:
        open_ = [(h, j) for h, j in open_ if h > lo]
        pairs.extend((arrays[j], arrays[k]) for _, j in open_)
        open_.append((hi, k))
    return pairs


def _same_options(optimizer, seen: tuple) -> bool:
    """`options(optimizer) == seen` (jit/tracer.py), without building it on every call."""
    groups = optimizer.param_groups
    if len(groups) != len(seen):
        return False
    for group, (size, names, values) in zip(groups, seen):
        if len(group) != size or tuple(map(group.get, names)) != values:
            return False
    return True


def _defined_at(fn) -> str:
    code = getattr(fn, "__code__", None) or getattr(getattr(fn, "forward", None), "__code__",
                                                    None)
    return f"{code.co_filename}:{code.co_firstlineno}" if code else "<unknown>"


def _eager_leaves(fetches: list) -> list:
    return [n for n in topo_sort(fetches) if n.kind == EAGER]
