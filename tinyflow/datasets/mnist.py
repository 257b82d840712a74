"""MNIST and Fashion-MNIST loaders with a TensorFlow-1-style ``next_batch``.

The four standard IDX gzip files are read from ``<data_dir>/<folder>/`` and
downloaded from public mirrors only when absent.  Every file is checked (gzip
integrity, IDX header, md5 of the uncompressed bytes) so that a damaged copy
fails loudly instead of silently training on garbage.  Only NumPy and the
standard library are used, so this module can be imported on its own.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.request
import zlib
from pathlib import Path
from typing import NamedTuple, Optional, Union

import numpy as np

__all__ = [
    "DataSet",
    "Datasets",
    "DatasetError",
    "DatasetDownloadError",
    "MIRRORS",
    "get_mnist",
    "get_fashion_mnist",
]

PathLike = Union[str, "os.PathLike[str]"]
SeedLike = Union[int, np.random.SeedSequence, None]

NUM_CLASSES = 10
IMAGE_SIDE = 28
TRAIN_SIZE = 60000
TEST_SIZE = 10000
DATA_DIR_ENV = "TINYFLOW_DATA_DIR"
DOWNLOAD_TIMEOUT = 30.0  # seconds per connection attempt

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"

IMAGES_MAGIC = 2051  # 0x0803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x0801: unsigned bytes, 1 dimension

# Base URLs tried in order when a file is missing.  Looked up at call time so
# that tests (or users behind a proxy) can replace them.
MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    "fashion-mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
}

# md5 of the UNCOMPRESSED IDX content: re-gzipped copies stay valid.
_MD5: dict[str, dict[str, str]] = {
    "mnist": {
        TRAIN_IMAGES: "6bbc9ace898e44ae57da46a324031adb",
        TRAIN_LABELS: "a25bea736e30d166cdddb491f175f624",
        TEST_IMAGES: "2646ac647ad5339dbf082846283269ea",
        TEST_LABELS: "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion-mnist": {
        TRAIN_IMAGES: "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        TRAIN_LABELS: "9018921c3c673c538a1fc5bad174d6f9",
        TEST_IMAGES: "8181f5470baa50b63fa0f6fddb340f0a",
        TEST_LABELS: "15d484375f8d13e6eb1aabb0c3f46965",
    },
}

# Expected leading dimension (number of examples) per file.
_COUNTS = {
    TRAIN_IMAGES: TRAIN_SIZE,
    TRAIN_LABELS: TRAIN_SIZE,
    TEST_IMAGES: TEST_SIZE,
    TEST_LABELS: TEST_SIZE,
}


class DatasetError(ValueError):
    """A data file is missing, corrupt or otherwise unusable."""


class DatasetDownloadError(DatasetError):
    """A missing data file could not be fetched from any mirror."""


class DataSet:
    """Images and labels of one split, with epoch-aware mini-batching.

    Batches follow ``mnist.train.next_batch`` of TensorFlow 1 so that ported
    training loops behave the same; the order comes from a private RNG so
    results do not depend on (or disturb) the global NumPy RNG.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, seed: SeedLike = None) -> None:
        if len(images) != len(labels):
            raise ValueError(
                f"images and labels differ in length: {len(images)} != {len(labels)}"
            )
        self._images = images
        self._labels = labels
        self._num_examples = len(images)
        self._rng = np.random.default_rng(seed)
        self._order = np.arange(self._num_examples)
        self._epochs_completed = 0
        self._index_in_epoch = 0

    @property
    def images(self) -> np.ndarray:
        return self._images

    @property
    def labels(self) -> np.ndarray:
        return self._labels

    @property
    def num_examples(self) -> int:
        return self._num_examples

    @property
    def epochs_completed(self) -> int:
        return self._epochs_completed

    def __len__(self) -> int:
        return self._num_examples

    def __repr__(self) -> str:
        return (
            f"DataSet(num_examples={self._num_examples}, images={self._images.shape}, "
            f"labels={self._labels.shape}, epochs_completed={self._epochs_completed})"
        )

    def next_batch(
        self, batch_size: int, fake_data: bool = False, shuffle: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the next ``(images, labels)`` batch, walking epochs like TF1.

        The order is reshuffled at the start of every epoch (the first one
        included) when ``shuffle`` is true.  A batch that runs past the end of
        an epoch is the rest of that epoch followed by the start of the next.
        ``fake_data`` is TF1's second argument (tutorials pass it by position);
        true is refused as in :func:`read_data_sets`.
        """
        if fake_data:
            raise ValueError("next_batch(fake_data=True) is not supported: the batches are "
                             "real MNIST")
        n = self._num_examples
        if not 0 < batch_size <= n:
            raise ValueError(f"batch_size must be in [1, {n}], got {batch_size}")
        start = self._index_in_epoch
        if self._epochs_completed == 0 and start == 0 and shuffle:
            self._rng.shuffle(self._order)
        if start + batch_size > n:
            self._epochs_completed += 1
            rest = self._order[start:].copy()  # the shuffle below is in place
            if shuffle:
                self._rng.shuffle(self._order)
            self._index_in_epoch = batch_size - len(rest)
            idx = np.concatenate([rest, self._order[: self._index_in_epoch]])
        else:
            end = self._index_in_epoch = start + batch_size
            idx = self._order[start:end]
        return self._images[idx], self._labels[idx]


class Datasets(NamedTuple):
    """The three splits returned by :func:`get_mnist`."""

    train: DataSet
    validation: DataSet
    test: DataSet


def get_mnist(
    flatten: bool = True,
    onehot: bool = True,
    data_dir: Optional[PathLike] = None,
    validation_size: int = 5000,
    seed: Optional[int] = None,
) -> Datasets:
    """Load MNIST as train/validation/test splits (TF1 ``input_data`` layout).

    Validation is the first ``validation_size`` training examples and train
    the rest.  Images are float32 in [0, 1], ``[N, 784]`` if ``flatten`` else
    ``[N, 28, 28]``; labels are one-hot float32 ``[N, 10]`` or int64 ids.
    ``data_dir`` defaults to ``$TINYFLOW_DATA_DIR``, then ``~/.cache/tinyflow``.
    """
    return _load("mnist", flatten, onehot, _resolve_data_dir(data_dir) / "mnist",
                 validation_size, seed)


def get_fashion_mnist(
    flatten: bool = True,
    onehot: bool = True,
    data_dir: Optional[PathLike] = None,
    validation_size: int = 5000,
    seed: Optional[int] = None,
) -> Datasets:
    """Load Fashion-MNIST; same layout and arguments as :func:`get_mnist`."""
    return _load("fashion-mnist", flatten, onehot,
                 _resolve_data_dir(data_dir) / "fashion-mnist", validation_size, seed)


def read_data_sets(
    train_dir: PathLike,
    fake_data: bool = False,
    one_hot: bool = False,
    dtype=np.float32,
    reshape: bool = True,
    validation_size: int = 5000,
    seed: Optional[int] = None,
    source_url: Optional[str] = None,
) -> Datasets:
    """TF1's tutorial loader (``tensorflow.examples.tutorials.mnist.input_data``), so TF1
    programs run with only their imports changed.

    MNIST comes from the IDX files in ``train_dir`` when all four are there, else from where
    :func:`get_mnist` finds them (``$TINYFLOW_DATA_DIR``, the cache, a download into the
    cache). Images are ``[N, 784]`` (``reshape=False``: ``[N, 28, 28, 1]``), float32 in
    [0, 1] or (``dtype=uint8``) the raw bytes; labels one-hot float32 or uint8 ids, as TF's.
    ``source_url`` is not used: the mirrors are ``MIRRORS["mnist"]``.
    """
    if fake_data:
        raise ValueError("read_data_sets(fake_data=True) is not supported: use real MNIST "
                         "(it is read offline from $TINYFLOW_DATA_DIR)")
    raw_bytes = np.dtype(dtype) == np.uint8
    if not raw_bytes and np.dtype(dtype) != np.float32:
        raise TypeError(f"read_data_sets: dtype must be float32 or uint8, got {dtype!r}")
    folder = Path(train_dir).expanduser()
    files = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
    if not all((folder / f).is_file() for f in files):
        folder = _resolve_data_dir(None) / "mnist"
    data = _load("mnist", True, one_hot, folder, validation_size, seed)
    splits = []
    for split in data:
        images, labels = split.images, split.labels
        if raw_bytes:
            images = np.rint(images * 255).astype(np.uint8)
        if not reshape:
            images = images.reshape(-1, IMAGE_SIDE, IMAGE_SIDE, 1)
        if not one_hot:
            labels = labels.astype(np.uint8)
        splits.append(DataSet(images, labels, split._rng))
    return Datasets(*splits)


def _load(
    name: str,
    flatten: bool,
    onehot: bool,
    folder: Path,
    validation_size: int,
    seed: Optional[int],
) -> Datasets:
    """The splits of dataset `name` from the IDX files in `folder` (fetched there if
    missing)."""
    if not 0 <= validation_size <= TRAIN_SIZE:
        raise ValueError(
            f"validation_size must be in [0, {TRAIN_SIZE}], got {validation_size}"
        )
    raw = _raw(name, folder)
    train_x, test_x = _to_float(raw[0]), _to_float(raw[2])
    train_y, test_y = _labels(raw[1], onehot), _labels(raw[3], onehot)
    if not flatten:
        train_x = train_x.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
        test_x = test_x.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)

    seeds = np.random.SeedSequence(seed).spawn(3)
    v = validation_size
    return Datasets(
        train=DataSet(train_x[v:], train_y[v:], seeds[0]),
        validation=DataSet(train_x[:v], train_y[:v], seeds[1]),
        test=DataSet(test_x, test_y, seeds[2]),
    )


def _raw(name: str, folder: Path) -> list:
    """The uint8 train images, train labels, test images and test labels (read-only)."""
    files = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
    paths = [_ensure_file(folder, f, name) for f in files]
    return [_read_idx_cached(str(p), _MD5[name][p.name]) for p in paths]


def load_data(name: str = "mnist", data_dir: Optional[PathLike] = None) -> tuple:
    """Keras's ((x_train, y_train), (x_test, y_test)): uint8 images [N, 28, 28] and uint8
    labels, copies the caller may change. `name`: 'mnist' or 'fashion-mnist'."""
    raw = [a.copy() for a in _raw(name, _resolve_data_dir(data_dir) / name)]
    side = (IMAGE_SIDE, IMAGE_SIDE)
    return ((raw[0].reshape(-1, *side), raw[1]), (raw[2].reshape(-1, *side), raw[3]))


def _resolve_data_dir(data_dir: Optional[PathLike]) -> Path:
    if data_dir is None:
        data_dir = os.environ.get(DATA_DIR_ENV) or Path.home() / ".cache" / "tinyflow"
    return Path(data_dir).expanduser().resolve()


def _to_float(images: np.ndarray) -> np.ndarray:
    """Scale uint8 ``[N, 28, 28]`` to a fresh float32 ``[N, 784]`` in [0, 1]."""
    flat = images.reshape(len(images), IMAGE_SIDE * IMAGE_SIDE)
    return np.divide(flat, np.float32(255), dtype=np.float32)


def _labels(labels: np.ndarray, onehot: bool) -> np.ndarray:
    if onehot:
        return np.eye(NUM_CLASSES, dtype=np.float32)[labels]
    return labels.astype(np.int64)


@functools.lru_cache(maxsize=16)
def _read_idx_cached(path: str, md5: str) -> np.ndarray:
    """Parse a verified file once per process; the result is read-only."""
    return _read_idx(Path(path), Path(path).name, md5)


def _read_idx(path: Path, filename: str, md5: str) -> np.ndarray:
    """Decompress, check and parse one IDX gzip file into a uint8 array.

    ``filename`` is the standard name, which tells the expected header (the
    file itself may be a temporary download with another name).
    """
    try:
        with gzip.open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: corrupt or truncated gzip file ({exc})") from exc

    expected_magic = IMAGES_MAGIC if "idx3" in filename else LABELS_MAGIC
    ndim = expected_magic & 0xFF
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DatasetError(f"{path}: IDX header truncated ({len(data)} bytes)")
    header = np.frombuffer(data, dtype=">u4", count=1 + ndim)
    magic, dims = int(header[0]), tuple(int(d) for d in header[1:])
    if magic != expected_magic:
        raise DatasetError(f"{path}: bad IDX magic {magic}, expected {expected_magic}")
    expected_dims = (_COUNTS[filename],) + (IMAGE_SIDE,) * (ndim - 1)
    if dims != expected_dims:
        raise DatasetError(f"{path}: bad IDX dimensions {dims}, expected {expected_dims}")
    payload = len(data) - header_size
    if payload != int(np.prod(dims)):
        raise DatasetError(
            f"{path}: IDX payload is {payload} bytes, header says {int(np.prod(dims))}"
        )
    digest = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if digest != md5:
        raise DatasetError(
            f"{path}: md5 of uncompressed content is {digest}, expected {md5}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(dims)


def _ensure_file(folder: Path, filename: str, name: str) -> Path:
    """Return the path of ``filename``, downloading it first if absent."""
    path = folder / filename
    if path.exists():
        return path
    attempts = []
    for base in MIRRORS[name]:
        url = base + filename
        try:
            _download(url, path, _MD5[name][filename])
            return path
        except (OSError, DatasetError) as exc:  # URLError and HTTPError are OSErrors
            attempts.append(f"  {url}: {exc}")
    tried = "\n".join(attempts) or "  (no mirrors configured)"
    raise DatasetDownloadError(f"{path} is missing and could not be downloaded; tried:\n{tried}")


def _download(url: str, path: Path, md5: str) -> None:
    """Fetch ``url`` to a temporary file, verify it, then move it into place.

    The rename is atomic, so readers never see a partial file, and the
    temporary file is removed whatever goes wrong.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": "tinyflow"})
            with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT) as response:
                shutil.copyfileobj(response, out, length=1 << 20)
        _read_idx(tmp, path.name, md5)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
