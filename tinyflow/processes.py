"""`torch.multiprocessing`: Python's multiprocessing (tensors pickle by value, except those
moved into shared memory by `share_memory_()`/`Module.share_memory()`, which its pickler
sends as a reference to their block: core/shared_memory.py), plus `spawn`, which starts
`nprocs` processes running `fn(i, *args)` as PyTorch's does.

Importable as `tinyflow.multiprocessing` (tinyflow/__init__.py registers it): a file of that
name in the package would shadow the standard library's for any process that has the
package's own folder on its path (a Ray head started with it hung on import)."""
from __future__ import annotations

import multiprocessing as _mp
from multiprocessing import *  # noqa: F401,F403


def spawn(fn, args: tuple = (), nprocs: int = 1, join: bool = True, daemon: bool = False,
          start_method: str = "spawn"):
    """Run fn(i, *args) for i in range(nprocs), each in its own process; with join, wait and
    raise if any exited with an error (else return the processes)."""
    ctx = _mp.get_context(start_method)
    procs = [ctx.Process(target=fn, args=(i,) + tuple(args), daemon=daemon)
             for i in range(nprocs)]
    for p in procs:
        p.start()
    if not join:
        return procs
    for p in procs:
        p.join()
    failed = [(i, p.exitcode) for i, p in enumerate(procs) if p.exitcode != 0]
    if failed:
        raise RuntimeError(f"spawn: process {failed[0][0]} terminated with exit code "
                           f"{failed[0][1]}")
    return None
