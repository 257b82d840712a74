"""Matrix multiplication, 2-D and batched (batch dims broadcast), with TF1's transpose flags;
einsum; the triangles of matrices."""
from __future__ import annotations

import functools
import string

import numpy as np

from ..core import dtypes
from ..core.dtypes import promote
from ..core.modes import AUTOCAST_THREADS, autocast_state, needs_input_grad
from ..core.op import Op, Typed, apply, apply2, as_tensor, shared, sum_terms
from ..core.shapes import broadcast_shapes
from ..core.tensor import Tensor
from .creation import zeros_like
from .math import (autocast_inputs, cast, less, less_equal, logical_and, logical_or,
                   where)
from .reduce import reduce_sum
from .shape import broadcast_to, expand_dims, squeeze


class MatMul(Op):
    name = "matmul"
    broadcasts = True  # batch dims broadcast; autodiff sums their gradients back
    linearity = "multilinear"
    saves_output = False
    transpose_a: bool
    transpose_b: bool

    def infer(self, a, b):
        if a.shape is None or b.shape is None:
            return None, promote(a.dtype, b.dtype)
        if len(a.shape) < 2 or len(b.shape) < 2:
            raise ValueError("both operands need rank >= 2")
        if a.dtype is not b.dtype:   # PyTorch and TF1 both refuse; promoting hides a mistake
            raise TypeError(f"expected both operands to have the same dtype, got "
                            f"{a.dtype.name} (a) and {b.dtype.name} (b)")
        m, ka = (a.shape[-1], a.shape[-2]) if self.transpose_a else a.shape[-2:]
        kb, n = (b.shape[-1], b.shape[-2]) if self.transpose_b else b.shape[-2:]
        if ka is not None and kb is not None and ka != kb:
            raise ValueError(f"inner dimensions differ: {ka} (a) vs {kb} (b)")
        if len(a.shape) == 2 and len(b.shape) == 2:   # no batch dims to broadcast
            return (m, n), a.dtype
        try:
            batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(f"the batch dimensions {a.shape[:-2]} (a) and {b.shape[:-2]} (b) "
                             f"do not broadcast") from None
        return batch + (m, n), promote(a.dtype, b.dtype)

    def vjp(self, g, out, a, b):
        ta, tb = self.transpose_a, self.transpose_b   # out = op(a) op(b)
        ga = gb = None
        if needs_input_grad(0):   # g op(b)^T, transposed back if a was
            ga = (matmul(b, g, transpose_a=tb, transpose_b=True) if ta
                  else matmul(g, b, transpose_b=not tb))
        if needs_input_grad(1):   # op(a)^T g, transposed back if b was
            gb = (matmul(g, a, transpose_a=True, transpose_b=ta) if tb
                  else matmul(a, g, transpose_a=not ta))
        return ga, gb

    sums_adjoints = True

    def adjoint_terms(self, k, g, out, a, b):
        """b's gradient of a 2-D `a @ b` (a^T g) or `a @ b^T` (g^T a), as `vjp` computes it."""
        if k != 1 or self.transpose_a or len(a.shape) != 2 or len(b.shape) != 2:
            return None
        return (g, a) if self.transpose_b else (a, g)


_MATMULS = {(ta, tb): shared(MatMul, ta, tb) for ta in (False, True) for tb in (False, True)}
PLAIN_MATMUL = _MATMULS[(False, False)]   # `a @ b`: PyTorch's matmul applies it directly


class Affine(Op):
    """affine(x [N, in] or [in], w [out, in], b [out]) = x w^T + b: a linear layer as one op,
    so the bias is added into the product's buffer instead of a second array (PyTorch's
    addmm); a single sample [in] (inference at batch 1) needs no reshapes around it."""
    name = "affine"

    def infer(self, x, w, b):
        xs, ws, dt = x.shape, w.shape, x.dtype
        if (type(ws) is tuple and len(ws) == 2 and type(xs) is tuple and w.dtype is dt
                and b.dtype is dt and b.shape == ws[:1]):   # every eager Linear: the checks
            if len(xs) == 2 and xs[1] == ws[1]:            # below pass
                return (xs[0], ws[0]), dt
            if len(xs) == 1 and xs[0] == ws[1]:
                return ws[:1], dt
        if x.shape is not None and len(x.shape) not in (1, 2):
            raise ValueError(f"x must be a vector or a matrix, got shape {x.shape}")
        if w.shape is not None and len(w.shape) != 2:
            raise ValueError(f"w must be a matrix, got shape {w.shape}")
        if not x.dtype is w.dtype is b.dtype:
            raise TypeError("x, w and b must have the same dtype")
        vector = x.shape is not None and len(x.shape) == 1
        rows = Typed((1,) + x.shape, x.dtype) if vector else x
        shape, dtype = shared(MatMul, False, True).infer(rows, w)
        outputs = None if shape is None else shape[-1]
        if b.shape is not None and (len(b.shape) != 1 or None not in (b.shape[0], outputs)
                                    and b.shape[0] != outputs):
            raise ValueError(f"the bias {b.shape} must be a vector of the {outputs} outputs")
        return (shape[1:] if vector else shape), dtype

    def vjp(self, g, out, x, w, b):
        if x.shape is not None and len(x.shape) == 1:   # one sample: the rule of one row
            gx, gw, gb = self.vjp(expand_dims(g, 0), out, expand_dims(x, 0), w, b)
            return None if gx is None else squeeze(gx, 0), gw, gb
        return (matmul(g, w) if needs_input_grad(0) else None,
                matmul(g, x, transpose_a=True) if needs_input_grad(1) else None,
                reduce_sum(g, 0) if needs_input_grad(2) else None)

    sums_adjoints = True

    def vjp_reads(self, needs: tuple) -> tuple:
        """x's gradient reads w, w's reads x, and the bias's value is never read (PyTorch's
        addmm saves the same): a Linear's bias, or its weight when x needs no gradient, may
        be written in place between forward and backward."""
        return needs[1], needs[0], False, False

    def adjoint_terms(self, k, g, out, x, w, b):
        """w's gradient g^T x and b's, g's row sums, as `vjp` computes them (x of 2-D)."""
        if k == 0 or len(x.shape) != 2:
            return None
        return (g, x) if k == 1 else (None, g)

    def jvp(self, t, out, x, w, b):
        """Bilinear in (x, w) plus b: the bias tangent is broadcast only if it is alone."""
        if x.shape is not None and len(x.shape) == 1:   # one sample: the rule of one row
            rows = None if t[0] is None else expand_dims(t[0], 0)
            return squeeze(self.jvp((rows, t[1], t[2]), expand_dims(out, 0),
                                    expand_dims(x, 0), w, b), 0)
        product = sum_terms([None if t[0] is None else matmul(t[0], w, transpose_b=True),
                             None if t[1] is None else matmul(x, t[1], transpose_b=True)])
        if t[2] is None:
            return product
        return broadcast_to(t[2], out) if product is None else product + t[2]


def affine(x, w, b, name=None) -> Tensor:
    x, w, b = as_tensor(x), as_tensor(w), as_tensor(b)
    if autocast_state.dtype is not None:
        x, w, b = autocast_inputs(x, w, b)
    return apply(_AFFINE, x, w, b, name=name)


_AFFINE = Affine()   # no attributes: one instance serves every call


def matmul(a, b, transpose_a=False, transpose_b=False, name=None) -> Tensor:
    op = _MATMULS.get((transpose_a, transpose_b)) or shared(MatMul, bool(transpose_a),
                                                              bool(transpose_b))
    if type(a) is not Tensor or type(b) is not Tensor:   # (every gradient's: no frames)
        a, b = as_tensor(a), as_tensor(b)
    if AUTOCAST_THREADS and autocast_state.dtype is not None:
        a, b = autocast_inputs(a, b)
    return apply2(op, a, b) if name is None else apply(op, a, b, name=name)


class ProductSum(Op):
    """product_sum(a_1, b_1, a_2, b_2, ...) = sum_t a_t^T b_t for 2-D a_t [n_t, p], b_t
    [n_t, q] (one dtype); with `rows`, product_sum(b_1, b_2, ...) = sum_t of b_t's row sums
    [q] (each a_t a column of ones). The gradient of a weight or bias read by many products
    (an RNN cell stepped in a loop, a tied embedding), which the eager sweep
    (autodiff/reverse.py) sums as one op instead of one product per reader and their sum."""
    name = "product_sum"
    rows: bool      # (not "multilinear": each term is bilinear in its own pair only)

    def infer(self, *xs):
        if not xs or not self.rows and len(xs) % 2:
            raise ValueError(f"needs {'one or more' if self.rows else 'pairs of'} matrices, "
                             f"got {len(xs)} inputs")
        dtype = xs[0].dtype
        if any(x.dtype is not dtype for x in xs) or not dtype.is_floating:
            raise TypeError(f"needs one floating dtype, got {sorted({x.dtype.name for x in xs})}")
        if any(x.shape is not None and len(x.shape) != 2 for x in xs):
            raise ValueError(f"needs matrices, got shapes {[x.shape for x in xs]}")
        pairs = [(None, x) for x in xs] if self.rows else list(zip(xs[::2], xs[1::2]))
        p = q = None
        for a, b in pairs:
            if a is not None and a.shape is not None and b.shape is not None and \
                    None not in (a.shape[0], b.shape[0]) and a.shape[0] != b.shape[0]:
                raise ValueError(f"a pair's rows differ: {a.shape} and {b.shape}")
            for got, at, known in ((a, 1, p), (b, 1, q)):
                d = None if got is None or got.shape is None else got.shape[at]
                if d is not None and known is not None and d != known:
                    raise ValueError(f"the products' shapes differ: {[x.shape for x in xs]}")
            if a is not None and a.shape is not None and a.shape[1] is not None:
                p = a.shape[1]
            if b.shape is not None and b.shape[1] is not None:
                q = b.shape[1]
        return ((q,) if self.rows else (p, q)), dtype

    def vjp(self, g, out, *xs):
        if self.rows:   # each b_t's rows: g
            return tuple(broadcast_to(expand_dims(g, 0), x) for x in xs)
        grads = []
        for a, b in zip(xs[::2], xs[1::2]):   # d a_t = b_t g^T, d b_t = a_t g
            grads += [matmul(b, g, transpose_b=True), matmul(a, g)]
        return tuple(grads)

    def jvp(self, t, out, *xs):
        if self.rows:
            return sum_terms(None if tb is None else reduce_sum(tb, 0) for tb in t)
        terms = []
        for k in range(0, len(xs), 2):   # ta^T b + a^T tb
            a, b, ta, tb = xs[k], xs[k + 1], t[k], t[k + 1]
            terms += [None if ta is None else matmul(ta, b, transpose_a=True),
                      None if tb is None else matmul(a, tb, transpose_a=True)]
        return sum_terms(terms)


def product_sum(*xs, rows: bool = False, name=None) -> Tensor:
    return apply(shared(ProductSum, bool(rows)), *(as_tensor(x) for x in xs), name=name)


class Tril(Op):
    """The lower triangle of the last two dims (entries above `diagonal` are zero): the
    causal mask of attention. Linear, so its gradient is the same triangle of `g`."""
    name = "tril"
    saves_inputs = False
    saves_output = False
    linearity = "linear"
    diagonal: int

    def infer(self, x):
        if x.shape is not None and len(x.shape) < 2:
            raise ValueError(f"needs rank >= 2, got shape {x.shape}")
        return x.shape, x.dtype

    def vjp(self, g, out, x):
        return (apply(self, g),)


class Triu(Tril):
    """The upper triangle (entries below `diagonal` are zero)."""
    name = "triu"


def tril(x, diagonal: int = 0, *, out=None) -> Tensor:
    return apply(Tril(diagonal=int(diagonal)), as_tensor(x), out=out)


def triu(x, diagonal: int = 0, *, out=None) -> Tensor:
    return apply(Triu(diagonal=int(diagonal)), as_tensor(x), out=out)


def matrix_band_part(input, num_lower, num_upper, name=None) -> Tensor:  # noqa: A002
    """TF1's band of each innermost matrix: entries (i, j) with i - j <= num_lower and
    j - i <= num_upper kept (a negative bound keeps that whole triangle), the rest zero.
    Int bounds are triu / tril; tensor bounds (read when run) select with a mask."""
    x = as_tensor(input)
    if x.ndim is not None and x.ndim < 2:
        raise ValueError(f"matrix_band_part: input must have rank >= 2, got shape {x.shape}")
    if not isinstance(num_lower, Tensor) and not isinstance(num_upper, Tensor):
        if num_lower >= 0:
            x = triu(x, -int(num_lower))
        return tril(x, int(num_upper)) if num_upper >= 0 else x
    if x.shape is None or None in x.shape[-2:]:
        raise ValueError(f"matrix_band_part: with tensor bounds the last two dims of "
                         f"{x.shape} must be known when the graph is built")
    m, n = x.shape[-2:]
    below = np.arange(m)[:, None] - np.arange(n)[None, :]   # i - j
    keep = []
    for bound, distance in ((num_lower, below), (num_upper, -below)):
        bound = cast(as_tensor(bound), dtypes.int64)
        keep.append(logical_or(less(bound, 0), less_equal(as_tensor(distance), bound)))
    return where(logical_and(keep[0], keep[1]), x, zeros_like(x), name=name)


class Einsum(Op):
    """Einstein summation over an explicit equation such as "bij,bjk->bik" (the front end
    turns "..." and implicit outputs into letters). The gradient of an operand is the einsum
    of the output gradient with the other operands, written back to that operand's letters;
    letters only that operand has (summed away) are broadcast back."""
    name = "einsum"
    linearity = "multilinear"
    equation: str    # explicit: "bij,bjk->bik"

    def _subscripts(self):
        lhs, rhs = self.equation.split("->")
        return lhs.split(","), rhs

    def infer(self, *xs):
        ins, out = self._subscripts()
        if len(ins) != len(xs):
            raise ValueError(f"{self.equation!r} has {len(ins)} operands, got {len(xs)}")
        size: dict = {}
        for k, (sub, x) in enumerate(zip(ins, xs)):
            if x.shape is None:
                continue
            if len(x.shape) != len(sub):
                raise ValueError(f"operand {k} has shape {x.shape}, but {sub!r} names "
                                 f"{len(sub)} dims")
            for letter, d in zip(sub, x.shape):
                known = size.get(letter)
                if known is not None and d is not None and known != d:
                    raise ValueError(f"dimension {letter!r} is {known} in one operand and "
                                     f"{d} in operand {k}")
                size[letter] = d if known is None else known
        if len({x.dtype for x in xs}) > 1:
            raise TypeError(f"operands must share a dtype, got {[x.dtype.name for x in xs]}")
        return tuple(size.get(c) for c in out), xs[0].dtype

    def vjp(self, g, out, *xs):
        ins, rhs = self._subscripts()
        grads = []
        for k, (sub, x) in enumerate(zip(ins, xs)):
            if len(set(sub)) != len(sub):
                raise NotImplementedError(f"einsum {self.equation!r}: no gradient for an "
                                          f"operand with a repeated index ({sub!r})")
            others = [s for j, s in enumerate(ins) if j != k]
            seen = set(rhs).union(*others)
            kept = "".join(c for c in sub if c in seen)
            grad = einsum(",".join([rhs] + others) + "->" + kept,
                          g, *(y for j, y in enumerate(xs) if j != k))
            if kept != sub:   # letters summed within this operand alone: broadcast back
                grad = broadcast_to(grad, x, tuple(i for i, c in enumerate(sub)
                                                   if c not in seen))
            grads.append(grad)
        return tuple(grads)


def einsum(equation: str, *operands) -> Tensor:
    """`torch.einsum` / `tf.einsum`: operands as arguments or one list; "..." stands for the
    leading dims (right-aligned across operands); without "->" the output is the letters
    used once, in alphabetical order, after the "..." dims."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]
    xs = [as_tensor(x) for x in operands]
    if autocast_state.dtype is not None:
        xs = autocast_inputs(*xs)
    dtype = functools.reduce(promote, (x.dtype for x in xs))
    xs = [cast(x, dtype) for x in xs]
    equation = _explicit_equation(equation, [None if x.shape is None else len(x.shape)
                                             for x in xs])
    return apply(Einsum(equation=equation), *xs)


def _explicit_equation(equation: str, ranks: list) -> str:
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(ranks):
        raise ValueError(f"einsum {equation!r} names {len(ins)} operands, got {len(ranks)}")
    letters = set(eq) - {",", "-", ">", "."}
    if any(c not in string.ascii_letters for c in letters):
        raise ValueError(f"einsum {equation!r}: subscripts must be letters")
    ellipsis = ""
    if "..." in eq:
        if any(r is None for s, r in zip(ins, ranks) if "..." in s):
            raise ValueError(f"einsum {equation!r}: '...' needs operands of known rank")
        widths = [r - len(s) + 3 for s, r in zip(ins, ranks) if "..." in s]
        spare = [c for c in string.ascii_letters if c not in letters]
        ellipsis = "".join(spare[:max(widths + [0])])
        ins = [s.replace("...", ellipsis[len(ellipsis) - (r - len(s) + 3):])
               if "..." in s else s for s, r in zip(ins, ranks)]
    if not arrow:
        once = sorted(c for c in letters if lhs.count(c) == 1)
        rhs = ellipsis + "".join(once)
    else:
        rhs = rhs.replace("...", ellipsis)
    return ",".join(ins) + "->" + rhs
