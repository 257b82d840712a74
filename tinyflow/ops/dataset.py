"""The graph side of TF1's `tf.data` iterators: `IteratorGetNext` reads one component of the
iterator's current element each run, and `IteratorReset` (the iterator's initializer)
starts it over. The iterator itself (symbolic/dataset.py) is host-side Python; these ops only
hold it, so a Session pulls batches without a feed_dict."""
from __future__ import annotations

from ..core import dtypes
from ..core.op import Op


class IteratorGetNext(Op):
    """Component `index` of the iterator's element: a component read a second time pulls the
    next element, so the components fetched in one run come from one element."""
    name = "iterator_get_next"
    stateful = True
    differentiable = False
    source: object
    index: int
    shape: tuple
    dtype: dtypes.DType

    def infer(self):
        return self.shape, self.dtype


class IteratorReset(Op):
    """Starts the iterator over (TF1's `iterator.initializer`); its value is None."""
    name = "iterator_reset"
    stateful = True
    differentiable = False
    source: object

    def infer(self):
        return (), None
