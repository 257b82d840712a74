"""In-place writes after a tensor was read: every node differentiates the history it read,
as PyTorch's edges keep the old grad_fn (autodiff/tape.py: `_remember`, `mend_stale_edges`).
Each program runs under torch and under tinyflow in float64; gradients, or the refusal,
must agree. A few programs torch refuses (it saved a value the write replaced) we
differentiate from the stand-in's copy; those are checked against the out-of-place
program instead."""
import numpy as np
import pytest
import torch

import tinyflow as tf


def _relu_then_write(t):
    x = t.tensor([1.0, -2.0, 3.0], dtype=t.float64, requires_grad=True)
    y = x * 1
    z = t.relu(y)
    y.mul_(5)
    (z.sum() + y.sum()).backward()
    return x.grad


def _cumsum_then_write(t):
    x = t.tensor([1.0, 2.0, 3.0], dtype=t.float64, requires_grad=True)
    y = x * 1
    z = y.cumsum(0)
    y.mul_(5)
    z.sum().backward()
    return x.grad


def _sub_then_zero(t):
    x = t.tensor([1.0, 2.0, 3.0], dtype=t.float64, requires_grad=True)
    y = x * 2
    z = y - 3
    y.zero_()
    (z * z).sum().backward()
    return x.grad


def _matmul_then_write_weight(t):
    w = t.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=t.float64, requires_grad=True)
    w2 = w * 1
    v = t.tensor([[1.0, 1.0], [2.0, 0.5], [0.0, 3.0]], dtype=t.float64)
    c = v @ w2
    w2.mul_(2)
    (c.sum() + w2.sum()).backward()
    return w.grad


def _recurrence_into_rows(t):
    w = t.tensor([1.0, 2.0], dtype=t.float64, requires_grad=True)
    buf = t.zeros(4, 2, dtype=t.float64)
    buf[0] = w
    for i in range(1, 4):
        buf[i] = buf[i - 1] * 0.5 + w
    (buf * buf).sum().backward()
    return w.grad


def _row_read_then_overwritten(t):
    w = t.tensor([1.0, 2.0], dtype=t.float64, requires_grad=True)
    buf = t.zeros(3, 2, dtype=t.float64)
    buf[0] = w
    a = buf[0] * 2
    buf[0] = 3 * w
    (a.sum() + buf.sum()).backward()
    return w.grad


def _view_read_after_base_write(t):
    x = t.tensor([1.0, 2.0, 3.0], dtype=t.float64, requires_grad=True)
    y = x * 1
    z = y[1:]
    before = z * 1
    y.mul_(5)
    after = z * 1
    (before.sum() + 10 * after.sum()).backward()
    return x.grad


def _reshape_read_after_base_write(t):
    x = t.tensor([1.0, 2.0, 3.0, 4.0], dtype=t.float64, requires_grad=True)
    y = x * 1
    z = y.reshape(2, 2).t()
    y.mul_(5)
    (z * t.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=t.float64)).sum().backward()
    return x.grad


def _residual_add_in_place(t):
    rng = np.random.default_rng(0)   # a residual block's `out += identity`
    w = t.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    x = t.tensor(rng.standard_normal((2, 3)))
    identity = x @ w
    out = identity * 2 - 1
    out += identity
    out = t.tanh(out)
    out.sum().backward()
    return w.grad


def _twice_with_retain(t):
    x = t.tensor([1.0, 2.0], dtype=t.float64, requires_grad=True)
    y = x * 1
    z = t.exp(y)
    y.add_(1)
    loss = z.sum() + (y * 2).sum()
    loss.backward(retain_graph=True)
    first = x.grad.clone()
    y2 = y * 3
    y.mul_(2)
    (loss + y2.sum() + y.sum()).backward()
    return t.stack([first, x.grad])


def _autograd_grad(t):
    x = t.tensor([0.5, 1.5], dtype=t.float64, requires_grad=True)
    y = x * 1
    z = t.sigmoid(y).sum()   # sigmoid keeps its output, not y
    y.mul_(3)
    return t.autograd.grad(z + y.sum(), [x])[0]


def _retained_grad_of_the_new_values(t):
    x = t.tensor([1.0, -2.0, 3.0], dtype=t.float64, requires_grad=True)
    y = x * 1
    y.retain_grad()
    z = t.relu(y)
    y.mul_(5)
    (z.sum() + (y * y).sum()).backward()
    return t.cat([x.grad, y.grad])


def _state_updated_in_place_in_a_loop(t):
    x = t.tensor([1.0, 2.0], dtype=t.float64, requires_grad=True)
    h = x * 1
    for _ in range(3):
        a = t.tanh(h) * 1   # read before the two writes below
        h.mul_(0.9)
        h.add_(a)
    h.sum().backward()
    return x.grad


def _column_view_written(t):
    x = t.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=t.float64, requires_grad=True)
    y = x * 1
    col = y[:, 0]
    s1 = (col * 2).sum()
    col.mul_(10)
    (s1 + (y * 1).sum()).backward()
    return x.grad


def _view_of_a_view_across_a_write(t):
    x = t.tensor([1.0, 2.0, 3.0, 4.0], dtype=t.float64, requires_grad=True)
    y = x * 1
    w = y.view(2, 2)[0]
    a = w * 3
    y.add_(1)
    b = w * 5
    (a.sum() + b.sum()).backward()
    return x.grad


def _constant_copied_over_a_history(t):
    x = t.tensor([1.0, 2.0], dtype=t.float64, requires_grad=True)
    y = x.clone()
    z = t.sigmoid(y)
    y.copy_(t.tensor([5.0, 6.0], dtype=t.float64))
    (z.sum() + y.sum()).backward()
    return x.grad


def _sums_between_writes(t):
    x = t.tensor([1.0, 2.0], dtype=t.float64, requires_grad=True)
    y = x * 2
    s = y.sum()
    y.mul_(2)
    s2 = y.sum()
    y.mul_(2)
    (s + s2 + y.sum()).backward()
    return x.grad


def _view_read_into_its_base_then_read_again(t):
    x = t.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=t.float64, requires_grad=True)
    y = x * 1
    r = y[0]
    y.add_(r.sum())       # r's node is in the written value's history; r shows the new y
    (r * t.tensor([1.0, 3.0], dtype=t.float64)).sum().backward()
    return x.grad


def _transposed_in_place_then_its_view_written(t):
    x = t.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=t.float64, requires_grad=True)
    y = x * 1
    y.t_()
    v = y.t()
    v.add_(y.sum() * 0.5)  # y's node (a view now) is in the written value's history
    w = t.tensor([[1.0, 2.0], [3.0, 5.0]], dtype=t.float64)
    ((v * w).sum() + (y * w * w).sum()).backward()
    return x.grad


def _view_read_before_a_sibling_write_then_written(t):
    x = t.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=t.float64, requires_grad=True)
    y = x * 1
    r = y[1]
    s = r[1] * 2          # read before both writes: its gradient is 2, at x[1, 1] alone
    y.t().mul_(y.mean())  # r's values change, r itself is not written
    r.add_(1.5)           # r's stand-in holds the values after the first write
    (s * 7 + r.sum()).backward()
    return x.grad


PROGRAMS = [_relu_then_write, _cumsum_then_write, _sub_then_zero, _matmul_then_write_weight,
            _recurrence_into_rows, _row_read_then_overwritten, _view_read_after_base_write,
            _reshape_read_after_base_write, _residual_add_in_place, _twice_with_retain,
            _autograd_grad, _retained_grad_of_the_new_values, _state_updated_in_place_in_a_loop,
            _column_view_written, _view_of_a_view_across_a_write,
            _constant_copied_over_a_history, _sums_between_writes,
            _view_read_into_its_base_then_read_again,
            _transposed_in_place_then_its_view_written,
            _view_read_before_a_sibling_write_then_written]


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda f: f.__name__.strip("_"))
def test_gradient_of_what_was_read_matches_torch(program):
    np.testing.assert_allclose(program(tf).numpy(), program(torch).numpy(), rtol=1e-12)


def _product_then_write(t):
    x = t.tensor([1.0, 2.0, 3.0], dtype=t.float64, requires_grad=True)
    y = x * 1
    z = y * y     # torch saved y for this product, and refuses after y.add_
    y.add_(1)
    (z.sum() + y.sum()).backward()
    return x.grad


def test_a_value_torch_refuses_is_differentiated_from_its_stand_in():
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        _product_then_write(torch)
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    ((x * x).sum() + (x + 1).sum()).backward()   # the same program, out of place
    np.testing.assert_allclose(_product_then_write(tf).numpy(), x.grad.numpy())


def test_an_untracked_write_into_a_value_a_gradient_reads_is_refused():
    w = tf.ones(2, requires_grad=True)
    v = tf.zeros(3, 2)
    c = w * v[0]   # the gradient for w reads v[0]
    v[0] = 1.0     # v has no history: no stand-in keeps the old values
    with pytest.raises(RuntimeError, match="input 1 of mul.*modified by an in-place"):
        c.sum().backward()


def test_a_state_written_in_place_and_detached_each_step_keeps_no_old_graphs():
    """A recurrent state copied in place and detached every step (truncated backprop)
    must not keep each step's stand-in, and with it that step's graph, alive."""
    w = tf.ones(4, requires_grad=True)
    state = tf.zeros(4)
    for _ in range(50):
        state.copy_(tf.tanh(state * w + 1))
        state.sum().backward()
        state.detach_()
    assert not getattr(state, "_earlier", ())
