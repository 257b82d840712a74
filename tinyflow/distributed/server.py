"""A parameter shard: a Ray actor holding some pieces of the parameters and applying pushed
gradients with its update rule.

Replication is primary/backup. Clients push to the primary; the primary applies the push,
forwards it to every live backup and acknowledges only when all of them have applied it, so
an acknowledged update survives the loss of any replica. Each push carries (worker, sequence
number); a replica applies a push once, so a client that retries after a primary died (the
push may or may not have reached the backups) never double-counts. A backup that dies is
dropped from the primary's list.
"""
from __future__ import annotations

import asyncio
from typing import Mapping

import numpy as np
import ray
from ray.exceptions import RayActorError

from .rules import UpdateRule


class ParameterShard:
    """Actor body (wrapped with `ray.remote` in `ps.py`)."""

    def __init__(self, shard: int, replica: int, values: Mapping[str, np.ndarray],
                 rule: UpdateRule) -> None:
        self.shard, self.replica, self.rule = shard, replica, rule
        self.values = {k: np.array(v, copy=True) for k, v in values.items()}
        self.state = {k: rule.init_state(v) for k, v in self.values.items()}
        self.last_seq: dict = {}      # worker -> last push applied
        self.backups: list = []
        self.applied = 0
        self._lock = asyncio.Lock()

    async def set_backups(self, backups: list) -> None:
        self.backups = list(backups)

    def _apply(self, worker, seq: int, grads: Mapping[str, np.ndarray]) -> None:
        if seq <= self.last_seq.get(worker, -1):
            return                                    # a retried push already applied
        for name, grad in grads.items():
            if name not in self.values:
                raise KeyError(f"shard {self.shard} holds no piece {name!r}")
            if grad.shape != self.values[name].shape:
                raise ValueError(f"push to {name!r}: shape {grad.shape}, the piece has "
                                 f"{self.values[name].shape}")
            self.values[name] = self.rule.apply(self.values[name], grad, self.state[name])
        self.last_seq[worker] = seq
        self.applied += 1

    async def push(self, worker, seq: int, grads: Mapping[str, np.ndarray]) -> int:
        """Apply here and on every live backup; return once all have it."""
        async with self._lock:                       # one order on every replica
            self._apply(worker, seq, grads)
            results = await asyncio.gather(*(b.replicate.remote(worker, seq, grads)
                                             for b in self.backups), return_exceptions=True)
            self.backups = [b for b, r in zip(self.backups, results)
                            if not isinstance(r, RayActorError)]
            for r in results:
                if isinstance(r, Exception) and not isinstance(r, RayActorError):
                    raise r
            return self.applied

    async def replicate(self, worker, seq: int, grads: Mapping[str, np.ndarray]) -> None:
        async with self._lock:
            self._apply(worker, seq, grads)

    async def pull(self, names=None) -> dict:
        names = self.values if names is None else names
        return {n: self.values[n] for n in names}

    async def state_dict(self) -> dict:
        """Values and rule state as flat arrays (for safetensors checkpoints)."""
        out = {f"value/{k}": v for k, v in self.values.items()}
        for k, st in self.state.items():
            for name, v in st.items():
                out[f"state/{k}/{name}"] = np.asarray(v)
        out["meta/applied"] = np.asarray(self.applied)
        return out

    async def load_state_dict(self, flat: Mapping[str, np.ndarray]) -> None:
        for key, v in flat.items():
            kind, _, rest = key.partition("/")
            if kind == "value":
                self.values[rest] = np.array(v, copy=True)
            elif kind == "state":
                piece, _, name = rest.rpartition("/")
                value = np.array(v, copy=True)
                scalar = not isinstance(self.state[piece].get(name), np.ndarray)  # Adam's step
                self.state[piece][name] = value.item() if scalar else value
        if "meta/applied" in flat:
            self.applied = int(flat["meta/applied"])
        self.last_seq = {}


RemoteShard = ray.remote(num_cpus=0)(ParameterShard)
