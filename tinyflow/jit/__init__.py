"""The JIT: `tinyflow.compile` traces eager code (forward, backward, optimizer step) into
the compiler's graph and runs it as a plan, cached per guard set (jit/compiled.py).
`torch.jit`'s names (script, trace, ...) are here too (jit/script.py)."""
from __future__ import annotations

import dataclasses
import warnings
from typing import Callable, Optional

from ..nn.modules.module import Module
from .compiled import RECOMPILE_LIMIT, CompiledFunction, CompileStats
from .dynamic import mark_dynamic
from .search import DEFAULT_BUDGET_S, SearchReport
from .tracer import GraphBreak
from .script import (Final, ScriptFunction, ScriptModule, annotate, export,  # noqa: F401
                     ignore, interface, is_scripting, is_tracing, load, save, script, trace,
                     trace_module, unused)

__all__ = ["compile", "explain", "mark_dynamic", "CompiledFunction", "CompileStats", "ExplainOutput",
           "GraphBreak", "RECOMPILE_LIMIT", "SearchReport"]


def compile(model: Optional[Callable] = None, *, fullgraph: bool = False,
            dynamic: Optional[bool] = None, backend: str = "tinyflow", mode=None,
            options=None, disable: bool = False, search: bool = False,
            budget_s: float = DEFAULT_BUDGET_S):
    """`torch.compile`'s spellings: `compile(fn)`, `@compile`, `@compile(dynamic=True)`,
    `compile(module)` (its calls are traced, guarded on `module.training`).

    Args:
        fullgraph: raise at a graph break instead of splitting the function there into
            compiled pieces with eager glue (jit/pieces.py).
        dynamic: True makes every dimension of every tensor argument symbolic, so new sizes
            reuse the graph (the plan still specializes its buffers per shape); False
            none; None (the default, as torch): a new size recompiles once with the
            dimensions that changed symbolic. `mark_dynamic(x, dim)` marks one
            (jit/dynamic.py).
        disable: return `model` itself (as torch.compile does).
        search: choose each graph's rewrites by measurement (jit/search.py): candidates
            checked equal to the unrewritten graph on random inputs, timed on the real ones
            within `budget_s` seconds per graph; `f.search_report` says what was chosen.
        backend, mode, options: accepted for PyTorch code; tinyflow has one backend.
    """
    def wrap(fn):
        if disable:
            return fn
        if not callable(fn):
            raise TypeError(f"tinyflow.compile: expected a function or a Module, got "
                            f"{type(fn).__name__}")
        module = fn if isinstance(fn, Module) else None
        return CompiledFunction(fn, module, fullgraph, dynamic,
                                budget_s if search else None)
    return wrap if model is None else wrap(model)


@dataclasses.dataclass
class ExplainOutput:
    """What `explain` found: the graphs compiled (steps each) and the breaks (file:line,
    reason)."""
    graph_count: int
    graph_break_count: int
    ops_per_graph: list
    break_reasons: list

    def __str__(self) -> str:
        lines = [f"Graph Count: {self.graph_count}",
                 f"Graph Break Count: {self.graph_break_count}",
                 f"Op Count: {sum(self.ops_per_graph)}"]
        lines += [f"Break Reasons:"] + [f"  {site}: {reason}"
                                        for site, reason in self.break_reasons]
        return "\n".join(lines)


def explain(fn: Callable, *args, **kwargs) -> ExplainOutput:
    """`torch._dynamo.explain`: compile `fn` and call it once on these arguments (its side
    effects happen, as there), then list the graphs compiled and the graph breaks."""
    compiled = fn if isinstance(fn, CompiledFunction) else compile(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled(*args, **kwargs)
    return ExplainOutput(compiled.stats.compiles, compiled.stats.graph_breaks,
                         list(compiled.graphs), list(compiled.breaks))
