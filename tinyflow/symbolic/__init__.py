"""The TensorFlow-1 surface: placeholders, variables, sessions and optimizers."""
from . import summary, train  # noqa: F401
from .dataset import data, errors  # noqa: F401
from .app import app, compat, flags, gfile, logging, name_scope  # noqa: F401
from .app import (disable_eager_execution, disable_v2_behavior,  # noqa: F401
                  enable_eager_execution, enable_v2_behavior, executing_eagerly)
from .estimator import estimator, feature_column  # noqa: F401
from .keras import keras  # noqa: F401
from .metrics import local_variables, local_variables_initializer, metrics  # noqa: F401
from .variable_scope import (AUTO_REUSE, constant_initializer, get_variable,  # noqa: F401
                             get_variable_scope, glorot_uniform_initializer,
                             ones_initializer, random_normal_initializer,
                             random_uniform_initializer, truncated_normal_initializer,
                             variable_scope, variance_scaling_initializer, VariableScope,
                             zeros_initializer)
from .session import (ConfigProto, InteractiveSession, RunMetadata, RunOptions,  # noqa: F401
                      Session, get_default_session)
from .variables import (Variable, add_to_collection, get_collection, global_variables,  # noqa: F401
                        global_variables_initializer,
                        initialize_all_variables, placeholder, placeholder_with_default,
                        tables_initializer, trainable_variables,
                        variables_initializer)
from .control_flow import cond, control_dependencies, identity, no_op  # noqa: F401
from .while_loop import while_loop  # noqa: F401
from .py_func import numpy_function, py_func  # noqa: F401
from .debugging import (Assert, Print, assert_equal, assert_greater,  # noqa: F401
                        assert_greater_equal, assert_less, assert_less_equal, assert_negative,
                        assert_non_negative, assert_non_positive, assert_none_equal,
                        assert_positive, debugging, print_)
from .clipping import (add_n, clip_by_global_norm, clip_by_norm, global_norm,  # noqa: F401
                       matrix_inverse)
from .deferred import DeferredVariable, infer_variable_shapes  # noqa: F401
from .array_ops import (boolean_mask, convert_to_tensor, dynamic_partition,  # noqa: F401
                        dynamic_stitch, gather_nd, reduce_all, reduce_any, reverse_sequence,
                        scatter_nd, segment_sum, sequence_mask, top_k, unsorted_segment_sum)
from .math_ops import rank, reduce_logsumexp, reverse, size  # noqa: F401
from .functional_ops import case, foldl, foldr, map_fn, scan, switch_case  # noqa: F401
from . import image  # noqa: F401  (tf.image)
from .array_ops import (segment_max, segment_mean, segment_min, segment_prod,  # noqa: F401
                        unsorted_segment_max, unsorted_segment_mean, unsorted_segment_min,
                        unsorted_segment_prod, unsorted_segment_sqrt_n)
from .namespaces import math, random, random_shuffle  # noqa: F401
