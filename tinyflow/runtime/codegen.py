"""Straight-line Python for a planned run: one line per kernel call over local variables and
preallocated buffers, so running a plan costs a call per op and nothing else."""
from __future__ import annotations


def compile_run(steps: list, out_buffer: list, records: list, loads: list, consts: dict,
                fetch_slots: list, free_after: list, buffers: list):
    """Build `run(values) -> list of fetched values`.

    Args:
        steps: (kernel, op, input slots, output slot, dtype) per step.
        out_buffer: per step, the pool block its kernel writes with `out=`, or None.
        records: per step, a `memory.Record`: whether its result must be cast to the declared
            dtype, and stand-ins for the inputs it reads only the shape of.
        loads: slots read from the `values` list (feeds, variables, constants).
        consts: slot -> value folded for this feed-shape signature.
        fetch_slots: slots returned, in order.
        free_after: per step, slots to drop after it (their last use, not pooled).
        buffers: per step, its output array (a view of its block), or None.
    """
    env: dict = {}
    lines = ["def run(values):"]
    lines += [f"    v{s} = values[{s}]" for s in loads]
    for s, value in consts.items():
        env[f"c{s}"] = value
        lines.append(f"    v{s} = c{s}")
    for n, (kernel, op, ins, out, dtype) in enumerate(steps):
        env[f"k{n}"], env[f"o{n}"] = kernel, op
        args = ""
        for k, i in enumerate(ins):
            if k in records[n].dummies:
                env[f"z{n}_{k}"] = records[n].dummies[k]
                args += f", z{n}_{k}"
            else:
                args += f", v{i}"
        b = out_buffer[n]
        if b is not None:
            lines.append(f"    v{out} = k{n}(o{n}{args}, out=b{n})")
        else:
            lines.append(f"    v{out} = k{n}(o{n}{args})")
            if records[n].cast:
                env[f"d{n}"] = dtype.np
                lines.append(f"    v{out} = v{out}.astype(d{n})")
        if free_after[n]:
            lines.append("    " + " = ".join(f"v{s}" for s in free_after[n]) + " = None")
    lines.append("    return [" + ", ".join(f"v{s}" for s in fetch_slots) + "]")
    for n, arr in enumerate(buffers):
        if arr is not None:
            env[f"b{n}"] = arr
    exec(compile("\n".join(lines), "<tinyflow plan>", "exec"), env)
    return env["run"]
