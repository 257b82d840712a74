"""The process behind one declared device: a table of the tensors it holds, with their own
autograd tape, and the runner of its TF1 graph partitions.

The driver names every value by a key it chose (the worker's own keys, for gradients it hands
back, are negative). Ops arrive one call each and run through `apply` here, so this worker's
tape records them; `backward` runs this worker's part of a backward pass and keeps the
gradients of the tensors it received from elsewhere until the driver takes them back to
their sender. TF1 partitions (distributed/partition.py) exchange values through `deliver`,
which runs beside a partition that waits in a recv (a second concurrency group).
"""
from __future__ import annotations

import threading

import numpy as np
import ray

from ..autodiff.reverse import backward as tensor_backward
from ..core.graph import topo_sort
from ..core.modes import set_grad_enabled
from ..core.op import apply
from ..core.tensor import Tensor
from .partition import run_partition


@ray.remote(num_cpus=0, concurrency_groups={"mail": 2})
class DeviceWorker:
    """One logical device. Compute calls run one at a time, in the order the driver made
    them (it waits for each); `deliver` runs in its own group so a partition's recv can wait
    for a peer's send."""

    def __init__(self, name: str) -> None:
        import tinyflow  # noqa: F401  (the Tensor methods ops' rules use)
        self.name = name
        self.values: dict[int, Tensor] = {}
        self.received: set[int] = set()      # keys of tensors received under autograd
        self.next_own_key = -1
        self.partitions: dict = {}           # TF1: plan id -> partition
        self.variables: dict = {}            # TF1: variable name -> array
        self.mail: dict = {}                 # TF1: (run id, slot) -> array
        self.mail_arrived = threading.Condition()
        self.aborted: set = set()            # TF1: runs stopped because a device failed

    def ping(self) -> str:
        return self.name

    # ---- eager tensors -----------------------------------------------------------------
    def put(self, key: int, array, requires_grad: bool, received: bool, free=()) -> None:
        """Hold `array` (sent from the driver or from another device) under `key`;
        `received`: a transfer under autograd, whose gradient goes back to its sender."""
        self._free(free)
        self.values[key] = Tensor._eager(np.array(array), requires_grad=requires_grad)
        if received:
            self.received.add(key)

    def run(self, op, args: list, key: int, into, grad_enabled: bool, free=()) -> tuple:
        """`apply(op, *inputs)` on held tensors (and scalars sent along); returns the result's
        (shape, dtype name, requires_grad)."""
        self._free(free)
        inputs = [self.values[a] if kind == "key" else Tensor._eager(a) for kind, a in args]
        with set_grad_enabled(grad_enabled):
            out = apply(op, *inputs, out=None if into is None else self.values[into])
        self.values[key] = out
        return tuple(out.shape), out.dtype.name, out.requires_grad

    def set_requires_grad(self, key: int, requires_grad: bool, free=()) -> None:
        self._free(free)
        self.values[key].requires_grad_(requires_grad)

    def detach(self, key: int, new_key: int, free=()) -> None:
        self._free(free)
        self.values[new_key] = self.values[key].detach()

    def fetch(self, key: int) -> np.ndarray:
        return self.values[key].array

    def release(self, free) -> None:
        self._free(free)

    def _free(self, keys) -> None:
        for k in keys:
            self.values.pop(k, None)
            self.received.discard(k)

    # ---- autograd ----------------------------------------------------------------------
    def backward(self, key: int, retain_graph: bool, free, *grads) -> list:
        """This worker's part of a backward pass from `values[key]`, seeded with the sum of
        `grads` (ones when none: a scalar loss). Tensors received from elsewhere keep their
        gradient for `take_grad`; the others the driver holds hand theirs back, as
        [(key, gradient key, shape, dtype name)], the driver adding them to `.grad`."""
        self._free(free)
        root = self.values[key]
        present = [np.asarray(g) for g in grads if g is not None]
        if grads and not present:
            return []                      # nothing reached this tensor
        seed = np.ones(root.shape, root.dtype.np) if not grads else sum(present)
        if not root.requires_grad:
            return []
        keyed = {id(t): k for k, t in self.values.items()}
        order = topo_sort([root])
        targets = [t for t in order if t.requires_grad and t._op is None and id(t) in keyed]
        if not targets:
            return []
        for t in targets:
            if keyed[id(t)] not in self.received:
                t.grad = None
        with set_grad_enabled(True):
            tensor_backward(root, Tensor._eager(seed.astype(root.dtype.np, copy=False)),
                            retain_graph=retain_graph, inputs=targets)
        handed = []
        for t in targets:
            k = keyed[id(t)]
            if k in self.received or t.grad is None:
                continue
            own = self.next_own_key
            self.next_own_key -= 1
            self.values[own], t.grad = t.grad, None
            handed.append((k, own, tuple(self.values[own].shape), self.values[own].dtype.name))
        return handed

    def take_grad(self, key: int):
        """The gradient a received tensor gathered (None if the pass never reached it): it
        goes back to the device that sent the tensor."""
        t = self.values.get(key)
        if t is None or t.grad is None:
            return None
        g, t.grad = t.grad.array, None
        return g

    # ---- TF1 partitions ----------------------------------------------------------------
    def install(self, plan_id: int, partition, peers: dict) -> None:
        self.partitions[plan_id] = (partition, peers)

    def uninstall(self, plan_id: int) -> None:
        """Forget a partition whose plan is gone (its Session closed or was collected)."""
        self.partitions.pop(plan_id, None)

    def installed(self) -> list:
        """The plan ids of the TF1 partitions this worker holds."""
        return sorted(self.partitions)

    def run_partition(self, plan_id: int, run_id: int, feeds: dict, timeout: float) -> dict:
        partition, peers = self.partitions[plan_id]
        return run_partition(self, partition, peers, run_id, feeds, timeout)

    @ray.method(concurrency_group="mail")
    def deliver(self, run_id: int, slot, array) -> None:
        with self.mail_arrived:
            self.mail[(run_id, slot)] = array
            self.mail_arrived.notify_all()

    @ray.method(concurrency_group="mail")
    def abort(self, run_id: int) -> None:
        with self.mail_arrived:
            self.aborted.add(run_id)
            self.mail_arrived.notify_all()

    def wait_for(self, run_id: int, slot, timeout: float, what: str):
        """The value a peer sends for `slot` in this run (a partition's recv)."""
        def arrived():
            return (run_id, slot) in self.mail or run_id in self.aborted
        with self.mail_arrived:
            if not self.mail_arrived.wait_for(arrived, timeout):
                raise TimeoutError(f"device {self.name}: recv of {what} timed out after "
                                   f"{timeout} s")
            if (run_id, slot) not in self.mail:
                raise RuntimeError(f"device {self.name}: run {run_id} aborted while waiting "
                                   f"for {what} (another device failed)")
            return self.mail.pop((run_id, slot))

    def read_variables(self, names: list) -> dict:
        return {n: self.variables[n] for n in names if n in self.variables}
