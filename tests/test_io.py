"""Checkpoints: safetensors round trip, atomic writes."""
import os

import numpy as np
import pytest

import tinyflow as tt
from tinyflow.io import checkpoint


def test_round_trip_keeps_names_dtypes_and_values(tmp_path):
    state = {"fc.weight": tt.randn(3, 4), "fc.bias": np.zeros(3, np.float64),
             "steps": tt.tensor([7])}
    path = tmp_path / "model.safetensors"
    checkpoint.save(state, str(path))
    loaded = checkpoint.load(str(path))
    assert set(loaded) == set(state)
    np.testing.assert_array_equal(loaded["fc.weight"].numpy(), state["fc.weight"].numpy())
    assert loaded["fc.bias"].dtype is tt.float64 and loaded["steps"].dtype is tt.int64
    assert os.listdir(tmp_path) == ["model.safetensors"]


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    checkpoint.save({"w": np.ones(2, np.float32)}, str(path))

    def broken(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(checkpoint, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save({"w": np.zeros(2, np.float32)}, str(path))
    assert os.listdir(tmp_path) == ["model.safetensors"]
    np.testing.assert_array_equal(checkpoint.load(str(path))["w"].numpy(), [1, 1])


def test_keys_must_be_strings(tmp_path):
    with pytest.raises(TypeError, match="strings"):
        checkpoint.save({1: np.ones(1)}, str(tmp_path / "x.safetensors"))


def test_scalars_keep_their_shape(tmp_path):
    path = str(tmp_path / "s.safetensors")
    checkpoint.save({"step": np.asarray(3), "bn.num_batches_tracked": tt.tensor(7)}, path)
    loaded = checkpoint.load(path)
    assert loaded["step"].shape == () and loaded["step"].item() == 3
    assert loaded["bn.num_batches_tracked"].shape == ()
