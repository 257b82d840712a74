"""torchvision's `utils.make_grid` and `utils.save_image`: a batch of images tiled into one
image (sample pictures of GANs and autoencoders), written as PNG/JPEG through Pillow."""
from __future__ import annotations

import math
import os

import numpy as np

from ...core.tensor import Tensor
from ...io.atomic import atomic_path


def _images(tensor) -> np.ndarray:
    """The input as a float [B, C, H, W] array (a list of [C, H, W] tensors stacked; one
    channel repeated to three, as torchvision does)."""
    if isinstance(tensor, (list, tuple)):
        arrays = [np.asarray(t.detach().numpy() if isinstance(t, Tensor) else t)
                  for t in tensor]
        a = np.stack(arrays)
    else:
        a = np.asarray(tensor.detach().numpy() if isinstance(tensor, Tensor) else tensor)
    if a.ndim == 2:
        a = a[None]
    if a.ndim == 3:
        a = np.concatenate([a] * 3) if a.shape[0] == 1 else a
        a = a[None]
    if a.ndim != 4:
        raise ValueError(f"make_grid: expected images [B, C, H, W], [C, H, W] or [H, W], got "
                         f"shape {a.shape}")
    if a.shape[1] == 1:
        a = np.concatenate([a] * 3, axis=1)
    return a if a.dtype.kind == "f" else a.astype(np.float32)


def _rescale(a: np.ndarray, value_range) -> np.ndarray:
    """Clamp to [low, high] (the array's own min and max when not given) and map it to [0, 1]."""
    low, high = value_range if value_range is not None else (a.min(), a.max())
    return (np.clip(a, low, high) - low) / max(high - low, 1e-5)


def make_grid(tensor, nrow: int = 8, padding: int = 2, normalize: bool = False,
              value_range=None, scale_each: bool = False, pad_value: float = 0.0) -> Tensor:
    """Images tiled `nrow` to a row with `padding` pixels of `pad_value` around each; with
    `normalize`, values mapped to [0, 1] from `value_range` (or their min and max, per image
    with `scale_each`). One image is returned as it is (after the channel and scale rules)."""
    a = _images(tensor)
    if value_range is not None and not isinstance(value_range, tuple):
        raise TypeError(f"make_grid: value_range must be a tuple (min, max), got "
                        f"{value_range!r}")
    if normalize:
        a = np.stack([_rescale(x, value_range) for x in a]) if scale_each else \
            _rescale(a, value_range)
    if a.shape[0] == 1:
        return Tensor._eager(np.ascontiguousarray(a[0]))
    count, channels, height, width = a.shape
    cols = min(nrow, count)
    rows = int(math.ceil(count / cols))
    step_y, step_x = height + padding, width + padding
    grid = np.full((channels, rows * step_y + padding, cols * step_x + padding), pad_value,
                   a.dtype)
    for k in range(count):
        y, x = divmod(k, cols)
        grid[:, y * step_y + padding:(y + 1) * step_y, x * step_x + padding:(x + 1) * step_x] = a[k]
    return Tensor._eager(grid)


def save_image(tensor, fp, format: str | None = None, **kwargs) -> None:  # noqa: A002
    """`make_grid(tensor, **kwargs)` written to `fp` (a path or a binary file object) as an
    8-bit image: values in [0, 1] times 255, rounded, clipped. A path is written atomically;
    its extension names the format unless `format` does."""
    from PIL import Image   # Pillow comes with matplotlib; imported only to write a picture

    grid = make_grid(tensor, **kwargs).numpy()
    pixels = np.clip(grid.astype(np.float32) * 255 + 0.5, 0, 255).astype(np.uint8)
    image = Image.fromarray(np.ascontiguousarray(pixels.transpose(1, 2, 0)))
    if not isinstance(fp, (str, os.PathLike)):
        image.save(fp, format=format)
        return
    path = os.fspath(fp)
    if format is None:
        format = Image.registered_extensions().get(os.path.splitext(path)[1].lower())
        if format is None:
            raise ValueError(f"save_image: unknown image file extension in {path!r}; give "
                             f"format= (e.g. 'PNG')")
    with atomic_path(path) as tmp:
        image.save(tmp, format=format)
