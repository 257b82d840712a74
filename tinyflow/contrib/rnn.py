"""`tf.contrib.rnn` (`from tensorflow.contrib import rnn`): TF1's cells (nn/rnn_cell.py) and
RNN functions (nn/tf_rnn.py) under their contrib names."""
from ..nn.rnn_cell import (BasicLSTMCell, BasicRNNCell, DropoutWrapper, GRUCell,  # noqa: F401
                           LSTMCell, LSTMStateTuple, MultiRNNCell, ResidualWrapper,
                           RNNCell)
from ..nn.tf_rnn import (bidirectional_dynamic_rnn, dynamic_rnn,  # noqa: F401
                         static_bidirectional_rnn, static_rnn)

__all__ = ["BasicLSTMCell", "BasicRNNCell", "DropoutWrapper", "GRUCell", "LSTMCell",
           "LSTMStateTuple", "MultiRNNCell", "ResidualWrapper", "RNNCell",
           "bidirectional_dynamic_rnn", "dynamic_rnn", "static_bidirectional_rnn", "static_rnn"]
