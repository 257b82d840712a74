"""Tests for tinyflow.datasets on the real MNIST / Fashion-MNIST files.

The data comes from ``$TINYFLOW_DATA_DIR`` if set, else from the shared folder
``../shared/datasets`` beside the repository; without either, the tests skip.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tinyflow.datasets import DataSet, DatasetError, get_fashion_mnist, get_mnist
from tinyflow.datasets import mnist as mnist_module

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(
    os.environ.get("TINYFLOW_DATA_DIR") or REPO_ROOT.parent / "shared" / "datasets"
)
FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

needs_data = pytest.mark.skipif(
    not (DATA_DIR / "mnist").is_dir(), reason=f"no MNIST data in {DATA_DIR}"
)


@pytest.fixture(scope="module")
def mnist():
    return get_mnist(data_dir=DATA_DIR, seed=0)


def _ids(labels: np.ndarray) -> np.ndarray:
    return labels.argmax(axis=1) if labels.ndim == 2 else labels


@needs_data
def test_default_shapes_dtypes_ranges(mnist):
    sizes = {"train": 55000, "validation": 5000, "test": 10000}
    for split, size in sizes.items():
        ds = getattr(mnist, split)
        assert ds.num_examples == size
        assert ds.epochs_completed == 0
        assert ds.images.shape == (size, 784)
        assert ds.images.dtype == np.float32
        assert ds.images.min() == 0.0 and ds.images.max() == 1.0
        assert ds.labels.shape == (size, 10)
        assert ds.labels.dtype == np.float32
        np.testing.assert_array_equal(ds.labels.sum(axis=1), 1.0)
        assert set(np.unique(ds.labels)) == {0.0, 1.0}


@needs_data
def test_unflattened_integer_labels():
    data = get_mnist(flatten=False, onehot=False, data_dir=DATA_DIR)
    for ds, size in ((data.train, 55000), (data.validation, 5000), (data.test, 10000)):
        assert ds.images.shape == (size, 28, 28)
        assert ds.images.dtype == np.float32
        assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0
        assert ds.labels.shape == (size,)
        assert ds.labels.dtype == np.int64
        assert set(np.unique(ds.labels)) == set(range(10))


@needs_data
def test_pixel_statistics(mnist):
    train = np.concatenate([mnist.validation.images, mnist.train.images])
    assert train.mean() == pytest.approx(0.130660, abs=1e-5)
    assert mnist.test.images.mean() == pytest.approx(0.132515, abs=1e-5)


@needs_data
def test_first_labels(mnist):
    np.testing.assert_array_equal(
        _ids(mnist.validation.labels[:10]), [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    )
    np.testing.assert_array_equal(_ids(mnist.test.labels[:10]), [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])


@needs_data
def test_validation_split_and_label_counts():
    data = get_mnist(onehot=False, data_dir=DATA_DIR, validation_size=1000)
    assert data.validation.num_examples == 1000
    assert data.train.num_examples == 59000
    counts = np.bincount(np.concatenate([data.validation.labels, data.train.labels]))
    np.testing.assert_array_equal(
        counts, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    )
    with pytest.raises(ValueError):
        get_mnist(data_dir=DATA_DIR, validation_size=60001)


@needs_data
def test_calls_return_fresh_datasets():
    a = get_mnist(onehot=False, data_dir=DATA_DIR, seed=0)
    b = get_mnist(onehot=False, data_dir=DATA_DIR, seed=0)
    assert a.train is not b.train
    assert not np.shares_memory(a.train.images, b.train.images)
    first_a = a.train.next_batch(100)[1]
    second_a = a.train.next_batch(100)[1]
    first_b = b.train.next_batch(100)[1]  # own position and RNG, same seed
    np.testing.assert_array_equal(first_a, first_b)
    assert not np.array_equal(second_a, first_b)


@needs_data
def test_next_batch_walks_whole_epoch(mnist):
    images = mnist.validation.images
    n, batch = len(images), 128  # 5000 = 39 * 128 + 8
    ds = DataSet(images, np.arange(n), seed=1)  # labels = source row ids
    seen = []
    for _ in range(n // batch):
        x, ids = ds.next_batch(batch)
        assert x.shape == (batch, 784) and ids.shape == (batch,)
        np.testing.assert_array_equal(x, images[ids])
        seen.append(ids)
    assert ds.epochs_completed == 0

    x, ids = ds.next_batch(batch)  # crosses the epoch boundary
    assert x.shape == (batch, 784) and ids.shape == (batch,)
    np.testing.assert_array_equal(x, images[ids])
    assert ds.epochs_completed == 1
    rest = n % batch
    seen.append(ids[:rest])
    epoch = np.concatenate(seen)
    np.testing.assert_array_equal(np.sort(epoch), np.arange(n))  # each example once
    assert not np.array_equal(epoch, np.arange(n))  # the first epoch was shuffled
    # The new epoch's part of the batch comes from a fresh shuffle, no repeats.
    assert len(set(ids[rest:].tolist())) == batch - rest


def test_next_batch_indices_and_shuffle():
    n = 10
    images = np.arange(n, dtype=np.float32)[:, None]
    labels = np.arange(n, dtype=np.int64)

    ds = DataSet(images, labels, seed=3)
    first = [int(v) for _ in range(3) for v in ds.next_batch(3)[1]]
    assert len(set(first)) == 9
    assert first != list(range(9))  # shuffled from the very first batch
    x, y = ds.next_batch(3)  # 1 from epoch 0, 2 from epoch 1
    assert ds.epochs_completed == 1
    np.testing.assert_array_equal(x[:, 0], y)
    leftover = sorted(set(range(n)) - set(first))
    assert int(y[0]) in leftover
    epoch1 = [int(v) for v in y[1:]] + [int(v) for _ in range(2) for v in ds.next_batch(4)[1]]
    assert sorted(epoch1) == list(range(n))
    assert ds.epochs_completed == 1

    plain = DataSet(images, labels)
    got = [plain.next_batch(4, shuffle=False)[1].tolist() for _ in range(3)]
    assert got == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1]]
    assert plain.epochs_completed == 1

    with pytest.raises(ValueError):
        plain.next_batch(0)
    with pytest.raises(ValueError):
        plain.next_batch(n + 1)


def test_next_batch_is_reproducible_and_leaves_global_rng_alone():
    images = np.arange(100, dtype=np.float32)[:, None]
    labels = np.arange(100, dtype=np.int64)
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a = [DataSet(images, labels, seed=7).next_batch(50)[1] for _ in range(2)]
    np.testing.assert_array_equal(a[0], a[1])
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def _copy_mnist(dst_root: Path) -> Path:
    folder = dst_root / "mnist"
    folder.mkdir(parents=True)
    for name in FILES:
        shutil.copyfile(DATA_DIR / "mnist" / name, folder / name)
    return folder


@needs_data
def test_truncated_file_raises(tmp_path):
    folder = _copy_mnist(tmp_path)
    target = folder / "t10k-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:1000])
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.gz"):
        get_mnist(data_dir=tmp_path)


@needs_data
def test_flipped_bytes_raise(tmp_path):
    folder = _copy_mnist(tmp_path)
    target = folder / "train-labels-idx1-ubyte.gz"
    data = bytearray(target.read_bytes())
    for i in range(100, 110):
        data[i] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte.gz"):
        get_mnist(data_dir=tmp_path)


@needs_data
def test_wrong_content_fails_md5(tmp_path):
    folder = _copy_mnist(tmp_path)
    target = folder / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(target.read_bytes()))
    raw[8] = (raw[8] + 1) % 10  # valid gzip and header, one label changed
    target.write_bytes(gzip.compress(bytes(raw), compresslevel=1))
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte\.gz.*md5"):
        get_mnist(data_dir=tmp_path)


@needs_data
def test_bad_header_raises(tmp_path):
    folder = _copy_mnist(tmp_path)
    target = folder / "t10k-images-idx3-ubyte.gz"
    raw = bytearray(gzip.decompress(target.read_bytes()))
    raw[3] = 0x01  # magic 2049 instead of 2051
    target.write_bytes(gzip.compress(bytes(raw), compresslevel=1))
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte\.gz.*magic"):
        get_mnist(data_dir=tmp_path)


@needs_data
def test_missing_file_without_network_leaves_nothing(tmp_path, monkeypatch):
    folder = _copy_mnist(tmp_path)
    (folder / "t10k-images-idx3-ubyte.gz").unlink()
    before = sorted(p.name for p in folder.iterdir())
    unreachable = "http://127.0.0.1:9/"
    monkeypatch.setitem(mnist_module.MIRRORS, "mnist", (unreachable, unreachable + "x/"))
    with pytest.raises(DatasetError) as info:
        get_mnist(data_dir=tmp_path)
    message = str(info.value)
    assert "t10k-images-idx3-ubyte.gz" in message
    assert unreachable + "t10k-images-idx3-ubyte.gz" in message
    assert unreachable + "x/t10k-images-idx3-ubyte.gz" in message
    assert sorted(p.name for p in folder.iterdir()) == before


def test_missing_folder_without_network(tmp_path, monkeypatch):
    monkeypatch.setitem(mnist_module.MIRRORS, "fashion-mnist", ("http://127.0.0.1:9/",))
    with pytest.raises(DatasetError, match="127.0.0.1:9"):
        get_fashion_mnist(data_dir=tmp_path)
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert leftovers == []


@needs_data
def test_bad_download_is_discarded(tmp_path, monkeypatch):
    """A download that fails verification must not land in the data folder."""
    folder = _copy_mnist(tmp_path)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not a gzip file")
    monkeypatch.setitem(mnist_module.MIRRORS, "mnist", ((tmp_path / "mirror").as_uri() + "/",))
    with pytest.raises(DatasetError, match="gzip"):
        get_mnist(data_dir=tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == sorted(set(FILES) - {FILES[3]})


@needs_data
def test_download_from_mirror(tmp_path, monkeypatch):
    """A good file from a later mirror is verified and moved into place."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    shutil.copyfile(DATA_DIR / "mnist" / FILES[3], mirror / FILES[3])
    folder = _copy_mnist(tmp_path / "data")
    (folder / FILES[3]).unlink()
    mirrors = ("http://127.0.0.1:9/", mirror.as_uri() + "/")
    monkeypatch.setitem(mnist_module.MIRRORS, "mnist", mirrors)
    data = get_mnist(onehot=False, data_dir=tmp_path / "data")
    assert data.test.labels[:3].tolist() == [7, 2, 1]
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)


@pytest.mark.skipif(
    not (DATA_DIR / "fashion-mnist").is_dir(), reason=f"no Fashion-MNIST data in {DATA_DIR}"
)
def test_fashion_mnist_shapes():
    data = get_fashion_mnist(data_dir=DATA_DIR, flatten=False, onehot=False)
    assert data.train.images.shape == (55000, 28, 28)
    assert data.validation.images.shape == (5000, 28, 28)
    assert data.test.images.shape == (10000, 28, 28)
    assert data.train.images.dtype == np.float32
    assert data.test.labels.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(data.test.labels), [1000] * 10)
    onehot = get_fashion_mnist(data_dir=DATA_DIR)
    assert onehot.train.images.shape == (55000, 784)
    assert onehot.train.labels.shape == (55000, 10)


@needs_data
def test_tf1_input_data_reads_the_folder_it_is_given(tmp_path, monkeypatch):
    """`input_data.read_data_sets(dir, one_hot=...)` as TF1's tutorials call it: the files in
    `dir` when all four are there, else $TINYFLOW_DATA_DIR; TF's shapes and dtypes."""
    from tinyflow.examples.tutorials.mnist import input_data
    monkeypatch.setenv("TINYFLOW_DATA_DIR", str(tmp_path / "nowhere"))
    data = input_data.read_data_sets(str(DATA_DIR / "mnist"), one_hot=True)
    assert data.train.images.shape == (55000, 784) and data.train.images.dtype == np.float32
    assert data.validation.num_examples == 5000 and data.test.labels.shape == (10000, 10)
    xs, ys = data.train.next_batch(100)
    assert xs.shape == (100, 784) and ys.shape == (100, 10)

    monkeypatch.setenv("TINYFLOW_DATA_DIR", str(DATA_DIR))
    raw = input_data.read_data_sets(str(tmp_path), one_hot=False, reshape=False,
                                    dtype=np.uint8, validation_size=0)
    assert raw.train.images.shape == (60000, 28, 28, 1) and raw.train.images.dtype == np.uint8
    assert raw.train.labels.dtype == np.uint8
    floats = get_mnist(data_dir=DATA_DIR, onehot=False, validation_size=0)
    np.testing.assert_array_equal(raw.test.images.reshape(10000, -1) / np.float32(255),
                                  floats.test.images)
    np.testing.assert_array_equal(raw.test.labels, floats.test.labels)
    with pytest.raises(ValueError, match="fake_data"):
        input_data.read_data_sets(str(tmp_path), fake_data=True)
    with pytest.raises(TypeError, match="float32 or uint8"):
        input_data.read_data_sets(str(tmp_path), dtype=np.float64)
