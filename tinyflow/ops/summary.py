"""TF1's summary ops (`tf.summary.scalar`, `histogram`, `image`, `merge`): each outputs a
serialized `Summary` protocol buffer (a 0-d tf.string), which `tf.summary.FileWriter` writes
into a TensorBoard event file. The classes say what each means and its shapes; the kernels
(backend/numpy/summary.py) encode the messages (core/protobuf.py: the wire format)."""
from __future__ import annotations

from ..core import dtypes
from ..core.op import Op, apply, as_tensor
from ..core.tensor import Tensor


class SummaryOp(Op):
    """Base of the summary ops: a serialized Summary, a 0-d tf.string; no gradient."""
    differentiable = False
    strings = True
    saves_inputs = False
    saves_output = False


class ScalarSummary(SummaryOp):
    name = "scalar_summary"
    tag: str

    def infer(self, x):
        if x.shape is not None and len(x.shape) != 0:
            raise ValueError(f"tf.summary.scalar {self.tag!r} takes a scalar, got shape "
                             f"{list(x.shape)}")
        _numeric(self, x)
        return (), dtypes.string


class HistogramSummary(SummaryOp):
    name = "histogram_summary"
    tag: str

    def infer(self, x):
        _numeric(self, x)
        return (), dtypes.string


class ImageSummary(SummaryOp):
    name = "image_summary"
    tag: str
    max_outputs: int

    def infer(self, x):
        _numeric(self, x)
        if x.shape is not None and (len(x.shape) != 4 or x.shape[3] not in (1, 3, 4, None)):
            raise ValueError(f"tf.summary.image {self.tag!r} takes [batch, height, width, "
                             f"channels] with 1, 3 or 4 channels, got shape {list(x.shape)}")
        return (), dtypes.string


class MergeSummary(SummaryOp):
    """Several serialized Summaries as one (protobuf: concatenation merges repeated fields)."""
    name = "merge_summary"

    def infer(self, *summaries):
        for s in summaries:
            if s.dtype is not dtypes.string:
                raise TypeError(f"tf.summary.merge takes summaries (tf.string), got "
                                f"{s.dtype.name}")
        return (), dtypes.string


def _numeric(op, x) -> None:
    if not (x.dtype.is_floating or x.dtype.is_integer or x.dtype.is_bool):
        raise TypeError(f"{op.name} {op.tag!r} takes numbers, got {x.dtype.name}")


def scalar(tag: str, tensor, name=None) -> Tensor:
    return apply(ScalarSummary(tag=tag), as_tensor(tensor), name=name or tag)


def histogram(tag: str, values, name=None) -> Tensor:
    return apply(HistogramSummary(tag=tag), as_tensor(values), name=name or tag)


def image(tag: str, tensor, max_outputs: int = 3, name=None) -> Tensor:
    return apply(ImageSummary(tag=tag, max_outputs=int(max_outputs)), as_tensor(tensor),
                 name=name or tag)


def merge(summaries, name=None) -> Tensor:
    return apply(MergeSummary(), *map(as_tensor, summaries), name=name or "Merge/MergeSummary")
