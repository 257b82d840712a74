"""Graph breaks: a compiled function with data-dependent Python runs as compiled pieces with
eager glue between them (jit/pieces.py). Results, printed text, gradients and parameters
equal eager's; each break is reported once with file:line; the pieces are cached, so a
path taken again compiles nothing."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinyflow as torch
import tinyflow.nn as nn
import tinyflow.nn.functional as F


def quiet(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


def branchy(x):
    y = x * 2
    if y.sum().item() > 0:     # data-dependent Python: a break, then one of two branches
        return y + 1
    return y.exp() - 1


def test_branch_on_item_equals_eager_and_compiles_each_path_once():
    compiled = torch.compile(branchy)
    inputs = [[1.0, 2.0], [-3.0, 1.0], [2.0, 0.5], [-1.0, -1.0], [4.0, 4.0]]
    for v in inputs:
        x = torch.Tensor(v)
        np.testing.assert_allclose(quiet(compiled, x).numpy(), branchy(x).numpy(), rtol=1e-6)
    # the piece before the break, then one piece per branch: nothing more on later calls
    assert compiled.stats.compiles == 3
    assert compiled.stats.split_calls == len(inputs) and compiled.stats.eager_calls == 0
    assert compiled.stats.graph_breaks == 1


def test_each_break_is_reported_once_with_file_and_line():
    compiled = torch.compile(branchy)
    line = branchy.__code__.co_firstlineno + 2
    with pytest.warns(UserWarning, match="graph break") as caught:
        compiled(torch.Tensor([1.0, 2.0]))
    messages = [str(w.message) for w in caught if "graph break" in str(w.message)]
    assert len(messages) == 1
    assert f"{__file__}:{line}" in messages[0] and "item()" in messages[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")     # a second call, another branch: no new report
        compiled(torch.Tensor([-5.0, 1.0]))


def test_prints_and_appends_happen_on_every_call_as_eagerly(capsys):
    seen = []

    w = torch.Tensor([0.5, 2.0, -1.0], requires_grad=True)

    def f(x):
        h = x.sin() * 3
        print(h, h * w)   # the second as autograd would record it: a grad_fn
        seen.append(h.sum().numpy())
        return h.cos()
    compiled = torch.compile(f)
    x = torch.Tensor([0.5, -1.0, 2.0])
    eager = [f(x).numpy() for _ in range(3)]
    eager_out, eager_seen = capsys.readouterr().out, list(seen)
    seen.clear()
    got = [quiet(compiled, x).numpy() for _ in range(3)]
    assert capsys.readouterr().out == eager_out and len(eager_out.splitlines()) == 3
    assert eager_out.count("grad_fn=<MulBackward0>") == 3
    np.testing.assert_allclose(seen, eager_seen, rtol=1e-6)
    for a, b in zip(got, eager):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert compiled.stats.compiles <= 3 and compiled.stats.graph_breaks == 2


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))


def _train(compiled: bool, steps: int = 6):
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(3)
    data = [(torch.Tensor(rng.standard_normal((8, 6)).astype(np.float32)),
             torch.Tensor(rng.integers(0, 3, 8), dtype="int64")) for _ in range(steps)]
    log = []

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        if loss.item() > 1.1:          # break: the loss decides the branch
            loss = loss * 2
        loss.backward()                # through both pieces
        opt.step()
        log.append(float(model[0].bias.sum()))   # a parameter the step wrote: a break
        return loss
    fn = torch.compile(step) if compiled else step
    losses = [quiet(fn, x, y).item() for x, y in data]
    return losses, log, [p.detach().numpy().copy() for p in model.parameters()], fn


def test_training_step_with_breaks_equals_eager():
    eager_losses, eager_log, eager_params, _ = _train(False)
    losses, log, params, fn = _train(True)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    np.testing.assert_allclose(log, eager_log, rtol=1e-5)
    for a, b in zip(params, eager_params):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert fn.stats.graph_breaks == 2 and fn.stats.eager_calls == 0
    assert fn.stats.compiles <= 8    # momentum buffers appear at step 1; two branches


def test_autograd_through_a_compiled_module_with_a_break():
    class Gate(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = _mlp()

        def forward(self, x):
            h = self.inner(x)
            if (h.abs().max() > 1.0).item():
                h = h / 2
            return (h * h).sum()
    rng = np.random.default_rng(4)
    x = torch.Tensor(rng.standard_normal((5, 6)).astype(np.float32))
    model = Gate()
    model(x).backward()
    eager = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    compiled = torch.compile(model)
    for _ in range(2):
        model.zero_grad()
        quiet(compiled, x).backward()
        for p, g in zip(model.parameters(), eager):
            np.testing.assert_allclose(p.grad.numpy(), g, rtol=1e-5, atol=1e-6)


def test_a_break_value_used_as_a_number_specializes_then_gives_up():
    def f(x):
        return x * float(x.sum())
    compiled = torch.compile(f)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k in range(12):
            x = torch.Tensor([1.0, float(k)])
            np.testing.assert_allclose(compiled(x).numpy(), f(x).numpy(), rtol=1e-6)
    assert any("limit" in str(w.message) for w in caught)
    assert compiled.stats.eager_calls > 0 and compiled.stats.compiles <= 12


def test_fullgraph_raises_and_explain_lists_pieces():
    with pytest.raises(RuntimeError, match=r"fullgraph=True.*item\(\).*test_jit_breaks.py"):
        torch.compile(branchy, fullgraph=True)(torch.Tensor([1.0, 2.0]))
    report = torch.explain(branchy, torch.Tensor([1.0, 2.0]))
    assert (report.graph_count, report.graph_break_count) == (2, 1)
    assert "item()" in str(report) and "test_jit_breaks.py:" in str(report)


def test_a_post_accumulate_grad_hook_breaks_the_graph_and_still_runs():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    calls = []

    def record(p):
        calls.append(p.grad.tolist())
    w.register_post_accumulate_grad_hook(record)

    def step(x):
        (w * x).sum().backward()
        w.grad = None

    compiled = torch.compile(step)
    with pytest.warns(UserWarning, match="graph break.*post-accumulate-grad hook"):
        compiled(torch.tensor([3.0, 4.0]))
    compiled(torch.tensor([3.0, 4.0]))
    assert calls == [[3.0, 4.0], [3.0, 4.0]] and compiled.stats.graph_breaks == 1
    with pytest.raises(Exception, match="post-accumulate-grad hook"):
        torch.compile(step, fullgraph=True)(torch.tensor([3.0, 4.0]))


def test_printing_a_parameter_after_a_compiled_step_shows_its_new_value(capsys):
    """A tensor the traced code wrote prints its value as written (a graph break), a leaf
    that requires grad, as eagerly."""
    outputs = []
    for compiled in (False, True):
        torch.manual_seed(0)
        lin = torch.nn.Linear(2, 1)
        opt = torch.optim.SGD(lin.parameters(), lr=0.1)

        def step(x):
            opt.zero_grad()
            lin(x).sum().backward()
            opt.step()
            print(lin.bias)
        f = torch.compile(step) if compiled else step
        for _ in range(2):
            quiet(f, torch.ones(1, 2)) if compiled else f(torch.ones(1, 2))
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] and outputs[0].count("requires_grad=True") == 2


def test_a_grad_read_after_a_break_is_each_calls_own():
    """A `.grad` first read after a break is fed to the last piece: each call reads its own
    new .grad (zero_grad set it to None, backward outside made one), and the pieces are
    reused (they had been planned anew per call, keyed on the .grad tensor's identity)."""
    def step(w, x):
        s = (w * x).sum().item()
        with torch.no_grad():
            w -= 0.1 * w.grad if s > 0 else 0.2 * w.grad

    def run(fn):
        w = torch.tensor(np.ones(3, np.float32), requires_grad=True)
        x = torch.tensor(np.arange(3, dtype=np.float32))
        for _ in range(4):
            w.grad = None
            ((w * x) ** 2).sum().backward()
            quiet(fn, w, x)
        return w.detach().numpy()

    fn = torch.compile(step)
    np.testing.assert_allclose(run(fn), run(step), rtol=1e-6)
    assert fn.stats.split_calls == 4 and fn.stats.compiles <= 2


def _noise(x):
    return x + torch.randn_like(x) * torch.rand(3)


def _in_turn(x):
    first = torch.rand(3)
    second = torch.randn(3)
    return (x + second * 10) + first   # (the second draw is read first)


def _discarded(x):
    y = x + torch.rand(3)
    torch.randn(2)   # drawn, not used: the next call's draws come after it
    return y


def _seeded(x):
    torch.manual_seed(0)
    return x + torch.randn(3)


GENERATOR = [None]   # a generator object, seeded anew for each run by the test


def _own_generator(x):
    return x + torch.rand(3, generator=GENERATOR[0])


def _refilled(x):
    return x + torch.empty(3).normal_()


def _initialized(x):
    w = torch.empty(3)
    torch.nn.init.normal_(w)
    return x + w


def _replayed(x):
    state = torch.get_rng_state()
    first = torch.rand(3)
    torch.set_rng_state(state)
    return x + first - torch.rand(3)


@pytest.mark.parametrize("fn", [_noise, _in_turn, _discarded, _seeded, _own_generator,
                                _refilled, _initialized, _replayed])
def test_random_draws_are_drawn_on_every_call_as_eagerly(fn):
    """randn / rand (and _like) are nodes drawing on each run, the numbers eager draws;
    draws made in Python (a generator object, normal_, seeding, the rng state) break the
    graph. Each had been the first call's numbers on every call."""
    seen = []
    for compiled in (False, True):
        torch.manual_seed(5)
        GENERATOR[0] = torch.Generator().manual_seed(1)
        call = torch.compile(fn) if compiled else fn
        with warnings.catch_warnings():
            warnings.simplefilter("error" if fn in (_noise, _in_turn, _discarded) else "ignore")
            seen.append([call(torch.ones(3)).tolist() for _ in range(3)])
    assert seen[1] == seen[0]


def _retained(x):
    h = x * 2
    h.retain_grad()
    (h * h).sum().backward()
    return h.grad * 1


def _gradient_penalty(x):
    (g,) = torch.autograd.grad((x ** 3).sum(), [x], create_graph=True)
    return (g * g).sum()


@pytest.mark.parametrize("fn", [_retained, _gradient_penalty])
def test_retain_grad_and_autograd_grad_run_eagerly(fn):
    """Not traced (they had raised TypeError / AttributeError): a graph break, eager's
    values and gradients."""
    seen = []
    for compiled in (False, True):
        x = torch.tensor([1.0, 2.0], requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = (torch.compile(fn) if compiled else fn)(x)
        if out.requires_grad:
            x.grad = None
            out.backward()
        seen.append((out.tolist(), x.grad.tolist()))
    assert seen[1] == seen[0]


def test_random_draws_of_symbolic_sizes_specialize_them():
    """A draw shaped like a tensor of a symbolic size (dynamic=True) makes the compile
    specialize its sizes, as other code needing a size as a number does (its node had no
    size to draw)."""
    seen = []
    for compiled in (False, True):
        torch.manual_seed(3)
        call = torch.compile(_noise, dynamic=True) if compiled else _noise
        seen.append([call(torch.ones(n)).tolist() for n in (3, 3, 3)])
    assert seen[1] == seen[0]
