"""Session 7's review of merged work: each case failed before its fix (against torch 2.13 or
the TF1 meaning it replaced)."""
import threading
import warnings

import numpy as np
import pytest
import torch

import tinyflow as tf
from tinyflow.backend.numpy import parallel


def test_tf_equal_of_values_that_are_not_tensors_is_elementwise():
    out = tf.equal(np.array([1, 2]), np.array([1, 3]))
    np.testing.assert_array_equal(out.numpy(), [True, False])
    assert tf.equal(tf.tensor([1, 2]), tf.tensor([1, 2])) is True     # torch.equal


def test_tf_normal_by_keywords():
    x = tf.normal(shape=[2, 3], stdev=0.5)
    assert tuple(tf.Session().run(x).shape) == (2, 3)


@pytest.mark.parametrize("fill", [
    lambda t, lib: t.masked_fill_(lib.tensor([[True, False, False]]), 1.0),
    lambda t, lib: t.index_fill_(1, lib.tensor([1]), 2.0)])
def test_fills_into_a_self_overlapping_tensor_without_a_base(fill):
    """a tensor over a broadcast array (no base tensor): the shared memory filled, as torch's"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mine = tf.from_numpy(np.broadcast_to(np.zeros(3), (2, 3)))
        theirs = torch.from_numpy(np.broadcast_to(np.zeros(3), (2, 3)))
        fill(mine, tf)
        fill(theirs, torch)
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_pairwise_distance_p0_counts_nonzeros():
    a, b = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    a[0, 1] = b[0, 1] - 1e-6          # equal after eps: one zero difference
    got = tf.nn.functional.pairwise_distance(tf.tensor(a), tf.tensor(b), 0)
    want = torch.nn.functional.pairwise_distance(torch.tensor(a), torch.tensor(b), 0)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_to_tensor_rounds_as_torchvision():
    from tinyflow.datasets.vision import transforms
    image = np.arange(256, dtype=np.uint8).reshape(16, 16)
    got = transforms.ToTensor()(image).numpy()
    want = torch.from_numpy(image).float().div(255).numpy()[None]
    np.testing.assert_array_equal(got, want)
    assert transforms.ToTensor()(np.zeros((2, 2), np.float64)).dtype == tf.float64


def test_tensor_dtype_from_numpy_scalars_as_torch():
    for data in ([np.float32(1.0), 2.5], [np.int64(1), 2.5], [np.float64(1.0), 2.5],
                 np.array([1.5]), [np.array([1.5], np.float32), [2.5]]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")      # torch: a list of arrays is slow
            want = torch.tensor(data).dtype
        assert str(tf.tensor(data).dtype).split(".")[-1] == str(want).split(".")[-1], data


def test_sin_cos_of_inf_are_silent():
    x = tf.tensor([np.inf, 0.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(np.isnan(x.sin().numpy()), [True, False, False])
        x.cos()


def test_a_run_alone_waits_for_no_other_run(monkeypatch):
    monkeypatch.setattr(parallel, "threads", lambda: 2)
    inside, release = threading.Event(), threading.Event()

    def slow(i, j):
        if i == 0:
            inside.set()
            release.wait(timeout=30)
    other = threading.Thread(target=parallel.run, args=(slow, 2))
    other.start()
    assert inside.wait(timeout=30)
    ran = []
    assert parallel.run(lambda i, j: ran.append(i), 2, alone=True) is False and not ran
    release.set()
    other.join(timeout=30)
    assert parallel.run(lambda i, j: ran.append(i), 2, alone=True) is True
    assert sorted(ran) == [0, 1]


def test_a_compiled_call_whose_gradient_reads_its_own_write_stays_differentiable():
    def f(w, x):
        w.detach().mul_(0.5)
        return (w * x).sum()
    w1, w2 = tf.ones(3, requires_grad=True), tf.ones(3, requires_grad=True)
    eager = f(w1, tf.ones(3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = tf.compile(f)(w2, tf.ones(3))
    assert compiled.requires_grad and eager.requires_grad
    eager.backward()
    compiled.backward()
    np.testing.assert_array_equal(w1.grad.numpy(), w2.grad.numpy())
    np.testing.assert_array_equal(w1.detach().numpy(), w2.detach().numpy())


class _Shared(tf.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = tf.nn.Linear(2, 2)
        self.drop = tf.nn.Dropout(0.5)
        self.seq = [self.drop]
        self.__dict__["me"] = self     # a cycle


def test_whole_model_save_keeps_identity_and_cycles(tmp_path):
    path = str(tmp_path / "m.pt")
    tf.save(_Shared(), path)
    m = tf.load(path, weights_only=False)
    assert m.seq[0] is m.drop and m.me is m
    m.eval()
    assert not m.seq[0].training


def test_zero_size_products_through_the_front_end():
    x = tf.zeros(2, 3, 0, requires_grad=True)
    assert (x @ tf.zeros(0, 5)).shape == (2, 3, 5)
    x = tf.zeros(2, 3, 4, requires_grad=True)
    (x @ tf.zeros(4, 0)).sum().backward()
    assert x.grad.shape == (2, 3, 4) and not x.grad.numpy().any()


def test_overlapping_runs_give_openblas_its_threads_back(monkeypatch):
    """runs from several threads overlap: OpenBLAS's count comes back once the last ends"""
    counts = [2]

    def setter(n):
        previous, counts[0] = counts[0], n
        return previous
    monkeypatch.setattr(parallel, "_openblas_local", lambda: setter)
    monkeypatch.setattr(parallel, "threads", lambda: 2)
    inside = threading.Barrier(3)

    def piece(i, j):
        if i == 0:
            inside.wait(timeout=30)    # both runs are active at once

    workers = [threading.Thread(target=parallel.run, args=(piece, 2)) for _ in range(2)]
    for w in workers:
        w.start()
    inside.wait(timeout=30)
    assert counts[0] == 1
    for w in workers:
        w.join(timeout=30)
    assert counts[0] == 2
