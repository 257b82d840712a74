"""Matrix multiplication, 2-D and batched (batch dims broadcast), with TF1's transpose flags."""
from __future__ import annotations

from ..core.op import Op, apply, as_tensor
from ..core.shapes import broadcast_shapes
from ..core.tensor import Tensor
from .math import promote


class MatMul(Op):
    name = "matmul"
    broadcasts = True  # batch dims broadcast; autodiff sums their gradients back

    def infer(self, a, b):
        if a.shape is None or b.shape is None:
            return None, promote(a.dtype, b.dtype)
        if len(a.shape) < 2 or len(b.shape) < 2:
            raise ValueError("both operands need rank >= 2")
        m, ka = (a.shape[-1], a.shape[-2]) if self.transpose_a else a.shape[-2:]
        kb, n = (b.shape[-1], b.shape[-2]) if self.transpose_b else b.shape[-2:]
        if ka is not None and kb is not None and ka != kb:
            raise ValueError(f"inner dimensions differ: {ka} (a) vs {kb} (b)")
        batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
        return batch + (m, n), promote(a.dtype, b.dtype)

    def vjp(self, g, out, a, b):
        ta, tb = self.transpose_a, self.transpose_b
        if not ta and not tb:
            return matmul(g, b, transpose_b=True), matmul(a, g, transpose_a=True)
        if not ta and tb:
            return matmul(g, b), matmul(g, a, transpose_a=True)
        if ta and not tb:
            return matmul(b, g, transpose_b=True), matmul(a, g)
        return (matmul(b, g, transpose_a=True, transpose_b=True),
                matmul(g, a, transpose_a=True, transpose_b=True))

    def jvp(self, t, out, a, b):
        flags = dict(transpose_a=self.transpose_a, transpose_b=self.transpose_b)
        terms = []
        if t[0] is not None:
            terms.append(matmul(t[0], b, **flags))
        if t[1] is not None:
            terms.append(matmul(a, t[1], **flags))
        return None if not terms else terms[0] if len(terms) == 1 else terms[0] + terms[1]


def matmul(a, b, transpose_a=False, transpose_b=False, name=None) -> Tensor:
    op = MatMul(transpose_a=bool(transpose_a), transpose_b=bool(transpose_b))
    return apply(op, as_tensor(a), as_tensor(b), name=name)


def mm(a, b) -> Tensor:
    """PyTorch's `mm`: strictly 2-D by 2-D."""
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mm: both operands must be 2-D, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


class Tril(Op):
    """The lower triangle of the last two dims (entries above `diagonal` are zero): the
    causal mask of attention. Linear, so its gradient is the same triangle of `g`."""
    name = "tril"
    saves_inputs = False
    saves_output = False

    def infer(self, x):
        if x.shape is not None and len(x.shape) < 2:
            raise ValueError(f"needs rank >= 2, got shape {x.shape}")
        return x.shape, x.dtype

    def vjp(self, g, out, x):
        return (apply(type(self)(**self.attrs), g),)

    def jvp(self, t, out, x):
        return apply(type(self)(**self.attrs), t[0])


class Triu(Tril):
    """The upper triangle (entries below `diagonal` are zero)."""
    name = "triu"


def tril(x, diagonal: int = 0) -> Tensor:
    return apply(Tril(diagonal=int(diagonal)), as_tensor(x))


def triu(x, diagonal: int = 0) -> Tensor:
    return apply(Triu(diagonal=int(diagonal)), as_tensor(x))
