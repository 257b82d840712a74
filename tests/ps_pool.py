"""Parameter servers whose actors are reused from test to test of a module. Starting an actor
is a new process importing tinyflow (about 2 s of CPU), far more than what most tests do with
it; a reused actor is reset to exactly the state a new one starts in (its __init__ again)."""
from __future__ import annotations

from collections import defaultdict

import ray
from ray.exceptions import RayActorError

import tinyflow.distributed as dist
from tinyflow.distributed.clock import ClockTable
from tinyflow.distributed.server import ParameterShard


class ActorPool:
    """Idle actors by class. `take` hands one out reset with the given arguments (the class's
    `reset`, which runs its __init__ again) or starts one; `give_back` makes actors idle again.
    An actor that died meanwhile (killed by a test) is dropped when it fails to reset."""

    def __init__(self) -> None:
        self.idle: dict = defaultdict(list)

    def take(self, cls, *args):
        while self.idle[cls]:
            actor = self.idle[cls].pop()
            try:
                ray.get(actor.reset.remote(*args))
                return actor
            except RayActorError:
                continue
        return cls.remote(*args)

    def give_back(self, cls, actors) -> None:
        self.idle[cls].extend(actors)

    def stop(self) -> None:
        """Stop the idle actors (the session's Ray cluster outlives the module)."""
        for actors in self.idle.values():
            for actor in actors:
                ray.kill(actor)
        self.idle.clear()

    def server(self, *args, **kwargs) -> "PooledServer":
        """`dist.ParameterServer(*args, **kwargs)` on this pool's actors."""
        return PooledServer(self, *args, **kwargs)


@ray.remote(num_cpus=0)
class PooledShard(ParameterShard):
    async def reset(self, *args) -> None:
        self.__init__(*args)


@ray.remote(num_cpus=0)
class PooledClockTable(ClockTable):
    async def reset(self, *args) -> None:
        self.__init__(*args)


class PooledServer(dist.ParameterServer):
    """A ParameterServer whose shards and clock table come from `pool` and go back to it on
    `shutdown` (instead of being killed)."""

    def __init__(self, pool: ActorPool, *args, **kwargs) -> None:
        self.pool = pool
        super().__init__(*args, **kwargs)

    def _start_shard(self, *args):
        return self.pool.take(PooledShard, *args)

    def _start_clock_table(self, *args):
        return self.pool.take(PooledClockTable, *args)

    def shutdown(self) -> None:
        self.pool.give_back(PooledShard, [r for chain in self.replicas for r in chain])
        self.pool.give_back(PooledClockTable, [self.clock_table])
