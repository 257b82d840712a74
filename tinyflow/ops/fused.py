"""Ops that do several ops' work in one pass: the unit of elementwise fusion, and the joins
of a pre-norm transformer's steps.

`passes/fuse_elementwise.py` replaces a connected group of elementwise steps by one
`FusedElementwise` step; its kernel (backend/numpy/fused.py) computes the whole group in one
pass over memory instead of writing and re-reading every intermediate value. The op is its
members and how they connect, a small expression DAG over the group's inputs: its shape
rule, its derivatives (`compose`) and its reference kernel all re-apply the members.

`AddLayerNorm`, `LayerNormGradsAdd` and `GeluGradSum` each join two steps that a rewrite
finds (passes/add_layer_norm.py, residual_grads.py, bias_grads.py); each stacks its values
in one output, which getitem views hand out, and differentiates its `compose`.
"""
from __future__ import annotations

import dataclasses
import math
from functools import cached_property

from ..core.modes import needs_input_grad
from ..core.op import Op, Typed, apply, as_tensor
from ..core.tensor import Tensor
from .activation import GeluGrad
from .normalization import LayerNorm, LayerNormGrads, layer_norm, layer_norm_grads_parts
from .reduce import reduce_sum, reduced_shape
from .shape import concat, getitem, reshape, stack


class FusedElementwise(Op):
    """members[j] applied to `args[j]`, in order; the last member's value is the output.

    An operand index k < num_inputs is the group's input k, else the value of member
    k - num_inputs (an earlier one). Named after its members in order: `fused[add,mul,add]`.
    """
    name = "fused_elementwise"
    elementwise = True
    broadcasts = True
    composed = True       # derivatives: autodiff differentiates compose()
    members: tuple
    args: tuple
    num_inputs: int

    def __post_init__(self) -> None:
        if not self.members or len(self.members) != len(self.args):
            raise ValueError(f"a fused group needs one operand tuple per member, got "
                             f"{len(self.members)} member(s) and {len(self.args)}")
        for j, (member, operands) in enumerate(zip(self.members, self.args)):
            if not member.elementwise:
                raise ValueError(f"{member.name} is not elementwise: it cannot be fused")
            if any(not 0 <= k < self.num_inputs + j for k in operands):
                raise ValueError(f"member {j} ({member.name}) reads {operands}: operands must "
                                 f"be inputs or earlier members (< {self.num_inputs + j})")
        # An instance name (the class keeps the registered one): what plans and reports show.
        object.__setattr__(self, "name", f"fused[{','.join(m.name for m in self.members)}]")

    @cached_property
    def key(self) -> str:
        """The group as text, equal for equal groups: member ops with their attributes and
        operands (what a generated kernel's source depends on besides dtypes)."""
        parts = []
        for member, operands in zip(self.members, self.args):
            fields = ",".join(f"{f.name}={getattr(member, f.name)!r}"
                              for f in dataclasses.fields(member)) \
                if dataclasses.is_dataclass(member) else ""
            parts.append(f"{type(member).__module__}.{type(member).__qualname__}({fields})"
                         f"{list(operands)}")
        return f"{self.num_inputs};" + ";".join(parts)

    def infer(self, *inputs):
        if len(inputs) != self.num_inputs:
            raise ValueError(f"takes {self.num_inputs} inputs, got {len(inputs)}")
        values = list(inputs)
        for member, operands in zip(self.members, self.args):
            values.append(Typed(*member.infer(*[values[k] for k in operands])))
        return values[-1].shape, values[-1].dtype

    def compose(self, *inputs):
        values = list(inputs)
        for member, operands in zip(self.members, self.args):
            values.append(apply(member, *[values[k] for k in operands]))
        return values[-1]


class FusedSum(FusedElementwise):
    """The sum over every axis of a fused elementwise group's output (`fused[mul,sum]`): the
    group's values are added up as they are computed, never stored."""
    name = "fused_sum"
    elementwise = False
    broadcasts = False
    reduction = True
    keepdims: bool

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "name", self.name[:-1] + ",sum]")

    @cached_property
    def key(self) -> str:
        return f"{FusedElementwise.key.func(self)};sum(keepdims={self.keepdims})"

    def infer(self, *inputs):
        shape, dtype = super().infer(*inputs)
        return reduced_shape(shape, None, self.keepdims), dtype

    def compose(self, *inputs):
        return reduce_sum(super().compose(*inputs), keepdims=self.keepdims)


class AddLayerNorm(Op):
    """[a + b, layer_norm(a + b, w, bias)] stacked: a residual add and the layer norm of its
    sum in one pass, each row normalized while its sum is in cache, where the layer norm
    reads the whole sum again (passes/add_layer_norm.py builds it)."""
    name = "add_layer_norm"
    composed = True
    eps: float

    def infer(self, a, b, w, bias):
        if a.dtype is not b.dtype or a.shape is None or b.shape is None or tuple(
                a.shape) != tuple(b.shape):
            raise ValueError(f"adds two values of one shape and dtype, got {a.shape} "
                             f"({a.dtype.name}) and {b.shape} ({b.dtype.name})")
        shape, dtype = LayerNorm.infer(self, a, w, bias)
        return (2,) + tuple(shape), dtype

    def compose(self, a, b, w, bias):
        total = a + b
        return stack([total, layer_norm(total, w, bias, self.eps)])


class LayerNormGradsAdd(Op):
    """`LayerNormGrads` with r (x's shape) added to dx's rows: a pre-norm block's residual
    gradient `r + layer_norm_grad(...)` summed in the backward loop while each row is in
    cache, where the add is another pass over three arrays of x's size
    (passes/residual_grads.py builds it)."""
    name = "layer_norm_grads_add"
    composed = True       # derivatives: autodiff differentiates compose()
    eps: float

    def infer(self, g, x, w, r):
        if r.dtype is not x.dtype or r.shape is None or x.shape is None or tuple(
                r.shape) != tuple(x.shape):
            raise ValueError(f"the residual gradient {r.shape} ({r.dtype.name}) must have "
                             f"the input's static shape {x.shape} and dtype ({x.dtype.name})")
        return LayerNormGrads.infer(self, g, x, w)

    def compose(self, g, x, w, r):
        both = apply(LayerNormGrads(eps=self.eps), g, x, w)
        n = both.shape[0] - 2
        dx = getitem(both, slice(None, n)) + reshape(r, (n,) + tuple(w.shape))
        return concat([dx, getitem(both, slice(n, None))], axis=0)


def layer_norm_vjp_joined(op: LayerNorm, g, x, w, b, r):
    """LayerNorm's (dx + r, dw, db) by one `LayerNormGradsAdd`: r is x's adjoint from its
    other readers so far, a pre-norm block's residual gradient, which the eager reverse sweep
    would otherwise add to dx in a pass of its own (passes/residual_grads.py does this to
    graphs). None where `LayerNorm.vjp` would not take `LayerNormGrads`'s kernel either, or
    where r or g differs from x in shape or dtype (or x's shape is not static)."""
    if not needs_input_grad(0) or not (needs_input_grad(1) or needs_input_grad(2)):
        return None
    if (w.shape is None or x.shape is None or None in x.shape or r.shape != x.shape
            or g.shape != x.shape or not (r.dtype is g.dtype is x.dtype)):
        return None
    both = apply(LayerNormGradsAdd(eps=op.eps), g, x, w, r)
    return layer_norm_grads_parts(both, x, len(w.shape))


class GeluGradSum(Op):
    """`GeluGrad` as rows [n, width] (width: the last dim) and, as row n, their column sums:
    an MLP's hidden gradient and the bias gradient of the Linear before the GELU from one
    pass, where the sum reads the gradient again (passes/bias_grads.py builds it)."""
    name = "gelu_grad_sum"
    composed = True
    approximate: str

    def infer(self, g, x):
        shape, dtype = GeluGrad.infer(self, g, x)
        if shape is None or None in shape or not shape:
            raise ValueError(f"needs a static shape of rank 1 or more, got {shape}")
        return (math.prod(shape[:-1]) + 1, shape[-1]), dtype

    def compose(self, g, x):
        dh = apply(GeluGrad(approximate=self.approximate), g, x)
        rows = reshape(dh, (-1, dh.shape[-1]))
        return concat([rows, reshape(reduce_sum(rows, 0), (1, -1))], axis=0)


def fused_elementwise(members, args, *inputs, name=None) -> Tensor:
    """The members applied as one op (what the fusion pass builds; for tests and users)."""
    op = FusedElementwise(members=tuple(members), args=tuple(tuple(a) for a in args),
                          num_inputs=len(inputs))
    return apply(op, *[as_tensor(x) for x in inputs], name=name)


def fused_sum(members, args, *inputs, keepdims=False, name=None) -> Tensor:
    """The sum over every axis of the members' value, as one op."""
    op = FusedSum(members=tuple(members), args=tuple(tuple(a) for a in args),
                  num_inputs=len(inputs), keepdims=keepdims)
    return apply(op, *[as_tensor(x) for x in inputs], name=name)
