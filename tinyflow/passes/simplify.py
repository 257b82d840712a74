"""Algebraic simplification: x*1, x+0, x-0, x/1, neg(neg(x)), transpose and reshape chains,
transposes folded into matmul's transpose flags."""
from __future__ import annotations

from collections import Counter

import numpy as np

from ..ops.linalg import MatMul
from ..ops.math import Add, Div, Mul, Neg, Sub
from ..ops.shape import Reshape, Transpose
from .program import Program, is_pure, literal, rename


def simplify(program: Program) -> Program:
    """Rewrite each pure step by the first rule that applies: to one of its inputs (the
    step disappears; not if it is fetched) or to a cheaper step reading further upstream."""
    replaced: dict = {}      # slot -> the slot now holding its value
    steps, counts = [], Counter()
    for step in program.steps:
        step = rename([step], replaced)[0]
        result = None
        if is_pure(step, program):
            for rule in _RULES:   # rules match the original steps: the same values
                result = rule(program, step)
                if isinstance(result, int) and step.output in program.fetches:
                    result = None   # a fetched value stays its own array
                if result is not None:
                    counts[rule.__name__.lstrip("_")] += 1
                    break
        if isinstance(result, int):
            replaced[step.output] = replaced.get(result, result)
        else:
            steps.append(step if result is None else rename([result], replaced)[0])
    if not counts:
        return program
    what = ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
    return program.with_steps(steps, note=("simplify", f"rewrote {sum(counts.values())} "
                                                       f"step(s): {what}"))


# ---- rules: (program, step) -> a slot replacing the step's value, a new step, or None ----

def _identity_operand(program, step):
    """x*1, 1*x, x-0, x/1, and x+0 / 0+x for integers (in floating point only x + (-0.0) is x:
    -0.0 + 0.0 is +0.0): x, when the result has x's shape and dtype (a constant that
    broadcasts x to a larger shape, or promotes its dtype, keeps the step)."""
    op = step.op
    if not isinstance(op, (Add, Sub, Mul, Div)) or len(step.inputs) != 2:
        return None
    unit = 1 if isinstance(op, (Mul, Div)) else 0
    sides = (0, 1) if isinstance(op, (Add, Mul)) else (0,)   # which side x may be on
    for k in sides:
        x, c = step.inputs[k], step.inputs[1 - k]
        value = literal(program, c)
        if value is None or not np.all(value == unit):
            continue
        if unit == 0 and value.dtype.kind == "f" and \
                not np.all(np.signbit(value) == isinstance(op, Add)):
            continue    # -0.0 + 0.0 is +0.0: only x + (-0.0) and x - (+0.0) are x for every x
        shape, dtype = program.value_of(x)
        if dtype is step.dtype and _keeps_shape(shape, value.shape, step.shape):
            return x
    return None


def _keeps_shape(x_shape, c_shape, out_shape) -> bool:
    """Broadcasting x (shape x_shape) with a constant of c_shape gives x's own shape."""
    if x_shape is None:
        return False
    if len(c_shape) <= len(x_shape) and all(d == 1 for d in c_shape):
        return True
    return out_shape is not None and None not in x_shape and tuple(x_shape) == tuple(out_shape)


def _double_negation(program, step):
    """neg(neg(x)) = x."""
    if isinstance(step.op, Neg):
        inner = program.made_by(step.inputs[0], Neg)
        if inner is not None and program.value_of(inner.inputs[0])[1] is step.dtype:
            return inner.inputs[0]
    return None


def _transpose_chain(program, step):
    """transpose(transpose(x, p), q) = transpose(x, p[q]), or x when that is the identity."""
    if not isinstance(step.op, Transpose):
        return None
    inner = program.made_by(step.inputs[0], Transpose)
    if inner is None:
        return None
    x = inner.inputs[0]
    shape = program.value_of(x)[0]
    if shape is None:
        return None
    p, q = _perm(inner.op, len(shape)), _perm(step.op, len(shape))
    perm = tuple(p[i] for i in q)
    if perm == tuple(range(len(shape))):
        return x
    return step.replace(op=Transpose(perm=perm), inputs=(x,))


def _perm(op: Transpose, rank: int) -> tuple:
    return tuple(op.perm) if op.perm is not None else tuple(reversed(range(rank)))


def _reshape_chain(program, step):
    """reshape(reshape(x, s1), s2) = reshape(x, s2); a reshape to x's own (known) shape is x."""
    if not isinstance(step.op, Reshape):
        return None
    x = step.inputs[0]
    inner = program.made_by(x, Reshape)
    if inner is not None:
        x = inner.inputs[0]
    shape = program.value_of(x)[0]
    if shape is not None and None not in shape and step.shape is not None and \
            tuple(shape) == tuple(step.shape):
        return x
    return step.replace(inputs=(x,)) if inner is not None else None


def _transpose_into_matmul(program, step):
    """matmul(transpose(a), b) = matmul(a, b, transpose_a=True) when the transpose swaps the
    last two axes only (and likewise for b): the product reads the operand as it lies."""
    if not isinstance(step.op, MatMul):
        return None
    flags = [step.op.transpose_a, step.op.transpose_b]
    inputs = list(step.inputs)
    for k in (0, 1):
        inner = program.made_by(inputs[k], Transpose)
        if inner is None:
            continue
        shape = program.value_of(inner.inputs[0])[0]
        if shape is None or len(shape) < 2:
            continue
        rank = len(shape)
        if _perm(inner.op, rank) != tuple(range(rank - 2)) + (rank - 1, rank - 2):
            continue
        inputs[k], flags[k] = inner.inputs[0], not flags[k]
    if inputs == list(step.inputs):
        return None
    return step.replace(op=MatMul(transpose_a=flags[0], transpose_b=flags[1]),
                        inputs=tuple(inputs))


_RULES = (_identity_operand, _double_negation, _transpose_chain, _reshape_chain,
          _transpose_into_matmul)
