"""tf.data iterator kernels: they ask the host-side iterator the op holds."""
from ...ops import dataset as d
from .registry import kernel


@kernel(d.IteratorGetNext)
def iterator_get_next(op):
    return op.source.next_element()


@kernel(d.IteratorComponent)
def iterator_component(op, element):
    return element[op.index]


@kernel(d.IteratorReset)
def iterator_reset(op):
    op.source.reset()
    return None
