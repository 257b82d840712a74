"""`tensorflow.examples.tutorials`: the MNIST tutorial loader."""
