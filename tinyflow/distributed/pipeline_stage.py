"""One pipeline stage inside its Ray actor: its module and optimizer, the micro-batch
activations it holds for the backward pass, an inbox its neighbours deliver into, and the
loop that runs its part of a schedule and records when it was busy.

Activations go forward and gradients backward actor to actor: a stage calls its neighbour's
`deliver` itself, so no tensor passes through the driver; both sides count what they moved.
"""
from __future__ import annotations

import queue
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
import ray

from ..nn import Module
from ..pytorch.creation import tensor
from .pipeline_schedule import FORWARD, Interval, Work

ACTIVATION, GRADIENT = "activation", "gradient"


@dataclass(frozen=True)
class Delayed:
    """A stage that also sleeps `forward` / `backward` seconds per micro-batch: known,
    equal costs to study a schedule apart from compute (sleeping needs no core)."""
    stage: Any                  # an nn.Module or a factory returning one
    forward: float = 0.0
    backward: float = 0.0


class Outbox:
    """Hands a stage's sends to Ray from a thread of its own, so the stage computes its next
    micro-batch meanwhile (as a GPU overlaps its sends with compute)."""

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue()
        self.refs: list = []
        threading.Thread(target=self._run, name="pipeline-outbox", daemon=True).start()

    def put(self, actor, *args) -> None:
        self.queue.put((actor, args))

    def flush(self) -> list:
        """Every send so far submitted: their refs (or the error submitting one raised)."""
        self.queue.join()
        refs, self.refs = self.refs, []
        return refs

    def _run(self) -> None:
        while True:
            actor, args = self.queue.get()
            try:
                self.refs.append(actor.deliver.remote(*args))
            except Exception as e:              # e.g. an array Ray cannot serialize
                self.refs.append(e)
            finally:
                self.queue.task_done()


class _Aborted(Exception):
    """The driver gave up on this step (another stage failed)."""


class StageState:
    """The module of one stage and what its backward passes need, micro-batch by
    micro-batch; the last stage also applies the loss (scaled so the micro-batches' losses
    sum to the full batch's mean)."""

    def __init__(self, module: Module, optimizer: Optional[Callable], loss_fn: Callable,
                 first: bool, last: bool, delay: tuple = (0.0, 0.0)) -> None:
        self.module, self.loss_fn = module, loss_fn
        self.optimizer = optimizer(list(module.parameters())) if optimizer else None
        self.first, self.last, self.delay = first, last, delay
        self.saved: dict[int, tuple] = {}       # micro-batch -> (input, output or loss)

    def forward(self, mb: int, x: np.ndarray, target, scale: float):
        """Output activation (or, on the last stage, the scaled loss as a float)."""
        time.sleep(self.delay[0])
        inp = tensor(x, requires_grad=not self.first)
        out = self.module(inp)
        if self.last:
            out = self.loss_fn(out, tensor(target)) * scale
        self.saved[mb] = (inp, out)
        return out.item() if self.last else out.numpy(force=True)

    def backward(self, mb: int, grad: Optional[np.ndarray]) -> Optional[np.ndarray]:
        """Accumulate this micro-batch's parameter gradients; the input's gradient."""
        time.sleep(self.delay[1])
        inp, out = self.saved.pop(mb)
        out.backward() if grad is None else out.backward(tensor(grad))
        if self.first:
            return None
        return inp.grad.numpy() if inp.grad is not None else np.zeros(inp.shape, inp.array.dtype)

    def zero_grad(self) -> None:
        self.saved.clear()
        for p in self.module.parameters():
            p.grad = None

    def update(self) -> None:
        if self.optimizer is not None:
            self.optimizer.step()


def build_module(spec) -> Module:
    """`spec` is a module (sent pickled) or a factory called here, in the stage's process."""
    module = spec if isinstance(spec, Module) else spec()
    if not isinstance(module, Module):
        raise TypeError(f"a pipeline stage must be an nn.Module or a factory returning one, "
                        f"got {type(module).__name__}")
    return module


class StageWorker:
    """Actor body of stage `index` of `devices` (the stages' device names, for messages)."""

    def __init__(self, index: int, devices: list, spec, optimizer, loss_fn,
                 timeout: float) -> None:
        self.index, self.devices, self.timeout = index, devices, timeout
        delay = (spec.forward, spec.backward) if isinstance(spec, Delayed) else (0.0, 0.0)
        module = build_module(spec.stage if isinstance(spec, Delayed) else spec)
        self.state = StageState(module, optimizer, loss_fn, index == 0,
                                index == len(devices) - 1, delay)
        self.neighbours: dict = {}
        self.outbox = Outbox()
        self.inbox: dict = {}
        self.ready = threading.Condition()
        self.aborted: set = set()
        self.waiting = "idle"
        self.sent: defaultdict = defaultdict(Counter)          # step -> {kind: count/bytes}
        self.received: defaultdict = defaultdict(Counter)

    def name(self, i: int) -> str:
        return f"stage {i} (device {self.devices[i]!r})"

    def connect(self, previous, following) -> None:
        self.neighbours = {GRADIENT: previous, ACTIVATION: following}

    def deliver(self, step: int, kind: str, mb: int, array: np.ndarray) -> None:
        """Called by a neighbour: this step's `kind` for micro-batch `mb` has arrived."""
        with self.ready:
            self.inbox[(step, kind, mb)] = array
            self.received[step][kind] += 1
            self.received[step][kind + " bytes"] += array.nbytes
            self.ready.notify_all()

    def abort(self, step: int) -> None:
        with self.ready:
            self.aborted.add(step)
            self.ready.notify_all()

    def status(self) -> str:
        return self.waiting

    def state_dict(self) -> dict:
        return {k: v.numpy().copy() for k, v in self.state.module.state_dict().items()}

    def gradients(self) -> dict:
        return {k: None if p.grad is None else p.grad.numpy().copy()
                for k, p in self.state.module.named_parameters()}

    def run_step(self, step: int, order: list, inputs: Optional[list], targets: Optional[list],
                 scales: list) -> dict:
        """Run this stage's `order` of `Work` for step `step`, then its optimizer step."""
        self.state.zero_grad()
        with self.ready:
            self.inbox = {k: v for k, v in self.inbox.items() if k[0] >= step}
        timeline, peak, loss = [], 0, 0.0
        for work in order:
            mb = work.microbatch
            if work.kind == FORWARD:
                x = inputs[mb] if self.index == 0 else self._receive(step, ACTIVATION, mb)
                target = targets[mb] if targets is not None else None
                start = time.time()
                out = self._run(work, self.state.forward, mb, x, target, scales[mb])
                timeline.append(Interval(self.index, work.kind, mb, start, time.time()))
                peak = max(peak, len(self.state.saved))
                if self.state.last:
                    loss += out
                else:
                    self._send(step, ACTIVATION, mb, out)
            else:
                grad = None if self.state.last else self._receive(step, GRADIENT, mb)
                start = time.time()
                out = self._run(work, self.state.backward, mb, grad)
                timeline.append(Interval(self.index, work.kind, mb, start, time.time()))
                if not self.state.first:
                    self._send(step, GRADIENT, mb, out)
        self._await_sends(self.outbox.flush())
        self.waiting = "optimizer step"
        self.state.update()
        self.waiting = "idle"
        with self.ready:
            received = dict(self.received.pop(step, {}))
        return {"timeline": timeline, "peak": peak, "loss": loss,
                "sent": dict(self.sent.pop(step, {})), "received": received}

    def _run(self, work: Work, fn, *args):
        self.waiting = f"running {work.kind}{work.microbatch}"
        try:
            return fn(*args)
        except Exception as e:
            kind = "forward" if work.kind == FORWARD else "backward"
            raise RuntimeError(f"{self.name(self.index)}: {kind} of micro-batch "
                               f"{work.microbatch} failed: {type(e).__name__}: {e}") from e

    def _receive(self, step: int, kind: str, mb: int) -> np.ndarray:
        source = self.index - 1 if kind == ACTIVATION else self.index + 1
        self.waiting = f"waiting for the {kind} of micro-batch {mb} from {self.name(source)}"
        key = (step, kind, mb)
        with self.ready:
            arrived = self.ready.wait_for(lambda: key in self.inbox or step in self.aborted,
                                          timeout=self.timeout)
            if step in self.aborted:
                raise _Aborted(f"{self.name(self.index)}: step {step} aborted by the driver")
            if not arrived:
                raise TimeoutError(f"{self.name(self.index)}: waited {self.timeout} s for the "
                                   f"{kind} of micro-batch {mb} from {self.name(source)}")
            return self.inbox.pop(key)

    def _send(self, step: int, kind: str, mb: int, array: np.ndarray):
        self.sent[step][kind] += 1
        self.sent[step][kind + " bytes"] += array.nbytes
        self.outbox.put(self.neighbours[kind], step, kind, mb, array)

    def _await_sends(self, refs: list) -> None:
        """Every delivery of this step arrived (a dead neighbour is named, not waited on)."""
        self.waiting = "confirming deliveries to its neighbours"
        for ref in refs:
            if isinstance(ref, Exception):
                raise RuntimeError(f"{self.name(self.index)}: sending to a neighbour failed: "
                                   f"{ref}") from ref
        if not refs:
            return
        ready, pending = ray.wait(refs, num_returns=len(refs), timeout=self.timeout)
        if pending:
            raise TimeoutError(f"{self.name(self.index)}: {len(pending)} deliveries to its "
                               f"neighbours unconfirmed after {self.timeout} s")
        try:
            ray.get(ready)
        except ray.exceptions.RayActorError as e:
            raise RuntimeError(f"{self.name(self.index)}: a neighbour died before taking a "
                               f"delivery: {e}") from e
