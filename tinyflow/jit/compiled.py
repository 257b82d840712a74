"""`tinyflow.compile`: a function (or module) traced into a graph once per guard set and run
as a compiled plan; data-dependent Python falls back to eager for that call signature."""
from __future__ import annotations

import dataclasses
import functools
import time
import warnings
from typing import Any, Callable, Optional

import numpy as np

from ..core.graph import topo_sort
from ..core.modes import autocast_state, grad_mode, trace_state
from ..core.tensor import EAGER, Tensor
from ..nn.modules.module import Module
from ..optim.optimizer import Optimizer
from ..runtime.plan import Plan
from .bridge import Backward, plan_backward
from .search import search
from .trace import GraphBreak, Tracer

RECOMPILE_LIMIT = 8   # as torch._dynamo's cache_size_limit: past it, a warning per new graph
_SCALARS = (bool, int, float, str, type(None))


@dataclasses.dataclass
class CompileStats:
    """What a compiled function has done so far."""
    compiles: int = 0        # graphs traced and planned
    recompiles: int = 0      # of those, made because a call failed every cached guard set
    graph_breaks: int = 0    # traces abandoned for eager at data-dependent Python
    warmup_s: float = 0.0    # time spent tracing, planning and in each graph's first run
    calls: int = 0
    eager_calls: int = 0     # calls run eagerly (after a graph break)


@dataclasses.dataclass
class _Graph:
    """One compiled graph: its plan and what a run must do to the real tensors."""
    plan: Plan
    outputs: Any         # the result's structure: ("fetch", k) | ("value", v) | containers
    writes: list         # (tensor, fetch index or constant array)
    grads: list          # (tensor, fetch index | None | eager constant, adds to the old)
    guards: list         # ("grad" | "leaf" | "options", object, what the trace saw)
    new_states: list
    single_use: bool
    backward: Optional[Backward] = None   # the result's reverse rule (jit/bridge.py)

    def valid(self) -> bool:
        for kind, obj, seen in self.guards:
            if kind == "grad":
                if obj._grad is not seen:
                    return False
            elif kind == "leaf":
                if (obj.array.shape, obj.array.dtype) != seen:
                    return False
            elif _options(obj) != seen:   # an optimizer's lr, betas, ... (a scheduler)
                return False
        return True


class CompiledFunction:
    """The callable `tinyflow.compile` returns; `stats` says what it compiled."""

    def __init__(self, fn: Callable, module: Optional[Module], fullgraph: bool,
                 dynamic: bool, budget_s: Optional[float] = None) -> None:
        self.fn, self.module = fn, module
        self.fullgraph, self.dynamic = fullgraph, dynamic
        self.budget_s = budget_s             # None: no search, the default rewrites
        self.search_reports: list = []       # one per graph compiled with search
        self.stats = CompileStats()
        self._cache: dict[tuple, list] = {}    # guard key -> [_Graph] (or "eager")
        self.breaks: list[tuple] = []        # (file:line, reason) of each graph break
        self.graphs: list[int] = []          # steps of each compiled graph's program
        self._submodules = None if module is None else list(module.modules())
        functools.update_wrapper(self, fn, updated=())

    def __call__(self, *args, **kwargs):
        if trace_state.active is not None:   # called while an outer compile traces: inline
            return self.fn(*args, **kwargs)
        self.stats.calls += 1
        key, tensors = self._key(args, kwargs)
        entries = self._cache.get(key)
        if entries == "eager":
            self.stats.eager_calls += 1
            return self.fn(*args, **kwargs)
        if entries:
            for entry in entries:
                if entry.valid():
                    return self._run(entry, tensors)
        return self._compile_and_run(key, args, kwargs, tensors)

    # ---- guards ----------------------------------------------------------------------------
    def _key(self, args, kwargs) -> tuple:
        """The guard key of a call, and its tensor arguments in order."""
        parts, tensors = [grad_mode.enabled, autocast_state.dtype, autocast_state.fp8], []
        for path, value in _leaves(args, (0,)) + (_leaves(kwargs, (1,)) if kwargs else []):
            parts.append(_guard(value, self.dynamic, path))
            if isinstance(value, Tensor):
                tensors.append(value)
        if self._submodules is not None:
            parts.append(tuple(m.training for m in self._submodules))
            parts.append(tuple(id(p) for p in self.module.parameters()))
        return tuple(parts), tensors

    # ---- compile ---------------------------------------------------------------------------
    def _compile_and_run(self, key, args, kwargs, tensors):
        start = time.perf_counter()
        try:
            try:
                tracer, outputs, fetches = self._trace(args, kwargs, self.dynamic)
            except GraphBreak:
                raise
            except Exception:
                if not self.dynamic:
                    raise
                # code that needs the batch size as a number: specialize, as torch does
                tracer, outputs, fetches = self._trace(args, kwargs, False)
            entry = self._plan(tracer, outputs, fetches, tensors)
        except GraphBreak as e:
            return self._graph_break(key, e, args, kwargs)
        entries = self._cache.setdefault(key, [])
        if not entry.single_use:
            entries.append(entry)
        self.stats.compiles += 1
        self.graphs.append(len(entry.plan.program.steps))
        if self.stats.compiles > 1:
            self.stats.recompiles += 1
        if self.stats.compiles > RECOMPILE_LIMIT:
            warnings.warn(f"tinyflow.compile: {self.fn.__qualname__} compiled "
                          f"{self.stats.compiles} graphs (limit {RECOMPILE_LIMIT}); its guards "
                          f"keep failing (new shapes? pass dynamic=True)", stacklevel=4)
        out = self._run(entry, tensors)
        for state, name, buf in entry.new_states:
            state[name] = buf
        self.stats.warmup_s += time.perf_counter() - start
        return out

    def _trace(self, args, kwargs, dynamic: bool) -> tuple:
        """Call the function on placeholders standing for its tensor arguments."""
        tracer = Tracer()

        def substitute(value):
            return tracer.placeholder(value, dynamic) if isinstance(value, Tensor) else value

        traced_args, traced_kwargs = _map((args, kwargs), substitute)
        with tracer:
            result = self.fn(*traced_args, **traced_kwargs)
            outputs, fetches = _flatten_result(result, tracer)
        return tracer, outputs, fetches

    def _plan(self, tracer: Tracer, outputs, fetches: list, tensors: list) -> _Graph:
        fetches = list(fetches)

        def fetch(value):
            if isinstance(value, Tensor) and value.kind != EAGER:
                fetches.append(value)
                return len(fetches) - 1
            return None if value is None else value

        writes = [(t, fetch(v)) for t, v in tracer.writes.values()]
        grads = [(t, fetch(g), id(t) in tracer.grad_guards) for t, g in tracer.final_grads]
        placeholders = [ph for ph in tracer.graph.nodes if id(ph) in tracer.real]
        guards = [("grad", t, g) for t, g in tracer.grad_guards.values()]
        guards += [("leaf", n, (n.array.shape, n.array.dtype)) for n in _eager_leaves(fetches)]
        guards += [("options", o, _options(o)) for o in tracer.optimizers.values()]
        backward = None
        if grad_mode.enabled and not writes and not grads:   # autograd may go through it
            needs = [plan_backward(tracer, t) for t in fetches]
            if len(needs) > 1 and any(b is not None for b in needs):
                raise GraphBreak("several results that need autograd (one is supported)",
                                 _defined_at(self.fn))
            backward = needs[0] if needs else None
        if self.budget_s is None:
            plan = Plan(fetches, tuple(placeholders), {})
        else:
            plan, report = search(fetches, tuple(placeholders), [t.array for t in tensors],
                                  self.budget_s)
            self.search_reports.append(report)
        return _Graph(plan, outputs, writes, grads, guards, tracer.new_states,
                      tracer.single_use, backward)

    def _graph_break(self, key, e: GraphBreak, args, kwargs):
        if self.fullgraph:
            raise RuntimeError(f"tinyflow.compile(fullgraph=True): graph break in "
                               f"{self.fn.__qualname__}: {e.reason} at {e.site}") from None
        self.stats.graph_breaks += 1
        if (e.site, e.reason) not in self.breaks:
            self.breaks.append((e.site, e.reason))
            warnings.warn(f"tinyflow.compile: graph break at {e.site}: {e.reason}; "
                          f"{self.fn.__qualname__} runs eagerly for these inputs",
                          stacklevel=4)
        self._cache[key] = "eager"
        self.stats.eager_calls += 1
        return self.fn(*args, **kwargs)

    @property
    def search_report(self):
        """The rewrite search of the last graph compiled with `search=True` (None before)."""
        return self.search_reports[-1] if self.search_reports else None

    # ---- run -------------------------------------------------------------------------------
    def _run(self, entry: _Graph, tensors: list):
        values = entry.plan.run([t.array for t in tensors])
        for t, source in entry.writes:
            new = values[source] if isinstance(source, int) else source.array
            np.copyto(t.array, new, casting="same_kind")
            t._version[0] += 1
        for t, source, accumulated in entry.grads:
            if source is None:
                t._grad = None
            elif not isinstance(source, int):
                t._grad = Tensor._eager(np.array(source.array))
            elif accumulated and t._grad is not None:   # the graph reads this buffer
                np.copyto(t._grad.array, values[source])
                t._grad._version[0] += 1
            else:   # a new tensor, as eager backward makes
                t._grad = Tensor._eager(np.asarray(values[source], t.dtype.np))
        if entry.backward is not None:
            return _rebuild(entry.outputs, lambda k: entry.backward.node(values[k], tensors))
        return _rebuild(entry.outputs, lambda k: Tensor._eager(np.asarray(values[k])))


def _leaves(tree, path=()):
    """(path, value) of every non-container in nested tuples, lists and dicts."""
    if type(tree) is tuple and path and not any(isinstance(v, (tuple, list, dict))
                                                for v in tree):
        return [(path + (k,), v) for k, v in enumerate(tree)]   # flat: the common case
    return list(_walk(tree, path))


def _walk(tree, path):
    if isinstance(tree, (tuple, list)):
        for k, v in enumerate(tree):
            yield from _walk(v, path + (k,))
    elif isinstance(tree, dict):
        for k, v in tree.items():
            yield from _walk(v, path + (k,))
    else:
        yield path, tree


def _map(tree, fn):
    if isinstance(tree, (tuple, list)):
        return type(tree)(_map(v, fn) for v in tree)
    if isinstance(tree, dict):
        return {k: _map(v, fn) for k, v in tree.items()}
    return fn(tree)


def _guard(value, dynamic: bool, path) -> tuple:
    """What a call must match to reuse a graph traced with `value` in this position."""
    if isinstance(value, Tensor):
        if value.kind != EAGER:
            raise TypeError(f"tinyflow.compile: argument {_where(path)} is a symbolic tensor "
                            f"({value.name}); compiled functions take eager tensors")
        shape = value.array.shape
        if dynamic and shape:
            shape = (len(shape),) + shape[1:]
        return ("T", shape, value.dtype.name, value.requires_grad)
    if isinstance(value, _SCALARS):
        return ("S", type(value).__name__, value)
    if isinstance(value, (Module, Optimizer)):
        training = tuple(m.training for m in value.modules()) if isinstance(value, Module) \
            else ()
        return ("O", id(value), training)
    raise TypeError(f"tinyflow.compile: argument {_where(path)} of type "
                    f"{type(value).__name__} is not supported; pass tensors, Python scalars "
                    f"or strings, modules or optimizers (in tuples, lists or dicts)")


def _where(path) -> str:
    """'2' for the third positional argument, 'lr' for a keyword, '0/1' inside a tuple."""
    return "/".join(str(p) for p in path[1:])


def _flatten_result(result, tracer: Tracer):
    """The result's structure with each traced tensor replaced by its fetch index."""
    fetches: list = []

    def one(value):
        if isinstance(value, Tensor):
            value = tracer.current.get(id(value), value)
            if id(value) in tracer.real:
                return _Out(False, tracer.real[id(value)])   # an argument returned as is
            if value.kind != EAGER:
                fetches.append(value)
                return _Out(True, len(fetches) - 1)
            return _Out(False, value)
        if isinstance(value, _SCALARS):
            return _Out(False, value)
        raise TypeError(f"tinyflow.compile: the function returned a {type(value).__name__}; "
                        f"compiled functions return tensors and Python scalars (in tuples, "
                        f"lists or dicts)")
    return _map(result, one) if isinstance(result, (tuple, list, dict)) else one(result), \
        fetches


@dataclasses.dataclass
class _Out:
    """One returned value: a fetch index of the plan, or the value itself."""
    fetched: bool
    ref: Any


def _rebuild(structure, make):
    """The function's result, `make(k)` giving the tensor for fetch k."""
    if isinstance(structure, _Out):
        return make(structure.ref) if structure.fetched else structure.ref
    if isinstance(structure, (tuple, list)):
        return type(structure)(_rebuild(s, make) for s in structure)
    if isinstance(structure, dict):
        return {k: _rebuild(s, make) for k, s in structure.items()}
    return structure


def _options(optimizer) -> list:
    """The options of each parameter group (what its step read as Python constants)."""
    return [[(k, v) for k, v in group.items() if k not in ("params", "param_names")]
            for group in optimizer.param_groups]


def _defined_at(fn) -> str:
    code = getattr(fn, "__code__", None) or getattr(getattr(fn, "forward", None), "__code__",
                                                    None)
    return f"{code.co_filename}:{code.co_firstlineno}" if code else "<unknown>"


def _eager_leaves(fetches: list) -> list:
    return [n for n in topo_sort(fetches) if n.kind == EAGER]
