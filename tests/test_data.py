"""tinyflow.utils.data: datasets, samplers, collation and the DataLoader, with PyTorch's
DataLoader and default_collate as the oracle where the result is deterministic."""
import collections

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.utils.data as tud  # noqa: E402

import tinyflow as tf  # noqa: E402
from tinyflow.core.random import Generator, manual_seed  # noqa: E402
from tinyflow.pytorch.creation import tensor  # noqa: E402
from tinyflow.utils import data  # noqa: E402


def _xy(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64) % 4
    return x, y


def _flatten(batches):
    return np.concatenate([b[1].numpy() for b in batches])


def test_tensor_dataset_indexing_and_size_check():
    x, y = _xy()
    ds = data.TensorDataset(tensor(x), tensor(y))
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi.numpy(), x[3])
    assert yi.item() == 3 and yi.dtype == tf.int64
    with pytest.raises(ValueError, match=r"Size mismatch.*\[10, 9\]"):
        data.TensorDataset(tensor(x), tensor(y[:9]))


@pytest.mark.parametrize("batch_size,drop_last", [(4, False), (4, True), (5, False), (1, True)])
def test_sequential_batches_match_torch(batch_size, drop_last):
    x, y = _xy()
    ours = data.DataLoader(data.TensorDataset(tensor(x), tensor(y)), batch_size=batch_size,
                           drop_last=drop_last)
    theirs = tud.DataLoader(tud.TensorDataset(torch.tensor(x), torch.tensor(y)),
                            batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    got, want = list(ours), list(theirs)
    assert len(got) == len(want) == len(ours)
    for a, b in zip(got, want):
        assert type(a) is type(b) is list
        assert a[0].dtype == tf.float32 and a[1].dtype == tf.int64
        for t, r in zip(a, b):
            np.testing.assert_array_equal(t.numpy(), r.numpy())


def test_shuffle_is_a_reproducible_permutation():
    x, y = _xy(23)
    ds = data.TensorDataset(tensor(x), tensor(np.arange(23)))

    def epochs(loader, k=2):
        return [_flatten(list(loader)) for _ in range(k)]

    first = epochs(data.DataLoader(ds, batch_size=5, shuffle=True,
                                   generator=Generator().manual_seed(7)))
    again = epochs(data.DataLoader(ds, batch_size=5, shuffle=True,
                                   generator=Generator().manual_seed(7)))
    for order in first:
        assert sorted(order.tolist()) == list(range(23))
    assert not np.array_equal(first[0], np.arange(23))
    assert not np.array_equal(first[0], first[1])  # a fresh order each epoch
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    # without a generator, the global one (reseeded by manual_seed) decides
    loader = data.DataLoader(ds, batch_size=5, shuffle=True)
    manual_seed(3)
    a = _flatten(list(loader))
    manual_seed(3)
    np.testing.assert_array_equal(a, _flatten(list(loader)))
    # the rows stay together
    for xb, ib in data.DataLoader(ds, batch_size=5, shuffle=True):
        np.testing.assert_array_equal(xb.numpy(), x[ib.numpy()])


def test_fast_tensor_path_equals_per_example_collation_and_is_fast(monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20000, 8)).astype(np.float32)
    y = rng.integers(0, 10, 20000)
    ds = data.TensorDataset(tensor(x), tensor(y))
    gen = Generator()
    fast = data.DataLoader(ds, batch_size=64, shuffle=True, generator=gen.manual_seed(1))
    slow = data.DataLoader(ds, batch_size=64, shuffle=True, generator=Generator().manual_seed(1),
                           collate_fn=data.default_collate)
    for k, (a, b) in enumerate(zip(fast, slow)):
        for t, r in zip(a, b):
            np.testing.assert_array_equal(t.numpy(), r.numpy())
        if k == 3:
            break
    calls = []   # fast: the tensors indexed by each batch at once, never example by example
    whole = data.TensorDataset.__getitem__
    monkeypatch.setattr(data.TensorDataset, "__getitem__",
                        lambda self, i: calls.append(i) or whole(self, i))
    assert sum(len(xb) for xb, _ in fast) == 20000
    assert not calls
    assert sum(len(xb) for xb, _ in slow) == 20000 and len(calls) == 20000   # (the spy works)


class _Pairs(data.Dataset):
    """A map-style dataset of mixed examples: array, int, float, string, dict."""

    def __len__(self):
        return 7

    def __getitem__(self, i):
        return (np.full(2, i, np.float32), i, i / 2, f"s{i}",
                {"a": np.int32(i), "b": [i, float(i)]})


def _same(ours, theirs):
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, tf.Tensor)
        assert ours.dtype.name == str(theirs.dtype).replace("torch.", "")
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    elif isinstance(theirs, dict):
        assert ours.keys() == theirs.keys()
        for k in theirs:
            _same(ours[k], theirs[k])
    elif isinstance(theirs, (list, tuple)) and not isinstance(theirs[0], str):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
    else:
        assert ours == theirs


def test_default_collate_matches_torch():
    batch = [_Pairs()[i] for i in range(3)]
    _same(data.default_collate(batch), tud.default_collate(batch))
    point = collections.namedtuple("Point", "x y")
    batch = [point(np.float64(i), [i, i + 1]) for i in range(3)]
    ours, theirs = data.default_collate(batch), tud.default_collate(batch)
    assert type(ours) is point
    _same(list(ours), list(theirs))
    with pytest.raises(RuntimeError, match=r"the batch's sequences differ in length \(\[1, 2\]\)"):
        data.default_collate([[1, 2], [3]])


def test_generic_dataset_through_the_loader_matches_torch():
    ours = list(data.DataLoader(_Pairs(), batch_size=3))
    theirs = list(tud.DataLoader(_Pairs(), batch_size=3))
    assert len(ours) == len(theirs) == 3
    for a, b in zip(ours, theirs):
        _same(a, b)


def test_loader_options():
    x, y = _xy()
    ds = data.TensorDataset(tensor(x), tensor(y))
    # a custom collate_fn sees the list of examples
    sizes = list(data.DataLoader(ds, batch_size=4, collate_fn=len))
    assert sizes == [4, 4, 2]
    # an explicit sampler and a batch sampler
    picked = data.DataLoader(ds, batch_size=2, sampler=[9, 0, 5])
    assert [b[1].numpy().tolist() for b in picked] == [[1, 0], [1]]
    batches = data.DataLoader(ds, batch_sampler=[[0, 1, 2], [7]])
    assert len(batches) == 2 and [len(b[0]) for b in batches] == [3, 1]
    # batch_size=None yields examples one by one
    single = list(data.DataLoader(ds, batch_size=None))
    assert len(single) == 10 and single[2][0].shape == (3,)
    with pytest.raises(ValueError, match="a sampler sets the order itself; leave shuffle"):
        data.DataLoader(ds, sampler=[0], shuffle=True)
    with pytest.raises(ValueError, match="batch_size"):
        data.DataLoader(ds, batch_size=0)
    assert len(data.DataLoader(ds, batch_size=3, num_workers=2, pin_memory=True)) == 4


def test_subset_and_random_split():
    x, y = _xy(20)
    ds = data.TensorDataset(tensor(x), tensor(np.arange(20)))
    a, b, c = data.random_split(ds, [10, 6, 4], generator=Generator().manual_seed(0))
    assert (len(a), len(b), len(c)) == (10, 6, 4)
    seen = sorted(int(s[1]) for part in (a, b, c) for s in (part[i] for i in range(len(part))))
    assert seen == list(range(20))
    # a loader over a Subset gathers the same rows as indexing it one by one
    batch = next(iter(data.DataLoader(a, batch_size=10)))
    np.testing.assert_array_equal(batch[1].numpy(), [int(a[i][1]) for i in range(10)])
    np.testing.assert_array_equal(batch[0].numpy(), x[batch[1].numpy()])
    halves = data.random_split(ds, [0.5, 0.25, 0.25])
    assert [len(h) for h in halves] == [10, 5, 5]
    with pytest.raises(ValueError, match="the lengths add up to 10, but the dataset has 20 items"):
        data.random_split(ds, [5, 5])
    sub = data.Subset(ds, [3, 1])
    assert len(sub) == 2 and int(sub[0][1]) == 3
    both = sub + ds
    assert len(both) == 22 and int(both[1][1]) == 1 and int(both[2][1]) == 0
    assert int(both[-1][1]) == 19


def test_iterable_dataset_batches_in_order():
    class Stream(data.IterableDataset):
        def __iter__(self):
            return iter(range(7))

    assert [b.numpy().tolist() for b in data.DataLoader(Stream(), batch_size=3)] == \
        [[0, 1, 2], [3, 4, 5], [6]]
    assert len(list(data.DataLoader(Stream(), batch_size=3, drop_last=True))) == 2
    with pytest.raises(ValueError, match="IterableDataset"):
        data.DataLoader(Stream(), shuffle=True)
