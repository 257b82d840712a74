"""TF1 `tf.train` optimizers: `minimize(loss)` builds gradient and update nodes."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..autodiff.reverse import gradients
from ..core.op import as_tensor
from ..core.tensor import Tensor
from ..ops.math import (add, cast, ceil, cos, divide, exp, floor, less_equal,  # noqa: A004
                        maximum, minimum, multiply, pow, where)
from ..ops.creation import zeros_like
from ..ops.state import assign, group
from ..optim import rules
from .control_flow import identity
from .metrics import get_global_step, get_or_create_global_step  # noqa: F401
from .saver import (Saver, checkpoint_exists, get_checkpoint_state,  # noqa: F401
                    latest_checkpoint)
from .variables import Variable, trainable_variables


class Optimizer:
    """Base class: `compute_gradients` + `apply_gradients` = `minimize`."""

    def __init__(self, learning_rate, use_locking: bool = False, name: str = "Optimizer"):
        if isinstance(learning_rate, bool) or not isinstance(
                learning_rate, (int, float, np.integer, np.floating, Tensor)):
            raise TypeError(f"{type(self).__name__}: learning_rate must be a number or a "
                            f"scalar tensor, got {learning_rate!r} of type "
                            f"{type(learning_rate).__name__}")
        self.learning_rate = learning_rate
        self.name = name
        self._slots: dict[tuple, Variable] = {}

    def compute_gradients(self, loss: Tensor, var_list=None) -> list:
        if not isinstance(loss, Tensor):
            raise TypeError(f"{type(self).__name__}: the loss must be a tensor, got {loss!r} "
                            f"of type {type(loss).__name__}")
        var_list = list(var_list) if var_list is not None else trainable_variables(loss.graph)
        if not var_list:
            raise ValueError(f"{type(self).__name__}: the graph has no trainable variable "
                             f"(and no var_list was given), so there is nothing to optimize")
        grads = gradients(loss, var_list)
        return list(zip(grads, var_list))

    def apply_gradients(self, grads_and_vars, global_step: Optional[Variable] = None,
                        name: Optional[str] = None) -> Tensor:
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            names = [v.name for _, v in grads_and_vars]
            raise ValueError(f"apply_gradients: none of {names} has a gradient (all are "
                             f"None); check that the loss depends on them")
        updates = self._apply(pairs)
        if global_step is not None:
            updates.append(assign(global_step, global_step + 1))
        return group(*updates, name=name or self.name)

    def minimize(self, loss: Tensor, global_step=None, var_list=None, name=None) -> Tensor:
        return self.apply_gradients(self.compute_gradients(loss, var_list), global_step, name)

    def _apply(self, pairs: list) -> list:
        raise NotImplementedError

    def get_slot(self, var: Variable, name: str) -> Variable:
        return self._slots[(id(var), name)]

    def _slot(self, var: Variable, name: str, fill: float = 0.0) -> Variable:
        """A variable shaped like `var`, initialized to `fill` (run the initializer after
        minimize)."""
        key = (id(var), name)
        if key not in self._slots:
            # outside any control_dependencies block (TF1's init_scope): initializing the
            # slot must not run the update ops a `minimize` there waits for
            with var.graph.control_dependencies(None), var.graph.colocate(var):
                start = zeros_like(var.initial_value)
                if fill:
                    start = start + fill
                self._slots[key] = Variable(lambda: start, trainable=False,
                                            name=f"{var._name}/{self.name}/{name}")
        return self._slots[key]


class GradientDescentOptimizer(Optimizer):
    def __init__(self, learning_rate, use_locking=False, name="GradientDescent"):
        super().__init__(learning_rate, use_locking, name)

    def _apply(self, pairs):
        return [assign(v, rules.sgd(v, g, self.learning_rate)) for g, v in pairs]


class MomentumOptimizer(Optimizer):
    def __init__(self, learning_rate, momentum, use_locking=False, name="Momentum",
                 use_nesterov=False):
        super().__init__(learning_rate, use_locking, name)
        self.momentum = momentum
        self.use_nesterov = use_nesterov

    def _apply(self, pairs):
        updates = []
        for g, v in pairs:
            velocity = self._slot(v, "Momentum")
            new_v, new_velocity = rules.momentum(v, g, velocity, self.learning_rate,
                                                 self.momentum, self.use_nesterov)
            updates += [assign(v, new_v), assign(velocity, new_velocity)]
        return updates


class AdamOptimizer(Optimizer):
    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 use_locking=False, name="Adam"):
        super().__init__(learning_rate, use_locking, name)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self._step: Optional[Variable] = None

    def _apply(self, pairs):
        if self._step is None:
            self._step = Variable(lambda: 0.0, trainable=False, name=f"{self.name}/step")
        step = self._step + 1
        updates = [assign(self._step, step)]
        for g, v in pairs:
            m, s = self._slot(v, "m"), self._slot(v, "v")
            new_v, new_m, new_s, _ = rules.adam(v, g, m, s, step, self.learning_rate,
                                                self.beta1, self.beta2, self.epsilon)
            updates += [assign(v, new_v), assign(m, new_m), assign(s, new_s)]
        return updates


class RMSPropOptimizer(Optimizer):
    """TF1's RMSProp: the mean square starts at ones; `centered` divides by the variance."""

    def __init__(self, learning_rate, decay=0.9, momentum=0.0, epsilon=1e-10,
                 use_locking=False, centered=False, name="RMSProp"):
        super().__init__(learning_rate, use_locking, name)
        self.decay, self.momentum, self.epsilon = decay, momentum, epsilon
        self.centered = centered

    def _apply(self, pairs):
        updates = []
        for g, v in pairs:
            ms, mom = self._slot(v, "RMSProp", fill=1.0), self._slot(v, "Momentum")
            mg = self._slot(v, "MG") if self.centered else None
            new_v, new_ms, new_mom, new_mg = rules.rmsprop_tf(
                v, g, ms, mom, self.learning_rate, self.decay, self.momentum, self.epsilon,
                mg)
            updates += [assign(v, new_v), assign(ms, new_ms), assign(mom, new_mom)]
            if mg is not None:
                updates.append(assign(mg, new_mg))
        return updates


class AdagradOptimizer(Optimizer):
    """TF1's Adagrad: the accumulator starts at `initial_accumulator_value`, no epsilon."""

    def __init__(self, learning_rate, initial_accumulator_value=0.1, use_locking=False,
                 name="Adagrad"):
        if not initial_accumulator_value > 0:
            raise ValueError(f"AdagradOptimizer: initial_accumulator_value must be positive, "
                             f"got {initial_accumulator_value}")
        super().__init__(learning_rate, use_locking, name)
        self.initial_accumulator_value = initial_accumulator_value

    def _apply(self, pairs):
        updates = []
        for g, v in pairs:
            accum = self._slot(v, "Adagrad", fill=self.initial_accumulator_value)
            new_v, new_accum = rules.adagrad(v, g, accum, 1, self.learning_rate, 0.0, 0.0)
            updates += [assign(v, new_v), assign(accum, new_accum)]
        return updates


def exponential_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False,
                      name=None) -> Tensor:
    """learning_rate * decay_rate ** (global_step / decay_steps), the exponent floored when
    `staircase`: a rate read afresh at every run as the step advances."""
    progress = _progress(global_step, decay_steps, staircase)
    return multiply(learning_rate, pow(float(decay_rate), progress), name=name)


def _progress(global_step, decay_steps, staircase=False) -> Tensor:
    progress = cast(as_tensor(global_step), "float32") / float(decay_steps)
    return floor(progress) if staircase else progress


def inverse_time_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False,
                       name=None) -> Tensor:
    """learning_rate / (1 + decay_rate * global_step / decay_steps)."""
    rate = 1.0 + float(decay_rate) * _progress(global_step, decay_steps, staircase)
    return divide(learning_rate, rate, name=name)


def natural_exp_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False,
                      name=None) -> Tensor:
    """learning_rate * exp(-decay_rate * global_step / decay_steps)."""
    progress = _progress(global_step, decay_steps, staircase)
    return multiply(learning_rate, exp(-float(decay_rate) * progress), name=name)


def cosine_decay(learning_rate, global_step, decay_steps, alpha=0.0, name=None) -> Tensor:
    """learning_rate * ((1 - alpha) * (1 + cos(pi * step / decay_steps)) / 2 + alpha), the
    step held at decay_steps after it."""
    step = minimum(cast(as_tensor(global_step), "float32"), float(decay_steps))
    cosine = 0.5 * (1.0 + cos(step * (np.pi / decay_steps)))
    return multiply(learning_rate, (1.0 - alpha) * cosine + alpha, name=name)


def polynomial_decay(learning_rate, global_step, decay_steps, end_learning_rate=0.0001,
                     power=1.0, cycle=False, name=None) -> Tensor:
    """From learning_rate to end_learning_rate as (1 - step / decay_steps) ** power; after
    decay_steps it stays at the end, or with `cycle` restarts over the next multiple."""
    step = cast(as_tensor(global_step), "float32")
    steps = float(decay_steps)
    if cycle:   # the next multiple of decay_steps at or above the step (1 at step 0)
        steps = multiply(steps, maximum(ceil(step / steps), 1.0))
    else:
        step = minimum(step, steps)
    fraction = pow(1.0 - step / steps, float(power))
    return add((learning_rate - end_learning_rate) * fraction, end_learning_rate, name=name)


def piecewise_constant(x, boundaries, values, name=None) -> Tensor:
    """values[0] while x <= boundaries[0], values[i] while boundaries[i-1] < x <=
    boundaries[i], values[-1] after the last boundary (a learning-rate schedule)."""
    if len(values) != len(boundaries) + 1:
        raise ValueError(f"piecewise_constant: values must have one more entry than "
                         f"boundaries, got {len(values)} values and {len(boundaries)} "
                         f"boundaries")
    x = as_tensor(x)
    value = as_tensor(values[-1])
    for bound, v in zip(reversed(boundaries), reversed(values[:-1])):
        value = where(less_equal(x, cast(as_tensor(bound), x.dtype)), v, value)
    return identity(value, name=name or "PiecewiseConstant")


def export_meta_graph(filename=None, *args, **kwargs):
    """Refused by name, as import_meta_graph."""
    raise NotImplementedError("tf.train.export_meta_graph is not supported by tinyflow: its "
                              "checkpoints hold variable values only")


def import_meta_graph(meta_graph_or_file, *args, **kwargs):
    """Refused by name: tinyflow's Saver keeps variable values, not graphs (MetaGraphDef);
    build the graph again in Python and `Saver.restore` its values."""
    raise NotImplementedError(
        f"tf.train.import_meta_graph({meta_graph_or_file!r}) is not supported by tinyflow: "
        f"its checkpoints hold variable values only; build the graph again and call "
        f"tf.train.Saver().restore(sess, path)")


_QUEUES = ("Coordinator", "QueueRunner", "Supervisor", "batch", "input_producer",
           "range_input_producer", "shuffle_batch", "slice_input_producer",
           "start_queue_runners", "string_input_producer")


def __getattr__(name: str):
    """Names what tf.train lacks: the queue-based input pipeline and its Supervisor (use
    tf.data or feed_dict), and anything else by name."""
    if name.startswith("__"):
        raise AttributeError(name)
    if name in _QUEUES:
        raise AttributeError(f"tf.train.{name} is not supported by tinyflow: queue-based "
                             f"input pipelines and tf.train.Supervisor are not built; feed "
                             f"batches with feed_dict or tf.data, and use a Session")
    raise AttributeError(f"tf.train.{name} is not supported by tinyflow")
