"""The compiled call's fast path and the plan's short-row kernels: a call with only eager
tensors finds its graph by one tuple of shapes, dtypes and requires_grad (guards still
recompile exactly when they should), softmax and sums over short rows run the row loops
(equal to NumPy's kernels), and `Plan.profile` times each kernel of a real run."""
from __future__ import annotations

import numpy as np
import pytest

import tinyflow as torch
from tinyflow.backend.numpy import rows
from tinyflow.backend.numpy.nn import numpy_softmax
from tinyflow.backend.numpy.registry import KERNELS
from tinyflow.ops.nn import Softmax
from tinyflow.ops.reduce import Sum

RNG = np.random.default_rng(0)


def tensor(*shape, dtype=np.float32, requires_grad=False):
    return torch.Tensor(RNG.standard_normal(shape).astype(dtype), requires_grad=requires_grad)


def test_fast_path_recompiles_for_dtype_requires_grad_and_grad_mode():
    f = torch.compile(lambda x, y: (x * y).sum())
    x, y = tensor(4, 3), tensor(4, 3)
    for _ in range(3):
        np.testing.assert_allclose(f(x, y).numpy(), (x.numpy() * y.numpy()).sum(), rtol=1e-5)
    assert f.stats.compiles == 1
    x64 = tensor(4, 3, dtype=np.float64)
    np.testing.assert_allclose(f(x64, x64).numpy(), (x64.numpy() ** 2).sum(), rtol=1e-12)
    assert f.stats.compiles == 2 and f(x64, x64).dtype == torch.float64
    xg = tensor(4, 3, requires_grad=True)
    out = f(xg, y)
    out.backward()
    np.testing.assert_allclose(xg.grad.numpy(), y.numpy(), rtol=1e-6)
    assert f.stats.compiles == 3
    with torch.no_grad():
        assert not f(xg, y).requires_grad
    assert f.stats.compiles == 4
    f(x, y)
    assert f.stats.compiles == 4      # every key still cached


def test_fast_path_follows_automatic_dynamic_dims():
    f = torch.compile(lambda x: (x * 2).sum(dim=1))
    for shape in [(3, 4), (5, 4), (3, 4), (7, 4), (5, 4)]:
        x = tensor(*shape)
        np.testing.assert_allclose(f(x).numpy(), (x.numpy() * 2).sum(1), rtol=1e-6)
    assert (f.stats.compiles, f.stats.recompiles) == (2, 1)


def test_fast_path_sees_a_replaced_gradient_and_a_changed_learning_rate():
    w = torch.Tensor(np.ones((3, 2), np.float32), requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.1)
    x = tensor(5, 3)

    def step(x):
        loss = (x @ w).square().mean()
        loss.backward()
        opt.step()
        return loss
    f = torch.compile(step)
    w_eager = torch.Tensor(np.ones((3, 2), np.float32), requires_grad=True)
    opt_eager = torch.optim.SGD([w_eager], lr=0.1)
    for k in range(4):
        if k == 2:
            w.grad = None
            w_eager.grad = None
            opt.param_groups[0]["lr"] = opt_eager.param_groups[0]["lr"] = 0.05
        f(x)
        loss = (x @ w_eager).square().mean()
        loss.backward()
        opt_eager.step()
        np.testing.assert_allclose(w.detach().numpy(), w_eager.detach().numpy(), rtol=1e-5)
        np.testing.assert_allclose(w.grad.numpy(), w_eager.grad.numpy(), rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(100, 10), (3, 5, 7), (4, 1), (2, 64)])
def test_row_kernels_equal_numpy_kernels(shape, dtype):
    x = RNG.standard_normal(shape).astype(dtype) * 5
    x[0, ..., 0] = np.nan if x.shape[-1] > 1 else x[0, ..., 0]
    x.reshape(-1, x.shape[-1])[-1, :] = -np.inf if x.shape[-1] > 1 else 0
    tol = dict(rtol=1e-6 if dtype == np.float32 else 1e-13, atol=1e-7)
    op = Softmax(axis=len(shape) - 1)
    with np.errstate(all="ignore"):
        want = numpy_softmax(op, x)   # NumPy's ufuncs (the registered kernel picks the loops)
        np.testing.assert_allclose(rows.softmax_rows(op, x), want, **tol)
        out = np.empty_like(x)
        assert rows.softmax_rows(op, x, out=out) is out
        np.testing.assert_allclose(out, want, **tol)
    for keepdims in (True, False):
        op = Sum(axis=(len(shape) - 1,), keepdims=keepdims)
        want = np.add.reduce(x, axis=op.axis, keepdims=keepdims)   # NumPy's own sum
        got = rows.sum_rows(op, x)
        assert got.shape == want.shape and got.dtype == want.dtype
        # (summed in float64, then rounded: NumPy's float32 sum is off by a few ulps of
        # the row's magnitude, ~50 here)
        np.testing.assert_allclose(got, want, rtol=tol["rtol"],
                                   atol=2e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_eager_softmax_and_sum_pick_the_row_loops_for_short_rows(dtype, monkeypatch):
    """The registered kernels (what eager calls run) take the row loops exactly where they
    cover the input, and give NumPy's kernels' values either way."""
    import tinyflow as tf
    calls = []
    for name in ("softmax_rows", "sum_rows"):
        monkeypatch.setattr(rows, name, lambda *a, _f=getattr(rows, name), **k:
                            calls.append(_f) or _f(*a, **k))
    for shape, dim, covered in [((100, 10), 1, True), ((4, 3, 5), -1, True),
                                ((10, 100), 1, False), ((100, 10), 0, False)]:
        x = RNG.standard_normal(shape).astype(dtype)
        calls.clear()
        got = tf.nn.softmax(tf.constant(x), axis=dim).numpy()
        total = tf.reduce_sum(tf.constant(x), axis=dim).numpy()
        assert bool(calls) == covered, (shape, dim)
        wide = x.astype(np.float32) if dtype == np.float16 else x
        tol = dict(rtol=1e-2) if dtype == np.float16 else dict(rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(got, numpy_softmax(Softmax(axis=dim % len(shape)), wide),
                                   **tol)
        np.testing.assert_allclose(total, wide.sum(dim), **tol)
        assert got.dtype == total.dtype == dtype


def test_row_kernels_fall_back_for_strided_inputs():
    x = RNG.standard_normal((10, 8)).astype(np.float32).T       # not C-contiguous
    op = Softmax(axis=1)
    np.testing.assert_allclose(rows.softmax_rows(op, x), KERNELS[Softmax](op, x), rtol=1e-6)
    op = Sum(axis=(1,), keepdims=True)
    np.testing.assert_allclose(rows.sum_rows(op, x), KERNELS[Sum](op, x), rtol=1e-6)
    assert not rows.covers((10, 100), 1, np.float32)       # long rows: NumPy's
    assert not rows.covers((10, 8), 0, np.float32)         # not the last axis
    assert not rows.covers((10, 8), None, np.float32)
    assert not rows.covers((10, 8), 1, np.int64)


def seed_step(x, y_):
    w = torch.Tensor(np.zeros((784, 10), np.float32), requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.5)

    def step(x, y_):
        opt.zero_grad()
        loss = (-(y_ * torch.log(torch.softmax(x @ w, dim=1))).sum(dim=1)).mean()
        loss.backward()
        opt.step()
        return loss
    return step, w


def test_seed_step_runs_row_kernels_and_equals_eager_over_steps():
    x = torch.Tensor(RNG.random((100, 784), dtype=np.float32) * 0.1)
    y = torch.Tensor(np.eye(10, dtype=np.float32)[RNG.integers(0, 10, 100)])
    eager, w_eager = seed_step(x, y)
    compiled, w = seed_step(x, y)
    compiled = torch.compile(compiled)
    for _ in range(4):
        np.testing.assert_allclose(compiled(x, y).detach().numpy(), eager(x, y).detach().numpy(),
                                   rtol=1e-5)
        np.testing.assert_allclose(w.detach().numpy(), w_eager.detach().numpy(), rtol=1e-4,
                                   atol=1e-6)
        np.testing.assert_allclose(w.grad.numpy(), w_eager.grad.numpy(), rtol=1e-4, atol=1e-7)
    (entry,) = [e for es in compiled._cache.values() for e in es]
    program = next(iter(entry.plan._compiled.values())).program
    kernels = {s.kernel for s in program.steps}
    assert {rows.softmax_rows, rows.sum_rows} <= kernels
    profile = entry.plan.profile([x.array, y.array], runs=2)     # two real steps
    assert len(profile) == len(program.steps)
    assert all(t >= 0 for _, _, t, _ in profile)
    assert "softmax" in [name for name, *_ in profile]
    for _ in range(2):
        eager(x, y)
    np.testing.assert_allclose(w.detach().numpy(), w_eager.detach().numpy(), rtol=1e-4, atol=1e-6)


def test_generated_kernel_divides_by_zero_as_numpy():
    """The generated loops use NumPy's error model: x / 0 is inf or NaN, never an error
    (and the loop with a division vectorizes)."""
    x = RNG.standard_normal((256, 256)).astype(np.float32)
    y = RNG.standard_normal((256, 256)).astype(np.float32)
    y[::3] = 0.0
    x[::5, ::2] = 0.0
    f = torch.compile(lambda a, b: (a / b + 1.0) * 2.0 - a)
    with np.errstate(all="ignore"):
        want = (x / y + 1.0) * 2.0 - x
    got = f(torch.Tensor(x), torch.Tensor(y)).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-6)


def seed_data():
    x = torch.Tensor(RNG.random((100, 784), dtype=np.float32) * 0.1)
    return x, torch.Tensor(np.eye(10, dtype=np.float32)[RNG.integers(0, 10, 100)])


def test_seed_step_joins_softmax_with_its_loss_and_gradient_with_its_sum():
    from tinyflow.passes.row_kernels import row_joins
    x, y = seed_data()
    eager, w_eager = seed_step(x, y)
    compiled, w = seed_step(x, y)
    compiled = torch.compile(compiled)
    for _ in range(3):
        np.testing.assert_allclose(compiled(x, y).detach().numpy(), eager(x, y).detach().numpy(),
                                   rtol=1e-5)
    np.testing.assert_allclose(w.detach().numpy(), w_eager.detach().numpy(), rtol=1e-4, atol=1e-6)
    (entry,) = [e for es in compiled._cache.values() for e in es]
    c = next(iter(entry.plan._compiled.values()))
    joins = row_joins(c.program, c.buffers)
    assert sorted(type(c.program.steps[j.absorbed].op).__name__ for j in joins) == [
        "SoftmaxCrossEntropy", "Sum"]


@pytest.mark.parametrize("refused", ["softmax_xent_rows", "softmax_grad_rows"])
def test_row_joins_fall_back_to_the_separate_kernels(monkeypatch, refused):
    monkeypatch.setattr(rows, refused, lambda *args: None)
    x, y = seed_data()
    eager, w_eager = seed_step(x, y)
    compiled, w = seed_step(x, y)
    compiled = torch.compile(compiled)
    for _ in range(3):
        np.testing.assert_allclose(compiled(x, y).detach().numpy(), eager(x, y).detach().numpy(),
                                   rtol=1e-5)
        np.testing.assert_allclose(w.detach().numpy(), w_eager.detach().numpy(), rtol=1e-4,
                                   atol=1e-6)
        np.testing.assert_allclose(w.grad.numpy(), w_eager.grad.numpy(), rtol=1e-4,
                                   atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_joined_row_kernels_equal_the_separate_ones_bit_for_bit(dtype):
    from tinyflow.ops.nn import SoftmaxCrossEntropy
    x = (RNG.standard_normal((50, 10)) * 3).astype(dtype)
    labels = np.eye(10, dtype=dtype)[RNG.integers(0, 10, 50)]
    y, loss = rows.softmax_xent_rows(x, labels)
    np.testing.assert_array_equal(y, rows.softmax_rows(Softmax(axis=1), x))
    np.testing.assert_array_equal(loss, KERNELS[SoftmaxCrossEntropy](SoftmaxCrossEntropy(),
                                                                     labels, x))
    g = RNG.standard_normal((50, 10)).astype(dtype)
    want = g - y * rows.sum_rows(Sum(axis=(1,), keepdims=True), g)
    np.testing.assert_array_equal(rows.softmax_grad_rows(y, g), want)
    rows.softmax_grad_rows(y, g, out=g)         # in place over g, as the planner may
    np.testing.assert_array_equal(g, want)
    assert rows.softmax_grad_rows(y, np.asfortranarray(g)) is None   # strided: not covered
    assert rows.softmax_xent_rows(x.T, labels.T) is None       # strided: not covered


def test_graph_recompiles_when_a_captured_module_or_parameter_changes():
    """A closure's module switched to eval() or its parameter's requires_grad turned off gives
    torch's answer, not the graph traced before (they are not in the call's arguments)."""
    drop = torch.nn.Dropout(0.5)
    w = torch.ones(3, requires_grad=True)
    f = torch.compile(lambda x: (drop(x) * w).sum())
    x = torch.ones(3)
    for _ in range(2):
        f(x)
    drop.eval()
    assert f(x).item() == 3.0
    w.requires_grad_(False)
    assert not f(x).requires_grad


def test_one_tensor_passed_as_two_arguments_sees_its_own_write():
    """f(p, p) writing its first argument: the second sees the write, as in eager code (a
    graph traced with distinct arguments is not reused, and this call runs eagerly)."""
    def add_then_sum(a, b):
        a.add_(1.0)
        return a + b
    f = torch.compile(add_then_sum)
    for _ in range(2):
        f(torch.zeros(3), torch.zeros(3))
    with pytest.warns(UserWarning, match="graph break"):
        for _ in range(2):
            p = torch.zeros(3)
            np.testing.assert_array_equal(f(p, p).numpy(), [2.0, 2.0, 2.0])
            np.testing.assert_array_equal(p.numpy(), [1.0, 1.0, 1.0])
