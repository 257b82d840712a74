"""One LSTM step as one op, and its backward as one op.

nn.LSTMCell stepped in a Python loop (the everyday spelling of time-sequence models) would
otherwise run a dozen small ops per step forward (split, three sigmoids, two tanhs, products
and sums) and more backward, each a dispatch and a pass over [B, H]. Here the two products
stay ordinary ops (`linear`: BLAS), and what follows them is one op each way:

    lstm_cell(xw [..., 4H], hw [..., 4H], c [..., H]) -> packed [7, ..., H]

with xw = x W_ih^T + b_ih and hw = h W_hh^T + b_hh (gates i, f, g, o: PyTorch's order).
The packed output holds the planes h', c', then the activated gates i, f, g, o and
tanh(c'), which the backward reads (cuDNN's "reserve space"): as in `lstm` (ops/rnn.py) the
gate planes are a workspace and carry no gradient, so the vjp takes only the adjoints of
planes 0 and 1 (`Op.sliced_adjoint`). `LstmCellGrad` is `composed`: its derivatives come from
its composition from primitive ops, which recomputes the gates from xw and hw rather than
reading them, so second-order gradients are exact (torch.autograd.grad with
create_graph=True through nn.LSTMCell keeps working).
"""
from __future__ import annotations

from ..core.op import Op, apply, as_tensor, shared, sum_terms
from ..core.tensor import Tensor
from .math import sigmoid, tanh
from .creation import zeros_like
from .shape import GetItem, SlicedAdjoint, concat, getitem, stack

LSTM_PLANES = 7   # h' c' i f g o tanh(c')


def _check(op: Op, pre: tuple, state: Tensor, gates: int):
    """The packed output's shape and dtype: `pre` [..., gates H] each and `state` [..., H],
    one floating dtype."""
    tensors = pre + (state,)
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) != 1 or not state.dtype.is_floating:
        raise TypeError(f"needs one floating dtype for all inputs, got "
                        f"{', '.join(t.dtype.name for t in tensors)}")
    shapes = [t.shape for t in tensors]
    if any(s is not None and len(s) == 0 for s in shapes):
        raise ValueError(f"inputs need at least one axis, got shapes {shapes}")
    known = [s for s in shapes if s is not None]
    if not known:
        return None, state.dtype
    rank = len(known[0])
    if any(len(s) != rank for s in known):
        raise ValueError(f"inputs of one rank expected, got shapes {shapes}")
    hidden = state.shape[-1] if state.shape is not None else None
    for s in (t.shape for t in pre):
        if s is not None and s[-1] is not None:
            if s[-1] % gates or hidden is not None and s[-1] != gates * hidden:
                raise ValueError(f"the gate inputs need {gates} x the state's last axis, got "
                                 f"shapes {shapes}")
            hidden = s[-1] // gates
    lead = []
    for dims in zip(*(s[:-1] for s in known)):
        sizes = {d for d in dims if d is not None}
        if len(sizes) > 1:
            raise ValueError(f"inputs must agree on every axis but the last, got shapes "
                             f"{shapes}")
        lead.append(sizes.pop() if sizes else None)
    return tuple(lead) + (hidden,), state.dtype


def _plane_adjoints(g, out: Tensor, planes: int) -> list:
    """The adjoints of out[0], ..., out[planes - 1] (zeros where none reached them), from
    g, out's whole adjoint or a SlicedAdjoint whose pieces read whole planes (the cells'
    own getitems): then no packed adjoint is ever built."""
    if isinstance(g, SlicedAdjoint):
        sums = [None] * planes
        for index, piece in g.pieces:
            k = _plane(index, planes)
            if k is None:
                break
            sums[k] = piece if sums[k] is None else sums[k] + piece
        else:
            if not g.whole and g.pieces:
                zero = None
                for k in range(planes):
                    if sums[k] is None:
                        zero = zero if zero is not None else zeros_like(_plane_of(out, k))
                        sums[k] = zero
                return sums
        g = g.dense()
    return [_plane_of(g, k) for k in range(planes)]


def _plane(index: tuple, planes: int):
    """k if `index` selects the whole plane k < planes of a packed output, else None."""
    k = index[0] if index else None
    if type(k) is not int or not -LSTM_PLANES <= k < planes or any(
            i != slice(None) for i in index[1:]):
        return None
    return k % LSTM_PLANES if k < 0 else k


def _plane_of(x: Tensor, k: int) -> Tensor:
    return apply(shared(GetItem, (k,)), x)


def _hidden(out: Tensor) -> int:
    """H, the packed output's last axis: derivatives slice by it, so it must be known when
    the graph is built (as the weights' shapes are)."""
    if out.shape is None or out.shape[-1] is None:
        raise ValueError("lstm_cell: derivatives need the hidden size known when the graph "
                         "is built")
    return out.shape[-1]


def _gates(pre: Tensor, count: int, hidden: int) -> list:
    """pre [..., count H] cut into its `count` gate blocks (views)."""
    return [getitem(pre, (Ellipsis, slice(k * hidden, (k + 1) * hidden)))
            for k in range(count)]


class LstmCell(Op):
    """lstm_cell(xw, hw, c) -> [7, ..., H]: planes h', c', i, f, g, o, tanh(c') of one step,
    c' = f c + i g, h' = o tanh(c'), the gates from xw + hw (see the module docstring)."""
    name = "lstm_cell"
    sliced_adjoint = True     # only planes h' and c' carry gradient

    def infer(self, xw, hw, c):
        shape, dtype = _check(self, (xw, hw), c, 4)
        return (None if shape is None else (LSTM_PLANES,) + shape), dtype

    def vjp(self, g, out, xw, hw, c):
        dh, dc = _plane_adjoints(g, out, 2)
        grads = apply(LstmCellGrad(), dh, dc, out, xw, hw, c)        # [..., 5H]
        hidden = _hidden(out)
        d_pre = getitem(grads, (Ellipsis, slice(0, 4 * hidden)))
        d_c = getitem(grads, (Ellipsis, slice(4 * hidden, None)))
        return d_pre, d_pre, d_c

    def jvp(self, tangents, out, xw, hw, c):
        t_pre = sum_terms(tangents[:2])
        t_c = tangents[2]
        if t_pre is None and t_c is None:
            return None
        h, c_new, i, f, g, o, tanh_c = (_plane_of(out, k) for k in range(LSTM_PLANES))
        terms = [] if t_c is None else [f * t_c]
        if t_pre is not None:
            ti, tf_, tg, to = _gates(t_pre, 4, _hidden(out))
            terms += [tf_ * (f * (1 - f)) * c, ti * (i * (1 - i)) * g, tg * (1 - g * g) * i]
        t_c_new = sum_terms(terms)
        t_h = o * (1 - tanh_c * tanh_c) * t_c_new
        if t_pre is not None:
            t_h = t_h + to * (o * (1 - o)) * tanh_c
        zero = zeros_like(h)
        return stack([t_h, t_c_new] + [zero] * (LSTM_PLANES - 2), 0)


class LstmCellGrad(Op):
    """lstm_cell_grad(dh, dc, out, xw, hw, c) -> [..., 5H]: the gradients of the gate
    pre-activations (i f g o, [..., 4H]) then of c ([..., H]), given the adjoints dh, dc of
    h' and c'. `out` is lstm_cell(xw, hw, c): the kernel reads its gates; the composition
    recomputes them from xw and hw, so derivatives reach the inputs and not `out`."""
    name = "lstm_cell_grad"
    composed = True

    def infer(self, dh, dc, out, xw, hw, c):
        shape, dtype = _check(self, (xw, hw), c, 4)
        for name, t in (("dh", dh), ("dc", dc)):
            if t.dtype != dtype:
                raise TypeError(f"{name} has dtype {t.dtype.name}, the inputs {dtype.name}")
            if shape is not None and t.shape is not None and len(t.shape) != len(shape):
                raise ValueError(f"{name} has shape {t.shape}, the state {shape}")
        return (None if shape is None else shape[:-1] + (
            None if shape[-1] is None else 5 * shape[-1],)), dtype

    def compose(self, dh, dc, out, xw, hw, c):
        i, f, g, o = _gates(xw + hw, 4, _hidden(out))
        i, f, g, o = sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
        tanh_c = tanh(f * c + i * g)
        d_c = dc + dh * o * (1 - tanh_c * tanh_c)
        return concat([d_c * g * i * (1 - i), d_c * c * f * (1 - f), d_c * i * (1 - g * g),
                       dh * tanh_c * o * (1 - o), d_c * f], -1)


def lstm_cell(xw, hw, c, name=None) -> tuple:
    """One LSTM step from its two projections: (h', c') (views of the packed `LstmCell`
    output; see the module docstring)."""
    out = apply(LstmCell(), as_tensor(xw), as_tensor(hw), as_tensor(c), name=name)
    return _plane_of(out, 0), _plane_of(out, 1)


__all__ = ["LstmCell", "LstmCellGrad", "lstm_cell"]
