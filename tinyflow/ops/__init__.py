"""Every op, one class each, grouped by kind; and the functions that apply them."""
from .creation import (one_hot, ones_like, random_normal, random_uniform, truncated_normal,
                       zeros_like)
from .linalg import matmul
from .math import (abs, add, cast, cos, divide, equal, exp, greater, greater_equal, less,
                   less_equal, log, logical_not, maximum, minimum, multiply, negative,
                   not_equal, pow, relu, sigmoid, sign, sin, sqrt, square, subtract, tanh,
                   where)
from .nn import log_softmax, softmax, softmax_cross_entropy, sparse_softmax_cross_entropy
from .reduce import argmax, argmin, reduce_max, reduce_mean, reduce_min, reduce_sum
from .shape import (broadcast_to, concat, expand_dims, getitem, reshape, split, squeeze, stack,
                    sum_to, transpose)
from .state import assign, assign_add, assign_sub, group
