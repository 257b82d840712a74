"""What the linear-algebra rewrites share: new steps with inferred types on fresh slots, and
the questions they ask before touching a value (private? a parameter? fully static?)."""
from __future__ import annotations

from typing import Optional

from ..core.op import Typed
from .program import Program, Step


class Emitter:
    """Builds new steps for `program`: each gets a fresh slot (or a given one) and the shape
    and dtype its op infers, so rewrites never state types by hand."""

    def __init__(self, program: Program, num_slots: Optional[int] = None) -> None:
        self.program = program
        self.num_slots = program.num_slots if num_slots is None else num_slots
        self.types: dict = {}     # slot -> (shape, dtype) of the slots made here
        self.steps: list = []

    def type_of(self, slot: int) -> tuple:
        return self.types[slot] if slot in self.types else self.program.value_of(slot)

    def __call__(self, op, *inputs: int, output: Optional[int] = None,
                 name: Optional[str] = None) -> int:
        shape, dtype = op.infer(*[Typed(*self.type_of(i)) for i in inputs])
        if output is None:
            output, self.num_slots = self.num_slots, self.num_slots + 1
        self.types[output] = (shape, dtype)
        self.steps.append(Step(op, tuple(inputs), output, dtype, shape, name=name))
        return output

    def take(self) -> list:
        """The steps emitted since the last `take`."""
        steps, self.steps = self.steps, []
        return steps


def private(program: Program, slot: int) -> Optional[int]:
    """The one step reading `slot`, if only it does (not fetched, no control edge waits for
    it): a rewrite may then absorb the value into that step."""
    n = program.only_reader(slot)
    if n is None or slot in program.waited_for:
        return None
    return n


def static(shape) -> bool:
    return shape is not None and None not in shape


def parameters(program: Program) -> set:
    """The slots computed from variables, eager tensors and constants only (no feed upstream,
    nothing stateful, no control edge): weights, whose per-run preprocessing is small next to
    the activations."""
    found = {slot for slot, e in program.externals.items() if e.kind != "feed"}
    for s in program.steps:
        if (not getattr(s.op, "stateful", False) and not s.control
                and getattr(s.op, "writes_input", None) is None
                and all(i in found for i in s.inputs)):
            found.add(s.output)
    return found


def spliced(program: Program, at: dict) -> list:
    """The program's steps with step n replaced by the steps `at[n]` (empty: removed)."""
    return [new for n, s in enumerate(program.steps) for new in at.get(n, (s,))]
