"""`ParameterServer`: the shards (with their replicas) and the clock table of one job."""
from __future__ import annotations

from typing import Mapping

import numpy as np
import ray
from ray.exceptions import RayActorError

from ..io import checkpoint
from .clock import RemoteClockTable
from .client import Consistency, PSClient
from .rules import UpdateRule
from .server import RemoteShard
from .sharding import Layout


class ParameterServer:
    """Start `num_shards` x `replication` shard actors holding `params` ({key: array}) and a
    clock table for `num_workers`.

    Args:
        rule: the server-side update rule (rules.SGD, Momentum, Adam or Custom).
        replication: replicas per shard (primary + backups); r >= 2 survives r - 1 failures.
        timeout: seconds without a heartbeat after which a worker stops holding others back.
    """

    def __init__(self, params: Mapping[str, np.ndarray], rule: UpdateRule, num_shards: int = 2,
                 replication: int = 1, num_workers: int = 1, timeout: float = 30.0) -> None:
        if replication < 1:
            raise ValueError(f"replication must be >= 1, got {replication}")
        params = {k: np.asarray(v) for k, v in params.items()}
        self.layout = Layout({k: v.shape for k, v in params.items()}, num_shards)
        parts = self.layout.split(params)
        self.replicas = [[RemoteShard.remote(s, r, parts[s], rule) for r in range(replication)]
                         for s in range(num_shards)]
        ray.get([chain[0].set_backups.remote(chain[1:]) for chain in self.replicas])
        self.clock_table = RemoteClockTable.remote(num_workers, timeout)
        self._driver = self.client(-1)

    def client(self, worker: int, consistency: Consistency = Consistency()) -> PSClient:
        return PSClient(worker, self.layout, self.replicas, self.clock_table, consistency)

    def pull(self, keys=None) -> dict:
        """The current values (from the driver; fails over like any client)."""
        return self._driver.pull(keys)

    def history(self) -> list:
        """(worker, clock, slowest live clock, seconds waited) for every read admitted."""
        return ray.get(self.clock_table.get_history.remote())

    def save(self, path: str) -> None:
        """Checkpoint every shard's values and rule state to one safetensors file."""
        states = self._driver._call(list(range(self.layout.num_shards)), "state_dict",
                                    lambda s: ())
        flat = {f"shard{s}/{k}": v for s, st in enumerate(states) for k, v in st.items()}
        checkpoint.save(flat, path)

    def restore(self, path: str) -> None:
        """Load a checkpoint written by `save` into every replica of every shard."""
        flat = {k: v.numpy() for k, v in checkpoint.load(path).items()}
        for s, chain in enumerate(self.replicas):
            prefix = f"shard{s}/"
            mine = {k[len(prefix):]: v for k, v in flat.items() if k.startswith(prefix)}
            if not mine:
                raise KeyError(f"{path} holds no state for shard {s}")
            for r in chain:
                try:
                    ray.get(r.load_state_dict.remote(mine))
                except RayActorError:
                    pass                        # a dead replica: nothing to restore

    def shutdown(self) -> None:
        for chain in self.replicas:
            for r in chain:
                ray.kill(r)
        ray.kill(self.clock_table)
