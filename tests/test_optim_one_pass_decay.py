"""SGD's and Adam's one-pass eager steps fold the optimizer's direction (maximize, the
coupled weight decay) into the update (ops/state.py `SGDStep`, `MomentumStep`, `AdamStep`):
one kernel call per parameter, and PyTorch's values over five steps."""
from __future__ import annotations

import numpy as np
import pytest

import tinyflow
from tinyflow.core.kernels import numpy_kernels

torch = pytest.importorskip("torch")


def _run(lib, make, values, grads):
    params = [lib.nn.Parameter(lib.tensor(v)) for v in values]
    opt = make(lib, params)
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = lib.tensor(g)
        opt.step()
    return [p.detach().numpy() for p in params]


def _kernels_of_a_step(monkeypatch, make, values, grads) -> list:
    """The ops whose kernels one tinyflow step runs (the first)."""
    params = [tinyflow.nn.Parameter(tinyflow.tensor(v)) for v in values]
    opt = make(tinyflow, params)
    for p, g in zip(params, grads):
        p.grad = tinyflow.tensor(g)
    calls = []
    with monkeypatch.context() as patch:
        for cls, kernel in list(numpy_kernels.items()):
            patch.setitem(numpy_kernels, cls, lambda op, *a, _k=kernel, **kw: (
                calls.append(type(op).__name__), _k(op, *a, **kw))[1])
        opt.step()
    return calls


SGD_CASES = {
    "momentum": dict(lr=0.01, momentum=0.9, weight_decay=4e-5),
    "nesterov_maximize": dict(lr=0.05, momentum=0.8, weight_decay=1e-2, nesterov=True,
                              maximize=True),
    "dampening": dict(lr=0.1, momentum=0.5, dampening=0.3, weight_decay=3e-3),
    "plain": dict(lr=0.1, weight_decay=1e-2, maximize=True),
}


@pytest.mark.parametrize("case", sorted(SGD_CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_weight_decay_in_one_pass_as_pytorch(case, dtype, monkeypatch):
    rng = np.random.default_rng(3)
    values = [rng.standard_normal(s).astype(dtype) for s in ((40, 30), (7,))]
    grads = [[rng.standard_normal(v.shape).astype(dtype) for v in values] for _ in range(5)]
    make = (lambda lib, params: lib.optim.SGD(params, **SGD_CASES[case]))
    one = "SGDStep" if case == "plain" else "MomentumStep"
    assert _kernels_of_a_step(monkeypatch, make, values, grads[0]) == [one] * 2
    got = _run(tinyflow, make, values, grads)
    want = _run(torch, make, values, grads)
    tol = dict(rtol=1e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-14, atol=1e-15)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, **tol)


@pytest.mark.parametrize("maximize", [False, True])
def test_adam_coupled_weight_decay_in_one_pass_as_pytorch(maximize, monkeypatch):
    rng = np.random.default_rng(4)
    values = [rng.standard_normal(s).astype(np.float32) for s in ((20, 9), (9,))]
    grads = [[rng.standard_normal(v.shape).astype(np.float32) for v in values]
             for _ in range(5)]
    make = (lambda lib, params: lib.optim.Adam(params, lr=0.01, weight_decay=0.05,
                                                maximize=maximize))
    assert _kernels_of_a_step(monkeypatch, make, values, grads[0]) == ["AdamStep"] * 2
    for g, w in zip(_run(tinyflow, make, values, grads), _run(torch, make, values, grads)):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)
