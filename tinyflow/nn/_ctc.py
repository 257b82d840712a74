"""F.ctc_loss: connectionist temporal classification (Graves et al., 2006), the negative log
likelihood of a label sequence summed over every alignment to the input frames.

The forward (alpha) recursion over the blank-extended labels is written with tinyflow's ops,
one step per frame, so its gradient is reverse-mode autodiff of the recursion itself (the
beta recursion is what that autodiff computes). Log-space sums use a large finite negative
number for "impossible" instead of -inf, so that no gradient meets -inf - -inf.

Where PyTorch's gradient differs: its backward returns exp(log_probs) - posterior (per frame,
times the incoming gradient), ours -posterior, the exact d loss / d log_probs (finite
differences agree). PyTorch assumes log_probs came out of a log_softmax and folds in a term
that log_softmax's backward removes (it subtracts softmax times the class sum, and the added
exp(log_probs) = softmax is exactly that). So the logits' gradients through a log_softmax are
the same in both, but for log_probs that are a leaf, or normalized some other way, PyTorch's
gradient is not the derivative of its loss and ours is. We keep the exact one.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..core.errors import ShapeError, ValueRuntimeError
from ..core.op import as_tensor
from ..core.tensor import Tensor
from ._losses import _reduce

_IMPOSSIBLE = -1e30   # log of a probability that is 0


def _ints(value, what: str) -> np.ndarray:
    if isinstance(value, Tensor):
        value = value._require_data(f"ctc_loss {what}")
    return np.asarray(value, np.int64).reshape(-1)


def _extended_labels(targets: np.ndarray, target_lengths: np.ndarray, blank: int):
    """[N, 2S+1] labels blank, y1, blank, y2, ..., blank; where a step may skip one state
    (onto a label different from the one two states back); and the fewest frames each
    target needs (a blank between repeated labels)."""
    n, longest = len(target_lengths), int(target_lengths.max(initial=0))
    labels = np.full((n, 2 * longest + 1), blank, np.int64)
    if targets.ndim == 2:
        rows = [targets[i, :target_lengths[i]] for i in range(n)]
    else:
        ends = np.cumsum(target_lengths)
        rows = [targets[e - k:e] for e, k in zip(ends, target_lengths)]
    fewest = np.zeros(n, np.int64)
    for i, row in enumerate(rows):
        labels[i, 1:2 * len(row):2] = row
        fewest[i] = len(row) + np.count_nonzero(row[1:] == row[:-1])
    skip = np.zeros(labels.shape, bool)
    skip[:, 2:] = (labels[:, 2:] != blank) & (labels[:, 2:] != labels[:, :-2])
    return labels, skip, fewest


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths,
             blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """log_probs [T, N, C] (or [T, C]); targets [N, S] padded or the N sequences
    concatenated; per-sample input and target lengths. 'mean' divides each loss by its
    target length first, as PyTorch. The gradient is the exact d loss / d log_probs; PyTorch's
    adds exp(log_probs), so the two agree only through a log_softmax (see the module's
    docstring)."""
    lp = as_tensor(log_probs)
    unbatched = lp.ndim == 2
    if unbatched:
        lp = ops.expand_dims(lp, 1)
    if lp.ndim != 3:
        raise ShapeError(f"ctc_loss: log_probs must be [T, N, C] or [T, C], got shape "
                         f"{list(as_tensor(log_probs).shape)}")
    frames, batch, classes = lp.shape
    target_array = as_tensor(targets)._require_data("ctc_loss targets")
    target_array = np.asarray(target_array, np.int64)
    if unbatched:
        target_array = target_array.reshape(1, -1)
    in_lens, tgt_lens = _ints(input_lengths, "input_lengths"), _ints(target_lengths,
                                                                      "target_lengths")
    if len(in_lens) != batch or len(tgt_lens) != batch:
        raise ShapeError(f"ctc_loss: input_lengths and target_lengths must have one entry per "
                         f"sample ({batch}), got {len(in_lens)} and {len(tgt_lens)}")
    if np.any(in_lens > frames) or np.any(in_lens < 0) or np.any(tgt_lens < 0):
        raise ValueRuntimeError(f"ctc_loss: input lengths must be in [0, {frames}] and target "
                                f"lengths >= 0, got {in_lens.tolist()} and "
                                f"{tgt_lens.tolist()}")
    if not 0 <= blank < classes:
        raise ValueRuntimeError(f"ctc_loss: blank {blank} is not one of the {classes} classes")
    if target_array.ndim == 2 and np.any(tgt_lens > target_array.shape[1]) or \
            target_array.ndim == 1 and tgt_lens.sum() > target_array.size:
        raise ShapeError(f"ctc_loss: target lengths {tgt_lens.tolist()} exceed the targets "
                         f"of shape {list(target_array.shape)}")
    labels, skip, fewest = _extended_labels(target_array, tgt_lens, blank)
    too_short = (fewest > in_lens) & (in_lens > 0)
    if not zero_infinity and too_short.any():
        lp = lp * _nan_at(too_short, in_lens, frames, lp.dtype.np)
    states = labels.shape[1]
    # emissions[t, n, s] = log_probs[t, n, labels[n, s]]
    emit = ops.gather(lp, 2, np.broadcast_to(labels, (frames, batch, states)))
    alpha = ops.where(np.arange(states) < np.minimum(2, 2 * tgt_lens + 1)[:, None],
                      emit[0], _IMPOSSIBLE)
    # alpha shifted right by one and two states; with every target empty there is one state
    two = min(2, states)
    nothing = np.full((batch, two), _IMPOSSIBLE, lp.dtype.np)
    for t in range(1, frames):
        pad1 = ops.concat([nothing[:, :1], alpha[:, :-1]], 1)
        pad2 = ops.where(skip, ops.concat([nothing, alpha[:, :states - two]], 1), _IMPOSSIBLE)
        step = ops.logsumexp(ops.stack([alpha, pad1, pad2], 2), 2) + emit[t]
        alpha = ops.where((t < in_lens)[:, None], step, alpha)
    last = 2 * tgt_lens   # the final blank; the last label sits just before it
    ends = ops.gather(alpha, 1, np.stack([last, np.maximum(last - 1, 0)], 1))
    ends = ops.where(np.stack([np.ones(batch, bool), tgt_lens > 0], 1), ends, _IMPOSSIBLE)
    loss = -ops.logsumexp(ends, 1)
    impossible = (loss > -_IMPOSSIBLE / 2) | too_short
    loss = ops.where(impossible, 0.0 if zero_infinity else float("inf"), loss)
    if np.any(in_lens == 0):   # no frames: only the empty target is possible
        empty = np.where(tgt_lens == 0, 0.0, 0.0 if zero_infinity else np.inf)
        loss = ops.where(in_lens == 0, empty.astype(lp.dtype.np), loss)
    if reduction == "mean":
        return ops.reduce_mean(loss / np.maximum(tgt_lens, 1).astype(lp.dtype.np))
    return _reduce(loss[0] if unbatched and reduction == "none" else loss, reduction)


def _nan_at(samples: np.ndarray, in_lens: np.ndarray, frames: int, dtype) -> np.ndarray:
    """[T, N, 1] factors: NaN on the used frames of `samples`, 1 elsewhere. Multiplied into
    log_probs, they make the gradient of a sample whose target cannot fit its frames NaN (its
    loss is inf and is set so), as PyTorch's CTC backward does without zero_infinity."""
    used = np.arange(frames)[:, None] < in_lens[None, :]
    return np.where(used & samples[None, :], np.nan, 1.0).astype(dtype)[:, :, None]
