"""`from tensorflow.examples.tutorials.mnist import input_data`, offline."""
from . import input_data  # noqa: F401
