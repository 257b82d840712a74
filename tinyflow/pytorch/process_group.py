"""torch.distributed's process-group spellings, re-exported by `tinyflow.distributed`.

tinyflow has no process groups: its data parallelism runs on Ray workers
(`tinyflow.distributed.DataParallel`). Training scripts such as nanoGPT's import these names
at the top and call them only when launched by torchrun, so the names exist, report that no
group is available, and refuse to start one by name.
"""
from __future__ import annotations


def is_available() -> bool:
    """False: no torch.distributed backend (gloo, nccl, mpi) is built in."""
    return False


def is_initialized() -> bool:
    """False: no default process group can exist."""
    return False


def _refuse(name: str) -> RuntimeError:
    return RuntimeError(
        f"{name}: tinyflow has no torch.distributed process groups; run data parallelism on "
        "Ray workers with tinyflow.distributed.DataParallel, or train in one process")


def init_process_group(*args, **kwargs) -> None:
    """Refused: see the module docstring."""
    raise _refuse("init_process_group")


def destroy_process_group(*args, **kwargs) -> None:
    """Refused, as torch refuses it when no group was initialized."""
    raise _refuse("destroy_process_group")
