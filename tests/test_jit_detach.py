"""`.detach()` (and `.data`) under `tinyflow.compile`: a graph node (an alias without gradient),
not a graph break. Writes through the alias are seen by the tensor it was made from and the
other way round, as eagerly; a write that would change values under a history autograd
records breaks the graph with its reason. Compiled equals eager (values, gradients,
parameters after several steps), with no break and no recompile."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinyflow as torch
import tinyflow.nn as nn

RNG = np.random.default_rng(7)
W = RNG.standard_normal((4, 3)).astype(np.float32)
X = RNG.standard_normal((5, 4)).astype(np.float32)


def arrays(values) -> list:
    values = values if isinstance(values, (tuple, list)) else [values]
    return [v.detach().numpy() for v in values]


def same_as_eager(fn, make, calls: int = 3):
    """Run fn eagerly and compiled (no graph break allowed) on equal fresh arguments; the
    results, the arguments' values and their .grad agree after every call."""
    eager_args, compiled_args = make(), make()
    compiled = torch.compile(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("error")     # a graph break's warning fails the test
        for _ in range(calls):
            for a, b in zip(arrays(fn(*eager_args)), arrays(compiled(*compiled_args))):
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
            for a, b in zip(eager_args, compiled_args):
                np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5,
                                           atol=1e-6)
                assert (a.grad is None) == (b.grad is None)
                if a.grad is not None:
                    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5,
                                               atol=1e-6)
    assert compiled.stats.graph_breaks == 0 and compiled.stats.eager_calls == 0
    return compiled


def weight_and_input():
    return [torch.tensor(W, requires_grad=True), torch.tensor(X)]


def test_stop_gradient_in_a_loss_is_one_graph():
    def step(w, x):
        h = x @ w
        loss = ((h - 0.5 * h.detach()) ** 2).sum()
        loss.backward()
        return loss

    compiled = same_as_eager(step, weight_and_input)
    # the first call has no .grad yet, the second accumulates into it: as without detach
    assert compiled.stats.compiles == 2 and len(compiled.graphs) == 2


def test_writes_through_detach_reach_the_tensor_and_back():
    def ema(w, target):       # a target network's update through .detach()
        target.detach().mul_(0.9).add_(0.1 * w.detach())
        return (target * 2).sum()

    def leaf_then_read(w, x):  # a parameter written through .detach(), read afterwards
        w.detach().add_(1.0)
        loss = (x @ w).sum()
        loss.backward()
        return loss

    def alias_sees_root(x):
        d = x.detach()
        x.mul_(2)
        return d + 1

    def intermediate(x):       # an intermediate without history, written through its alias
        y = x * 3
        d = y.detach()
        d.add_(1)
        return y + d

    assert same_as_eager(ema, lambda: [torch.tensor(W, requires_grad=True),
                                       torch.ones(4, 3)]).stats.compiles == 1
    same_as_eager(leaf_then_read, weight_and_input)
    assert same_as_eager(alias_sees_root, lambda: [torch.tensor(X)]).stats.compiles == 1
    assert same_as_eager(intermediate, lambda: [torch.tensor(X)]).stats.compiles == 1


class TwinNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.online, self.target = nn.Linear(4, 3), nn.Linear(4, 3)

    def forward(self, x):
        return ((self.online(x) - self.target(x).detach()) ** 2).mean()


def test_target_network_training_step_equals_eager_without_recompiles():
    def make_step(net, opt):
        def step(x):
            loss = net(x)
            opt.zero_grad()
            loss.backward()
            opt.step()
            for p, q in zip(net.target.parameters(), net.online.parameters()):
                p.data.mul_(0.5).add_(0.5 * q.detach())
            return loss
        return step

    nets = []
    for _ in range(2):
        torch.manual_seed(0)
        net = TwinNet()
        nets.append((net, make_step(net, torch.optim.SGD(net.online.parameters(), lr=0.1))))
    (eager_net, eager_step), (compiled_net, step) = nets
    step = torch.compile(step)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(4):
            x = torch.tensor(RNG.standard_normal((5, 4)).astype(np.float32))
            np.testing.assert_allclose(eager_step(x).item(), step(x).item(), rtol=1e-5)
    for p, q in zip(eager_net.parameters(), compiled_net.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)
    assert step.stats.compiles == 1 and step.stats.recompiles == 0
    assert step.stats.graph_breaks == 0


def test_detach_before_numpy_breaks_at_numpy_only():
    def f(x):
        y = x * 2
        scale = float(np.abs(y.detach().numpy()).max())   # data-dependent: a break
        return y / scale

    compiled = torch.compile(f)
    x = torch.tensor(X)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        np.testing.assert_allclose(compiled(x).numpy(), f(x).numpy(), rtol=1e-6)
    assert compiled.stats.graph_breaks == 1
    assert [b[1] for b in compiled.breaks] == ["numpy() of a traced tensor"]
    assert "test_jit_detach.py:" in compiled.breaks[0][0] and len(caught) == 1


def test_write_under_a_recorded_history_breaks_with_its_reason():
    def f(w, x):
        y = x @ w
        y.detach().add_(1)     # y's values change under its history: not one graph
        return (y * 2).sum()

    with pytest.raises(RuntimeError, match="detach.*history autograd records"):
        torch.compile(f, fullgraph=True)(*weight_and_input())


def test_requires_grad_of_a_detached_traced_tensor_breaks_and_equals_eager():
    def saliency(w, x):
        x = (x * 1.0).detach().requires_grad_(True)
        (x @ w).sum().backward()
        return x.grad

    compiled = torch.compile(saliency)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = compiled(*weight_and_input())
    np.testing.assert_allclose(got.numpy(), saliency(*weight_and_input()).numpy(), rtol=1e-6)
    assert compiled.stats.graph_breaks == 1
    assert "requires_grad_()" in compiled.breaks[0][1]


def sgd_data_sub(net):
    def step(x):
        loss = (net(x) ** 2).mean()
        loss.backward()
        for p in net.parameters():
            p.data -= 0.1 * p.grad      # the setter, after a write through .data
            p.grad = None
        return loss
    return step


def sgd_data_add_(net):
    def step(x):
        loss = (net(x) ** 2).mean()
        loss.backward()
        for p in net.parameters():
            p.data.add_(p.grad, alpha=-0.1)
            p.grad.zero_()
        return loss
    return step


def sgd_no_grad(net):
    def step(x):
        loss = (net(x) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            for p in net.parameters():
                p -= 0.1 * p.grad
                p.grad.zero_()          # the .grad kept (zeroed), as eagerly
        return loss
    return step


def sgd_data_set(net):
    def step(x):
        loss = (net(x) ** 2).mean()
        loss.backward()
        for p in net.parameters():
            p.data = p.data - 0.1 * p.grad
            p.grad = None
        return loss
    return step


@pytest.mark.parametrize("make_step", [sgd_data_sub, sgd_data_add_, sgd_no_grad,
                                       sgd_data_set])
def test_hand_written_sgd_through_data_and_grad_zero_equals_eager(make_step):
    nets = []
    for _ in range(2):
        torch.manual_seed(0)
        nets.append(nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 1)))
    eager_step, step = make_step(nets[0]), torch.compile(make_step(nets[1]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(4):
            x = torch.tensor(RNG.standard_normal((5, 4)).astype(np.float32))
            np.testing.assert_allclose(eager_step(x).item(), step(x).item(), rtol=1e-5)
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=1e-7)
    # no .grad yet, then a .grad kept from call to call: at most two graphs
    assert step.stats.compiles <= 2 and step.stats.graph_breaks == 0


def test_values_made_under_no_grad_have_no_history_as_eagerly():
    def f(w, x):
        with torch.no_grad():
            target = x @ w            # no history: a plain result, no gradient through it
        loss = ((x @ w) * target).sum()
        loss.backward()
        return target, loss

    compiled = same_as_eager(f, weight_and_input)
    w, x = weight_and_input()
    target, loss = compiled(w, x)
    assert not target.requires_grad and compiled.stats.graph_breaks == 0


def test_detach_in_place_of_a_traced_tensor_runs_as_eagerly():
    """`y.detach_()` cuts y's history in place: a graph break (eager), not a TypeError."""
    def f(w, x):
        y = x @ w
        y.detach_()
        return y * 2, y.requires_grad

    compiled = torch.compile(f)
    w, x = weight_and_input()
    with pytest.warns(UserWarning, match="detach_"):
        got, flag = compiled(w, x)
    np.testing.assert_allclose(got.numpy(), 2 * X @ W, rtol=1e-5)
    assert flag is False and not got.requires_grad
