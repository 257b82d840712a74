"""`tf.contrib.tensorboard`: only its embedding projector's configuration (plugins.projector)."""
from . import plugins  # noqa: F401
