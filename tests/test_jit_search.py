"""compile(fn, search=True): the candidates are listed, a candidate that changes an answer is
refused, the fastest equal one measured is chosen, and searching writes no state (a training
step's parameters follow eager's). Times come from a fake timer: no test depends on speed."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinyflow as torch
import tinyflow.nn as nn
from tinyflow import passes
from tinyflow.jit import search as search_module
from tinyflow.ops.shape import Concat

RNG = np.random.default_rng(0)


def qkv(d=32):
    """Three bias-free projections of one `h`: merge_matmuls merges them by default."""
    torch.manual_seed(0)
    q, k, v = (nn.Linear(d, d, bias=False) for _ in range(3))
    h = torch.Tensor(RNG.standard_normal((16, d)).astype(np.float32))
    return (lambda h: (q(h), k(h), v(h))), h


def fake_timer(monkeypatch, slow):
    """Each run takes 2 s if `slow(program)`, else 1 s."""
    def time_run(plan, arrays):
        plan.run(arrays)
        return 2.0 if slow(plan.program) else 1.0
    monkeypatch.setattr(search_module, "time_run", time_run)


def has_concat(program):
    return any(isinstance(s.op, Concat) for s in program.steps)


def run_searched(fn, *args, budget_s=10.0):
    compiled = torch.compile(fn, search=True, budget_s=budget_s)
    with torch.no_grad():
        return compiled, compiled(*args), fn(*args)


def test_search_rejects_merge_matmuls_when_it_measures_slower(monkeypatch):
    fake_timer(monkeypatch, has_concat)
    fn, h = qkv()
    compiled, out, eager = run_searched(fn, h)
    report = compiled.search_report
    assert [name for name, _ in report.fired] == ["merge_matmuls"]
    labels = [c.label for c in report.candidates]
    assert labels[:2] == ["all rewrites (default)", "no rewrites (reference)"]
    assert all(c.equal for c in report.candidates)
    assert not has_concat(report.chosen.plan.program)
    assert report.chosen.median_s == min(c.median_s for c in report.candidates) == 1.0
    assert report.candidates[0].median_s == 2.0 and not report.candidates[0].chosen
    for a, b in zip(out, eager):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    text = str(report)
    assert "merge_matmuls" in text and "<==" in text and "no rewrites" in text


def test_search_keeps_the_default_when_it_measures_faster(monkeypatch):
    fake_timer(monkeypatch, lambda program: not has_concat(program))
    fn, h = qkv()
    compiled, _, _ = run_searched(fn, h)
    assert compiled.search_report.candidates[0].chosen
    assert has_concat(compiled.search_report.chosen.plan.program)


def test_a_candidate_within_the_noise_margin_does_not_replace_the_default(monkeypatch):
    monkeypatch.setattr(search_module, "time_run", lambda plan, arrays: (
        plan.run(arrays), 1.0 if has_concat(plan.program) else 0.99)[1])
    fn, h = qkv()
    compiled, _, _ = run_searched(fn, h)
    assert compiled.search_report.candidates[0].chosen


def test_out_of_budget_only_the_default_and_the_reference_are_tried(monkeypatch):
    fake_timer(monkeypatch, lambda program: False)
    w, wk = (torch.Tensor(RNG.standard_normal((8, 8)).astype(np.float32)) for _ in range(2))
    compiled, _, _ = run_searched(lambda h: (torch.relu(h @ w + 2.0) * 3.0, h @ wk),
                                  torch.Tensor(np.ones((4, 8), np.float32)), budget_s=0.0)
    report = compiled.search_report
    assert len(report.candidates) > 2 and report.candidates[0].chosen
    assert all("out of budget" in c.note for c in report.candidates[2:])
    assert [len(c.times) for c in report.candidates] == [search_module.MIN_REPEATS] * 2 + \
        [0] * (len(report.candidates) - 2)


def test_each_rewrite_that_fired_is_left_out_once_and_the_slower_ones_together(monkeypatch):
    w = torch.Tensor(RNG.standard_normal((8, 8)).astype(np.float32))
    wk = torch.Tensor(RNG.standard_normal((8, 8)).astype(np.float32))

    def fn(h):   # merge_matmuls (h @ w, h @ wk), fuse_elementwise (the chain), simplify (* 1)
        return torch.relu(h @ w * 1.0 + 2.0) * 3.0, h @ wk

    def slow(program):   # each of the two rewrites costs 1 s
        fused = any(type(s.op).__name__ == "FusedElementwise" for s in program.steps)
        return 1.0 + has_concat(program) + fused
    monkeypatch.setattr(search_module, "time_run",
                        lambda plan, arrays: (plan.run(arrays), slow(plan.program))[1])
    compiled, out, eager = run_searched(fn, torch.Tensor(RNG.standard_normal((4, 8))
                                                         .astype(np.float32)))
    report = compiled.search_report
    fired = [name for name, _ in report.fired]
    assert {"merge_matmuls", "fuse_elementwise"} <= set(fired)
    labels = [c.label for c in report.candidates]
    for name in fired:
        assert f"without {name}" in labels
    combined = report.candidates[-1]
    assert set(combined.skip) == {"merge_matmuls", "fuse_elementwise"}
    chosen = report.chosen
    assert chosen.median_s == 1.0 and chosen.equal
    assert not has_concat(chosen.plan.program)
    for a, b in zip(out, eager):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5)


def swap_fetches(program):
    """A wrong rewrite: hands out the first two fetches in each other's place."""
    if len(program.fetches) < 2:
        return program
    fetches = (program.fetches[1], program.fetches[0]) + program.fetches[2:]
    return program.with_steps(program.steps, fetches=fetches, note=("swap", "swapped"))


def test_a_candidate_that_changes_an_answer_is_refused(monkeypatch):
    monkeypatch.setattr(passes, "REWRITES", passes.REWRITES + [("swap", swap_fetches)])
    fake_timer(monkeypatch, lambda program: False)   # all as fast: the first equal one wins
    fn, h = qkv()
    compiled, out, eager = run_searched(fn, h)
    report = compiled.search_report
    default, without_swap = report.candidates[0], next(
        c for c in report.candidates if c.skip == ("swap",))
    assert default.equal is False and "refused" in default.note and not default.chosen
    assert without_swap.equal
    assert report.chosen.equal
    for a, b in zip(out, eager):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_searching_a_training_step_writes_no_state(monkeypatch):
    fake_timer(monkeypatch, lambda program: False)

    def make():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 3))
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

        def step(x, y):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss
        return model, step

    x = torch.Tensor(RNG.standard_normal((10, 12)).astype(np.float32))
    y = torch.Tensor(RNG.integers(0, 3, 10))
    eager_model, eager_step = make()
    model, step = make()
    compiled = torch.compile(step, search=True, budget_s=10.0)
    for _ in range(4):   # momentum buffers appear on step 1: a second graph is searched
        np.testing.assert_allclose(compiled(x, y).item(), eager_step(x, y).item(), rtol=1e-5)
    for p, q in zip(model.parameters(), eager_model.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert len(compiled.search_reports) == compiled.stats.compiles == 2
    assert all(r.chosen.equal for r in compiled.search_reports)


def test_a_graph_with_random_draws_is_not_searched():
    torch.manual_seed(0)
    drop = nn.Dropout(0.5)
    compiled = torch.compile(lambda h: drop(h) * 2.0, search=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("error")
        compiled(torch.Tensor(np.ones((4, 4), np.float32)))
    report = compiled.search_report
    assert "random" in report.note and len(report.candidates) == 1
    assert report.candidates[0].chosen


def test_without_search_there_is_no_report():
    fn, h = qkv()
    compiled = torch.compile(fn)
    with torch.no_grad():
        compiled(h)
    assert compiled.search_report is None and compiled.stats.compiles == 1


@pytest.mark.parametrize("bad", [np.nan, 1.0])
def test_compare_needs_equal_values_and_nans_in_the_same_places(bad):
    expected = [np.array([1.0, np.nan, 3.0], np.float32)]
    got = [np.array([1.0, bad, 3.0], np.float32)]
    assert search_module._compare(expected, got)[0] == (bad is np.nan)
    assert not search_module._compare(expected, [np.array([1.0, np.nan, 3.01])])[0]


def test_a_module_compiles_with_search(monkeypatch):
    fake_timer(monkeypatch, has_concat)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.Tanh())
    compiled = torch.compile(model, search=True)
    x = torch.Tensor(RNG.standard_normal((5, 8)).astype(np.float32))
    with torch.no_grad():
        np.testing.assert_allclose(compiled(x).numpy(), model(x).numpy(), rtol=1e-6)
    assert compiled.search_report.chosen.equal
