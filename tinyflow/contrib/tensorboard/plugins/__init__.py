"""`tf.contrib.tensorboard.plugins`: the embedding projector's configuration."""
from . import projector  # noqa: F401
