"""Softmax-family kernels, all max-subtracted so large logits do not overflow."""
import numpy as np

from ...ops import nn
from .registry import kernel


def _log_softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


@kernel(nn.Softmax, out=True)
def softmax(op, x, out=None):
    e = np.subtract(x, np.max(x, axis=op.axis, keepdims=True), out=out)
    np.exp(e, out=e)
    e /= np.sum(e, axis=op.axis, keepdims=True)
    return e


@kernel(nn.LogSoftmax)
def log_softmax(op, x):
    return _log_softmax(x, op.axis)


@kernel(nn.SoftmaxCrossEntropy)
def softmax_cross_entropy(op, labels, logits):
    return -np.sum(labels * _log_softmax(logits, -1), axis=-1)


@kernel(nn.SparseSoftmaxCrossEntropy)
def sparse_softmax_cross_entropy(op, labels, logits):
    classes = logits.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise IndexError(f"sparse_softmax_cross_entropy: label ids must be in [0, {classes}), "
                         f"got values in [{labels.min()}, {labels.max()}]")
    logp = _log_softmax(logits, -1)
    return -np.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]
