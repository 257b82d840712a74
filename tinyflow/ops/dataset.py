"""The graph side of TF1's `tf.data` iterators: `IteratorGetNext` takes the iterator's next
element, whole, once per run (its value is the tuple of the element's arrays);
`IteratorComponent` reads one array of it, so every component fetched in one run comes from
one element, as in TF1. `IteratorReset` (the iterator's initializer) starts it over. The
iterator itself (symbolic/dataset.py) is host-side Python, a `HostState`; these ops only hold
it, so a Session pulls batches without a feed_dict."""
from __future__ import annotations

from ..core import dtypes
from ..core.op import Op


class HostState:
    """Host-side state a stateful op reads and advances (a tf.data iterator). A recording
    run (passes/record.py) calls `snapshot()` before and `restore(saved)` after, so what it
    took comes again to the real run; `shape_key()` is what the next run's value shapes depend
    on, so a plan is compiled per shape of them, as per feed shape (runtime/plan.py)."""

    def snapshot(self):
        raise NotImplementedError

    def restore(self, saved) -> None:
        raise NotImplementedError

    def shape_key(self) -> tuple:
        return ()


def host_states(steps) -> list:
    """The distinct `HostState`s the stateful ops among `steps` (program steps) hold."""
    return ops_host_states([step.op for step in steps])


def ops_host_states(ops) -> list:
    """The distinct `HostState`s the stateful among `ops` hold, alone or in a tuple (a
    while_loop's: those of the ops of its body)."""
    found = {id(h): h for op in ops if op.stateful for v in vars(op).values()
             for h in (v if isinstance(v, tuple) else (v,)) if isinstance(h, HostState)}
    return list(found.values())


class IteratorGetNext(Op):
    """The iterator's next element, a tuple of arrays (the components of `IteratorComponent`)."""
    name = "iterator_get_next"
    stateful = True
    differentiable = False
    source: HostState

    def infer(self):
        return (), None


class IteratorComponent(Op):
    """Array `index` of an element `IteratorGetNext` took."""
    name = "iterator_component"
    differentiable = False
    index: int
    shape: tuple
    dtype: dtypes.DType

    def infer(self, element):
        return self.shape, self.dtype


class IteratorReset(Op):
    """Starts the iterator over (TF1's `iterator.initializer`); its value is None."""
    name = "iterator_reset"
    stateful = True
    differentiable = False
    source: HostState

    def infer(self):
        return (), None
