"""Pipeline schedules as data: which forward (F) and backward (B) of which micro-batch each
stage runs, in what order; and what a timeline of those runs says (bubble, stored activations).

GPipe runs every forward, then every backward: stage i holds all m micro-batches' activations
before its first backward. 1F1B (PipeDream-flush) runs p - i - 1 warm-up forwards and then
alternates one forward with one backward, so stage i never holds more than p - i. Both leave
the same bubble, (p - 1) / (m + p - 1) of the time when all micro-batches cost the same;
`simulate` replays a schedule with set costs to show it without any processes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

FORWARD, BACKWARD = "F", "B"


@dataclass(frozen=True)
class Work:
    """One unit of a stage's schedule: the forward or backward of one micro-batch."""
    kind: str           # FORWARD or BACKWARD
    microbatch: int


@dataclass(frozen=True)
class Interval:
    """When one stage was busy with one `Work` (seconds, one clock for all stages)."""
    stage: int
    kind: str
    microbatch: int
    start: float
    end: float


def gpipe(num_stages: int, chunks: int, stage: int) -> list[Work]:
    """All forwards, then all backwards (in reverse, as the gradients arrive)."""
    return ([Work(FORWARD, k) for k in range(chunks)]
            + [Work(BACKWARD, k) for k in reversed(range(chunks))])


def one_f_one_b(num_stages: int, chunks: int, stage: int) -> list[Work]:
    """Warm-up forwards, then one forward / one backward, then the remaining backwards."""
    warmup = min(num_stages - stage - 1, chunks)
    order = [Work(FORWARD, k) for k in range(warmup)]
    for k in range(chunks - warmup):
        order += [Work(FORWARD, warmup + k), Work(BACKWARD, k)]
    return order + [Work(BACKWARD, k) for k in range(chunks - warmup, chunks)]


SCHEDULES: dict[str, Callable[[int, int, int], list[Work]]] = {
    "gpipe": gpipe, "1f1b": one_f_one_b}


def schedule_for(name: str, num_stages: int, chunks: int) -> list[list[Work]]:
    """Every stage's order of work under schedule `name` ("gpipe" or "1f1b")."""
    if name not in SCHEDULES:
        raise ValueError(f"schedule must be one of {sorted(SCHEDULES)}, got {name!r}")
    if num_stages < 1 or chunks < 1:
        raise ValueError(f"need at least one stage and one micro-batch, got {num_stages} "
                         f"stage(s) and chunks={chunks}")
    return [SCHEDULES[name](num_stages, chunks, i) for i in range(num_stages)]


def peak_stored(order: Sequence[Work]) -> int:
    """The most micro-batches whose forward has run and whose backward has not."""
    held = peak = 0
    for work in order:
        held += 1 if work.kind == FORWARD else -1
        peak = max(peak, held)
    return peak


def theoretical_bubble(num_stages: int, chunks: int) -> float:
    """The idle share of a GPipe or 1F1B step when every micro-batch costs the same."""
    return (num_stages - 1) / (chunks + num_stages - 1)


def bubble_fraction(timelines: Sequence[Sequence[Interval]]) -> float:
    """Idle share of p stages x the step's span (first start to last end of any stage)."""
    spans = [iv for line in timelines for iv in line]
    if not spans:
        return 0.0
    span = max(iv.end for iv in spans) - min(iv.start for iv in spans)
    busy = sum(iv.end - iv.start for iv in spans)
    return 1.0 - busy / (len(timelines) * span) if span > 0 else 0.0


def simulate(name: str, num_stages: int, chunks: int, forward: float = 1.0,
             backward: float = 2.0, latency: float = 0.0) -> list[list[Interval]]:
    """Replay schedule `name` with every forward costing `forward`, every backward
    `backward` and every transfer between stages `latency`: the timeline an ideal machine
    (latency 0) or one with that message latency would draw."""
    orders = schedule_for(name, num_stages, chunks)
    done: dict[tuple, float] = {}           # (stage, kind, microbatch) -> end time
    free = [0.0] * num_stages
    lines: list[list[Interval]] = [[] for _ in range(num_stages)]
    nexts = [0] * num_stages
    while any(n < len(o) for n, o in zip(nexts, orders)):
        progressed = False
        for i, order in enumerate(orders):
            while nexts[i] < len(order):
                work = order[nexts[i]]
                needs = _needs(i, work, num_stages)
                if any(n not in done for n in needs):
                    break
                start = max([free[i]] + [done[n] + (latency if n[0] != i else 0.0)
                                         for n in needs])
                end = start + (forward if work.kind == FORWARD else backward)
                done[(i, work.kind, work.microbatch)] = free[i] = end
                lines[i].append(Interval(i, work.kind, work.microbatch, start, end))
                nexts[i] += 1
                progressed = True
        if not progressed:
            raise RuntimeError(f"schedule {name!r} deadlocks with {num_stages} stages and "
                               f"{chunks} micro-batches")
    return lines


def _needs(stage: int, work: Work, num_stages: int) -> list[tuple]:
    """What `work` on `stage` waits for: the neighbour's matching work and, for a backward,
    this stage's own forward of the micro-batch."""
    if work.kind == FORWARD:
        return [(stage - 1, FORWARD, work.microbatch)] if stage > 0 else []
    needs = [(stage, FORWARD, work.microbatch)]
    if stage < num_stages - 1:
        needs.append((stage + 1, BACKWARD, work.microbatch))
    return needs
