"""A parameter shard: a Ray actor holding some pieces of the parameters and applying pushed
gradients with its update rule.

Replication is primary/backup. Clients push to the primary; the primary checks every piece of
the push, computes the new values and rule state of all of them on copies (so a refused piece
or a rule that raises changes nothing), commits them as one unit, forwards the result to
every live backup and acknowledges only when all of them have installed it, so an
acknowledged update survives the loss of any replica. Each push carries (worker, epoch,
sequence number), the epoch being the client's registration: a replica applies a push once,
so a client that retries after a primary died never double-counts, and a new client for the
same worker starts a new epoch instead of being mistaken for a replay. A backup promoted to
primary copies its whole state to the remaining backups, so a push the old primary had
forwarded to only some of them leaves no replica behind.
"""
from __future__ import annotations

import asyncio
import copy
from typing import Mapping, Optional

import numpy as np
import ray
from ray.exceptions import RayActorError

from .rules import UpdateRule


def check_gradient(where: str, name: str, grad, shape: tuple, dtype: np.dtype,
                   allow_nonfinite: bool) -> np.ndarray:
    """`grad` as an array of the parameter's shape and dtype, or an error naming the piece:
    refused before anything changes."""
    try:
        grad = np.asarray(grad)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{where}: gradient for {name!r} is not an array ({e})") from None
    if grad.dtype.kind not in "biuf":
        raise TypeError(f"{where}: gradient for {name!r} has dtype {grad.dtype}, not a real "
                        f"number type; the parameter is {dtype}")
    if grad.shape != tuple(shape):
        raise ValueError(f"{where}: gradient for {name!r} has shape {grad.shape}, the "
                         f"parameter has shape {tuple(shape)}")
    if dtype.kind == "f":
        with np.errstate(over="ignore"):          # too large for the dtype: inf, refused next
            grad = grad.astype(dtype, copy=False)
    if not allow_nonfinite and grad.dtype.kind == "f" and not np.isfinite(grad).all():
        bad = int(np.size(grad) - np.isfinite(grad).sum())
        raise ValueError(f"{where}: gradient for {name!r} has {bad} non-finite value(s) "
                         f"in {grad.dtype} (nan/inf); refused (allow_nonfinite=True accepts "
                         f"them)")
    return grad


class ParameterShard:
    """Actor body (wrapped with `ray.remote` in `ps.py`)."""

    def __init__(self, shard: int, replica: int, values: Mapping[str, np.ndarray],
                 rule: UpdateRule, allow_nonfinite: bool = False) -> None:
        self.shard, self.replica, self.rule = shard, replica, rule
        self.allow_nonfinite = allow_nonfinite
        self.values = {k: np.array(v, copy=True) for k, v in values.items()}
        self.state = {k: rule.init_state(v) for k, v in self.values.items()}
        self.last_seq: dict = {}      # (worker, epoch) -> last push applied
        self.prepared: dict = {}      # (worker, epoch) -> (seq, gradients, version, result)
        self.version = 0              # bumped by every change of values or rule state
        self.steps: dict = {}         # worker -> last step applied (pushes given a step)
        self.backups: list = []
        self.applied = 0
        self._lock = asyncio.Lock()

    async def set_backups(self, backups: list) -> None:
        """Adopt `backups` and give them this replica's whole state: after a promotion, a
        backup may lack the push the dead primary was forwarding."""
        async with self._lock:
            self.backups = list(backups)
            await self._forward("install_state", self._snapshot())

    # ---- pushes ---------------------------------------------------------------------------
    def _prepare(self, grads: Mapping[str, np.ndarray]) -> dict:
        """{piece: (new value, new rule state)} for every piece, computed on copies."""
        where = f"shard {self.shard}"
        checked = {}
        for name, grad in grads.items():
            if name not in self.values:
                raise KeyError(f"{where} holds no piece {name!r}; it holds "
                               f"{sorted(self.values)}")
            value = self.values[name]
            checked[name] = check_gradient(where, name, grad, value.shape, value.dtype,
                                           self.allow_nonfinite)
        staged = {}
        for name, grad in checked.items():
            old, state = self.values[name], copy.deepcopy(self.state[name])
            try:
                new = np.asarray(self.rule.apply(old, grad, state))
            except Exception as e:
                raise RuntimeError(f"{where}: the update rule failed on {name!r} "
                                   f"({type(e).__name__}: {e}); the push changed nothing") from e
            if new.shape != old.shape:
                raise ValueError(f"{where}: the update rule returned shape {new.shape} for "
                                 f"{name!r}, the piece has {old.shape}; nothing changed")
            staged[name] = (new.astype(old.dtype, copy=False), state)
        return staged

    def _commit(self, key: tuple, seq: int, staged: Mapping, step: Optional[int]) -> None:
        for name, (value, state) in staged.items():
            self.values[name], self.state[name] = value, state
        self.last_seq[key] = seq
        if step is not None:
            self.steps[key[0]] = max(step, self.steps.get(key[0], -1))
        self.applied += 1
        self.version += 1

    def _done(self, key: tuple, seq: int, step: Optional[int]) -> bool:
        """Applied already: a retry (same epoch), or a step this worker's earlier client
        pushed (a replacement redoing it)."""
        return (seq <= self.last_seq.get(key, 0)
                or (step is not None and step <= self.steps.get(key[0], -1)))

    async def _forward(self, method: str, *args) -> None:
        """Call `method` on every backup; drop the dead ones."""
        results = await asyncio.gather(*(getattr(b, method).remote(*args)
                                         for b in self.backups), return_exceptions=True)
        self.backups = [b for b, r in zip(self.backups, results)
                        if not isinstance(r, RayActorError)]
        for r in results:
            if isinstance(r, Exception) and not isinstance(r, RayActorError):
                raise r

    async def prepare(self, worker, epoch: int, seq: int, grads: Mapping[str, np.ndarray],
                      step: Optional[int] = None) -> None:
        """Phase one of a push spanning shards: check it and run the rule on copies (raising
        what `push` would raise), keep the gradients, change nothing."""
        key = (worker, epoch)
        async with self._lock:
            if not self._done(key, seq, step):
                self.prepared[key] = (seq, grads, self.version, self._prepare(grads))

    async def push(self, worker, epoch: int, seq: int,
                   grads: Optional[Mapping[str, np.ndarray]] = None,
                   step: Optional[int] = None) -> Optional[int]:
        """Apply here and on every live backup as one unit; return once all have it. With
        `grads=None`, the prepared gradients of this push (None back: not prepared here,
        send them)."""
        key = (worker, epoch)
        async with self._lock:                       # one order on every replica
            if not self._done(key, seq, step):
                staged = None
                if grads is None:
                    got, grads, version, staged = self.prepared.pop(key, (None,) * 4)
                    if got != seq:
                        return None
                    if version != self.version:  # others' pushes since: compute again
                        staged = None
                staged = staged or self._prepare(grads)
                self._commit(key, seq, staged, step)
                await self._forward("install", key, seq, staged, step)
            return self.applied

    async def install(self, key: tuple, seq: int, staged: Mapping,
                      step: Optional[int] = None) -> None:
        """A backup takes the primary's result of a push (the same values, not a re-run)."""
        async with self._lock:
            if not self._done(key, seq, step):
                self._commit(key, seq, staged, step)

    # ---- whole state ------------------------------------------------------------------------
    def _snapshot(self) -> dict:
        return {"values": self.values, "state": self.state, "last_seq": self.last_seq,
                "steps": self.steps, "applied": self.applied}

    async def install_state(self, snapshot: Mapping) -> None:
        async with self._lock:
            self.values = {k: np.array(v, copy=True) for k, v in snapshot["values"].items()}
            self.state = copy.deepcopy(dict(snapshot["state"]))
            self.last_seq = dict(snapshot["last_seq"])
            self.steps = dict(snapshot["steps"])
            self.applied = snapshot["applied"]
            self.version += 1

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
        """Install a checkpoint's values and rule state (checked by `ParameterServer`)."""
        async with self._lock:
            for key, v in flat.items():
                kind, _, rest = key.partition("/")
                if kind == "value":
                    self.values[rest] = np.array(v, copy=True)
                elif kind == "state":
                    piece, _, name = rest.rpartition("/")
                    value = np.array(v, copy=True)
                    scalar = (value.ndim == 0        # Adam's step, not a 0-d parameter's m
                              and not isinstance(self.state[piece].get(name), np.ndarray))
                    self.state[piece][name] = value.item() if scalar else value
            if "meta/applied" in flat:
                self.applied = int(flat["meta/applied"])
            self.version += 1


RemoteShard = ray.remote(num_cpus=0)(ParameterShard)
