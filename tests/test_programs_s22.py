"""What other people's programs needed, round 22 (yunjey's pytorch-tutorial, rasbt's
LLMs-from-scratch, the PyTorch tutorials' CIFAR-10 classifier and LSTM tagger), run with only
their import lines changed: torch's math constants (a causal mask filled with `-torch.inf`)
and torchvision's CIFAR-10 read from its on-disk batches. Each test is a small program of the
same kind, written here, with PyTorch as the oracle.
"""
import math
import pickle

import numpy as np
import pytest
import torch

import tinyflow
from tinyflow.vision import datasets, transforms
from torch_oracle import assert_close, copy_state


def test_math_constants_are_torchs():
    for name in ("inf", "nan", "pi", "e", "newaxis"):
        assert getattr(tinyflow, name) is getattr(torch, name), name   # math's objects
    assert math.isnan(tinyflow.nan) and tinyflow.newaxis is None
    x = tinyflow.arange(6.0).reshape(2, 3)
    assert x[:, tinyflow.newaxis].shape == (2, 1, 3)


def _block_classes(fw):
    """A decoder block as a book would write it: its own LayerNorm (biased variance), GELU
    with the tanh curve spelled through `fw.pi`, a causal mask buffer filled with -inf."""
    nn = fw.nn

    class Norm(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.gain, self.shift = nn.Parameter(fw.ones(d)), nn.Parameter(fw.zeros(d))

        def forward(self, x):
            mean = x.mean(dim=-1, keepdim=True)
            var = x.var(dim=-1, keepdim=True, unbiased=False)
            return self.gain * (x - mean) / fw.sqrt(var + 1e-5) + self.shift

    class Gelu(nn.Module):
        def forward(self, x):
            c = fw.sqrt(fw.tensor(2.0 / fw.pi))
            return 0.5 * x * (1 + fw.tanh(c * (x + 0.044715 * fw.pow(x, 3))))

    class Block(nn.Module):
        def __init__(self, d, heads, length):
            super().__init__()
            self.heads, self.hd = heads, d // heads
            self.q, self.k, self.v = (nn.Linear(d, d, bias=False) for _ in range(3))
            self.out = nn.Linear(d, d)
            self.n1, self.n2 = Norm(d), Norm(d)
            self.ff = nn.Sequential(nn.Linear(d, 4 * d), Gelu(), nn.Linear(4 * d, d))
            self.register_buffer("mask", fw.triu(fw.ones(length, length), diagonal=1))

        def forward(self, x):
            b, t, d = x.shape
            h = self.n1(x)
            q, k, v = (m(h).view(b, t, self.heads, self.hd).transpose(1, 2)
                       for m in (self.q, self.k, self.v))
            scores = q @ k.transpose(2, 3)
            scores.masked_fill_(self.mask.bool()[:t, :t], -fw.inf)
            w = fw.softmax(scores / k.shape[-1] ** 0.5, dim=-1)
            x = x + self.out((w @ v).transpose(1, 2).contiguous().view(b, t, d))
            return x + self.ff(self.n2(x))

    class Model(nn.Module):
        def __init__(self, vocab=40, d=32, heads=4, length=16):
            super().__init__()
            self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(length, d)
            self.blocks = nn.Sequential(Block(d, heads, length), Block(d, heads, length))
            self.head = nn.Linear(d, vocab, bias=False)

        def forward(self, idx):
            t = idx.shape[1]
            return self.head(self.blocks(self.tok(idx) + self.pos(fw.arange(t))))

    return Model


def test_book_gpt_with_inf_mask_trains_as_torch():
    torch.manual_seed(0)
    theirs, ours = _block_classes(torch)(), _block_classes(tinyflow)()
    copy_state(theirs, ours)
    opt_t = torch.optim.AdamW(theirs.parameters(), lr=1e-3, weight_decay=0.1)
    opt_o = tinyflow.optim.AdamW(ours.parameters(), lr=1e-3, weight_decay=0.1)
    rng = np.random.default_rng(0)
    for step in range(4):
        x = rng.integers(0, 40, (3, 12))
        y = rng.integers(0, 40, (3, 12))
        losses = []
        for fw, model, opt in ((torch, theirs, opt_t), (tinyflow, ours, opt_o)):
            opt.zero_grad()
            logits = model(fw.tensor(x))
            loss = fw.nn.functional.cross_entropy(logits.flatten(0, 1), fw.tensor(y).flatten())
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert abs(losses[0] - losses[1]) < 1e-5, (step, losses)
    for (name, p), q in zip(theirs.named_parameters(), ours.parameters()):
        assert_close(q.detach().numpy(), p.detach().numpy(), name, rtol=1e-4, atol=1e-5)


def _write_cifar(folder, rng, batches, per_batch):
    """torchvision's CIFAR-10 layout: pickled dicts of a uint8 [N, 3072] `data` (channel
    planes, row-major) and a list of `labels`, plus `batches.meta`."""
    folder.mkdir(parents=True)
    written = {}
    for name in batches:
        data = rng.integers(0, 256, (per_batch, 3072)).astype(np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, per_batch)]
        with open(folder / name, "wb") as f:
            pickle.dump({"data": data, "labels": labels}, f)
        written[name] = (data, labels)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, f)
    return written


def test_cifar10_reads_torchvisions_batches(tmp_path):
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    written = _write_cifar(tmp_path / "cifar-10-batches-py", rng, names, 6)
    tfm = transforms.Compose([transforms.ToTensor(),
                              transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    train = datasets.CIFAR10(root=str(tmp_path), train=True, download=True, transform=tfm)
    test = datasets.CIFAR10(root=str(tmp_path), train=False, transform=tfm)
    assert len(train) == 30 and len(test) == 6 and train.data.shape == (30, 32, 32, 3)
    assert train.classes[3] == "class3" and train.class_to_idx["class9"] == 9
    data, labels = written["data_batch_2"]
    image, label = train[6 + 4]             # the second file's fifth row
    planes = data[4].reshape(3, 32, 32).astype(np.float32) / 255
    assert label == labels[4] and image.shape == (3, 32, 32)
    assert_close(image.numpy(), (planes - 0.5) / 0.5, "CIFAR image as [C, H, W]")
    loader = tinyflow.utils.data.DataLoader(test, batch_size=4, shuffle=False)
    images, targets = next(iter(loader))
    assert images.shape == (4, 3, 32, 32) and targets.tolist() == written["test_batch"][1][:4]


def test_cifar_without_files_says_where_and_does_not_download(tmp_path):
    with pytest.raises(RuntimeError, match="cifar-10-batches-py lacks data_batch_1.*download"):
        datasets.CIFAR10(root=str(tmp_path), train=True, download=True)
    written = _write_cifar(tmp_path / "cifar-100-python", np.random.default_rng(1), [], 0)
    assert written == {}
    with pytest.raises(RuntimeError, match="cifar-100-python lacks test"):
        datasets.CIFAR100(root=str(tmp_path), train=False)
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(
        pickle.dumps({"data": np.zeros((1, 3072), np.uint8), "labels": [0]}))
    with pytest.raises(RuntimeError, match="lacks batches.meta"):   # as torchvision: no
        datasets.CIFAR10(root=str(tmp_path), train=False)        # `classes` without it


class _Marker:
    """Unpickles as a call to `os.system`, which would create `path`: what a hostile
    'data_batch_1' could hold."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        import os
        return os.system, (f"touch {self.path}",)


def test_cifar_refuses_a_pickle_that_would_run_code(tmp_path):
    """A pickle calls whatever its file names: the reader allows only the few globals a
    CIFAR batch holds (NumPy's array rebuilders) and refuses the rest before calling it."""
    written = _write_cifar(tmp_path / "cifar-10-batches-py", np.random.default_rng(2),
                           ["test_batch"], 2)
    marker = tmp_path / "ran"
    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump({"data": written["test_batch"][0], "labels": _Marker(marker)}, f)
    with pytest.raises(pickle.UnpicklingError, match=r"test_batch.*(posix|os)\.system"):
        datasets.CIFAR10(root=str(tmp_path), train=False)
    assert not marker.exists()
    with open(tmp_path / "cifar-10-batches-py" / "batches.meta", "wb") as f:
        pickle.dump({"label_names": _Marker(marker)}, f, protocol=2)
    written = _write_cifar(tmp_path / "x" / "cifar-10-batches-py", np.random.default_rng(2),
                           ["test_batch"], 2)
    (tmp_path / "x" / "cifar-10-batches-py" / "batches.meta").write_bytes(
        (tmp_path / "cifar-10-batches-py" / "batches.meta").read_bytes())
    with pytest.raises(pickle.UnpicklingError, match=r"batches\.meta"):
        datasets.CIFAR10(root=str(tmp_path / "x"), train=False)
    assert not marker.exists()


def _python2_batch(data, labels):
    """A batch as the CIFAR archive's Python 2 cPickle wrote it (protocol 2): byte strings as
    BINSTRING (read back as latin-1 text), the array through `numpy.core.multiarray`."""
    import struct

    def text(s):
        s = s if isinstance(s, bytes) else s.encode("latin-1")
        return b"T" + struct.pack("<i", len(s)) + s

    def ints(*values):
        return b"".join(b"J" + struct.pack("<i", v) for v in values)

    dtype = (b"cnumpy\ndtype\n" + text("u1") + ints(0, 1) + b"\x87R"
             + b"(" + ints(3) + text("|") + b"NNN" + ints(-1, -1, 0) + b"tb")
    array = (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + ints(0) + b"\x85"
             + text("b") + b"\x87R" + b"(" + ints(1, *data.shape) + b"\x86" + dtype + b"\x89"
             + text(data.tobytes()) + b"tb")
    return (b"\x80\x02}(" + text("batch_label") + text("testing batch 1 of 1")
            + text("data") + array + text("labels") + b"](" + ints(*labels) + b"e"
            + text("filenames") + b"](" + text("a.png") + text("b.png") + b"eu.")


def test_cifar_reads_a_python2_pickled_batch(tmp_path):
    """The archive's batches come from Python 2: what the restricted reader must allow."""
    rng = np.random.default_rng(3)
    data = rng.integers(0, 256, (2, 3072)).astype(np.uint8)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(_python2_batch(data, [7, 2]))
    (folder / "batches.meta").write_bytes(
        pickle.dumps({"label_names": [f"c{i}" for i in range(10)]}, protocol=2))
    batch = pickle.loads(_python2_batch(data, [7, 2]), encoding="latin1")   # our own bytes
    assert (batch["data"] == data).all() and batch["labels"] == [7, 2]
    test = datasets.CIFAR10(root=str(tmp_path), train=False)
    assert test.targets == [7, 2] and (test.data[1] == data[1].reshape(3, 32, 32)
                                       .transpose(1, 2, 0)).all()
    image, label = test[0]
    assert image.dtype == np.uint8 and image.shape == (32, 32, 3) and label == 7


@pytest.mark.parametrize("dtype, value", [("int64", -math.inf), ("int32", math.nan),
                                          ("int8", 300), ("int64", 1e30), ("uint8", -256),
                                          ("float16", 1e5), ("float32", 1e39)])
def test_fill_value_its_dtype_cannot_hold_is_refused(dtype, value):
    """`masked_fill(mask, -torch.inf)` on an integer tensor: PyTorch refuses the value
    rather than writing INT_MIN (and a finite value past float16's range, rather than inf)."""
    for fw in (torch, tinyflow):
        mask = fw.tensor([True, False])
        fills = (lambda: fw.zeros(2, dtype=getattr(fw, dtype)).masked_fill(mask, value),
                 lambda: fw.zeros(2, dtype=getattr(fw, dtype)).masked_fill_(mask, value),
                 lambda: fw.zeros(2, dtype=getattr(fw, dtype)).fill_(value),
                 lambda: fw.full((2,), value, dtype=getattr(fw, dtype)),
                 lambda: fw.full_like(fw.zeros(2, dtype=getattr(fw, dtype)), value))
        for fill in fills:
            with pytest.raises(RuntimeError, match="cannot be converted"):
                fill()


def test_fill_values_its_dtype_holds_are_kept_as_torchs():
    for dtype, value in (("float16", -math.inf), ("bfloat16", math.nan), ("int64", 0.5),
                         ("int8", -128), ("bool", 2.0), ("float32", 3.4e38),
                         ("uint8", -255)):
        got = [fw.zeros(2, dtype=getattr(fw, dtype)).masked_fill(fw.tensor([True, False]), value)
               .float().tolist() for fw in (torch, tinyflow)]
        np.testing.assert_array_equal(got[1], got[0], dtype)
