"""TF1's `tf.losses`: a per-example loss reduced as TF1's default reduction does
(SUM_BY_NONZERO_WEIGHTS: the weighted sum over the number of nonzero weights, so weights=1.0
is the mean), and added to the `losses` collection (`get_total_loss` sums it)."""
from __future__ import annotations

from .. import ops as _ops
from ..core.graph import get_default_graph
from ..core.op import as_tensor
from .tf_functions import (sigmoid_cross_entropy_with_logits,
                           softmax_cross_entropy_with_logits,
                           sparse_softmax_cross_entropy_with_logits)

LOSSES = "losses"
REGULARIZATION_LOSSES = "regularization_losses"


def compute_weighted_loss(losses, weights=1.0, scope=None, loss_collection=LOSSES,
                          reduction=None):
    """sum(losses * weights) / (number of nonzero weights, broadcast to the losses' shape)."""
    losses = as_tensor(losses)
    if isinstance(weights, (int, float)):   # one weight for all: the mean, scaled
        loss = _ops.reduce_mean(losses)
        if weights != 1:
            loss = loss * float(weights)
    else:
        weights = _ops.cast(as_tensor(weights), losses.dtype)
        present = _ops.multiply(_ops.cast(_ops.not_equal(weights, 0.0), losses.dtype),
                                _ops.ones_like(losses))
        count = _ops.reduce_sum(present)
        total = _ops.reduce_sum(_ops.multiply(losses, weights))
        loss = _ops.where(_ops.greater(count, 0), total / _ops.maximum(count, 1.0),
                          total * 0.0)
    if loss_collection:
        get_default_graph().add_to_collection(loss_collection, loss)
    return loss


def sparse_softmax_cross_entropy(labels, logits, weights=1.0, scope=None,
                                 loss_collection=LOSSES, reduction=None):
    per_example = sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return compute_weighted_loss(per_example, weights, scope, loss_collection)


def softmax_cross_entropy(onehot_labels, logits, weights=1.0, label_smoothing=0,
                          scope=None, loss_collection=LOSSES, reduction=None):
    labels = as_tensor(onehot_labels)
    if label_smoothing:
        classes = labels.shape[-1]
        labels = labels * (1.0 - label_smoothing) + label_smoothing / classes
    per_example = softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return compute_weighted_loss(per_example, weights, scope, loss_collection)


def sigmoid_cross_entropy(multi_class_labels, logits, weights=1.0, label_smoothing=0,
                          scope=None, loss_collection=LOSSES, reduction=None):
    logits = as_tensor(logits)
    labels = _ops.cast(as_tensor(multi_class_labels), logits.dtype)
    if label_smoothing:
        labels = labels * (1.0 - label_smoothing) + 0.5 * label_smoothing
    per_element = sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
    return compute_weighted_loss(per_element, weights, scope, loss_collection)


def _error(measure, labels, predictions, weights, scope, loss_collection):
    predictions = as_tensor(predictions)
    labels = _ops.cast(as_tensor(labels), predictions.dtype)
    return compute_weighted_loss(measure(_ops.subtract(predictions, labels)), weights, scope,
                                 loss_collection)


def mean_squared_error(labels, predictions, weights=1.0, scope=None,
                       loss_collection=LOSSES, reduction=None):
    return _error(_ops.square, labels, predictions, weights, scope, loss_collection)


def absolute_difference(labels, predictions, weights=1.0, scope=None,
                        loss_collection=LOSSES, reduction=None):
    return _error(_ops.abs, labels, predictions, weights, scope, loss_collection)


def get_losses(scope=None, loss_collection=LOSSES) -> list:
    return get_default_graph().get_collection(loss_collection)


def get_regularization_losses(scope=None) -> list:
    return get_default_graph().get_collection(REGULARIZATION_LOSSES)


def get_total_loss(add_regularization_losses=True, name="total_loss"):
    losses = get_losses() + (get_regularization_losses() if add_regularization_losses else [])
    if not losses:
        raise ValueError("get_total_loss: no losses in the losses collection")
    total = losses[0]
    for loss in losses[1:]:
        total = _ops.add(total, loss)
    return total
