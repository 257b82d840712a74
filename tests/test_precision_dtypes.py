"""bfloat16, float16 and fp8 tensors against PyTorch: names in both front ends, promotion,
rounding of casts (bit for bit), printing, NumPy interop, and safetensors files written by
one and read by the other."""
from __future__ import annotations

import io
import itertools
import json
import struct

import ml_dtypes
import numpy as np
import pytest
import torch
from safetensors.torch import load as torch_load_bytes
from safetensors.torch import save as torch_save_bytes

import tinyflow
import tinyflow as tf
from tinyflow import nn

NAMES = ("float16", "bfloat16", "float8_e4m3fn", "float8_e5m2", "float32", "float64",
         "int32", "int64", "bool")
LOW = ("float16", "bfloat16", "float8_e4m3fn", "float8_e5m2")
BITS = {"float16": np.uint16, "bfloat16": np.uint16, "float8_e4m3fn": np.uint8,
        "float8_e5m2": np.uint8}


def _ours(name):
    return tinyflow.bool_ if name == "bool" else getattr(tinyflow, name)


def _torchs(name):
    return getattr(torch, name)


def _bits(array: np.ndarray) -> np.ndarray:
    return array.view(BITS[array.dtype.name])


def _torch_bits(t: torch.Tensor) -> np.ndarray:
    """A torch tensor's bits as unsigned ints of its width (float32 as its values)."""
    if t.element_size() == 4:
        return t.numpy()
    width = {1: torch.uint8, 2: torch.int16}[t.element_size()]
    flat = t.reshape(-1).view(width).numpy()
    return flat.view(np.uint8 if width is torch.uint8 else np.uint16).reshape(t.shape)


def test_names_are_one_object_in_both_front_ends():
    assert tf.bfloat16 is tinyflow.bfloat16 and tf.as_dtype("bfloat16") is tf.bfloat16
    assert tinyflow.half is tf.float16
    for name in LOW:
        dt = _ours(name)
        assert dt.is_floating and dt.is_reduced and dt.np == np.dtype(getattr(
            ml_dtypes, name, np.float16))
    assert not tf.float32.is_reduced and tf.float8_e5m2.is_fp8 and not tf.bfloat16.is_fp8


@pytest.mark.parametrize("a,b", list(itertools.combinations_with_replacement(NAMES, 2)))
def test_promotion_is_pytorchs(a, b):
    try:
        want = torch.promote_types(_torchs(a), _torchs(b))
    except RuntimeError as e:
        with pytest.raises(TypeError, match="no common dtype \\(float8 types are never promoted"):
            tinyflow.promote_types(_ours(a), _ours(b))
        assert "Float8" in str(e)
        return
    assert tinyflow.promote_types(_ours(a), _ours(b)) is _ours(str(want).split(".")[1])


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
def test_operands_promote_as_in_pytorch(name):
    """Python numbers and 0-dim tensors are weak; a tensor with dims of another float type
    meets it in the promoted type."""
    cases = [lambda L, x: x * 2.5, lambda L, x: x + 3, lambda L, x: x + L.tensor(1.0),
             lambda L, x: x + L.tensor([1, 2, 3]), lambda L, x: x + L.ones(3),
             lambda L, x: x + L.ones(3, dtype=L.float16),
             lambda L, x: x / L.tensor([1, 2, 3])]
    for case in cases:
        ours = case(tinyflow, tinyflow.tensor([1.0, 2.0, 3.0]).to(_ours(name)))
        theirs = case(torch, torch.tensor([1.0, 2.0, 3.0]).to(_torchs(name)))
        assert ours.dtype.name == str(theirs.dtype).split(".")[1]
        np.testing.assert_array_equal(ours.float().numpy(), theirs.float().numpy())


@pytest.mark.parametrize("name", LOW)
def test_casts_round_as_pytorch_does_bit_for_bit(name):
    """Round to nearest even, overflow, subnormals, NaN: float32 -> each type and back."""
    rng = np.random.default_rng(0)
    values = np.concatenate([
        rng.standard_normal(2000) * 10.0 ** rng.integers(-8, 6, 2000),
        [0.0, -0.0, np.inf, -np.inf, 1e-30, 65504.0, 65520.0, 448.0, 464.0, 57344.0, 3e38,
         1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8]]).astype(np.float32)
    ours = tinyflow.tensor(values).to(_ours(name))
    theirs = torch.tensor(values).to(_torchs(name))
    assert ours.dtype is _ours(name)
    np.testing.assert_array_equal(_bits(ours.numpy()), _torch_bits(theirs))
    np.testing.assert_array_equal(ours.float().numpy(), theirs.float().numpy())
    nan = tinyflow.tensor([np.nan]).to(_ours(name)).float().numpy()
    assert np.isnan(nan).all()


def test_method_and_factory_spellings():
    x = tinyflow.tensor([1.0, 2.0])
    assert x.bfloat16().dtype is tf.bfloat16 and x.half().dtype is tf.float16
    assert x.to(tinyflow.float8_e4m3fn).dtype is tf.float8_e4m3fn
    assert x.type(tinyflow.bfloat16).dtype is tf.bfloat16
    assert x.bfloat16().float().dtype is tf.float32 and x.bfloat16().element_size() == 2
    for make in (tinyflow.zeros, tinyflow.ones, tinyflow.empty):
        assert make(2, 3, dtype=tinyflow.bfloat16).dtype is tf.bfloat16
    assert tinyflow.full((2,), 1.5, dtype=tinyflow.bfloat16).dtype is tf.bfloat16
    assert tinyflow.tensor([1, 2], dtype=tinyflow.bfloat16).dtype is tf.bfloat16
    assert tinyflow.randn(3, dtype=tinyflow.bfloat16).dtype is tf.bfloat16
    assert tinyflow.zeros_like(x.bfloat16()).dtype is tf.bfloat16
    assert tinyflow.finfo(tinyflow.bfloat16).eps == torch.finfo(torch.bfloat16).eps
    assert tinyflow.finfo(tinyflow.float8_e4m3fn).max == torch.finfo(torch.float8_e4m3fn).max
    model = nn.Linear(3, 2).bfloat16()
    assert model.weight.dtype is tf.bfloat16 and model(tinyflow.ones(1, 3).bfloat16()).dtype \
        is tf.bfloat16


def test_tf1_graphs_hold_bfloat16():
    x = tf.placeholder(tf.bfloat16, [None, 3])
    y = tf.cast(tf.reduce_sum(x * 2.0, axis=1), tf.float32)
    with tf.Session() as sess:
        out = sess.run([x * 2.0, y], {x: np.array([[1.5, 2, 3]], np.float32)})
    assert out[0].dtype == ml_dtypes.bfloat16 and out[1].dtype == np.float32
    np.testing.assert_array_equal(out[1], [13.0])


def test_printing_and_numpy_interop():
    x = tinyflow.tensor([1.5, 2.0, 300.0]).bfloat16()
    assert repr(x) == "tensor([  1.5000,   2.0000, 300.0000], dtype=torch.bfloat16)"  # torch's
    assert repr(tinyflow.tensor([2.0]).to(tinyflow.float8_e5m2)) == \
        "tensor([2.], dtype=torch.float8_e5m2)"
    arr = x.numpy()
    assert arr.dtype == ml_dtypes.bfloat16 and arr.tolist() == [1.5, 2.0, 300.0]
    back = tinyflow.tensor(arr)
    assert back.dtype is tf.bfloat16 and tinyflow.from_numpy(arr).dtype is tf.bfloat16
    assert x[1].item() == 2.0 and f"{x[2]:.1f}" == "300.0"


def _torch_tensors():
    rng = np.random.default_rng(1)
    base = torch.tensor(rng.standard_normal((3, 4)).astype(np.float32))
    return {"bf16": base.bfloat16(), "f16": base.half(), "e4m3": base.to(torch.float8_e4m3fn),
            "e5m2": base.to(torch.float8_e5m2), "f32": base, "scalar": base[0, 0].bfloat16()}


def test_safetensors_written_by_pytorch_load_bit_exactly(tmp_path):
    tensors = _torch_tensors()
    path = tmp_path / "torch.safetensors"
    path.write_bytes(torch_save_bytes(tensors))
    for loaded in (tinyflow.load(str(path)), tinyflow.load(io.BytesIO(path.read_bytes()))):
        assert set(loaded) == set(tensors)
        for name, t in tensors.items():
            ours = loaded[name]
            assert ours.dtype.name == str(t.dtype).split(".")[1] and ours.shape == t.shape
            arr = ours.numpy()
            np.testing.assert_array_equal(arr if arr.itemsize == 4 else _bits(arr),
                                          _torch_bits(t))


def test_safetensors_written_by_tinyflow_load_in_pytorch_bit_exactly(tmp_path):
    tensors = _torch_tensors()
    ours = {name: tinyflow.tensor(t.float().numpy()).to(_ours(str(t.dtype).split(".")[1]))
            for name, t in tensors.items()}
    path = tmp_path / "ours.safetensors"
    tinyflow.save(ours, str(path))
    # the same file as safetensors' own writer makes, byte for byte, with the dict's
    # (unsorted) key order noted in the metadata (test_io_files: a sorted dict adds none)
    assert path.read_bytes() == torch_save_bytes(
        tensors, metadata={"tinyflow.order": json.dumps(list(tensors))})
    back = torch_load_bytes(path.read_bytes())
    for name, t in tensors.items():
        assert back[name].dtype is t.dtype
        np.testing.assert_array_equal(_torch_bits(back[name]), _torch_bits(t))


def test_an_unknown_dtype_names_the_tensor_and_the_file(tmp_path):
    header = json.dumps({"z": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}).encode()
    header += b" " * (-len(header) % 8)
    path = tmp_path / "complex.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(8))
    with pytest.raises(ValueError, match=r"tensor 'z' of '.*complex\.safetensors'.*C64"):
        tinyflow.load(str(path))
