"""`torch.utils.data.distributed.DistributedSampler`: each of `num_replicas` processes reads
its own `1/num_replicas` of the dataset, in an order that all of them draw alike from
`seed + epoch` (so `set_epoch` reshuffles every replica the same way)."""
from __future__ import annotations

import math
from typing import Iterator, Optional

import numpy as np

from . import Sampler


class DistributedSampler(Sampler):
    """Indices `rank, rank + num_replicas, ...` of one shared order, the dataset padded by
    repeating its first indices (or cut, `drop_last`) to a multiple of `num_replicas`, as
    PyTorch's. tinyflow has no process group, so `num_replicas` and `rank` must be given.
    The shuffled order is NumPy's from `seed + epoch`, not torch's."""

    def __init__(self, dataset, num_replicas: Optional[int] = None, rank: Optional[int] = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            raise RuntimeError("DistributedSampler: tinyflow has no torch.distributed process "
                               "group to ask for the world size and rank; pass num_replicas "
                               "and rank")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, seed, drop_last, 0
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def _chunks(self) -> Iterator[np.ndarray]:
        n = len(self.dataset)
        order = (np.random.default_rng(self.seed + self.epoch).permutation(n) if self.shuffle
                 else np.arange(n))
        if self.drop_last:
            order = order[:self.total_size]
        elif self.total_size > n:
            order = np.resize(order, self.total_size)   # repeats the order from its start
        yield order[self.rank:self.total_size:self.num_replicas]

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose order to draw: call it before each epoch, or every epoch repeats
        the same order."""
        self.epoch = epoch
