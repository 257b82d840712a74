"""The LSTM recurrence over a whole sequence as one op, and its backward as one op.

Unrolled into per-step ops, an LSTM step is a dozen small ops forward and more backward, so a
50-step sequence costs over a thousand op dispatches and as many temporaries. `Lstm` runs the
recurrence in one kernel; `LstmGrad` runs backpropagation through time in one kernel. What
is not sequential stays outside, as ordinary ops: the input projection of every step is one
matmul before the op (`xw`), and the gradients of the input projection and of `w_hh` are
single large matmuls over all steps in `Lstm.vjp`.

`Lstm`'s output packs, per step, everything backward needs, as 7 planes [B, H]: h, c, the
four activated gates i, f, g, o (PyTorch's order) and tanh(c). Callers slice h and c out of
it (out[:, 0] is the output sequence [T, B, H], contiguous per step). Second-order gradients
through the fused backward are not implemented (as with cuDNN's RNN): `LstmGrad.vjp` says so
instead of returning zeros.
"""
from __future__ import annotations

from ..core.modes import needs_input_grad
from ..core.op import Op, apply, as_tensor, sum_terms
from ..core.tensor import Tensor
from .linalg import matmul
from .shape import concat, expand_dims, getitem, reshape, stack

_ANY = slice(None)


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
    """lstm(xw [T, B, 4H], h0 [B, H], c0 [B, H], w_hh [4H, H]) -> [T, 7, B, H].

    xw holds each step's input projection plus both biases; step t computes
    gates = xw[t] + h_{t-1} w_hh^T, c_t = f c_{t-1} + i g, h_t = o tanh(c_t). The attribute
    `hidden` (H) fixes the packed layout even where shapes are known only at run time.
    """
    name = "lstm"
    hidden: int

    def infer(self, xw, h0, c0, w_hh):
        dtype = _check_floats(xw, h0, c0, w_hh)
        for t, rank in ((xw, 3), (h0, 2), (c0, 2), (w_hh, 2)):
            if t.shape is not None and len(t.shape) != rank:
                ranks = [None if x.shape is None else len(x.shape) for x in (xw, h0, c0, w_hh)]
                raise ValueError(f"expected xw [T, B, 4H], h0 and c0 [B, H], w_hh [4H, H]; "
                                 f"got ranks {ranks}")
        hidden = self.hidden
        steps, batch = (None, None) if xw.shape is None else xw.shape[:2]
        batch = _known(batch, None if h0.shape is None else h0.shape[0])
        gates = 4 * hidden
        _check_dims("w_hh", w_hh.shape, (gates, hidden))
        _check_dims("h0", h0.shape, (batch, hidden))
        _check_dims("c0", c0.shape, (batch, hidden))
        _check_dims("xw", xw.shape, (steps, batch, gates))
        if steps == 0:
            raise ValueError("the sequence needs at least one step")
        if xw.shape is None:
            return None, dtype
        return (steps, 7, batch, hidden), dtype

    def vjp(self, g, out, xw, h0, c0, w_hh):
        hidden = self.hidden
        grads = apply(LstmGrad(hidden=hidden), g, out, h0, c0, w_hh)     # [T + 1, B, 4H]
        d_pre = getitem(grads, slice(0, -1))                            # contiguous
        d_h0 = matmul(getitem(d_pre, 0), w_hh) if needs_input_grad(1) else None
        d_c0 = getitem(grads, (-1, _ANY, slice(0, hidden))) if needs_input_grad(2) else None
        d_w = None
        if needs_input_grad(3):
            h_prev = concat([expand_dims(h0, 0), getitem(out, (slice(0, -1), 0))], 0)
            d_w = matmul(reshape(d_pre, [-1, 4 * hidden]), reshape(h_prev, [-1, hidden]),
                         transpose_a=True)
        return d_pre, d_h0, d_c0, d_w

    def jvp(self, tangents, out, xw, h0, c0, w_hh):
        """Tangents step by step with ordinary ops (forward mode is rare; T must be known)."""
        t_xw, t_h, t_c, t_w = tangents
        steps, hidden = out.shape[0], self.hidden
        if steps is None:
            raise ValueError("lstm: forward-mode derivatives need a known number of steps")
        h_prev, c_prev, rows = h0, c0, []
        for t in range(steps):
            h, c, i, f, gg, o, tanh_c = (getitem(out, (t, k)) for k in range(7))
            t_pre = sum_terms([getitem(t_xw, t) if t_xw is not None else None,
                               matmul(t_h, w_hh, transpose_b=True) if t_h is not None else None,
                               matmul(h_prev, t_w, transpose_b=True) if t_w is not None else None])
            if t_pre is None and t_c is None:
                rows.append(None)
                h_prev, c_prev = h, c
                continue
            if t_pre is None:
                t_pre = getitem(xw, t) * 0
            tp = [getitem(t_pre, (_ANY, slice(k * hidden, (k + 1) * hidden))) for k in range(4)]
            ti, tf_, to = (tp[k] * a * (1 - a) for k, a in ((0, i), (1, f), (3, o)))
            tg = tp[2] * (1 - gg * gg)
            tc = tf_ * c_prev + ti * gg + i * tg
            if t_c is not None:
                tc = tc + f * t_c
            t_tanh_c = (1 - tanh_c * tanh_c) * tc
            th = to * tanh_c + o * t_tanh_c
            rows.append(stack([th, tc, ti, tf_, tg, to, t_tanh_c], 0))
            h_prev, c_prev, t_h, t_c = h, c, th, tc
        if all(r is None for r in rows):
            return None
        zero = next(r for r in rows if r is not None) * 0
        return stack([zero if r is None else r for r in rows], 0)


class LstmGrad(Op):
    """Backpropagation through time: lstm_grad(g [T, 7, B, H], out [T, 7, B, H], h0, c0, w_hh)
    -> [T + 1, B, 4H]: rows 0..T-1 the gradients of each step's gate pre-activations (so they
    are one contiguous block), row T the gradient of c0 in its first H columns, then zeros.
    `g` is the adjoint of lstm's packed output."""
    name = "lstm_grad"
    saves_output = False
    hidden: int

    def infer(self, g, out, h0, c0, w_hh):
        dtype = _check_floats(g, out, h0, c0, w_hh)
        hidden = self.hidden
        _check_dims("out", out.shape, (None, 7, None, hidden))
        _check_dims("g", g.shape, out.shape if out.shape is not None else (None, 7, None,
                                                                           hidden))
        _check_dims("w_hh", w_hh.shape, (4 * hidden, hidden))
        if out.shape is None:
            return None, dtype
        steps = None if out.shape[0] is None else out.shape[0] + 1
        return (steps, out.shape[2], 4 * hidden), dtype

    def vjp(self, h, out, *inputs):
        raise NotImplementedError(
            "lstm: second-order gradients through the fused LSTM backward are not "
            "implemented; differentiate the unrolled cell (nn.LSTMCell steps) instead")

    def jvp(self, tangents, out, *inputs):
        raise NotImplementedError(
            "lstm: forward-mode derivatives of the fused LSTM backward are not implemented")


def lstm(xw, h0, c0, w_hh, hidden=None, name=None) -> Tensor:
    """The packed [T, 7, B, H] states and gates of an LSTM over xw (see `Lstm`); `hidden` is
    needed only when w_hh's shape is not known when the graph is built."""
    xw, h0, c0, w_hh = (as_tensor(t) for t in (xw, h0, c0, w_hh))
    if hidden is None:
        if w_hh.shape is None or w_hh.shape[-1] is None:
            raise ValueError("lstm: pass hidden= when w_hh's shape is unknown")
        hidden = w_hh.shape[-1]
    return apply(Lstm(hidden=int(hidden)), xw, h0, c0, w_hh, name=name)


__all__ = ["Lstm", "LstmGrad", "lstm"]
