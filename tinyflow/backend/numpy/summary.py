"""Summary kernels: each writes a serialized Summary (ops/summary.py) into a 0-d object array."""
import numpy as np

from ...ops import summary as s
from .registry import kernel


def _string(data: bytes) -> np.ndarray:
    out = np.empty((), dtype=object)
    out[()] = data
    return out


@kernel(s.ScalarSummary)
def scalar_summary(op, x):
    return _string(s.scalar_summary(op.tag, x))


@kernel(s.HistogramSummary)
def histogram_summary(op, x):
    return _string(s.histogram_summary(op.tag, x))


@kernel(s.ImageSummary)
def image_summary(op, x):
    return _string(s.image_summary(op.tag, x, op.max_outputs))


@kernel(s.MergeSummary)
def merge_summary(op, *summaries):
    return _string(b"".join(bytes(x[()]) for x in summaries))
