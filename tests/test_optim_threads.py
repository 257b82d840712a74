"""The optimizers' one-pass updates (SGD with momentum, Adam, AdamW) on the kernel pool
(forced on: two threads, every size cut): the same bits as on one thread over several
steps, in float32 and float64, and PyTorch's values."""
from __future__ import annotations

import numpy as np
import pytest

from tinyflow import optim
from tinyflow.backend.numpy import parallel
from tinyflow.pytorch.creation import tensor

from pool_helpers import force_pool

torch = pytest.importorskip("torch")

SHAPES = [(37, 29), (1001,), (3,)]      # pieces not aligned to a SIMD width; one tiny
CASES = [
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=0.1, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
]


def _train(lib, name, kwargs, dtype, steps=4):
    """The parameters after `steps` steps from fixed values and gradients."""
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    make = torch.tensor if lib is torch else tensor
    params = [make(v.copy(), requires_grad=True) for v in values]
    opt = getattr(torch.optim if lib is torch else optim, name)(params, **kwargs)
    for step in range(steps):
        grads = np.random.default_rng(10 + step)
        for p in params:
            p.grad = make(grads.standard_normal(tuple(p.shape)).astype(dtype))
        opt.step()
    return [p.detach().numpy().copy() for p in params]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{kw}" for n, kw in CASES])
def test_updates_in_pieces_give_one_threads_bits_and_torchs_values(monkeypatch, name,
                                                                   kwargs, dtype):
    monkeypatch.setattr(parallel, "threads", lambda: 1)
    alone = _train(None, name, kwargs, dtype)
    monkeypatch.undo()
    calls = force_pool(monkeypatch, 1, [])
    pieces = _train(None, name, kwargs, dtype)
    assert calls.count("state.py") == 4 * len(SHAPES), calls   # SGD's first step too
    for a, b in zip(alone, pieces):
        np.testing.assert_array_equal(a, b)
    theirs = _train(torch, name, kwargs, dtype)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    for a, b in zip(pieces, theirs):
        np.testing.assert_allclose(a, b, **tol)
