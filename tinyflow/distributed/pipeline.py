"""Pipeline parallelism on Ray: a model given as a sequence of stages, each in its own actor,
trained on micro-batches under the GPipe or 1F1B schedule.

    import tinyflow.distributed as dist
    pipe = dist.Pipeline([make_stage0, make_stage1, make_stage2, make_stage3], chunks=8,
                         schedule="1f1b", loss_fn=F.mse_loss,
                         optimizer=lambda params: optim.SGD(params, lr=0.1))
    loss = pipe.step(x, y)                 # the full batch's mean loss
    pipe.last.bubble_fraction, pipe.last.peak_activations, pipe.last.timelines

A step splits the batch into `chunks` micro-batches; each stage runs its own order of
forwards and backwards, sending activations to the next stage and gradients to the
previous one itself; the last stage scales each micro-batch's loss by its share of the batch,
so the accumulated gradients are the full batch's and every stage's optimizer steps once.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
import ray
from ray.exceptions import GetTimeoutError, RayActorError

from ..core.tensor import Tensor
from ..nn import functional as F
from .pipeline_schedule import Interval, bubble_fraction, schedule_for
from .pipeline_stage import ACTIVATION, StageWorker

_RemoteStage = ray.remote(num_cpus=0, max_concurrency=4)(StageWorker)


# a stage waits this much longer than the driver, so the driver (which sees every stage) is
# the one to report a stuck step; the stages' own limit only guards against a lost driver
STAGE_GRACE = 30.0


class PipelineError(RuntimeError):
    """A stage failed or died during a step; the message names its stage and device."""


class PipelineTimeout(PipelineError, TimeoutError):
    """A step did not finish in time; the message says what each stage was waiting for."""


@dataclass
class StepReport:
    """What one step did: per stage its busy intervals, the most micro-batch activations it
    held at once, and what it sent and received (counts and bytes by kind)."""
    step: int
    loss: float
    seconds: float
    timelines: list[list[Interval]] = field(default_factory=list)   # per stage
    peak_activations: list = field(default_factory=list)  # per stage
    sent: list = field(default_factory=list)              # per stage: {kind: n, kind bytes: b}
    received: list = field(default_factory=list)

    @property
    def bubble_fraction(self) -> float:
        return bubble_fraction(self.timelines)

    def transfers(self, kind: str) -> list:
        """Per boundary i -> i + 1, how many `kind` ("activation" or "gradient") crossed it
        (as counted by the sender: stage i for activations, stage i + 1 for gradients)."""
        senders = self.sent[:-1] if kind == ACTIVATION else self.sent[1:]
        return [s.get(kind, 0) for s in senders]


class Pipeline:
    """Train a model split into `stages` (nn.Modules, factories returning one, or `Delayed`
    stages), stage i in its own Ray actor named by `devices[i]`.

    Args:
        chunks: micro-batches per step (the batch is split along its first axis).
        schedule: "gpipe" (all forwards, then all backwards) or "1f1b" (one forward, one
            backward: stage i holds at most p - i micro-batches' activations).
        loss_fn: `loss_fn(output, target)` on the last stage's output, a mean over the batch.
        optimizer: a factory `optimizer(parameters)` called in every stage; None computes
            the gradients (see `gradients()`) and updates nothing.
        timeout: seconds a step may take, and a stage may wait for a neighbour, before it
            fails naming what was awaited.
        actor_options: Ray options for the stage actors (one dict, or one per stage), e.g.
            resources or a scheduling strategy to place stages on a cluster's nodes.
    """

    def __init__(self, stages: Sequence, devices: Optional[Sequence[str]] = None,
                 chunks: int = 1, schedule: str = "gpipe", loss_fn: Optional[Callable] = None,
                 optimizer: Optional[Callable] = None, timeout: float = 60.0,
                 actor_options=None) -> None:
        stages = list(stages)
        self.devices = list(devices) if devices is not None else [
            f"worker:{i}" for i in range(len(stages))]
        if len(self.devices) != len(stages):
            raise ValueError(f"Pipeline: {len(stages)} stages but {len(self.devices)} devices "
                             f"{self.devices}")
        self.orders = schedule_for(schedule, len(stages), chunks)
        self._schedule, self._chunks, self.timeout = schedule, chunks, timeout
        options = actor_options if isinstance(actor_options, (list, tuple)) else [
            actor_options or {}] * len(stages)
        if len(options) != len(stages):
            raise ValueError(f"Pipeline: {len(stages)} stages but {len(options)} actor_options")
        env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        self.workers = [
            _RemoteStage.options(**{"runtime_env": {"env_vars": env}, **opts}).remote(
                i, self.devices, spec, optimizer, loss_fn or F.cross_entropy,
                timeout + STAGE_GRACE)
            for i, (spec, opts) in enumerate(zip(stages, options))]
        ends = [None] + self.workers + [None]
        self._get([w.connect.remote(ends[i], ends[i + 2]) for i, w in enumerate(self.workers)],
                  "starting the stages", max(timeout, 120.0))   # new processes: slower
        self.steps = 0
        self.last: Optional[StepReport] = None
        self._broken: Optional[str] = None

    @property
    def num_stages(self) -> int:
        return len(self.workers)

    @property
    def schedule(self) -> str:
        return self._schedule

    @schedule.setter
    def schedule(self, name: str) -> None:
        """Later steps follow schedule `name` (the stages and their state stay)."""
        self.orders = schedule_for(name, self.num_stages, self._chunks)
        self._schedule = name

    @property
    def chunks(self) -> int:
        return self._chunks

    @chunks.setter
    def chunks(self, m: int) -> None:
        """Later steps split the batch into `m` micro-batches."""
        self.orders = schedule_for(self._schedule, self.num_stages, m)
        self._chunks = m

    def stage_name(self, i: int) -> str:
        return f"stage {i} (device {self.devices[i]!r})"

    def step(self, x, target) -> float:
        """One training step on the batch (x, target); returns the batch's mean loss."""
        if self._broken is not None:
            raise PipelineError(f"this pipeline failed earlier ({self._broken}); build a new one")
        xs, ys, scales = self._split(_array(x), _array(target))
        start, step = time.perf_counter(), self.steps
        last = self.num_stages - 1
        refs = [w.run_step.remote(step, self.orders[i], xs if i == 0 else None,
                                  ys if i == last else None, scales)
                for i, w in enumerate(self.workers)]
        results = self._wait_step(step, refs)
        self.steps += 1
        self.last = StepReport(
            step, results[-1]["loss"], time.perf_counter() - start,
            [r["timeline"] for r in results], [r["peak"] for r in results],
            [r["sent"] for r in results], [r["received"] for r in results])
        return self.last.loss

    def state_dict(self) -> dict:
        """Every stage's parameters and buffers, keyed "i.name" as nn.Sequential(*stages)
        would name them."""
        return self._merged([w.state_dict.remote() for w in self.workers], "state_dict")

    def gradients(self) -> dict:
        """The gradients accumulated in the last step, keyed as `state_dict`."""
        return self._merged([w.gradients.remote() for w in self.workers], "gradients")

    def shutdown(self) -> None:
        for w in self.workers:
            ray.kill(w)

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()

    # ---- internals ------------------------------------------------------------------------
    def _split(self, x: np.ndarray, target: np.ndarray) -> tuple:
        if len(x) != len(target):
            raise ValueError(f"Pipeline.step: {len(x)} inputs but {len(target)} targets")
        if len(x) < self.chunks:
            raise ValueError(f"Pipeline.step: a batch of {len(x)} rows cannot be split into "
                             f"chunks={self.chunks} micro-batches")
        xs, ys = np.array_split(x, self.chunks), np.array_split(target, self.chunks)
        return xs, ys, [len(c) / len(x) for c in xs]

    def _merged(self, refs: list, what: str) -> dict:
        parts = self._get(refs, what)
        return {f"{i}.{k}": v for i, part in enumerate(parts) for k, v in part.items()}

    def _get(self, refs: list, what: str, timeout: Optional[float] = None) -> list:
        """ray.get with the pipeline's timeout; a dead stage is named."""
        timeout = self.timeout if timeout is None else timeout
        try:
            return ray.get(refs, timeout=timeout)
        except RayActorError as e:
            dead = [self.stage_name(i) for i in self._dead_stages()]
            raise PipelineError(f"{', '.join(dead) or 'a stage'} died while {what}"
                                f"{_reason(e)}") from e
        except GetTimeoutError as e:
            raise PipelineTimeout(f"no answer from the stages after {timeout} s while "
                                  f"{what}") from e

    def _wait_step(self, step: int, refs: list) -> list:
        """Every stage's result of step `step`, or a clear error as soon as one fails."""
        index = {ref: i for i, ref in enumerate(refs)}
        results: list = [None] * len(refs)
        pending, deadline = list(refs), time.monotonic() + self.timeout
        while pending:
            done, pending = ray.wait(pending, num_returns=1,
                                     timeout=max(0.0, deadline - time.monotonic()))
            if not done:
                waits = self._statuses([index[r] for r in pending])
                self._fail(step, PipelineTimeout(
                    f"step {step} did not finish within {self.timeout} s: " + "; ".join(
                        f"{self.stage_name(i)} is {what}" for i, what in waits.items())))
            for ref in done:
                try:
                    results[index[ref]] = ray.get(ref)
                except Exception as e:          # a dead actor or an error in a stage
                    self._fail(step, self._explain(step, index[ref], e), e)
        return results

    def _explain(self, step: int, i: int, error: Exception) -> PipelineError:
        dead = self._dead_stages()
        if dead:
            names = ", ".join(self.stage_name(d) for d in dead)
            return PipelineError(f"{names} died during step {step}")
        cause = getattr(error, "cause", None) or error
        return PipelineError(f"{self.stage_name(i)} failed during step {step}: {cause}")

    def _fail(self, step: int, error: PipelineError, cause: Optional[Exception] = None):
        """Stop the other stages' waiting, mark the pipeline broken and raise `error`."""
        for w in self.workers:
            w.abort.remote(step)
        self._broken = str(error)
        raise error from cause

    def _statuses(self, stages: list) -> dict:
        """What each of `stages` says it is doing (or that it does not answer)."""
        out = {}
        for i in stages:
            try:
                out[i] = ray.get(self.workers[i].status.remote(), timeout=5.0)
            except RayActorError:
                out[i] = "dead"
            except GetTimeoutError:
                out[i] = "not answering"
        return out

    def _dead_stages(self) -> list:
        return [i for i, s in self._statuses(list(range(self.num_stages))).items()
                if s == "dead"]


def _reason(error: Exception) -> str:
    """The last 'SomeError: message' line of a Ray error (its root cause), if any."""
    lines = [ln.strip() for ln in str(error).splitlines()
             if re.match(r"\s*\w+(Error|Exception): ", ln)]
    return f" ({lines[-1]})" if lines else ""


def _array(value) -> np.ndarray:
    return value.numpy(force=True) if isinstance(value, Tensor) else np.asarray(value)
