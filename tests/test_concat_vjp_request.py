"""Concat's gradient builds a slice of the adjoint only for the inputs the sweep wants a
gradient of (an RNN's category and letter beside its hidden state need none)."""
import numpy as np
import torch as real

import tinyflow as torch
from tinyflow.ops import shape


def _count_slices(monkeypatch):
    calls = []
    original = shape.GetItem.infer

    def counting(op, x):
        calls.append(op.index)
        return original(op, x)
    monkeypatch.setattr(shape.GetItem, "infer", counting)
    return calls


def test_concat_slices_only_the_inputs_with_grad(monkeypatch):
    data = np.arange(12.0).reshape(2, 6)
    a, b = torch.tensor(data[:, :2]), torch.tensor(data[:, 2:5], requires_grad=True)
    c = torch.tensor(data[:, 5:])
    w = torch.tensor(np.linspace(-1, 1, 6))
    out = torch.cat((a, b, c), 1) * w
    calls = _count_slices(monkeypatch)
    out.sum().backward()
    assert len(calls) == 1   # b's slice alone
    assert a.grad is None and c.grad is None
    rb = real.tensor(data[:, 2:5], requires_grad=True)
    (real.cat((real.tensor(data[:, :2]), rb, real.tensor(data[:, 5:])), 1)
     * real.tensor(np.linspace(-1, 1, 6))).sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), rb.grad.numpy())


def test_concat_grad_of_the_wanted_input_only():
    x = torch.ones(2, 3, requires_grad=True)
    y = torch.ones(2, 2, requires_grad=True)
    out = torch.cat((x, y), 1)
    (gy,) = torch.autograd.grad(out.sum() * 2, (y,))
    np.testing.assert_allclose(gy.numpy(), np.full((2, 2), 2.0))


def test_concat_double_backward_with_one_input_wanted():
    x = torch.tensor([1.0, 2.0], requires_grad=True, dtype=torch.float64)
    k = torch.tensor([3.0], dtype=torch.float64)
    (g,) = torch.autograd.grad((torch.cat((k, x)) ** 3).sum(), (x,), create_graph=True)
    (gg,) = torch.autograd.grad(g.sum(), (x,))
    np.testing.assert_allclose(gg.numpy(), 6 * np.array([1.0, 2.0]))
