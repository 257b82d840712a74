"""Arrays in named shared-memory blocks, so processes can train one model (Hogwild).

`Tensor.share_memory_()` moves a tensor's data into a block made here. multiprocessing's
pickler (ForkingPickler: a spawned Process's arguments, a Queue's items) sends such a tensor
as the block's name and the array's place in it, and unpickling maps the same memory, so
every process reads and writes one set of numbers, as PyTorch's shared storages. Any other
pickling (pickle.dump, copy) copies the data, as PyTorch's: a file must not name a block that
dies with its process. A forked child inherits the mapping.
The process that made a block unlinks it once no array of its own views it (or at exit);
processes that only map it never unlink it.
"""
from __future__ import annotations

import mmap
import os
import weakref
from multiprocessing import shared_memory
from multiprocessing.reduction import ForkingPickler

import numpy as np
from numpy.lib.array_utils import byte_bounds

# Blocks this process can see: name -> (first address, size in bytes).
_places: dict = {}
# The memory of each block, mapped once per process: name -> the array a block made here
# (weakly held: its finalizer frees the block) or the mapping of one another process made.
_memory: dict = {}


def share(array: np.ndarray) -> np.ndarray:
    """A C-ordered copy of `array` in a new shared block (the array itself if already in one)."""
    if place_of(array) is not None:
        return array
    block = shared_memory.SharedMemory(create=True, size=max(array.nbytes, 1))
    out = np.ndarray(array.shape, array.dtype, buffer=block.buf)
    out[...] = array
    _places[block.name] = (out.ctypes.data, block.size)
    _memory[block.name] = weakref.ref(out)
    weakref.finalize(out, _release, block, os.getpid())
    return out


def _release(block: shared_memory.SharedMemory, owner: int) -> None:
    """Forget and unlink a block once no array of its maker views it (never in a fork)."""
    _places.pop(block.name, None)
    _memory.pop(block.name, None)
    block.close()
    if os.getpid() == owner:
        block.unlink()


def place_of(array) -> tuple | None:
    """(block name, byte offset of the array's start) if `array` lies in a shared block."""
    if not _places or not isinstance(array, np.ndarray):
        return None
    low, high = byte_bounds(array)
    for name, (start, size) in _places.items():
        if start <= low and high <= start + size:
            return name, array.ctypes.data - start
    return None


def send_by_reference(cls) -> None:
    """Make multiprocessing pickle tensors of `cls` with `cls._reduce_sharing` (the pickler
    looks reducers up by exact type, so each tensor class registers itself)."""
    ForkingPickler.register(cls, cls._reduce_sharing)


class SharedArray:
    """Pickles as a reference to the array's block: it unpickles as a view of that memory."""

    def __init__(self, array: np.ndarray, place: tuple) -> None:
        self.array, self.place = array, place

    def __reduce__(self):
        name, offset = self.place
        return attach, (name, offset, self.array.shape, self.array.strides, self.array.dtype)


def picklable(array):
    """What multiprocessing pickles for a tensor's data: a SharedArray for arrays in a block,
    else the array."""
    place = place_of(array)
    return array if place is None else SharedArray(array, place)


def attach(name: str, offset: int, shape, strides, dtype) -> np.ndarray:
    """A view of a shared block another process made (mapped once per process)."""
    memory = _memory.get(name)
    if isinstance(memory, weakref.ref):   # made here: a view of its own array, if alive
        owned = memory()
        memory = None if owned is None else owned.reshape(-1).view(np.uint8)
    if memory is None:
        memory = _memory[name] = _map(name)
        _places[name] = (np.frombuffer(memory, np.uint8).ctypes.data, len(memory))
    return np.ndarray(shape, dtype, buffer=memory, offset=offset, strides=strides)


def _map(name: str) -> mmap.mmap:
    try:
        fd = os.open(os.path.join("/dev/shm", name.lstrip("/")), os.O_RDWR)
    except FileNotFoundError:
        raise RuntimeError(f"share_memory: the shared block {name} is gone: the process "
                           f"that shared the tensor freed it or exited") from None
    try:
        return mmap.mmap(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)
