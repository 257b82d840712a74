"""The op registry and `apply`, the single entry point through which every op runs."""
from __future__ import annotations

import dataclasses
import functools
import operator
import warnings
from weakref import ref
from typing import Optional, dataclass_transform

import numpy as np

from . import devices, dtypes
from .errors import DTypeError, IndexShapeError, ShapeError, out_needs_grad_error, user_site
from .tensor import EAGER, NODE, REMOTE, Tensor, _new, new_eager
from .kernels import numpy_kernels as KERNELS, unbound_kernel
from .modes import (ANOMALY_THREADS, GRAD_OFF_THREADS, TRACING_THREADS, anomaly_mode,
                    grad_mode, trace_state)

OPS: dict[str, type] = {}
_ARRAY = operator.attrgetter("array")
_DECLARED = devices.DECLARED   # one dict, filled in place when a device is declared
_NDARRAY = np.ndarray


class Typed:
    """A stand-in value with only a static shape and dtype: what an op's `infer` reads, so
    passes and the fused op can re-run shape rules without building tensors."""
    kind = "node"
    array = None

    def __init__(self, shape, dtype) -> None:
        self.shape, self.dtype = shape, dtype

    @property
    def ndim(self):
        return None if self.shape is None else len(self.shape)


@dataclass_transform(kw_only_default=True, frozen_default=True, eq_default=False)
class Op:
    """What an op means: its shape rule (`infer`), reverse rule (`vjp`), forward rule (`jvp`).

    Subclasses set `name` and the traits the passes and autodiff read. An op's attributes
    are the annotated class attributes of its class (which becomes a frozen dataclass):
    passed by keyword, never changed, compared by identity. How an op *runs* lives in a
    backend's kernel table, keyed by the op class.
    """

    name = ""
    elementwise = False     # output[i] depends on input[i] only (fusable)
    broadcasts = False      # inputs broadcast to the output: autodiff sums gradients back
    reduction = False
    view = False            # output may share the input's buffer
    stateful = False        # writes state or draws random numbers: never folded or merged
    draws = False           # draws from the global generator (stateful too)
    differentiable = True   # False: no gradient flows through (comparisons, argmax, ...)
    saves_inputs = True     # vjp reads the inputs' values (not just their shapes)
    saves_output = True     # vjp reads the output's value
    strings = False         # takes or makes tf.string values (summaries); others refuse them
    composed = False        # derivatives from differentiating `compose` (autodiff/composed.py)
    sliced_adjoint = False  # vjp may get a `SlicedAdjoint` (ops/shape.py): its output's
    #                         adjoint as the getitems' pieces, so the unread parts stay unmade
    # Linear ops need no forward rule; forward mode applies the op to the tangents
    # (autodiff/forward.py). "linear": linear in its inputs together (transpose, concat,
    # sum): op(t1, ..., tn).
    # "multilinear": linear in each input alone (matmul, conv2d): the sum over k of the op
    # with input k replaced by its tangent.
    linearity = None
    linear_inputs = None    # linear in the first n inputs only (the rest: indices, shapes)
    joins_first_adjoint = False   # has `vjp_joining`: adds its first input's other adjoint
    #                               into that input's gradient in its own backward kernel
    sums_adjoints = False   # has `adjoint_terms`: an input's gradient as a product the sweep
    #                         may sum with its other readers' in one op (a shared weight)
    plain_vjp = True        # none of the three above: the eager sweep calls `vjp` after one
    #                         look-up, not three (set by `__init_subclass__`)

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls._eager_kernel = unbound_kernel   # its own, not its base's (core/kernels.py)
        cls.plain_vjp = not (cls.composed or cls.joins_first_adjoint or cls.sums_adjoints)
        if cls.__dict__.get("__annotations__"):   # else it inherits its base's fields
            dataclasses.dataclass(frozen=True, eq=False, kw_only=True)(cls)
        if cls.name:
            if cls.name in OPS:
                raise TypeError(f"op name {cls.name!r} registered twice")
            OPS[cls.name] = cls

    def __setattr__(self, name: str, value) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to {name!r}: ops are immutable")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def infer(self, *inputs: Tensor):
        """Return (shape, dtype) of the output; raise ValueError/TypeError on bad input."""
        raise NotImplementedError(self.name)

    def vjp(self, g: Tensor, out: Tensor, *inputs: Tensor) -> tuple:
        """Gradients w.r.t. each input (None: none), written with tinyflow ops."""
        raise NotImplementedError(f"{self.name} has no reverse-mode rule")

    def vjp_joining(self, g: Tensor, out: Tensor, partial: Tensor,
                    *inputs: Tensor) -> Optional[tuple]:
        """`vjp` with `partial`, the first input's adjoint from its other readers so far,
        added into that input's gradient by the backward kernel itself (eager backward,
        ops with `joins_first_adjoint`); None where it cannot (then `vjp`, and the sweep
        adds the two in a pass of its own)."""
        return None

    def adjoint_terms(self, k: int, g: Tensor, out: Tensor, *inputs: Tensor):
        """Input k's gradient in `vjp` as the terms (a, b) of a^T b (2-D a and b), or (None,
        b) for b's sum over its rows; None if it is not that here. Ops with `sums_adjoints`:
        the eager sweep (autodiff/reverse.py) keeps the terms of a tensor read by many such
        nodes (a weight used at every step of a loop) and sums them as one `product_sum`."""
        return None

    def jvp(self, tangents: tuple, out: Tensor, *inputs: Tensor) -> Optional[Tensor]:
        """Tangent of the output given input tangents (None entries are zero). Ops with a
        `linearity` need none: forward mode applies the op to the tangents."""
        raise NotImplementedError(f"{self.name} has no forward-mode rule")

    def vjp_reads(self, needs: tuple) -> tuple:
        """Whether vjp reads each input's value, then the output's, when `needs[k]` says
        whether input k wants a gradient. A value vjp does not read may be overwritten in
        place before backward (`autodiff/tape.check_saved`). A linear op's gradient reads
        no value; a multilinear op's for input k reads only the other inputs:
        `buf[t - 1] * 0.5` never reads buf."""
        if self.linearity == "linear":   # its transpose: shapes and index inputs only
            first = len(needs) if self.linear_inputs is None else self.linear_inputs
            return (False,) * first + (self.saves_inputs,) * (len(needs) - first) + (False,)
        if self.linearity == "multilinear" and self.saves_inputs:
            return (*[any(n for j, n in enumerate(needs) if j != k)
                      for k in range(len(needs))], self.saves_output)
        return (self.saves_inputs,) * len(needs) + (self.saves_output,)


_SHARED: dict = {}


def shared(cls: type, *key) -> Op:
    """The one instance of `cls` with these attribute values (in the order of its fields):
    ops are immutable, so every call may share it, and an eager call does not build a frozen
    dataclass each time. For attributes of exact types (ints, bools, tuples of ints): 1 and
    True would share a key."""
    op = _SHARED.get((cls, *key))
    if op is None:
        op = _SHARED[(cls, *key)] = cls(**dict(zip(field_names(cls), key)))
    return op


@functools.lru_cache(maxsize=None)
def field_names(cls: type) -> tuple:
    """The names of an op class's attributes, in order (none for a class without any)."""
    return tuple(f.name for f in dataclasses.fields(cls)) if dataclasses.is_dataclass(cls) \
        else ()


def sum_terms(terms) -> Optional[Tensor]:
    """Sum of the terms that are not None, None if none is: a zero that costs no op."""
    total = None
    for t in terms:
        if t is not None:
            total = t if total is None else total + t
    return total


# ---- apply -----------------------------------------------------------------------------

def apply(op: Op, *inputs: Tensor, name: Optional[str] = None, graph=None,
          out: Optional[Tensor] = None) -> Tensor:
    """Infer the output's shape and dtype, then run the kernel (eager) or add a node.

    The result is a node when an input is symbolic, or when `graph` is given (TF1 random
    ops: a node draws anew on every run, where an eager result would be drawn once).
    `out` (eager only, PyTorch's out= arguments): write the result into that tensor's
    buffer, e.g. an optimizer updating a parameter with no temporary and no copy.
    """
    if name is None and graph is None and out is None:
        n = len(inputs)
        if n == 2:
            x, y = inputs
            return apply2(op, x, y)
        if n == 1:
            return apply1(op, inputs[0])
        if n == 3:
            x, y, z = inputs
            return apply3(op, x, y, z)
    return _apply(op, inputs, name, graph, out)


# The eager call of one, two or three tensors (nearly every op of an eager step), written
# out once per arity: each line runs millions of times. Hot front ends (F.linear, F.relu,
# sums, the elementwise functions) call these directly, without apply's `*inputs` and
# keywords; anything else (a trace, a symbolic or remote input) goes to `_apply`.

def apply1(op: Op, x: Tensor) -> Tensor:
    """`apply(op, x)`."""
    if x.kind != EAGER or TRACING_THREADS and trace_state.active is not None:
        return _apply(op, (x,), None, None, None)
    try:
        shape, dtype = op.infer(x)
        if dtype is _STRING and not op.strings:
            raise TypeError(_NO_STRINGS)
    except (ValueError, TypeError, IndexError) as e:
        raise _infer_error(op, (x,), e) from None
    data = op._eager_kernel(x.array)
    if type(data) is not _NDARRAY or data.dtype is not dtype.np and data.dtype != dtype.np:
        data = as_dtype_array(data, dtype)
    if x.requires_grad and (not GRAD_OFF_THREADS or grad_mode.enabled) and op.differentiable:
        return _recorded(op, (x,), data, dtype)
    out = _new(Tensor)   # new_eager(data, dtype) written out: one frame fewer per op
    out.array = data
    out._op = None
    out.inputs = ()
    out.shape = data.shape
    out.dtype = dtype
    out.kind = EAGER
    out.requires_grad = False
    out._grad = None
    out._version = [0]
    out._saved = None
    if op.view and _is_view(data, x.array):
        share_version(out, x)
    return out


def apply2(op: Op, x: Tensor, y: Tensor) -> Tensor:
    """`apply(op, x, y)`."""
    if x.kind != EAGER or y.kind != EAGER or TRACING_THREADS and trace_state.active is not None:
        return _apply(op, (x, y), None, None, None)
    try:
        shape, dtype = op.infer(x, y)
        if dtype is _STRING and not op.strings:
            raise TypeError(_NO_STRINGS)
    except (ValueError, TypeError, IndexError) as e:
        raise _infer_error(op, (x, y), e) from None
    data = op._eager_kernel(x.array, y.array)
    if type(data) is not _NDARRAY or data.dtype is not dtype.np and data.dtype != dtype.np:
        data = as_dtype_array(data, dtype)
    if (x.requires_grad or y.requires_grad) and (not GRAD_OFF_THREADS or grad_mode.enabled) \
            and op.differentiable:
        return _recorded(op, (x, y), data, dtype)
    out = _new(Tensor)   # new_eager(data, dtype) written out: one frame fewer per op
    out.array = data
    out._op = None
    out.inputs = ()
    out.shape = data.shape
    out.dtype = dtype
    out.kind = EAGER
    out.requires_grad = False
    out._grad = None
    out._version = [0]
    out._saved = None
    if op.view and _is_view(data, x.array):
        share_version(out, x)
    return out


def apply3(op: Op, x: Tensor, y: Tensor, z: Tensor) -> Tensor:
    """`apply(op, x, y, z)`."""
    if x.kind != EAGER or y.kind != EAGER or z.kind != EAGER or TRACING_THREADS and \
            trace_state.active is not None:
        return _apply(op, (x, y, z), None, None, None)
    try:
        shape, dtype = op.infer(x, y, z)
        if dtype is _STRING and not op.strings:
            raise TypeError(_NO_STRINGS)
    except (ValueError, TypeError, IndexError) as e:
        raise _infer_error(op, (x, y, z), e) from None
    data = op._eager_kernel(x.array, y.array, z.array)
    if type(data) is not _NDARRAY or data.dtype is not dtype.np and data.dtype != dtype.np:
        data = as_dtype_array(data, dtype)
    if (x.requires_grad or y.requires_grad or z.requires_grad) and (
            not GRAD_OFF_THREADS or grad_mode.enabled) and op.differentiable:
        return _recorded(op, (x, y, z), data, dtype)
    out = _new(Tensor)   # new_eager(data, dtype) written out: one frame fewer per op
    out.array = data
    out._op = None
    out.inputs = ()
    out.shape = data.shape
    out.dtype = dtype
    out.kind = EAGER
    out.requires_grad = False
    out._grad = None
    out._version = [0]
    out._saved = None
    if op.view and _is_view(data, x.array):
        share_version(out, x)
    return out


_STRING = dtypes.string
_NO_STRINGS = "takes no tf.string operand and makes no tf.string result"


def _apply(op: Op, inputs: tuple, name: Optional[str], graph, out: Optional[Tensor]) -> Tensor:
    """`apply` in general: under a trace, on symbolic or remote inputs, into `out`, or of
    any number of eager inputs."""
    tracer = trace_state.active if TRACING_THREADS else None   # (no thread-local read)
    if tracer is not None:   # `tinyflow.compile` is tracing: every op becomes a node
        held = inputs            # (as the caller holds them: a view's base, by identity)
        built = tracer.tf1_inputs(inputs, graph)
        if built is not None:    # a node of a TF1 graph the function builds, not traced
            inputs, tracer = built, None
        else:
            inputs = tracer.reads(inputs)
            graph = tracer.graph if graph is None else graph
    try:
        shape, dtype = op.infer(*inputs)
        if dtype is _STRING and not op.strings:
            raise TypeError(_NO_STRINGS)
    except (ValueError, TypeError, IndexError) as e:
        raise _infer_error(op, inputs, e) from None
    if _DECLARED and (any(x.kind == REMOTE for x in inputs)
                             or out is not None and out.kind == REMOTE):
        return devices.run(op, inputs, out)   # a declared device's worker runs it
    for x in inputs:
        if x.kind != EAGER:
            if x.kind == REMOTE:   # its device was released (dist.release_devices)
                raise devices.released(op, x.remote.device)
            if graph is None:
                graph = x.graph
            elif x.graph is not graph:
                raise ValueError(f"{op.name}: inputs {inputs[0].name} and {x.name} belong "
                                 f"to different graphs (at {user_site()})")
    if graph is not None:
        if graph.updated:     # inside control_dependencies on assigns: read the new values
            written = getattr(op, "writes_input", None)
            inputs = tuple(x if k == written else graph.updated.get(id(x), x)
                           for k, x in enumerate(inputs))
        node = Tensor._symbolic(NODE, shape, dtype, op, inputs, name=name, graph=graph,
                                site=user_site())
        if out is not None:
            if tracer is None:   # a TF1 graph tensor: out= would be silently left unwritten
                raise TypeError(f"{op.name}: out= writes eager tensors; an input is symbolic "
                                f"(a graph tensor): drop out= and run the graph")
            fit_out(op.name, out, shape, dtype)   # the eager rules, kept by the trace
            return tracer.write(out, node)   # recorded as a state write, run by the plan
        if tracer is not None:
            if op.draws:
                tracer.drew(node)
            if op.view:
                tracer.made_view(node, held[0])
            if not grad_mode.enabled:
                tracer.made_without_grad(node)   # autograd does not go through it
            elif op.differentiable and any(x.requires_grad or id(x) in tracer.rebound
                                           for x in inputs):
                node.requires_grad = True   # as eagerly: code may branch on it
        return node
    if out is not None:
        return _apply_into(op, inputs, shape, dtype, out)
    data = op._eager_kernel(*map(_ARRAY, inputs))
    if type(data) is not _NDARRAY or (data.dtype is not dtype.np and data.dtype != dtype.np):
        data = as_dtype_array(data, dtype)
    if grad_mode.enabled and op.differentiable and any(x.requires_grad for x in inputs):
        return _recorded(op, inputs, data, dtype)
    out = new_eager(data, dtype)
    if op.view and _is_view(data, inputs[0].array):
        share_version(out, inputs[0])
    return out


def _infer_error(op: Op, inputs: tuple, e: Exception) -> Exception:
    """An op's shape rule refused its inputs: the error names the op, shapes, dtypes, site."""
    shapes = ", ".join(str(x.shape) for x in inputs)
    kinds = ", ".join(x.dtype.name for x in inputs)
    cls = (DTypeError if isinstance(e, TypeError) else
           IndexShapeError if isinstance(e, IndexError) else ShapeError)
    return cls(f"{op.name}: {e} (input shapes {shapes}; dtypes {kinds}) at {user_site()}")


def kernel_error(op: Op, values: list, e: Exception) -> Exception:
    """A kernel failed on values whose shapes the graph did not fix (a symbolic dimension):
    if the op's shape rule refuses the concrete shapes, its error (naming the op, shapes and
    dtypes) replaces the kernel's (NumPy's, say, naming neither); else the kernel's own."""
    if not all(isinstance(v, np.ndarray) for v in values):
        return e
    inputs = [new_eager(v, dtypes.from_numpy_dtype(v.dtype)) for v in values]
    try:
        op.infer(*inputs)
    except ValueError as refused:
        return _infer_error(op, inputs, refused)
    except (TypeError, IndexError):
        pass
    return e


def _recorded(op: Op, inputs: tuple, data: np.ndarray, dtype) -> Tensor:
    """The result of an eager op that autograd records: a node of the tape, with the
    versions of its inputs and its own, which `check_saved` compares."""
    out = _new(Tensor)   # new_eager(data, dtype, op, inputs, True) written out: no frame
    out.array = data
    out._op = op
    out.inputs = inputs
    out.shape = data.shape
    out.dtype = dtype
    out.kind = EAGER
    out.requires_grad = True
    out._grad = None
    out._version = [0]
    out._saved = None
    if op.view and _is_view(data, inputs[0].array):
        share_version(out, inputs[0])
    if len(inputs) == 1:
        out._saved = inputs[0]._version[0], out._version[0]
    elif len(inputs) == 2:
        out._saved = inputs[0]._version[0], inputs[1]._version[0], out._version[0]
    else:
        out._saved = (*[x._version[0] for x in inputs], out._version[0])
    if ANOMALY_THREADS and anomaly_mode.enabled:
        out.site = user_site()
    return out


def _is_view(data: np.ndarray, source: np.ndarray) -> bool:
    """Whether a view op's result is a view of its input's memory: not so for a copy such as
    x[:, index_array], which NumPy gives a base of its own."""
    if data is source:   # NumPy's squeeze with nothing to squeeze returns its input
        return True
    base = data.base
    return base is not None and (base is source or base is source.base
                                 or np.may_share_memory(data, source))


def share_version(view: Tensor, x: Tensor) -> None:
    """A view and its base see each other's writes: one version counter. A view of a base
    without grad made in grad mode is remembered, weakly, by its base (`register_view`;
    not so under no_grad, where `tape.views_take_history` scans for it)."""
    base = view._base = x if x._base is None else x._base
    view._version = x._version
    if x.made_without_grad or GRAD_OFF_THREADS and not grad_mode.enabled:   # no history
        view.made_without_grad = True
    elif not base.requires_grad:
        register_view(view)
    elif x.multi_output_view:
        view.multi_output_view = True


def register_view(view: Tensor) -> None:
    """A view of a base without grad (made in grad mode) is remembered, weakly, by its base:
    if the base later takes a history by an in-place write, `tape.views_take_history` finds
    it there (not by scanning the heap: ~40 ms a step with 2 million live objects)."""
    base = view._base
    if base._views is None:
        base._views = [ref(view)]
    else:
        base._views.append(ref(view))
        if len(base._views) & 31 == 0:
            _drop_dead(base._views)


def _drop_dead(views: list) -> None:
    """At 32, 64, 128, ... references: the dead are dropped if at least half are (so the
    list stays within twice its live views plus 32, in amortized O(1) a view)."""
    n = len(views)
    if n & (n - 1) == 0:
        live = [r for r in views if r() is not None]
        if 2 * len(live) <= n:
            views[:] = live


def as_dtype_array(data, dtype) -> np.ndarray:
    """A kernel's result in the op's dtype (a full reduction's NumPy scalar, `loss.sum()`,
    becomes an array); a float32 result rounded to a reduced float overflows to inf
    quietly, as PyTorch's does."""
    if dtype.is_reduced:
        with np.errstate(over="ignore"):
            return np.asarray(data, dtype=dtype.np)
    return np.asarray(data, dtype=dtype.np)


def _apply_into(op: Op, inputs: tuple, shape, dtype, out: Tensor) -> Tensor:
    """Run an eager op into `out`'s buffer: through the kernel's `out=` where it has one (and
    may alias an input if the kernel allows in-place), else computed and copied in."""
    if out.kind != EAGER:
        raise TypeError(f"{op.name}: out= needs an eager tensor; {out.name} is symbolic")
    if grad_mode.enabled and op.differentiable and (
            out.requires_grad or any(x.requires_grad for x in inputs)):
        raise out_needs_grad_error(f"{op.name}()")
    fit_out(op.name, out, shape, dtype)
    arrays = list(map(_ARRAY, inputs))
    in_place = KERNELS.out_kernels.get(type(op)) if out.dtype is dtype else None
    if in_place is None or not in_place and any(np.may_share_memory(a, out.array)
                                                for a in arrays):
        out.array[...] = KERNELS[type(op)](op, *arrays)
    else:
        KERNELS[type(op)](op, *arrays, out=out.array)
    out._version[0] += 1
    return out


def fit_out(name: str, out: Tensor, shape, dtype: dtypes.DType) -> None:
    """PyTorch's rules for a result written into `out=`: its kind may not be lowered (no
    float into an integer out), and an out of another shape is resized (with a warning when
    it held elements: PyTorch has deprecated that)."""
    if dtypes.kind_rank(dtype) > dtypes.kind_rank(out.dtype):
        raise RuntimeError(f"{name}: the result's type {dtype.name} can't be cast to out's "
                           f"{out.dtype.name}")
    if tuple(out.shape) != tuple(shape):
        if trace_state.active is not None:   # a resize is not a state write a plan replays
            trace_state.active.graph_break(f"{name}: out= of another shape (resized)")
        if out._base is not None:   # a new buffer would leave the view's base unwritten
            raise RuntimeError(f"{name}: out= is a view of shape {list(out.shape)}; the "
                               f"result's is {list(shape)}, and a view can't be resized")
        if out.array.size:
            warnings.warn(f"{name}: out= of shape {list(out.shape)} is resized to the result's "
                          f"{list(shape)} at {user_site()} (deprecated in PyTorch); give an "
                          f"out of the result's shape, or an empty one", stacklevel=2)
        out.data = np.empty(shape, out.dtype.np)


def _as_array(value, dt):
    """`value` as an array (of `dt` if given); strings and other objects are a TypeError
    rather than an unknown-dtype KeyError deep inside."""
    arr = np.asarray(value, dtype=None if dt is None else dt.np)
    if arr.dtype.kind in "USOVM" and not dtypes.is_known(arr.dtype):   # "V": ml_dtypes' too
        raise TypeError(f"cannot convert {value!r} of type '{type(value).__name__}' to a "
                        f"tensor (tensors hold numbers or booleans)")
    return arr


def as_tensor(value, dtype=None) -> Tensor:
    """Tensors pass through; arrays, lists and numbers become eager constants."""
    if isinstance(value, Tensor):
        return value
    dense = getattr(type(value), "__tinyflow_dense__", None)
    if dense is not None:   # a sparse tensor (pytorch/sparse.py) enters an op as its dense value
        return as_tensor(dense(value), dtype)
    dt = dtypes.as_dtype(dtype) if dtype is not None else None
    if dt is None and isinstance(value, float):
        dt = dtypes.DEFAULT_FLOAT
    arr = _as_array(value, dt)
    if dt is None and arr.dtype == np.float64 and not isinstance(value, np.ndarray):
        arr = arr.astype(dtypes.DEFAULT_FLOAT.np)  # Python float lists: the default float
    return Tensor._eager(arr)



