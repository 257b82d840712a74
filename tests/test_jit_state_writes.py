"""A compiled step computes the new parameters and optimizer state straight into the
tensors' own arrays (passes/write_state.py): values equal eager ones after several steps,
the arrays stay the same objects, and each hazard (an old value read late, a result that
would alias state, a layout the kernel cannot write) falls back to the copy."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import tinyflow as torch
import tinyflow.nn as nn
import tinyflow.passes

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
from char_gpt import GPT, GPTConfig, loss_fn  # noqa: E402

def state_writes(fn) -> int:
    """Steps that wrote state in place in the plans `fn` compiled."""
    plans = [e.plan for es in fn._cache.values() if isinstance(es, list) for e in es]
    return sum(c.stats.state_writes for p in plans for c in p._compiled.values())


def arrays(model, opt) -> list:
    out = [p.array for p in model.parameters()]
    for state in opt.state.values():
        out += [v.array for v in state.values() if isinstance(v, torch.Tensor)]
    return out


def gpt_run(compiled: bool, optimizer, steps=4):
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)
    model = GPT(cfg)
    opt = optimizer(model.parameters())
    rng = np.random.default_rng(1)
    x, y = (torch.tensor(rng.integers(0, 11, (3, 8))) for _ in range(2))

    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model, x, y)
        loss.backward()
        opt.step()
        return loss
    fn = torch.compile(step) if compiled else step
    losses = [float(fn(x, y).item()) for _ in range(2)]
    before = [id(a) for a in arrays(model, opt)]
    losses += [float(fn(x, y).item()) for _ in range(steps - 2)]
    assert [id(a) for a in arrays(model, opt)] == before   # written in place, never replaced
    return losses, [a.copy() for a in arrays(model, opt)], fn


@pytest.mark.parametrize("optimizer", [
    lambda ps: torch.optim.AdamW(ps, lr=1e-2, weight_decay=0.1),
    lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: torch.optim.Adam(ps, lr=1e-2)], ids=["adamw", "sgd_momentum", "adam"])
def test_gpt_step_in_place_equals_eager(optimizer, monkeypatch):
    """Bit for bit the compiled step that copies its writes in; close to eager (whose Adam
    is one fused loop: rounding differs, amplified where the moments are tiny)."""
    eager_losses, eager_state, _ = gpt_run(False, optimizer)
    losses, state, fn = gpt_run(True, optimizer)
    assert state_writes(fn) == sum(a.ndim > 0 for a in state)   # all but the step counts
    with monkeypatch.context() as m:
        m.setattr(tinyflow.passes, "state_writes", lambda *args: {})
        copied_losses, copied_state, copied_fn = gpt_run(True, optimizer)
    assert state_writes(copied_fn) == 0
    assert losses == copied_losses
    for a, b, c in zip(state, copied_state, eager_state):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)


def run_both(make, steps=3):
    """`make(rng)` -> (fn, tensors to compare); eager and compiled give the same results."""
    out = []
    for compiled in (False, True):
        fn, tensors = make(np.random.default_rng(2))
        fn = torch.compile(fn) if compiled else fn
        results = [np.array(fn().detach().numpy()) for _ in range(steps)]
        out.append((results, [t.detach().numpy().copy() for t in tensors], fn))
    (r0, t0, _), (r1, t1, fn) = out
    for a, b in zip(r0 + t0, r1 + t1):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    return fn


def test_old_value_read_after_the_update_is_computed_first():
    """The new weight is ready before a product reads the old one (trace order: the update
    is written last); the scheduler must keep the product before the in-place write."""
    def make(rng):
        w = torch.tensor(rng.standard_normal((6, 6)).astype(np.float32))
        x = torch.tensor(rng.standard_normal((4, 6)).astype(np.float32))

        def fn():
            new = w * 0.5 + 1.0
            y = x @ w          # reads the old w; nothing orders it before the write but w
            w.copy_(new)
            return y
        return fn, [w]
    fn = run_both(make)
    assert state_writes(fn) == 1


def test_written_value_also_returned_is_not_aliased():
    """A result that is also the value written is handed out as its own array (fetched
    twice: no in-place write), so changing the result leaves the tensor alone."""
    w = torch.tensor(np.ones((5, 5), np.float32))

    @torch.compile
    def fn():
        new = w * 2.0
        w.copy_(new)
        return new
    out = fn()
    out.array[...] = 0.0
    assert np.all(w.numpy() == 2.0)


def test_fortran_ordered_parameter_is_copied_in():
    def make(rng):
        w = nn.Parameter(torch.from_numpy(np.asfortranarray(
            rng.standard_normal((6, 4)).astype(np.float32))))
        x = torch.tensor(rng.standard_normal((3, 6)).astype(np.float32))
        opt = torch.optim.Adam([w], lr=0.1)

        def fn():
            opt.zero_grad()
            loss = ((x @ w) ** 2).mean()
            loss.backward()
            opt.step()
            return loss
        return fn, [w]
    run_both(make, steps=4)


def test_transposed_read_inside_the_writer_is_not_in_place():
    """2 w + w.T written into w: one generated loop would read w through a transpose while
    writing it (NumPy's own ufuncs would copy the overlap first)."""
    def make(rng):
        w = torch.tensor(rng.standard_normal((300, 300)).astype(np.float32))

        def fn():
            w.copy_(w * 2.0 + w.t())
            return w.sum()
        return fn, [w]
    run_both(make)


def _overlapping_parameters_run(compiled: bool, fullgraph: bool = False):
    """Two Parameters made from overlapping slices of one tensor, three SGD steps."""
    base = torch.ones(6)
    p1, p2 = nn.Parameter(base[:4]), nn.Parameter(base[2:])
    opt = torch.optim.SGD([p1, p2], lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = (p1 * x[:4]).sum() + (p2 * x[2:]).sum() ** 2
        loss.backward()
        opt.step()
        return loss

    f = torch.compile(step, fullgraph=fullgraph) if compiled else step
    x = torch.arange(6.0)
    losses = [float(f(x)) for _ in range(3)]
    return losses, base.numpy().copy()


def test_parameters_sharing_memory_run_eagerly_with_a_word():
    """A plan computes every new value from the old ones; eager updates overlapping views
    one after the other. The compiled function must give eager's answer, and say why."""
    want = _overlapping_parameters_run(False)
    with pytest.warns(UserWarning, match="shares memory"):
        got = _overlapping_parameters_run(True)
    np.testing.assert_array_equal(got[1], want[1])
    assert got[0] == want[0]
    with pytest.raises(RuntimeError, match="shares memory"):
        _overlapping_parameters_run(True, fullgraph=True)
