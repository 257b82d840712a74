"""What other people's PyTorch programs needed, round 3 (issues 13/14), each checked against
PyTorch as the oracle: karpathy's minGPT trainer and makemore (an endless RandomSampler, the
data loader's module paths, torch.cuda seeding, a roll whose result is written in place), and
the functions whose result must be a new tensor, not the input or a view of it.
"""
import importlib
import itertools

import numpy as np
import pytest
import torch

import tinyflow


# ---- data loading in minGPT's and makemore's trainers -------------------------------------

class _Words:
    """A map-style dataset of (x, y) int64 pairs, written once for both libraries."""

    def __init__(self, lib, n=10):
        self.lib, self.n = lib, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.lib.tensor([i, i + 1]), self.lib.tensor(i * 2)


@pytest.mark.parametrize("lib", [torch, tinyflow], ids=["torch", "tinyflow"])
def test_endless_sampler_with_replacement_gives_batches_at_once(lib):
    """minGPT and makemore draw 10**10 samples with replacement; the first batch must come
    without drawing them all."""
    data = _Words(lib)
    sampler = lib.utils.data.RandomSampler(data, replacement=True, num_samples=int(1e10))
    loader = lib.utils.data.DataLoader(data, sampler=sampler, batch_size=4)
    batches = list(itertools.islice(iter(loader), 3))
    assert len(loader) == 25 * 10 ** 8
    for x, y in batches:
        assert tuple(x.shape) == (4, 2) and tuple(y.shape) == (4,)
        assert ((x[:, 1] - x[:, 0]) == 1).all() and (y == 2 * x[:, 0]).all()


def test_user_sampler_without_end_is_read_a_batch_at_a_time():
    def first(lib):
        class Cycle(lib.utils.data.Sampler):
            def __iter__(self):
                return (i % 10 for i in itertools.count())

        loader = lib.utils.data.DataLoader(_Words(lib), sampler=Cycle(), batch_size=4)
        return [x[:, 0].tolist() for x, _ in itertools.islice(iter(loader), 4)]

    assert first(tinyflow) == first(torch) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1],
                                               [2, 3, 4, 5]]


@pytest.mark.parametrize("replacement", [True, False])
@pytest.mark.parametrize("drop_last", [True, False])
def test_many_samples_keep_the_count_and_last_batch_of_torch(replacement, drop_last):
    """More samples than one drawn chunk (and than the dataset, without replacement)."""
    def sizes(lib):
        data = lib.utils.data.TensorDataset(lib.arange(1000))
        sampler = lib.utils.data.RandomSampler(data, replacement=replacement, num_samples=70001)
        loader = lib.utils.data.DataLoader(data, sampler=sampler, batch_size=1000,
                                           drop_last=drop_last)
        got = [x.numpy() for (x,) in loader]
        counts = np.bincount(np.concatenate(got), minlength=1000)
        return len(loader), len(got), len(got[-1]), sum(map(len, got)), counts

    ours, theirs = sizes(tinyflow), sizes(torch)
    assert ours[:4] == theirs[:4]
    if not replacement and not drop_last:  # 70 whole permutations and one more index
        assert sorted(set(ours[4].tolist())) == sorted(set(theirs[4].tolist())) == [70, 71]


def test_data_loader_module_paths_are_torchs():
    for sub, names in [("dataloader", ["DataLoader", "default_collate"]),
                       ("dataset", ["Dataset", "TensorDataset", "Subset", "random_split"]),
                       ("sampler", ["Sampler", "RandomSampler", "BatchSampler"])]:
        mod = importlib.import_module(f"tinyflow.utils.data.{sub}")
        for name in names:
            assert getattr(mod, name) is getattr(tinyflow.utils.data, name)
            assert hasattr(importlib.import_module(f"torch.utils.data.{sub}"), name)


def test_cuda_seeding_is_a_no_op_and_cuda_queries_fail_as_in_cpu_only_torch():
    for lib in (torch, tinyflow):
        for name in ("manual_seed", "manual_seed_all", "seed", "seed_all", "empty_cache"):
            assert getattr(lib.cuda, name)(*([3] if "manual" in name else [])) is None
        assert lib.cuda.is_initialized() is False and lib.cuda.is_bf16_supported() is False
    for name in ("synchronize", "current_device", "get_device_name"):
        with pytest.raises(AssertionError):
            getattr(torch.cuda, name)()
        with pytest.raises(AssertionError, match="no CUDA"):
            getattr(tinyflow.cuda, name)()


# ---- a new tensor, not the input: results written in place ------------------------------

NEW_TENSOR = {
    "roll by the dim's size": lambda lib, x: lib.roll(x, 3, 1),
    "roll by 0": lambda lib, x: lib.roll(x, 0, 1),
    "roll flat by numel": lambda lib, x: lib.roll(x, 6),
    "roll two dims": lambda lib, x: lib.roll(x, (2, 3), (0, 1)),
    "flip no dims": lambda lib, x: lib.flip(x, ()),
    "flip dim 0": lambda lib, x: lib.flip(x, (0,)),
    "method flip": lambda lib, x: x.flip(1),
    "pad by zeros": lambda lib, x: lib.nn.functional.pad(x, (0, 0)),
    "pad crop": lambda lib, x: lib.nn.functional.pad(x, (-1, 0)),
    "reflect pad by zeros": lambda lib, x: lib.nn.functional.pad(x[None], (0, 0), mode="reflect")[0],
    "repeat ones": lambda lib, x: x.repeat(1, 1),
    "tile ones": lambda lib, x: lib.tile(x, (1, 1)),
    "tile rows": lambda lib, x: lib.tile(x, (2, 1)),
    "to copy=True": lambda lib, x: x.to(lib.float32, copy=True),
}


@pytest.mark.parametrize("fn", NEW_TENSOR.values(), ids=NEW_TENSOR.keys())
def test_result_is_a_new_contiguous_tensor_as_in_torch(fn):
    """Writing into the result (through .view(-1), which needs it contiguous) must leave
    the input as it was."""
    def run(lib):
        x = lib.arange(6.0).view(2, 3) + 1
        y = fn(lib, x)
        before = y.numpy().copy()
        y.view(-1)[0] = -7.0
        return x.numpy(), before

    (x_ours, y_ours), (x_theirs, y_theirs) = run(tinyflow), run(torch)
    np.testing.assert_array_equal(y_ours, y_theirs)
    np.testing.assert_array_equal(x_ours, x_theirs)
    np.testing.assert_array_equal(x_ours, np.arange(6.0).reshape(2, 3) + 1)


def test_to_without_copy_still_returns_the_input():
    x = tinyflow.ones(2)
    assert x.to(tinyflow.float32) is x and x.float() is x


def _char_mlp(lib, weights, idx, targets, steps=3):
    """makemore's MLP: each of block_size embeddings looks one more token back, by rolling
    the indices and writing the blank token into the rolled copy."""
    vocab, emb, block = 6, 4, 3
    wte = lib.nn.Embedding(vocab + 1, emb)
    head = lib.nn.Sequential(lib.nn.Linear(block * emb, 8), lib.nn.Tanh(), lib.nn.Linear(8, vocab))
    params = [wte.weight] + list(head.parameters())
    with lib.no_grad():
        for p, w in zip(params, weights):
            p.copy_(lib.tensor(w))
    opt = lib.optim.AdamW(params, lr=1e-2, betas=(0.9, 0.99), eps=1e-8)
    idx, losses = lib.tensor(idx), []
    for _ in range(steps):
        cur, embs = idx, []
        for _ in range(block):
            embs.append(wte(cur))
            cur = lib.roll(cur, 1, 1)
            cur[:, 0] = vocab
        logits = head(lib.cat(embs, -1))
        loss = lib.nn.functional.cross_entropy(logits.view(-1, vocab), lib.tensor(targets).view(-1),
                                               ignore_index=-1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, idx.numpy(), [p.detach().numpy() for p in params]


@pytest.mark.parametrize("length", [1, 5])
def test_makemore_mlp_trains_like_torch_and_leaves_its_input_alone(length):
    rng = np.random.default_rng(0)
    shapes = [(7, 4), (8, 12), (8,), (6, 8), (6,)]
    weights = [rng.standard_normal(s).astype(np.float32) * 0.5 for s in shapes]
    idx = rng.integers(0, 6, (4, length))
    targets = np.where(rng.random((4, length)) < 0.2, -1, rng.integers(0, 6, (4, length)))
    ours, theirs = _char_mlp(tinyflow, weights, idx, targets), _char_mlp(torch, weights, idx, targets)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5)
    np.testing.assert_array_equal(ours[1], idx)
    for a, b in zip(ours[2], theirs[2]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_compiled_write_into_a_tensor_made_in_the_call_matches_eager(recwarn):
    """makemore's MLP under torch.compile: the rolled indices are written in place inside the
    compiled call (was: an AttributeError planning the write back to an eager tensor)."""
    def loss_of(lib, emb, idx):
        cur, total = idx, 0.0
        for _ in range(3):
            total = total + emb(cur).sum(-1).square().mean()
            cur = lib.roll(cur, 1, 1)
            cur[:, 0] = 6
        return total

    rng = np.random.default_rng(1)
    weight, idx = rng.standard_normal((7, 3)).astype(np.float32), rng.integers(0, 6, (4, 5))

    def run(lib, compiled):
        emb = lib.nn.Embedding(7, 3)
        with lib.no_grad():
            emb.weight.copy_(lib.tensor(weight))
        def fn(emb, x):
            return loss_of(lib, emb, x)
        x = lib.tensor(idx)
        loss = (lib.compile(fn) if compiled else fn)(emb, x)
        loss.backward()
        return loss.item(), emb.weight.grad.numpy(), x.numpy()

    ours, eager, theirs = run(tinyflow, True), run(tinyflow, False), run(torch, False)
    assert not [w for w in recwarn if "graph break" in str(w.message)]
    for a, b, c in zip(ours, eager, theirs):
        np.testing.assert_allclose(a, c, rtol=1e-6)
        np.testing.assert_allclose(b, c, rtol=1e-6)
    np.testing.assert_array_equal(ours[2], idx)


def test_torch_concat_is_cat_with_dim_zero_by_default():
    a = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    for call in (lambda L, x: L.concat([x, x]), lambda L, x: L.concat([x, x], dim=1),
                 lambda L, x: L.concat((x, x), -1)):
        np.testing.assert_array_equal(call(tinyflow, tinyflow.tensor(a)).numpy(),
                                      call(torch, torch.tensor(a)).numpy())


@pytest.mark.parametrize("source, destination", [((0, 1), (2, 0)), (0, 2), (-1, 0),
                                                 ([0], [1])])
def test_movedim_and_moveaxis_take_ints_and_sequences(source, destination):
    data = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    want = torch.movedim(torch.from_numpy(data), source, destination).numpy()
    x = tinyflow.from_numpy(data)
    for got in (tinyflow.movedim(x, source, destination), x.moveaxis(source, destination),
                tinyflow.moveaxis(x, source, destination)):
        np.testing.assert_array_equal(got.numpy(), want)
    with pytest.raises(ValueError, match="movedim"):
        tinyflow.movedim(x, (0, 1), (2,))
