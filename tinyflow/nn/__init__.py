"""Neural networks, in both front ends' spellings.

- TF1's `tf.nn` functions (`tf.nn.softmax`, `tf.nn.conv2d` NHWC, ...): nn/tf_functions.py,
  and the depthwise, separable, atrous and 1-D convolutions, lrn, ...: nn/tf_nn_ops.py;
  its RNNs (`tf.nn.static_rnn`, `dynamic_rnn`, ...): nn/tf_rnn.py, and their cells in the
  `tf.nn.rnn_cell` namespace (nn/rnn_cell.py), apart from torch.nn's LSTMCell and friends.
- PyTorch's `torch.nn`: Modules and Parameter (nn/modules/), `nn.functional` (F.*, NCHW),
  `nn.init` and `nn.utils`.
"""
from . import attention, functional, init, parallel, parameter, rnn_cell, utils  # noqa: F401
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _module_names
from .parallel import DataParallel  # noqa: F401  (torch.nn.DataParallel)
from .tf_functions import *  # noqa: F401,F403
from .tf_functions import __all__ as _tf_names
from .tf_rnn import *  # noqa: F401,F403
from .tf_rnn import __all__ as _tf_rnn_names
from ..symbolic.array_ops import top_k  # noqa: F401  (tf.nn.top_k)
from .tf_nn_ops import (atrous_conv2d, conv1d, depthwise_conv2d, lrn,  # noqa: F401
                        separable_conv2d, swish, weighted_cross_entropy_with_logits,
                        zero_fraction)
from .tf_nn_ops import lrn as local_response_normalization  # noqa: F401

__all__ = sorted(set(_module_names) | set(_tf_names) | set(_tf_rnn_names)) + [
    "DataParallel", "atrous_conv2d", "conv1d", "depthwise_conv2d", "local_response_normalization",
    "lrn", "separable_conv2d", "swish", "top_k", "weighted_cross_entropy_with_logits",
    "zero_fraction",
    "attention", "functional", "init", "parallel", "parameter", "rnn_cell", "utils"]
