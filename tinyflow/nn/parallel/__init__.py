"""`torch.nn.parallel` as PyTorch has it without GPUs: `DataParallel` wraps the module (its
state-dict keys gain `module.`) and calls it unchanged; `DistributedDataParallel` needs a
torch.distributed process group, which tinyflow does not have, and says so. tinyflow's data
parallelism runs on Ray: `tinyflow.distributed.DataParallel`."""
from __future__ import annotations

from ..modules.module import Module

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]


class DataParallel(Module):
    """`DataParallel(module, device_ids=None, output_device=None, dim=0)`: with no GPU to
    scatter to, forward is `module(*inputs, **kwargs)` (as torch's with no devices)."""

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0):
        super().__init__()
        self.module = module
        self.device_ids: list = []
        self.output_device = None
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim: int = 0,
                  module_kwargs=None):
    """The functional form: `module(*inputs, **module_kwargs)` here."""
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    return module(*inputs, **(module_kwargs or {}))


class DistributedDataParallel(Module):
    """Refused with the reason: it all-reduces over a process group
    (`torch.distributed.init_process_group`), which tinyflow does not provide."""

    def __init__(self, module: Module, *args, **kwargs):
        raise RuntimeError(
            "DistributedDataParallel: the default process group has not been initialized, "
            "and tinyflow has no torch.distributed process groups (init_process_group); "
            "run data parallelism on Ray workers with tinyflow.distributed.DataParallel, or "
            "train in one process without the wrapper")
