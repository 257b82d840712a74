"""TF1 `Session`: holds variable values and runs compiled plans of its graph."""
from __future__ import annotations

import contextlib
import threading
import types
from typing import Optional

import numpy as np

from ..core import devices
from ..core.errors import FeedError, FeedTypeError, FetchError, FetchTypeError
from ..core.graph import Graph, Operation, get_default_graph, node_of
from ..core.modes import trace_state
from ..core.pytree import tree_flatten, tree_unflatten
from ..core.shapes import is_compatible
from ..core.tensor import EAGER, Tensor
from ..runtime.plan import Plan


class ConfigProto:
    """TF1's session configuration, accepted and ignored (one CPU device, no GPU options);
    `tf.ConfigProto(allow_soft_placement=True)` and `config.gpu_options.allow_growth = True`
    work."""

    def __init__(self, **options) -> None:
        self.gpu_options = types.SimpleNamespace(allow_growth=False,
                                                 per_process_gpu_memory_fraction=1.0)
        self.__dict__.update(options)


class RunOptions:
    """TF1's per-run options, accepted and ignored (there is no tracing)."""
    NO_TRACE, SOFTWARE_TRACE, HARDWARE_TRACE, FULL_TRACE = 0, 1, 2, 3

    def __init__(self, trace_level: int = 0, **options) -> None:
        self.trace_level = trace_level
        self.__dict__.update(options)


class RunMetadata:
    """TF1's per-run metadata: left empty."""

    def __init__(self) -> None:
        self.step_stats = None


class _SessionStack(threading.local):
    def __init__(self) -> None:
        self.stack: list = []


_sessions = _SessionStack()


def get_default_session() -> Optional["Session"]:
    return _sessions.stack[-1] if _sessions.stack else None


def evaluate(x, feed_dict=None, session=None):
    """TF1's `x.eval()`: the value of `x` in `session` (default: the enclosing one)."""
    sess = session or get_default_session()
    if sess is None:
        raise ValueError("eval(): no session given and no default session "
                         "(use `with tf.Session() as sess:` or pass session=)")
    return sess.run(x, feed_dict=feed_dict)


def run_op(op, feed_dict=None, session=None) -> None:
    """TF1's `train_op.run(feed_dict)`: run an op (any node) in the default session."""
    evaluate(op, feed_dict, session)


class Session:
    """Runs fetches of one graph; each (fetches, feed keys) signature is compiled once.

    Args:
        memory_budget: bytes of intermediate values a plan may need at its peak; a plan over
            it is refused (`MemoryBudgetError`) before it runs.
        planned: run plans with planned buffers and generated code; False runs the plain
            reference loop (fresh arrays per op), which tests compare against.
        optimize: apply the graph rewrites (`tinyflow.passes.REWRITES`: dead code, common
            subexpressions, fusion, ...); False runs the graph as written (the reference).
    """

    def __init__(self, target: str = "", graph: Optional[Graph] = None, config=None,
                 memory_budget: Optional[int] = None, planned: bool = True,
                 optimize: bool = True) -> None:
        if not isinstance(target, (str, bytes)):
            raise TypeError(f"Session: target is {type(target)}; give a string")
        if graph is not None and not isinstance(graph, Graph):
            raise TypeError(f"Session: graph is {type(graph)}; give a tf.Graph")
        if config is not None and not isinstance(config, ConfigProto):
            raise TypeError(f"Session: config is {type(config)}; give a tf.ConfigProto")
        self.graph = graph or get_default_graph()
        self.memory_budget = memory_budget
        self.planned = planned
        self.optimize = optimize
        self.variables: dict[Tensor, np.ndarray] = {}
        self._plans: dict[tuple, Plan] = {}
        self._closed = False

    # ---- running -----------------------------------------------------------------------
    def run(self, fetches, feed_dict: Optional[dict] = None, options=None, run_metadata=None):
        """Evaluate `fetches` (a tensor, name, or a list/tuple/dict nesting of them)."""
        if self._closed:
            raise RuntimeError("Session.run: the session is closed; open a new one")
        if feed_dict is not None and not isinstance(feed_dict, dict):
            raise FeedTypeError(f"feed_dict must be a dictionary of {{tensor: value}}, got a "
                                f"{type(feed_dict).__name__}")
        if options is not None and not isinstance(options, RunOptions):
            raise TypeError(f"Session.run: options is {type(options)}; give a tf.RunOptions")
        if run_metadata is not None and not isinstance(run_metadata, RunMetadata):
            raise TypeError(f"Session.run: run_metadata is {type(run_metadata)}; give a "
                            f"tf.RunMetadata")
        tracer = trace_state.active
        if tracer is not None:   # inside `tinyflow.compile`: this graph runs each call
            keys = list(feed_dict or {})
            feed_dict = dict(zip(keys, tracer.outside("tf.Session.run", [
                feed_dict[k] for k in keys])))
            trace_state.active = None
            try:
                return self.run(fetches, feed_dict, options, run_metadata)
            finally:
                trace_state.active = tracer
        flat, structure = tree_flatten(fetches)
        elements = [self._resolve_fetch(f) for f in flat]
        tensors = [node_of(e) for e in elements]
        feed_keys, feed_values = self._check_feeds(feed_dict or {})
        key = (tuple(map(id, tensors)), tuple(map(id, feed_keys)))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._new_plan(tensors, feed_keys)
        results = plan.run(feed_values)
        results = [None if isinstance(e, Operation) else r    # an operation runs, gives None
                   for e, r in zip(elements, results)]
        return tree_unflatten(structure, results)

    def make_plan(self, fetches, feed_keys=()) -> Plan:
        """The compiled plan for these fetches and feed keys (for inspection and benchmarks);
        `plan.memory(feed_values)` gives its planned peak before it runs."""
        flat, _ = tree_flatten(fetches)
        tensors = [node_of(self._resolve_fetch(f)) for f in flat]
        keys = tuple(self._resolve_feed_key(k) for k in feed_keys)
        return self._new_plan(tensors, keys)

    def _new_plan(self, tensors: list, feed_keys: tuple) -> Plan:
        if self.graph.placements:   # `tf.device` placed nodes: run on those devices' workers
            if devices.graph_runner is None:
                device = next(iter(self.graph.placements.values()))
                raise RuntimeError(f"the graph places nodes on device {device!r}, which is "
                                   f"not declared (tinyflow.distributed.devices)")
            plan = devices.graph_runner(tensors, feed_keys, self.optimize)
            if plan is not None:      # else none of the nodes these fetches need is placed
                return plan
        return Plan(tensors, feed_keys, self.variables, planned=self.planned,
                    optimize=self.optimize,
                    memory_budget=self.memory_budget)

    def _resolve_fetch(self, fetch):
        """The tensor or Operation a fetch names (TF1: `'loss:0'` a tensor, `'train'` an
        operation)."""
        if isinstance(fetch, str):
            try:
                return self.graph.as_graph_element(fetch)
            except KeyError as e:
                raise FetchError(f"fetch {fetch!r}: {e.args[0]}") from None
        if isinstance(fetch, Operation):
            if fetch.graph is not self.graph:
                raise FetchError(f"fetch {fetch!r} belongs to another graph than the "
                                 f"session's")
            return fetch
        if not isinstance(fetch, Tensor):
            raise FetchTypeError(f"fetch {fetch!r} is a {type(fetch).__name__}; a fetch is a "
                                 f"tensor, an operation, or the name of one")
        if fetch.kind != EAGER and fetch.graph is not self.graph:
            raise FetchError(f"fetch {fetch.name} belongs to another graph than the "
                             f"session's")
        return fetch

    def _resolve_feed_key(self, key) -> Tensor:
        if isinstance(key, str):
            try:
                key = self.graph.get_tensor_by_name(key)
            except (KeyError, ValueError) as e:
                raise FeedError(f"feed key {e.args[0]}") from None
        if not isinstance(key, Tensor):
            raise FeedTypeError(f"feed_dict key {key!r} is a {type(key).__name__}; a key is "
                                f"a placeholder or graph tensor (or its name)")
        if key.kind == EAGER:
            raise FeedError(f"feed_dict key {key!r} is a constant, not a placeholder or "
                            f"graph tensor")
        if key.graph is not self.graph:
            raise FeedError(f"feed_dict key {key.name} belongs to another graph than the "
                            f"session's")
        return key

    def _check_feeds(self, feed_dict: dict) -> tuple[tuple, list]:
        keys, values = [], []
        for key, value in feed_dict.items():
            key = self._resolve_feed_key(key)
            values.append(_check_feed_value(key, value))
            keys.append(key)
        return tuple(keys), values

    # ---- lifetime ----------------------------------------------------------------------
    def close(self) -> None:
        self._closed = True
        self.variables.clear()
        self._plans.clear()

    def __enter__(self) -> "Session":
        """The default session, and its graph the default graph, inside the block (TF1's
        `with tf.Session(graph=g):` builds into g and `tf.get_collection` reads it)."""
        self._graph_context = self.graph.as_default()
        self._graph_context.__enter__()
        _sessions.stack.append(self)
        return self

    def __exit__(self, *exc) -> None:
        _sessions.stack.remove(self)
        self._graph_context.__exit__(None, None, None)
        self.close()

    @contextlib.contextmanager
    def as_default(self):
        _sessions.stack.append(self)
        try:
            yield self
        finally:
            _sessions.stack.remove(self)


class InteractiveSession(Session):
    """A Session that makes itself the default session, and its graph the default graph, from
    creation to `close()` (TF1: ops built in later notebook cells go to its graph, and
    `x.eval()` / `op.run()` use it)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._interactive_graph = self.graph.as_default()
        self._interactive_graph.__enter__()
        _sessions.stack.append(self)

    def close(self) -> None:
        if self in _sessions.stack:
            _sessions.stack.remove(self)
            self._interactive_graph.__exit__(None, None, None)
        super().close()


def _check_feed_value(key: Tensor, value) -> np.ndarray:
    """Convert a fed value to the key's dtype, refusing lossy kinds and wrong shapes."""
    if isinstance(value, Tensor) and value.is_symbolic:
        raise FeedTypeError(f"feed_dict: the value for {key.name} is the graph tensor "
                            f"{value.name}; feed values (numbers, lists or NumPy arrays), or "
                            f"sess.run the tensor first")
    arr = value.numpy(force=True) if isinstance(value, Tensor) else np.asarray(value)
    target = key.dtype.np
    if arr.dtype != target:
        if not (np.can_cast(arr.dtype, target, casting="same_kind")
                or _whole_numbers_for(arr, target)):
            raise FeedError(f"cannot feed a value of dtype {arr.dtype} to {key.name}, "
                            f"which has dtype {key.dtype.name}")
        arr = arr.astype(target)
    if not is_compatible(key.shape, arr.shape):
        raise FeedError(f"cannot feed a value of shape {arr.shape} to {key.name}, "
                        f"which has shape {key.shape}")
    return arr


def _whole_numbers_for(arr: np.ndarray, target: np.dtype) -> bool:
    """Floats that are whole numbers in an integer type's range: TF1 converts any float
    feed to an integer placeholder (np.asarray(value, dtype)), and programs feed labels
    made by np.ones; the conversion is exact for these, so they are taken."""
    if arr.dtype.kind != "f" or target.kind not in "iu":
        return False
    info = np.iinfo(target)
    top = 2.0 ** (info.bits - (target.kind == "i"))   # exact, where float(info.max) rounds
    finite = np.isfinite(arr).all()                   # up to it (2**63 would wrap)
    return bool(finite and (arr == np.trunc(arr)).all() and
                (arr.size == 0 or info.min <= arr.min() and arr.max() < top))
