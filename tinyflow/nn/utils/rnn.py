"""PyTorch's `torch.nn.utils.rnn`: padding a list of sequences to one tensor, and packed
sequences (the steps of variable-length sequences laid end to end, longest first) that the
recurrent layers run without computing past each sequence's end.

A PackedSequence holds `data` [sum(batch_sizes), *], `batch_sizes` (how many sequences are
still running at each step, a CPU int64 tensor) and the permutation that sorted the batch by
length. Everything is composed of existing ops (pad, stack, concat, indexing), so gradients
flow back to the padded input as in PyTorch.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from ... import ops
from ...core.tensor import Tensor

__all__ = ["PackedSequence", "pad_sequence", "pack_padded_sequence", "pad_packed_sequence",
           "pack_sequence", "unpad_sequence", "unpack_sequence"]


def _index(dim: int, idx) -> tuple:
    return (slice(None),) * dim + (idx,)


def _ints(values) -> np.ndarray:
    if isinstance(values, Tensor):
        values = values.detach().numpy()
    return np.asarray(values, dtype=np.int64).reshape(-1)


def _long(values: np.ndarray) -> Tensor:
    return Tensor._eager(np.ascontiguousarray(values, dtype=np.int64))


class PackedSequence(NamedTuple):
    """What pack_padded_sequence returns and the recurrent layers take and give back."""
    data: Tensor
    batch_sizes: Optional[Tensor] = None
    sorted_indices: Optional[Tensor] = None
    unsorted_indices: Optional[Tensor] = None

    def to(self, *args, **kwargs) -> "PackedSequence":
        """data converted as Tensor.to; the indices stay CPU int64, as PyTorch's."""
        return self._replace(data=self.data.to(*args, **kwargs))

    def cpu(self) -> "PackedSequence":
        return self

    def detach(self) -> "PackedSequence":
        return self._replace(data=self.data.detach())

    @property
    def is_cuda(self) -> bool:
        return False

    def is_pinned(self) -> bool:
        return False


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """[L_i, *] tensors -> [max L, B, *] ([B, max L, *] with batch_first), padded with
    padding_value on the right (or the left)."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"pad_sequence: padding_side={padding_side!r}; use 'left' or "
                         f"'right'")
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        extra = longest - s.shape[0]
        pairs = [(extra, 0) if padding_side == "left" else (0, extra)] + \
            [(0, 0)] * (s.ndim - 1)
        padded.append(ops.pad(s, pairs, constant_values=padding_value) if extra else s)
    return ops.stack(padded, 0 if batch_first else 1)


def _sorting(lengths: np.ndarray, enforce_sorted: bool):
    """(sorted_indices, unsorted_indices) as int64 arrays, or (None, None) when sorted."""
    if enforce_sorted:
        if np.any(lengths[1:] > lengths[:-1]):
            raise RuntimeError(
                f"pack_padded_sequence: lengths {lengths.tolist()} are not longest first, "
                f"which enforce_sorted=True requires; sort the batch or pass "
                f"enforce_sorted=False")
        return None, None
    order = np.argsort(-lengths, kind="stable")
    return order, np.argsort(order)


def pack_padded_sequence(input, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """A padded batch [T, B, *] ([B, T, *] with batch_first) and each sequence's length ->
    a PackedSequence of the valid steps, step by step, longest sequence first."""
    lengths = _ints(lengths)
    batch_dim = 0 if batch_first else 1
    if lengths.shape[0] != input.shape[batch_dim]:
        raise RuntimeError(f"pack_padded_sequence: {lengths.shape[0]} lengths for a batch "
                           f"of {input.shape[batch_dim]}; give one length per sequence")
    if lengths.size and lengths.min() <= 0:
        raise RuntimeError(f"pack_padded_sequence: every length must be >= 1, got "
                           f"{lengths.tolist()}")
    sorted_indices, unsorted_indices = _sorting(lengths, enforce_sorted)
    if sorted_indices is not None:
        lengths = lengths[sorted_indices]
        input = ops.getitem(input, _index(batch_dim, sorted_indices))
    if batch_first:
        input = ops.transpose(input, (1, 0) + tuple(range(2, input.ndim)))
    steps = int(lengths[0])
    if steps > input.shape[0]:
        raise RuntimeError(f"pack_padded_sequence: a length of {steps} is longer than the "
                           f"{input.shape[0]} steps of the padded input")
    batch_sizes = (lengths[None, :] > np.arange(steps)[:, None]).sum(1)
    data = ops.concat([ops.getitem(input, (t, slice(0, int(b))))
                       for t, b in enumerate(batch_sizes)], 0)
    return PackedSequence(data, _long(batch_sizes),
                          None if sorted_indices is None else _long(sorted_indices),
                          None if unsorted_indices is None else _long(unsorted_indices))


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0, total_length: Optional[int] = None):
    """The inverse of pack_padded_sequence: (padded [T, B, *] or [B, T, *], lengths), the
    batch in its order before packing."""
    data, batch_sizes = sequence.data, _ints(sequence.batch_sizes)
    steps, batch = len(batch_sizes), int(batch_sizes[0])
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"pad_packed_sequence: total_length={total_length} is shorter than "
                             f"the longest sequence ({steps} steps)")
    offsets = np.concatenate([[0], np.cumsum(batch_sizes)])
    rows = []
    for t in range(steps):
        step = ops.getitem(data, slice(int(offsets[t]), int(offsets[t + 1])))
        missing = batch - int(batch_sizes[t])
        rows.append(ops.pad(step, [(0, missing)] + [(0, 0)] * (step.ndim - 1),
                            constant_values=padding_value) if missing else step)
    padded = ops.stack(rows, 0)                                   # [T, B, *], sorted batch
    if total_length is not None and total_length > steps:
        padded = ops.pad(padded, [(0, total_length - steps)] + [(0, 0)] * (padded.ndim - 1),
                         constant_values=padding_value)
    lengths = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(1)
    if sequence.unsorted_indices is not None:
        order = _ints(sequence.unsorted_indices)
        padded = ops.getitem(padded, (slice(None), order))
        lengths = lengths[order]
    if batch_first:
        padded = ops.transpose(padded, (1, 0) + tuple(range(2, padded.ndim)))
    return padded, _long(lengths)


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """A list of [L_i, *] tensors -> a PackedSequence."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths,
                                enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first: bool = False) -> list:
    """A padded batch and the lengths -> the list of unpadded sequences."""
    if not batch_first:
        padded_sequences = ops.transpose(padded_sequences,
                                         (1, 0) + tuple(range(2, padded_sequences.ndim)))
    return [ops.getitem(padded_sequences, (i, slice(0, int(n))))
            for i, n in enumerate(_ints(lengths))]


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    """A PackedSequence -> the list of its sequences, in their order before packing."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
