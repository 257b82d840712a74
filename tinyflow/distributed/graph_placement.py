"""`Session.run` of a TF1 graph whose nodes `tf.device` placed on declared devices: the
graph is lowered once per (fetches, feeds) signature, partitioned (partition.py) and each
partition installed in its device's worker; a run starts every partition at once, sends
each the feeds it reads, and gathers the fetches. Variables live in the worker of their
device (so they outlive a Session, as on TensorFlow's parameter-server tasks).

The program is rewritten (`passes.optimize`, unless `Session(optimize=False)`) before it is
cut; each partition then runs its steps one kernel call each, in order (the per-shape memory
planning and generated code of a single-process plan are not used).
"""
from __future__ import annotations

import itertools
import weakref
from typing import Optional

import numpy as np
import ray

from ..core import devices as table
from ..core.graph import topo_sort
from .. import passes
from ..passes import lower
from .transfers import STATS, DeviceError
from .partition import partition

_plan_ids = itertools.count()
_run_ids = itertools.count()


class PlacedPlan:
    """A plan whose partitions run in the workers of their devices."""

    def __init__(self, fetches: list, feed_keys: tuple, optimize: bool = True) -> None:
        graph = fetches[0].graph
        program = lower(fetches, feed_keys)
        self.program = passes.optimize(program) if optimize else program
        self.parts = partition(self.program, graph.placements)
        self.devices = {}
        for name in self.parts:
            device = table.lookup(name)
            if device is None:
                raise RuntimeError(f"the graph places nodes on device {name!r}, which is not "
                                   f"declared (tinyflow.distributed.devices); declared: "
                                   f"{table.declared()}")
            self.devices[name] = device
        self.plan_id = next(_plan_ids)
        peers = {name: d.actor for name, d in self.devices.items()}
        for name, part in self.parts.items():
            device = self.devices[name]
            device.get(device.actor.install.remote(self.plan_id, part, peers), "install")
        weakref.finalize(self, _uninstall, list(peers.values()), self.plan_id)

    def kernels(self, feed_values=None) -> dict:
        """device -> what its partition runs, in order: op names, `send(x:0)`, `recv(x:0)`."""
        return {name: [_describe(item, self.program) for item in part.program]
                for name, part in self.parts.items()}

    def run(self, feed_values: list) -> list:
        run_id = next(_run_ids)
        calls = {}
        for name, part in self.parts.items():
            feeds = {slot: feed_values[ref] for slot, (kind, ref) in part.loads.items()
                     if kind == "feed"}
            for value in feeds.values():
                STATS.transfer("feed", "cpu", name, np.asarray(value).nbytes)
            device = self.devices[name]
            calls[name] = device.actor.run_partition.remote(self.plan_id, run_id, feeds,
                                                            device.timeout)
        values = {}
        for name, (fetched, sent) in self._gather(calls, run_id):
            for target, nbytes, control in sent:
                STATS.transfer("control" if control else "send", name, target, nbytes)
            for slot, value in fetched.items():
                STATS.transfer("fetch", name, "cpu", getattr(value, "nbytes", 0))
                values[slot] = value
        return [_fetched(self._value(slot, values, feed_values)) for slot in
                self.program.fetches]

    def _gather(self, calls: dict, run_id: int):
        """The partitions' results as they finish; the first failure (a worker died, a
        kernel raised) aborts the run on the other devices and is raised, naming its device."""
        pending = {ref: name for name, ref in calls.items()}
        timeout = max(d.timeout for d in self.devices.values())
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=timeout)
            if not ready:
                self._abort(run_id)
                raise DeviceError(f"graph partitions on {sorted(pending.values())} did not "
                                  f"finish within {timeout} s")
            name = pending.pop(ready[0])
            try:
                result = self.devices[name].get(ready[0], "its graph partition")
            except Exception:
                self._abort(run_id)
                raise
            yield name, result

    def _abort(self, run_id: int) -> None:
        """Wake the partitions waiting in a recv of this run: they stop with an error."""
        for device in self.devices.values():
            device.actor.abort.remote(run_id)

    def _value(self, slot: int, values: dict, feed_values: list):
        if slot in values:
            return values[slot]
        ext = self.program.externals[slot]          # a fed or constant value fetched
        return feed_values[ext.ref] if ext.kind == "feed" else np.array(
            ext.ref.array if ext.kind == "eager" else ext.ref)


def _describe(item, program) -> str:
    if item[0] == "step":
        return item[1].op.name
    slot = item[1]
    ext = program.externals.get(slot)
    name = ext.name if ext is not None else program.steps[program.producer[slot]].name
    return f"{item[0]}({name}{', control' if item[-1] else ''})"


def _uninstall(actors: list, plan_id: int) -> None:
    """When a plan is dropped, its workers forget its partitions (no reply awaited; a worker
    already gone, or Ray already shut down, has nothing left to forget)."""
    if not ray.is_initialized():
        return
    for actor in actors:
        try:
            actor.uninstall.remote(plan_id)
        except Exception:           # noqa: BLE001 -- a dead actor: nothing to free
            pass


def _fetched(value):
    """As Session.run hands values out: NumPy scalars for 0-d arrays, writable arrays."""
    if isinstance(value, np.ndarray):
        return value[()] if value.ndim == 0 else np.array(value)
    return value


def run_placed_graph(fetches: list, feed_keys: tuple,
                     optimize: bool = True) -> Optional[PlacedPlan]:
    """The plan running these fetches on their devices; None if nothing they need is placed
    (the Session then runs them here)."""
    graph = fetches[0].graph if fetches and fetches[0].kind != "eager" else None
    if graph is None:
        return None
    needed = topo_sort(fetches, include_control=True, stop={id(k) for k in feed_keys})
    if not any(n.name in graph.placements for n in needed if n.kind != "eager"):
        return None
    return PlacedPlan(fetches, feed_keys, optimize)
