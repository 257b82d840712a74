"""Pictures of graphs and compiled programs: Graphviz DOT text, rendered by Graphviz's `dot`.

Everything drawn is first a `passes.Program` (a graph is lowered, a plan has one), so a
picture shows exactly what the compiler sees. Nodes are told apart as the ML-systems lectures
draw them: forward computation blue, the loss orange, the backward (gradient) graph green,
the update of the parameters purple; feeds are ovals, variables cylinders, constants plain
text. Data edges are solid, control edges dashed, the edge into the variable an assign
writes is bold. `compare` draws a program before and after the graph rewrites side by side.

Which node is which comes from the graph itself: `tf.gradients` builds its nodes in the name
scope `gradients/` (as TF1 does) and seeds the sweep with `gradients/grad_ys`, whose input is
the loss; the forward graph is what the loss depends on; the update is every assign and the
values only it needs (the SGD or Adam arithmetic between the gradients and the assign).
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Optional

import numpy as np

from . import passes
from .core.errors import TinyflowError
from .core.graph import Graph, get_default_graph, topo_sort
from .core.pytree import tree_flatten
from .core.tensor import PLACEHOLDER, Tensor
from .passes import Program
from .passes.program import op_name

FORWARD, LOSS, BACKWARD, UPDATE = "forward", "loss", "backward", "update"
FEED, VARIABLE, CONSTANT = "feed", "variable", "constant"

# DOT attributes of each kind of node (steps are rounded boxes; externals have own shapes).
STYLE = {
    FORWARD: dict(shape="box", style="rounded,filled", fillcolor="#d0e2ff", color="#1f5fbf"),
    LOSS: dict(shape="box", style="rounded,filled", fillcolor="#ffd8a8", color="#e8590c"),
    BACKWARD: dict(shape="box", style="rounded,filled", fillcolor="#d3f9d8", color="#2b8a3e"),
    UPDATE: dict(shape="box", style="rounded,filled", fillcolor="#e5dbff", color="#6741d9"),
    FEED: dict(shape="ellipse", style="filled", fillcolor="#f1f3f5", color="#495057"),
    VARIABLE: dict(shape="cylinder", style="filled", fillcolor="#fff3bf", color="#e67700"),
    CONSTANT: dict(shape="plaintext", fontcolor="#495057"),
}
FORMATS = ("svg", "png", "pdf", "dot")
_GRADIENT_SCOPE = re.compile(r"(^|/)gradients(_\d+)?/")
_SEED = re.compile(r"(^|/)gradients(_\d+)?/grad_ys(_\d+)?(:0)?$")


class GraphvizNotFoundError(TinyflowError, RuntimeError):
    """Rendering needs Graphviz's `dot` program, and it is not installed."""


class Dot(str):
    """DOT text (a str) that a Jupyter notebook shows as a picture when Graphviz is installed."""

    def _repr_svg_(self) -> Optional[str]:
        if shutil.which("dot") is None:
            return None   # the notebook falls back to showing the text
        return _run_dot(self, "svg").decode()


# ---- what to draw ---------------------------------------------------------------------------

def program_of(obj, feed_keys=None) -> Program:
    """The Program behind `obj`: a Program, a Plan (its `.program`: optimized unless the
    session says `optimize=False`), a Graph (all of it), or fetches (a tensor, a name, or a
    list/tuple/dict of them), lowered as `Session.run` would with these feed keys. Every
    placeholder the fetches need counts as fed, so a picture never asks for feeds."""
    if isinstance(obj, Program):
        return obj
    if isinstance(getattr(obj, "program", None), Program):
        return obj.program
    fetches = _sinks(obj) if isinstance(obj, Graph) else _flatten(obj)
    return passes.lower(fetches, _all_feeds(fetches, feed_keys or ()))


def _flatten(fetches) -> list:
    """The tensors of a nesting of tensors and tensor names."""
    out = []
    for f in tree_flatten(fetches)[0]:
        if isinstance(f, str):
            f = get_default_graph().get_tensor_by_name(f)
        if not isinstance(f, Tensor):
            raise TypeError(f"viz: cannot draw {f!r} of type {type(f).__name__}: give tensors, "
                            f"tensor names, a Graph, a Program or a Plan")
        out.append(f)
    return out


def _sinks(graph: Graph) -> list:
    """The nodes of `graph` nothing reads: fetching them runs the whole graph."""
    read = {id(i) for n in graph.nodes for i in tuple(n.inputs) + tuple(n.control_inputs)}
    return [n for n in graph.nodes if id(n) not in read]


def _all_feeds(fetches: list, feed_keys) -> tuple:
    keys = tuple(feed_keys)
    given = {id(k) for k in keys}
    needed = topo_sort(fetches, include_control=True, stop=given)
    return keys + tuple(n for n in needed if n.kind == PLACEHOLDER and id(n) not in given)


# ---- which node is which --------------------------------------------------------------------

def classify(program: Program, loss_names=()) -> dict:
    """slot -> FORWARD, LOSS, BACKWARD or UPDATE for each step; FEED, VARIABLE or CONSTANT
    for each external.

    The loss is what a gradient seed (`gradients/grad_ys`) reads, plus the steps named in
    `loss_names` (so an optimized program, whose seed may be folded away, is coloured as its
    unoptimized one). A step a pass made without a name is guessed: on an assign's value
    chain it is update if it reads the assigned state or an update, else it takes the
    latest class among its inputs (forward < backward < update)."""
    steps = program.steps
    kinds = {slot: {"feed": FEED, "variable": VARIABLE}.get(e.kind, CONSTANT)
             for slot, e in program.externals.items()}
    backward = {s.output for s in steps if s.name and _GRADIENT_SCOPE.search(s.name)}
    loss = {i for s in steps if s.name and _SEED.search(s.name) for i in s.inputs
            if i not in backward}
    loss |= {s.output for s in steps if s.name in loss_names and s.output not in backward}
    forward = _ancestors(program, loss, stop=backward)
    chain, settled = set(), backward | forward | loss
    for s in reversed(steps):   # assigns, and the values only their chain needs
        if _writes(s) or (s.output in chain and s.output not in settled):
            chain.add(s.output)
            chain.update(s.inputs)
    targets = program.written_in_place
    for s in steps:
        o = s.output
        if _writes(s):
            kinds[o] = UPDATE
        elif o in backward:
            kinds[o] = BACKWARD
        elif o in loss:
            kinds[o] = LOSS
        elif o in forward:
            kinds[o] = FORWARD
        elif s.name is None and s.inputs and not (o in chain and any(
                i in targets or kinds[i] == UPDATE for i in s.inputs)):
            kinds[o] = max((kinds[i] for i in s.inputs), key=_RANK.get)
        elif o in chain or (s.control and not s.inputs and
                            all(kinds.get(c) == UPDATE for c in s.control)):
            kinds[o] = UPDATE   # the value chain of an assign, or a tf.group of updates
        else:
            kinds[o] = FORWARD
    return kinds


_RANK = {FEED: 0, VARIABLE: 0, CONSTANT: 0, FORWARD: 0, LOSS: 1, BACKWARD: 1, UPDATE: 2}


def _writes(step) -> bool:
    return getattr(step.op, "writes_input", None) is not None


def _ancestors(program: Program, slots: set, stop: set) -> set:
    """The steps `slots` depend on (data and control), themselves included, not crossing
    `stop`."""
    found, todo = set(), list(slots)
    while todo:
        slot = todo.pop()
        n = program.producer.get(slot)
        if slot in found or slot in stop or n is None:
            continue
        found.add(slot)
        todo += program.steps[n].inputs + program.steps[n].control
    return found


# ---- DOT ------------------------------------------------------------------------------------

def to_dot(obj, feed_keys=None, *, title: Optional[str] = None, legend: bool = True,
           rankdir: str = "TB") -> Dot:
    """DOT text of a graph, fetches, a Program or a Plan (see `program_of`)."""
    program = program_of(obj, feed_keys)
    kinds = classify(program)
    lines = _body(program, kinds, "", "  ")
    if legend:
        lines += _legend(set(kinds.values()))
    return _digraph(lines, title, rankdir)


def compare(fetches, feed_keys=None, session=None, *, legend: bool = True) -> Dot:
    """Before and after the graph rewrites, side by side: the lowered program (what
    `Session(optimize=False)` runs) and the optimized one (`session.make_plan(...).program`
    when a session is given, else `passes.optimize` of the lowered program)."""
    before = program_of(fetches, feed_keys)
    if session is not None:
        fetch_list = _flatten(fetches)
        after = session.make_plan(fetch_list, _all_feeds(fetch_list, feed_keys or ())).program
    else:
        after = passes.optimize(before)
    kinds_before = classify(before)
    kinds_after = classify(after, {s.name for s in before.steps
                                   if kinds_before[s.output] == LOSS})
    lines = []
    for prefix, program, kinds, what in (("b_", before, kinds_before, "before"),
                                         ("a_", after, kinds_after, "after")):
        changes = "".join(f"\\n{name}: {_escape(change)}" for name, change in program.log)
        if what == "after" and not changes:
            changes = "\\nno rewrite changed it"
        label = f"{what}: {len(program.steps)} steps{changes}"
        lines += [f"  subgraph cluster_{what} {{", f'    label="{label}";',
                  '    style="rounded"; color="#adb5bd"; fontname="Helvetica";']
        lines += _body(program, kinds, prefix, "    ") + ["  }"]
    if legend:
        lines += _legend(set(kinds_before.values()) | set(kinds_after.values()))
    return _digraph(lines, "before and after optimization", "TB")


def _digraph(lines: list, title: Optional[str], rankdir: str) -> Dot:
    head = ["digraph tinyflow {", f"  rankdir={rankdir};", '  fontname="Helvetica";',
            '  node [fontname="Helvetica", fontsize=10];',
            '  edge [fontname="Helvetica", color="#495057", arrowsize=0.7];']
    if title:
        head.append(f'  label="{_escape(title)}"; labelloc=t;')
    return Dot("\n".join(head + lines + ["}"]) + "\n")


def _body(program: Program, kinds: dict, prefix: str, indent: str) -> list:
    """Node and edge statements of one program; node ids are prefix + v<slot>."""
    lines = []
    fetched = set(program.fetches)
    for slot, ext in sorted(program.externals.items()):
        lines.append(_node(prefix, slot, _external_label(ext), kinds[slot], slot in fetched,
                           indent, tooltip=ext.name))
    for s in program.steps:
        op = op_name(s.op)
        label = _escape(op)
        base = (_short(s.name) or "").rsplit("/", 1)[-1]
        if base and not re.fullmatch(re.escape(op) + r"(_\d+)?", base, re.IGNORECASE):
            label += f"\\n{_escape(base)}"   # a name the user (or tf.gradients) chose
        label += f"\\n{_type(s.shape, s.dtype)}"
        extra = {"peripheries": 2} if op.startswith("fused") else {}
        lines.append(_node(prefix, s.output, label, kinds[s.output], s.output in fetched,
                           indent, tooltip=s.name, **extra))
    for s in program.steps:
        writes = getattr(s.op, "writes_input", None)
        for k, i in enumerate(s.inputs):
            attrs = ' [style=bold, label=" writes", fontsize=8]' if k == writes else ""
            lines.append(f"{indent}{prefix}v{i} -> {prefix}v{s.output}{attrs};")
        for c in s.control:
            lines.append(f"{indent}{prefix}v{c} -> {prefix}v{s.output} [style=dashed];")
    return lines


def _node(prefix, slot, label, kind, fetched, indent, tooltip=None, **extra) -> str:
    attrs = dict(STYLE[kind], **extra)
    if fetched:
        attrs["penwidth"] = 2.5
    attrs["tooltip"] = _escape(f"{_short(tooltip) or 'v' + str(slot)} ({kind})")
    body = ", ".join(f'{k}="{v}"' for k, v in attrs.items())
    return f'{indent}{prefix}v{slot} [label="{label}", {body}];'


def _legend(kinds: set) -> list:
    order = [FORWARD, LOSS, BACKWARD, UPDATE, FEED, VARIABLE, CONSTANT]
    shown = [k for k in order if k in kinds]
    lines = ["  subgraph cluster_legend {", '    label="legend"; style="dashed"; '
             'color="#adb5bd";']
    lines += [f'    legend_{k} [label="{k}", ' + ", ".join(
        f'{a}="{v}"' for a, v in STYLE[k].items()) + "];" for k in shown]
    lines += [f"    legend_{a} -> legend_{b} [style=invis];" for a, b in zip(shown, shown[1:])]
    return lines + ["  }"]


def _external_label(ext) -> str:
    if ext.kind in ("feed", "variable"):
        return f"{_escape(_short(ext.name) or ext.kind)}\\n{_type(ext.shape, ext.dtype)}"
    value = ext.ref.array if isinstance(ext.ref, Tensor) else ext.ref
    value = np.asarray(value) if value is not None else None
    if value is not None and value.size <= 4:
        return _escape(np.array2string(value, separator=", ",
                                       formatter={"float_kind": "{:.4g}".format}))
    return f"{ext.kind}\\n{_type(ext.shape, ext.dtype)}"


def _type(shape, dtype) -> str:
    dims = "?" if shape is None else ", ".join("?" if d is None else str(d) for d in shape)
    return f"[{dims}] {getattr(dtype, 'name', '')}".rstrip()


def _short(name: Optional[str]) -> Optional[str]:
    return name[:-2] if name and name.endswith(":0") else name


def _escape(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# ---- rendering ------------------------------------------------------------------------------

def render(dot_or_obj, path, feed_keys=None) -> Path:
    """Write a picture to `path`, in the format its suffix names (.svg, .png, .pdf; .dot
    writes the text and needs no Graphviz). `dot_or_obj` is DOT text or anything `to_dot`
    draws."""
    path = Path(path)
    fmt = path.suffix[1:].lower()
    if fmt not in FORMATS:
        raise ValueError(f"viz.render: cannot tell the format from {path.name!r}; end the "
                         f"path with one of {', '.join('.' + f for f in FORMATS)}")
    text = dot_or_obj if isinstance(dot_or_obj, str) else to_dot(dot_or_obj, feed_keys)
    if fmt == "dot":
        path.write_text(text)
    else:
        path.write_bytes(_run_dot(text, fmt))
    return path


def _run_dot(text: str, fmt: str) -> bytes:
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizNotFoundError(
            f"rendering {fmt.upper()} needs Graphviz's `dot` program, which is not on PATH: "
            f"install Graphviz (`apt-get install graphviz` on Debian/Ubuntu, `brew install "
            f"graphviz` on macOS, `conda install graphviz`), or write the DOT text itself "
            f"(a path ending in .dot, or viz.to_dot)")
    done = subprocess.run([dot, f"-T{fmt}"], input=text.encode(), capture_output=True,
                          timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"Graphviz's dot failed ({done.returncode}): "
                           f"{done.stderr.decode(errors='replace').strip()}")
    return done.stdout
