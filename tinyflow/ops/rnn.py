"""The LSTM recurrence over a whole sequence as one op, and its backward as one op.

Unrolled into per-step ops, an LSTM step is a dozen small ops forward and more backward, so a
50-step sequence costs over a thousand op dispatches and as many temporaries. `Lstm` runs the
recurrence in one kernel; `LstmGrad` runs backpropagation through time in one kernel. What
is not sequential stays outside, as ordinary ops: the input projection of every step is one
matmul before the op (`xw`; the biases are added inside, not by a pass of their own), and
the gradients of the input projection and of `w_hh` are
single large matmuls over all steps in `Lstm.vjp` (as cuDNN and oneDNN do), and so is the
biases' (a product with ones: BLAS reads the gate gradients faster than NumPy's sum).

Per step everything is hidden-major, [rows, batch]: the per-step product is w_hh h^T, which
OpenBLAS runs faster than h w_hh^T at a small batch. `xw` is w_ih x^T [4H, T * B] (columns
step-major: x reshaped to [T * B, F]), and the gradients [4H, T + 1, B] keep that layout,
so xw's gradient is a view. `Lstm`'s output is step-major, [T + 1, 6, H, B]: per slot the
planes h and c, then the four activated gates i, f, g, o (PyTorch's order); slot 0 holds h0
and c0 (and zero gates). Step-major, each step's writes (and the backward's reads) are one
contiguous block: with the per-step GEMM in between evicting the caches, the hidden-major
[6, H, T + 1, B] layout had made the cells 2.5-3x slower (each step touched 1,500 rows
6.5 KB apart, none of them prefetched). out[1:, 0] is the output sequence [T, H, B].

The gate planes are a workspace for the backward (cuDNN's "reserve space"), not outputs:
like an argmax they carry no gradient, in either mode. Their adjoint would be zeros in
every real use, so the backward takes only the h and c planes' adjoint [T + 1, 2, H, B],
made from the getitems of the packed output directly (`Op.sliced_adjoint`): a third of
the packed size is zero-filled, not all of it, and the backward reads no gate planes' zeros;
of those only the slots from the first one read (a loss on h_n: the last slot alone, where
zero-filling all 51 slots' planes cost 0.29 ms of a 20 ms step at T 50, H 256, B 32), and
only the h planes when nothing reads a c plane (the output sequence).
Second-order gradients through the fused backward are not implemented (as with cuDNN's
RNN): `LstmGrad.vjp` says so instead of returning zeros.
"""
from __future__ import annotations

import numpy as np

from ..core.modes import needs_input_grad
from ..core.op import Op, apply, as_tensor, sum_terms
from ..core.tensor import Tensor
from .creation import ones_like
from .linalg import matmul
from .math import tanh
from .shape import SlicedAdjoint, expand_dims, getitem, getitem_grads, reshape, stack, transpose

_ANY = slice(None)
PLANES = 6   # h c i f g o


def _check_dims(what: str, shape, want: tuple) -> None:
    if shape is None:
        return
    if len(shape) != len(want) or any(a is not None and b is not None and a != b
                                      for a, b in zip(shape, want)):
        raise ValueError(f"{what} must have shape {want} (None: any), got {shape}")


def _known(*sizes):
    return next((s for s in sizes if s is not None), None)


def _check_floats(*tensors: Tensor):
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) != 1 or not tensors[0].dtype.is_floating:
        raise TypeError(f"needs one floating dtype for all inputs, got "
                        f"{', '.join(t.dtype.name for t in tensors)}")
    return tensors[0].dtype


class Lstm(Op):
    """lstm(xw [4H, T * B], h0 [B, H], c0 [B, H], w_hh [4H, H], bias [4H])
    -> [T + 1, 6, H, B].

    Column t * B + b of xw holds step t's input projection of batch row b; bias is both
    biases' sum. Step t computes gates = xw_t + bias + w_hh h_{t-1}^T, c_t = f c_{t-1} + i g, h_t = o tanh(c_t).
    Only the h and c planes (out[:, :2]) are differentiable; the gate planes are constants to
    both autodiff modes (see the module docstring). The attribute `hidden` (H) fixes the
    packed layout even where shapes are known only at run time; B comes from h0.
    """
    name = "lstm"
    hidden: int

    def infer(self, xw, h0, c0, w_hh, bias):
        dtype = _check_floats(xw, h0, c0, w_hh, bias)
        inputs = (xw, h0, c0, w_hh, bias)
        for t, rank in zip(inputs, (2, 2, 2, 2, 1)):
            if t.shape is not None and len(t.shape) != rank:
                ranks = [None if x.shape is None else len(x.shape) for x in inputs]
                raise ValueError(f"expected xw [4H, T * B], h0 and c0 [B, H], w_hh [4H, H], "
                                 f"bias [4H]; got ranks {ranks}")
        hidden, gates = self.hidden, 4 * self.hidden
        batch = _known(*(None if t.shape is None else t.shape[0] for t in (h0, c0)))
        columns = None if xw.shape is None else xw.shape[1]
        _check_dims("w_hh", w_hh.shape, (gates, hidden))
        _check_dims("h0", h0.shape, (batch, hidden))
        _check_dims("c0", c0.shape, (batch, hidden))
        _check_dims("xw", xw.shape, (gates, columns))
        _check_dims("bias", bias.shape, (gates,))
        steps = None
        if columns is not None and batch is not None:
            if batch == 0 or columns % batch:
                raise ValueError(f"xw has {columns} columns, not a multiple of the batch "
                                 f"size {batch}")
            steps = columns // batch
        if columns == 0 or steps == 0:
            raise ValueError("the sequence needs at least one step")
        return (None if steps is None else steps + 1, PLANES, hidden, batch), dtype

    sliced_adjoint = True   # only the h and c planes' adjoint is made (see _state_adjoint)

    def vjp(self, g, out, xw, h0, c0, w_hh, bias):
        hidden, gates = self.hidden, 4 * self.hidden
        grads = apply(LstmGrad(hidden=hidden), _state_adjoint(g, out), out,
                      w_hh)                                         # [4H, T + 1, B]
        d_pre = reshape(getitem(grads, (_ANY, slice(0, -1))), [gates, -1])   # a view
        d_h0 = d_c0 = d_w = None
        if needs_input_grad(1):
            d_h0 = matmul(getitem(grads, (_ANY, 0)), w_hh, transpose_a=True) + transpose(
                getitem(grads, (slice(hidden, 2 * hidden), -1)))
        if needs_input_grad(2):
            d_c0 = transpose(getitem(grads, (slice(0, hidden), -1)))
        if needs_input_grad(3):
            h_prev = reshape(transpose(getitem(out, (slice(0, -1), 0)), (1, 0, 2)),
                             [hidden, -1])                   # [H, T * B] (a copy)
            d_w = matmul(d_pre, h_prev, transpose_b=True)
        d_bias = None
        if needs_input_grad(4):   # a product with ones: BLAS's gemv, 0.11 ms where the sum
            ones = ones_like(getitem(d_pre, slice(0, 1)))          # took 0.6 (T 50, B 32)
            d_bias = getitem(matmul(d_pre, ones, transpose_b=True), (_ANY, 0))
        return d_pre, d_h0, d_c0, d_w, d_bias

    def jvp(self, tangents, out, xw, h0, c0, w_hh, bias):
        """Tangents step by step with ordinary ops (forward mode is rare; T and B must be
        known)."""
        t_xw, t_h, t_c, t_w, t_bias = tangents
        slots, _, hidden, batch = out.shape
        if slots is None or batch is None:
            raise ValueError("lstm: forward-mode derivatives need a known number of steps "
                             "and batch size")
        t_xw = None if t_xw is None else reshape(t_xw, [4 * hidden, slots - 1, batch])
        t_h = None if t_h is None else transpose(t_h)       # hidden-major, as out's planes
        t_c = None if t_c is None else transpose(t_c)
        zero = getitem(out, (0, 0)) * 0
        slot0 = [t_h, t_c, None, None, None, None]
        rows = [slot0]
        for t in range(1, slots):
            h, c, i, f, gg, o = (getitem(out, (t, k)) for k in range(PLANES))
            h_prev, c_prev = getitem(out, (t - 1, 0)), getitem(out, (t - 1, 1))
            t_pre = sum_terms([getitem(t_xw, (_ANY, t - 1)) if t_xw is not None else None,
                               matmul(w_hh, t_h) if t_h is not None else None,
                               matmul(t_w, h_prev) if t_w is not None else None,
                               expand_dims(t_bias, 1) if t_bias is not None else None])
            if t_pre is None and t_c is None:
                rows.append([None] * PLANES)
                continue
            if t_pre is None:
                t_pre = getitem(xw, (slice(0, 4 * hidden), slice(0, batch))) * 0
            tp = [getitem(t_pre, slice(k * hidden, (k + 1) * hidden)) for k in range(4)]
            ti, tf_, to = (tp[k] * a * (1 - a) for k, a in ((0, i), (1, f), (3, o)))
            tg = tp[2] * (1 - gg * gg)
            tc = tf_ * c_prev + ti * gg + i * tg
            if t_c is not None:
                tc = tc + f * t_c
            tanh_c = tanh(c)
            th = to * tanh_c + o * (1 - tanh_c * tanh_c) * tc
            rows.append([th, tc, None, None, None, None])   # gate planes: constants
            t_h, t_c = th, tc
        if all(r is None for row in rows for r in row):
            return None
        return stack([stack([zero if r is None else r for r in row], 0) for row in rows], 0)


def _state_adjoint(g, out: Tensor) -> Tensor:
    """The adjoint of out's h and c planes, [T + 1, 2, H, B], from g, out's whole adjoint or
    a SlicedAdjoint. The gates carry none, so when every piece reads only the h and c planes
    (h_n, c_n, the output sequence: all nn.LSTM reads) it is made from the pieces alone
    (a third of the packed size zero-filled, not all of it); otherwise from the dense
    adjoint."""
    if isinstance(g, SlicedAdjoint):
        pieces = [(_in_state_planes(index), piece) for index, piece in g.pieces]
        if g.pieces and not g.whole and all(index is not None for index, _ in pieces):
            first = _first_slot([index for index, _ in pieces], out.shape[0])
            pieces = [((_rebased(index[0], first, out.shape[0]),) + index[1:], piece)
                      for index, piece in pieces]
            planes = 1 if all(index[1] == 0 for index, _ in pieces) else 2   # h alone?
            return getitem_grads(getitem(out, (slice(first, None), slice(0, planes))),
                                 pieces)
        g = g.dense()
    return getitem(g, _STATE_PLANES)


def _first_slot(indices: list, slots) -> int:
    """The first slot any of `indices` reads (0 when the slots are unknown or a slice steps
    backwards): the slots before it have a zero adjoint, which `LstmGrad` needs not be given
    (h_n alone, out[-1, 0], is one slot of T + 1 to zero-fill)."""
    if slots is None:
        return 0
    first = slots
    for index in indices:
        if isinstance(index[0], slice):
            span = range(slots)[index[0]]
            if span.step < 0:
                return 0
            first = min(first, span.start if span else slots)
        else:
            first = min(first, int(index[0]) % slots)
    return 0 if first == slots else first


def _rebased(slot, first: int, slots):
    """Slot index `slot` of the packed output as an index of its slots first: onwards."""
    if not first:
        return slot
    if isinstance(slot, slice):
        span = range(slots)[slot]
        return slice(span.start - first, span.stop - first, span.step) if span else slice(0, 0)
    return int(slot) % slots - first


_STATE_PLANES = (_ANY, slice(0, 2))


def _in_state_planes(index: tuple):
    """`index` of the packed output rewritten for its h and c planes alone ([T + 1, 2, H, B]),
    or None when it may read a gate plane (or is not a plain index on the plane axis)."""
    if len(index) < 2 or not all(isinstance(k, (int, np.integer, slice))
                                 and not isinstance(k, (bool, np.bool_)) for k in index[:2]):
        return None
    plane = index[1]
    if isinstance(plane, slice):
        planes = range(PLANES)[plane]
        if planes.step != 1 or not planes or planes.stop > 2:
            return None
        plane = slice(planes.start, planes.stop)
    elif not 0 <= plane % PLANES < 2 or not -PLANES <= plane < PLANES:
        return None
    else:
        plane = int(plane % PLANES)
    return (index[0], plane) + tuple(index[2:])


class LstmGrad(Op):
    """Backpropagation through time: lstm_grad(g, out, w_hh) -> [4H, T + 1, B], with g
    [k, 2, H, B] the adjoint of the h and c planes of lstm's packed output `out`
    ([T + 1, 6, H, B]; the gate planes carry no gradient) in its last k slots (1 <= k <=
    T + 1; the earlier slots' adjoint is zero: a loss on h_n gives k = 1); g [k, 1, H, B]
    holds the h planes' alone (c's adjoint zero: a loss on the output sequence). Columns
    [:, t] for t < T are the gradients of step t's gate pre-activations (so [:, :T]
    reshapes to xw's gradient [4H, T * B] without a copy); [:, T] holds c0's gradient in
    rows 0..H-1, the part of h0's gradient that comes straight from slot 0 of g in rows
    H..2H-1, then zeros (h0's other part is w_hh^T times column 0, computed only when
    needed)."""
    name = "lstm_grad"
    saves_output = False
    hidden: int

    def infer(self, g, out, w_hh):
        dtype = _check_floats(g, out, w_hh)
        hidden = self.hidden
        _check_dims("out", out.shape, (None, PLANES, hidden, None))
        _check_dims("g", g.shape, (None, None, hidden, None if out.shape is None
                                   else out.shape[3]))
        if g.shape is not None and g.shape[1] not in (None, 1, 2):
            raise ValueError(f"g must hold the h and c planes' adjoint, or h's alone "
                             f"([k, 2 or 1, H, B]), got {g.shape}")
        if None not in (g.shape, out.shape) and None not in (g.shape[0], out.shape[0]) \
                and not 1 <= g.shape[0] <= out.shape[0]:
            raise ValueError(f"g must hold the adjoint of 1 to {out.shape[0]} last slots "
                             f"of out {out.shape}, got {g.shape}")
        _check_dims("w_hh", w_hh.shape, (4 * hidden, hidden))
        if out.shape is None:
            return None, dtype
        if out.shape[0] is not None and out.shape[0] < 2:
            raise ValueError("the sequence needs at least one step (two slots)")
        return (4 * hidden, out.shape[0], out.shape[3]), dtype

    def vjp(self, h, out, *inputs):
        raise NotImplementedError(
            "lstm: second-order gradients through the fused LSTM backward are not "
            "implemented; differentiate the unrolled cell (nn.LSTMCell steps) instead")

    def jvp(self, tangents, out, *inputs):
        raise NotImplementedError(
            "lstm: forward-mode derivatives of the fused LSTM backward are not implemented")


def lstm(xw, h0, c0, w_hh, bias, hidden=None, name=None) -> Tensor:
    """The packed [T + 1, 6, H, B] states and gates of an LSTM over xw [4H, T * B] (see
    `Lstm`); `hidden` is needed only when w_hh's shape is not known when the graph is
    built."""
    xw, h0, c0, w_hh, bias = (as_tensor(t) for t in (xw, h0, c0, w_hh, bias))
    if hidden is None:
        if w_hh.shape is None or w_hh.shape[-1] is None:
            raise ValueError("lstm: pass hidden= when w_hh's shape is unknown")
        hidden = w_hh.shape[-1]
    return apply(Lstm(hidden=int(hidden)), xw, h0, c0, w_hh, bias, name=name)


__all__ = ["Lstm", "LstmGrad", "lstm"]
