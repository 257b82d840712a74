"""TF1's `tf.losses`: a per-example loss weighted and reduced as `reduction=` says (TF1's
default SUM_BY_NONZERO_WEIGHTS: the weighted sum over the number of nonzero weights, so
weights=1.0 is the mean), and added to the `losses` collection (`get_total_loss` sums it)."""
from __future__ import annotations

from .. import ops as _ops
from ..core.graph import REGULARIZATION_LOSSES, get_default_graph
from ..core.op import as_tensor
from ..ops.creation import tf1_constant
from .tf_functions import (sigmoid_cross_entropy_with_logits,
                           softmax_cross_entropy_with_logits,
                           sparse_softmax_cross_entropy_with_logits)

LOSSES = "losses"


class Reduction:
    """TF1's `tf.losses.Reduction`: how the weighted losses become the loss."""
    NONE = "none"                          # the weighted losses, unreduced
    SUM = "weighted_sum"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"   # over the number of elements
    MEAN = "weighted_mean"                 # over the sum of the (broadcast) weights
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"   # the default

    @classmethod
    def all(cls) -> tuple:
        return (cls.NONE, cls.SUM, cls.SUM_OVER_BATCH_SIZE, cls.MEAN,
                cls.SUM_BY_NONZERO_WEIGHTS)

    @classmethod
    def validate(cls, key) -> None:
        if key not in cls.all():
            raise ValueError(f"reduction={key!r} is not one of tf.losses.Reduction's: "
                             f"{', '.join(cls.all())}")


_DEFAULT = Reduction.SUM_BY_NONZERO_WEIGHTS


def compute_weighted_loss(losses, weights=1.0, scope=None, loss_collection=LOSSES,
                          reduction=_DEFAULT):
    """losses * weights reduced by `reduction`; a zero denominator gives 0, as TF1."""
    Reduction.validate(reduction)
    losses = as_tensor(losses)
    if isinstance(weights, (int, float)):   # one weight for all: no weight tensor
        weighted = losses if weights == 1 else losses * float(weights)
        ones = None
    else:
        weights = _ops.cast(as_tensor(weights), losses.dtype)
        weighted = _ops.multiply(losses, weights)
        ones = _ops.ones_like(losses)      # the weights broadcast to the losses' shape
    if reduction == Reduction.NONE:
        loss = weighted
    elif ones is None and weights != 0 and reduction != Reduction.SUM:
        loss = _ops.reduce_mean(losses if reduction == Reduction.MEAN else weighted)
    elif ones is None:
        loss = _ops.reduce_sum(weighted)    # SUM, or any sum over a zero weight: 0
    else:
        total = _ops.reduce_sum(weighted)
        if reduction == Reduction.SUM:
            loss = total
        else:
            count = _ops.reduce_sum(
                ones if reduction == Reduction.SUM_OVER_BATCH_SIZE else
                _ops.multiply(weights, ones) if reduction == Reduction.MEAN else
                _ops.multiply(_ops.cast(_ops.not_equal(weights, 0.0), losses.dtype), ones))
            zero = _ops.equal(count, 0.0)
            loss = _ops.where(zero, total * 0.0, total / (count + _ops.cast(zero, count.dtype)))
    if loss_collection:
        get_default_graph().add_to_collection(loss_collection, loss)
    return loss


def sparse_softmax_cross_entropy(labels, logits, weights=1.0, scope=None,
                                 loss_collection=LOSSES, reduction=_DEFAULT):
    per_example = sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return compute_weighted_loss(per_example, weights, scope, loss_collection, reduction)


def softmax_cross_entropy(onehot_labels, logits, weights=1.0, label_smoothing=0,
                          scope=None, loss_collection=LOSSES, reduction=_DEFAULT):
    labels = as_tensor(onehot_labels)
    if label_smoothing:
        classes = labels.shape[-1]
        labels = labels * (1.0 - label_smoothing) + label_smoothing / classes
    per_example = softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return compute_weighted_loss(per_example, weights, scope, loss_collection, reduction)


def sigmoid_cross_entropy(multi_class_labels, logits, weights=1.0, label_smoothing=0,
                          scope=None, loss_collection=LOSSES, reduction=_DEFAULT):
    logits = as_tensor(logits)
    labels = _ops.cast(as_tensor(multi_class_labels), logits.dtype)
    if label_smoothing:
        labels = labels * (1.0 - label_smoothing) + 0.5 * label_smoothing
    per_element = sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
    return compute_weighted_loss(per_element, weights, scope, loss_collection, reduction)


def _error(measure, labels, predictions, weights, scope, loss_collection, reduction):
    predictions = as_tensor(predictions)
    labels = _ops.cast(as_tensor(labels), predictions.dtype)
    return compute_weighted_loss(measure(_ops.subtract(predictions, labels)), weights, scope,
                                 loss_collection, reduction)


def mean_squared_error(labels, predictions, weights=1.0, scope=None,
                       loss_collection=LOSSES, reduction=_DEFAULT):
    return _error(_ops.square, labels, predictions, weights, scope, loss_collection,
                  reduction)


def absolute_difference(labels, predictions, weights=1.0, scope=None,
                        loss_collection=LOSSES, reduction=_DEFAULT):
    return _error(_ops.abs, labels, predictions, weights, scope, loss_collection,
                  reduction)


def log_loss(labels, predictions, weights=1.0, epsilon=1e-7, scope=None,
             loss_collection=LOSSES, reduction=_DEFAULT):
    """-y log(p + eps) - (1 - y) log(1 - p + eps) of probabilities p, weighted and reduced."""
    predictions = as_tensor(predictions)
    labels = _ops.cast(as_tensor(labels), predictions.dtype)
    per_element = -_ops.multiply(labels, _ops.log(predictions + epsilon)) - _ops.multiply(
        1.0 - labels, _ops.log(1.0 - predictions + epsilon))
    return compute_weighted_loss(per_element, weights, scope, loss_collection, reduction)


def get_losses(scope=None, loss_collection=LOSSES) -> list:
    return get_default_graph().get_collection(loss_collection)


def get_regularization_losses(scope=None) -> list:
    return get_default_graph().get_collection(REGULARIZATION_LOSSES)


def get_regularization_loss(scope=None, name="total_regularization_loss"):
    """The sum of the regularization losses (the layers' kernel_regularizer terms), 0.0
    without any."""
    losses = get_regularization_losses(scope)
    return _sum(losses) if losses else tf1_constant(0.0)


def _sum(losses: list):
    total = losses[0]
    for loss in losses[1:]:
        total = _ops.add(total, loss)
    return total


def get_total_loss(add_regularization_losses=True, name="total_loss"):
    losses = get_losses() + (get_regularization_losses() if add_regularization_losses else [])
    if not losses:
        raise ValueError("get_total_loss: no losses in the losses collection")
    return _sum(losses)
