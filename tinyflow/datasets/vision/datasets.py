"""Map-style `MNIST` / `FashionMNIST` with torchvision's arguments and attributes (`data` a
uint8 [N, 28, 28] tensor, `targets` int64, `classes`), read from the local IDX files."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...core.tensor import Tensor
from .. import mnist as _idx


class MNIST:
    """`datasets.MNIST(root, train=True, transform=None, target_transform=None,
    download=False)`: item i is `(transform(image), target_transform(label))`, the image a
    uint8 [28, 28] array (a PIL image in torchvision; `transforms.ToTensor` takes either)."""

    _name = "mnist"
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root, train: bool = True, transform=None, target_transform=None,
                 download: bool = False) -> None:
        self.root, self.train = root, train
        self.transform, self.target_transform = transform, target_transform
        images, labels = (_idx.TRAIN_IMAGES, _idx.TRAIN_LABELS) if train else \
            (_idx.TEST_IMAGES, _idx.TEST_LABELS)
        folder = self._folder(root, (images, labels))
        md5 = _idx._MD5[self._name]
        read = lambda f: _idx._read_idx_cached(  # noqa: E731
            str(_idx._ensure_file(folder, f, self._name)), md5[f])
        self.data = Tensor._eager(np.array(read(images)))   # writable, as a tensor is
        self.targets = Tensor._eager(read(labels).astype(np.int64))

    def _folder(self, root, files) -> Path:
        """root's own copy (root/, root/MNIST/raw/) when it has the files, else tinyflow's
        data directory ($TINYFLOW_DATA_DIR), as `read_data_sets` does."""
        root = Path(root).expanduser()
        for folder in (root, root / type(self).__name__ / "raw"):
            if all((folder / f).is_file() for f in files):
                return folder
        return _idx._resolve_data_dir(None) / self._name

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        image, target = self.data.numpy()[index], int(self.targets.numpy()[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __repr__(self) -> str:
        split = "Train" if self.train else "Test"
        return (f"Dataset {type(self).__name__}\n    Number of datapoints: {len(self)}\n"
                f"    Root location: {self.root}\n    Split: {split}")


class FashionMNIST(MNIST):
    _name = "fashion-mnist"
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
