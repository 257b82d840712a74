"""TF1's `tf.contrib`, as far as its tutorials use it: `tf.contrib.rnn`."""
from . import rnn  # noqa: F401
