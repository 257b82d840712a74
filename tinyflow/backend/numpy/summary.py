"""Summary kernels: each encodes a serialized `Summary` message (Summary.value = 1; Value:
tag 1, simple_value 2, image 4, histo 5) into a 0-d object array (ops/summary.py says what
each means)."""
import numpy as np

from ...core.protobuf import bytes_field, double_field, float_field, int_field
from ...ops import summary as s
from .registry import kernel


def encode_scalar(tag: str, value: float) -> bytes:
    return bytes_field(1, bytes_field(1, tag) + float_field(2, float(value)))


def _default_bucket_limits() -> np.ndarray:
    """TF's histogram buckets: +-1e-12 growing by 1.1 up to 1e20, 0 and +-DBL_MAX."""
    limits = [1e-12]
    while limits[-1] * 1.1 < 1e20:
        limits.append(limits[-1] * 1.1)
    positive = limits + [np.finfo(np.float64).max]
    return np.array([-v for v in reversed(positive)] + [0.0] + positive)


BUCKET_LIMITS = _default_bucket_limits()


class NanInSummary(ValueError):
    """TF1's InvalidArgumentError for a NaN or infinity in a histogram summary."""


def encode_histogram(tag: str, values: np.ndarray) -> bytes:
    """A HistogramProto (min 1, max 2, num 3, sum 4, sum_squares 5, bucket_limit 6, bucket 7)
    over TF's default buckets; a bucket counts values below its limit and at or above the one
    before, and runs of empty buckets are written as one, as TF writes them."""
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.isfinite(x).all():
        raise NanInSummary(f"Nan in summary histogram for: {tag}")
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


def encode_image(tag: str, images: np.ndarray, max_outputs: int) -> bytes:
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


def _string(data: bytes) -> np.ndarray:
    out = np.empty((), dtype=object)
    out[()] = data
    return out


@kernel(s.ScalarSummary)
def scalar_summary(op, x):
    return _string(encode_scalar(op.tag, x))


@kernel(s.HistogramSummary)
def histogram_summary(op, x):
    return _string(encode_histogram(op.tag, x))


@kernel(s.ImageSummary)
def image_summary(op, x):
    return _string(encode_image(op.tag, x, op.max_outputs))


@kernel(s.MergeSummary)
def merge_summary(op, *summaries):
    return _string(b"".join(bytes(x[()]) for x in summaries))
