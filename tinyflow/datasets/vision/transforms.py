"""torchvision's `Compose`, `ToTensor`, `Normalize` and `Lambda` on NumPy images/tensors."""
from __future__ import annotations

import numpy as np

from ...core.tensor import Tensor


class Compose:
    def __init__(self, transforms) -> None:
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x


class ToTensor:
    """An [H, W] or [H, W, C] image (uint8 in [0, 255], or any array) to a float32 [C, H, W]
    tensor, uint8 scaled to [0, 1], as torchvision's."""

    def __call__(self, image) -> Tensor:
        a = np.asarray(image)
        scale = 1.0 / 255.0 if a.dtype == np.uint8 else 1.0
        a = a[:, :, None] if a.ndim == 2 else a
        if a.ndim != 3:
            raise ValueError(f"ToTensor: expected an [H, W] or [H, W, C] image, got shape "
                             f"{a.shape}")
        return Tensor._eager(np.ascontiguousarray(a.transpose(2, 0, 1), np.float32) * scale)


class Normalize:
    """(x - mean[c]) / std[c] per channel of a [..., C, H, W] float tensor."""

    def __init__(self, mean, std, inplace: bool = False) -> None:
        self.mean, self.std = tuple(mean), tuple(std)
        if any(s == 0 for s in self.std):
            raise ValueError(f"Normalize: std {self.std} has a zero, which would divide by zero")

    def __call__(self, x: Tensor) -> Tensor:
        a = x.numpy()
        shape = (-1, 1, 1)
        mean = np.asarray(self.mean, a.dtype).reshape(shape)
        std = np.asarray(self.std, a.dtype).reshape(shape)
        return Tensor._eager((a - mean) / std)


class Lambda:
    def __init__(self, fn) -> None:
        self.fn = fn

    def __call__(self, x):
        return self.fn(x)
