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
        allow_nonfinite: apply gradients holding nan/inf (by default a push holding one is
            refused, naming the key, and changes nothing).
    """

    def __init__(self, params: Mapping[str, np.ndarray], rule: UpdateRule, num_shards: int = 2,
                 replication: int = 1, num_workers: int = 1, timeout: float = 30.0,
                 allow_nonfinite: bool = False) -> None:
        if replication < 1:
            raise ValueError(f"replication must be >= 1, got {replication}")
        params = {k: np.asarray(v) for k, v in params.items()}
        self.dtypes = {k: v.dtype for k, v in params.items()}
        self.allow_nonfinite = allow_nonfinite
        self.layout = Layout({k: v.shape for k, v in params.items()}, num_shards)
        parts = self.layout.split(params)
        self.replicas = [[self._start_shard(s, r, parts[s], rule, allow_nonfinite)
                          for r in range(replication)] for s in range(num_shards)]
        ray.get([chain[0].set_backups.remote(chain[1:]) for chain in self.replicas])
        self.clock_table = self._start_clock_table(num_workers, timeout)
        self._driver = self.client(-1)

    def _start_shard(self, shard: int, replica: int, values: dict, rule: UpdateRule,
                     allow_nonfinite: bool):
        """A shard actor in its initial state: a new one (a subclass may hand out a running
        one after resetting it, as the tests do: starting an actor process is the costly part)."""
        return RemoteShard.remote(shard, replica, values, rule, allow_nonfinite)

    def _start_clock_table(self, num_workers: int, timeout: float):
        """The clock-table actor in its initial state (new here; see `_start_shard`)."""
        return RemoteClockTable.remote(num_workers, timeout)

    def client(self, worker: int, consistency: Consistency = Consistency()) -> PSClient:
        """A client for `worker`; a second client for the same worker (a restarted worker)
        resumes from its clock and its pushes count as new ones."""
        return PSClient(worker, self.layout, self.replicas, self.clock_table, consistency,
                        self.dtypes, self.allow_nonfinite)

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
        """Load a checkpoint written by `save` into every replica of every shard, after
        checking it holds exactly this server's pieces (keys, shapes, dtypes, shard layout):
        a mismatch is refused, naming it, before any replica changes."""
        flat = {k: v.numpy() for k, v in checkpoint.load(path).items()}
        per_shard = self._check_checkpoint(path, flat)
        live = [[r for r in chain if self._alive(r)] for chain in self.replicas]
        for s, chain in enumerate(live):
            if not chain:                       # refuse before any shard changes
                raise self._driver._lost(s)
        refs = [r.load_state_dict.remote(mine) for chain, mine in zip(live, per_shard)
                for r in chain]
        for ref in refs:
            try:
                ray.get(ref)
            except RayActorError:
                pass                            # died since: nothing to restore there

    @staticmethod
    def _alive(replica) -> bool:
        try:
            ray.get(replica.__ray_ready__.remote())
            return True
        except RayActorError:
            return False

    def _check_checkpoint(self, path: str, flat: Mapping[str, np.ndarray]) -> list:
        """Per shard, its entries of `flat`; raises ValueError naming the first mismatch."""
        n = self.layout.num_shards
        per_shard: list = [{} for _ in range(n)]
        found = set()
        for name, v in flat.items():
            head, _, rest = name.partition("/")
            if not head.startswith("shard") or not head[5:].isdigit() or not rest:
                raise ValueError(f"{path}: entry {name!r} is not a parameter-server "
                                 f"checkpoint entry (shard<k>/...)")
            s = int(head[5:])
            found.add(s)
            if s < n:
                per_shard[s][rest] = v
        if found != set(range(n)):
            raise ValueError(f"{path}: checkpoint holds shards {sorted(found)}, this server "
                             f"has {n} shard(s) {list(range(n))}: restore into a server "
                             f"with the layout it was saved from")
        for s, mine in enumerate(per_shard):
            expected = {p.name: (p.shape(self.layout.shapes[p.key]), self.dtypes[p.key])
                        for p in self.layout.pieces_on(s)}
            values = {k[6:]: v for k, v in mine.items() if k.startswith("value/")}
            extra = sorted(set(values) - set(expected))
            if extra:
                raise ValueError(f"{path}: shard {s} holds {extra[0]!r}, which this server's "
                                 f"layout does not place there (it expects "
                                 f"{sorted(expected)})")
            for piece, (shape, dtype) in expected.items():
                if piece not in values:
                    raise ValueError(f"{path}: shard {s} has no value for {piece!r} (expected "
                                     f"shape {shape}, {dtype})")
                got = values[piece]
                if got.shape != shape or got.dtype != dtype:
                    raise ValueError(f"{path}: shard {s}, {piece!r}: expected shape {shape} "
                                     f"{dtype}, found shape {got.shape} {got.dtype}")
            for k, v in mine.items():
                if k.startswith("state/"):
                    piece = k[6:].rpartition("/")[0]
                    if piece not in expected:
                        raise ValueError(f"{path}: shard {s} holds rule state {k!r} for "
                                         f"{piece!r}, which the shard does not hold")
                    if v.ndim and v.shape != expected[piece][0]:
                        raise ValueError(f"{path}: shard {s}, rule state {k!r}: expected shape "
                                         f"{expected[piece][0]}, found {v.shape}")
                elif not k.startswith(("value/", "meta/")):
                    raise ValueError(f"{path}: shard {s}: unknown entry {k!r}")
        return per_shard

    def shutdown(self) -> None:
        for chain in self.replicas:
            for r in chain:
                ray.kill(r)
        ray.kill(self.clock_table)
