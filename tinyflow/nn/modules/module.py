"""PyTorch's `nn.Module` and `nn.Parameter`: a tree of layers that owns its state.

A Module registers parameters, buffers and submodules as they are assigned, so that
`parameters()`, `state_dict()`, `train()` and `to()` can walk the tree without each layer
listing its own state. Parameters are eager tensors; a Module applied to a TF1 placeholder
builds graph nodes that read them by reference, so the same layer serves both front ends.
"""
from __future__ import annotations

import functools
import warnings
from collections import OrderedDict, namedtuple
from typing import Iterator, Optional

import numpy as np

from ...core import devices, dtypes, shared_memory
from ...core.modes import TRACING_THREADS, no_grad, trace_state
from ...core.tensor import Tensor, _init_eager, writable
from ...io.saved_objects import register_tensor_type
from ...ops.creation import zeros_like
from ...pytorch.dtype import check_device
from .backward_hooks import BackwardHooks


_NO_ARGUMENT = object()   # Module.__call__ without a positional argument
# The ids of modules given a forward or backward (pre-)hook table: a hint, so that
# `Module.__call__` of every other module (every layer of every step, when no module
# anywhere has hooks) does not read its instance dict (a ~500-instruction attribute read:
# Module has `__getattr__`). The tables decide: an id left by a collected module makes its
# successor at that address look at its (absent) tables once per call, nothing more. A
# module whose dict is filled without a hook handle or `Module.__setstate__`
# (`vars(new).update(vars(old))`) is not in it: its hooks do not run, where PyTorch's would.
_HOOKED: set = set()


class Parameter(Tensor):
    """A tensor that a Module registers as trainable state (it requires grad by default)."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True) -> None:
        if data is None:
            arr = np.empty((0,), dtypes.DEFAULT_FLOAT.np)
        elif isinstance(data, Tensor):
            arr = data._require_data("Parameter()")
        else:
            arr = np.asarray(data)
        if requires_grad and not np.issubdtype(arr.dtype, np.floating):
            raise RuntimeError(f"Parameter: a {arr.dtype} array cannot require grad; "
                               f"only floating point ones can (or pass requires_grad=False)")
        _init_eager(self, arr, None, (), requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo) -> "Parameter":
        out = Parameter(self.array.copy(), self.requires_grad)
        memo[id(self)] = out
        return out

    def __reduce_ex__(self, protocol):
        return _unpickle_parameter, (self.array, self.requires_grad)

    def _reduce_sharing(self):
        """As Tensor._reduce_sharing: data in a shared block goes by reference."""
        return _unpickle_parameter, (shared_memory.picklable(self.array), self.requires_grad)


register_tensor_type(Parameter)
shared_memory.send_by_reference(Parameter)


def _unpickle_parameter(array: np.ndarray, requires_grad: bool) -> Parameter:
    return Parameter(writable(array), requires_grad)


_LOAD_HOOKS = "_load_state_dict_pre_hooks"


class _LoadHookHandle:
    """What register_load_state_dict_pre_hook returns: `remove()` takes the hook off."""
    _next_id = 0

    def __init__(self, module, hook, with_module: bool) -> None:
        type(self)._next_id += 1
        self.id, self.module = type(self)._next_id, module
        module.__dict__.setdefault(_LOAD_HOOKS, OrderedDict())[self.id] = (hook, with_module)

    def remove(self) -> None:
        hooks = self.module.__dict__.get(_LOAD_HOOKS, {})
        hooks.pop(self.id, None)
        if not hooks:
            self.module.__dict__.pop(_LOAD_HOOKS, None)


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()


class _ModuleHookHandle:
    """What register_*_hook returns: `remove()` (or leaving a `with` block) takes the hook
    off; the module's table goes when it is empty (and the module leaves `_HOOKED` when it
    has none)."""
    _next_id = 0

    def __init__(self, module, table: str, hook, prepend: bool, with_kwargs: bool = False,
                 always_call: bool = False) -> None:
        type(self)._next_id += 1
        self.id, self.module, self.table = type(self)._next_id, module, table
        hooks = module.__dict__.get(table)
        if hooks is None:
            hooks = OrderedDict()
            object.__setattr__(module, table, hooks)
            _HOOKED.add(id(module))
        hooks[self.id] = (hook, with_kwargs, always_call)
        if prepend:
            hooks.move_to_end(self.id, last=False)

    def remove(self) -> None:
        hooks = self.module.__dict__.get(self.table)
        if hooks is not None:
            hooks.pop(self.id, None)
            if not hooks:
                del self.module.__dict__[self.table]
                if not self.module._hooked():
                    _HOOKED.discard(id(self.module))

    def __enter__(self) -> "_ModuleHookHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


class Module:
    """Base class of every layer: subclasses set attributes in `__init__` and define
    `forward`; calling the module calls `forward`."""

    training: bool

    def __init_subclass__(cls, **kwargs) -> None:
        """A layer's `device=` is checked where it is given (`nn.Linear(2, 2,
        device="cuda")` is refused by name, not built on the CPU), as its tensors would be."""
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or not cls.__module__.startswith("tinyflow."):   # ours, not users'
            return

        @functools.wraps(init)
        def checked(self, *args, **kw):
            if kw.get("device") is not None:
                check_device(kw["device"])
            init(self, *args, **kw)
        cls.__init__ = checked

    def __init__(self, *args, **kwargs) -> None:
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments")
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", OrderedDict())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  f'"forward" function')

    def __call__(self, input=_NO_ARGUMENT, /, *args, **kwargs):
        """`forward(...)`. The common one-tensor call (every layer of every step) passes its
        tensor straight on, not through `*args, **kwargs` (about a third of a small op's cost)."""
        if TRACING_THREADS and trace_state.active is not None:
            # a compiled call's graph depends on `training` and on there being no hooks: a
            # hook is Python run on each call (a recorder's list), which a graph would skip
            trace_state.active.modules[id(self)] = self
            if self._hooked():
                trace_state.active.graph_break(
                    f"{type(self).__name__} has module hooks, which are not compiled")
        if _HOOKED and id(self) in _HOOKED and self._hooked():
            return self._call_with_hooks(args if input is _NO_ARGUMENT else (input,) + args,
                                         kwargs)
        if args or kwargs or input is _NO_ARGUMENT:
            return (self.forward(*args, **kwargs) if input is _NO_ARGUMENT
                    else self.forward(input, *args, **kwargs))
        return self.forward(input)

    # ---- forward hooks -------------------------------------------------------------------
    def _hooked(self) -> bool:
        """Whether a forward or backward (pre-)hook is registered."""
        d = self.__dict__
        return ("_forward_hooks" in d or "_forward_pre_hooks" in d or "_backward_hooks" in d
                or "_backward_pre_hooks" in d)

    def __setstate__(self, state: dict) -> None:
        """Unpickling and copy.copy/deepcopy fill the dict directly: a copy of a hooked
        module is hooked too (its id joins `_HOOKED`), as in PyTorch."""
        self.__dict__.update(state)
        if self._hooked():
            _HOOKED.add(id(self))

    def register_forward_pre_hook(self, hook, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> "_ModuleHookHandle":
        """`hook(module, args)` (with_kwargs: `hook(module, args, kwargs)`) before each
        forward; what it returns (not None) replaces the arguments, as in PyTorch."""
        return _ModuleHookHandle(self, "_forward_pre_hooks", hook, prepend, with_kwargs)

    def register_forward_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False) -> "_ModuleHookHandle":
        """`hook(module, args, output)` (with_kwargs: `hook(module, args, kwargs, output)`)
        after each forward; what it returns (not None) replaces the output. Feature
        extractors and attention recorders read layers' outputs this way. always_call: the
        hook also runs (with output None) when forward or an earlier hook raises."""
        return _ModuleHookHandle(self, "_forward_hooks", hook, prepend, with_kwargs,
                                 always_call)

    def register_full_backward_pre_hook(self, hook, prepend: bool = False) -> "_ModuleHookHandle":
        """`hook(module, grad_output)` when the gradient of a call's output is known; what
        it returns (not None) replaces grad_output."""
        return _ModuleHookHandle(self, "_backward_pre_hooks", hook, prepend)

    def register_full_backward_hook(self, hook, prepend: bool = False) -> "_ModuleHookHandle":
        """`hook(module, grad_input, grad_output)` when the gradients of a call's inputs are
        known (backward_hooks.py); what it returns (not None) replaces grad_input."""
        return _ModuleHookHandle(self, "_backward_hooks", hook, prepend)

    def _call_with_hooks(self, args: tuple, kwargs: dict):
        """forward(*args, **kwargs) between the module's pre-hooks and hooks, as PyTorch's
        `_call_impl`. The hook tables exist only while a hook is registered, so other calls
        do not look at them."""
        d = self.__dict__
        output, ran = None, set()
        try:
            for hook, with_kwargs, _ in list(d.get("_forward_pre_hooks", {}).values()):
                if with_kwargs:
                    result = hook(self, args, kwargs)
                    if result is not None:
                        if not (isinstance(result, tuple) and len(result) == 2):
                            raise RuntimeError(f"forward pre-hook with with_kwargs=True "
                                               f"returned {result!r}; return None or "
                                               f"(args, kwargs)")
                        args, kwargs = result
                else:
                    result = hook(self, args)
                    if result is not None:
                        args = result if isinstance(result, tuple) else (result,)
            backward = None
            if "_backward_hooks" in d or "_backward_pre_hooks" in d:
                backward = BackwardHooks(self, args)
                args = backward.wrap_inputs()
            output = self.forward(*args, **kwargs)
            for key, (hook, with_kwargs, _) in list(d.get("_forward_hooks", {}).items()):
                ran.add(key)
                result = hook(self, args, kwargs, output) if with_kwargs else \
                    hook(self, args, output)
                if result is not None:
                    output = result
            return output if backward is None else backward.wrap_output(output)
        except Exception:
            self._always_called_hooks(args, kwargs, output, ran)
            raise

    def _always_called_hooks(self, args: tuple, kwargs: dict, output, ran: set) -> None:
        """The always_call forward hooks not yet run, after forward or a hook raised; an
        error of theirs is a warning, so the first error is the one raised."""
        for key, (hook, with_kwargs, always) in list(self.__dict__.get("_forward_hooks",
                                                                       {}).items()):
            if always and key not in ran:
                try:
                    if with_kwargs:
                        hook(self, args, kwargs, output)
                    else:
                        hook(self, args, output)
                except Exception as e:  # noqa: BLE001  (PyTorch silences it too)
                    warnings.warn(f"a forward hook with always_call=True raised {e!r} while "
                                  f"forward's own error was raised; that error is kept")

    # ---- registration ------------------------------------------------------------------
    def __getattr__(self, name: str):
        d = self.__dict__   # every `self.weight` of every forward: the tables unrolled
        table = d.get("_parameters")
        if table is not None and name in table:
            return table[name]
        table = d.get("_buffers")
        if table is not None and name in table:
            return table[name]
        table = d.get("_modules")
        if table is not None and name in table:
            return table[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        params, buffers, modules = (d.get(k) for k in ("_parameters", "_buffers", "_modules"))
        if isinstance(value, (Parameter, Module)) and params is None:
            kind = "parameters" if isinstance(value, Parameter) else "module"
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        if isinstance(value, Parameter):
            self._forget(name, keep="_parameters")
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter "
                                f"'{name}' (torch.nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            self._forget(name, keep="_modules")
            modules[name] = value
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module "
                                f"'{name}' (torch.nn.Module or None expected)")
            modules[name] = None
        elif buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                f"(torch.Tensor or None expected)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def _forget(self, name: str, keep: str) -> None:
        """Drop `name` from the other tables, so that re-assigning it changes its kind; in
        its own table (`keep`) it keeps its place, so a replaced child or parameter stays
        where it was in children() and state_dict(), as in PyTorch."""
        self.__dict__.pop(name, None)
        for table in ("_parameters", "_buffers", "_modules"):
            if table != keep:
                getattr(self, table).pop(name, None)
        self._non_persistent_buffers_set.discard(name)

    def _check_name(self, name, table: str, what: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{what} name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError(f'{what} name can\'t contain "."')
        if name == "":
            raise KeyError(f'{what} name can\'t be empty string ""')
        if hasattr(self, name) and name not in getattr(self, table):
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Optional[Parameter]) -> None:
        self._check_name(name, "_parameters", "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter "
                            f"'{name}' (torch.nn.Parameter or None required)")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Optional[Tensor],
                        persistent: bool = True) -> None:
        """State that is not trained (running statistics); saved by state_dict if
        `persistent`."""
        self._check_name(name, "_buffers", "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer "
                            f"'{name}' (torch Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Optional["Module"]) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_name(name, "_modules", "module")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> "Module":
        module = self
        for item in target.split(".") if target else []:
            if item not in module._modules:
                raise AttributeError(f"{module._get_name()} has no attribute `{item}`")
            module = module._modules[item]
        return module

    # ---- walking the tree ----------------------------------------------------------------
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                sub = prefix + ("." if prefix else "") + name
                yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, table: str, prefix: str, recurse: bool, remove_duplicate: bool):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for mod_prefix, module in mods:
            for name, value in getattr(module, table).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield mod_prefix + ("." if mod_prefix else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True):
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn) -> "Module":
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---- state_dict ------------------------------------------------------------------------
    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        """Parameters and persistent buffers by dotted name ('layer.0.weight'), detached
        (sharing memory with the module) unless `keep_vars`."""
        dest = OrderedDict() if destination is None else destination
        for name, p in self._parameters.items():
            if p is not None:
                dest[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                dest[prefix + name] = b if keep_vars else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination=dest, prefix=prefix + name + ".", keep_vars=keep_vars)
        return dest

    def register_load_state_dict_pre_hook(self, hook) -> "_LoadHookHandle":
        """`hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)` runs before load_state_dict reads this module's keys
        (under `prefix`) and may rename them in place: old checkpoints load into new layouts."""
        return _LoadHookHandle(self, hook, with_module=True)

    def _register_load_state_dict_pre_hook(self, hook, with_module: bool = False):
        """PyTorch's older spelling: the hook is called without the module unless
        `with_module`."""
        return _LoadHookHandle(self, hook, with_module)

    def _run_load_pre_hooks(self, state_dict, strict: bool, missing: list, unexpected: list,
                            errors: list) -> None:
        """Each module's load pre-hooks, outermost first, on the (copied) state_dict; a module
        reached by two paths runs its hooks under each prefix. What the hooks append to the
        three lists counts as the load's own findings."""
        metadata = getattr(state_dict, "_metadata", {})
        for prefix, module in self.named_modules(remove_duplicate=False):
            for hook, with_module in module.__dict__.get(_LOAD_HOOKS, {}).values():
                args = (state_dict, prefix + "." if prefix else "", metadata.get(prefix, {}),
                        strict, missing, unexpected, errors)
                if with_module:
                    hook(module, *args)
                else:
                    hook(*args)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy values (tensors or arrays) into this module's state in place; returns the
        (missing_keys, unexpected_keys) it found. Shape mismatches always raise."""
        missing, unexpected, errors = [], [], []
        if any(_LOAD_HOOKS in m.__dict__ for m in self.modules()):
            metadata = getattr(state_dict, "_metadata", None)
            state_dict = OrderedDict(state_dict)   # hooks rename keys; not the caller's dict
            if metadata is not None:
                state_dict._metadata = metadata
            self._run_load_pre_hooks(state_dict, strict, missing, unexpected, errors)
        own = self.state_dict(keep_vars=True)
        missing += [k for k in own if k not in state_dict]
        unexpected += [k for k in state_dict if k not in own]
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            shape = tuple(value.shape) if hasattr(value, "shape") else np.shape(value)
            if shape != target.shape:
                errors.append(f"{key}: the state_dict holds shape {list(shape)}, the "
                              f"module {list(target.shape)}")
                continue
            with no_grad():
                if assign:
                    target.data = np.array(np.asarray(value), dtype=target.dtype.np)
                else:
                    target.copy_(value if isinstance(value, Tensor) else np.asarray(value))
        if strict:
            if unexpected:
                keys = ", ".join(f'"{k}"' for k in unexpected)
                errors.insert(0, f"keys the module does not have: {keys}")
            if missing:
                keys = ", ".join(f'"{k}"' for k in missing)
                errors.insert(0, f"keys missing from the state_dict: {keys}")
        if errors:
            raise RuntimeError(f"load_state_dict into {self._get_name()} (strict={strict}):\n\t"
                               + "\n\t".join(errors))
        return _IncompatibleKeys(missing, unexpected)

    # ---- modes and conversions -------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none:   # not read first: a compiled step need not guard on .grad
                p.grad = None
            elif p.grad is not None and p.grad.kind != "eager":
                p.grad = zeros_like(p.grad)   # where it lives (a traced .grad is fed)
            elif p.grad is not None:
                p.grad = Tensor._eager(np.zeros_like(p.grad.array))

    def to(self, *args, dtype=None, device=None, **kwargs) -> "Module":
        """Cast floating parameters and buffers in place (`to(float64)`) and move them to
        the CPU or to a device declared with `tinyflow.distributed.devices`. Parameters keep
        their identity: only their data (or where it lives) changes."""
        for a in args + (device,):
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif a is not None and _is_device(a):
                device = a
                if devices.lookup(str(a)) is None and not devices.is_cpu(str(a)):
                    raise RuntimeError(f"device {str(a)!r} is not available: tinyflow runs "
                                       f"on the CPU")
            elif a is not None:
                dtype = a
        if dtype is not None:
            dtype = dtypes.torch_dtype(dtype)
            if not dtype.is_floating:
                raise TypeError(f"Module.to: dtype={dtype.name}; a module's parameters are "
                                f"converted to floating point dtypes only")
            self._cast(dtype)
        if device is not None:
            for t in list(self.parameters()) + list(self.buffers()):
                devices.move_(t, str(device))
        return self

    def _cast(self, dtype) -> "Module":
        if any(t.kind == "remote" for t in self.parameters()):
            raise NotImplementedError(f"casting a module on a device to {dtype.name}: cast it "
                                      f"before moving it (.to({dtype.name}) first)")
        for t in list(self.parameters()) + list(self.buffers()):
            if t.dtype.is_floating and t.dtype is not dtype:
                t.data = t.array.astype(dtype.np)
                if t.grad is not None:
                    t.grad = Tensor._eager(t.grad.array.astype(dtype.np))
        return self

    def float(self) -> "Module":
        return self._cast(dtypes.float32)

    def double(self) -> "Module":
        return self._cast(dtypes.float64)

    def half(self) -> "Module":
        return self._cast(dtypes.float16)

    def bfloat16(self) -> "Module":
        return self._cast(dtypes.bfloat16)

    def type(self, dst_type) -> "Module":
        return self.to(dst_type)

    def share_memory(self) -> "Module":
        """Put parameters and buffers in shared memory, so processes given this module
        (torch.multiprocessing) train one model in place, as PyTorch's Hogwild."""
        for t in list(self.parameters()) + list(self.buffers()):
            t.share_memory_()
        return self

    def cpu(self) -> "Module":
        return self.to("cpu")

    def cuda(self, device=None) -> "Module":
        name = f"cuda:{device or 0}" if not isinstance(device, str) else device
        if devices.lookup(name) is None:
            raise RuntimeError("CUDA is not available: tinyflow runs on the CPU")
        return self.to(name)

    # ---- printing ------------------------------------------------------------------------
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The layer's own settings, shown inside its repr (as PyTorch does)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({key}): " + _indent(repr(m), 2) for key, m in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                body = extra_lines[0]
            else:
                body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{self._get_name()}({body})"

    def __dir__(self):
        names = list(super().__dir__())
        for table in (self._parameters, self._buffers, self._modules):
            names.extend(table)
        return sorted(set(names))


_CALL = Module.__call__


def _is_device(a) -> bool:
    return isinstance(a, str) or type(a).__name__ == "device"


def _indent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])
