"""Datasets and the DataLoader that batches them (PyTorch's `torch.utils.data`).

Batches of a `TensorDataset` (or a `Subset` of one) are gathered with one fancy index per
tensor; other datasets are indexed example by example and combined by `default_collate`.
Loading runs in this process: `num_workers` and friends are accepted and ignored.
"""
from __future__ import annotations

import bisect
import itertools
import collections.abc as abc
import math
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence

import numpy as np

from ...core.op import as_tensor
from ...core.random import Generator, generator as global_generator
from ...core.tensor import Tensor

__all__ = ["BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "DistributedSampler",
           "IterableDataset",
           "RandomSampler", "Sampler", "SequentialSampler", "Subset", "SubsetRandomSampler",
           "TensorDataset", "default_collate", "random_split"]


# ---- datasets ----------------------------------------------------------------------------

class Dataset:
    """A map-style dataset: subclasses give `__getitem__(index)` and `__len__()`."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of examples: subclasses give `__iter__()`; the loader batches in order."""

    def __iter__(self) -> Iterator:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class TensorDataset(Dataset):
    """Example i is `tuple(t[i] for t in tensors)`; all tensors share their first dim."""

    def __init__(self, *tensors) -> None:
        tensors = tuple(t if isinstance(t, Tensor) else as_tensor(t) for t in tensors)
        sizes = [t.shape[0] if t.shape else None for t in tensors]
        if any(n != sizes[0] for n in sizes) or (sizes and sizes[0] is None):
            raise ValueError(f"Size mismatch between tensors: TensorDataset needs tensors "
                             f"with the same first dimension, got first dims {sizes}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0] if self.tensors else 0


class Subset(Dataset):
    """The examples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """Datasets one after another."""

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: the list of datasets is empty")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]))

    def __len__(self) -> int:
        return int(self.cumulative_sizes[-1])

    def __getitem__(self, index: int):
        if index < 0:
            if -index > len(self):
                raise ValueError(f"ConcatDataset: index {index} is out of range for "
                                 f"{len(self)} items")
            index += len(self)
        k = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[k - 1] if k > 0 else 0
        return self.datasets[k][index - start]


def random_split(dataset: Dataset, lengths: Sequence[float],
                 generator: Optional[Generator] = None) -> list[Subset]:
    """Split into non-overlapping random subsets of the given lengths (or fractions)."""
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        counts = [int(math.floor(n * frac)) for frac in lengths]
        for k in range(n - sum(counts)):
            counts[k % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError(f"random_split: the lengths add up to {sum(lengths)}, but the "
                         f"dataset has {n} items")
    perm = _rng(generator).permutation(n).tolist()
    offsets = np.cumsum([0] + list(lengths))
    return [Subset(dataset, perm[a:b]) for a, b in zip(offsets[:-1], offsets[1:])]


# ---- samplers ----------------------------------------------------------------------------

_CHUNK = 1 << 16   # indices drawn at a time: a sampler of 10**10 draws (minGPT's) stays lazy


class Sampler:
    """Yields dataset indices; the loader groups them into batches.

    Subclasses give `__iter__` and `__len__`, or `_chunks()`: the indices as arrays (drawn
    lazily, so an endless sampler costs nothing up front), which lets the loader slice batches
    without a Python loop per index.
    """

    def __iter__(self) -> Iterator[int]:
        for chunk in self._chunks():
            yield from chunk.tolist()

    def _chunks(self) -> Iterator[np.ndarray]:
        raise NotImplementedError


class SequentialSampler(Sampler):
    """0, 1, 2, ... in order."""

    def __init__(self, data_source) -> None:
        self.data_source = data_source

    def _chunks(self) -> Iterator[np.ndarray]:
        yield np.arange(len(self.data_source))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A fresh random order each epoch, drawn from `generator` (else the global one)."""

    def __init__(self, data_source, replacement: bool = False,
                 num_samples: Optional[int] = None,
                 generator: Optional[Generator] = None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(f"RandomSampler: num_samples must be an int >= 1, got "
                             f"{self.num_samples}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _chunks(self) -> Iterator[np.ndarray]:
        n, rng, left = len(self.data_source), _rng(self.generator), self.num_samples
        while left > 0:  # with replacement: _CHUNK draws at a time; else a permutation each
            draw = rng.integers(0, n, size=min(left, _CHUNK)) if self.replacement else rng.permutation(n)
            yield draw[:left]
            left -= len(draw)

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order."""

    def __init__(self, indices: Sequence[int], generator: Optional[Generator] = None) -> None:
        self.indices = indices
        self.generator = generator

    def _chunks(self) -> Iterator[np.ndarray]:
        yield np.asarray(self.indices)[_rng(self.generator).permutation(len(self.indices))]

    def __len__(self) -> int:
        return len(self.indices)


class BatchSampler:
    """Groups a sampler's indices into lists of `batch_size`."""

    def __init__(self, sampler, batch_size: int, drop_last: bool) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size must be an int >= 1, got {batch_size}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self._batches():
            yield batch.tolist()

    def _batches(self) -> Iterator[np.ndarray]:
        """Index arrays sliced from the sampler's chunks (one of ours), or read a batch at a
        time from any other sampler, so an endless one yields batches as PyTorch's does."""
        size, rest = self.batch_size, np.zeros(0, np.int64)
        if getattr(type(self.sampler), "_chunks", Sampler._chunks) is not Sampler._chunks:
            chunks = self.sampler._chunks()
        else:
            chunks = _slices(iter(self.sampler), size)
        for chunk in chunks:
            if len(chunk) == 0:  # (a permutation of an empty dataset)
                break
            order = np.concatenate([rest, chunk]) if len(rest) else chunk
            stop = len(order) - len(order) % size
            for start in range(0, stop, size):
                yield order[start:start + size]
            rest = order[stop:]
        if len(rest) and not self.drop_last:
            yield rest

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def _slices(indices: Iterator[int], size: int) -> Iterator[np.ndarray]:
    """`size` indices at a time from an iterator, until it ends."""
    while len(chunk := np.fromiter(itertools.islice(indices, size), dtype=np.int64)):
        yield chunk


def _rng(gen: Optional[Generator]) -> np.random.Generator:
    """The NumPy stream of a `tinyflow.Generator`, or the global one (read at call time, so
    `manual_seed` takes effect)."""
    return gen.rng if gen is not None else global_generator()


# ---- collation ---------------------------------------------------------------------------

def _uncollatable(found: str) -> TypeError:
    return TypeError(f"default_collate: cannot stack {found} into a batch (it stacks tensors, "
                     f"NumPy arrays, numbers, and dicts, tuples or lists of them); pass a "
                     f"collate_fn")


def default_collate(batch: Sequence) -> Any:
    """Stack a list of examples into a batch, recursing into tuples, lists and dicts.

    Tensors and NumPy arrays are stacked along a new first dim; Python floats become a
    float64 tensor and ints an int64 tensor (as in PyTorch); strings stay as given.
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return Tensor._eager(np.stack([x.numpy(force=True) for x in batch]))
    if isinstance(elem, (np.ndarray, np.number, np.bool_)):
        if isinstance(elem, np.ndarray) and elem.dtype.kind in "OSU":
            raise _uncollatable(f"arrays of dtype {elem.dtype}")
        return Tensor._eager(np.stack([np.asarray(x) for x in batch]))
    if isinstance(elem, float):
        return Tensor._eager(np.array(batch, dtype=np.float64))
    if isinstance(elem, (bool, int)):
        return Tensor._eager(np.array(batch, dtype=np.bool_ if isinstance(elem, bool)
                                      else np.int64))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, abc.Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(xs) for xs in zip(*batch)))
    if isinstance(elem, abc.Sequence):
        if any(len(x) != len(elem) for x in batch):
            raise RuntimeError(f"default_collate: the batch's sequences differ in length "
                               f"({sorted({len(x) for x in batch})}); pad them or pass a "
                               f"collate_fn")
        return [default_collate(xs) for xs in zip(*batch)]
    raise _uncollatable(type(elem).__name__)


def _gather(dataset, index: np.ndarray) -> Optional[list]:
    """The batch at `index` with one fancy index per tensor, or None if the dataset is not
    a (Subset of a) plain TensorDataset."""
    if type(dataset).__getitem__ is TensorDataset.__getitem__:
        return [Tensor._eager(t.numpy(force=True)[index]) for t in dataset.tensors]
    if type(dataset).__getitem__ is Subset.__getitem__:
        return _gather(dataset.dataset, np.asarray(dataset.indices)[index])
    return None


# ---- the loader --------------------------------------------------------------------------

class DataLoader:
    """Iterate over `dataset` in batches, in order or shuffled afresh each epoch.

    Args:
        generator: a `tinyflow.Generator` for shuffling (default: the global generator).
        collate_fn: combines a list of examples into a batch (default: `default_collate`).
        num_workers, pin_memory, timeout, worker_init_fn, prefetch_factor,
            persistent_workers: accepted for compatibility; loading runs in this process.
    """

    def __init__(self, dataset, batch_size: Optional[int] = 1, shuffle: Optional[bool] = None,
                 sampler=None, batch_sampler=None, num_workers: int = 0,
                 collate_fn: Optional[Callable[[list], Any]] = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None,
                 generator: Optional[Generator] = None, *, prefetch_factor=None,
                 persistent_workers: bool = False, multiprocessing_context=None,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        self.dataset = dataset
        self.num_workers = num_workers
        self.generator = generator
        self.collate_fn = collate_fn
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle or sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 "shuffle, sampler and batch_sampler options")
        elif batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler makes the batches itself; leave "
                                 "batch_size, shuffle, sampler and drop_last at their defaults")
            batch_size, drop_last = None, False
        elif sampler is not None and shuffle:
            raise ValueError("DataLoader: a sampler sets the order itself; leave shuffle "
                             "False")
        if not self._iterable and sampler is None:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler

    def __iter__(self) -> Iterator:
        if self._iterable:
            return self._iter_stream()
        if self.batch_sampler is None:  # batch_size=None: examples one by one
            return (self.dataset[i] for i in self.sampler)
        return self._iter_batches()

    def _iter_batches(self) -> Iterator:
        collate = self.collate_fn or default_collate
        if isinstance(self.batch_sampler, BatchSampler):
            batches = self.batch_sampler._batches()
        else:
            batches = (np.asarray(b, dtype=np.int64) for b in self.batch_sampler)
        for index in batches:
            batch = _gather(self.dataset, index) if self.collate_fn is None else None
            if batch is not None:
                yield batch
            elif hasattr(self.dataset, "__getitems__"):  # PyTorch's batched-fetch protocol
                yield collate(self.dataset.__getitems__(index.tolist()))
            else:
                yield collate([self.dataset[i] for i in index.tolist()])

    def _iter_stream(self) -> Iterator:
        collate = self.collate_fn or default_collate
        if self.batch_size is None:
            yield from iter(self.dataset)
            return
        chunk = []
        for example in self.dataset:
            chunk.append(example)
            if len(chunk) == self.batch_size:
                yield collate(chunk)
                chunk = []
        if chunk and not self.drop_last:
            yield collate(chunk)

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is None:
            return len(self.sampler)
        return len(self.batch_sampler)


from .distributed import DistributedSampler  # noqa: E402  (torch.utils.data.DistributedSampler)
