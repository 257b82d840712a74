"""Autograd across devices: each worker keeps its own part of the tape; the driver keeps only
the transfers between them, and a backward pass crosses each transfer once, the other way.

A pass starts where the loss lives (a worker, or this process). Then the sources of the
transfers upstream of the loss are visited latest transfer first: a tensor's gradient is
complete once every transfer made after it has been crossed back, since only values computed
after a transfer can reach the tensor it delivered. Each visit takes the gradients the
receivers gathered (one gradient transfer per forward transfer, worker to worker) and runs
the sender's part of the pass from the sent tensor. Parameters' gradients stay in their
worker; their `.grad` is a handle on them, added to as `backward()` adds to `.grad`.
"""
from __future__ import annotations

import threading
import weakref
from typing import Optional

import numpy as np

from ..autodiff.reverse import backward as tensor_backward
from ..core import devices as table
from ..core.errors import implicit_seed_error, no_history_error
from ..core.modes import no_grad
from ..core.tensor import REMOTE, Tensor
from .transfers import STATS

_received_home: dict = {}    # id(local tensor) -> (weak reference, Transfer)


class _Crossing(threading.local):
    active = False           # a local part of a pass is running: it continues nothing itself


_crossing = _Crossing()


def install() -> None:
    table.after_backward = continue_from
    table.crosses_devices = crosses_devices


def mark_received_home(t: Tensor, transfer) -> None:
    """`t` came to this process from a device under autograd: its gradient goes back."""
    key = id(t)
    _received_home[key] = (weakref.ref(t, lambda _ref: _received_home.pop(key, None)),
                           transfer)


def _transfer_of(t: Tensor):
    if t.kind == REMOTE:
        return t.remote.transfer
    entry = _received_home.get(id(t))
    return entry[1] if entry is not None and entry[0]() is t else None


def transfers_upstream(root: Tensor) -> list:
    """(receiving tensor, Transfer) for every transfer under autograd that `root` depends on."""
    found, seen, stack = [], set(), [root]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        transfer = _transfer_of(t)
        if transfer is not None:
            found.append((t, transfer))
            stack.append(transfer.source)
        stack.extend(t.remote.upstream if t.kind == REMOTE else t.inputs)
    return found


def backward(loss: Tensor, gradient=None, retain_graph: bool = False) -> None:
    """`loss.backward()` for a loss on a device."""
    if not loss.requires_grad:
        raise no_history_error("the loss on a device")
    if gradient is None:
        if int(np.prod(loss.shape)) != 1:
            raise implicit_seed_error(tuple(loss.shape))
        seeds = []
    else:
        value = gradient.numpy(force=True) if isinstance(gradient, Tensor) else gradient
        seeds = [np.asarray(value, dtype=loss.dtype.np)]
    visits = _visits(loss)
    last = _last_visit_per_device([loss] + [source for source, _ in visits])
    _remote_pass(loss, seeds, retain_graph or last[loss.remote.device] != 0)
    _cross(visits, retain_graph, last)


def crosses_devices(root: Tensor) -> bool:
    """Does a local `root` depend on a tensor that came here from a device?"""
    return bool(_received_home) and bool(transfers_upstream(root))


def continue_from(root: Tensor, retain_graph: bool) -> None:
    """After a local backward: cross the transfers that brought its inputs here, if any."""
    if _crossing.active or not _received_home:
        return
    visits = _visits(root)
    if visits:
        _cross(visits, retain_graph, _last_visit_per_device([None] + [s for s, _ in visits]))


def _visits(root: Tensor) -> list:
    """(source, its receivers), latest transfer first."""
    groups: dict = {}
    for receiver, transfer in transfers_upstream(root):
        group = groups.setdefault(id(transfer.source), [transfer.source, transfer.seq, []])
        group[1] = min(group[1], transfer.seq)
        group[2].append(receiver)
    return [(source, receivers) for source, _, receivers in
            sorted(groups.values(), key=lambda g: -g[1])]


def _last_visit_per_device(sources: list) -> dict:
    """device -> index of the last visit there (its tape may be freed from then on)."""
    last = {}
    for n, s in enumerate(sources):
        if s is not None and s.kind == REMOTE:
            last[s.remote.device] = n
    return last


def _cross(visits: list, retain_graph: bool, last: dict) -> None:
    for n, (source, receivers) in enumerate(visits, start=1):
        target = table.name_of(source) or "cpu"
        grads = []
        for r in receivers:
            STATS.transfer("gradient", table.name_of(r) or "cpu", target,
                           int(np.prod(r.shape)) * r.dtype.np.itemsize)
            grads.append(_take_grad(r))
        if source.kind == REMOTE:
            keep = retain_graph or last.get(source.remote.device) != n
            _remote_pass(source, grads, keep)
        else:
            _local_pass(source, [r.remote.device.get(g, "gradient") if r.kind == REMOTE
                                 else g for r, g in zip(receivers, grads)])


def _take_grad(receiver: Tensor):
    """The gradient a receiver gathered: an ObjectRef (worker to worker) or an array."""
    if receiver.kind == REMOTE:
        return receiver.remote.device.actor.take_grad.remote(receiver.remote.key)
    g, receiver._grad = receiver._grad, None
    return None if g is None else g.array


def _remote_pass(x: Tensor, grads: list, retain_graph: bool) -> None:
    device = x.remote.device
    handed = device.get(device.actor.backward.remote(x.remote.key, retain_graph,
                                                     device.freed(), *grads), "backward")
    with no_grad():
        for key, own, shape, dtype in handed:
            grad = device.handle(own, shape, dtype)
            param: Optional[Tensor] = device.handles.get(key)
            if param is None:
                continue
            param.grad = grad if param.grad is None else param.grad + grad


def _local_pass(x: Tensor, grads: list) -> None:
    present = [np.asarray(g) for g in grads if g is not None]
    if not present or not x.requires_grad:
        return
    _crossing.active = True
    try:
        tensor_backward(x, Tensor._eager(np.array(sum(present), dtype=x.dtype.np)),
                        retain_graph=True)
    finally:
        _crossing.active = False
