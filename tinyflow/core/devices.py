"""Declared devices: names ('cuda:0', '/job:worker/task:0') mapped to where tensors on them live.

Core keeps the table and routes to it; `tinyflow.distributed` fills it when the user declares
devices (`dist.devices(...)`), each a worker process on Ray. So `x.to('cuda:0')`,
`Module.to('cuda:0')`, `apply` on remote tensors, `backward()` and `tf.device` reach a declared
device without importing upward, as `apply` finds kernels in `core/kernels.py`. A name nobody
declared is not here, and the front ends keep refusing it as before.

A device implements: `name`; `run(op, inputs, out)` (an op on tensors it holds, returning a
remote tensor); `fetch(t)` (the array); `receive(t)` (a copy of `t`, from here or another
device, held by this device: a counted transfer autograd crosses); `send_home(t)` (the same
towards this process); `move_(t)` (a parameter, in place); `detach(t)`; `backward(t, seed,
retain_graph)`; `release(key)`.
"""
from __future__ import annotations

from typing import Optional

from .tensor import EAGER, REMOTE, Tensor

DECLARED: dict = {}   # name -> device; empty until the user declares one
# Set by tinyflow.distributed: runs a TF1 graph whose nodes `tf.device` placed (Session.run),
# and continues a local backward pass into the devices its inputs came from.
graph_runner = None
after_backward = None
# Set with after_backward: does a local tensor depend on a transfer from a device?
crosses_devices = None


class RemoteRef:
    """What a remote tensor holds: its device, its key in that device's table, and (under
    autograd) the remote tensors it was computed from, so a backward finds the transfers
    upstream of a loss; the value is released when the last handle goes."""

    __slots__ = ("device", "key", "upstream", "transfer", "__weakref__")

    def __init__(self, device, key: int, upstream: tuple = (), transfer=None) -> None:
        self.device, self.key, self.upstream, self.transfer = device, key, upstream, transfer

    def __del__(self) -> None:
        try:
            self.device.release(self.key)
        except Exception:   # interpreter shutting down: the worker goes with it
            pass


def declare(name: str, device) -> None:
    DECLARED[str(name)] = device


def forget(name: str) -> None:
    DECLARED.pop(str(name), None)


def lookup(name) -> Optional[object]:
    """The device declared under `name`, or None (the CPU, or a name nobody declared)."""
    return DECLARED.get(str(name)) if isinstance(name, str) else None


def declared() -> list:
    return list(DECLARED)


def is_cpu(name) -> bool:
    """'cpu', 'cpu:0', '/cpu:0', '/device:CPU:0': this process."""
    text = str(name).lower().lstrip("/")
    text = text[len("device:"):] if text.startswith("device:") else text
    return text.split(":")[0] == "cpu"


def released(op, device) -> RuntimeError:
    return RuntimeError(f"{op.name}: an input lived on device {device.name}, which was "
                        f"released")


def run(op, inputs: tuple, out: Optional[Tensor]) -> Tensor:
    """`apply`'s route when an input is remote: the op runs on the device holding them."""
    device = None
    for x in inputs + (() if out is None else (out,)):
        if x is out and x.kind != REMOTE:
            raise RuntimeError(f"{op.name}: out= is on the cpu, the inputs on a device; "
                               f"put all tensors of one op on the same device")
        if x.kind == REMOTE:
            if device is None:
                device = x.remote.device
            elif x.remote.device is not device:
                raise RuntimeError(f"{op.name}: the inputs are on two devices, {device.name} "
                                   f"and {x.remote.device.name}; move them to one with .to()")
    if DECLARED.get(device.name) is not device:
        raise released(op, device)
    for x in inputs:
        if x.kind != REMOTE and (x.kind != EAGER or x.ndim != 0 or x.requires_grad):
            where = "cpu" if x.kind == EAGER else f"a graph ({x.name})"
            raise RuntimeError(f"{op.name}: the inputs are on {device.name} and on {where}; "
                               f"move it with .to('{device.name}')")
    return device.run(op, inputs, out)


def to_device(x: Tensor, name) -> Optional[Tensor]:
    """`x.to(name)` for a declared device or the CPU: a copy held there (x itself if it is
    there already); None if `name` is neither (the caller refuses it)."""
    device = lookup(name)
    if device is not None:
        if x.kind == REMOTE and x.remote.device is device:
            return x
        return device.receive(x)
    if is_cpu(name):
        return x.remote.device.send_home(x) if x.kind == REMOTE else x
    return None


def move_(t: Tensor, name) -> bool:
    """Move a module's parameter or buffer to `name` in place (keeping its identity);
    False if `name` is neither a declared device nor the CPU."""
    device = lookup(name)
    if device is not None:
        if not (t.kind == REMOTE and t.remote.device is device):
            if t.kind == REMOTE:
                t.remote.device.bring_home_(t)
            device.move_(t)
        return True
    if is_cpu(name):
        if t.kind == REMOTE:
            t.remote.device.bring_home_(t)
        return True
    return False


def name_of(x: Tensor) -> Optional[str]:
    """The device a tensor lives on, None for this process."""
    return x.remote.device.name if x.kind == REMOTE else None
