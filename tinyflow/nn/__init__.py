"""Neural networks, in both front ends' spellings.

- TF1's `tf.nn` functions (`tf.nn.softmax`, `tf.nn.conv2d` NHWC, ...): nn/tf_functions.py;
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

__all__ = sorted(set(_module_names) | set(_tf_names) | set(_tf_rnn_names)) + [
    "DataParallel", "attention", "functional", "init", "parallel", "parameter", "rnn_cell",
    "utils"]
