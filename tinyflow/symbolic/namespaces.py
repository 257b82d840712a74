"""TF1's `tf.math` and `tf.random` namespaces: the functions tinyflow has under those names
(TF 1.13+ programs spell `tf.math.segment_sum`, `tf.random.set_random_seed`); any other
name is refused by name."""
from .. import ops
from ..core.random import manual_seed
from .app import Namespace
from .array_ops import reduce_all, reduce_any, segment_sum, top_k, unsorted_segment_sum
from ..ops.product import reduce_prod
from ..pytorch.math import isfinite, isinf, isnan
from .math_ops import reduce_logsumexp

math = Namespace(
    "tf.math", __name__,
    abs=ops.abs, add=ops.add, ceil=ops.ceil, cumsum=ops.cumsum, divide=ops.divide,
    exp=ops.exp, floor=ops.floor, greater=ops.greater, greater_equal=ops.greater_equal,
    is_finite=isfinite, is_inf=isinf, is_nan=isnan,
    less=ops.less, less_equal=ops.less_equal, log=ops.log, log1p=ops.log1p,
    logical_and=ops.logical_and, logical_not=ops.logical_not, logical_or=ops.logical_or,
    maximum=ops.maximum, minimum=ops.minimum, multiply=ops.multiply, not_equal=ops.not_equal,
    pow=ops.pow, reduce_all=reduce_all, reduce_any=reduce_any,
    reduce_logsumexp=reduce_logsumexp, reduce_max=ops.reduce_max, reduce_mean=ops.reduce_mean,
    reduce_min=ops.reduce_min, reduce_prod=reduce_prod, reduce_sum=ops.reduce_sum,
    segment_sum=segment_sum, sigmoid=ops.sigmoid, sqrt=ops.sqrt, square=ops.square, subtract=ops.subtract,
    tanh=ops.tanh, top_k=top_k, unsorted_segment_sum=unsorted_segment_sum)

random = Namespace(
    "tf.random", __name__,
    manual_seed=manual_seed, normal=ops.random_normal, set_random_seed=manual_seed,
    truncated_normal=ops.truncated_normal, uniform=ops.random_uniform)
