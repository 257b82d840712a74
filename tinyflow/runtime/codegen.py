"""Straight-line Python for a planned run: one line per kernel call over local variables and
preallocated buffers, so running a plan costs a call per op and nothing else."""
from __future__ import annotations


def compile_run(steps: list, out_buffer: list, casts: list, loads: list, fetch_slots: list,
                free_after: list, buffers: list):
    """Build `run(values) -> list of fetched values`.

    Args:
        steps: (kernel, op, input slots, output slot, dtype) per step.
        out_buffer: per step, the pool buffer id its kernel writes with `out=`, or None.
        casts: per step, whether the kernel's result must be cast to the declared dtype.
        loads: slots read from the `values` list (feeds, variables, constants).
        fetch_slots: slots returned, in order.
        free_after: per step, slots to drop after it (their last use, not pooled).
        buffers: the preallocated arrays, by buffer id.
    """
    env: dict = {}
    lines = ["def run(values):"]
    lines += [f"    v{s} = values[{s}]" for s in loads]
    for n, (kernel, op, ins, out, dtype) in enumerate(steps):
        env[f"k{n}"], env[f"o{n}"] = kernel, op
        args = "".join(f", v{i}" for i in ins)
        b = out_buffer[n]
        if b is not None:
            lines.append(f"    v{out} = k{n}(o{n}{args}, out=b{b})")
        else:
            lines.append(f"    v{out} = k{n}(o{n}{args})")
            if casts[n]:
                env[f"d{n}"] = dtype.np
                lines.append(f"    v{out} = v{out}.astype(d{n})")
        if free_after[n]:
            lines.append("    " + " = ".join(f"v{s}" for s in free_after[n]) + " = None")
    lines.append("    return [" + ", ".join(f"v{s}" for s in fetch_slots) + "]")
    for b, arr in enumerate(buffers):
        env[f"b{b}"] = arr
    exec(compile("\n".join(lines), "<tinyflow plan>", "exec"), env)
    return env["run"]
