"""TF1's summary ops (`tf.summary.scalar`, `histogram`, `image`, `merge`): each outputs a
serialized `Summary` protocol buffer (a 0-d tf.string), which `tf.summary.FileWriter` writes
into a TensorBoard event file. The wire format is written here by hand: it is a few field
kinds, and the messages (tensorflow/core/framework/summary.proto) are small."""
from __future__ import annotations

import struct

import numpy as np

from ..core import dtypes
from ..core.op import Op, apply, as_tensor
from ..core.tensor import Tensor

# ---- protocol buffer wire format --------------------------------------------------------------


def varint(n: int) -> bytes:
    """Base-128 varint; negative ints as their 64-bit two's complement, as protobuf does."""
    n &= (1 << 64) - 1
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def int_field(number: int, n: int) -> bytes:
    return varint(number << 3) + varint(int(n))


def double_field(number: int, x: float) -> bytes:
    return varint(number << 3 | 1) + struct.pack("<d", x)


def float_field(number: int, x: float) -> bytes:
    return varint(number << 3 | 5) + struct.pack("<f", x)


def bytes_field(number: int, data) -> bytes:
    """A length-delimited field: bytes, a str (UTF-8), a sub-message, a packed array."""
    data = data.encode() if isinstance(data, str) else bytes(data)
    return varint(number << 3 | 2) + varint(len(data)) + data


# ---- Summary messages (Summary.value = 1; Value: tag 1, simple_value 2, image 4, histo 5) ----

def scalar_summary(tag: str, value: float) -> bytes:
    return bytes_field(1, bytes_field(1, tag) + float_field(2, float(value)))


def _default_bucket_limits() -> np.ndarray:
    """TF's histogram buckets: +-1e-12 growing by 1.1 up to 1e20, 0 and +-DBL_MAX."""
    limits = [1e-12]
    while limits[-1] * 1.1 < 1e20:
        limits.append(limits[-1] * 1.1)
    positive = limits + [np.finfo(np.float64).max]
    return np.array([-v for v in reversed(positive)] + [0.0] + positive)


BUCKET_LIMITS = _default_bucket_limits()


def histogram_summary(tag: str, values: np.ndarray) -> bytes:
    """A HistogramProto (min 1, max 2, num 3, sum 4, sum_squares 5, bucket_limit 6, bucket 7)
    over TF's default buckets; a bucket counts values below its limit and at or above the one
    before, and runs of empty buckets are written as one, as TF writes them."""
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    counts = np.bincount(np.searchsorted(BUCKET_LIMITS, x, side="right"),
                         minlength=len(BUCKET_LIMITS))[:len(BUCKET_LIMITS)]
    limits, buckets = [], []
    i = 0
    while i < len(counts):
        end, count = BUCKET_LIMITS[i], counts[i]
        i += 1
        while count <= 0 and i < len(counts) and counts[i] <= 0:
            end, count = BUCKET_LIMITS[i], counts[i]
            i += 1
        limits.append(end)
        buckets.append(count)
    empty = x.size == 0
    histo = (double_field(1, 0.0 if empty else x.min()) +
             double_field(2, 0.0 if empty else x.max()) + double_field(3, x.size) +
             double_field(4, x.sum()) + double_field(5, np.dot(x, x)) +
             bytes_field(6, np.asarray(limits, "<f8").tobytes()) +
             bytes_field(7, np.asarray(buckets, "<f8").tobytes()))
    return bytes_field(1, bytes_field(1, tag) + bytes_field(5, histo))


def _as_uint8(image: np.ndarray) -> np.ndarray:
    """TF's image summary scaling: uint8 as is; floats all >= 0 scaled so the largest is 255,
    else shifted so 0 is 127 and scaled so the smallest is 0 or the largest 255."""
    if image.dtype == np.uint8:
        return image
    x = image.astype(np.float64)
    lo, hi = float(x.min()), float(x.max())
    if lo >= 0:
        scale = 255.0 / hi if hi > 0 else 0.0
        return np.round(x * scale).clip(0, 255).astype(np.uint8)
    scale = min(127.0 / -lo, 127.0 / hi if hi > 0 else np.inf)
    return np.round(x * scale + 127.0).clip(0, 255).astype(np.uint8)


def image_summary(tag: str, images: np.ndarray, max_outputs: int) -> bytes:
    """Up to `max_outputs` PNG images of a [batch, height, width, channels] array, tagged
    `tag/image/0`, ... (`tag/image` when max_outputs is 1), as TF1 tags them."""
    import io

    from PIL import Image
    out = b""
    count = min(max_outputs, images.shape[0])
    for k in range(count):
        pixels = _as_uint8(images[k])
        height, width, channels = pixels.shape
        png = io.BytesIO()
        Image.fromarray(pixels[..., 0] if channels == 1 else pixels).save(png, format="PNG")
        message = (int_field(1, height) + int_field(2, width) + int_field(3, channels) +
                   bytes_field(4, png.getvalue()))
        name = f"{tag}/image" if max_outputs == 1 else f"{tag}/image/{k}"
        out += bytes_field(1, bytes_field(1, name) + bytes_field(4, message))
    return out


# ---- the ops ----------------------------------------------------------------------------------

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
