"""PyTorch's in-place view ops (`unsqueeze_`, `squeeze_`, `t_`, `transpose_`, `swapdims_`,
`swapaxes_`, `as_strided_`): the tensor itself takes the new shape over its own memory, its
version is bumped, and under autograd its history becomes the view of the old one. The
char-RNN tutorials call `target_line_tensor.unsqueeze_(-1)`. torch is the oracle."""
import numpy as np
import pytest
import torch

import tinyflow
import tinyflow as tt

CASES = [("unsqueeze_", (2, 3), (-1,)), ("unsqueeze_", (2, 3), (0,)),
         ("squeeze_", (2, 1, 3), ()), ("squeeze_", (1, 2, 1), (0,)),
         ("squeeze_", (2, 1, 1), ((1, 2),)), ("squeeze_", (2, 3), (0,)),
         ("t_", (2, 3), ()), ("t_", (3,), ()), ("transpose_", (2, 3, 4), (0, 2)),
         ("swapdims_", (2, 3, 4), (1, 2)), ("swapaxes_", (2, 3, 4), (0, 1)),
         ("as_strided_", (6,), ((2, 2), (1, 2))), ("as_strided_", (6,), ((2,), (2,), 1))]


def version(x) -> int:
    return x._version if isinstance(x._version, int) else x._version[0]   # (ours: a list)


@pytest.mark.parametrize("name, shape, args", CASES)
def test_shape_values_memory_and_version_match_torch(name, shape, args):
    data = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    results = []
    for lib in (torch, tt):
        x = lib.tensor(data.copy())
        earlier = x.view(-1)   # a view made before shares the memory and the counter
        before = version(x)
        assert getattr(x, name)(*args) is x
        x[(0,) * x.dim()] = -1.0   # a write reaches the same memory
        results.append((tuple(x.shape), x.is_contiguous(), x.numpy().copy(),
                        earlier.numpy().copy(), version(x) - before))
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_array_equal(ours, theirs)


def test_gradient_through_the_new_history_matches_torch():
    a0 = np.random.default_rng(0).standard_normal((3, 4))
    w0 = np.random.default_rng(1).standard_normal((4, 3))
    grads = []
    for lib in (torch, tt):
        a = lib.tensor(a0, requires_grad=True)
        b = a * a
        b.t_()
        c = b[1:]             # a view of the transposed b
        c.unsqueeze_(0)       # a view taking a shape in place keeps its base's history
        loss = (b * lib.tensor(w0)).sum() + c.sum() * 3
        loss.backward()
        assert b.grad_fn is not None and tuple(b.shape) == (4, 3)
        grads.append(a.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12)


def test_gradient_by_finite_differences():
    def f(a):
        b = a * 2.0
        b.transpose_(0, 1)
        b.unsqueeze_(1)
        return (b * tt.arange(6.0, dtype=tt.float64).reshape(3, 1, 2)).sum()
    a0 = np.random.default_rng(2).standard_normal((2, 3))
    a = tt.tensor(a0, requires_grad=True)
    f(a).backward()
    eps, numeric = 1e-6, np.zeros_like(a0)
    for i in np.ndindex(*a0.shape):
        up, down = a0.copy(), a0.copy()
        up[i] += eps
        down[i] -= eps
        numeric[i] = (f(tt.tensor(up)).item() - f(tt.tensor(down)).item()) / (2 * eps)
    np.testing.assert_allclose(a.grad.numpy(), numeric, rtol=1e-6, atol=1e-8)


def test_a_node_that_saved_the_tensor_refuses_the_backward_as_torch_does():
    for lib in (torch, tt):
        a = lib.ones(3, requires_grad=True)
        b = a * 2
        c = b * b             # saves b
        b.unsqueeze_(0)
        with pytest.raises(RuntimeError, match="modified by an in-?place operation"):
            c.sum().backward()
        a = lib.ones(3, requires_grad=True)
        b = a * 2
        d = b * 5             # saves 5, not b: the change of shape does not matter to it
        b.unsqueeze_(0)
        d.sum().backward()
        np.testing.assert_array_equal(a.grad.numpy(), [10.0, 10.0, 10.0])


def test_refusals_name_the_op():
    leaf = tt.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        leaf.unsqueeze_(0)
    with pytest.raises(RuntimeError, match="leaf"):
        leaf[1:].unsqueeze_(0)
    with tt.no_grad():     # outside autograd a leaf may change shape, as in torch
        assert tuple(leaf.unsqueeze_(0).shape) == (1, 3)
    b = tt.ones(3, requires_grad=True) * 2
    with tt.no_grad(), pytest.raises(RuntimeError, match="unsqueeze_: under no_grad"):
        b.unsqueeze_(0)
    with pytest.raises(Exception, match="out of range"):   # (torch: an IndexError)
        tt.zeros(2, 3).unsqueeze_(5)
    with pytest.raises(RuntimeError, match="t\\(\\)"):
        tt.zeros(2, 3, 4).t_()
    with pytest.raises(RuntimeError, match="as_strided_: the result is not a view"):
        (tt.ones(6, requires_grad=True) * 1).as_strided_((2, 2), (1, 2))
    x = tinyflow.placeholder(tinyflow.float32, [None, 3])
    with pytest.raises(TypeError, match="unsqueeze_: in-place operations need an eager"):
        x.unsqueeze_(0)


def test_under_compile_it_runs_as_eagerly():
    def f(a):
        b = a * 2
        b.unsqueeze_(0)
        return b.sum(0) + b
    a = tt.arange(3.0)
    with pytest.warns(UserWarning, match="graph break .* unsqueeze_\\(\\) changes"):
        compiled = tinyflow.compile(f)(a)
    np.testing.assert_array_equal(compiled.numpy(), f(a).numpy())


RESIZES = [((6,), lambda x: x[1:], (2, 2)), ((2, 3), lambda x: x.t(), (3, 2)),
           ((2, 3), lambda x: x.t(), (6,)), ((4,), lambda x: x, (2,)),
           ((4,), lambda x: x, (1, 4)), ((3, 2), lambda x: x[1:], (3,))]


@pytest.mark.parametrize("shape, view, size", RESIZES)
def test_resize_matches_torch_within_its_storage(shape, view, size):
    data = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    results = []
    for lib in (torch, tt):
        base = lib.tensor(data.copy())
        x = view(base)
        before = version(x)
        assert x.resize_(*size) is x
        seen = [tuple(x.shape), x.stride(), x.numpy().copy(), version(x) - before]
        x[(0,) * x.dim()] = 50.0   # within the storage: the base sees the write
        results.append(seen + [base.numpy().copy()])
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_array_equal(ours, theirs)


def test_resize_grows_keeping_values_and_sizes_a_buffer_as_old_programs_do():
    x = tt.arange(4.0)
    x.resize_(6)
    np.testing.assert_array_equal(x.numpy()[:4], [0, 1, 2, 3])
    label = tt.zeros(1).long()
    np.testing.assert_array_equal(label.resize_(torch.Size([3])).fill_(1).numpy(), [1, 1, 1])
    assert tuple(x.resize_as_(tt.zeros(2, 3)).shape) == (2, 3)
    with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
        tt.zeros(3, requires_grad=True).resize_(3)
    with pytest.raises(RuntimeError, match="negative size"):
        tt.zeros(3).resize_(-1)


# Views made before a change of layout in place, and writes after it: each program runs
# under torch and tinyflow in float64 and returns the gradients, which must agree.

def _view_made_before(view):
    def program(t):   # the view's memory keeps its layout: its gradient skips the t_()
        a = t.tensor(np.arange(9.0).reshape(3, 3) / 7, requires_grad=True)
        b = a * 1
        v = view(b)
        b.t_()
        w = t.tensor(np.arange(v.numel(), dtype=np.float64).reshape(tuple(v.shape)))
        ((v * w).sum() + (b * b).sum()).backward()
        return (a.grad,)
    return program


def _view_changed_layout_then_base_written(t):
    a = t.tensor(np.arange(9.0).reshape(3, 3) / 7, requires_grad=True)
    b = a * 1
    v = b.t()
    v.t_()            # v's stand-in is a view of b too: b's later write reaches it
    r = b[0]
    r.mul_(r.sum())
    ((v * t.tensor(np.arange(9.0).reshape(3, 3))).sum() + r.sum()).backward()
    return (a.grad,)


def _write_after_change_of_layout(write_view):
    def program(t):   # b and v share memory in two layouts: b.sin_() is seen by v
        a = t.tensor(np.arange(9.0).reshape(3, 3) / 7, requires_grad=True)
        b = a * 1
        v = b.t()
        b.t_()
        b.sin_()
        if write_view:
            v.mul_(v.sum())
        w = t.tensor(np.arange(9.0).reshape(3, 3))
        ((b * w).sum() + (v * w * w).sum()).backward()
        return (a.grad,)
    return program


def _view_read_before_an_earlier_write(t):
    a = t.tensor(np.arange(9.0).reshape(3, 3), requires_grad=True)
    c = t.tensor(2.0, dtype=t.float64, requires_grad=True)
    b = a * 1
    r = b[0]
    r2 = r * 2        # read before b.add_: differentiates b's first history
    b.add_(c * 3)
    b.t_()
    (r2.sum() + b[1].sum() * 5).backward()
    return a.grad, c.grad


def _view_made_before_read_by_the_second_of_two_writes(t):
    a = t.tensor(np.arange(9.0).reshape(3, 3) / 10, requires_grad=True)
    b = a * 1
    r = b[0]
    b.t_()
    b.mul_(b.mean())
    b.add_(r.sum() * 0.5)
    w = t.tensor(np.arange(9.0).reshape(3, 3))
    ((b * w).sum() + (r * w[1]).sum() * 3).backward()
    return (a.grad,)


LAYOUT_PROGRAMS = [_view_made_before(lambda b: b.t()), _view_made_before(lambda b: b[1]),
                   _view_made_before(lambda b: b.view(-1)),
                   _view_changed_layout_then_base_written,
                   _write_after_change_of_layout(False), _write_after_change_of_layout(True),
                   _view_read_before_an_earlier_write,
                   _view_made_before_read_by_the_second_of_two_writes]


@pytest.mark.parametrize("program", LAYOUT_PROGRAMS)
def test_views_across_a_change_of_layout_match_torch(program):
    for ours, theirs in zip(program(tt), program(torch)):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
