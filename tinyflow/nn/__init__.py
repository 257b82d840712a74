"""Neural networks, in both front ends' spellings.

- TF1's `tf.nn` functions (`tf.nn.softmax`, `tf.nn.conv2d` NHWC, ...): nn/tf_functions.py.
- PyTorch's `torch.nn`: Modules and Parameter (nn/modules/), `nn.functional` (F.*, NCHW),
  `nn.init` and `nn.utils`.
"""
from . import functional, init, utils  # noqa: F401
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _module_names
from .tf_functions import *  # noqa: F401,F403
from .tf_functions import __all__ as _tf_names

__all__ = sorted(set(_module_names) | set(_tf_names)) + ["functional", "init", "utils"]
