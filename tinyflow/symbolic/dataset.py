"""TF1's `tf.data`: a `Dataset` is a host-side pipeline of NumPy elements (from_tensor_slices,
repeat, shuffle, batch, map, take, prefetch), and its iterator's `get_next()` gives graph
tensors that pull the next element on each Session.run (ops/dataset.py), so a model reads
its input without a feed_dict. `map` calls its function on eager tensors, element by
element."""
from __future__ import annotations

import itertools
import types

import numpy as np

from ..core import dtypes
from ..core.graph import get_default_graph
from ..core.errors import InvalidArgumentError
from ..core.op import apply
from ..core.tensor import Tensor
from ..ops.creation import tf1_constant
from ..ops.dataset import HostState, IteratorComponent, IteratorGetNext, IteratorReset


class OutOfRangeError(Exception):
    """tf.errors.OutOfRangeError: the iterator has no more elements."""

    def __init__(self, node_def=None, op=None, message="End of sequence") -> None:
        super().__init__(message)
        self.message = message


errors = types.SimpleNamespace(OutOfRangeError=OutOfRangeError,
                               InvalidArgumentError=InvalidArgumentError)


def _flatten(element) -> list:
    if isinstance(element, dict):
        return [a for key in sorted(element) for a in _flatten(element[key])]
    if isinstance(element, tuple):   # tuples and dicts nest; a list is one tensor, as TF1
        return [a for item in element for a in _flatten(item)]
    return [element]


def _pack(structure, flat: list):
    """`flat` arranged as `structure` (the order of _flatten)."""
    items = iter(flat)

    def build(node):
        if isinstance(node, dict):
            return {key: build(node[key]) for key in sorted(node)}
        if isinstance(node, tuple):
            return tuple(build(item) for item in node)
        return next(items)
    return build(structure)


def _as_array(value) -> np.ndarray:
    """A component as TF1 converts it: NumPy values keep their dtype (float64 stays float64),
    Python numbers and lists take TF1's constant types (float32, int32)."""
    if isinstance(value, Tensor):
        if value.is_symbolic:
            raise TypeError(f"tf.data.Dataset: {value.name} is a graph tensor; tinyflow's "
                            f"datasets hold values known when they are made (run it first "
                            f"and pass the array)")
        return value.numpy(force=True)
    if isinstance(value, (np.ndarray, np.generic)):
        return np.asarray(value)
    return tf1_constant(value).numpy()


class Dataset:
    """A re-iterable pipeline: `make()` starts a fresh pass over the elements."""

    def __init__(self, make, structure, batched: bool = False) -> None:
        self._make = make
        self._structure = structure     # an element's nesting, with arrays as leaves
        self._batched = batched

    @staticmethod
    def from_tensor_slices(tensors) -> "Dataset":
        flat = [_as_array(t) for t in _flatten(tensors)]
        sizes = {len(a) for a in flat}
        if len(sizes) != 1:
            raise ValueError(f"from_tensor_slices: the components have different first "
                             f"dimensions {sorted(sizes)}")
        n = sizes.pop()
        return Dataset(lambda: (_pack(tensors, [a[i] for a in flat]) for i in range(n)),
                       tensors)

    @staticmethod
    def from_tensors(tensors) -> "Dataset":
        flat = [_as_array(t) for t in _flatten(tensors)]
        return Dataset(lambda: iter([_pack(tensors, flat)]), tensors)

    @staticmethod
    def range(*args) -> "Dataset":
        return Dataset(lambda: (np.int64(i) for i in range(*args)), 0)

    def repeat(self, count=None) -> "Dataset":
        def make():
            passes = itertools.count() if count is None or count < 0 else range(count)
            return (element for _ in passes for element in self._make())
        return Dataset(make, self._structure, self._batched)

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True) -> "Dataset":
        """TF1's buffered shuffle: each element out is a random pick from the next
        `buffer_size` elements in."""
        rng = np.random.default_rng(seed)

        def make():
            buffer = []
            for element in self._make():
                buffer.append(element)
                if len(buffer) >= buffer_size:
                    yield buffer.pop(int(rng.integers(len(buffer))))
            while buffer:
                yield buffer.pop(int(rng.integers(len(buffer))))
        return Dataset(make, self._structure, self._batched)

    def batch(self, batch_size, drop_remainder=False) -> "Dataset":
        def make():
            source = self._make()
            while True:
                group = list(itertools.islice(source, batch_size))
                if not group or drop_remainder and len(group) < batch_size:
                    return
                columns = zip(*[_flatten(element) for element in group])
                yield _pack(self._structure, [np.stack(c) for c in columns])
        return Dataset(make, self._structure, batched=True)

    def map(self, map_func, num_parallel_calls=None) -> "Dataset":
        from ..core.op import as_tensor

        def call(element):
            args = element if isinstance(element, tuple) else (element,)
            return map_func(*[_pack(a, [as_tensor(x) for x in _flatten(a)]) for a in args])

        def make():
            for element in self._make():
                out = call(element)
                yield _pack(out, [_as_array(x) for x in _flatten(out)])
        probe = call(next(iter(self._make())))
        return Dataset(make, probe, self._batched)

    def take(self, count) -> "Dataset":
        return Dataset(lambda: itertools.islice(self._make(), count), self._structure,
                       self._batched)

    def skip(self, count) -> "Dataset":
        return Dataset(lambda: itertools.islice(self._make(), count, None), self._structure,
                       self._batched)

    def prefetch(self, buffer_size) -> "Dataset":
        return self   # elements are made when asked for; there is nothing to overlap

    def make_one_shot_iterator(self) -> "Iterator":
        iterator = Iterator(self)
        iterator.reset()
        return iterator

    def make_initializable_iterator(self, shared_name=None) -> "Iterator":
        return Iterator(self)


class Iterator(HostState):
    """Pulls elements of a Dataset for the graph, one per run that evaluates `get_next()`;
    `initializer` starts it over."""

    def __init__(self, dataset: Dataset) -> None:
        self._dataset = dataset
        self._source = None
        self._outputs = None
        self._pending: list = []  # elements taken ahead (shape_key) or given back (restore)
        self._log = None          # elements taken since snapshot(), while recording
        self.initializer = apply(IteratorReset(source=self), graph=get_default_graph())

    def reset(self) -> None:
        self._source = self._dataset._make()
        self._pending = []

    def snapshot(self):
        """Before a plan's recording run (passes/record.py): start noting what it takes."""
        self._log = []

    def restore(self, saved) -> None:
        """After the recording run: its elements come again, in order, to the real run."""
        self._pending = (self._log or []) + self._pending
        self._log = None

    def shape_key(self) -> tuple:
        """The next element's shapes (a short last batch gets a plan of its own)."""
        if self._source is None:
            return ()
        if not self._pending:
            try:
                self._pending.append(self._pull())
            except OutOfRangeError:
                return ()
        return tuple(a.shape for a in self._pending[0])

    def _pull(self) -> tuple:
        try:
            return tuple(np.asarray(a) for a in _flatten(next(self._source)))
        except StopIteration:
            raise OutOfRangeError() from None

    def next_element(self) -> tuple:
        if self._source is None:
            raise RuntimeError("get_next: the iterator is not initialized; run "
                               "iterator.initializer first")
        element = self._pending.pop(0) if self._pending else self._pull()
        if self._log is not None:
            self._log.append(element)
        return element

    def get_next(self, name=None):
        """The element's components as graph tensors (the same ones on every call), all
        read from one `IteratorGetNext` so a run's components come from one element."""
        if self._outputs is None:
            graph = get_default_graph()
            probe = [np.asarray(a) for a in _flatten(next(iter(self._dataset._make())))]
            element = apply(IteratorGetNext(source=self), name=name or "IteratorGetNext",
                            graph=graph)
            flat = []
            for k, array in enumerate(probe):
                shape = tuple(array.shape)
                if self._dataset._batched and shape:
                    shape = (None,) + shape[1:]
                op = IteratorComponent(index=k, shape=shape,
                                       dtype=dtypes.from_numpy_dtype(array.dtype))
                flat.append(apply(op, element, name=name or "IteratorGetNext", graph=graph))
            self._outputs = _pack(self._dataset._structure, flat)
        return self._outputs


data = types.SimpleNamespace(Dataset=Dataset, Iterator=Iterator)
