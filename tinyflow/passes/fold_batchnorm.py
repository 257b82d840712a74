"""Fold inference batch normalization (any per-channel scale and shift) into the conv2d,
matmul or linear layer before it: one conv with W2 = W * gamma / sigma, plus one bias add.

Batch norm in eval mode lowers to per-channel steps: tinyflow's module to one
`batch_norm_eval` (y * S + B on axis 1, S and B made from the running statistics, weight and
bias), `channel_affine` (y * S + B given), PyTorch's spelling `((conv + b) - mean) / sigma *
gamma + beta`, TF1's `y * inv + shift` (after the NHWC transpose). Any chain of those and of
add, sub, mul, div and neg with per-channel parameters is `y * S + B` for per-channel vectors
S and B; W * S then replaces the chain's scaling, and B the shifts: added to the layer's bias
(b * S + B), as a bias of a conv that had none (Conv2dBias), else one add. b2 = (b - mean) *
gamma / sigma + beta. S, B and W2 are small steps computed from the current parameters every
run.

Only values no gradient or fetch reads are folded (each intermediate has the chain as its
only reader), the operands must be parameters (no feed upstream: batch statistics of a
training-mode batch norm are not), and shapes and dtypes must say so statically.
"""
from __future__ import annotations

import math

from ..ops.conv import Conv2d, Conv2dBias, like
from ..ops.linalg import Affine, MatMul
from ..ops.math import Add, Div, Mul, Neg, Sub
from ..ops.normalization import BatchNormEval, BatchNormScale, ChannelAffine
from ..ops.shape import Reshape, Transpose
from .emit import Emitter, parameters, private, spliced, static
from .program import Program

_WITH_BIAS = (Affine, Conv2dBias)   # steps whose third input is a per-channel bias


def fold_batchnorm(program: Program) -> Program:
    """Fold per-channel scale/shift chains into the conv/matmul/linear step before them."""
    weights = parameters(program)
    emit = Emitter(program)
    at: dict = {}
    folded = removed = 0
    for n, s in enumerate(program.steps):
        found = _chain(program, n, weights)
        if found is None:
            continue
        chain, last = found
        members = [n] + [program.producer[c.output] for c, _ in chain]
        if any(m in at for m in members):
            continue    # a step of this chain is already folded into another base
        new, bias_add = _fold(emit, s, chain)
        fewer = sum(role is not None for _, role in chain) - bias_add
        if fewer <= 0:
            continue
        for m in members:
            at[m] = []
        at[last] = new
        folded, removed = folded + 1, removed + fewer
    if not folded:
        return program
    return program.with_steps(spliced(program, at), num_slots=emit.num_slots, note=(
        "fold_batchnorm", f"folded {folded} per-channel scale/shift chain(s) into the weights "
                          f"of the step before: {removed} full-size step(s) fewer"))


def _foldable(s, weights: set, program: Program) -> bool:
    """A conv2d, matmul or linear step whose weight (and bias) are parameters and whose
    output channels are known."""
    bases = (Conv2d, Conv2dBias, Affine, MatMul)
    if s.control or s.shape is None or not isinstance(s.op, bases):
        return False
    if isinstance(s.op, _WITH_BIAS) and s.inputs[2] not in weights:
        return False
    w = s.inputs[1]
    return (w in weights and w != s.inputs[0] and s.shape[_channel_axis(s)] is not None
            and not _weight_outweighs(s, program))


def _weight_outweighs(s, program) -> bool:
    """Whether the weight has at least the output's size (both known): scaling it every run
    then costs more than the pass over the output it saves. A ResNet's 256 -> 256 3x3 layer
    at 2x2 outputs (batch 64) has 590k weights against 65k outputs. Compiled ResNet-18 on
    28x28 at batch 64, one thread, CPU: every batch norm folded (11M weights scaled a step)
    42.9 ms against 40.0 eager; only the 8 where it pays, 39.3 against 42.3."""
    shape = program.value_of(s.inputs[1])[0]
    return (static(shape) and static(s.shape)
            and math.prod(shape) >= math.prod(s.shape))


def _chain(program: Program, n: int, weights: set):
    """The steps after step n that scale/shift its output per channel (with transposes
    between), as (step, role; None for a transpose), ending at an elementwise step; and the
    index of that last step."""
    s = program.steps[n]
    if not _foldable(s, weights, program):
        return None
    axis, rank = _channel_axis(s), len(s.shape)
    channels = s.shape[axis]
    chain, cur, last, kept = [], s.output, None, 0
    while True:
        r = private(program, cur)
        if r is None:
            break
        step = program.steps[r]
        if step.control or step.dtype != s.dtype:
            break
        role = None
        if isinstance(step.op, Transpose):
            axis = _moved(step.op, axis, rank)
        else:
            role = _role(step, cur, axis, rank, channels, program, weights)
            if role is None:
                break
        chain.append((step, role))
        cur = step.output
        if role is not None:
            last, kept = r, len(chain)
    if last is None or any(getattr(t.op, "writes_input", None) is not None
                           for t in program.steps[n:last]):
        return None
    return chain[:kept], last


def _role(step, cur, axis, rank, channels, program, weights):
    """How `step` combines the chain's value `cur` with a per-channel parameter:
    (kind, operand slot, chain value first?), or None."""
    op = step.op
    if isinstance(op, Neg):
        return ("neg", None, True)
    if isinstance(op, (ChannelAffine, BatchNormEval)):     # per channel on axis 1 only
        vectors = step.inputs[1:]
        if step.inputs[0] != cur or axis != 1 or any(
                v == cur or v not in weights or program.value_of(v)[1] != step.dtype
                or tuple(program.value_of(v)[0] or ()) != (channels,) for v in vectors):
            return None
        if isinstance(op, BatchNormEval):
            return ("batch_norm", (op.eps,) + vectors, True)
        return ("affine", vectors, True)
    if not isinstance(op, (Add, Sub, Mul, Div)) or cur not in step.inputs:
        return None
    first = step.inputs[0] == cur
    other = step.inputs[1] if first else step.inputs[0]
    if other == cur or other not in weights or isinstance(op, Div) and not first:
        return None
    shape, dtype = program.value_of(other)
    if dtype != step.dtype or not static(shape) or len(shape) > rank:
        return None
    offset = rank - len(shape)
    for i, d in enumerate(shape):
        if d != 1 and (i + offset != axis or d != channels):
            return None
    return (type(op).__name__.lower(), other, first)


def _fold(emit: Emitter, s, chain: list) -> tuple:
    """The new steps (S and B from the chain, the scaled weight, the step, its transposes,
    and the bias add; the last one writes the chain's result slot), and whether they end
    with a bias add."""
    num = den = shift = None
    negative = False
    for _, role in chain:
        if role is None:
            continue
        kind, other, first = role
        if kind == "batch_norm":        # y * a + b, a and b from the statistics
            eps, mean, var, w, b = other
            a = emit(BatchNormScale(eps=eps), var, w)
            kind, other = "affine", (a, emit(Sub(), b, emit(Mul(), mean, a)))
        if kind == "affine":            # y * a + b
            a, b = other
            num = a if num is None else emit(Mul(), num, a)
            shift = b if shift is None else emit(Add(), emit(Mul(), shift, a), b)
            continue
        v = None if other is None else _vector(emit, other)
        if kind == "neg" or kind == "sub" and not first:     # -y, b - y
            negative = not negative
            if shift is not None:
                shift = emit(Neg(), shift)
        if kind == "add" or kind == "sub" and not first:
            shift = v if shift is None else emit(Add(), shift, v)
        elif kind == "sub":
            shift = emit(Neg(), v) if shift is None else emit(Sub(), shift, v)
        elif kind == "mul":
            num = v if num is None else emit(Mul(), num, v)
            shift = None if shift is None else emit(Mul(), shift, v)
        elif kind == "div":
            den = v if den is None else emit(Mul(), den, v)
            shift = None if shift is None else emit(Div(), shift, v)
    scale = num if den is None else (den if num is None else emit(Div(), num, den))
    if negative and scale is not None:
        scale = emit(Neg(), scale)
    scale_op = Div() if num is None and den is not None else Mul()

    def scaled(slot, tail):
        if scale is not None:
            return emit(scale_op, slot, _along(emit, scale, tail))
        return emit(Neg(), slot) if negative else slot
    base, inputs = s.op, list(s.inputs)
    inputs[1] = scaled(s.inputs[1], _weight_tail(s.op))
    if isinstance(s.op, _WITH_BIAS):
        bias = scaled(s.inputs[2], ())
        inputs[2] = bias if shift is None else emit(Add(), bias, shift)
        shift = None
    elif (isinstance(s.op, Conv2d) and shift is not None
          and tuple(emit.type_of(shift)[0]) == (s.shape[1],)):
        base = like(s.op, Conv2dBias)   # the shift added as the conv writes its output
        inputs.append(shift)
        shift = None
    final = chain[-1][0].output
    big = [(base, s, inputs)] + [(t.op, t, t.inputs) for t, role in chain if role is None]
    previous = None
    for k, (op, step, ins) in enumerate(big):
        out = final if k == len(big) - 1 and shift is None else step.output
        if k:    # a transpose reads the step before it as emitted (its own input may be
            ins = (previous,) + tuple(ins[1:])   # a folded step's, which no longer runs)
        emit(op, *ins, output=out, name=step.name)
        previous = out
    if shift is not None:
        rank, axis = len(s.shape), _channel_axis(s)
        for t, role in chain:
            if role is None:
                axis = _moved(t.op, axis, rank)
        emit(Add(), big[-1][1].output, _along(emit, shift, (1,) * (rank - 1 - axis)),
             output=final, name=chain[-1][0].name)
    return emit.take(), shift is not None


def _moved(op: Transpose, axis: int, rank: int) -> int:
    """Where a transpose puts `axis`."""
    perm = op.perm or tuple(range(rank - 1, -1, -1))
    return list(perm).index(axis)


def _channel_axis(s) -> int:
    """Conv2d's axis 1 (NCHW); a product's last (a linear layer's one sample [out] too)."""
    return 1 if isinstance(s.op, (Conv2d, Conv2dBias)) else len(s.shape) - 1


def _weight_tail(op) -> tuple:
    """The trailing 1-dims that put a vector on the weight's output-channel axis."""
    if isinstance(op, (Conv2d, Conv2dBias)):
        return (1, 1, 1)
    if isinstance(op, Affine) or op.transpose_b:
        return (1,)
    return ()


def _vector(emit: Emitter, slot: int) -> int:
    """A per-channel operand as a vector (C,) (or (1,) for a scalar)."""
    shape = emit.type_of(slot)[0]
    return slot if len(shape) == 1 else emit(Reshape(shape=(-1,)), slot)


def _along(emit: Emitter, vector: int, tail: tuple) -> int:
    """`vector` shaped (-1, *tail) so it broadcasts along one axis."""
    return vector if not tail else emit(Reshape(shape=(-1,) + tail), vector)
