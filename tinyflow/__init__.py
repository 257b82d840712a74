"""tinyflow: a small deep-learning system — dataflow graphs, autodiff, a TF1 symbolic API and
eager tensors over one op registry. See docs/ARCHITECTURE.md."""
from . import backend as _backend  # noqa: F401  (fills the kernel tables)
from . import nn, ops, optim  # noqa: F401
from .autodiff import forward_gradients, gradients
from .core.dtypes import (DType, as_dtype, bool_, float16, float32, float64, int8, int16,
                          int32, int64, uint8)
from .core.errors import (DTypeError, FeedError, FetchError, ShapeError, TinyflowError,
                          UninitializedVariableError)
from .core.graph import Graph, get_default_graph, reset_default_graph
from .core.op import apply, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .core.random import manual_seed
from .core.tensor import Tensor
from .creation import constant, ones, tensor, zeros
from .ops import (abs, add, argmax, argmin, assign, assign_add, assign_sub, cast, concat, cos,
                  divide, equal, exp, expand_dims, greater, greater_equal, group, less,
                  less_equal, log, log_softmax, logical_not, matmul, maximum, minimum,
                  multiply, negative, not_equal, one_hot, ones_like, pow, random_normal,
                  random_uniform, reduce_max, reduce_mean, reduce_min, reduce_sum, relu,
                  reshape, sigmoid, sign, sin, softmax, split, sqrt, square, squeeze, stack,
                  subtract, tanh, transpose, truncated_normal, where, zeros_like)
from .symbolic import (InteractiveSession, Session, Variable, get_default_session,
                       global_variables, global_variables_initializer,
                       initialize_all_variables, placeholder, train, trainable_variables,
                       variables_initializer)

bool = bool_  # noqa: A001  (tf.bool / torch.bool)
set_random_seed = manual_seed
sub = subtract
mul = multiply
div = divide
neg = negative

__version__ = "0.1.0"
