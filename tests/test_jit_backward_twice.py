"""A second `backward()` through a compiled call's result raises as eager tinyflow and PyTorch
do (its saved values were freed by the first), unless the first kept the graph
(retain_graph=True): for one result, for another result of the same call (one forward, as
PyTorch's compiled node), and for the loss a compiled training step returns after its own
`backward()`."""
from __future__ import annotations

import numpy as np
import pytest

import tinyflow as torch

SECOND_TIME = "already differentiated and its saved values were freed.*retain_graph=True"
RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 3)).astype(np.float32)
W = RNG.standard_normal((3, 3)).astype(np.float32)


def weight():
    return torch.from_numpy(W.copy()).requires_grad_(True)


def both(fn):
    """`fn` eager and compiled, each with its own weight."""
    return [("eager", fn), ("compiled", torch.compile(fn))]


@pytest.mark.parametrize("mode", ["eager", "compiled"])
def test_second_backward_of_one_result_raises(mode):
    w, x = weight(), torch.from_numpy(X)
    fn = dict(both(lambda x: (x @ w).tanh().sum()))[mode]
    loss = fn(x)
    loss.backward()
    with pytest.raises(RuntimeError, match=SECOND_TIME):
        loss.backward()


@pytest.mark.parametrize("mode", ["eager", "compiled"])
def test_results_of_one_call_share_their_forward(mode):
    w, x = weight(), torch.from_numpy(X)

    def two(x):
        y = (x @ w).tanh()
        return y.sum(), (y * y).sum()
    fn = dict(both(two))[mode]
    a, b = fn(x)
    a.backward()
    with pytest.raises(RuntimeError, match=SECOND_TIME):
        b.backward()
    a, b = fn(x)            # retained: the other result's backward still runs
    w.grad = None
    a.backward(retain_graph=True)
    b.backward()
    y = np.tanh(X @ W)
    expected = X.T @ ((1 + 2 * y) * (1 - y * y))
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_retained_graph_allows_a_second_backward_that_accumulates():
    w, x = weight(), torch.from_numpy(X)
    loss = torch.compile(lambda x: (x @ w).tanh().sum())(x)
    loss.backward(retain_graph=True)
    once = w.grad.numpy().copy()
    loss.backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * once, rtol=1e-6)


@pytest.mark.parametrize("mode", ["eager", "compiled"])
def test_loss_of_a_step_that_ran_backward_cannot_be_differentiated_again(mode):
    w, x = weight(), torch.from_numpy(X)
    opt = torch.optim.SGD([w], lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = (x @ w).tanh().sum()
        loss.backward()
        opt.step()
        return loss
    fn = dict(both(step))[mode]
    for _ in range(2):
        loss = fn(x)
        assert loss.requires_grad
        with pytest.raises(RuntimeError, match=SECOND_TIME):
            loss.backward()


def test_a_step_that_kept_its_graph_can_go_backward_again_as_eagerly():
    """backward(retain_graph=True) inside the compiled step: the returned loss goes
    backward once more, adding the same gradient again (as eagerly)."""
    grads = []
    for mode in ("eager", "compiled"):
        w, x = weight(), torch.from_numpy(X)

        def step(x):
            loss = (x @ w).tanh().sum()
            loss.backward(retain_graph=True)
            return loss
        fn = dict([("eager", step), ("compiled", torch.compile(step))])[mode]
        for _ in range(2):    # the second call runs the compiled plan
            w.grad = None
            fn(x).backward()
        grads.append(w.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-6)
