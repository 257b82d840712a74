"""tinyflow: a small deep-learning system — dataflow graphs, autodiff, a TF1 symbolic API and
PyTorch-style eager tensors over one op registry. See docs/ARCHITECTURE.md.

One namespace serves both front ends (`import tinyflow as tf` and `import tinyflow as torch`).
PyTorch's spellings live in `tinyflow/pytorch/`; where TF1 and PyTorch use one name for
different things, `tinyflow/pytorch/shared_names.py` decides by the arguments.
"""
import os as _os
import sys as _sys

_NUMPY_FIRST = "numpy" in _sys.modules
if not _NUMPY_FIRST:   # OpenBLAS reads this once, when NumPy loads it: see
    _os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")   # backend/numpy/parallel.py
from . import backend as _backend  # noqa: E402,F401  (fills the kernel tables)
if _NUMPY_FIRST:   # too late for the variable: OpenBLAS is told again
    _backend.numpy.parallel.shorten_blas_spin()
from . import (autograd, contrib, distributions, func, jit, nn, onnx, ops, optim,  # noqa: F401
               testing, utils, viz)
from .autodiff import forward_gradients, gradients
from .core.dtypes import (DType, as_dtype, bfloat16, bool_, float8_e4m3fn, float8_e5m2,
                          float16, float32, float64, int8, int16, int32, int64, string,
                          uint8)
from .core.errors import (DTypeError, FeedError, FeedTypeError, FetchError, FetchTypeError, ShapeError, TinyflowError,
                          UninitializedVariableError)
from .core.graph import Graph, GraphKeys, get_default_graph, reset_default_graph
from .core.shapes import Dimension, TensorShape
from .core.op import apply
from .core.random import Generator, manual_seed
from .backend.numpy.parallel import get_threads as get_num_threads  # torch's names
from .backend.numpy.parallel import set_threads as set_num_threads
from .core.tensor import Tensor
from .jit import compile, explain, mark_dynamic  # noqa: A004  (torch.compile, torch._dynamo.*)
from .func import vmap  # torch.vmap, torch.func.vmap's older name
from .ops.creation import tf_range as range  # noqa: A004  (TF1's tf.range)
from .ops.shape import shape_of as shape
from .ops.shape import tf_slice as slice  # noqa: A004  (TF1's tf.slice)
from .ops import (abs, arg_max, arg_min, assign, assign_add, assign_sub, atan2, cast, ceil, concat,
                  cos, divide, einsum, erf, exp, expand_dims, expm1, fill, floor, floor_divide,
                  greater, greater_equal, group, less, less_equal, log, log1p,
                  logical_and, logical_not, logical_or, logical_xor, maximum, minimum,
                  multiply, negative, not_equal, one_hot, pad, pow, random_normal, random_uniform,
                  reduce_max, reduce_mean, reduce_min, reduce_sum, relu, remainder, reshape,
                  sigmoid, sin, sqrt, square, squeeze, stop_gradient, subtract, tanh,
                  tril, triu, unstack,
                  to_double, to_float, to_int32, to_int64, truncated_normal)
from .pytorch import *  # noqa: F401,F403  (the torch.* table: tinyflow/pytorch/__init__.py)
from .pytorch import install_tensor_methods
from .symbolic import (AUTO_REUSE, constant_initializer, get_variable,  # TF1's scopes
                       get_variable_scope, glorot_uniform_initializer, ones_initializer,
                       random_normal_initializer, random_uniform_initializer,
                       truncated_normal_initializer, variable_scope,
                       variance_scaling_initializer, VariableScope, zeros_initializer)
from .symbolic import (add_n, clip_by_global_norm, clip_by_norm, global_norm,  # TF1's math
                       matrix_inverse)
from .symbolic import (app, compat, data, errors, estimator, feature_column,  # TF1's plumbing
                       disable_eager_execution, disable_v2_behavior,
                       enable_eager_execution, enable_v2_behavior, executing_eagerly,
                       flags, gfile, keras,
                       local_variables, local_variables_initializer, logging, metrics,
                       name_scope, summary,
                       add_to_collection, cond, ConfigProto, control_dependencies,
                       get_collection,
                       get_default_session, global_variables, global_variables_initializer,
                       identity, infer_variable_shapes, initialize_all_variables,
                       InteractiveSession, no_op, placeholder, placeholder_with_default,
                       RunMetadata,
                       RunOptions, Session, train, trainable_variables, Variable,
                       variables_initializer, while_loop)
from .symbolic.tensor_array import TensorArray  # noqa: F401
from .symbolic import (Assert, Print, assert_equal, assert_greater,  # TF1's checks, prints
                       assert_greater_equal, assert_less, assert_less_equal, assert_negative,
                       assert_non_negative, assert_non_positive, assert_none_equal,
                       assert_positive, debugging, numpy_function, py_func)
from .symbolic import print_ as print  # noqa: A001 (tf.print)
from .symbolic import (boolean_mask, case, convert_to_tensor, dynamic_partition,  # TF1
                       dynamic_stitch, foldl, foldr, gather_nd, image,
                       map_fn, math, random, random_shuffle, rank,
                       reduce_all, reduce_any, reduce_logsumexp, reverse, reverse_sequence,
                       scan, scatter_nd, segment_max, segment_mean, segment_min,
                       segment_prod, segment_sum, sequence_mask, size, switch_case,
                       tables_initializer, unsorted_segment_max, unsorted_segment_mean,
                       unsorted_segment_min, unsorted_segment_prod, unsorted_segment_sqrt_n,
                       unsorted_segment_sum)
from .symbolic.image import random_crop
from .ops.linalg import matrix_band_part
from .ops.product import reduce_prod
from .symbolic.math_ops import is_finite, is_inf, is_nan
from .pytorch.math import matrix_transpose  # TF1's name of PyTorch's x.mT
from .nn import tf_layers as layers, tf_losses as losses
from .nn import torch_functions as _torch_functions
from .nn.torch_functions import *  # noqa: F401,F403  (torch.conv2d is F.conv2d, ...)
from .symbolic.session import evaluate, run_op

# dtype spellings of both worlds: tf.bool / torch.bool, torch.float, torch.long, ...
bool = bool_  # noqa: A001
float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16

set_random_seed = manual_seed    # TF1 spellings
floormod = remainder
floordiv = floor_divide
clip_by_value = clip

# torch.multiprocessing's module path (processes.py: not a file named multiprocessing.py)
from . import processes as multiprocessing  # noqa: E402
_sys.modules[__name__ + ".multiprocessing"] = multiprocessing
# torch.fft / torch.linalg / torch.special as module paths too (`import torch.fft`)
for _namespace in (fft, linalg, special):
    _sys.modules[__name__ + "." + _namespace.__name__.rsplit(".", 1)[1]] = _namespace

# tf.compat.v1 (TF 1.13+ programs' spelling of the TF1 API): this namespace itself, also
# as modules (`import tinyflow.compat.v1 as tf`)
setattr(compat, "v1", _sys.modules[__name__])   # an attribute of app.py's compat
_sys.modules[__name__ + ".compat"] = compat
_sys.modules[__name__ + ".compat.v1"] = _sys.modules[__name__]

def __getattr__(name: str):
    """`tinyflow.distributed` on first use, as `torch.distributed` is there after `import
    torch` (training scripts test `torch.distributed.is_initialized()`): it imports Ray, so
    not at `import tinyflow`."""
    if name == "distributed":
        import importlib
        return importlib.import_module(".distributed", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# The one late binding: Tensor (core) gets its methods and operators from the front ends.
install_tensor_methods(Tensor, {"eval": evaluate, "run": run_op}, _torch_functions.METHODS)

__version__ = "0.1.0"
