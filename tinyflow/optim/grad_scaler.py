"""Dynamic loss scaling for float16 / bfloat16 training (PyTorch's `torch.amp.GradScaler`):
the loss is multiplied by a large scale so small gradients survive the low dtype; the
gradients are divided by it before the step, and a step whose gradients hold inf or NaN is
skipped and the scale shrunk, while a run of good steps grows it again."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..core.modes import no_grad
from ..core.tensor import Tensor

_READY, _UNSCALED, _STEPPED = "ready", "unscaled", "stepped"


class GradScaler:
    """`scaler.scale(loss).backward(); scaler.step(opt); scaler.update()`, as PyTorch's.

    Args:
        device: accepted for PyTorch's signature ("cpu", "cuda"); tinyflow runs on the CPU.
        init_scale: the first scale. growth_factor / backoff_factor: multiply the scale
            after `growth_interval` good steps in a row / after a step with inf or NaN.
        enabled: False makes every method a pass-through (the same code without scaling).
    """

    def __init__(self, device: str = "cpu", init_scale: float = 2.0 ** 16,
                 growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True) -> None:
        if growth_factor <= 1.0:
            raise ValueError(f"GradScaler: growth_factor must be > 1, got {growth_factor}")
        if not 0.0 < backoff_factor < 1.0:
            raise ValueError(f"GradScaler: backoff_factor must be < 1, got {backoff_factor}")
        # a 0-d tensor, as PyTorch's: a compiled step reads it by reference, so a new scale
        # needs no recompile and is never a stale constant baked into the graph
        self._scale_tensor = Tensor._eager(np.array(init_scale, np.float32))
        self._growth_factor, self._backoff_factor = float(growth_factor), float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._growth_tracker = 0
        self._enabled = bool(enabled)
        self._per_optimizer: dict[int, dict] = {}

    # ---- the three calls of a training step ----------------------------------------------
    def scale(self, outputs):
        """outputs times the scale (a tensor, or a list/tuple of them)."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        if not isinstance(outputs, Tensor):
            raise TypeError(f"GradScaler.scale: expected a tensor, got {type(outputs).__name__}")
        return outputs * self._scale_tensor

    @property
    def _scale(self) -> float:
        return float(self._scale_tensor.array)

    @_scale.setter
    def _scale(self, value: float) -> None:
        self._scale_tensor.array[()] = value

    def unscale_(self, optimizer) -> None:
        """Divide the optimizer's gradients by the scale in place (before clipping them) and
        note whether any is inf or NaN."""
        if not self._enabled:
            return
        state = self._state(optimizer)
        if state["stage"] == _UNSCALED:
            raise RuntimeError("GradScaler.unscale_: this optimizer's gradients are already "
                               "unscaled; call it once per update()")
        if state["stage"] == _STEPPED:
            raise RuntimeError("GradScaler.unscale_: step() already ran for this optimizer; "
                               "unscale before step()")
        inverse = 1.0 / self._scale
        found_inf = False
        with no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    grad = p.grad.numpy()
                    grad *= np.asarray(inverse, grad.dtype)
                    found_inf = found_inf or not np.isfinite(grad).all()
        state["found_inf"], state["stage"] = found_inf, _UNSCALED

    def step(self, optimizer, *args, **kwargs) -> Optional[Any]:
        """optimizer.step() unless the (unscaled) gradients hold inf or NaN: then nothing
        changes and None is returned."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        state = self._state(optimizer)
        if state["stage"] == _STEPPED:
            raise RuntimeError("GradScaler.step: already called for this optimizer; call "
                               "update() before the next step()")
        if state["stage"] == _READY:
            self.unscale_(optimizer)
        state["stage"] = _STEPPED
        return None if state["found_inf"] else optimizer.step(*args, **kwargs)

    def update(self, new_scale: Optional[float] = None) -> None:
        """Shrink the scale after a skipped step, grow it after `growth_interval` good ones
        in a row; or set `new_scale`."""
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = float(new_scale.item() if isinstance(new_scale, Tensor)
                                else new_scale)
        else:
            if not self._per_optimizer:
                raise AssertionError("GradScaler.update: no step() or unscale_() ran since "
                                     "the last update, so there is nothing to update from")
            if any(s["found_inf"] for s in self._per_optimizer.values()):
                self._scale *= self._backoff_factor
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    self._scale *= self._growth_factor
                    self._growth_tracker = 0
        self._per_optimizer.clear()

    def _state(self, optimizer) -> dict:
        return self._per_optimizer.setdefault(id(optimizer), {"stage": _READY,
                                                               "found_inf": False})

    # ---- the rest of PyTorch's surface ---------------------------------------------------
    def get_scale(self) -> float:
        return self._scale if self._enabled else 1.0

    def is_enabled(self) -> bool:
        return self._enabled

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def state_dict(self) -> dict:
        if not self._enabled:
            return {}
        return {"scale": self._scale, "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval, "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict: dict) -> None:
        if not state_dict:
            raise RuntimeError("GradScaler.load_state_dict: the state is empty (a disabled "
                               "GradScaler saves nothing)")
        self._scale = float(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])
