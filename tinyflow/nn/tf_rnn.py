"""TF1's RNN functions: `tf.nn.static_rnn`, `dynamic_rnn` and their bidirectional forms.

All four unroll the cell over the time steps while building the graph when the number of
steps is known then (TF's `dynamic_rnn` builds a while loop instead; the results are the
same, the graph is larger); `dynamic_rnn` over a time dim known only when run builds
TF1's while loop over TensorArrays. With `sequence_length`, TF1's semantics: for each
example, the outputs past its length are zeros and the state past it is carried unchanged,
so the final state is the one at its last valid step; a backward direction reverses each
example within its own length.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..core import dtypes
from ..core.op import as_tensor
from ..core.tensor import Tensor
from ..ops.shape import shape_of
from .rnn_cell import LSTMStateTuple, map_state

__all__ = ["bidirectional_dynamic_rnn", "dynamic_rnn", "static_bidirectional_rnn",
           "static_rnn"]


def _check_inputs(what, inputs) -> list:
    inputs = [as_tensor(x) for x in inputs]
    if not inputs:
        raise ValueError(f"{what}: inputs must be a non-empty list of [batch, depth] tensors")
    for t, x in enumerate(inputs):
        if x.ndim != 2:
            raise ValueError(f"{what}: inputs[{t}] must be [batch, depth], got shape {x.shape}")
    return inputs


def _lengths(what, sequence_length):
    if sequence_length is None:
        return None
    lengths = as_tensor(sequence_length)
    if lengths.ndim != 1 or not lengths.dtype.is_integer:
        raise ValueError(f"{what}: sequence_length must be a 1-D integer tensor [batch], got "
                         f"shape {lengths.shape} dtype {lengths.dtype.name}")
    return lengths


def _start_state(what, cell, initial_state, first_input, dtype):
    if initial_state is not None:
        return initial_state
    if dtype is not None and dtypes.as_dtype(dtype) is not first_input.dtype:
        raise TypeError(f"{what}: dtype {dtypes.as_dtype(dtype).name} differs from the "
                        f"inputs' {first_input.dtype.name}")
    return cell.zero_state_like(first_input)


def _unroll(cell, inputs: list, state, lengths):
    """Outputs of every step and the final state, masked by `lengths` as TF1 masks them."""
    if getattr(cell, "fusable", lambda: False)():
        return _fused_lstm(cell, inputs, state, lengths)
    outputs = []
    for t, x in enumerate(inputs):
        output, state = _step(cell, x, state, lengths, t)
        outputs.append(output)
    return outputs, state


def _step(cell, x, state, lengths, t):
    """One step of the cell at time t (an int, or a loop's int tensor), masked as TF1's."""
    output, new_state = cell(x, state)
    if lengths is None:
        return output, new_state
    t = ops.cast(t, lengths.dtype) if isinstance(t, Tensor) else t
    done = ops.expand_dims(ops.less_equal(lengths, t), 1)    # [batch, 1]: t >= length
    output = ops.where(done, ops.zeros_like(output), output)
    return output, map_state(lambda old, new: ops.where(done, old, new), state, new_state)


def _looped(cell, x, state, lengths, time_major: bool):
    """dynamic_rnn over a time dim known only when run: a tf.while_loop reading the steps
    from one TensorArray and writing the outputs to another (TF1's own construction)."""
    from ..symbolic.tensor_array import TensorArray
    from ..symbolic.while_loop import while_loop
    steps = x if time_major else ops.transpose(x, (1, 0, 2))              # [time, batch, depth]
    count = shape_of(steps)[0]
    inputs = TensorArray(x.dtype, size=count).unstack(steps)
    cell(inputs.read(0), state)   # makes the variables outside the loop, named as unrolled

    def body(t, state, outputs):
        output, state = _step(cell, inputs.read(t), state, lengths, t)
        return t + 1, state, outputs.write(t, output)

    _, state, outputs = while_loop(lambda t, state, outputs: t < count, body,
                                   [0, state, TensorArray(x.dtype, size=count)])
    outputs = outputs.stack()
    return (outputs if time_major else ops.transpose(outputs, (1, 0, 2))), state


def _fused_lstm(cell, inputs: list, state, lengths):
    """A plain TF1 LSTM cell over all steps as the fused `lstm` op (ops/rnn.py): the input
    projection of every step is one matmul, the recurrence one kernel each way. The kernel's
    gate blocks are reordered from TF's i, j, f, o to the op's i, f, g(=j), o and forget_bias
    goes into the f bias. Masking by `lengths` gives TF1's results: outputs past a length are
    zeroed, and the final state is each example's state at its last valid step (the initial
    state for a length of 0), since steps past a length never feed the steps before it."""
    cell.build_for(inputs[0])
    steps, n = len(inputs), cell.output_size
    depth = inputs[0].shape[1]
    c0, h0 = state
    blocks = [slice(k * n, (k + 1) * n) for k in (0, 2, 1, 3)]                 # i, f, j, o
    kernel = ops.concat([cell.kernel[:, b] for b in blocks], 1)
    bias = ops.concat([cell.bias[blocks[0]], ops.add(cell.bias[blocks[1]], cell.forget_bias),
                       cell.bias[blocks[2]], cell.bias[blocks[3]]], 0)
    steps_in = ops.reshape(ops.stack(inputs, 0), [-1, depth])                 # [T * B, depth]
    xw = ops.matmul(kernel[:depth], steps_in, transpose_a=True, transpose_b=True)  # [4n, T*B]
    packed = ops.lstm(xw, h0, c0, ops.transpose(kernel[depth:]), bias,
                      hidden=n)                                              # [T+1, 6, n, B]
    h_seq, c_seq = (ops.transpose(packed[1:, k], (0, 2, 1)) for k in (0, 1))  # [T, B, n]
    if lengths is None:
        return ops.unstack(h_seq, steps, 0), LSTMStateTuple(c_seq[-1], h_seq[-1])
    n_valid = ops.cast(lengths, "int64")
    t = as_tensor(np.arange(steps, dtype=np.int64)[:, None, None])
    valid = ops.less(t, ops.expand_dims(n_valid, 1))                         # [T, B, 1]
    outputs = ops.unstack(ops.where(valid, h_seq, ops.zeros_like(h_seq)), steps, 0)
    last = ops.maximum(ops.subtract(n_valid, 1), 0)                          # [B]
    index = ops.add(ops.expand_dims(ops.expand_dims(last, 0), 2),            # [1, B, n]
                    ops.zeros_like(h_seq[:1], dtype="int64"))
    empty = ops.expand_dims(ops.equal(n_valid, 0), 1)
    final = [ops.where(empty, start, ops.gather(seq, 0, index)[0])
             for start, seq in ((c0, c_seq), (h0, h_seq))]
    return outputs, LSTMStateTuple(*final)


def static_rnn(cell, inputs, initial_state=None, dtype=None, sequence_length=None,
               scope=None):
    """`inputs`, a list of [batch, depth] tensors, one per step -> (outputs, a list of
    [batch, cell.output_size], and the final state). Variables under `rnn/` (or `scope`)."""
    inputs = _check_inputs("static_rnn", inputs)
    lengths = _lengths("static_rnn", sequence_length)
    state = _start_state("static_rnn", cell, initial_state, inputs[0], dtype)
    graph = inputs[0].graph
    with graph.as_default(), graph.name_scope(scope or "rnn"):
        return _unroll(cell, inputs, state, lengths)


def _reverse(inputs: list, lengths) -> list:
    """The steps reversed; with lengths, each example's first `length` steps reversed and the
    rest (padding) left in place, as tf.reverse_sequence does."""
    if lengths is None:
        return inputs[::-1]
    steps = len(inputs)
    stacked = ops.stack(inputs, 1)                                   # [batch, T, depth]
    t = as_tensor(np.arange(steps, dtype=np.int64)[None, :])
    n = ops.expand_dims(ops.cast(lengths, "int64"), 1)               # [batch, 1]
    source = ops.where(ops.less(t, n), ops.subtract(ops.subtract(n, 1), t), t)  # [batch, T]
    index = ops.add(ops.expand_dims(source, 2), ops.zeros_like(stacked, dtype="int64"))
    return ops.unstack(ops.gather(stacked, 1, index), steps, 1)


def _backward(cell, inputs: list, initial_state, dtype, lengths):
    """The backward direction under `bw/`: the steps reversed (within each length), run,
    and the outputs put back in the inputs' order."""
    with inputs[0].graph.name_scope("bw"):
        steps = _reverse(inputs, lengths)
        state = _start_state("bidirectional rnn", cell, initial_state, steps[0], dtype)
        outputs, state = _unroll(cell, steps, state, lengths)
        return _reverse(outputs, lengths), state


def static_bidirectional_rnn(cell_fw, cell_bw, inputs, initial_state_fw=None,
                             initial_state_bw=None, dtype=None, sequence_length=None,
                             scope=None):
    """A forward and a backward RNN over `inputs` (a list of steps) -> (outputs, state_fw,
    state_bw), outputs[t] being [forward output at t, backward output at t] concatenated.
    Variables under `bidirectional_rnn/fw/` and `bidirectional_rnn/bw/` (or `scope`)."""
    inputs = _check_inputs("static_bidirectional_rnn", inputs)
    lengths = _lengths("static_bidirectional_rnn", sequence_length)
    graph = inputs[0].graph
    with graph.as_default(), graph.name_scope(scope or "bidirectional_rnn"):
        out_fw, state_fw = static_rnn(cell_fw, inputs, initial_state_fw, dtype, lengths,
                                      scope="fw")
        out_bw, state_bw = _backward(cell_bw, inputs, initial_state_bw, dtype, lengths)
        outputs = [ops.concat([f, b], 1) for f, b in zip(out_fw, out_bw)]
    return outputs, state_fw, state_bw


def _checked_inputs(what, inputs) -> Tensor:
    x = as_tensor(inputs)
    if not isinstance(inputs, Tensor) and isinstance(inputs, (list, tuple)):
        raise TypeError(f"{what}: inputs must be one tensor [batch, time, depth] (nested "
                        f"inputs are not supported)")
    if x.ndim != 3:
        raise ValueError(f"{what}: inputs must be [batch, time, depth] (time_major: "
                         f"[time, batch, depth]), got shape {x.shape}")
    return x


def _time_steps(what, inputs, time_major) -> list:
    x = _checked_inputs(what, inputs)
    axis = 0 if time_major else 1
    if x.shape[axis] is None:
        raise ValueError(f"{what}: the number of time steps (dim {axis} of {x.shape}) must "
                         f"be known when the graph is built: tinyflow unrolls the loop")
    return ops.unstack(x, axis=axis)


def dynamic_rnn(cell, inputs, sequence_length=None, initial_state=None, dtype=None,
                parallel_iterations=None, swap_memory=False, time_major=False, scope=None):
    """`inputs` [batch, time, depth] (time_major: [time, batch, depth]) -> (outputs [batch,
    time, cell.output_size] (time_major: time first), final state). Unrolled over the time
    steps when they are known, else a while_loop; variables under `rnn/` (or `scope`)."""
    x = _checked_inputs("dynamic_rnn", inputs)
    if x.shape[0 if time_major else 1] is None:
        lengths = _lengths("dynamic_rnn", sequence_length)
        first = x[0] if time_major else x[:, 0]
        state = _start_state("dynamic_rnn", cell, initial_state, first, dtype)
        with x.graph.as_default(), x.graph.name_scope(scope or "rnn"):
            return _looped(cell, x, state, lengths, time_major)
    steps = _time_steps("dynamic_rnn", inputs, time_major)
    outputs, state = static_rnn(cell, steps, initial_state, dtype, sequence_length,
                                scope or "rnn")
    return ops.stack(outputs, 0 if time_major else 1), state


def bidirectional_dynamic_rnn(cell_fw, cell_bw, inputs, sequence_length=None,
                              initial_state_fw=None, initial_state_bw=None, dtype=None,
                              parallel_iterations=None, swap_memory=False, time_major=False,
                              scope=None):
    """-> ((outputs_fw, outputs_bw), (state_fw, state_bw)), each output [batch, time, units]
    (time_major: time first); the backward outputs are in the inputs' time order."""
    steps = _time_steps("bidirectional_dynamic_rnn", inputs, time_major)
    lengths = _lengths("bidirectional_dynamic_rnn", sequence_length)
    graph = steps[0].graph
    axis = 0 if time_major else 1
    with graph.as_default(), graph.name_scope(scope or "bidirectional_rnn"):
        out_fw, state_fw = static_rnn(cell_fw, steps, initial_state_fw, dtype, lengths,
                                      scope="fw")
        out_bw, state_bw = _backward(cell_bw, steps, initial_state_bw, dtype, lengths)
    return (ops.stack(out_fw, axis), ops.stack(out_bw, axis)), (state_fw, state_bw)

