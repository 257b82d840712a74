"""Stable softmax: log(softmax(x)) -> log_softmax(x), -sum(labels * log_softmax(x), -1) ->
softmax_cross_entropy(labels, x), and the gradient of log(softmax(x)) without dividing by
softmax(x) (which is 0 where it underflows, giving inf and NaN)."""
from __future__ import annotations

from collections import Counter

from ..ops.math import Div, Log, Mul, Neg, Sub
from ..ops.nn import LogSoftmax, Softmax, SoftmaxCrossEntropy
from ..ops.reduce import Sum
from .program import Program, Step, is_pure, value_reads


def stable_softmax(program: Program) -> Program:
    """Apply the rules below to each pure step they match whose value (not just its shape)
    is needed: a loss only the gradient's shapes read stays the cheaper chain. The fused
    cross-entropy goes first, so a log(softmax(x)) only it read is not rewritten for nothing."""
    counts = Counter()
    num_slots = program.num_slots
    steps = program.steps
    for rules in ((_cross_entropy,), (_log_of_softmax, _softmax_grad_of_quotient)):
        if counts:
            program = program.with_steps(steps, num_slots=num_slots)
        steps, num_slots = _rewrite(program, rules, counts)
    if not counts:
        return program
    what = ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
    return program.with_steps(steps, num_slots=num_slots,
                              note=("stable_softmax", f"rewrote {what}"))


def _rewrite(program: Program, rules, counts: Counter) -> tuple:
    """(steps, num_slots) with each needed pure step replaced by the first rule's steps."""
    steps, num_slots = [], program.num_slots
    needed = values_needed(program)
    for step in program.steps:
        new = None
        if is_pure(step, program) and step.output in needed:   # fetched ones too: the slot stays
            for rule in rules:
                new = rule(program, step, num_slots)
                if new is not None:
                    counts[rule.__name__.lstrip("_")] += 1
                    break
        if new is None:
            steps.append(step)
        else:
            num_slots = max([num_slots] + [s.output + 1 for s in new])
            steps.extend(new)
    return steps, num_slots


def values_needed(program: Program) -> set:
    """Slots whose values are read: fetched, read by a stateful step or waited for, or read
    (other than for its shape: ones_like, broadcast_to's target, ...) by a step whose value
    is needed."""
    needed = set(program.fetches)
    for step in reversed(program.steps):
        if step.output in needed or not is_pure(step, program):
            needed.update(value_reads(step))
            needed.update(step.control)
    return needed


def _softmax_axis(program: Program, slot: int):
    """(softmax step, its axis as a non-negative int) if `slot` is a softmax of known rank."""
    s = program.made_by(slot, Softmax)
    if s is None or type(s.op) is not Softmax or s.shape is None:
        return None, None
    return s, s.op.axis % len(s.shape)


def _log_of_softmax(program, step, fresh):
    """log(softmax(x)) = log_softmax(x), finite where softmax underflows to 0."""
    if not isinstance(step.op, Log):
        return None
    s, _ = _softmax_axis(program, step.inputs[0])
    if s is None or s.dtype is not step.dtype:
        return None
    return [step.replace(op=LogSoftmax(axis=s.op.axis), inputs=s.inputs)]


def _softmax_grad_of_quotient(program, step, fresh):
    """Softmax's vjp applied to g / s, s = softmax(x): s * (g/s - sum(g/s * s)) is
    g - s * sum(g), the same without the division (d log(softmax(x)) / dx applied to g).
    Matches mul(s, sub(w, sum(mul(w, s), axis, keepdims))) with w = div(g, s)."""
    if not isinstance(step.op, Mul):
        return None
    for k in (0, 1):
        s, axis = _softmax_axis(program, step.inputs[k])
        d = program.made_by(step.inputs[1 - k], Sub)
        if s is None or d is None:
            continue
        w, r = d.inputs
        div = program.made_by(w, Div)
        total = program.made_by(r, Sum)
        if div is None or total is None or div.inputs[1] != s.output:
            continue
        if not (total.op.keepdims and _axes(total.op.axis, len(s.shape)) == (axis,)):
            continue
        product = program.made_by(total.inputs[0], Mul)
        if product is None or sorted(product.inputs) != sorted((w, s.output)):
            continue
        g = div.inputs[0]
        g_shape, g_dtype = program.value_of(g)
        if g_dtype is not step.dtype or not _same_shape(g_shape, s.shape, step.shape):
            continue
        summed, scaled = fresh, fresh + 1
        return [Step(Sum(axis=(axis,), keepdims=True), (g,), summed, step.dtype,
                     total.shape),
                Step(Mul(), (s.output, summed), scaled, step.dtype, step.shape),
                Step(Sub(), (g, scaled), step.output, step.dtype, step.shape,
                     name=step.name)]
    return None


def _cross_entropy(program, step, fresh):
    """-sum(labels * log_softmax(x), last axis) = softmax_cross_entropy(labels, x), when
    labels and x have the same shape and dtype (no broadcasting in the product)."""
    if not isinstance(step.op, Neg):
        return None
    total = program.made_by(step.inputs[0], Sum)
    if total is None or total.op.keepdims:
        return None
    product = program.made_by(total.inputs[0], Mul)
    if product is None or product.shape is None:
        return None
    rank = len(product.shape)
    if _axes(total.op.axis, rank) != (rank - 1,):
        return None
    for k in (0, 1):
        logits = _log_softmax_input(program, product.inputs[k], rank)
        if logits is None:
            continue
        labels = product.inputs[1 - k]
        l_shape, l_dtype = program.value_of(labels)
        x_shape, x_dtype = program.value_of(logits)
        if (l_dtype is step.dtype is x_dtype and _same_shape(l_shape, x_shape, product.shape)
                and None not in l_shape[-1:]):
            return [step.replace(op=SoftmaxCrossEntropy(), inputs=(labels, logits))]
    return None


def _log_softmax_input(program, slot, rank):
    """x if `slot` is log_softmax(x) or log(softmax(x)) over the last of `rank` axes."""
    ls = program.made_by(slot, LogSoftmax)
    if ls is None:
        log = program.made_by(slot, Log)
        if log is None:
            return None
        ls, _ = _softmax_axis(program, log.inputs[0])
    if ls is None or ls.shape is None or len(ls.shape) != rank or ls.op.axis % rank != rank - 1:
        return None
    return ls.inputs[0]


def _same_shape(*shapes) -> bool:
    """All static shapes known (in rank) and equal."""
    return None not in shapes and len({tuple(s) for s in shapes}) == 1


def _axes(axis, rank: int) -> tuple:
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(a % rank for a in axes))


_RULES = (_log_of_softmax, _softmax_grad_of_quotient, _cross_entropy)
