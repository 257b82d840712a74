"""`PSTrainer`: N workers (Ray actors) train one model through a `ParameterServer`:
read parameters -> compute gradients on their own data shard -> push -> clock.

The model is given as a factory (called in each worker process) returning a `ModuleModel`
(an eager `nn.Module` and its loss) or a `GraphModel` (a TF1 graph's loss and variables).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import ray

from ..autodiff import gradients
from ..core.graph import Graph
from ..core.modes import no_grad
from ..nn import functional as F
from ..pytorch.creation import tensor
from ..symbolic import Session, global_variables_initializer, trainable_variables
from .client import Consistency, Stats
from .ps import ParameterServer
from .rules import SGD, UpdateRule
from .straggler import Straggler


class ModuleModel:
    """An eager `nn.Module` with a loss `loss_fn(output, targets)`; parameters by name."""

    def __init__(self, module, loss_fn: Optional[Callable] = None) -> None:
        self.module, self.loss_fn = module, loss_fn or F.cross_entropy
        self.params = dict(module.named_parameters())

    def arrays(self) -> dict:
        return {k: p.numpy(force=True).copy() for k, p in self.params.items()}

    def set(self, values: dict) -> None:
        for k, p in self.params.items():
            np.copyto(p.array, values[k])

    def gradients(self, x: np.ndarray, y: np.ndarray) -> tuple:
        for p in self.params.values():
            p.grad = None
        loss = self.loss_fn(self.module(tensor(x)), tensor(y))
        loss.backward()
        return loss.item(), {k: p.grad.numpy() for k, p in self.params.items()}

    def predict(self, x: np.ndarray) -> np.ndarray:
        with no_grad():
            return self.module(tensor(x)).numpy()


class GraphModel:
    """A TF1 model: `build()` (run inside a fresh graph) returns (loss, logits, x, y) with
    x, y its placeholders; its trainable variables are the parameters."""

    def __init__(self, build: Callable) -> None:
        self.graph = Graph()
        with self.graph.as_default():
            self.loss, self.logits, self.x, self.y = build()
            self.variables = {v.name.split(":")[0]: v for v in trainable_variables()}
            self.grads = gradients(self.loss, list(self.variables.values()))
            self.sess = Session(graph=self.graph)
            self.sess.run(global_variables_initializer())

    def arrays(self) -> dict:
        values = self.sess.run(list(self.variables.values()))
        return dict(zip(self.variables, values))

    def set(self, values: dict) -> None:
        for k, v in self.variables.items():
            v.load(values[k], self.sess)

    def gradients(self, x: np.ndarray, y: np.ndarray) -> tuple:
        out = self.sess.run([self.loss] + self.grads, {self.x: x, self.y: y})
        return float(out[0]), dict(zip(self.variables, out[1:]))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.sess.run(self.logits, {self.x: x})


class _Worker:
    """Actor body: one worker's loop over its shard of the training data."""

    def __init__(self, worker: int, make_model: Callable, data: tuple, indices: np.ndarray,
                 batch_size: int, client, straggler: Optional[Straggler], seed: int) -> None:
        self.worker, self.model, self.client = worker, make_model(), client
        self.x, self.y = data
        self.indices, self.batch_size = indices, batch_size
        self.straggler = straggler
        self.rng = np.random.default_rng(seed + worker)
        self.losses: list = []

    def run(self, steps: int) -> dict:
        """Run `steps` more iterations; each push is tagged with the worker's clock, so a step
        redone by a replacement counts once."""
        order = self.rng.permutation(self.indices)
        pos = 0
        for _ in range(steps):
            if pos + self.batch_size > len(order):
                order, pos = self.rng.permutation(self.indices), 0
            batch = order[pos:pos + self.batch_size]
            pos += self.batch_size
            start, waited = time.perf_counter(), self.client.stats.wait_seconds
            self.model.set(self.client.read())
            loss, grads = self.model.gradients(self.x[batch], self.y[batch])
            self.client.push(grads, step=self.client.clock_value)
            self.client.clock()
            if self.straggler is not None:  # slow down the step's work, not its waiting
                waited = self.client.stats.wait_seconds - waited
                self.straggler.after_step(time.perf_counter() - start - waited)
            self.losses.append(loss)
        self.client.finish()
        return {"worker": self.worker, "stats": self.client.stats, "losses": self.losses,
                "slept": 0.0 if self.straggler is None else self.straggler.slept,
                "slow_steps": 0 if self.straggler is None else self.straggler.slow_steps}


_RemoteWorker = ray.remote(num_cpus=0)(_Worker)


@dataclass
class TrainResult:
    seconds: float
    curve: list = field(default_factory=list)       # (seconds, accuracy)
    workers: list = field(default_factory=list)     # per worker: stats, losses, slept

    def time_to(self, accuracy: float) -> Optional[float]:
        """Wall seconds until the evaluated accuracy first reached `accuracy` (None: never)."""
        return next((t for t, a in self.curve if a >= accuracy), None)

    @property
    def stats(self) -> list[Stats]:
        return [w["stats"] for w in self.workers]


class PSTrainer:
    """Train `make_model()` with `num_workers` workers, each on its own shard of `data`
    (x, y arrays), through `num_shards` servers under `consistency`.

    Args:
        stragglers: {worker index: Straggler} to slow some workers down; `roaming(k, n)`
            makes one random worker k times slower on every step.
        env: environment variables of the worker processes (BLAS threads default to 1, as
            several workers share the cores).
        allow_nonfinite: let the servers apply gradients holding nan/inf (refused by default).
    """

    def __init__(self, make_model: Callable, data: tuple, num_workers: int = 4,
                 num_shards: int = 2, replication: int = 1,
                 consistency: Consistency = Consistency(), rule: UpdateRule = SGD(0.1),
                 batch_size: int = 64, stragglers: Optional[dict] = None,
                 timeout: float = 30.0, seed: int = 0, env: Optional[dict] = None,
                 allow_nonfinite: bool = False) -> None:
        self.model = make_model()
        self.ps = ParameterServer(self.model.arrays(), rule, num_shards, replication,
                                  num_workers, timeout, allow_nonfinite)
        x, y = data
        shards = np.array_split(np.random.default_rng(seed).permutation(len(x)), num_workers)
        data_ref = ray.put((x, y))
        runtime_env = {"env_vars": {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                                    **(env or {})}}
        stragglers = stragglers or {}
        self.workers = [
            _RemoteWorker.options(runtime_env=runtime_env).remote(
                w, make_model, data_ref, shards[w], batch_size,
                self.ps.client(w, consistency), stragglers.get(w), seed)
            for w in range(num_workers)]

    def train(self, steps: int, evaluate: Optional[Callable[[dict], float]] = None,
              eval_every: float = 1.0) -> TrainResult:
        """Run `steps` iterations on every worker; meanwhile evaluate the servers' parameters
        every `eval_every` seconds (and once at the end) with `evaluate(params)`."""
        start = time.perf_counter()
        pending = [w.run.remote(steps) for w in self.workers]
        result = TrainResult(0.0)
        while pending:
            done, pending = ray.wait(pending, num_returns=len(pending), timeout=eval_every)
            result.workers += ray.get(done)
            if evaluate is not None and pending:
                result.curve.append((time.perf_counter() - start, evaluate(self.ps.pull())))
        result.seconds = time.perf_counter() - start
        if evaluate is not None:
            result.curve.append((result.seconds, evaluate(self.ps.pull())))
        result.workers.sort(key=lambda w: w["worker"])
        return result

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> Callable[[dict], float]:
        """An `evaluate` for classification: the share of argmax(logits) == y."""
        def evaluate(params: dict) -> float:
            self.model.set(params)
            return float(np.mean(self.model.predict(x).argmax(-1) == y))
        return evaluate

    def shutdown(self) -> None:
        for w in self.workers:
            ray.kill(w)
        self.ps.shutdown()
