"""The one Tensor class: it holds data (eager) or is a node of a graph (symbolic)."""
from __future__ import annotations

from typing import Optional

import numpy as np

from . import dtypes, shared_memory
from .dtypes import DType
from .errors import ValueRuntimeError
from .graph import Operation, get_default_graph
from .modes import TRACING_THREADS, trace_state
from .printing import format_tensor
from .shapes import Size, TensorShape, tensor_shape

# What a tensor is. EAGER tensors hold `data`; REMOTE ones are handles on a value held by a
# declared device (core/devices.py); the others are symbolic graph nodes.
EAGER, PLACEHOLDER, VARIABLE, NODE = "eager", "placeholder", "variable", "node"
REMOTE = "remote"
_new = object.__new__


def _is_size(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


class Tensor:
    """An n-dimensional array, eager or symbolic; see docs/ARCHITECTURE.md.

    This class is the data structure only. Its PyTorch methods and operators (`x + y`,
    `x.sum()`, `x.backward()`, ...) are attached by `tinyflow.pytorch.install_tensor_methods`,
    the one late binding, run once when `tinyflow` is imported.

    Eager autograd bookkeeping: `_version` is a one-element list shared by a tensor and its
    views, bumped by every in-place write; `_saved` holds the versions of a node's inputs
    and output when it was recorded (or FREED after a backward without retain_graph), so a
    gradient never silently uses overwritten data; `_base` is the tensor a view looks into;
    `_post_grad_hooks` are called by `backward()` once this leaf's `.grad` is final.
    """

    __slots__ = ("array", "_op", "inputs", "shape", "dtype", "kind", "requires_grad", "_grad",
                 "_version", "_saved", "__dict__", "__weakref__")
    # What few tensors set are class defaults, so a new eager tensor (every op's result)
    # fills the ten slots above and nothing else; a tensor that sets one of these (a graph
    # node, a view, a leaf with hooks) gets an instance dict for it.
    graph = _name = site = _base = _post_grad_hooks = remote = None
    made_without_grad = False   # a view made under no_grad (`tape.views_take_history`)
    multi_output_view = False   # a piece of split/chunk/unbind of a tensor with grad, or a
                                # view of one: not written in place in grad mode (`tape`)
    _views = None   # weak references to the views of a base without grad (`op.register_view`)
    _walked_for = None   # id of the in-place target whose write walked this node's history
    _walked_at = -1      # an in-place target: `tape.MOVED` after its last `_rewire`
    control_inputs = ()
    _retains_grad = False
    __array_priority__ = 1000  # so `ndarray * tensor` calls Tensor.__rmul__

    def __getstate__(self):
        """Pickling leaves out `_views` (weak references, which do not pickle)."""
        state = object.__getstate__(self)
        attributes = state[0] if isinstance(state, tuple) else state
        if attributes and "_views" in attributes:
            attributes = {k: v for k, v in attributes.items() if k != "_views"}
            state = (attributes, state[1]) if isinstance(state, tuple) else attributes
        return state

    def __setstate__(self, state) -> None:
        """Unpickling (Ray passes tensors between processes) restores the slots and gives the
        tensor writable data of its own, as optimizers write parameters in place."""
        attributes, slots = state if isinstance(state, tuple) else (state, None)
        for key, value in {**(attributes or {}), **(slots or {})}.items():
            object.__setattr__(self, key, value)
        if self.kind == EAGER:
            self.array = writable(self.array)

    def _reduce_sharing(self):
        """multiprocessing's pickling (registered below): data in a shared block
        (`share_memory_()`) goes as a reference to it, so the unpickled tensor shares the
        memory; plain pickling copies the data."""
        reduced = object.__reduce_ex__(self, 2)
        if self.kind != EAGER:
            return reduced
        attributes, slots = reduced[2]
        slots = {**slots, "array": shared_memory.picklable(self.array)}
        return (*reduced[:2], (attributes, slots), *reduced[3:])

    def __init__(self, data=(), dtype=None, requires_grad: bool = False, *more_sizes) -> None:
        if type(data) is int and dtype is None or _is_size(data) and _is_size(dtype):
            # torch.Tensor(3) / torch.Tensor(3, 4): sizes (zeros; PyTorch's are uninitialized)
            sizes = (data,) if dtype is None else (data, dtype, *(
                (requires_grad, *more_sizes) if _is_size(requires_grad) else ()))
            data, dtype, requires_grad = np.zeros(sizes, dtypes.DEFAULT_FLOAT.np), None, False
        dt = dtypes.as_dtype(dtype) if dtype is not None else None
        if isinstance(data, Tensor):
            data = data.numpy()
        arr = np.asarray(data, dtype=dt.np if dt is not None else None)
        if dt is None and arr.dtype.kind in "iubf" and not isinstance(data, (np.ndarray,
                                                                             np.generic)):
            # torch.Tensor(data) is the default float dtype: Python numbers and lists (ints,
            # bools, floats) become it; NumPy arrays and scalars keep their dtype
            # (tinyflow wraps arrays as they are, e.g. float64 for gradient checks)
            arr = arr.astype(dtypes.DEFAULT_FLOAT.np)
        _init_eager(self, arr, None, (), requires_grad)

    # ---- construction (internal) -------------------------------------------------------
    @staticmethod
    def _eager(data: np.ndarray, op=None, inputs=(), requires_grad=False) -> "Tensor":
        return _init_eager(_new(Tensor), data, op, inputs, requires_grad)

    @staticmethod
    def _symbolic(kind, shape, dtype: DType, op=None, inputs=(), name=None, graph=None,
                  site=None) -> "Tensor":
        t = Tensor.__new__(Tensor)
        t._init_symbolic(kind, shape, dtype, op, inputs, name, graph, site)
        return t

    @staticmethod
    def _remote(ref, shape, dtype: DType, requires_grad: bool = False) -> "Tensor":
        """A handle on a value that lives on a declared device (`ref`: a RemoteRef)."""
        t = Tensor.__new__(Tensor)
        _init_eager(t, np.empty((0,)), None, (), requires_grad)
        become_remote(t, ref, shape, dtype)
        return t

    def _init_symbolic(self, kind, shape, dtype, op=None, inputs=(), name=None, graph=None,
                       site=None) -> None:
        self.array = None
        self._op = op
        self.inputs = inputs
        self.shape = None if shape is None else tensor_shape(shape)   # TF1's TensorShape
        self.dtype = dtype
        self.kind = kind
        self.requires_grad = False
        self._grad = None
        self.site = site
        self._version = None
        self._saved = None
        self.graph = graph if graph is not None else get_default_graph()
        self.control_inputs = self.graph.control if op is not None else ()
        self._name = self.graph.add_node(self, name or (op.name if op is not None else kind))

    # ---- identity ------------------------------------------------------------------------
    @property
    def is_symbolic(self) -> bool:
        return self.kind not in (EAGER, REMOTE)

    @property
    def name(self) -> Optional[str]:
        """TF1's name: 'op:0' for a node's output; a node with none (a train op, an
        initializer, a group) is TF1's Operation, named 'op'."""
        if self._name is None:
            return None
        return self._name if self.dtype is None else self._name + ":0"

    @property
    def op(self):
        """TF1's `tensor.op`: the Operation that makes this graph tensor (its name without
        ':0', type, inputs). An eager tensor has none, as in TF2's eager mode."""
        if self.kind in (EAGER, REMOTE):
            raise AttributeError("Tensor.op is meaningless for an eager tensor: only a graph "
                                 "tensor (TF1) is made by an Operation; PyTorch's is grad_fn")
        return Operation(self)

    @property
    def is_leaf(self) -> bool:
        if self._op is not None:
            return not self.requires_grad
        if self.kind == PLACEHOLDER and self.requires_grad:   # a compiled call's argument's
            tracer = trace_state.active                       # stand-in: as the argument
            real = tracer.real.get(id(self)) if tracer is not None else None
            return real is None or real.is_leaf
        return True

    @property
    def ndim(self) -> Optional[int]:
        return None if self.shape is None else len(self.shape)

    def get_shape(self):
        """TF1's `get_shape()`: the static shape as a `TensorShape` (`.as_list()`, `.ndims`,
        `TensorShape(None)` for unknown rank); on an eager tensor, its shape."""
        return tensor_shape(self.shape) if self.kind != EAGER else self.shape

    def set_shape(self, shape) -> None:
        """TF1's `set_shape`: make the static shape more specific (a placeholder of unknown
        batch fed [None, 784] data, a reshape's result); a clash is a ValueError."""
        if self.kind == EAGER:
            raise TypeError("set_shape: an eager tensor's shape is its data's; use reshape")
        self.shape = tensor_shape(TensorShape(shape).merge_with(self.shape)
                                  if self.shape is not None else TensorShape(shape))

    def dim(self) -> int:
        return self.ndim

    def size(self, dim: Optional[int] = None):
        """PyTorch's `x.size()`: a `Size` (a tuple printing as `torch.Size([3, 4])`), or one dim;
        a symbolic tensor's static `TensorShape`."""
        if dim is not None:
            return self.shape[dim]
        return Size(self.shape) if self.kind == EAGER else self.shape

    def numel(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    def __len__(self) -> int:
        if not self.shape or self.shape[0] is None:
            raise TypeError(f"len() of a tensor of shape {self.shape}")
        return self.shape[0]

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        if self.kind == REMOTE:
            extra = ", requires_grad=True" if self.requires_grad else ""
            return f"tensor(shape={list(self.shape)}, dtype={self.dtype.name}, " \
                   f"device='{self.remote.device.name}'{extra})"
        tracer = trace_state.active
        if self.kind == EAGER and (tracer is None or id(self) not in tracer.current):
            grad_fn = type(self._op).__name__ if self.requires_grad and self._op else None
            return format_tensor(self.array, self.dtype.name, self.dtype.name in
                                 dtypes.ML_FLOATS, self.requires_grad, grad_fn)
        if tracer is not None:   # a graph break: print its value (as written), as eagerly
            return tracer.printed(self)
        if self.dtype is None:
            return repr(Operation(self))
        return f"<tf.Tensor '{self.name}' shape={self.shape} dtype={self.dtype.name}>"

    # ---- data access (eager) -----------------------------------------------------------
    def _require_data(self, what: str) -> np.ndarray:
        if self.kind == REMOTE:
            raise TypeError(f"can't convert {self.remote.device.name} device type tensor to "
                            f"{what}: it lives in that device's worker. Use Tensor.cpu() to "
                            f"copy the tensor to this process first.")
        tracer = trace_state.active
        if tracer is not None:
            if self.kind != EAGER or id(self) in tracer.current:
                # data-dependent Python under compile (or a tensor the traced code wrote)
                return tracer.concrete(self, f"{what} of a traced tensor")
            tracer.data_read(self)    # a captured tensor's value: the graph guards on it
        if self.kind != EAGER:
            raise TypeError(f"{what}: {self.name} is symbolic and has no value; "
                            f"run it in a Session (sess.run) or call .eval()")
        return self.array

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The data as a NumPy array sharing memory. A tensor that requires grad is refused as
        PyTorch refuses it (the array would leave the graph unseen) unless `force=True`."""
        if self.requires_grad and not force and self.kind == EAGER:
            raise RuntimeError("numpy(): the tensor requires grad, and an array would leave "
                               "autograd unseen; call tensor.detach().numpy()")
        return self._require_data("numpy()")

    def _value(self, what: str) -> np.ndarray:
        """The data, fetched from its device's worker if it lives there (item, tolist)."""
        if self.kind == REMOTE:
            return self.remote.device.fetch(self)
        return self._require_data(what)

    def item(self):
        array = self.array if self.kind == EAGER and not TRACING_THREADS else \
            self._value("item()")          # the first: every step's loss.item()
        if array.size != 1:
            raise ValueRuntimeError(f"item(): a tensor with {array.size} elements cannot be "
                                    f"converted to a Python number (shape {array.shape})")
        return array.item()

    def tolist(self):
        return self._value("tolist()").tolist()

    def __array__(self, dtype=None, copy=None):
        arr = self._require_data("np.asarray()")
        return arr if dtype is None else arr.astype(dtype)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.kind == REMOTE:
            return bool(self._value("bool()"))
        if self.kind != EAGER:
            if trace_state.active is not None:
                return bool(trace_state.active.concrete(self, "bool() of a traced tensor"))
            raise TypeError(f"the truth value of symbolic tensor {self.name} is unknown "
                            f"until it runs; use tf.cond-free logic or run it in a Session")
        return bool(self._require_data("bool()"))

    # ---- outside autograd ----------------------------------------------------------------
    def detach(self) -> "Tensor":
        """The same buffer outside autograd; writes through it still bump the version."""
        if self.kind == REMOTE:
            return self.remote.device.detach(self)
        if trace_state.active is not None:   # under compile: an alias node, no break
            return trace_state.active.detach(self)
        data = self._require_data("detach()")
        out = Tensor._eager(data)
        if data is self.array:   # not a value computed at a graph break
            out._version = self._version
        return out

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if self._op is not None and not requires_grad:
            raise RuntimeError("requires_grad_(False): the tensor is not a leaf (an op made "
                               "it); use detach() for a copy without history")
        if trace_state.active is not None and self.kind != EAGER:
            trace_state.active.graph_break("requires_grad_() of a traced tensor")
        if self.kind == REMOTE:    # its worker's tape must record ops on it
            self.remote.device.set_requires_grad(self, requires_grad)
        self.requires_grad = requires_grad
        return self

    @property
    def grad(self) -> Optional["Tensor"]:
        if TRACING_THREADS and trace_state.active is not None:   # the trace guards on it
            return trace_state.active.grad_read(self)
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        """`x.grad = g` is checked as PyTorch checks it: a tensor (or None) of x's shape
        and dtype, so an optimizer never steps with a gradient of another parameter."""
        if TRACING_THREADS and trace_state.active is not None:
            trace_state.active.grad_set(self, value)
            return
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f".grad = a {type(value).__name__}; assign a Tensor or None")
            if value.shape != self.shape:
                raise RuntimeError(f".grad = a tensor of shape {list(value.shape)} for a "
                                   f"tensor of shape {list(self.shape)}; the shapes must match")
            if value.dtype is not self.dtype:
                raise RuntimeError(f".grad = a {value.dtype.name} tensor for a "
                                   f"{self.dtype.name} tensor; the dtypes must match")
        self._grad = value

    @property
    def grad_fn(self):
        return self._op if self.requires_grad else None

    @property
    def data(self) -> "Tensor":
        """A tensor sharing this one's buffer, outside autograd (PyTorch's `.data`)."""
        if trace_state.active is not None and self.kind != REMOTE:
            return trace_state.active.detach(self)
        return Tensor._eager(self._require_data(".data"))

    @data.setter
    def data(self, value) -> None:
        if trace_state.active is not None and isinstance(value, Tensor):
            trace_state.active.set_data(self, value)
            return
        arr = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
        self.array, self.shape = arr, arr.shape
        self.dtype = dtypes.from_numpy_dtype(arr.dtype)


shared_memory.send_by_reference(Tensor)


def new_eager(data: np.ndarray, dtype: DType, op=None, inputs=(),
              requires_grad: bool = False, into: Optional[Tensor] = None) -> Tensor:
    """An eager tensor of `data`, whose dtype the caller knows (`apply`'s result, built with
    one call), or `into`, a new Tensor, with every slot filled so (the rare fields keep
    their class defaults). `core.op.apply1/2/3` and `_recorded` write this out for an
    op's result (one frame fewer per eager op): a new slot is filled there too."""
    t = _new(Tensor) if into is None else into
    t.array = data
    t._op = op
    t.inputs = inputs
    t.shape = data.shape
    t.dtype = dtype
    t.kind = EAGER
    t.requires_grad = requires_grad
    t._grad = None
    t._version = [0]
    t._saved = None
    return t


def _init_eager(t: Tensor, data: np.ndarray, op, inputs, requires_grad: bool,
                dtype: Optional[DType] = None) -> Tensor:
    """Fill every slot of an eager tensor (`dtype`: data's, when the caller knows it)."""
    return new_eager(data, dtypes.from_numpy_dtype(data.dtype) if dtype is None else dtype,
                     op, inputs, requires_grad, t)


def become_remote(t: Tensor, ref, shape, dtype: DType) -> None:
    """Make `t` a handle on a value a device holds (a parameter moved by `Module.to` keeps
    its identity, as in PyTorch)."""
    t.array, t.kind, t.remote = None, REMOTE, ref
    t.shape, t.dtype = tuple(shape), dtype
    t._version = [0]


def become_eager(t: Tensor, data: np.ndarray) -> None:
    """Make a handle `t` hold `data` again, here (a module moved back to the CPU)."""
    t.array, t.kind, t.remote = data, EAGER, None
    t.shape, t.dtype = data.shape, dtypes.from_numpy_dtype(data.dtype)


def writable(array: np.ndarray) -> np.ndarray:
    """`array`, or a copy if it is read-only: Ray unpickles arrays as read-only views of its
    object store, and a tensor must own data it can write in place."""
    return array if array.flags.writeable else array.copy()
