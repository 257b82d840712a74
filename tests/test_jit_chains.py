"""Update chains (passes/chains.py): an optimizer's moment updates run inside the loop of the
parameter's update, one pass per parameter; compiled steps still equal eager ones
(losses, parameters and gradients after several steps), through the joined loop and
through its fallback (the groups one by one)."""
from __future__ import annotations

import numpy as np
import pytest

import tinyflow as torch
import tinyflow.passes.chains as chains_module
from tinyflow.passes.chains import chains

RNG = np.random.default_rng(0)
OPTIMIZERS = {
    "adamw": lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=0.1),
    "adam": lambda p: torch.optim.Adam(p, lr=1e-3),
    "momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
}


def make(optimizer):
    torch.manual_seed(0)     # a 256 x 256 weight: big enough for the generated loops
    model = torch.nn.Sequential(torch.nn.Linear(256, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 10))
    opt = optimizer(model.parameters())

    def step(x, y):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return model, step


def found_chains(compiled, shapes: list = None) -> list:
    """The update chains of a compiled function's plans (`shapes` gets each one's shape)."""
    found = []
    for entries in compiled._cache.values():
        for entry in entries:
            for c in entry.plan._compiled.values():
                joined = chains(c.program, c.buffers)
                found += joined
                if shapes is not None:
                    shapes += [c.program.steps[j.last].record.shape for j in joined]
    return found


def assert_same_steps(optimizer, steps=4):
    x = torch.Tensor(RNG.standard_normal((32, 256)).astype(np.float32))
    y = torch.Tensor(RNG.integers(0, 10, 32), dtype="int64")
    eager_model, eager = make(optimizer)
    model, compiled = make(optimizer)
    compiled = torch.compile(compiled)
    for _ in range(steps):
        np.testing.assert_allclose(compiled(x, y).detach().numpy(), eager(x, y).detach().numpy(),
                                   rtol=1e-5)
    for a, b in zip(eager_model.parameters(), model.parameters()):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-4, atol=1e-6)
    return compiled


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_update_chains_equal_eager(name):
    compiled = assert_same_steps(OPTIMIZERS[name])
    shapes = []
    found = found_chains(compiled, shapes)
    assert (256, 256) in shapes, "the big weight's update should run as one loop"
    assert (256,) in shapes and (10,) not in shapes    # from fused.CHAIN_MIN_SIZE elements
    deferred = {"adamw": 2, "adam": 2, "momentum": 1}[name]    # moments joined in
    assert all(len(c.deferred) == deferred for c in found)


def test_small_updates_run_after_the_backward():
    """The biases' updates and the small steps only they need run together at the end
    (passes/schedule.py `updates_last`), the large weight's update where it was."""
    compiled = assert_same_steps(OPTIMIZERS["adamw"])
    (entry,) = [e for es in compiled._cache.values() for e in es]
    (c,) = entry.plan._compiled.values()
    steps = c.program.steps
    small = [n for n in c.buffers.out_state if steps[n].record.shape in ((256,), (10,))]
    big = [n for n in c.buffers.out_state if steps[n].record.shape == (256, 256)]
    assert len(small) == 6 and len(big) == 3    # two biases: parameter and two moments each
    relu_grad = [n for n, s in enumerate(steps) if s.op.name == "relu_grad"]
    assert min(small) > max(big) > relu_grad[0]


def test_update_chain_fallback_equals_eager(monkeypatch):
    """Arrays the joined loop does not cover run group by group, as before."""
    calls = []

    def refuse(*args):
        calls.append(args)
        return None
    monkeypatch.setattr(chains_module, "run_chain", refuse)
    assert_same_steps(OPTIMIZERS["adamw"])
    assert calls


def test_small_updates_are_not_chained():
    torch.manual_seed(0)
    w = torch.Tensor(RNG.standard_normal((8, 4)).astype(np.float32), requires_grad=True)
    opt = torch.optim.Adam([w], lr=0.01)

    def step(x):
        opt.zero_grad()
        loss = (x @ w).square().mean()
        loss.backward()
        opt.step()
        return loss
    compiled = torch.compile(step)
    x = torch.Tensor(RNG.standard_normal((5, 8)).astype(np.float32))
    for _ in range(3):
        compiled(x)
    assert not found_chains(compiled)    # below fused.CHAIN_MIN_SIZE: group by group


def test_gpt_step_with_chained_adamw_equals_eager():
    """The character GPT's step (its feed-forward weights big enough to chain) with AdamW."""
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
    from char_gpt import GPT, GPTConfig, loss_fn

    def run(compiled: bool):
        torch.manual_seed(0)
        model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=128))
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
        rng = np.random.default_rng(1)
        x, y = (torch.tensor(rng.integers(0, 11, (2, 8))) for _ in range(2))

        def step(x, y):
            opt.zero_grad()
            loss = loss_fn(model, x, y)
            loss.backward()
            opt.step()
            return loss
        fn = torch.compile(step) if compiled else step
        losses = [float(fn(x, y).item()) for _ in range(3)]
        return losses, [p.detach().numpy().copy() for p in model.parameters()], fn
    eager_losses, eager_params, _ = run(False)
    losses, params, fn = run(True)
    assert len(found_chains(fn)) >= 2        # the feed-forward's two 128 x 512 weights
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    for a, b in zip(params, eager_params):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
