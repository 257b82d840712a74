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
    """An [H, W] or [H, W, C] image to a [C, H, W] tensor, as torchvision's: uint8 in
    [0, 255] to float32 in [0, 1] (divided by 255, as torchvision rounds), any other array
    in its own dtype."""

    def __call__(self, image) -> Tensor:
        a = np.asarray(image)
        a = a[:, :, None] if a.ndim == 2 else a
        if a.ndim != 3:
            raise ValueError(f"ToTensor: expected an [H, W] or [H, W, C] image, got shape "
                             f"{a.shape}")
        chw = np.ascontiguousarray(a.transpose(2, 0, 1))
        if a.dtype == np.uint8:
            chw = np.divide(chw, np.float32(255), dtype=np.float32)
        return Tensor._eager(chw)


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
