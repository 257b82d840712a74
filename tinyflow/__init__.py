"""tinyflow: a small deep-learning system — dataflow graphs, autodiff, a TF1 symbolic API and
PyTorch-style eager tensors over one op registry. See docs/ARCHITECTURE.md.

One namespace serves both front ends (`import tinyflow as tf` and `import tinyflow as torch`).
Where TF1 and PyTorch use one name for different things, see `tinyflow/functions.py`.
"""
from . import backend as _backend  # noqa: F401  (fills the kernel tables)
from . import autograd, nn, ops, optim, utils  # noqa: F401
from .autodiff import forward_gradients, gradients
from .core.dtypes import (DType, as_dtype, bool_, float16, float32, float64, int8, int16,
                          int32, int64, uint8)
from .core.errors import (DTypeError, FeedError, FetchError, ShapeError, TinyflowError,
                          UninitializedVariableError)
from .core.graph import Graph, GraphKeys, get_default_graph, reset_default_graph
from .core.modes import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .core.op import apply
from .core.random import Generator, manual_seed
from .core.tensor import Tensor
from .creation import (arange, constant, empty, empty_like, eye, from_numpy, full, full_like,
                       linspace, ones, ones_like, rand, rand_like, randint, randn, randn_like,
                       randperm, tensor, zeros, zeros_like)
from .functions import (add, addmm, allclose, amax, amin, argsort, atan2, bmm, broadcast_to, cat,
                        ceil, chunk, clamp, clamp_max, clamp_min, clip, concatenate, count_nonzero,
                        cuda, cumsum, dot, expm1, finfo, flatten, flip, floor, floor_divide, fmod,
                        gather, get_default_dtype, iinfo, index_select, is_tensor, isfinite, isinf,
                        isnan, lerp, load, log10, log1p, log2, log_softmax, logical_and,
                        logical_or, logical_xor, logsumexp, masked_fill, max, mean, min, mm,
                        movedim, mul, multinomial, narrow, numel, outer, permute, remainder, roll,
                        round, save, softmax, sort, split, stack, std, sum, tile, topk, transpose,
                        tril, triu, true_divide, unbind, unsqueeze, var)
from .core.tensor_methods import Device as device
from .ops import (abs, argmax, argmin, assign, assign_add, assign_sub, cast, concat, cos,
                  divide, einsum, equal, erf, exp, expand_dims, greater, greater_equal, group,
                  less, less_equal, log, logical_not, matmul, maximum, minimum,
                  multiply, negative, not_equal, one_hot, pow, random_normal, random_uniform,
                  reduce_max, reduce_mean, reduce_min, reduce_sum, relu, reshape, sigmoid, sign,
                  sin, sqrt, square, squeeze, subtract, tanh, truncated_normal, where)
from .symbolic import (InteractiveSession, Session, Variable, get_collection,
                       get_default_session, global_variables, global_variables_initializer,
                       initialize_all_variables, placeholder, train, trainable_variables,
                       variables_initializer)

# dtype spellings of both worlds: tf.bool / torch.bool, torch.float, torch.long, ...
bool = bool_  # noqa: A001
float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001

inference_mode = no_grad
set_random_seed = manual_seed
sub = subtract
div = divide
neg = negative
floormod = remainder    # TF1 spellings
floordiv = floor_divide
clip_by_value = clip

__version__ = "0.1.0"
