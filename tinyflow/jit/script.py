"""`torch.jit`'s spellings, so programs written for TorchScript run: `script` keeps the
function or module as Python (what TorchScript compiles is a subset of Python with the same
meaning), `trace` compiles it with `tinyflow.compile` (a graph of the ops run, as a trace is,
but re-traced for inputs of other shapes or types where a TorchScript trace would silently
replay the example's path), and the annotations and decorators are no-ops.

`torch.jit.save` / `load` (a TorchScript archive: code and weights) are refused: save the
`state_dict` with `torch.save` instead.
"""
from __future__ import annotations

from typing import Callable, Final  # noqa: F401  (torch.jit.Final)

from ..core.modes import trace_state

__all__ = ["script", "trace", "trace_module", "ignore", "unused", "export", "is_scripting",
           "is_tracing", "interface", "Final", "save", "load", "annotate", "ScriptModule",
           "ScriptFunction"]


def script(obj=None, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """`torch.jit.script(fn_or_module)`: the object itself, run as Python."""
    return obj


def trace(func: Callable, example_inputs=None, optimize=None, check_trace: bool = True,
          check_inputs=None, check_tolerance=1e-5, strict: bool = True,
          _force_outplace: bool = False, _module_class=None, _compilation_unit=None,
          example_kwarg_inputs=None, _store_inputs: bool = True):
    """`torch.jit.trace(fn_or_module, example_inputs)`: `tinyflow.compile(fn)`, first run
    on the example inputs (which TorchScript's trace also runs, with their side effects)."""
    from . import compile
    compiled = compile(func)
    if example_inputs is not None or example_kwarg_inputs is not None:
        args = example_inputs if isinstance(example_inputs, tuple) else \
            () if example_inputs is None else (example_inputs,)
        compiled(*args, **(example_kwarg_inputs or {}))
    return compiled


def trace_module(mod, inputs: dict, **options):
    """`torch.jit.trace_module(mod, {"forward": example})`: `trace` of its forward."""
    if set(inputs) - {"forward"}:
        raise NotImplementedError(f"jit.trace_module: only 'forward' is traced here, got "
                                  f"methods {sorted(inputs)}")
    return trace(mod, inputs.get("forward"), **options)


def ignore(drop=False, **kwargs):
    """`@torch.jit.ignore` / `@torch.jit.ignore(drop=True)`: the function unchanged."""
    return drop if callable(drop) else (lambda fn: fn)


unused = export = interface = ignore


def is_scripting() -> bool:
    """False: nothing runs as TorchScript here."""
    return False


def is_tracing() -> bool:
    """True while `tinyflow.compile` (and so `jit.trace`) traces the calling code."""
    return trace_state.active is not None


def annotate(the_type, the_value):
    """`torch.jit.annotate(List[int], [])`: the value."""
    return the_value


def save(m, f, _extra_files=None):
    raise NotImplementedError("jit.save writes a TorchScript archive (code and weights), "
                              "which tinyflow has no format for: save m.state_dict() with "
                              "torch.save and rebuild the module from its class")


def load(f, map_location=None, _extra_files=None, _restore_shapes=False):
    raise NotImplementedError("jit.load reads a TorchScript archive, which tinyflow cannot "
                              "run: load a state_dict saved with torch.save into the "
                              "module's class instead")


class ScriptModule:
    """For `isinstance(m, torch.jit.ScriptModule)` checks: nothing here is one."""


class ScriptFunction:
    """For `isinstance(f, torch.jit.ScriptFunction)` checks: nothing here is one."""
