"""One LSTM or GRU step as one op, and its backward as one op.

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
create_graph=True through nn.LSTMCell keeps working). nn.GRUCell's step is `gru_cell` the
same way (planes h', r, z, n; `GruCellGrad`).
"""
from __future__ import annotations

from ..core.modes import trace_state
from ..core.op import Op, apply, as_tensor, shared, sum_terms
from ..core.tensor import EAGER, Tensor
from .creation import zeros_like
from .math import sigmoid, tanh
from .shape import Copy, GetItem, SlicedAdjoint, concat, getitem, stack

LSTM_PLANES = 7   # h' c' i f g o tanh(c')


def _check(pre: tuple, state: Tensor, gates: int):
    """The packed output's shape and dtype: `pre` [..., gates H] each and `state` [..., H],
    one floating dtype."""
    xw, hw = pre
    dtype, shape = state.dtype, state.shape
    if xw.dtype is not dtype or hw.dtype is not dtype or not dtype.is_floating:
        raise TypeError(f"needs one floating dtype for all inputs, got {xw.dtype.name}, "
                        f"{hw.dtype.name}, {dtype.name}")
    if shape and xw.shape == hw.shape and xw.shape is not None and None not in shape and \
            xw.shape[:-1] == shape[:-1] and xw.shape[-1] == gates * shape[-1]:
        return shape, dtype       # (every eager call)
    tensors = pre + (state,)
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


def _check_like_state(adjoints, out: Tensor, planes: int, shape, dtype) -> None:
    """A backward op's adjoints are shaped like the state and `out` like the packed output
    (the kernels index them row by row without bounds checks)."""
    def agree(a, b) -> bool:
        return a is None or b is None or len(a) == len(b) and all(
            x is None or y is None or x == y for x, y in zip(a, b))

    for name, t in adjoints + (("out", out),):
        if t.dtype != dtype:
            raise TypeError(f"{name} has dtype {t.dtype.name}, the inputs {dtype.name}")
        expect = shape if name != "out" or shape is None else (planes,) + tuple(shape)
        if not agree(t.shape, expect):
            raise ValueError(f"{name} has shape {t.shape}, expected {expect}")


def _plane_adjoints(g, out: Tensor, planes: int) -> list:
    """The adjoints of out[0], ..., out[planes - 1] (zeros where none reached them), from
    g, out's whole adjoint or a SlicedAdjoint whose pieces read whole planes (the cells'
    own getitems): then no packed adjoint is ever built."""
    if isinstance(g, SlicedAdjoint):
        sums = [None] * planes
        for index, piece in g.pieces:
            k = _plane(index, planes, out.shape[0])
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


def _plane(index: tuple, planes: int, total: int):
    """k if `index` selects the whole plane k < planes of a packed output of `total`
    planes, else None."""
    k = index[0] if index else None
    if type(k) is not int or any(not isinstance(i, slice) or i != slice(None)
                                 for i in index[1:]):
        return None
    k = k + total if k < 0 else k
    return k if 0 <= k < planes else None


def _plane_of(x: Tensor, k: int) -> Tensor:
    return apply(shared(GetItem, (k,)), x)


def _hidden(op: Op, out: Tensor) -> int:
    """H, the packed output's last axis: derivatives slice by it, so it must be known when
    the graph is built (as the weights' shapes are)."""
    if out.shape is None or out.shape[-1] is None:
        raise ValueError(f"{op.name}: derivatives need the hidden size known when the graph "
                         f"is built")
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
        shape, dtype = _check((xw, hw), c, 4)
        return (None if shape is None else (LSTM_PLANES,) + shape), dtype

    def vjp(self, g, out, xw, hw, c):
        dh, dc = _plane_adjoints(g, out, 2)
        grads = apply(shared(LstmCellGrad), dh, dc, out, xw, hw, c)        # [..., 5H]
        hidden = _hidden(self, out)
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
            ti, tf_, tg, to = _gates(t_pre, 4, _hidden(self, out))
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
        shape, dtype = _check((xw, hw), c, 4)
        _check_like_state((("dh", dh), ("dc", dc)), out, LSTM_PLANES, shape, dtype)
        return (None if shape is None else shape[:-1] + (
            None if shape[-1] is None else 5 * shape[-1],)), dtype

    def compose(self, dh, dc, out, xw, hw, c):
        i, f, g, o = _gates(xw + hw, 4, _hidden(self, out))
        i, f, g, o = sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
        tanh_c = tanh(f * c + i * g)
        d_c = dc + dh * o * (1 - tanh_c * tanh_c)
        return concat([d_c * g * i * (1 - i), d_c * c * f * (1 - f), d_c * i * (1 - g * g),
                       dh * tanh_c * o * (1 - o), d_c * f], -1)


GRU_PLANES = 4   # h' r z n


class GruCell(Op):
    """gru_cell(xw, hw, h) -> [4, ..., H]: planes h', r, z, n of one GRU step (PyTorch's
    gates r, z, n): r = sigmoid(x_r + h_r), z = sigmoid(x_z + h_z), n = tanh(x_n + r h_n),
    h' = n + z (h - n), with xw = x W_ih^T + b_ih and hw = h W_hh^T + b_hh [..., 3H]. The
    gate planes carry no gradient (as lstm_cell's)."""
    name = "gru_cell"
    sliced_adjoint = True

    def infer(self, xw, hw, h):
        shape, dtype = _check((xw, hw), h, 3)
        return (None if shape is None else (GRU_PLANES,) + shape), dtype

    def vjp(self, g, out, xw, hw, h):
        dh, = _plane_adjoints(g, out, 1)
        grads = apply(shared(GruCellGrad), dh, out, xw, hw, h)            # [..., 7H]
        hidden = _hidden(self, out)
        return tuple(getitem(grads, (Ellipsis, slice(a * hidden, b * hidden)))
                     for a, b in ((0, 3), (3, 6), (6, 7)))

    def jvp(self, tangents, out, xw, hw, h):
        if all(t is None for t in tangents):
            return None
        t_xw, t_hw, t_h = (zeros_like(x) if t is None else t
                           for t, x in zip(tangents, (xw, hw, h)))
        hidden = _hidden(self, out)
        h_new, r, z, n = (_plane_of(out, k) for k in range(GRU_PLANES))
        t_xr, t_xz, t_xn = _gates(t_xw, 3, hidden)
        t_hr, t_hz, t_hn = _gates(t_hw, 3, hidden)
        h_n = _gates(hw, 3, hidden)[2]
        t_r = (t_xr + t_hr) * (r * (1 - r))
        t_z = (t_xz + t_hz) * (z * (1 - z))
        t_n = (t_xn + t_r * h_n + r * t_hn) * (1 - n * n)
        t_h_new = t_n * (1 - z) + t_z * (h - n) + z * t_h
        zero = zeros_like(h_new)
        return stack([t_h_new] + [zero] * (GRU_PLANES - 1), 0)


class GruCellGrad(Op):
    """gru_cell_grad(dh, out, xw, hw, h) -> [..., 7H]: the gradients of xw (r z n, [3H]),
    of hw ([3H]) and of h ([H]), given dh, the adjoint of h'. `out` is gru_cell(xw, hw, h):
    the kernel reads its gates; the composition recomputes them (as `LstmCellGrad`)."""
    name = "gru_cell_grad"
    composed = True

    def infer(self, dh, out, xw, hw, h):
        shape, dtype = _check((xw, hw), h, 3)
        _check_like_state((("dh", dh),), out, GRU_PLANES, shape, dtype)
        return (None if shape is None else shape[:-1] + (
            None if shape[-1] is None else 7 * shape[-1],)), dtype

    def compose(self, dh, out, xw, hw, h):
        hidden = _hidden(self, out)
        x_r, x_z, x_n = _gates(xw, 3, hidden)
        h_r, h_z, h_n = _gates(hw, 3, hidden)
        r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
        n = tanh(x_n + r * h_n)
        d_n = dh * (1 - z) * (1 - n * n)
        d_r = d_n * h_n * r * (1 - r)
        d_z = dh * (h - n) * z * (1 - z)
        return concat([d_r, d_z, d_n, d_r, d_z, d_n * r, dh * z], -1)


def _state_planes(out: Tensor, count: int) -> list:
    """The state planes out[0], ..., out[count - 1]: views while autograd may read the gate
    planes; copies when it never will (eager, no gradient recorded), so that a loop keeping
    every step's h' does not also keep every step's packed workspace alive (3.5x the memory
    for an LSTM)."""
    planes = [_plane_of(out, k) for k in range(count)]
    if out.kind == EAGER and not out.requires_grad and trace_state.active is None:
        planes = [apply(shared(Copy), plane) for plane in planes]
    return planes


def gru_cell(xw, hw, h, name=None) -> Tensor:
    """One GRU step from its two projections: h' (see `_state_planes`)."""
    out = apply(shared(GruCell), as_tensor(xw), as_tensor(hw), as_tensor(h), name=name)
    return _state_planes(out, 1)[0]


def lstm_cell(xw, hw, c, name=None) -> tuple:
    """One LSTM step from its two projections: (h', c') (see `_state_planes` and the module
    docstring)."""
    out = apply(shared(LstmCell), as_tensor(xw), as_tensor(hw), as_tensor(c), name=name)
    return tuple(_state_planes(out, 2))


__all__ = ["GruCell", "GruCellGrad", "LstmCell", "LstmCellGrad", "gru_cell", "lstm_cell"]
