"""SGD momentum's fused eager step (ops/state.py `MomentumStep`) hands every parameter of a
step the same op, and takes a changed lr, momentum or dtype at once (one op is remembered,
not one per value a schedule gives): steps against PyTorch's, float32 and float64."""
from __future__ import annotations

import numpy as np
import pytest

import tinyflow
from tinyflow.core.kernels import numpy_kernels
from tinyflow.ops.state import MomentumStep

torch = pytest.importorskip("torch")


@pytest.fixture
def ops(monkeypatch):
    """The op of each MomentumStep kernel call."""
    calls, kernel = [], numpy_kernels[MomentumStep]

    def counted(op, *arrays, **kw):
        calls.append(op)
        return kernel(op, *arrays, **kw)
    monkeypatch.setitem(numpy_kernels, MomentumStep, counted)
    return calls


def test_the_parameters_of_a_step_share_one_op(ops):
    params = [tinyflow.nn.Parameter(tinyflow.ones(n)) for n in (3, 4, 5)]
    opt = tinyflow.optim.SGD(params, lr=0.1, momentum=0.9)
    for _ in range(3):
        for p in params:
            p.grad = tinyflow.ones(p.shape)
        opt.step()
    assert len(ops) == 9   # the first step starts the buffers (an op with starts=True)
    assert [op.starts for op in ops] == [True] * 3 + [False] * 6
    assert len({id(op) for op in ops[:3]}) == len({id(op) for op in ops[3:]}) == 1


def test_schedules_and_dtypes_change_the_op_as_pytorch_steps():
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(4).astype(np.float32), rng.standard_normal(3)]
    grads = [[rng.standard_normal(v.shape).astype(v.dtype) for v in values] for _ in range(5)]
    results = []
    for lib in (torch, tinyflow):
        params = [lib.nn.Parameter(lib.tensor(v)) for v in values]
        opt = lib.optim.SGD(params, lr=0.5, momentum=0.9, nesterov=True)
        sched = lib.optim.lr_scheduler.LambdaLR(opt, lambda k: 1.0 / (k + 1))
        for step, gs in enumerate(grads):
            for p, g in zip(params, gs):
                p.grad = lib.tensor(g)
            if step == 3:
                opt.param_groups[0]["momentum"] = 0.5
            opt.step()
            sched.step()
        results.append([p.detach().numpy() for p in params])
    for want, got in zip(*results):
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
