"""What other people's programs needed, round 10: pytorch/examples' mnist_hogwild (a module in
shared memory trained by several processes), mnist_forward_forward, and the NLP, spatial
transformer and basics tutorials of pytorch/tutorials, run with only their import lines
changed. Each test reproduces the pattern, written here, with PyTorch as the oracle.
"""
import os
import pickle

import numpy as np
import pytest
import torch

import tinyflow
from tinyflow.core import shared_memory


# ---- Module.share_memory and Hogwild (pytorch/examples mnist_hogwild) ---------------------

def _net(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))


def test_share_memory_shares_parameters_and_buffers_as_torch():
    ours, theirs = _net(tinyflow), _net(torch)
    assert ours.share_memory() is ours and theirs.share_memory() is theirs
    assert [p.is_shared() for p in ours.parameters()] == [
        p.is_shared() for p in theirs.parameters()] == [True] * 6
    assert [b.is_shared() for b in ours.buffers()] == [b.is_shared() for b in theirs.buffers()]
    assert not tinyflow.ones(2).is_shared() and not torch.ones(2).is_shared()


def test_a_pickled_shared_module_trains_the_same_memory():
    """What spawn does with a Process's arguments: the copy's parameters are the original's
    memory, so an optimizer step in either is seen by both; gradients stay private."""
    tinyflow.manual_seed(0)
    model = _net(tinyflow).share_memory()
    copy = pickle.loads(pickle.dumps(model))
    before = model[0].weight.detach().numpy().copy()
    opt = tinyflow.optim.SGD(copy.parameters(), lr=0.5, momentum=0.5)
    loss = tinyflow.nn.functional.cross_entropy(copy(tinyflow.randn(5, 4)),
                                                tinyflow.tensor([0, 1, 0, 1, 1]))
    loss.backward()
    opt.step()
    assert not np.array_equal(before, model[0].weight.detach().numpy())
    for p, q in zip(model.parameters(), copy.parameters()):
        assert np.shares_memory(p.array, q.array) and p.grad is None and q.is_shared()
    assert np.array_equal(model[1].running_mean.numpy(), copy[1].running_mean.numpy())


def test_a_shared_tensor_unpickled_elsewhere_maps_the_same_block(monkeypatch):
    """Another process maps the block by name: a second mapping here stands for it."""
    t = tinyflow.arange(6.0).share_memory_()
    data = pickle.dumps(t[2:])
    monkeypatch.setattr(shared_memory, "_memory", {})
    other = pickle.loads(data)
    assert not np.shares_memory(other.array, t.array)   # two mappings of one block
    other.mul_(10)
    assert t.tolist() == [0, 1, 20, 30, 40, 50]


def test_a_shared_block_is_freed_with_its_last_tensor():
    t = tinyflow.ones(3).share_memory_()
    name = shared_memory.place_of(t.array)[0]
    assert os.path.exists(f"/dev/shm/{name}")
    del t
    assert not os.path.exists(f"/dev/shm/{name}")
    with pytest.raises(RuntimeError, match="shared block .* is gone"):
        shared_memory.attach(name, 0, (3,), (4,), np.float32)


def test_share_memory_of_a_view_is_refused():
    with pytest.raises(RuntimeError, match="share_memory_.*view"):
        tinyflow.ones(4)[1:].share_memory_()
