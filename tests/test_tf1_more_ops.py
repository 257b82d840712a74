"""TF1 functions composed of existing ops (symbolic/array_ops.py, ...), one table: each
runs in a Session on placeholders and eagerly against a NumPy reference, its gradient
(tf.gradients) against central differences of that reference in float64, and bad input
gets an error naming the function."""
import numpy as np
import pytest

import tinyflow
import tinyflow.compat.v1 as tf

RNG = np.random.default_rng(15)


def normal(*shape):
    return RNG.normal(size=shape)


def np_segment_sum(data, ids, n):
    out = np.zeros((n,) + data.shape[ids.ndim:])
    for i in np.ndindex(ids.shape):
        if ids[i] >= 0:
            out[ids[i]] += data[i]
    return out


def np_segment_extreme(data, ids, n, pick, empty=None):
    """max / min per segment; an empty one holds `empty`, by default the dtype's lowest /
    highest value (the unsorted functions'; TF1's segment_max gives 0)."""
    if empty is None:
        empty = np.finfo(data.dtype).min if pick is np.max else np.finfo(data.dtype).max
    out = np.full((n,) + data.shape[1:], empty)
    for s in range(n):
        if (ids == s).any():
            out[s] = pick(data[ids == s], 0)
    return out


def np_segment_prod(data, ids, n):
    out = np.ones((n,) + data.shape[ids.ndim:])
    for i in np.ndindex(ids.shape):
        if ids[i] >= 0:
            out[ids[i]] *= data[i]
    return out


def np_band(x, lower, upper):
    i, j = np.indices(x.shape[-2:])
    keep = ((lower < 0) | (i - j <= lower)) & ((upper < 0) | (j - i <= upper))
    return np.where(keep, x, 0)


def np_scatter_nd(idx, upd, shape):
    out = np.zeros(shape)
    for k in np.ndindex(idx.shape[:-1]):
        out[tuple(idx[k])] += upd[k]
    return out


def np_depthwise(x, f, stride, rate, padding):
    """NHWC x [N, H, W, C] with f [kh, kw, C, mult]: [N, oh, ow, C * mult], TF's padding."""
    (kh, kw), size = f.shape[:2], []
    for n, k in zip(x.shape[1:3], (kh, kw)):
        span = (k - 1) * rate + 1
        out = -(-n // stride) if padding == "SAME" else -(-(n - span + 1) // stride)
        total = max((out - 1) * stride + span - n, 0)
        size.append((out, (total // 2, total - total // 2)))
    x = np.pad(x, [(0, 0), size[0][1], size[1][1], (0, 0)])
    (oh, _), (ow, _) = size
    out = np.zeros((x.shape[0], oh, ow) + f.shape[2:])
    for i in range(kh):
        for j in range(kw):
            window = x[:, i * rate:i * rate + stride * (oh - 1) + 1:stride,
                       j * rate:j * rate + stride * (ow - 1) + 1:stride]
            out += window[..., None] * f[i, j]
    return out.reshape(out.shape[:3] + (-1,))


def np_conv(x, f, rate, padding, stride=1):
    """A dilated NHWC convolution: depthwise per input channel, then summed."""
    per = np_depthwise(x, f, stride, rate, padding)
    return per.reshape(per.shape[:3] + f.shape[2:]).sum(3)


def np_resize(x, height, width, nearest=False, align_corners=False):
    """TF1's legacy resize of NHWC (or HWC) x: output (i, j) reads input (i * sy, j * sx)
    in float32 positions, clamped; bilinear blends along the width, then the height."""
    h, w = x.shape[-3:-1]
    scale = [np.float32((n - 1) / (m - 1) if align_corners and m > 1 else n / m)
             for n, m in ((h, height), (w, width))]
    out = np.zeros(x.shape[:-3] + (height, width) + x.shape[-1:])
    for i in range(height):
        for j in range(width):
            y, z = np.float32(i) * scale[0], np.float32(j) * scale[1]
            if nearest:
                # TF1's roundf with corners aligned: halves away from zero (y >= 0)
                pick = (lambda v: np.floor(np.float64(v) + 0.5)) if align_corners else np.floor
                out[..., i, j, :] = x[..., min(int(pick(y)), h - 1), min(int(pick(z)), w - 1), :]
                continue
            y0, z0 = int(np.floor(y)), int(np.floor(z))
            y1, z1, dy, dz = min(y0 + 1, h - 1), min(z0 + 1, w - 1), y - y0, z - z0
            top = x[..., y0, z0, :] + (x[..., y0, z1, :] - x[..., y0, z0, :]) * dz
            bottom = x[..., y1, z0, :] + (x[..., y1, z1, :] - x[..., y1, z0, :]) * dz
            out[..., i, j, :] = top + (bottom - top) * dy
    return out


def np_scan(fn, xs, acc=None, reverse=False):
    order = list(range(len(xs)))[::-1] if reverse else list(range(len(xs)))
    out = {}
    if acc is None:
        acc = out[order[0]] = xs[order[0]]
        order = order[1:]
    for k in order:
        acc = out[k] = fn(acc, xs[k])
    return np.stack([out[k] for k in sorted(out)])


def np_reverse_sequence(x, lengths, seq, batch):
    out = x.copy()
    for b, n in enumerate(lengths):
        index = [slice(None)] * x.ndim
        index[batch], index[seq] = b, slice(0, n)
        out[tuple(index)] = np.flip(x[tuple(index)], seq - (batch < seq))
    return out


def np_lrn(x, r, bias, alpha, beta):
    sq = np.pad(x * x, [(0, 0)] * 3 + [(r, r)])
    total = sum(sq[..., k:k + x.shape[-1]] for k in range(2 * r + 1))
    return x / (bias + alpha * total) ** beta


IDX = np.array([[0, 1], [2, 3], [0, 1], [1, 0]])
SEG = np.array([0, 0, 2, 2, 3])
MASK = np.array([True, False, True, True, False])
MASK2 = np.array([[True, False, True], [False, False, True]])

# name: (function, inputs, placeholder shapes (None: the input's), NumPy reference, the
# inputs to differentiate)
CASES = {
    "sequence_mask": (lambda n: tf.sequence_mask(n), [np.array([1, 3, 0])], [[None]],
                      lambda n: np.arange(3)[None] < n[:, None], []),
    "sequence_mask_maxlen": (lambda n: tf.sequence_mask(n, 5, tf.float32),
                             [np.array([[1, 3], [0, 5]])], [[None, 2]],
                             lambda n: (np.arange(5) < n[..., None]).astype(np.float32), []),
    "reduce_any": (lambda m: tf.reduce_any(m, 1), [MASK2], [[None, 3]],
                   lambda m: m.any(1), []),
    "reduce_all_keepdims": (lambda m: tf.math.reduce_all(m, [0], keepdims=True), [MASK2], None,
                            lambda m: m.all(0, keepdims=True), []),
    "reduce_any_empty": (lambda m: tf.reduce_any(m), [np.zeros((0, 2), bool)], [[None, 2]],
                         lambda m: np.array(m.any()), []),
    "band_part_upper": (lambda x: tf.matrix_band_part(x, 0, -1), [normal(2, 3, 4)],
                        [[None, 3, 4]], lambda x: np_band(x, 0, -1), [0]),
    "band_part_band": (lambda x: tf.linalg.band_part(x, 1, 2), [normal(4, 5)], None,
                       lambda x: np_band(x, 1, 2), [0]),
    "band_part_tensor_bounds": (lambda x, lo: tf.matrix_band_part(x, lo, 0),
                                [normal(4, 3), np.array(-1)], None,
                                lambda x, lo: np_band(x, lo, 0), [0]),
    "top_k_values": (lambda x: tf.nn.top_k(x, 3)[0], [normal(2, 5)], [[None, 5]],
                     lambda x: -np.sort(-x, -1)[:, :3], [0]),
    "top_k_indices": (lambda x: tf.nn.top_k(x, 2)[1],
                      [np.array([[1.0, 3.0, 3.0, 2.0]])], None,
                      lambda x: np.array([[1, 2]], np.int32), []),
    "gather_nd_elements": (tf.gather_nd, [normal(3, 4), IDX], [[3, 4], [None, 2]],
                           lambda p, i: p[i[:, 0], i[:, 1]], [0]),
    "gather_nd_slices": (tf.gather_nd, [normal(3, 4, 2), IDX[:, :1].reshape(2, 2, 1)], None,
                         lambda p, i: p[i[..., 0]], [0]),
    "scatter_nd": (lambda i, u: tf.scatter_nd(i, u, [3, 4]), [IDX, normal(4)],
                   [[None, 2], [None]], lambda i, u: np_scatter_nd(i, u, (3, 4)), [1]),
    "scatter_nd_slices": (lambda i, u: tf.scatter_nd(i, u, [4, 2]),
                          [IDX[:3, :1], normal(3, 2)], None,
                          lambda i, u: np_scatter_nd(i, u, (4, 2)), [1]),
    "unsorted_segment_sum": (lambda d, s: tf.unsorted_segment_sum(d, s, 5),
                             [normal(5, 2), np.array([4, -1, 0, 4, 1])], [[None, 2], [None]],
                             lambda d, s: np_segment_sum(d, s, 5), [0]),
    "unsorted_segment_sum_2d_ids": (lambda d, s: tf.unsorted_segment_sum(d, s, 3),
                                    [normal(2, 3), np.array([[0, 2, 0], [1, 1, 2]])], None,
                                    lambda d, s: np_segment_sum(d, s, 3), [0]),
    "unsorted_segment_sum_counted": (   # num_segments a graph tensor, read when run
        lambda d, s: tf.unsorted_segment_sum(d, s, tf.reduce_max(s) + 2),
        [normal(4, 2), np.array([1, -1, 0, 1])], [[None, 2], [None]],
        lambda d, s: np_segment_sum(d, s, 3), [0]),
    "segment_sum": (tf.segment_sum, [normal(5, 3), SEG], [[None, 3], [None]],
                    lambda d, s: np_segment_sum(d, s, 4), [0]),
    "math.segment_sum": (tf.math.segment_sum, [normal(5), SEG], None,
                         lambda d, s: np_segment_sum(d, s, 4), [0]),
    "unsorted_segment_max": (lambda d, s: tf.unsorted_segment_max(d, s, 3),
                             [normal(5, 2), np.array([2, 0, 1, 0, 2])], [[None, 2], [None]],
                             lambda d, s: np_segment_extreme(d, s, 3, np.max), [0]),
    "unsorted_segment_max_empty": (lambda d, s: tf.unsorted_segment_max(d, s, 5),
                                   [normal(5, 2), SEG], [[None, 2], [None]],
                                   lambda d, s: np_segment_extreme(d, s, 5, np.max), []),
    "unsorted_segment_min": (lambda d, s: tf.math.unsorted_segment_min(d, s, 4),
                             [normal(5), SEG], None,
                             lambda d, s: np_segment_extreme(d, s, 4, np.min), []),
    "unsorted_segment_min_grad": (lambda d, s: tf.math.unsorted_segment_min(d, s, 2),
                                  [normal(5), np.array([1, 0, 0, 1, 1])], None,
                                  lambda d, s: np_segment_extreme(d, s, 2, np.min), [0]),
    "unsorted_segment_mean": (lambda d, s: tf.unsorted_segment_mean(d, s, 5),
                              [normal(5, 3), SEG], [[None, 3], [None]],
                              lambda d, s: np_segment_sum(d, s, 5) / np.maximum(
                                  np.bincount(s, minlength=5), 1)[:, None], [0]),
    "segment_mean": (tf.segment_mean, [normal(5, 2), SEG], [[None, 2], [None]],
                     lambda d, s: np_segment_sum(d, s, 4) / np.maximum(
                         np.bincount(s, minlength=4), 1)[:, None], [0]),
    "segment_max": (tf.math.segment_max, [normal(5, 2), SEG], [[None, 2], [None]],
                    lambda d, s: np_segment_extreme(d, s, 4, np.max, 0.0), []),
    "segment_max_grad": (tf.math.segment_max, [normal(5, 2), np.array([0, 0, 1, 1, 1])],
                         [[None, 2], [None]],
                         lambda d, s: np_segment_extreme(d, s, 2, np.max, 0.0), [0]),
    "segment_min": (tf.segment_min, [normal(5, 2), SEG], [[None, 2], [None]],
                    lambda d, s: np_segment_extreme(d, s, 4, np.min, 0.0), [0]),
    "math.segment_min_empty_data": (tf.math.segment_min, [normal(0, 2), SEG[:0]],
                                    [[None, 2], [None]],
                                    lambda d, s: np.zeros((0, 2)), []),
    # (the product's gradient needs the number of entries known when built)
    "segment_prod": (tf.segment_prod, [normal(5, 2), SEG], None,
                     lambda d, s: np_segment_prod(d, s, 4), [0]),
    "segment_prod_with_zero": (tf.math.segment_prod, [np.array([2.0, 0.0, 3.0, -1.5]),
                                                      np.array([0, 0, 1, 1])],
                               None, lambda d, s: np_segment_prod(d, s, 2), [0]),
    "unsorted_segment_prod": (lambda d, s: tf.unsorted_segment_prod(d, s, 4),
                              [normal(2, 3), np.array([[3, -1, 0], [3, 1, 0]])], None,
                              lambda d, s: np_segment_prod(d, s, 4), [0]),
    "unsorted_segment_sqrt_n": (lambda d, s: tf.math.unsorted_segment_sqrt_n(d, s, 5),
                                [normal(5, 3), np.array([4, -1, 0, 4, 4])],
                                [[None, 3], [None]],
                                lambda d, s: np_segment_sum(d, s, 5) / np.sqrt(np.maximum(
                                    np.bincount(s[s >= 0], minlength=5), 1))[:, None], [0]),
    "boolean_mask": (tf.boolean_mask, [normal(5, 2), MASK], [[None, 2], [None]],
                     lambda x, m: x[m], [0]),
    "boolean_mask_2d": (tf.boolean_mask, [normal(2, 3), MASK2], [[2, 3], [2, 3]],
                        lambda x, m: x[m], [0]),
    "boolean_mask_axis": (lambda x, m: tf.boolean_mask(x, m, axis=1), [normal(2, 5, 2), MASK],
                          [[2, None, 2], [None]], lambda x, m: x[:, m], [0]),
    "boolean_mask_none_kept": (tf.boolean_mask, [normal(5), np.zeros(5, bool)], [[None]] * 2,
                               lambda x, m: x[m], []),
    "depthwise_same_stride2": (lambda x, f: tf.nn.depthwise_conv2d(x, f, [1, 2, 2, 1], "SAME"),
                               [normal(2, 5, 6, 2), normal(3, 2, 2, 2)], [[None, 5, 6, 2], None],
                               lambda x, f: np_depthwise(x, f, 2, 1, "SAME"), [0, 1]),
    "depthwise_valid_rate2": (lambda x, f: tf.nn.depthwise_conv2d(x, f, [1, 1, 1, 1], "VALID",
                                                                  rate=[2, 2]),
                              [normal(1, 6, 5, 3), normal(2, 2, 3, 1)], None,
                              lambda x, f: np_depthwise(x, f, 1, 2, "VALID"), [0, 1]),
    "depthwise_nchw": (lambda x, f: tf.nn.depthwise_conv2d(x, f, [1, 1, 1, 1], "SAME",
                                                           data_format="NCHW"),
                       [normal(1, 2, 4, 4), normal(3, 3, 2, 2)], None,
                       lambda x, f: np_depthwise(x.transpose(0, 2, 3, 1), f, 1, 1, "SAME")
                       .transpose(0, 3, 1, 2), [0, 1]),
    "separable": (lambda x, d, p: tf.nn.separable_conv2d(x, d, p, [1, 1, 1, 1], "SAME"),
                  [normal(1, 4, 5, 2), normal(3, 3, 2, 2), normal(1, 1, 4, 3)], None,
                  lambda x, d, p: np_depthwise(x, d, 1, 1, "SAME") @ p[0, 0], [0, 1, 2]),
    "atrous": (lambda x, f: tf.nn.atrous_conv2d(x, f, 2, "SAME"),
               [normal(1, 6, 6, 2), normal(3, 3, 2, 3)], [[None, 6, 6, 2], None],
               lambda x, f: np_conv(x, f, 2, "SAME"), [0, 1]),
    "resize_bilinear_up": (lambda x: tf.image.resize_images(x, [5, 7]), [normal(2, 3, 4, 2)],
                           [[None, 3, 4, 2]], lambda x: np_resize(x, 5, 7), [0]),
    "resize_bilinear_aligned": (lambda x: tf.image.resize_images(x, [2, 3], align_corners=True),
                                [normal(3, 5, 2)], None,
                                lambda x: np_resize(x, 2, 3, align_corners=True), [0]),
    "resize_bilinear_down": (lambda x: tf.image.resize_bilinear(x, [3, 2]), [normal(1, 7, 5, 1)],
                             None, lambda x: np_resize(x, 3, 2), [0]),
    "resize_nearest": (lambda x: tf.image.resize_images(
                           x, [6, 3], tf.image.ResizeMethod.NEAREST_NEIGHBOR),
                       [normal(1, 3, 4, 2)], [[None, 3, 4, 2]],
                       lambda x: np_resize(x, 6, 3, nearest=True), [0]),
    "resize_nearest_aligned": (lambda x: tf.image.resize_nearest_neighbor(x, [5, 5], True),
                               [normal(1, 3, 4, 1)], None,
                               lambda x: np_resize(x, 5, 5, True, True), [0]),
    "resize_nearest_aligned_halves": (   # rows read 0, 2.5, 5: roundf gives 0, 3, 5
        lambda x: tf.image.resize_nearest_neighbor(x, [3, 1], True), [normal(1, 6, 1, 1)],
        None, lambda x: np_resize(x, 3, 1, True, True), [0]),
    "resize_bilinear_same_size": (lambda x: tf.image.resize_bilinear(x, [3, 4]),
                                  [normal(1, 3, 4, 1)], [[None, 3, 4, 1]],
                                  lambda x: np_resize(x, 3, 4), [0]),
    "crop_to_bounding_box": (lambda x: tf.image.crop_to_bounding_box(x, 1, 2, 3, 3),
                             [normal(2, 5, 6, 3)], [[None, 5, 6, 3]],
                             lambda x: x[:, 1:4, 2:5], [0]),
    "flip_left_right": (tf.image.flip_left_right, [normal(4, 3, 2)], None,
                        lambda x: x[:, ::-1], [0]),
    "map_fn": (lambda x: tf.map_fn(lambda r: tf.reduce_sum(r * r) + r[0], x), [normal(4, 3)],
               None, lambda x: (x * x).sum(1) + x[:, 0], [0]),
    "map_fn_tuples": (lambda x, y: (lambda t: t[0] + 2.0 * t[1])(
                          tf.map_fn(lambda ab: (ab[0] * ab[1], ab[0] - ab[1]), (x, y))),
                      [normal(3, 2), normal(3, 2)], None,
                      lambda x, y: x * y + 2.0 * (x - y), [0, 1]),
    "scan_initializer": (lambda x, a: tf.scan(lambda acc, r: acc * r + 1.0, x, a),
                         [normal(4, 2), normal(2)], None,
                         lambda x, a: np_scan(lambda acc, r: acc * r + 1.0, x, a), [0, 1]),
    "scan_reverse": (lambda x: tf.scan(lambda acc, r: acc + r * r, x, reverse=True),
                     [normal(4, 3)], None,
                     lambda x: np_scan(lambda acc, r: acc + r * r, x, reverse=True), [0]),
    "foldl": (lambda x, a: tf.foldl(lambda acc, r: acc * r - 1.0, x, a),
              [normal(3, 2), normal(2)], None,
              lambda x, a: np_scan(lambda acc, r: acc * r - 1.0, x, a)[-1], [0, 1]),
    "foldr": (lambda x: tf.foldr(lambda acc, r: acc - 2.0 * r * acc, x), [normal(4)], None,
              lambda x: np_scan(lambda acc, r: acc - 2.0 * r * acc, x, reverse=True)[0], [0]),
    "switch_case": (lambda x, i: tf.switch_case(i, [lambda: x * 2.0, lambda: x * x,
                                                    lambda: tf.sin(x)]),
                    [normal(3), np.array(1)], None,
                    lambda x, i: [x * 2.0, x * x, np.sin(x)][i], [0]),
    "switch_case_out_of_range": (lambda x, i: tf.switch_case(i, {0: lambda: x * 2.0,
                                                                 3: lambda: x * x}),
                                 [normal(3), np.array(7)], None, lambda x, i: x * x, [0]),
    "case": (lambda x, i: tf.case([(tf.less(i, 0), lambda: -x), (tf.equal(i, 2), lambda: x * x)],
                                  default=lambda: x + 1.0),
             [normal(2, 2), np.array(2)], None, lambda x, i: x * x, [0]),
    "case_default": (lambda x, i: tf.case([(tf.less(i, 0), lambda: -x)],
                                          default=lambda: x + 1.0),
                     [normal(2, 2), np.array(2)], None, lambda x, i: x + 1.0, [0]),
    "size": (tf.size, [normal(4, 3)], [[None, 3]], lambda x: np.array(12, np.int32), []),
    "rank": (tf.rank, [normal(4, 3)], [[None, 3]], lambda x: np.array(2, np.int32), []),
    "reverse": (lambda x: tf.reverse(x, [0, -1]), [normal(3, 2, 4)], [[None, 2, 4]],
                lambda x: x[::-1, :, ::-1], [0]),
    "reduce_prod_axes": (lambda x: tf.reduce_prod(x, [0, 2], keepdims=True),
                         [normal(3, 2, 2)], [[3, None, 2]],
                         lambda x: x.prod((0, 2), keepdims=True), [0]),
    "reduce_prod_all": (tf.reduce_prod, [normal(2, 3)], None, lambda x: np.array(x.prod()),
                        [0]),
    "reduce_logsumexp": (lambda x: tf.reduce_logsumexp(x, [1]), [normal(3, 4)], [[None, 4]],
                         lambda x: np.log(np.exp(x).sum(1)), [0]),
    "is_nan": (tf.is_nan, [np.array([1.0, np.nan, np.inf])], None, np.isnan, []),
    "is_finite": (tf.math.is_finite, [np.array([1.0, np.nan, -np.inf])], None, np.isfinite,
                  []),
    "matrix_transpose": (tf.matrix_transpose, [normal(2, 3, 4)], [[None, 3, 4]],
                         lambda x: x.swapaxes(-1, -2), [0]),
    "swish": (tf.nn.swish, [normal(5)], None, lambda x: x / (1 + np.exp(-x)), [0]),
    "conv1d_valid_stride2": (lambda x, f: tf.nn.conv1d(x, f, 2, "VALID"),
                             [normal(2, 9, 3), normal(3, 3, 2)], [[None, 9, 3], None],
                             lambda x, f: np_conv(x[:, None], f[None], 1, "VALID", 2)[:, 0],
                             [0, 1]),
    "conv1d_same_ncw": (lambda x, f: tf.nn.conv1d(x, f, 1, "SAME", data_format="NCW"),
                        [normal(1, 2, 6), normal(3, 2, 2)], None,
                        lambda x, f: np_conv(x.transpose(0, 2, 1)[:, None], f[None], 1,
                                             "SAME")[:, 0].transpose(0, 2, 1), [0, 1]),
    "conv1d_dilations_nwc": (lambda x, f: tf.nn.conv1d(x, f, [1, 1, 1], "VALID",
                                                       dilations=[1, 2, 1]),
                             [normal(1, 9, 2), normal(3, 2, 4)], None,
                             lambda x, f: np_conv(x[:, None], f[None], 2, "VALID")[:, 0], [0, 1]),
    "flip_up_down": (tf.image.flip_up_down, [normal(2, 3, 2, 1)], [[None, 3, 2, 1]],
                     lambda x: x[:, ::-1], [0]),
    "pad_to_bounding_box": (lambda x: tf.image.pad_to_bounding_box(x, 1, 2, 5, 5),
                            [normal(3, 2, 2)], None,
                            lambda x: np.pad(x, [(1, 1), (2, 1), (0, 0)]), [0]),
    "resize_image_with_crop_or_pad": (
        lambda x: tf.image.resize_image_with_crop_or_pad(x, 3, 6), [normal(2, 6, 3, 1)],
        [[None, 6, 3, 1]], lambda x: np.pad(x[:, 1:4], [(0, 0), (0, 0), (1, 2), (0, 0)]), [0]),
    "central_crop": (lambda x: tf.image.central_crop(x, 0.5), [normal(5, 6, 2)], None,
                     lambda x: x[1:4, 1:5], [0]),   # int((6 - 3) / 2) = 1 each side
    "per_image_standardization": (
        tf.image.per_image_standardization, [normal(2, 3, 3, 2)], [[None, 3, 3, 2]],
        lambda x: (x - x.mean((1, 2, 3), keepdims=True)) / np.maximum(
            x.std((1, 2, 3), keepdims=True), 1 / np.sqrt(18)), [0]),
    "convert_image_dtype": (lambda x: tf.image.convert_image_dtype(x, tf.float32),
                            [np.array([0, 51, 255], np.uint8)], None,
                            lambda x: (x / 255.0).astype(np.float32), []),
    "reverse_sequence": (lambda x, n: tf.reverse_sequence(x, n, seq_axis=1, batch_axis=0),
                         [normal(3, 5, 2), np.array([2, 5, 0])], [[None, 5, 2], [None]],
                         lambda x, n: np_reverse_sequence(x, n, 1, 0), [0]),
    "reverse_sequence_time_major": (
        lambda x, n: tf.reverse_sequence(x, n, seq_axis=0, batch_axis=1),
        [normal(4, 3), np.array([3, 1, 4])], None,
        lambda x, n: np_reverse_sequence(x, n, 0, 1), [0]),
    "lrn": (lambda x: tf.nn.lrn(x, 2, bias=2.0, alpha=0.1, beta=0.75), [normal(1, 2, 2, 6)],
            [[None, 2, 2, 6]], lambda x: np_lrn(x, 2, 2.0, 0.1, 0.75), [0]),
    "weighted_cross_entropy": (
        lambda z, x: tf.nn.weighted_cross_entropy_with_logits(labels=z, logits=x, pos_weight=3.0),
        [RNG.uniform(size=(2, 3)), normal(2, 3) * 5], None,
        lambda z, x: -(3.0 * z * np.log(1 / (1 + np.exp(-x)))
                       + (1 - z) * np.log(1 - 1 / (1 + np.exp(-x)))), [0, 1]),
    "zero_fraction": (tf.nn.zero_fraction, [np.array([0.0, 1.0, 0.0, 2.0, 3.0])], [[None]],
                      lambda x: np.array(0.4, np.float32), []),
    "adjust_contrast": (lambda x: tf.image.adjust_contrast(x, 1.5), [normal(2, 3, 2, 2)],
                        [[None, 3, 2, 2]], lambda x: (x - x.mean((1, 2), keepdims=True)) * 1.5
                        + x.mean((1, 2), keepdims=True), [0]),
    "adjust_brightness": (lambda x: tf.image.adjust_brightness(x, 0.25), [normal(3, 2, 1)],
                          None, lambda x: x + 0.25, [0]),
    # integer images: adjusted as float32 fractions of 255, back to uint8 saturated (* 255.5)
    "adjust_brightness_uint8": (lambda x: tf.image.adjust_brightness(x, 0.1),
                                [np.array([[[10], [200]], [[250], [0]]], np.uint8)], None,
                                lambda x: np.clip((x / 255 + 0.1) * 255.5, 0, 255).astype(
                                    np.uint8), []),
    "adjust_contrast_uint8": (lambda x: tf.image.adjust_contrast(x, 0.5),
                              [np.array([[[10], [200]], [[250], [0]]], np.uint8)], None,
                              lambda x: (((x / 255 - x.mean((0, 1)) / 255) * 0.5
                                          + x.mean((0, 1)) / 255) * 255.5).astype(np.uint8),
                              []),
}
FLOAT32_OUT = {"resize_bilinear_up", "resize_bilinear_aligned", "resize_bilinear_down",
               "resize_bilinear_same_size",
               "per_image_standardization", "convert_image_dtype"}


def as_dtype(a):
    return {np.dtype(bool): tf.bool, np.dtype(np.int64): tf.int32, np.dtype(np.uint8): tf.uint8,
            np.dtype(np.float64): tf.float64, np.dtype(np.float32): tf.float32}[a.dtype]


def graph_of(fn, arrays, shapes):
    shapes = shapes or [None] * len(arrays)
    holders = [tf.placeholder(as_dtype(a), a.shape if s is None else s)
               for a, s in zip(arrays, shapes)]
    return holders, fn(*holders)


@pytest.mark.parametrize("name", CASES)
def test_in_a_session_eagerly_and_its_gradient(name):
    fn, arrays, shapes, reference, diff = CASES[name]
    want = reference(*arrays)
    tf.reset_default_graph()
    holders, out = graph_of(fn, arrays, shapes)
    feed = dict(zip(holders, arrays))
    weights = normal(*np.shape(want))
    loss = tf.reduce_sum(out * weights) if diff else out
    grads = tf.gradients(loss, [holders[k] for k in diff]) if diff else []
    with tf.Session() as sess:
        got, *got_grads = sess.run([out] + grads, feed)
    if name in FLOAT32_OUT:   # as TF1's, whatever the input's float type
        want, tol = want.astype(np.float32), 1e-6
    else:
        tol = 1e-12
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    eager = fn(*[tf.constant(a) if a.dtype != np.int64 else tf.constant(a.astype(np.int32))
                 for a in arrays])
    np.testing.assert_allclose(eager.numpy(), want, rtol=tol, atol=tol)
    for k, g in zip(diff, got_grads):
        np.testing.assert_allclose(g, numeric_grad(reference, arrays, k, weights),
                                   atol=max(tol, 1e-7) * 10)


def numeric_grad(reference, arrays, k, weights, eps=1e-6):
    """Central differences of sum(reference(*arrays) * weights) in arrays[k]."""
    g = np.zeros_like(arrays[k])
    for i in np.ndindex(g.shape):
        moved = []
        for step in (eps, -eps):
            shifted = [a.copy() for a in arrays]
            shifted[k][i] += step
            moved.append(np.sum(reference(*shifted) * weights))
        g[i] = (moved[0] - moved[1]) / (2 * eps)
    return g


def test_piecewise_constant_follows_the_step():
    step = tf.placeholder(tf.int64, [])
    rate = tf.train.piecewise_constant(step, [10, 20], [1.0, 0.5, 0.1])
    with tf.Session() as sess:
        got = [sess.run(rate, {step: s}) for s in (0, 10, 11, 20, 21)]
    np.testing.assert_allclose(got, [1.0, 1.0, 0.5, 0.5, 0.1], rtol=1e-7)
    assert float(tf.train.piecewise_constant(15, [10], [2.0, 3.0])) == 3.0


def test_resize_is_tf1s_legacy_sampling_not_half_pixel():
    row = tf.constant(np.array([0.0, 1.0]).reshape(1, 2, 1))
    got = tf.image.resize_images(row, [1, 4]).numpy().reshape(-1)
    np.testing.assert_array_equal(got, [0.0, 0.5, 1.0, 1.0])   # half-pixel: 0, .25, .75, 1
    nearest = tf.image.resize_images(tf.constant(np.arange(3).reshape(1, 3, 1)), [1, 5],
                                     tf.image.ResizeMethod.NEAREST_NEIGHBOR)
    assert nearest.numpy().reshape(-1).tolist() == [0, 0, 1, 1, 2]


def test_random_flip_left_right_flips_each_image_or_not():
    tf.set_random_seed(3)
    images = tf.placeholder(tf.float32, [None, 2, 3, 1])
    flipped = tf.image.random_flip_left_right(images)
    single = tf.image.random_flip_left_right(images[0])
    batch = np.arange(6 * 8, dtype=np.float32).reshape(8, 2, 3, 1)
    with tf.Session() as sess:
        out, one = sess.run([flipped, single], {images: batch})
    same = [np.array_equal(o, b) for o, b in zip(out, batch)]
    mirrored = [np.array_equal(o, b[:, ::-1]) for o, b in zip(out, batch)]
    assert all(s != m for s, m in zip(same, mirrored)) and any(same) and any(mirrored)
    assert np.array_equal(one, batch[0]) or np.array_equal(one, batch[0][:, ::-1])


@pytest.mark.parametrize("schedule, want", [
    (lambda s: tf.train.cosine_decay(0.1, s, 100, alpha=0.2),
     lambda s: 0.1 * (0.8 * 0.5 * (1 + np.cos(np.pi * min(s, 100) / 100)) + 0.2)),
    (lambda s: tf.train.polynomial_decay(0.1, s, 100, 0.01, power=2.0),
     lambda s: 0.09 * (1 - min(s, 100) / 100) ** 2 + 0.01),
    (lambda s: tf.train.polynomial_decay(0.1, s, 100, 0.01, cycle=True),
     lambda s: 0.09 * (1 - s / (100 * max(np.ceil(s / 100), 1))) + 0.01),
    (lambda s: tf.train.inverse_time_decay(0.1, s, 10, 0.5, staircase=True),
     lambda s: 0.1 / (1 + 0.5 * np.floor(s / 10))),
    (lambda s: tf.train.natural_exp_decay(0.1, s, 10, 0.5),
     lambda s: 0.1 * np.exp(-0.5 * s / 10)),
])
def test_learning_rate_schedules(schedule, want):
    step = tf.placeholder(tf.int64, [])
    rate = schedule(step)
    with tf.Session() as sess:
        for s in (0, 5, 37, 100, 150, 230):
            np.testing.assert_allclose(sess.run(rate, {step: s}), want(s), rtol=1e-6)


def test_random_crops_and_colour_draws():
    image = tf.placeholder(tf.float64, [4, 5, 2])
    crop = tf.random_crop(image, [2, 3, 2])
    bright = tf.image.random_brightness(image, 0.2) - image
    contrast = tf.image.random_contrast(image, 0.5, 1.5)
    data = normal(4, 5, 2)
    windows = {(i, j): data[i:i + 2, j:j + 3] for i in range(3) for j in range(3)}
    seen = set()
    with tf.Session() as sess:
        for _ in range(12):
            got, shift, adjusted = sess.run([crop, bright, contrast], {image: data})
            seen |= {k for k, w in windows.items() if np.array_equal(got, w)}
            assert np.ptp(shift) < 1e-12 and abs(shift.flat[0]) <= 0.2
            mean = data.mean((0, 1))
            factor = (adjusted - mean) / (data - mean)
            assert np.ptp(factor) < 1e-9 and 0.5 <= factor.flat[0] < 1.5
    assert len(seen) > 1   # 12 draws of 9 windows land on more than one


def test_random_shuffle_and_categorical():
    values = tf.placeholder(tf.float32, [6, 2])
    shuffled = tf.random_shuffle(values)
    logits = tf.constant(np.log([[0.5, 0.5, 1e-9], [1e-9, 1e-9, 1.0]]))
    draws = tf.random.categorical(logits, 200)
    data = np.arange(12, dtype=np.float32).reshape(6, 2)
    with tf.Session() as sess:
        orders = [sess.run(shuffled, {values: data})[:, 0] // 2 for _ in range(5)]
        got = sess.run(draws)
    assert all(sorted(o) == list(range(6)) for o in orders) and len({tuple(o) for o in orders}) > 1
    assert shuffled.shape == (6, 2) and got.dtype == np.int64 and got.shape == (2, 200)
    assert set(got[0]) == {0, 1} and set(got[1]) == {2}


def test_tf_multinomial_of_a_graph_tensor_is_tf1s_categorical():
    """tf.multinomial(logits, n) draws with replacement from softmax(logits); it had been
    torch.multinomial (probabilities, no replacement): refused, or silently other draws."""
    logits = tf.placeholder(tf.float32, [None, 3])
    draws = tf.multinomial(logits, 4000)
    with tf.Session() as sess:
        got = sess.run(draws, {logits: [[0.0, 0.0, np.log(2.0)]]})
    assert got.dtype == np.int64 and got.shape == (1, 4000)
    np.testing.assert_allclose(np.bincount(got[0], minlength=3) / 4000, [0.25, 0.25, 0.5],
                               atol=0.03)
    eager = tinyflow.multinomial(tinyflow.tensor([[0.0, 1.0, 0.0]]), 1)   # torch's meaning
    assert eager.numpy().tolist() == [[1]]


def test_small_aliases():
    assert tf.random.set_random_seed is tf.set_random_seed
    with tf.Session() as sess:
        assert sess.run(tf.tables_initializer()) is None
    with pytest.raises(AttributeError, match="tf.math.bessel_i0 is not supported"):
        tf.math.bessel_i0


ERRORS = [
    (lambda: tf.sequence_mask(tf.constant([1.5])), TypeError, "sequence_mask: lengths"),
    (lambda: tf.reduce_any(tf.constant([1.0])), TypeError,
     "reduce_any: input_tensor must be bool, got float32"),
    (lambda: tf.matrix_band_part(tf.constant([1.0]), 0, 0), ValueError,
     r"matrix_band_part: input must have rank >= 2, got shape \(1,\)"),
    (lambda: tf.nn.top_k(tf.constant([[1.0, 2.0]]), 3), ValueError,
     r"top_k: k = 3 must be in \[0, last dim\] for input of shape \(1, 2\)"),
    (lambda: tf.gather_nd(tf.constant([1.0, 2.0]), tf.constant([[0, 1]])), ValueError,
     r"gather_nd: index depth 2 \(indices \(1, 2\)\) exceeds the rank of params \(2,\)"),
    (lambda: tf.scatter_nd(tf.constant([[0], [1]]), tf.constant([1.0]), [4]), ValueError,
     r"scatter_nd: updates of shape \(1,\) do not fit indices \(2, 1\) into shape \(4,\)"),
    (lambda: tf.scatter_nd(tf.constant([[0]]), tf.constant([1.0]),
                           tf.placeholder(tf.int32, [1])), ValueError,
     "scatter_nd: shape must be known when the graph is built"),
    (lambda: tf.unsorted_segment_sum(tf.constant([1.0, 2.0]), tf.constant([0.0, 1.0]), 2),
     TypeError, "unsorted_segment_sum: segment_ids must be integers"),
    (lambda: tf.unsorted_segment_sum(tf.constant([1.0, 2.0]), tf.constant([0, 1, 1]), 2),
     ValueError, r"unsorted_segment_sum: segment_ids of shape \(3,\) must be a prefix"),
    (lambda: tf.segment_sum(tf.constant([1.0, 2.0]), tf.constant([1, 0])), ValueError,
     r"segment_sum: segment_ids must be sorted and >= 0, got \[1, 0\]"),
    (lambda: tf.segment_sum(tf.constant([1.0, 2.0]), tf.constant([-1, 0])), ValueError,
     r"segment_sum: segment_ids must be sorted and >= 0, got \[-1, 0\]"),
    (lambda: tf.unsorted_segment_max(tf.constant([1.0]), tf.constant([0]),
                                     tf.placeholder(tf.int32, [])), ValueError,
     "unsorted_segment_max: num_segments must be known when the graph is built"),
    (lambda: tf.boolean_mask(tf.constant([1.0, 2.0]), tf.constant([1, 0])), TypeError,
     "boolean_mask: mask must be bool"),
    (lambda: tf.boolean_mask(tf.constant([1.0, 2.0]), tf.constant([True, False, True])),
     ValueError, r"boolean_mask: mask of shape \(3,\) does not fit tensor of shape \(2,\)"),
    (lambda: tf.train.piecewise_constant(1, [1, 2], [1.0, 2.0]), ValueError,
     "piecewise_constant: values must have one more entry than boundaries"),
    (lambda: tf.nn.depthwise_conv2d(tf.zeros([1, 4, 4, 3]), tf.zeros([3, 3, 2, 1]),
                                    [1, 1, 1, 1], "SAME"), ValueError,
     r"depthwise_conv2d: input must be 4-D with the filter's channels .* got input "
     r"\(1, 4, 4, 3\) and filter \(3, 3, 2, 1\)"),
    (lambda: tf.nn.separable_conv2d(tf.zeros([1, 4, 4, 2]), tf.zeros([3, 3, 2, 1]),
                                    tf.zeros([2, 2, 2, 1]), [1, 1, 1, 1], "SAME"), ValueError,
     r"separable_conv2d: pointwise_filter must be \[1, 1, in, out\], got \(2, 2, 2, 1\)"),
    (lambda: tf.nn.atrous_conv2d(tf.zeros([1, 4, 4, 2]), tf.zeros([3, 3, 2, 1]), 0, "SAME"),
     ValueError, "atrous_conv2d: rate must be >= 1, got 0"),
    (lambda: tf.image.resize_images(tf.zeros([4, 4]), [2, 2]), ValueError,
     r"resize_images: images must be \[batch, height, width, channels\] .* got shape \(4, 4\)"),
    (lambda: tf.image.resize_images(tf.placeholder(tf.float32, [1, None, 4, 1]), [2, 2]),
     ValueError, "resize_images: the height and width of images .* must be known"),
    (lambda: tf.image.resize_images(tf.zeros([4, 4, 1]), [2, 2], tf.image.ResizeMethod.AREA),
     NotImplementedError, "resize_images: method 3 is not supported"),
    (lambda: tf.image.resize_images(tf.zeros([4, 4, 1]), tf.placeholder(tf.int32, [2])),
     ValueError, "resize_images: size must be known when the graph is built"),
    (lambda: tf.image.crop_to_bounding_box(tf.zeros([4, 4, 1]), 2, 0, 3, 4), ValueError,
     r"crop_to_bounding_box: the box \(offset 2, 0, size 3, 4\) does not fit images of "
     r"shape \(4, 4, 1\)"),
    (lambda: tf.map_fn(lambda r: r, tf.placeholder(tf.float32, [None, 3])), ValueError,
     r"tf.map_fn: the leading dimension of elems \(shapes \(None, 3\)\) must be known .*"
     r"tinyflow graphs have no loops"),
    (lambda: tf.scan(lambda a, r: a, (tf.zeros([2]), tf.zeros([3]))), ValueError,
     r"tf.scan: the tensors of elems must have one leading dimension, got \[2, 3\]"),
    (lambda: tf.foldl(lambda a, r: a, tf.placeholder(tf.float32)), ValueError,
     "tf.foldl: the leading dimension of elems"),
    (lambda: tf.case([(tf.constant(True), 1.0)]), TypeError,
     r"tf.case: pred_fn_pairs must be a non-empty list of \(pred, callable\) pairs"),
    (lambda: tf.switch_case(tf.constant(1.0), [lambda: 1.0]), TypeError,
     r"tf.switch_case: branch_index must be an int scalar tensor, got float32 of shape \(\)"),
    (lambda: tf.nn.conv1d(tf.zeros([1, 4, 4, 2]), tf.zeros([3, 2, 1]), 1, "SAME"), ValueError,
     r"conv1d: value must be 3-D and filters \[width, in, out\], got \(1, 4, 4, 2\)"),
    (lambda: tf.nn.conv1d(tf.zeros([1, 4, 2]), tf.zeros([3, 2, 1]), 1, "SAME",
                          dilations=[2, 1, 1]), ValueError,
     r"conv1d: dilations must be an int or 3 entries .* got \[2, 1, 1\]"),
    (lambda: tf.image.pad_to_bounding_box(tf.zeros([4, 4, 1]), 1, 0, 4, 4), ValueError,
     r"pad_to_bounding_box: images of shape \(4, 4, 1\) at offset 1, 0 do not fit the "
     r"target size 4, 4"),
    (lambda: tf.image.central_crop(tf.zeros([4, 4, 1]), 0.0), ValueError,
     r"central_crop: central_fraction must be in \(0, 1\], got 0.0"),
    (lambda: tf.reverse(tf.zeros([2, 3]), [2]), ValueError, "axis 2 is out of range"),
    (lambda: tf.reverse_sequence(tf.zeros([2, 3]), tf.constant([1, 2])), ValueError,
     "reverse_sequence: need seq_axis and batch_axis"),
    (lambda: tf.random_crop(tf.zeros([4, 4]), [5, 2]), ValueError,
     r"random_crop: size \[5, 2\] must fit the known shape of value, got \(4, 4\)"),
    (lambda: tf.nn.lrn(tf.zeros([2, 3])), ValueError, r"lrn: input must be 4-D"),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_bad_input_is_refused_by_name(case):
    make, error, message = ERRORS[case]
    tf.reset_default_graph()
    with pytest.raises(error, match=message):
        make()


P34 = np.arange(12.0).reshape(3, 4)
# (function, inputs, placeholder shapes, error, message): each coordinate and id is checked
# against its own bound (segment_sum's ids sorted), eagerly and, in a graph, when run
RUN_ERRORS = [
    (tf.gather_nd, [P34, np.array([[0, 5]])], [[3, 4], [None, 2]], IndexError,
     r"gather_nd: index \[0, 5\] is out of range for dims \(3, 4\)"),
    (tf.gather_nd, [P34, np.array([[1, -1]])], [[3, 4], [None, 2]], IndexError,
     r"gather_nd: index \[1, -1\] is out of range"),
    (lambda i, u: tf.scatter_nd(i, u, [3, 4]), [np.array([[0, 5]]), np.array([7.0])],
     [[None, 2], [None]], IndexError, r"scatter_nd: index \[0, 5\] is out of range"),
    (lambda d, s: tf.unsorted_segment_sum(d, s, 3), [np.array([1.0, 2.0]), np.array([0, 3])],
     [[None], [None]], IndexError,
     "unsorted_segment_sum: segment id 3 is out of range for num_segments 3"),
    (lambda d, s: tf.unsorted_segment_max(d, s, 3), [np.array([1.0, 2.0]), np.array([0, 3])],
     [[None], [None]], IndexError, "unsorted_segment_max: segment id 3 is out of range"),
    (lambda d, s: tf.unsorted_segment_min(d, s, 3), [np.array([1.0, 2.0]), np.array([4, 0])],
     [[None], [None]], IndexError, "unsorted_segment_min: segment id 4 is out of range"),
    (lambda d, s: tf.unsorted_segment_mean(d, s, tf.reduce_max(s)), [np.array([1.0, 2.0]),
     np.array([0, 2])], [[None], [None]], IndexError,
     "unsorted_segment_mean: segment id 2 is out of range for num_segments 2"),
    (tf.segment_mean, [np.array([1.0, 2.0]), np.array([1, 0])], [[None], [None]], ValueError,
     r"segment_mean: segment_ids must be sorted and >= 0, got \[1, 0\]"),
    (tf.segment_sum, [np.array([1.0, 2.0, 3.0]), np.array([1, 0, 1])], [[None], [None]],
     ValueError, r"segment_sum: segment_ids must be sorted and >= 0, got \[1, 0, 1\]"),
    (tf.segment_max, [np.array([1.0, 2.0, 3.0]), np.array([0, 2, 1])], [[None], [None]],
     ValueError, r"segment_max: segment_ids must be sorted and >= 0, got \[0, 2, 1\]"),
    (tf.segment_max, [np.array([1.0, 2.0]), np.array([-1, 0])], [[None], [None]],
     ValueError, r"segment_max: segment_ids must be sorted and >= 0, got \[-1, 0\]"),
]


@pytest.mark.parametrize("case", range(len(RUN_ERRORS)))
def test_out_of_range_indices_are_refused_eagerly_and_when_run(case):
    fn, arrays, shapes, error, message = RUN_ERRORS[case]
    with pytest.raises(error, match=message):
        fn(*[tf.constant(a) for a in arrays])
    tf.reset_default_graph()
    holders, out = graph_of(fn, arrays, shapes)
    with tf.Session() as sess, pytest.raises(error, match=message):
        sess.run(out, dict(zip(holders, arrays)))


def test_segment_sums_of_no_entries_are_empty():
    """ids fed empty: no segments (a max over no ids once failed in NumPy)."""
    ids = tf.placeholder(tf.int32, [None])
    i, d = tf.placeholder(tf.int32, [None]), tf.placeholder(tf.float64, [None])
    outs = [tf.segment_sum(tf.zeros([0]), ids), tf.segment_mean(tf.zeros([0]), ids),
            tf.dynamic_stitch([i], [d])]
    with tf.Session() as sess:
        got = sess.run(outs, {ids: np.zeros(0, np.int32), i: np.zeros(0, np.int32),
                              d: np.zeros(0)})
    assert [g.shape for g in got] == [(0,), (0,), (0,)]
    assert tf.segment_sum(tf.zeros([0]), tf.constant(np.zeros(0, np.int32))).shape == (0,)


def test_segment_extremes_of_no_entries():
    """Empty data: segment_max has no segments; an unsorted one's segments hold the
    dtype's extreme (a max over no entries once failed while the graph was built)."""
    none = np.zeros((0, 2), np.float32)
    assert tf.segment_max(tf.constant(none), tf.zeros([0], tf.int32)).shape == (0, 2)
    lowest = tf.unsorted_segment_max(tf.constant(none), tf.zeros([0], tf.int32), 3)
    np.testing.assert_array_equal(lowest.numpy(), np.full((3, 2), np.finfo(np.float32).min))
    d, ids = tf.placeholder(tf.float64, [None, 2]), tf.placeholder(tf.int32, [None])
    top = tf.segment_max(d, ids)
    low = tf.unsorted_segment_min(d, ids, 2)
    grad, = tf.gradients(tf.reduce_sum(top), d)
    with tf.Session() as sess:
        got = sess.run([top, low, grad], {d: np.zeros((0, 2)), ids: np.zeros(0, np.int32)})
        assert [g.shape for g in got] == [(0, 2), (2, 2), (0, 2)]
        assert (got[1] == np.finfo(np.float64).max).all()
        values = np.array([[1.0, 5.0], [3.0, 2.0], [0.5, 0.25]])
        top_v, low_v, grad_v = sess.run([top, low, grad], {d: values, ids: [0, 0, 1]})
    np.testing.assert_array_equal(top_v, [[3.0, 5.0], [0.5, 0.25]])
    np.testing.assert_array_equal(low_v, [[1.0, 2.0], [0.5, 0.25]])
    np.testing.assert_array_equal(grad_v, [[0, 1], [1, 0], [1, 1]])


def test_argmax_and_argmin_take_tf1s_output_type():
    x = tf.placeholder(tf.float32, [None, 3])
    best = tf.argmax(x, axis=-1, output_type=tf.int32)
    worst = tf.argmin(x, 1)
    assert best.dtype is tf.int32 and worst.dtype is tf.int64
    with tf.Session() as sess:
        got = sess.run([best, worst], {x: [[1, 5, 2], [7, 0, 3]]})
    np.testing.assert_array_equal(got[0], [1, 0])
    np.testing.assert_array_equal(got[1], [0, 1])
