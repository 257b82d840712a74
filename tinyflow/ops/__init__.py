"""Every op, one class each, grouped by kind; and the functions that apply them."""
from .activation import gelu, leaky_relu
from .clamp import clamp, hardtanh
from .attention import attention_weights, dot_product_attention
from .conv import conv2d
from .fused import fused_elementwise
from .creation import (categorical, fill, log_uniform_candidates, multinomial, one_hot,
                       ones_like, random_mask, random_normal,
                       random_uniform, truncated_normal, zeros_like)
from .indexing import argsort, gather, setitem, take
from .linalg import affine, einsum, matmul, product_sum, tril, triu
from .math import (abs, add, atan2, autocast_inputs, bitwise_and, bitwise_left_shift,
                   bitwise_not, bitwise_or, bitwise_right_shift, bitwise_xor, cast, ceil,
                   cos, divide, equal,
                   erf, exp, expm1, floor, floor_divide, greater, greater_equal, in_float32,
                   less, less_equal, log, log1p, logical_and, logical_not, logical_or,
                   logical_xor, maximum, minimum,
                   multiply, negative, not_equal, pow, relu, relu_grad, remainder, round,
                   sigmoid, sign, sin, sqrt, square, subtract, tanh, to_double, to_float,
                   to_int32, to_int64, where)
from .losses import binary_cross_entropy, nll, smooth_l1
from .nn import log_softmax, softmax, softmax_cross_entropy, sparse_softmax_cross_entropy
from .normalization import (batch_norm_eval, batch_norm_tracked, channel_affine,
                            channel_moments, layer_norm, normalize, normalize_channels)
from .pool import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from .quantize import fake_quantize
from .rnn import lstm
from .rnn_cell import gru_cell, lstm_cell
from .reduce import (arg_max, arg_min, argmax, argmin, cumsum, logsumexp, reduce_max, reduce_mean, reduce_min,
                     reduce_sum, var)
from .shape import (broadcast_to, concat, copy, expand, expand_dims, gather_planes, getitem,
                    pad, reshape, split, squeeze, stack, stop_gradient, sum_to, transpose, unstack)
from .sparse import sampled_dot, sparse_matmul
from .state import assign, assign_add, assign_sub, group
from ..core.op import as_tensor  # noqa: F401  (nn/ converts through it)
