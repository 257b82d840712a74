"""Neural-network functions. TF1 spellings here (`tf.nn.softmax`, ...); PyTorch-style
Modules join them in the eager issue."""
from ..ops.math import relu, sigmoid, tanh
from ..ops.nn import log_softmax, softmax
from ..ops.nn import softmax_cross_entropy as _softmax_cross_entropy
from ..ops.nn import sparse_softmax_cross_entropy as _sparse_softmax_cross_entropy

__all__ = ["log_softmax", "relu", "sigmoid", "softmax", "softmax_cross_entropy_with_logits",
           "sparse_softmax_cross_entropy_with_logits", "tanh"]


def softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, dim=-1,
                                      name=None, axis=None):
    """Per-example cross-entropy of `logits` against class probabilities `labels`."""
    if _sentinel is not None or labels is None or logits is None:
        raise ValueError("softmax_cross_entropy_with_logits: call it with named arguments "
                         "labels=... and logits=...")
    axis = dim if axis is None else axis
    if axis not in (-1, None) and axis != getattr(logits, "ndim", -1) - 1:
        raise ValueError("softmax_cross_entropy_with_logits: only the last axis is supported")
    return _softmax_cross_entropy(labels, logits, name=name)


softmax_cross_entropy_with_logits_v2 = softmax_cross_entropy_with_logits


def sparse_softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None,
                                             name=None):
    """Per-example cross-entropy of `logits` against integer class ids `labels`."""
    if _sentinel is not None or labels is None or logits is None:
        raise ValueError("sparse_softmax_cross_entropy_with_logits: call it with named "
                         "arguments labels=... and logits=...")
    return _sparse_softmax_cross_entropy(labels, logits, name=name)
