"""`compile(fn, search=True)`: a measured choice among rewrite configurations (TASO-style).

The default pipeline applies every rewrite that matches, but a rewrite that matches is not
always faster here (merging Q/K/V products concatenates the weights on every call). For one
compiled graph the search plans candidate configurations: all rewrites (the default), none
(the reference), each rewrite that fired left out, and every rewrite that measured faster
when left out left out together. Each candidate must give the reference's values on random
inputs of the real shapes and dtypes (to float32 tolerance) or it is refused; the equal ones
are timed on the real inputs, interleaved in a shuffled order per round, and the fastest
median wins (over the default only by more than `MARGIN`: noise must not churn plans).
Timing runs the plan only: a compiled plan returns the values its call would store (new
parameters, gradients) and the caller stores them, so timing runs write no state.
"""
from __future__ import annotations

import dataclasses
import statistics
import time
from typing import Optional

import numpy as np

from .. import passes
from ..runtime.plan import Plan

DEFAULT_BUDGET_S = 5.0
MIN_REPEATS, MAX_REPEATS = 3, 21
MARGIN = 0.03     # another candidate replaces the default only when this much faster


@dataclasses.dataclass
class Candidate:
    """One configuration and what the search found about it."""
    label: str
    skip: tuple                 # rewrites left out (None: no rewrites at all)
    plan: Optional[Plan] = None
    steps: int = 0
    equal: Optional[bool] = None    # None: not checked (out of budget)
    max_error: float = 0.0
    times: list = dataclasses.field(default_factory=list)
    chosen: bool = False
    note: str = ""

    @property
    def median_s(self) -> Optional[float]:
        return statistics.median(self.times) if self.times else None


@dataclasses.dataclass
class SearchReport:
    """Every candidate of one graph's search: its time, whether it was equal, which won."""
    candidates: list
    fired: list                 # (rewrite, its note) of the default pipeline
    elapsed_s: float = 0.0
    budget_s: float = DEFAULT_BUDGET_S
    note: str = ""

    @property
    def chosen(self) -> Candidate:
        return next(c for c in self.candidates if c.chosen)

    def __str__(self) -> str:
        lines = [f"rewrite search: {len(self.candidates)} candidates in {self.elapsed_s:.2f} s "
                 f"(budget {self.budget_s:.1f} s){'; ' + self.note if self.note else ''}"]
        lines += [f"  fired: {name}: {note}" for name, note in self.fired]
        default = self.candidates[0].median_s
        lines.append(f"  {'candidate':<34} {'steps':>5} {'median':>10} {'vs default':>10} "
                     f"{'equal':>6}  chosen")
        for c in self.candidates:
            t = "-" if c.median_s is None else f"{c.median_s * 1e6:8.1f}us"
            ratio = "-" if c.median_s is None or not default else f"{default / c.median_s:.2f}x"
            equal = {None: "-", True: "yes", False: "NO"}[c.equal]
            lines.append(f"  {c.label:<34} {c.steps:>5} {t:>10} {ratio:>10} {equal:>6}  "
                         f"{'<==' if c.chosen else ''}{' ' + c.note if c.note else ''}")
        return "\n".join(lines)


def time_run(plan: Plan, arrays: list) -> float:
    """Seconds one run of `plan` takes (tests replace this to make the choice predictable)."""
    start = time.perf_counter()
    plan.run(arrays)
    return time.perf_counter() - start


def search(fetches: list, placeholders: tuple, arrays: list,
           budget_s: float = DEFAULT_BUDGET_S) -> tuple[Plan, SearchReport]:
    """The fastest equal plan of `fetches` given `placeholders` (fed `arrays`), and the
    report of every candidate tried."""
    start = time.perf_counter()
    default = Candidate("all rewrites (default)", ())
    default.plan = Plan(fetches, placeholders, {})
    fired = [(name, note) for name, note in default.plan.program.log
             if name in dict(passes.REWRITES)]
    report = SearchReport([default], fired, budget_s=budget_s)
    if any(getattr(s.op, "stateful", False) for s in default.plan.program.steps):
        # a random draw or a state update (fp8 amax history) per run: extra runs would
        # change the values the call sees
        default.chosen, default.note = True, "kept"
        report.note = "not searched: the graph draws random numbers or updates state"
        report.elapsed_s = time.perf_counter() - start
        return default.plan, report
    reference = Candidate("no rewrites (reference)", None)
    names = list(dict.fromkeys(name for name, _ in fired))
    singles = [Candidate(f"without {name}", (name,)) for name in names]
    report.candidates += [reference] + (singles if len(names) > 1 else [])
    random_inputs = _random_like(arrays)
    expected = None

    def within_budget() -> bool:
        return time.perf_counter() - start < budget_s

    def check(c: Candidate) -> None:
        nonlocal expected
        if c.plan is None:
            c.plan = Plan(fetches, placeholders, {}, optimize=c.skip is not None,
                          skip=c.skip or ())
        c.steps = len(c.plan.program.steps)
        got = c.plan.run(random_inputs)   # also compiles for these shapes
        if expected is None:
            expected = got
        c.equal, c.max_error = _compare(expected, got)
        if not c.equal:
            c.note = f"refused: differs by {c.max_error:.3g}"

    check(reference)   # first: the others are compared with it
    check(default)     # both always: the budget limits the rest
    for c in singles:
        if not within_budget():
            c.note = "not tried: out of budget"
            continue
        check(c)
    _measure(report, arrays, within_budget)
    # rewrites that each measured slower than leaving them out (by the margin): all out
    slower = [c.skip[0] for c in singles
              if c.median_s is not None and default.median_s is not None
              and c.median_s < default.median_s * (1 - MARGIN)]
    if len(slower) > 1 and within_budget():
        combined = Candidate("without " + " + ".join(slower), tuple(slower))
        report.candidates.append(combined)
        check(combined)
        for c in report.candidates:   # timed again together: rounds apart are not comparable
            c.times = []
        _measure(report, arrays, within_budget)
    timed = [c for c in report.candidates if c.equal and c.times]
    best = min(timed, key=lambda c: c.median_s) if timed else default
    if default in timed and best.median_s > default.median_s * (1 - MARGIN):
        best = default
    best.chosen = True
    for c in report.candidates:
        c.plan = c.plan if c.chosen else None     # the rest's generated code is let go
    report.elapsed_s = time.perf_counter() - start
    return best.plan, report


def _measure(report: SearchReport, arrays: list, within_budget) -> None:
    """Runs of every equal candidate on the real inputs, interleaved in a shuffled order
    each round: at least `MIN_REPEATS` rounds, more while the budget lasts."""
    todo = [c for c in report.candidates if c.equal]
    for c in todo:
        c.plan.run(arrays)    # warm: the real inputs may have other shapes than the check's
    order = np.random.default_rng(1)
    for round_ in range(MAX_REPEATS):
        if round_ >= MIN_REPEATS and not within_budget():
            break
        for k in order.permutation(len(todo)):
            todo[k].times.append(time_run(todo[k].plan, arrays))


def _random_like(arrays: list) -> list:
    """Random floats of each float input's shape and dtype; other inputs (indices, labels,
    masks) as they are, since their values must stay valid."""
    rng = np.random.default_rng(0)
    out = []
    for a in arrays:
        a = np.asarray(a)
        if np.issubdtype(a.dtype, np.floating):
            out.append(rng.standard_normal(a.shape).astype(a.dtype))
        else:
            out.append(a)
    return out


def _compare(expected: list, got: list) -> tuple[bool, float]:
    """Equal to float32 tolerance (relative to each value's scale), and the largest error."""
    worst, equal = 0.0, True
    for e, g in zip(expected, got):
        if e is None or g is None:
            equal &= e is None and g is None
            continue
        e, g = np.asarray(e, np.float64), np.asarray(g, np.float64)
        if e.shape != g.shape:
            return False, float("inf")
        if e.size == 0:
            continue
        scale = max(1.0, float(np.max(np.abs(e[np.isfinite(e)]), initial=0.0)))
        same = (e == g) | (np.isnan(e) & np.isnan(g))    # infinities and NaNs included
        with np.errstate(invalid="ignore"):
            err = np.where(same, 0.0, np.abs(e - g))
            ok = same | (err <= 1e-4 * np.abs(e) + 1e-5 * scale)
        worst = max(worst, float(np.max(np.where(np.isnan(err), np.inf, err))))
        equal &= bool(np.all(ok))
    return bool(equal), worst
