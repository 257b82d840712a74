"""Checkpoint files as PyTorch's torch.save/torch.load treat them (PyTorch 2.13 is the oracle
for permissions and file objects): the umask decides the mode, file objects work, and every
load error names the file (and the tensor when one entry is at fault)."""
import io
import json
import os
import stat
import struct

import numpy as np
import pytest
import torch as real_torch

import tinyflow as tt
from tinyflow.io import checkpoint


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def test_new_files_get_the_umask_as_torch_save_gives_them(tmp_path, umask_027):
    ours, theirs = tmp_path / "ours.safetensors", tmp_path / "theirs.pt"
    tt.save({"w": tt.ones(2)}, str(ours))
    real_torch.save({"w": real_torch.ones(2)}, str(theirs))
    assert _mode(ours) == _mode(theirs) == 0o640


def test_overwriting_keeps_the_existing_files_mode(tmp_path):
    path = tmp_path / "m.safetensors"
    checkpoint.save({"w": np.ones(1)}, str(path))
    os.chmod(path, 0o604)
    checkpoint.save({"w": np.zeros(1)}, str(path))
    assert _mode(path) == 0o604


def test_bytesio_round_trip_as_torch_save_and_load():
    buf = io.BytesIO()
    tt.save({"a": tt.tensor([1.0, 2.0]), "n": tt.tensor(3)}, buf)
    buf.seek(0)
    loaded = tt.load(buf)
    np.testing.assert_array_equal(loaded["a"].numpy(), [1, 2])
    assert loaded["n"].shape == () and loaded["n"].item() == 3
    loaded["a"].add_(1)    # the tensors are writable, as torch.load's
    # torch.save writes at the file's position too: two saves, two loads in a row
    buf = io.BytesIO()
    checkpoint.save({"x": np.ones(1)}, buf)
    start = buf.tell()
    checkpoint.save({"y": np.zeros(2)}, buf)
    buf.seek(start)
    assert list(checkpoint.load(buf)) == ["y"]


def test_open_file_objects(tmp_path):
    path = tmp_path / "f.safetensors"
    with open(path, "wb") as f:
        tt.save({"w": tt.arange(3)}, f)
    with open(path, "rb") as f:
        assert tt.load(f)["w"].tolist() == [0, 1, 2]
    with open(path, "rb") as f:        # a file that load can read by path too
        assert checkpoint.load(str(path))["w"].tolist() == [0, 1, 2]


def test_text_mode_file_is_refused_with_its_name(tmp_path):
    path = tmp_path / "f.safetensors"
    checkpoint.save({"w": np.ones(1)}, str(path))
    with open(path, "r", encoding="latin-1") as f:
        with pytest.raises(TypeError, match=r"f\.safetensors.*binary mode"):
            checkpoint.load(f)


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        checkpoint.load(str(tmp_path / "nope.safetensors"))


def test_garbage_and_truncated_files_name_the_file(tmp_path):
    bad = tmp_path / "garbage.safetensors"
    bad.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ValueError, match="garbage.safetensors"):
        checkpoint.load(str(bad))
    good = tmp_path / "cut.safetensors"
    checkpoint.save({"w": np.ones(100, np.float32)}, str(good))
    good.write_bytes(good.read_bytes()[:-50])
    with pytest.raises(ValueError, match="cut.safetensors"):
        checkpoint.load(str(good))
    with pytest.raises(ValueError, match="file object BytesIO"):
        checkpoint.load(io.BytesIO(b"\x00" * 3))


def _file_with_dtype(dtype_name, itemsize=2):
    """A well-formed safetensors file whose tensor 'w' (2 elements) has dtype `dtype_name`."""
    header = json.dumps({"w": {"dtype": dtype_name, "shape": [2],
                               "data_offsets": [0, 2 * itemsize]}}).encode()
    return struct.pack("<Q", len(header)) + header + b"\x00" * (2 * itemsize)


def test_an_unreadable_tensor_is_named_with_its_file(tmp_path):
    path = tmp_path / "c64.safetensors"
    path.write_bytes(_file_with_dtype("C64", 8))     # no complex dtype here
    with pytest.raises(ValueError, match=r"tensor 'w' of '.*c64.safetensors'"):
        checkpoint.load(str(path))
    with pytest.raises(ValueError, match=r"tensor 'w' of file object BytesIO"):
        checkpoint.load(io.BytesIO(_file_with_dtype("C64", 8)))


def test_pathlike_paths(tmp_path):
    path = tmp_path / "p.safetensors"
    checkpoint.save({"w": np.ones(1)}, path)
    assert list(checkpoint.load(path)) == ["w"]


def test_a_pytorch_pickle_checkpoint_is_refused_saying_how_to_convert_it(tmp_path):
    for name, kwargs in (("zip.pt", {}), ("legacy.pt", {"_use_new_zipfile_serialization": False})):
        path = tmp_path / name
        real_torch.save({"w": real_torch.ones(2)}, str(path), **kwargs)
        with pytest.raises(ValueError, match=r"pickle checkpoint.*never unpickles.*save_file"):
            tt.load(str(path))
