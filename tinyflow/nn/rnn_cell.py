"""TF1's `tf.nn.rnn_cell` (also `tf.contrib.rnn`): recurrent cells for TF1 graphs.

A cell is called once per time step, `output, new_state = cell(inputs, state)`. It creates its
variables on the first call, named as TF1 names them inside the caller's name scope
(`rnn/basic_lstm_cell/kernel`), and reuses them on every later call: tinyflow has no
`tf.variable_scope`, so the cell object holds them. The equations, gate orders and initial
values are TF1's (kernel: Glorot uniform; LSTM bias: zeros plus `forget_bias` added to the f
gate at run time; GRU gate bias: ones). PyTorch's `nn.LSTMCell` and friends are other
classes (nn/modules/rnn.py); these live only in this namespace.
"""
from __future__ import annotations

import collections
import math

import numpy as np

from .. import ops
from ..core import dtypes
from ..core.graph import get_default_graph
from ..core.op import as_tensor
from ..core.tensor import Tensor
from ..ops.creation import tf_range
from ..symbolic.variables import Variable
from .tf_functions import dropout

__all__ = ["BasicLSTMCell", "BasicRNNCell", "DropoutWrapper", "GRUCell", "LSTMCell",
           "LSTMStateTuple", "MultiRNNCell", "ResidualWrapper", "RNNCell"]


LSTMStateTuple = collections.namedtuple("LSTMStateTuple", ("c", "h"))
LSTMStateTuple.__doc__ = "An LSTM's state: the cell `c` and the output `h`, each [batch, units]."


def map_state(fn, *states):
    """fn applied to the matching tensors of one or more states of one nested structure
    (a tensor, an LSTMStateTuple, a tuple of those), keeping that structure."""
    first = states[0]
    if isinstance(first, Tensor):
        return fn(*states)
    parts = [map_state(fn, *pieces) for pieces in zip(*states)]
    return type(first)(*parts) if hasattr(first, "_fields") else tuple(parts)


def flat_state(state) -> list:
    """The tensors of a nested state, in order."""
    if isinstance(state, Tensor):
        return [state]
    return [t for part in state for t in flat_state(part)]


def _glorot_uniform(shape, dtype):
    """TF1's default kernel initializer: U(-l, l) with l = sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = (shape[0], shape[-1])
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return ops.random_uniform(shape, -limit, limit, dtype=dtype)


def _initial(initializer, shape, dtype, default):
    """An initial value from a TF-style initializer (a callable of shape and dtype), a
    constant, or the cell's default."""
    if initializer is None:
        return default(shape, dtype)
    if callable(initializer):
        return initializer(shape, dtype=dtype)
    return _constant(shape, dtype, initializer)


def _constant(shape, dtype, value):
    return as_tensor(np.full(shape, value, dtype=dtypes.as_dtype(dtype).np))


def _zeros(shape, dtype):
    return _constant(shape, dtype, 0.0)


def _ones(shape, dtype):
    return _constant(shape, dtype, 1.0)


def _activation(fn):
    if fn is None:
        return ops.tanh
    if isinstance(fn, str):
        named = {"tanh": ops.tanh, "relu": ops.relu, "sigmoid": ops.sigmoid}
        if fn not in named:
            raise ValueError(f"activation {fn!r}: use one of {sorted(named)} or a function")
        return named[fn]
    return fn


class RNNCell:
    """The cell interface: `state_size`, `output_size`, `zero_state(batch_size, dtype)` and
    `__call__(inputs, state)`, which opens the cell's name scope and builds its variables on
    the first call (`build(inputs_shape)`, TF's Layer protocol: a subclass may override
    `build`, `call`, `state_size` and `output_size` and make variables with `add_variable`)."""

    scope_name = "rnn_cell"

    def __init__(self, name=None, dtype=None) -> None:
        self._name = name or self.scope_name
        self._dtype = dtype
        self.built = False
        self._variables = []

    @property
    def state_size(self):
        raise NotImplementedError

    @property
    def output_size(self):
        raise NotImplementedError

    @property
    def dtype(self):
        return self._dtype

    def zero_state(self, batch_size, dtype=dtypes.float32):
        """Zeros of the state's structure, [batch_size, size] each; batch_size an int or a
        scalar tensor (`tf.shape(x)[0]`)."""
        dtype = dtypes.as_dtype(dtype)
        if not isinstance(batch_size, Tensor):
            return _sized(self.state_size, lambda n: _zeros((int(batch_size), n), dtype))
        column = ops.zeros_like(ops.expand_dims(tf_range(batch_size), 1), dtype=dtype)
        return _sized(self.state_size, lambda n: ops.add(column, _zeros((n,), dtype)))

    def zero_state_like(self, x: Tensor):
        """Zeros of the state's structure with x's batch (dim 0) and dtype, which may be
        known only at run time."""
        column = ops.zeros_like(x[:, :1])
        return _sized(self.state_size,
                      lambda n: ops.add(column, _zeros((n,), x.dtype)) if n != 1 else column)

    def __call__(self, inputs, state, scope=None):
        inputs = as_tensor(inputs)
        if inputs.kind == "eager":
            raise TypeError(f"{type(self).__name__}: TF1 cells build graphs; call it on "
                            f"placeholders or graph tensors, not eager values")
        if inputs.ndim != 2 or inputs.shape[1] is None:
            raise ValueError(f"{type(self).__name__}: inputs must be [batch, depth] with the "
                             f"depth known, got shape {inputs.shape}")
        with inputs.graph.as_default(), inputs.graph.name_scope(scope or self._name):
            self._build_once(inputs)
            return self.call(inputs, state)

    def add_variable(self, name, shape, dtype=None, initializer=None, trainable=True):
        """A variable of this cell named `name` in the open scope (TF's `add_weight`). The
        initializer is a TF-style callable of (shape, dtype=) or a constant; without one,
        Glorot uniform, TF1's default."""
        dtype = dtypes.as_dtype(dtype or self._dtype or dtypes.float32)
        value = _initial(initializer, tuple(int(d) for d in shape), dtype, _glorot_uniform)
        variable = Variable(lambda: value, trainable=trainable, dtype=dtype, name=name)
        self._variables.append(variable)
        return variable

    add_weight = add_variable

    @property
    def variables(self):
        """The variables made so far (none before the first call)."""
        return list(self._variables)

    @property
    def trainable_variables(self):
        return [v for v in self.variables if v.trainable]

    weights = trainable_weights = trainable_variables

    def build(self, inputs_shape):
        pass

    def build_for(self, inputs):
        """Build the variables for inputs like `inputs` in this cell's scope, if not yet
        (for a caller that runs the cell's equations itself: the fused LSTM)."""
        if not self.built:
            with inputs.graph.as_default(), inputs.graph.name_scope(self._name):
                self._build_once(inputs)

    def _build_once(self, inputs):
        if not self.built:
            self._dtype = dtypes.as_dtype(self._dtype or inputs.dtype)
            self.build(inputs.shape)
            self.built = True

    def fusable(self) -> bool:
        """Whether the RNN functions may run this cell over all steps as one fused op."""
        return False

    def call(self, inputs, state):
        raise NotImplementedError


def _sized(size, make):
    """A state structure of `size` (an int, an LSTMStateTuple or tuple of sizes) filled by
    make(n)."""
    if isinstance(size, int):
        return make(size)
    parts = [_sized(s, make) for s in size]
    return type(size)(*parts) if hasattr(size, "_fields") else tuple(parts)


def _linear(inputs, state, kernel, bias):
    """[inputs, state] @ kernel + bias, as TF's cells compute it (one matmul on the concat)."""
    return ops.add(ops.matmul(ops.concat([inputs, state], 1), kernel), bias)


class BasicRNNCell(RNNCell):
    """h' = activation([x, h] @ kernel + bias); the output is h'."""

    scope_name = "basic_rnn_cell"

    def __init__(self, num_units, activation=None, reuse=None, name=None, dtype=None):
        super().__init__(name, dtype)
        self._num_units = int(num_units)
        self._activation = _activation(activation)

    state_size = property(lambda self: self._num_units)
    output_size = property(lambda self: self._num_units)

    def build(self, inputs_shape):
        n = self._num_units
        self.kernel = self.add_variable("kernel", (inputs_shape[-1] + n, n))
        self.bias = self.add_variable("bias", (n,), initializer=_zeros)

    def call(self, inputs, state):
        out = self._activation(_linear(inputs, state, self.kernel, self.bias))
        return out, out


class GRUCell(RNNCell):
    """TF1's GRU: r, u = sigmoid([x, h] @ gates/kernel + gates/bias) (bias starts at 1),
    c = activation([x, r h] @ candidate/kernel + candidate/bias), h' = u h + (1 - u) c."""

    scope_name = "gru_cell"

    def __init__(self, num_units, activation=None, reuse=None, kernel_initializer=None,
                 bias_initializer=None, name=None, dtype=None):
        super().__init__(name, dtype)
        self._num_units = int(num_units)
        self._activation = _activation(activation)
        self._kernel_initializer = kernel_initializer
        self._bias_initializer = bias_initializer

    state_size = property(lambda self: self._num_units)
    output_size = property(lambda self: self._num_units)

    def build(self, inputs_shape):
        n, k, b = self._num_units, self._kernel_initializer, self._bias_initializer
        depth = inputs_shape[-1] + n
        self.gate_kernel = self.add_variable("gates/kernel", (depth, 2 * n), initializer=k)
        self.gate_bias = self.add_variable("gates/bias", (2 * n,),
                                           initializer=_ones if b is None else b)
        self.candidate_kernel = self.add_variable("candidate/kernel", (depth, n),
                                                  initializer=k)
        self.candidate_bias = self.add_variable("candidate/bias", (n,),
                                                initializer=_zeros if b is None else b)

    def call(self, inputs, state):
        gates = ops.sigmoid(_linear(inputs, state, self.gate_kernel, self.gate_bias))
        r, u = ops.split(gates, 2, axis=1)
        c = self._activation(_linear(inputs, ops.multiply(r, state),
                                     self.candidate_kernel, self.candidate_bias))
        new_h = ops.add(ops.multiply(u, state), ops.multiply(ops.subtract(1.0, u), c))
        return new_h, new_h


class BasicLSTMCell(RNNCell):
    """TF1's basic LSTM: i, j, f, o = split([x, h] @ kernel + bias) (TF's gate order),
    c' = c sigmoid(f + forget_bias) + sigmoid(i) activation(j), h' = activation(c')
    sigmoid(o); the state is LSTMStateTuple(c', h'), the output h'."""

    scope_name = "basic_lstm_cell"

    def __init__(self, num_units, forget_bias=1.0, state_is_tuple=True, activation=None,
                 reuse=None, name=None, dtype=None):
        super().__init__(name, dtype)
        if not state_is_tuple:
            raise NotImplementedError(f"{type(self).__name__}: state_is_tuple=False (the "
                                      f"deprecated concatenated state) is not supported")
        self._num_units = int(num_units)
        self._forget_bias = float(forget_bias)
        self._activation = _activation(activation)

    state_size = property(lambda self: LSTMStateTuple(self._num_units, self._num_units))
    output_size = property(lambda self: self._num_units)

    def build(self, inputs_shape):
        n = self._num_units
        self.kernel = self.add_variable("kernel", (inputs_shape[-1] + n, 4 * n))
        self.bias = self.add_variable("bias", (4 * n,), initializer=_zeros)

    forget_bias = property(lambda self: self._forget_bias)

    def fusable(self) -> bool:
        """TF's equations exactly as the fused op's (tanh, no extras, this class's call)."""
        return (self._activation is ops.tanh and type(self).call in (BasicLSTMCell.call, LSTMCell.call)
                and type(self).build in (BasicLSTMCell.build, LSTMCell.build)
                and not getattr(self, "_use_peepholes", False)
                and getattr(self, "_cell_clip", None) is None
                and not getattr(self, "_num_proj", None))

    def gates(self, inputs, h):
        return ops.split(_linear(inputs, h, self.kernel, self.bias), 4, axis=1)

    def call(self, inputs, state):
        c, h = state
        i, j, f, o = self.gates(inputs, h)
        if self._forget_bias:
            f = ops.add(f, self._forget_bias)
        new_c = ops.add(ops.multiply(c, ops.sigmoid(f)),
                        ops.multiply(ops.sigmoid(i), self._activation(j)))
        new_h = ops.multiply(self._activation(new_c), ops.sigmoid(o))
        return new_h, LSTMStateTuple(new_c, new_h)


class LSTMCell(BasicLSTMCell):
    """TF1's LSTMCell: BasicLSTMCell's equations (variables under `lstm_cell/`), plus
    optional peepholes (w_i_diag, w_f_diag, w_o_diag: the cell state feeds the i, f and o
    gates), `cell_clip` on c, and a projection of the output (`num_proj`, `proj_clip`: the
    state's h and the output are h' @ projection/kernel)."""

    scope_name = "lstm_cell"

    def __init__(self, num_units, use_peepholes=False, cell_clip=None, initializer=None,
                 num_proj=None, proj_clip=None, num_unit_shards=None, num_proj_shards=None,
                 forget_bias=1.0, state_is_tuple=True, activation=None, reuse=None,
                 name=None, dtype=None):
        super().__init__(num_units, forget_bias, state_is_tuple, activation, reuse, name,
                         dtype)
        if num_unit_shards is not None or num_proj_shards is not None:
            raise NotImplementedError("LSTMCell: num_unit_shards / num_proj_shards (sharded "
                                      "variables) are not supported")
        self._use_peepholes = bool(use_peepholes)
        self._cell_clip = cell_clip
        self._initializer = initializer
        self._num_proj = None if num_proj is None else int(num_proj)
        self._proj_clip = proj_clip

    @property
    def state_size(self):
        return LSTMStateTuple(self._num_units, self._num_proj or self._num_units)

    @property
    def output_size(self):
        return self._num_proj or self._num_units

    def build(self, inputs_shape):
        n, h, init = self._num_units, self._num_proj or self._num_units, self._initializer
        self.kernel = self.add_variable("kernel", (inputs_shape[-1] + h, 4 * n),
                                        initializer=init)
        self.bias = self.add_variable("bias", (4 * n,), initializer=_zeros)
        if self._use_peepholes:
            self.peepholes = [self.add_variable(name, (n,), initializer=init)
                              for name in ("w_f_diag", "w_i_diag", "w_o_diag")]
        if self._num_proj:
            self.proj_kernel = self.add_variable("projection/kernel", (n, self._num_proj),
                                                 initializer=init)

    def call(self, inputs, state):
        c, h = state
        i, j, f, o = self.gates(inputs, h)
        f = ops.add(f, self._forget_bias)
        if self._use_peepholes:
            w_f, w_i, w_o = self.peepholes
            f = ops.add(f, ops.multiply(w_f, c))
            i = ops.add(i, ops.multiply(w_i, c))
        new_c = ops.add(ops.multiply(c, ops.sigmoid(f)),
                        ops.multiply(ops.sigmoid(i), self._activation(j)))
        if self._cell_clip is not None:
            new_c = ops.clamp(new_c, -self._cell_clip, self._cell_clip)
        if self._use_peepholes:
            o = ops.add(o, ops.multiply(w_o, new_c))
        new_h = ops.multiply(ops.sigmoid(o), self._activation(new_c))
        if self._num_proj:
            new_h = ops.matmul(new_h, self.proj_kernel)
            if self._proj_clip is not None:
                new_h = ops.clamp(new_h, -self._proj_clip, self._proj_clip)
        return new_h, LSTMStateTuple(new_c, new_h)


class MultiRNNCell(RNNCell):
    """Cells stacked: cell k's output is cell k + 1's input; the state is the tuple of their
    states, each cell's variables under `multi_rnn_cell/cell_k/`."""

    scope_name = "multi_rnn_cell"

    def __init__(self, cells, state_is_tuple=True):
        super().__init__()
        if not cells:
            raise ValueError("MultiRNNCell: needs at least one cell")
        if not state_is_tuple:
            raise NotImplementedError("MultiRNNCell: state_is_tuple=False is not supported")
        if len(set(map(id, cells))) != len(cells):
            raise ValueError("MultiRNNCell: the same cell object appears twice; TF1 would "
                             "share its variables between layers; make one cell per layer")
        self._cells = list(cells)

    state_size = property(lambda self: tuple(c.state_size for c in self._cells))
    output_size = property(lambda self: self._cells[-1].output_size)

    @property
    def variables(self):
        return [v for c in self._cells for v in c.variables]

    def call(self, inputs, state):
        states = []
        for k, (cell, cell_state) in enumerate(zip(self._cells, state)):
            with get_default_graph().name_scope(f"cell_{k}"):
                inputs, new_state = cell(inputs, cell_state)
            states.append(new_state)
        return inputs, tuple(states)


class DropoutWrapper(RNNCell):
    """Dropout on a cell's inputs and outputs, a new mask each step (keep probabilities may
    be placeholders). Dropping the state (state_keep_prob) and variational masks are not
    supported."""

    def __init__(self, cell, input_keep_prob=1.0, output_keep_prob=1.0, state_keep_prob=1.0,
                 variational_recurrent=False, input_size=None, dtype=None, seed=None):
        super().__init__()
        if variational_recurrent or (not isinstance(state_keep_prob, Tensor)
                                     and state_keep_prob != 1.0):
            raise NotImplementedError("DropoutWrapper: state_keep_prob and "
                                      "variational_recurrent are not supported")
        self._cell = cell
        self._input_keep_prob = input_keep_prob
        self._output_keep_prob = output_keep_prob

    state_size = property(lambda self: self._cell.state_size)
    output_size = property(lambda self: self._cell.output_size)

    @property
    def variables(self):
        return self._cell.variables

    def __call__(self, inputs, state, scope=None):
        inputs = dropout(inputs, keep_prob=self._input_keep_prob)
        output, new_state = self._cell(inputs, state, scope)
        return dropout(output, keep_prob=self._output_keep_prob), new_state


class ResidualWrapper(RNNCell):
    """The cell's output plus its input (`residual_fn(inputs, output)` if given), as TF1's;
    the input and output sizes must match."""

    def __init__(self, cell, residual_fn=None):
        super().__init__()
        self._cell = cell
        self._residual_fn = residual_fn or ops.add

    state_size = property(lambda self: self._cell.state_size)
    output_size = property(lambda self: self._cell.output_size)

    @property
    def variables(self):
        return self._cell.variables

    def __call__(self, inputs, state, scope=None):
        output, new_state = self._cell(inputs, state, scope)
        return self._residual_fn(as_tensor(inputs), output), new_state
