"""Map-style `MNIST` / `FashionMNIST` with torchvision's arguments and attributes (`data` a
uint8 [N, 28, 28] tensor, `targets` int64, `classes`), read from the local IDX files;
`CIFAR10` / `CIFAR100` from their pickled batches; `FakeData`; `ImageFolder` /
`DatasetFolder` over folders of class folders of files."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

from ...core.tensor import Tensor
from .. import mnist as _idx


def _transformed(dataset, image, target) -> tuple:
    """An item as the dataset's `transform` and `target_transform` make it (where given)."""
    if dataset.transform is not None:
        image = dataset.transform(image)
    if dataset.target_transform is not None:
        target = dataset.target_transform(target)
    return image, target


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
        return _transformed(self, self.data.numpy()[index], int(self.targets.numpy()[index]))

    def __repr__(self) -> str:
        split = "Train" if self.train else "Test"
        return (f"Dataset {type(self).__name__}\n    Number of datapoints: {len(self)}\n"
                f"    Root location: {self.root}\n    Split: {split}")


class FashionMNIST(MNIST):
    _name = "fashion-mnist"
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]


def _cifar_globals() -> dict:
    """The only globals a CIFAR batch may name: NumPy's array rebuilders under the module
    paths NumPy 1.x (the archive's Python 2 pickles) and 2.x write, taken from NumPy's own
    `__reduce__` so they are this NumPy's functions; `_codecs.encode` is how Python 3 writes
    bytes at protocol 2."""
    import _codecs
    array = np.zeros(1, np.uint8)
    reconstruct, frombuffer = array.__reduce__()[0], array.__reduce_ex__(5)[0]
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
               ("_codecs", "encode"): _codecs.encode}
    for core in ("numpy.core", "numpy._core"):
        allowed[(core + ".multiarray", "_reconstruct")] = reconstruct
        allowed[(core + ".numeric", "_frombuffer")] = frombuffer
    return allowed


class _BatchUnpickler(pickle.Unpickler):
    """Reads a CIFAR batch without running what the file names: `pickle.load` calls any
    global a file names (`os.system` included), so anything outside `_cifar_globals()` is
    refused, naming the file, before it is called."""

    def __init__(self, file, path) -> None:
        super().__init__(file, encoding="latin1")   # Python 2 byte strings, as torchvision
        self.path, self.allowed = path, _cifar_globals()

    def find_class(self, module: str, name: str):
        if (module, name) not in self.allowed:
            raise pickle.UnpicklingError(
                f"{self.path}: refuses to load {module}.{name}: a CIFAR batch holds only "
                f"dicts, lists, strings, numbers and NumPy arrays (is this the real file?)")
        return self.allowed[(module, name)]


def _load_batch(path: Path) -> dict:
    with open(path, "rb") as f:
        batch = _BatchUnpickler(f, path).load()
    if not isinstance(batch, dict):
        raise pickle.UnpicklingError(f"{path}: holds a {type(batch).__name__}, not a dict")
    return batch


class CIFAR10:
    """`datasets.CIFAR10(root, train=True, transform=None, target_transform=None,
    download=False)`: read from torchvision's layout, `root/cifar-10-batches-py/` holding the
    pickled batches (`data_batch_1`..`5`, `test_batch`: a uint8 [N, 3072] `data`, a list of
    `labels`; `batches.meta` for `classes`), read by `_BatchUnpickler`. `data` is uint8
    [N, 32, 32, 3] as torchvision's; item i is an [H, W, C] uint8 array where torchvision
    gives a PIL image. Nothing is downloaded (tinyflow works offline):
    without the files the error says where to put them."""

    base_folder = "cifar-10-batches-py"
    train_list = [f"data_batch_{i}" for i in range(1, 6)]
    test_list = ["test_batch"]
    meta = ("batches.meta", "label_names")
    label_key = "labels"

    def __init__(self, root, train: bool = True, transform=None, target_transform=None,
                 download: bool = False) -> None:
        self.root, self.train = root, train
        self.transform, self.target_transform = transform, target_transform
        folder = Path(root).expanduser() / self.base_folder
        names = self.train_list if train else self.test_list
        meta_file, key = self.meta
        missing = [n for n in [*names, meta_file] if not (folder / n).is_file()]
        if missing:
            raise RuntimeError(
                f"{type(self).__name__}: {folder} lacks {', '.join(missing)}; tinyflow does "
                f"not download (download={download}): unpack the python-version archive "
                f"there (the files torchvision's download leaves)")
        data, targets = [], []
        for name in names:
            batch = _load_batch(folder / name)
            data.append(np.asarray(batch["data"], dtype=np.uint8))
            targets.extend(int(t) for t in batch[self.label_key])
        self.data = np.concatenate(data).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()
        self.targets = targets
        self.classes = list(_load_batch(folder / meta_file)[key])   # torchvision needs it too
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        return _transformed(self, self.data[index], self.targets[index])

    def __repr__(self) -> str:
        split = "Train" if self.train else "Test"
        return (f"Dataset {type(self).__name__}\n    Number of datapoints: {len(self)}\n"
                f"    Root location: {self.root}\n    Split: {split}")


class CIFAR100(CIFAR10):
    """CIFAR-100 in torchvision's layout: `root/cifar-100-python/` with `train`, `test`
    (`fine_labels`) and `meta` (`fine_label_names`)."""

    base_folder = "cifar-100-python"
    train_list = ["train"]
    test_list = ["test"]
    meta = ("meta", "fine_label_names")
    label_key = "fine_labels"


class FakeData:
    """`datasets.FakeData(size=1000, image_size=(3, 224, 224), num_classes=10, transform=None,
    target_transform=None, random_offset=0)`: random images and labels for benchmarks and
    smoke tests. Item i is drawn from a generator seeded by `i + random_offset`, so it is the
    same every time it is read (as torchvision's); the image is a uint8 [H, W, C] array
    ([H, W] for one channel) where torchvision gives a PIL image, uniform in [0, 255] (not
    torchvision's numbers: those come from torch's generator)."""

    def __init__(self, size: int = 1000, image_size=(3, 224, 224), num_classes: int = 10,
                 transform=None, target_transform=None, random_offset: int = 0) -> None:
        if len(image_size) != 3:
            raise ValueError(f"FakeData: image_size must be (C, H, W), got {image_size}")
        self.size, self.image_size = int(size), tuple(int(d) for d in image_size)
        self.num_classes, self.random_offset = int(num_classes), int(random_offset)
        self.transform, self.target_transform = transform, target_transform

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int):
        if not -self.size <= index < self.size:
            raise IndexError(f"FakeData: index {index} out of range for {self.size} items")
        rng = np.random.default_rng(index % self.size + self.random_offset)
        channels, height, width = self.image_size
        image = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
        image = image[:, :, 0] if channels == 1 else image
        return _transformed(self, image, int(rng.integers(self.num_classes)))

    def __repr__(self) -> str:
        return f"Dataset FakeData\n    Number of datapoints: {self.size}"


IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def pil_loader(path):
    """The image at path as an RGB PIL image (read at once, so the file is closed)."""
    from PIL import Image
    with open(path, "rb") as f:
        return Image.open(f).convert("RGB")


default_loader = pil_loader


def find_classes(directory) -> tuple:
    """(sorted class folder names, {name: index})."""
    classes = sorted(e.name for e in os.scandir(directory) if e.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
    return classes, {name: i for i, name in enumerate(classes)}


def make_dataset(directory, class_to_idx, extensions=None, is_valid_file=None,
                 allow_empty: bool = False) -> list:
    """[(path, class index)] for every valid file under each class folder, walked in sorted
    order (following links); a class without files is an error unless `allow_empty`."""
    if (extensions is None) == (is_valid_file is None):
        raise ValueError("Both extensions and is_valid_file cannot be None or not None at "
                         "the same time")
    if is_valid_file is None:
        lowered = tuple(e.lower() for e in ((extensions,) if isinstance(extensions, str)
                                            else extensions))
        is_valid_file = lambda p: p.lower().endswith(lowered)  # noqa: E731
    samples, empty = [], []
    for name in sorted(class_to_idx):
        found = 0
        for root, _, files in sorted(os.walk(os.path.join(directory, name), followlinks=True)):
            for file in sorted(files):
                path = os.path.join(root, file)
                if is_valid_file(path):
                    samples.append((path, class_to_idx[name]))
                    found += 1
        if not found:
            empty.append(name)
    if empty and not allow_empty:
        raise FileNotFoundError(f"Found no valid file for the classes {', '.join(empty)}. "
                                f"Supported extensions are: {extensions}")
    return samples


class DatasetFolder:
    """`root/<class>/<...>/<file>`: item i is `(transform(loader(path)), target)`, classes in
    sorted order of their folder names."""

    def __init__(self, root, loader, extensions=None, transform=None, target_transform=None,
                 is_valid_file=None, allow_empty: bool = False) -> None:
        self.root = os.fspath(os.path.expanduser(root))
        self.loader, self.extensions = loader, extensions
        self.transform, self.target_transform = transform, target_transform
        self.classes, self.class_to_idx = self.find_classes(self.root)
        self.samples = self.make_dataset(self.root, self.class_to_idx, extensions,
                                         is_valid_file, allow_empty)
        self.targets = [target for _, target in self.samples]

    @staticmethod
    def find_classes(directory) -> tuple:
        return find_classes(directory)

    @staticmethod
    def make_dataset(directory, class_to_idx, extensions=None, is_valid_file=None,
                     allow_empty: bool = False) -> list:
        return make_dataset(directory, class_to_idx, extensions, is_valid_file, allow_empty)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, target = self.samples[index]
        return _transformed(self, self.loader(path), target)

    def __repr__(self) -> str:
        return (f"Dataset {type(self).__name__}\n    Number of datapoints: {len(self)}\n"
                f"    Root location: {self.root}")


class ImageFolder(DatasetFolder):
    """`ImageFolder(root, transform=None, target_transform=None, loader=default_loader,
    is_valid_file=None, allow_empty=False)`: a DatasetFolder of image files read by Pillow
    as RGB PIL images (as torchvision's); `imgs` is `samples`."""

    def __init__(self, root, transform=None, target_transform=None, loader=default_loader,
                 is_valid_file=None, allow_empty: bool = False) -> None:
        super().__init__(root, loader, IMG_EXTENSIONS if is_valid_file is None else None,
                         transform, target_transform, is_valid_file, allow_empty)
        self.imgs = self.samples
