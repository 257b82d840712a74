"""What compiling did to a program: each pass's note, and each kernel's FLOPs, bytes moved and
arithmetic intensity before and after (from the recording run's estimates)."""
from __future__ import annotations

from dataclasses import dataclass

from .program import Program, op_name


@dataclass(frozen=True)
class KernelCost:
    """One kernel call of a recorded program (estimates: see `record.step_flops`)."""
    op: str            # the op's name (a fused op's names its members)
    flops: int
    bytes: int         # input values read + output written

    @property
    def intensity(self) -> float:
        """FLOPs per byte moved."""
        return self.flops / self.bytes if self.bytes else 0.0


def kernel_costs(program: Program) -> list:
    """The `KernelCost` of each step of a recorded program, in execution order."""
    return [KernelCost(op_name(s.op), s.record.flops,
                       s.record.bytes_read + s.record.bytes_written) for s in program.steps]


def _totals(costs: list) -> KernelCost:
    return KernelCost("total", sum(c.flops for c in costs), sum(c.bytes for c in costs))


@dataclass
class PlanReport:
    """A plan for one set of feed shapes, as the rewrites and per-shape passes left it.

    passes: (pass name, what it changed) in pipeline order ("no change" for a rewrite that
        changed nothing); before / after: per kernel costs without the rewrites
        (`optimize=False`) and with them.
    """
    passes: list
    before: list
    after: list

    @property
    def total_before(self) -> KernelCost:
        return _totals(self.before)

    @property
    def total_after(self) -> KernelCost:
        return _totals(self.after)

    def __str__(self) -> str:
        lines = ["passes:"]
        width = max([len(name) for name, _ in self.passes] + [4])
        lines += [f"  {name:<{width}}  {message}" for name, message in self.passes]
        for title, costs in (("before (optimize=False)", self.before),
                             ("after", self.after)):
            lines.append(f"kernels {title}: {len(costs)}")
            lines.append(f"  {'#':>4}  {'op':<28}{'FLOPs':>14}{'bytes':>14}{'FLOP/B':>9}")
            for n, c in enumerate(costs):
                lines.append(_row(str(n), c))
            lines.append(_row("", _totals(costs)))
        b, a = self.total_before, self.total_after
        lines.append(f"after / before: FLOPs {_ratio(a.flops, b.flops)}, "
                     f"bytes {_ratio(a.bytes, b.bytes)}, kernels {len(self.after)} / "
                     f"{len(self.before)}")
        return "\n".join(lines)


def _row(index: str, c: KernelCost) -> str:
    return f"  {index:>4}  {c.op[:28]:<28}{c.flops:>14,}{c.bytes:>14,}{c.intensity:>9.2f}"


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.2f}x" if b else "-"


def pass_notes(program: Program, rewrites: list) -> list:
    """(pass, what changed) from the program's log, with "no change" for each of `rewrites`
    (names, in order) that left no note; per-shape notes follow."""
    notes = []
    for name in rewrites:
        mine = [(n, m) for n, m in program.log if n == name]
        notes += mine or [(name, "no change")]
    return notes + [(n, m) for n, m in program.log if n not in rewrites]
