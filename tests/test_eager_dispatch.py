"""The eager fast paths (per-op overhead work): each gives what the slow path gave, checked
against PyTorch where it has the behaviour, and keeps the slow path's errors."""
import numpy as np
import pytest
import torch

import tinyflow as tf
from tinyflow.core.graph import topo_sort
from types import FunctionType

from tinyflow.core.kernels import numpy_kernels as KERNELS
from tinyflow.core.op import apply, shared
from tinyflow.ops.math import Relu
from tinyflow.ops.linalg import MatMul
from tinyflow.ops.reduce import Sum


def _pair(shape, seed=0, requires_grad=True):
    a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return (tf.tensor(a, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


# ---- gradient accumulation ---------------------------------------------------------------

def test_backward_accumulates_into_the_existing_grad_in_place_as_torch():
    (w, tw), (x, tx) = _pair((4, 3)), _pair((2, 4), seed=1, requires_grad=False)
    for lib_w, lib_x, lib in ((w, x, tf), (tw, tx, torch)):
        lib_w.grad = None
        (lib_x @ lib_w).sum().backward()
        first = lib_w.grad
        (lib_x @ lib_w * 2).sum().backward()
        assert lib_w.grad is first   # AccumulateGrad adds into the same tensor
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-6)


def test_in_place_accumulation_bumps_the_version_and_keeps_leaves_apart():
    x, _ = _pair((3,))
    y, _ = _pair((3,), seed=1)
    (x + y).sum().backward()   # add hands one array to both leaves
    assert not np.shares_memory(x.grad.numpy(), y.grad.numpy())
    version = x.grad._version[0]
    (x * 3).sum().backward()
    assert x.grad._version[0] == version + 1
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 4.0))
    np.testing.assert_allclose(y.grad.numpy(), np.ones(3))


def test_a_grad_that_requires_grad_or_differs_is_replaced_not_written():
    x, _ = _pair((3,))
    (x * x).sum().backward(create_graph=True)
    first = x.grad
    assert first.requires_grad
    (x * 2).sum().backward()
    assert x.grad is not first   # a tracked .grad is never written in place
    np.testing.assert_allclose(first.detach().numpy(), 2 * x.detach().numpy(), rtol=1e-6)


def test_a_leaf_gradient_handed_once_is_not_copied():
    x, _ = _pair((5, 4))
    seen = []
    x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy()))
    (x * 2).sum().backward()
    assert seen and seen[0] is x.grad.numpy()


def test_backward_walks_only_tensors_that_require_grad_in_topological_order():
    x, _ = _pair((3,))
    c = tf.ones(3)
    b = x * 2
    a = b * x + b + c * x
    expected = [n for n in topo_sort([a]) if n.requires_grad]
    assert [id(n) for n in topo_sort([a], requires_grad_only=True)] == \
        [id(n) for n in expected]


# ---- in-place ops outside autograd ------------------------------------------------------

def test_in_place_updates_under_no_grad_match_torch_and_write_the_same_buffer():
    (w, tw), (g, tg) = _pair((4, 3)), _pair((4, 3), seed=1, requires_grad=False)
    buffer = w.detach().numpy()
    version = w._version[0]
    with tf.no_grad():
        w -= 0.5 * g
        w += 1
        w *= g
        w /= 3.0
        w.add_(tf.ones(3))     # broadcast into w
    with torch.no_grad():
        tw -= 0.5 * tg
        tw += 1
        tw *= tg
        tw /= 3.0
        tw.add_(torch.ones(3))
    np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), rtol=1e-6)
    assert w.detach().numpy() is buffer or np.shares_memory(w.detach().numpy(), buffer)
    assert w._version[0] == version + 5


def test_zero_and_fill_under_no_grad_write_the_buffer_and_bump_the_version():
    x = tf.ones(2, 3)
    view = x[0]
    version = x._version[0]
    x.zero_()
    assert x._version[0] == version + 1 and view._version[0] == version + 1
    np.testing.assert_array_equal(view.numpy(), np.zeros(3))
    x.fill_(2.5)
    np.testing.assert_array_equal(x.numpy(), np.full((2, 3), 2.5, np.float32))


def test_in_place_errors_are_unchanged():
    w, _ = _pair((3,))
    with pytest.raises(RuntimeError, match="in-place write into a leaf tensor that requires grad"):
        w -= 1
    with pytest.raises(RuntimeError, match="in-place write into a leaf tensor that requires grad"):
        w.zero_()
    ints = tf.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="cannot hold without losing its kind"):
        ints -= 0.5
    with pytest.raises(RuntimeError, match="cannot hold without losing its kind"):
        ints /= 2
    small = tf.ones(3)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        small += tf.ones(2, 3)


def test_in_place_on_a_tensor_with_history_still_records_it():
    x, tx = _pair((3,))
    y, ty = x * 2, tx * 2
    y += 1
    ty += 1
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


# ---- mean and shared ops ----------------------------------------------------------------

@pytest.mark.parametrize("dim", [None, 0, 1, (0, 2), -1])
def test_eager_mean_matches_torch_values_and_gradients(dim):
    x, tx = _pair((2, 3, 4))
    m = x.mean() if dim is None else x.mean(dim=dim)
    tm = tx.mean() if dim is None else tx.mean(dim=dim)
    np.testing.assert_allclose(m.detach().numpy(), tm.detach().numpy(), rtol=1e-6)
    m.sum().backward()
    tm.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


def test_eager_mean_of_nothing_is_nan_as_torch():
    with np.errstate(invalid="ignore"):
        assert np.isnan(tf.zeros(0, 3).mean().item())
        assert np.isnan(tf.zeros(0, 3).mean(dim=0).numpy()).all()


def test_shared_ops_are_one_instance_per_attributes():
    assert shared(MatMul, False, True) is shared(MatMul, False, True)
    assert shared(MatMul, False, True) is not shared(MatMul, True, False)
    op = shared(Sum, (1,), True)
    assert (op.axis, op.keepdims) == ((1,), True)
    a, b = tf.ones(2, 3, requires_grad=True), tf.ones(2, 3, requires_grad=True)
    assert a.sum(1)._op is b.sum(1)._op
    assert a.sum(1)._op is not a.sum(0)._op


def test_reductions_over_an_int_axis_of_each_rank_keep_their_own_op():
    a = tf.ones(2, 3, requires_grad=True)
    b = tf.ones(2, 3, 4, requires_grad=True)
    assert a.sum(-1)._op.axis == (1,)
    assert b.sum(-1)._op.axis == (2,)
    assert a.sum(-1, keepdim=True).shape == (2, 1)
    with pytest.raises(Exception, match="out of range"):
        a.sum(5)


# ---- the kernel bound to each op class -------------------------------------------------

def test_each_op_class_binds_its_own_numpy_kernel():
    for cls, kernel in KERNELS.items():
        bound = cls.__dict__["_eager_kernel"]
        assert bound is kernel or not isinstance(kernel, FunctionType), cls.__name__


class _Doubled(Relu):
    """A subclass of an op with a kernel, without one of its own (name "": unregistered)."""
    name = ""


class _Kernel:
    """A kernel that is a callable object, not a function."""
    def __call__(self, op, x):
        assert type(op) is _Doubled
        return 2 * x


def test_a_subclass_without_a_kernel_does_not_run_its_bases(monkeypatch):
    x = tf.tensor([-1.0, 2.0])
    with pytest.raises(NotImplementedError, match="has no NumPy kernel"):
        apply(_Doubled(), x)
    monkeypatch.setitem(KERNELS, _Doubled, _Kernel())   # a callable object binds too
    np.testing.assert_array_equal(apply(_Doubled(), x).numpy(), [-2.0, 4.0])
    monkeypatch.undo()                                   # deleting the entry unbinds it
    with pytest.raises(NotImplementedError, match="has no NumPy kernel"):
        apply(_Doubled(), x)


@pytest.mark.parametrize("requires_grad", [False, True])
def test_a_kernel_written_into_the_table_is_the_one_eager_apply_runs(monkeypatch,
                                                                     requires_grad):
    seen, relu = [], KERNELS[Relu]

    def spy(op, x, out=None):
        seen.append(op)
        return relu(op, x, out=out)

    x = tf.tensor([-1.0, 2.0], requires_grad=requires_grad)
    monkeypatch.setitem(KERNELS, Relu, spy)
    y = tf.relu(x)
    assert [type(op) for op in seen] == [Relu]
    assert seen[0] is y._op or not requires_grad
    assert y.requires_grad is requires_grad
    np.testing.assert_array_equal(y.detach().numpy(), [0.0, 2.0])
    monkeypatch.undo()
    tf.relu(x)
    assert len(seen) == 1


# ---- compiled calls' guards -------------------------------------------------------------

def test_compiled_step_recompiles_when_an_optimizer_option_or_group_changes():
    w = tf.zeros(4, 2, requires_grad=True)
    v = tf.zeros(2, requires_grad=True)
    opt = tf.optim.SGD([w], lr=0.5)
    x = tf.ones(3, 4)

    @tf.compile
    def step(x):
        opt.zero_grad()
        loss = (x @ w).sum() + v.sum() * 0
        loss.backward()
        opt.step()
        return loss
    for _ in range(3):   # the first call sees no .grad yet: its graph is another
        step(x)
    compiles = step.stats.compiles
    opt.param_groups[0]["lr"] = 0.5    # the same value: the graph still holds
    step(x)
    assert step.stats.compiles == compiles
    opt.param_groups[0]["lr"] = 0.25
    step(x)
    assert step.stats.compiles == compiles + 1
    opt.add_param_group({"params": [v]})
    step(x)
    assert step.stats.compiles > compiles + 1
    np.testing.assert_allclose(w.detach().numpy(), np.full((4, 2), -3 * (4 * 0.5 + 2 * 0.25)))


def test_sum_and_mean_over_an_empty_dim_list_reduce_every_dim_as_torch():
    (x, tx) = _pair((2, 3), requires_grad=False)
    for dim in ((), []):
        for name in ("sum", "mean"):
            np.testing.assert_allclose(getattr(x, name)(dim=dim).numpy(),
                                       getattr(tx, name)(dim=dim).numpy(), rtol=1e-6)
    assert tf.reduce_sum(x, axis=[]).shape == (2, 3)   # TF1's: no axes, x itself
