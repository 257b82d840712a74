"""Logical devices on Ray: `dist.devices({"cuda:0": {}, "cuda:1": {}})` declares names, each a
worker process (an actor: on this machine, or on a cluster joined with
`dist.init(address=...)`). A tensor or module moved there lives in that worker; the driver
holds a handle (a remote tensor: shape, dtype, device). Ops on handles run in their worker,
one call each; moving between devices is an explicit transfer, counted in
`dist.transfer_stats()`; autograd crosses transfers (remote_autograd.py).
"""
from __future__ import annotations

import itertools
import weakref
from typing import Optional, Union

import numpy as np
import ray

from ..core import devices as table
from ..core import dtypes
from ..core.modes import grad_mode
from ..core.tensor import REMOTE, Tensor, become_eager, become_remote
from ..core.devices import RemoteRef
from . import remote_autograd
from .collective import STARTUP_TIMEOUT
from .graph_placement import run_placed_graph
from .transfers import STATS, DeviceError, Transfer
from .worker import DeviceWorker

DEFAULT_TIMEOUT = 120.0


class RemoteDevice:
    """The driver's side of one declared device: its actor, its keys, the calls to it."""

    def __init__(self, name: str, options: Optional[dict], timeout: float) -> None:
        self.name = name
        self.timeout = timeout
        self.actor = DeviceWorker.options(**(options or {})).remote(name)
        self.keys = itertools.count()
        self.to_free: list = []
        self.handles: weakref.WeakValueDictionary = weakref.WeakValueDictionary()

    def __repr__(self) -> str:
        return f"<device {self.name!r}: a Ray worker>"

    # ---- calls -------------------------------------------------------------------------
    def get(self, ref, what: str, timeout: Optional[float] = None):
        """Wait for a call's result, never forever: a dead or silent worker is an error
        naming this device."""
        STATS.call(self.name)
        timeout = self.timeout if timeout is None else timeout
        try:
            return ray.get(ref, timeout=timeout)
        except ray.exceptions.GetTimeoutError:
            raise DeviceError(f"device {self.name!r}: {what} got no answer within "
                              f"{timeout} s (is its worker alive?)") from None
        except ray.exceptions.RayActorError as e:
            raise DeviceError(f"device {self.name!r}: its worker died during {what} "
                              f"({type(e).__name__})") from None
        except ray.exceptions.RayTaskError as e:
            raise _from_worker(e, self.name, what) from None

    def release(self, key: int) -> None:
        self.to_free.append(key)   # sent along with the next call (never from __del__)

    def freed(self) -> list:
        keys, self.to_free = self.to_free, []
        return keys

    def handle(self, key: int, shape, dtype, requires_grad: bool = False,
               upstream: tuple = (), transfer=None) -> Tensor:
        t = Tensor._remote(RemoteRef(self, key, upstream, transfer), shape,
                           dtypes.as_dtype(dtype), requires_grad)
        self.handles[key] = t
        return t

    # ---- the interface core/devices.py routes to ---------------------------------------
    def run(self, op, inputs: tuple, out: Optional[Tensor]) -> Tensor:
        args = [("key", x.remote.key) if x.kind == REMOTE else ("value", x.array)
                for x in inputs]
        key = next(self.keys)
        into = None if out is None else out.remote.key
        shape, dtype, requires_grad = self.get(
            self.actor.run.remote(op, args, key, into, grad_mode.enabled, self.freed()),
            f"{op.name}")
        upstream = tuple(x for x in inputs if x.kind == REMOTE) if requires_grad else ()
        if out is not None:    # written into out's own buffer: the caller's handle sees it
            self.release(key)
            return out
        return self.handle(key, shape, dtype, requires_grad, upstream)

    def set_requires_grad(self, x: Tensor, requires_grad: bool) -> None:
        self.get(self.actor.set_requires_grad.remote(x.remote.key, requires_grad,
                                                     self.freed()), "requires_grad_")

    def fetch(self, x: Tensor) -> np.ndarray:
        array = self.get(self.actor.fetch.remote(x.remote.key), "fetch")
        STATS.transfer("to_host", self.name, "cpu", array.nbytes)
        return array

    def detach(self, x: Tensor) -> Tensor:
        key = next(self.keys)
        self.get(self.actor.detach.remote(x.remote.key, key, self.freed()), "detach")
        return self.handle(key, x.shape, x.dtype)

    def receive(self, x: Tensor) -> Tensor:
        """A copy of `x` (from this process or another device) held here; under autograd the
        copy is a leaf of this worker's tape whose gradient goes back to x's device."""
        tracked = grad_mode.enabled and x.requires_grad
        key = next(self.keys)
        nbytes = int(np.prod(x.shape)) * x.dtype.np.itemsize
        if x.kind == REMOTE:
            source = x.remote.device
            value = source.actor.fetch.remote(x.remote.key)   # goes worker to worker
            STATS.transfer("activation", source.name, self.name, nbytes)
        else:
            value = x._require_data(f"to('{self.name}')")
            STATS.transfer("activation", "cpu", self.name, nbytes)
        self.get(self.actor.put.remote(key, value, tracked, tracked, self.freed()),
                 f"receive from {table.name_of(x) or 'cpu'}")
        if not tracked:
            return self.handle(key, x.shape, x.dtype)
        return self.handle(key, x.shape, x.dtype, True, (x,), Transfer(x))

    def send_home(self, x: Tensor) -> Tensor:
        """A copy of `x` in this process; under autograd a leaf whose gradient goes back."""
        array = np.array(self.fetch(x))
        tracked = grad_mode.enabled and x.requires_grad
        out = Tensor._eager(array, requires_grad=tracked)
        if tracked:
            remote_autograd.mark_received_home(out, Transfer(x))
        return out

    def move_(self, t: Tensor) -> None:
        """Move a parameter or buffer here in place (Module.to): the same Python object
        becomes a handle; its gradient, if any, moves with it."""
        key = next(self.keys)
        self.get(self.actor.put.remote(key, t.array, t.requires_grad, False, self.freed()),
                 "move")
        STATS.transfer("parameter", "cpu", self.name, t.array.nbytes)
        grad = t._grad
        become_remote(t, RemoteRef(self, key), t.shape, t.dtype)
        self.handles[key] = t
        t._grad = None if grad is None else self.receive(grad.detach())

    def bring_home_(self, t: Tensor) -> None:
        """Back to this process in place (Module.to('cpu'))."""
        grad = t._grad
        become_eager(t, np.array(self.fetch(t)))
        t._grad = None if grad is None else Tensor._eager(np.array(self.fetch(grad)))

    def backward(self, x: Tensor, gradient, retain_graph: bool) -> None:
        remote_autograd.backward(x, gradient, retain_graph)


def _from_worker(e, device: str, what: str) -> Exception:
    """An exception raised in a worker, re-raised here as its own class when it can be,
    with the device named."""
    cause = getattr(e, "cause", None)
    if isinstance(cause, Exception):
        try:
            return type(cause)(f"on device {device!r} ({what}): {cause}")
        except Exception:
            pass
    return DeviceError(f"device {device!r}: {what} failed: {e}")


# ---- the user's API --------------------------------------------------------------------

def devices(spec: Union[dict, list, tuple], timeout: float = DEFAULT_TIMEOUT) -> dict:
    """Declare logical devices: `{"cuda:0": {}, "cuda:1": {"num_gpus": 1}}` (name -> Ray
    actor options, e.g. resources that pin it to a node of a cluster) or a list of names.
    Starts one worker per name (Ray must be up: `dist.init()`); returns name -> device.
    A name declared again gets a fresh worker."""
    if not ray.is_initialized():
        raise RuntimeError("dist.devices: Ray is not running; call dist.init() (this "
                           "machine) or dist.init(address='auto') (a cluster) first")
    spec = dict.fromkeys(spec, None) if isinstance(spec, (list, tuple)) else dict(spec)
    made = {}
    for name, options in spec.items():
        if not isinstance(name, str) or table.is_cpu(name):
            raise ValueError(f"dist.devices: {name!r} cannot name a device (the CPU is this "
                             f"process)")
        made[name] = RemoteDevice(name, options, timeout)
    for device in made.values():
        device.get(device.actor.ping.remote(), "start-up", max(timeout, STARTUP_TIMEOUT))
    for name, device in made.items():
        table.declare(name, device)
    table.graph_runner = run_placed_graph
    remote_autograd.install()
    return made


def release_devices() -> None:
    """Forget every declared device and stop its worker."""
    for name in table.declared():
        device = table.lookup(name)
        table.forget(name)
        if isinstance(device, RemoteDevice):
            ray.kill(device.actor)
    table.graph_runner = table.after_backward = table.crosses_devices = None


def transfer_stats(reset: bool = False) -> dict:
    """What crossed between processes since the last reset: `transfers[(kind, from, to)]`
    (kind: "activation" forward, "gradient" backward, "parameter", "to_host", "send" for
    TF1 cut edges, "feed", "fetch"), their `bytes`, and `calls` (round trips) per device."""
    out = STATS.snapshot()
    if reset:
        STATS.reset()
    return out


def reset_transfer_stats() -> None:
    STATS.reset()
