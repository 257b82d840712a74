"""Recurrent layers (LSTM, GRU, RNN) and their cells, with PyTorch's parameter names,
shapes, gate order and initialization.

nn.LSTM runs each layer and direction as one fused `lstm` op (tinyflow/ops/rnn.py) over the
input projection of all steps, computed by one matmul; the number of steps may be unknown
until run time. GRU, RNN and the cells are unrolled over time: layers pass lists of per-step
tensors to each other and the output is stacked once. An LSTM or GRU step is its two
products (`linear`) and one fused op (`lstm_cell`, `gru_cell`: ops/rnn_cell.py), whose
backward is differentiable again. Each unrolled step
projects its own input slice: slicing one [T, B, G*H] product per step would make backward
build and sum T full-size gradients (T^2 B H memory traffic, and all T held at once). A
missing initial state is zeros shaped at run time, so graph inputs of unknown batch size
work too.
"""
from __future__ import annotations

import math

from ... import ops
from .. import functional as F
from .. import init
from ..utils.rnn import PackedSequence
from .linear import empty_parameter
from .module import Module

GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def zero_state(mode: str, xw, hidden: int):
    """Zeros [batch, hidden] shaped from the first step's input projection: the batch may
    be known only at run time. (A zero state still gives weight_hh a zero gradient, as in
    PyTorch, rather than none.)"""
    h = ops.zeros_like(ops.getitem(xw, (Ellipsis, slice(0, hidden))))
    return (h, h) if mode == "LSTM" else h


def lstm_step(xw, state, w_hh, b_hh):
    """Gates i, f, g, o (PyTorch's order): c' = f c + i g, h' = o tanh(c'), as one
    `lstm_cell` op after the two products (ops/rnn_cell.py)."""
    h, c = state
    return ops.lstm_cell(xw, F.linear(h, w_hh, b_hh), c)


def gru_step(xw, h, w_hh, b_hh):
    """r, z, n: n = tanh(x_n + r (h W_hn + b_hn)), h' = (1 - z) n + z h, as one `gru_cell`
    op after the two products."""
    return ops.gru_cell(xw, F.linear(h, w_hh, b_hh), h)


def rnn_step(xw, h, w_hh, b_hh, relu: bool):
    pre = xw + F.linear(h, w_hh, b_hh)
    return ops.relu(pre) if relu else ops.tanh(pre)


def _step(mode: str, xw, state, w_hh, b_hh):
    if mode == "LSTM":
        return lstm_step(xw, state, w_hh, b_hh)
    if mode == "GRU":
        return gru_step(xw, state, w_hh, b_hh)
    return rnn_step(xw, state, w_hh, b_hh, mode == "RNN_RELU")


def _zeros(x, w_hh):
    """A zero state [B, H] for x [T, B, F] and w_hh [G*H, H], shaped at run time: zeros
    [B, 1] plus zeros [H]."""
    return ops.zeros_like(ops.getitem(x, (0, slice(None), slice(0, 1)))) + ops.zeros_like(
        ops.getitem(w_hh, 0))


def _like_steps(h, x):
    """h [T, B, H] with the static T and B of x [T, B, F]: the op sees only T * B, so in a
    graph of unknown batch size it cannot tell T (a reshape to the shape h has: no copy)."""
    if h.shape is None or x.shape is None or None not in h.shape[:2] or \
            x.shape[:2].count(None) == 2:
        return h
    return ops.reshape(h, [-1 if d is None else d for d in x.shape[:2]] + [h.shape[2]])


class _RNNBase(Module):
    """Layers x directions of one recurrence; parameters weight_ih_l{k}[_reverse], ..."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__()
        if proj_size < 0:
            raise ValueError(f"{mode}: proj_size={proj_size}; give an int >= 0 (0: no "
                             f"projection)")
        if proj_size and mode != "LSTM":
            raise ValueError(f"{mode}: proj_size is for LSTM only")
        if proj_size >= hidden_size > 0:
            raise ValueError(f"{mode}: proj_size={proj_size} must be below hidden_size="
                             f"{hidden_size}")
        if not 0 <= dropout <= 1:
            raise ValueError(f"{mode}: dropout={dropout} must be in [0, 1]")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        self.proj_size = int(proj_size)
        out_size = proj_size or hidden_size   # h's width: LSTM(proj_size) projects h
        directions = 2 if bidirectional else 1
        rows = GATES[mode] * hidden_size
        for layer in range(num_layers):
            width = input_size if layer == 0 else out_size * directions
            for d in range(directions):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                setattr(self, "weight_ih" + sfx, empty_parameter(rows, width, dtype=dtype))
                setattr(self, "weight_hh" + sfx, empty_parameter(rows, out_size, dtype=dtype))
                if bias:
                    setattr(self, "bias_ih" + sfx, empty_parameter(rows, dtype=dtype))
                    setattr(self, "bias_hh" + sfx, empty_parameter(rows, dtype=dtype))
                if proj_size:
                    setattr(self, "weight_hr" + sfx, empty_parameter(proj_size, hidden_size,
                                                                     dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/sqrt(hidden), 1/sqrt(hidden))."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def flatten_parameters(self) -> None:
        """PyTorch packs the weights into one cuDNN buffer here; the kernels here read the
        parameters as they are, so there is nothing to do (programs call it after a load)."""

    def _weights(self, layer: int, d: int) -> tuple:
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        get = self._parameters.get
        return (get("weight_ih" + sfx), get("weight_hh" + sfx), get("bias_ih" + sfx),
                get("bias_hh" + sfx))

    def _initial(self, hx, index: int):
        """The initial state of layer x direction `index` (None: zeros)."""
        if hx is None:
            return None
        if self.mode == "LSTM":
            return hx[0][index], hx[1][index]
        return hx[index]

    def forward(self, input, hx=None):
        if isinstance(input, PackedSequence):
            return self._packed(input, hx)
        x = input
        batched = x.ndim == 3
        if not batched:
            x = ops.expand_dims(x, 1)
            if hx is not None:
                hx = tuple(ops.expand_dims(h, 1) for h in hx) if self.mode == "LSTM" \
                    else ops.expand_dims(hx, 1)
        elif self.batch_first:
            x = ops.transpose(x, (1, 0, 2))
        layers = self._fused_lstm if self.mode == "LSTM" and not self.proj_size \
            else self._unrolled
        x, finals = layers(x, hx)
        if not batched:
            x = ops.squeeze(x, 1)
        elif self.batch_first:
            x = ops.transpose(x, (1, 0, 2))
        if self.mode == "LSTM":
            h_n = ops.stack([s[0] for s in finals], 0)
            c_n = ops.stack([s[1] for s in finals], 0)
            return x, ((h_n, c_n) if batched else (ops.squeeze(h_n, 1), ops.squeeze(c_n, 1)))
        h_n = ops.stack(finals, 0)
        return x, (h_n if batched else ops.squeeze(h_n, 1))

    def _between_layers(self, x, layer: int):
        if self.dropout and self.training and layer < self.num_layers - 1:
            return F.dropout(x, self.dropout, True)
        return x

    def _fused_lstm(self, x, hx):
        """Every layer and direction as one `lstm` op over x [T, B, F]: (output, finals).
        The op is hidden-major: its input projection is w_ih x^T [4H, T * B] (one matmul;
        the op adds the biases), and the output sequence is a transposed view of its
        packed states."""
        H, finals, directions = self.hidden_size, [], 2 if self.bidirectional else 1
        for layer in range(self.num_layers):
            outputs = []
            for d in range(directions):
                w_ih, w_hh, b_ih, b_hh = self._weights(layer, d)
                steps = ops.reshape(x.flip(0) if d else x, [-1, w_ih.shape[1]])
                xw = ops.matmul(w_ih, steps, transpose_b=True)                # [4H, T * B]
                bias = ops.zeros_like(ops.getitem(w_hh, (slice(None), 0))) if b_ih is None \
                    else b_ih + b_hh
                state = self._initial(hx, layer * directions + d)
                if state is None:
                    state = (_zeros(x, w_hh),) * 2
                packed = ops.lstm(xw, state[0], state[1], w_hh, bias,
                                  hidden=H)                               # [T + 1, 6, H, B]
                h = _like_steps(ops.transpose(ops.getitem(
                    packed, (slice(1, None), 0)), (0, 2, 1)), x)               # [T, B, H]
                outputs.append(h.flip(0) if d else h)
                finals.append(tuple(ops.transpose(ops.getitem(packed, (-1, k)))
                                    for k in (0, 1)))
            x = outputs[0] if len(outputs) == 1 else ops.concat(outputs, -1)
            x = self._between_layers(x, layer)
        return x, finals

    def _unrolled(self, x, hx):
        """Layers unrolled step by step over x [T, B, F]: (output, finals)."""
        directions = 2 if self.bidirectional else 1
        xs = [x[t] for t in range(x.shape[0])]
        finals = []
        for layer in range(self.num_layers):
            outputs = []
            for d in range(directions):
                out, state = self._run(xs, layer, d, self._initial(hx, layer * directions + d))
                outputs.append(out)
                finals.append(state)
            xs = outputs[0] if directions == 1 else [ops.concat(list(o), -1)
                                                     for o in zip(*outputs)]
            xs = [self._between_layers(x_t, layer) for x_t in xs]
        return ops.stack(xs, 0), finals

    def _run(self, xs: list, layer: int, d: int, state):
        """One direction of one layer over per-step inputs xs ([B, features] each):
        (per-step outputs [B, H], final state)."""
        w_ih, w_hh, b_ih, b_hh = self._weights(layer, d)
        w_hr = self._parameters.get(f"weight_hr_l{layer}" + ("_reverse" if d else ""))
        outputs = [None] * len(xs)
        for t in (reversed(range(len(xs))) if d else range(len(xs))):
            xw = F.linear(xs[t], w_ih, b_ih)
            if state is None:
                state = zero_state(self.mode, xw, self.hidden_size)
                if w_hr is not None:   # h is proj_size wide, c hidden_size
                    state = (zero_state("GRU", xw, self.proj_size), state[1])
            state = _step(self.mode, xw, state, w_hh, b_hh)
            if w_hr is not None:
                state = (F.linear(state[0], w_hr), state[1])
            outputs[t] = state[0] if self.mode == "LSTM" else state
        return outputs, state

    def _packed(self, packed: PackedSequence, hx):
        """A PackedSequence through every layer and direction, unrolled: step t updates
        only the batch_sizes[t] sequences still running (the first rows, the batch being
        sorted longest first), so each keeps its state from its own last step and the
        reverse direction starts at each sequence's own end. Returns (PackedSequence,
        h_n or (h_n, c_n)) with the states in the batch's order before packing."""
        sizes = [int(b) for b in packed.batch_sizes.numpy()]
        ends = [sum(sizes[:t + 1]) for t in range(len(sizes))]
        xs = [packed.data[end - b:end] for b, end in zip(sizes, ends)]
        order, unorder = packed.sorted_indices, packed.unsorted_indices
        if hx is not None and order is not None:
            hx = tuple(h[:, order] for h in hx) if self.mode == "LSTM" else hx[:, order]
        directions = 2 if self.bidirectional else 1
        finals = []
        for layer in range(self.num_layers):
            outputs = []
            for d in range(directions):
                out, state = self._run_packed(xs, sizes, layer, d,
                                              self._initial(hx, layer * directions + d))
                outputs.append(out)
                finals.append(state)
            xs = outputs[0] if directions == 1 else [ops.concat(list(o), -1)
                                                     for o in zip(*outputs)]
            xs = [self._between_layers(x_t, layer) for x_t in xs]
        out = PackedSequence(ops.concat(xs, 0), packed.batch_sizes, order, unorder)
        parts = zip(*finals) if self.mode == "LSTM" else (finals,)
        states = [ops.stack(list(p), 0) for p in parts]
        if unorder is not None:
            states = [s[:, unorder] for s in states]
        return out, (tuple(states) if self.mode == "LSTM" else states[0])

    def _run_packed(self, xs: list, sizes: list, layer: int, d: int, state):
        """One direction of one layer over packed steps xs ([sizes[t], features] each)."""
        w_ih, w_hh, b_ih, b_hh = self._weights(layer, d)
        w_hr = self._parameters.get(f"weight_hr_l{layer}" + ("_reverse" if d else ""))
        if state is None:
            rows = ops.zeros_like(ops.getitem(xs[0], (slice(None), slice(0, 1))))
            h = rows + ops.zeros_like(ops.getitem(w_hh, 0))
            state = (h, rows + ops.zeros_like(ops.getitem(w_hr if w_hr is not None else
                                                          w_hh, 0))) \
                if self.mode == "LSTM" else h
        lstm = self.mode == "LSTM"
        outputs = [None] * len(xs)
        for t in (reversed(range(len(xs))) if d else range(len(xs))):
            b = sizes[t]
            running = tuple(s[:b] for s in state) if lstm else state[:b]
            new = _step(self.mode, F.linear(xs[t], w_ih, b_ih), running, w_hh, b_hh)
            if w_hr is not None:
                new = (F.linear(new[0], w_hr), new[1])
            outputs[t] = new[0] if lstm else new
            if b < sizes[0]:
                new = tuple(ops.concat([n, s[b:]], 0) for n, s in zip(new, state)) if lstm \
                    else ops.concat([new, state[b:]], 0)
            state = new
        return outputs, state

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        return s


class LSTM(_RNNBase):
    """Returns (output, (h_n, c_n)); output [T, B, D*H] (batch_first: [B, T, D*H])."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__("LSTM", *args, **kwargs)


class GRU(_RNNBase):
    """Returns (output, h_n)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__("GRU", *args, **kwargs)


class RNN(_RNNBase):
    """Elman RNN, h' = tanh (or relu)(x W_ih^T + b_ih + h W_hh^T + b_hh)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None,
                 dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             f"'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_" + nonlinearity.upper(), input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, dtype=dtype)


class _CellBase(Module):
    """One time step: weight_ih [G*H, I], weight_hh [G*H, H], bias_ih, bias_hh."""

    mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        rows = GATES[self.mode] * hidden_size
        self.weight_ih = empty_parameter(rows, input_size, dtype=dtype)
        self.weight_hh = empty_parameter(rows, hidden_size, dtype=dtype)
        if bias:
            self.bias_ih = empty_parameter(rows, dtype=dtype)
            self.bias_hh = empty_parameter(rows, dtype=dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def forward(self, input, hx=None):
        xw = F.linear(input, self.weight_ih, self.bias_ih)
        if hx is None:
            hx = zero_state(self.mode, xw, self.hidden_size)
        return _step(self.mode, xw, hx, self.weight_hh, self.bias_hh)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class LSTMCell(_CellBase):
    """forward(input, (h, c)) -> (h', c')."""
    mode = "LSTM"


class GRUCell(_CellBase):
    """forward(input, h) -> h'."""
    mode = "GRU"


class RNNCell(_CellBase):
    """forward(input, h) -> h' (tanh or relu)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        object.__setattr__(self, "mode", "RNN_" + nonlinearity.upper())
        super().__init__(input_size, hidden_size, bias, dtype=dtype)
        self.nonlinearity = nonlinearity
