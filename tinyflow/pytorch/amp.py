"""Mixed precision as PyTorch spells it: `torch.autocast`, `torch.amp.autocast`,
`torch.amp.GradScaler`, `torch.cpu.amp.autocast`, `torch.cuda.amp.GradScaler`; and fp8
products (`fp8_autocast`, Transformer Engine's spelling). The context managers live in
core/modes.py, the loss scaler in optim/grad_scaler.py."""
from __future__ import annotations

from ..core.dtypes import float16
from ..core.modes import (Fp8Recipe, autocast, fp8_autocast, get_autocast_dtype,
                          is_autocast_enabled)
from ..optim.grad_scaler import GradScaler


class amp:  # noqa: N801  (torch.amp namespace)
    autocast = autocast
    GradScaler = GradScaler
    fp8_autocast = fp8_autocast
    Fp8Recipe = Fp8Recipe

    @staticmethod
    def is_autocast_available(device_type: str = "cpu") -> bool:
        return device_type in ("cpu", "cuda")


class _cpu_autocast(autocast):  # noqa: N801
    """`torch.cpu.amp.autocast(enabled=True, dtype=torch.bfloat16)`: no device argument."""

    def __init__(self, enabled: bool = True, dtype=None, cache_enabled=None) -> None:
        super().__init__("cpu", dtype, enabled, cache_enabled)


class _cuda_autocast(autocast):  # noqa: N801
    """`torch.cuda.amp.autocast(enabled=True, dtype=torch.float16)`: the CPU stands in."""

    def __init__(self, enabled: bool = True, dtype=None, cache_enabled=None) -> None:
        super().__init__("cuda", float16 if dtype is None else dtype, enabled, cache_enabled)


class cpu:  # noqa: N801  (torch.cpu namespace)
    class amp:  # noqa: N801
        autocast = _cpu_autocast
        GradScaler = GradScaler


class cuda_amp:  # noqa: N801  (torch.cuda.amp, reached as tinyflow.cuda.amp)
    autocast = _cuda_autocast
    GradScaler = GradScaler

