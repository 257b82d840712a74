"""TF1's `tf.math` and `tf.random` namespaces: the functions tinyflow has under those names
(TF 1.13+ programs spell `tf.math.segment_sum`, `tf.random.set_random_seed`); any other
name is refused by name. Also TF1's random_shuffle and categorical sampling."""
from .. import ops
from ..core import dtypes
from ..core.op import as_tensor
from ..core.random import manual_seed
from ..core.tensor import Tensor
from ..ops.shape import shape_of
from .app import Namespace
from .array_ops import (reduce_all, reduce_any, segment_max, segment_mean, segment_min,
                        segment_prod, segment_sum, top_k, unsorted_segment_max,
                        unsorted_segment_mean, unsorted_segment_min, unsorted_segment_prod,
                        unsorted_segment_sqrt_n, unsorted_segment_sum)
from ..ops.product import reduce_prod
from .math_ops import is_finite, is_inf, is_nan, reduce_logsumexp, tf_reciprocal, tf_rsqrt


def random_shuffle(value, seed=None, name=None) -> Tensor:
    """value's slices along the first dim in an order drawn when run (argsort of uniform
    draws: a uniformly random permutation)."""
    x = as_tensor(value)
    known = x.shape is not None and x.ndim > 0 and x.shape[0] is not None
    order = ops.argsort(ops.random_uniform([x.shape[0]] if known else shape_of(x)[:1]))
    return ops.take(x, order, 0, name=name)


math = Namespace(
    "tf.math", __name__,
    abs=ops.abs, add=ops.add, argmax=ops.arg_max, argmin=ops.arg_min, ceil=ops.ceil,
    cumsum=ops.cumsum, divide=ops.divide, equal=ops.equal,
    exp=ops.exp, floor=ops.floor, greater=ops.greater, greater_equal=ops.greater_equal,
    is_finite=is_finite, is_inf=is_inf, is_nan=is_nan,
    less=ops.less, less_equal=ops.less_equal, log=ops.log, log1p=ops.log1p,
    logical_and=ops.logical_and, logical_not=ops.logical_not, logical_or=ops.logical_or,
    maximum=ops.maximum, minimum=ops.minimum, multiply=ops.multiply, not_equal=ops.not_equal,
    pow=ops.pow, reduce_all=reduce_all, reduce_any=reduce_any,
    reciprocal=tf_reciprocal, reduce_logsumexp=reduce_logsumexp, reduce_max=ops.reduce_max,
    reduce_mean=ops.reduce_mean, reduce_min=ops.reduce_min, reduce_prod=reduce_prod,
    reduce_sum=ops.reduce_sum, round=ops.round, rsqrt=tf_rsqrt, segment_max=segment_max,
    segment_mean=segment_mean, segment_min=segment_min, segment_prod=segment_prod,
    segment_sum=segment_sum, sigmoid=ops.sigmoid, sign=ops.sign,
    sqrt=ops.sqrt, square=ops.square, subtract=ops.subtract,
    tanh=ops.tanh, top_k=top_k, unsorted_segment_max=unsorted_segment_max,
    unsorted_segment_mean=unsorted_segment_mean, unsorted_segment_min=unsorted_segment_min,
    unsorted_segment_prod=unsorted_segment_prod,
    unsorted_segment_sqrt_n=unsorted_segment_sqrt_n, unsorted_segment_sum=unsorted_segment_sum)

random = Namespace(
    "tf.random", __name__,
    categorical=ops.categorical, manual_seed=manual_seed, normal=ops.random_normal,
    set_random_seed=manual_seed, shuffle=random_shuffle,
    truncated_normal=ops.truncated_normal, uniform=ops.random_uniform)
