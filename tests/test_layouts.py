"""A product read back through a transpose and a copying reshape (attention's heads put side
by side) is written in the transposed layout, so the reshape is a view (passes/layouts.py):
compiled values and gradients equal eager ones, pooled or not, and the pass stays away when
the product or its transpose is read elsewhere."""
from __future__ import annotations

import numpy as np

import tinyflow as torch
from tinyflow.backend.numpy.registry import KERNELS
from tinyflow.ops.shape import Reshape, ReshapeTo


def _program(fn):
    plans = [e.plan for es in fn._cache.values() if isinstance(es, list) for e in es]
    return [c.program for p in plans for c in p._compiled.values()][-1]


def _heads(extra_read: bool):
    rng = np.random.default_rng(4)
    x = torch.tensor(rng.standard_normal((3, 5, 8)).astype(np.float32), requires_grad=True)
    w = torch.tensor(rng.standard_normal((2, 4, 6)).astype(np.float32), requires_grad=True)
    c = torch.tensor(rng.standard_normal((3, 5, 12)).astype(np.float32))

    def fn():
        h = x.reshape(3, 5, 2, 4).transpose(1, 2)       # (3, 2, 5, 4)
        p = h @ w                                       # (3, 2, 5, 6)
        y = p.transpose(1, 2).reshape(3, 5, 12)         # the heads side by side: a copy
        if extra_read:
            y = y + p.sum()                             # the product read elsewhere too
        (y * c).sum().backward()
        return y
    return fn, x, w


def test_product_written_transposed_equals_eager(monkeypatch):
    copies = []
    for op in (Reshape, ReshapeTo):
        def spy(op, x, *rest, _real=KERNELS[op]):
            out = _real(op, x, *rest)
            copies.append(not np.shares_memory(out, x))
            return out
        monkeypatch.setitem(KERNELS, op, spy)
    for extra_read in (False, True):
        fn, x, w = _heads(extra_read)
        want = [fn().detach().numpy().copy(), x.grad.numpy().copy(), w.grad.numpy().copy()]
        fn, x, w = _heads(extra_read)
        compiled = torch.compile(fn)
        for _ in range(3):     # recording run, then the planned code
            copies.clear()
            x.grad = w.grad = None
            got = [compiled().detach().numpy().copy(), x.grad.numpy().copy(), w.grad.numpy().copy()]
            for a, b in zip(got, want):
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert sum(copies) == (1 if extra_read else 0)   # the last run's reshapes: views
        notes = [note for name, note in _program(compiled).log if name == "layouts"]
        # the forward product (unless read elsewhere) and x's gradient, dh = g w^T
        assert notes and notes[0].startswith("1 product" if extra_read else "2 product")
