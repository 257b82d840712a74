"""`DataParallel`: replicate the model on every worker, split each batch, sum the gradients
with ring all-reduce, step every replica identically (as PyTorch's DDP).

Worker 0's parameters are broadcast once, so replicas start equal whatever each process's
random initialization was. Gradients are all-reduced in buckets of about `bucket_bytes`,
filled in the reverse of the parameters' order (roughly the order backward produces them).
With an eager module and `overlap=True`, a post-accumulate-grad hook on every parameter
hands a bucket to the worker's communication thread as soon as its last gradient is final,
so its all-reduce runs while backward goes on through the earlier layers; a TF1 graph's
gradients come out of one `Session.run`, so its buckets are reduced after it. Each worker
scales its gradients by its share of the batch (n_i / n) before the sum, so the result is
the gradient of the mean loss over the whole batch, and every replica receives the same bits
from the ring and applies the same update rule to them.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional

import numpy as np
import ray

from ..core.tensor import Tensor
from ..pytorch.creation import tensor
from .collective import Communicator, Group, GroupJob
from .rules import SGD, UpdateRule
from .trainer import ModuleModel


def make_buckets(named_arrays: list, bucket_bytes: int) -> list:
    """Keys in buckets of about `bucket_bytes` (one dtype each), taken from the end of
    `named_arrays` [(key, array)] first: the last layer's gradients are ready first."""
    buckets, size, dtype = [], 0, None
    for key, a in reversed(named_arrays):
        if not buckets or size + a.nbytes > bucket_bytes or a.dtype != dtype:
            buckets.append([])
            size, dtype = 0, a.dtype
        buckets[-1].append(key)
        size += a.nbytes
    return buckets


class Replica:
    """One worker's model, update rule, buckets and communication thread (built on the
    worker actor by `Group.install`)."""

    def __init__(self, comm: Communicator, make_model: Callable, optimizer, bucket_bytes: int,
                 overlap: bool) -> None:
        self.comm, self.model, self.overlap = comm, make_model(), overlap
        self.eager = isinstance(self.model, ModuleModel)
        values = self.model.arrays()
        self.buckets = make_buckets(list(values.items()), bucket_bytes)
        self.bucket_of = {k: b for b, keys in enumerate(self.buckets) for k in keys}
        self.shapes = {k: (v.shape, v.dtype) for k, v in values.items()}
        if isinstance(optimizer, UpdateRule):
            self.rule, self.optimizer = optimizer, None
            self.state = {k: optimizer.init_state(v) for k, v in values.items()}
        elif self.eager:                     # a factory: parameters -> tinyflow optimizer
            self.rule, self.optimizer = None, optimizer(list(self.model.params.values()))
        else:
            raise TypeError("a TF1 GraphModel takes an update rule (dist.SGD, dist.Adam, ...) "
                            f"as its optimizer, got {optimizer!r}")
        self.comm_thread = ThreadPoolExecutor(1, thread_name_prefix="allreduce")
        self.data = None
        self.timings: list = []
        if self.eager:
            for k, p in self.model.params.items():
                p.register_post_accumulate_grad_hook(self._hook(k))

    def close(self) -> None:
        """Stop the communication thread (`uninstall` calls this)."""
        self.comm_thread.shutdown(wait=True)

    # ---- set-up ----------------------------------------------------------------------------
    def broadcast_parameters(self) -> None:
        """Every replica takes worker 0's values, one message stream per bucket."""
        values = self.model.arrays()
        for keys in self.buckets:
            flat = self.comm.broadcast(_flatten(values, keys), root=0)
            values.update(self._unflatten(flat, keys))
        self.model.set(values)

    def load(self, data: tuple) -> None:
        self.data = data

    # ---- one step ----------------------------------------------------------------------------
    def step(self, x: np.ndarray, y: np.ndarray, weight: float) -> float:
        """Gradients of this worker's shard, summed over the group (each scaled by its share
        `weight` of the batch), then one update; returns weight x the local loss."""
        start = time.perf_counter()
        self.weight, self.pending, self.ready = weight, [], [set() for _ in self.buckets]
        if self.eager:
            loss, grads = self._eager_backward(x, y)
        else:
            loss, grads = self.model.gradients(x, y)
            self.grads = grads
        backward_done = time.perf_counter()
        started = {b for b, _ in self.pending}        # by the hooks, during backward
        for b in range(len(self.buckets)):           # after backward: what was not started
            if b not in started:
                self.pending.append((b, self.comm_thread.submit(self._reduce, b)))
        for _, future in self.pending:
            future.result()
        reduced = time.perf_counter()
        self._update()
        self.timings.append((backward_done - start, reduced - backward_done,
                             time.perf_counter() - start, len(started)))
        return weight * loss

    def step_indices(self, indices: np.ndarray, weight: float) -> float:
        x, y = self.data
        return self.step(x[indices], y[indices], weight)

    def _eager_backward(self, x, y) -> tuple:
        for p in self.model.params.values():
            p.grad = None
        self.grads = {}
        loss = self.model.loss_fn(self.model.module(tensor(x)), tensor(y))
        loss.backward()
        return loss.item(), self.grads

    def _hook(self, key: str) -> Callable:
        def on_grad(param: Tensor) -> None:
            self.grads[key] = param.grad.array
            b = self.bucket_of[key]
            self.ready[b].add(key)
            if self.overlap and len(self.ready[b]) == len(self.buckets[b]):
                self.pending.append((b, self.comm_thread.submit(self._reduce, b)))
        return on_grad

    def _reduce(self, b: int) -> None:
        """All-reduce bucket b (on the communication thread); a missing gradient is zeros."""
        keys = self.buckets[b]
        grads = {k: self.grads.get(k) for k in keys}
        grads = {k: np.zeros(*self.shapes[k]) if g is None else g for k, g in grads.items()}
        flat = _flatten(grads, keys)
        flat *= self.weight
        self.grads.update(self._unflatten(self.comm.all_reduce(flat), keys))

    def _update(self) -> None:
        if self.rule is None:                              # a tinyflow optimizer
            for k, p in self.model.params.items():
                p.grad = Tensor._eager(self.grads[k])
            self.optimizer.step()
            return
        values = self.model.arrays()
        new = {k: self.rule.apply(v, self.grads[k], self.state[k]) for k, v in values.items()}
        self.model.set(new)

    def _unflatten(self, flat: np.ndarray, keys: list) -> dict:
        out, pos = {}, 0
        for k in keys:
            shape, dtype = self.shapes[k]
            n = int(np.prod(shape))
            out[k] = flat[pos:pos + n].reshape(shape).astype(dtype, copy=True)
            pos += n
        return out

    # ---- reading ------------------------------------------------------------------------------
    def arrays(self) -> dict:
        return self.model.arrays()

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.model.predict(x).argmax(-1) == y))

    def get_timings(self) -> list:
        return self.timings


def _flatten(arrays: dict, keys: list) -> np.ndarray:
    return np.concatenate([np.asarray(arrays[k]).reshape(-1) for k in keys])


class DataParallel(GroupJob):
    """Train `make_model()` (a `ModuleModel` or `GraphModel`, built in every worker) on
    `num_workers` replicas.

    Args:
        optimizer: an update rule (`dist.SGD(0.1)`, `dist.Adam(...)`), or for an eager
            module a factory `params -> tinyflow optimizer` (`lambda p: optim.SGD(p, 0.1)`).
        bucket_bytes: gradient bytes per all-reduce (PyTorch DDP: 25 MB; small models want
            smaller buckets to overlap at all).
        overlap: start a bucket's all-reduce during backward (True) or after it (False).
        group: an existing `Group` to run on (its workers host this job); by default a new
            one with `timeout` and `latency` (seconds slept per message, for experiments).
    """

    def __init__(self, make_model: Callable, optimizer=SGD(0.1), num_workers: int = 2,
                 bucket_bytes: int = 1 << 20, overlap: bool = True, timeout: float = 30.0,
                 latency: float = 0.0, group: Optional[Group] = None,
                 env: Optional[dict] = None) -> None:
        super().__init__(group, lambda: Group(num_workers, timeout, latency, env=env),
                         "data_parallel", Replica, make_model, optimizer, bucket_bytes, overlap)
        self.group.invoke(self.key, "broadcast_parameters")

    @property
    def num_workers(self) -> int:
        return self.group.size

    def _shards(self, n_examples: int) -> list:
        if n_examples < self.num_workers:
            raise ValueError(f"DataParallel: a batch of {n_examples} example(s) cannot be "
                             f"split across {self.num_workers} workers")
        return np.array_split(np.arange(n_examples), self.num_workers)

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One step on the batch (x, y), each worker on its slice; the batch's mean loss."""
        shards = self._shards(len(x))
        weights = [len(s) / len(x) for s in shards]
        losses = self.group.invoke(self.key, "step", [x[s] for s in shards],
                                   [y[s] for s in shards], weights)
        return float(sum(losses))

    def fit(self, x: np.ndarray, y: np.ndarray, epochs: int = 1, batch_size: int = 64,
            seed: int = 0) -> list:
        """`epochs` passes over (x, y) in shuffled batches; the data goes to each worker once
        (Ray's object store) and each step sends only indices. Returns the step losses."""
        n = self.num_workers
        self._shards(batch_size)                       # refuse a batch smaller than n
        self.group.invoke(self.key, "load", [ray.put((x, y))] * n)
        rng, losses = np.random.default_rng(seed), []
        for _ in range(epochs):
            order = rng.permutation(len(x))
            for pos in range(0, len(x) - batch_size + 1, batch_size):
                batch = order[pos:pos + batch_size]
                shards = np.array_split(batch, n)
                weights = [len(s) / len(batch) for s in shards]
                losses.append(float(sum(self.group.invoke(self.key, "step_indices", shards,
                                                          weights))))
        return losses

    def parameters(self) -> list:
        """Every replica's parameters ({key: array}), in rank order."""
        return self.group.invoke(self.key, "arrays")

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        """Share of argmax(logits) == y, by worker 0's replica."""
        ref = self.group.workers[0].invoke.remote(self.key, "accuracy", x, y)
        return self.group.gather([ref], "accuracy")[0]

    def timings(self) -> list:
        """Per worker, per step: (backward s, waiting for all-reduce after it s, step s,
        buckets whose all-reduce started during backward)."""
        return self.group.invoke(self.key, "get_timings")

