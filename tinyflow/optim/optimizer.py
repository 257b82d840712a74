"""The base class of the eager (PyTorch-style) optimizers: parameter groups, state and
checkpoints. Subclasses only say how one parameter is updated, calling a rule in `rules`."""
from __future__ import annotations

import copy
from collections import defaultdict
from typing import Any, Callable, Iterable, Optional

import numpy as np

from ..core import dtypes
from ..autodiff.tape import write_inplace
from ..core.modes import enable_grad, no_grad, trace_state
from ..core.tensor import EAGER, REMOTE, Tensor
from ..ops.creation import zeros_like
from ..ops.shape import copy as copy_tensor


class Optimizer:
    """PyTorch's `torch.optim.Optimizer`: `param_groups`, `state`, `step`, `zero_grad`.

    Args:
        params: an iterable of tensors, of (name, tensor) pairs, or of dicts with a
            `params` entry and per-group options (`[{'params': [...], 'lr': 0.1}, ...]`).
        defaults: the options a group takes when it does not set them.
    """

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        if isinstance(params, Tensor):
            raise TypeError("optimizer: params is one Tensor; give an iterable of tensors (or "
                            "of param-group dicts), e.g. model.parameters() or [w]")
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if not groups:
            raise ValueError("optimizer: the parameter list is empty (nothing to optimize)")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group (say, layers unfrozen while fine-tuning) with its own options."""
        if not isinstance(param_group, dict):
            raise TypeError(f"add_param_group: a param group is a dict, got "
                            f"{type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer: params is a set, whose order changes from run to run "
                            "(and so would a saved state's); give a list")
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        if names:
            if len(names) != len(params):
                raise ValueError("optimizer: some params are (name, tensor) pairs and some "
                                 "bare tensors; name all or none")
            group["param_names"] = names
            params = [p[1] for p in params]
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer: a param is a {type(p).__name__}, not a Tensor")
            if p.is_symbolic:
                raise TypeError(f"optimizer can only optimize eager tensors; {p.name} is "
                                f"symbolic (use tf.train optimizers for graphs)")
            if not (p.is_leaf or p._retains_grad):
                raise ValueError("optimizer: a param is not a leaf (an op made it); optimize "
                                 "the leaf tensors it is computed from")
        group["params"] = params
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("optimizer: a parameter is in two param groups; give each once")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients before the next backward (which would add to them)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:   # not read first: a compiled step need not guard on .grad
                    p.grad = None
                elif p.grad is None:
                    continue
                elif p.grad.kind == REMOTE:   # zeros where the gradient lives
                    p.grad = zeros_like(p.grad)
                else:
                    grad = p.grad
                    if (trace_state.active is not None   # compile records a write
                            or grad._op is not None or not grad.array.flags.writeable):
                        p.grad = Tensor._eager(np.zeros(grad.shape, grad.dtype.np))
                    else:  # in place, as PyTorch does: references to .grad see zeros
                        grad.requires_grad = False
                        grad.array[...] = 0
                        grad._version[0] += 1

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Update every parameter that has a gradient; returns the closure's loss."""
        loss = None
        if trace_state.active is not None:   # the compiled step guards on the options
            trace_state.active.stepped(self)
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    grad = p.grad
                    if grad is not None:
                        self._update(p, grad, self.state[p], group)
        return loss

    def _update(self, param: Tensor, grad: Tensor, state: dict, group: dict) -> None:
        """Update one parameter in place from its gradient and its `state`."""
        raise NotImplementedError

    # ---- checkpoints ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """PyTorch's layout: per-parameter state keyed by index, and the groups' options."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: {k: _copy(v) for k, v in s.items()}
                 for p, s in self.state.items() if s and id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume from `state_dict()` of an optimizer over the same parameters, in order."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"load_state_dict: the state has {len(saved_groups)} param "
                             f"groups, this optimizer {len(self.param_groups)}")
        for k, (g, s) in enumerate(zip(self.param_groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(f"load_state_dict: param group {k} has "
                                 f"{len(s['params'])} params in the state, "
                                 f"{len(g['params'])} in this optimizer")
        params = {i: p for g, s in zip(self.param_groups, saved_groups)
                  for i, p in zip(s["params"], g["params"])}
        self.state = defaultdict(dict)
        for i, saved in state_dict["state"].items():
            if i in params:
                p = params[i]
                self.state[p] = {k: _copy(v, None if k == "step" else p) for k, v in
                                 saved.items()}
        groups = []
        for g, s in zip(self.param_groups, saved_groups):
            new = {k: copy.deepcopy(v) for k, v in s.items() if k != "params"}
            new["params"] = g["params"]
            groups.append(new)
        self.param_groups = groups

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for k, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {k}")
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key != "params"]
        return "\n".join(lines + [")"])


# ---- helpers for subclasses --------------------------------------------------------------

def check_options(lr: Optional[float] = None, betas: Optional[tuple] = None,
                  **nonnegative: float) -> None:
    """PyTorch's ValueErrors for an optimizer's options (in our words): a negative learning
    rate, a negative eps / weight_decay / momentum / ..., a beta outside [0, 1)."""
    if lr is not None and not 0.0 <= lr:
        raise ValueError(f"optimizer: lr must be >= 0, got {lr}")
    for name, value in nonnegative.items():
        if not 0.0 <= value:
            raise ValueError(f"optimizer: {name} must be >= 0, got {value}")
    for k, beta in enumerate(betas or ()):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"optimizer: betas[{k}] must be in [0, 1), got {beta}")


def one_pass_applies(param: Tensor, grad: Tensor, group: dict, numbers: tuple) -> bool:
    """Can an eager optimizer use its fused in-place step (ops/state.py)? Only eagerly, not
    traced, with the gradient in the parameter's dtype and the hyperparameters `numbers` of
    the group Python numbers (a tensor lr keeps the op-by-op rule)."""
    return (trace_state.active is None and param.kind == EAGER and grad.kind == EAGER
            and grad.dtype is param.dtype
            and all(isinstance(group[k], (int, float)) for k in numbers))


def write(param: Tensor, value: Tensor) -> None:
    """Store `value` in `param`'s own buffer, so views and references see the update."""
    write_inplace(param, value)


def store(state: dict, key: str, value: Optional[Tensor]) -> None:
    """Keep `value` as state `key`: written into the existing buffer as PyTorch does, or a
    fresh copy the first time (never an alias of a gradient the user may zero in place)."""
    if value is None:
        return
    buf = state.get(key)
    if buf is None and trace_state.active is not None:   # under compile: made after the run
        trace_state.active.new_state(state, key, value)
    elif buf is None and value.kind == REMOTE:   # kept where the parameter lives
        state[key] = copy_tensor(value)
    elif buf is None:
        state[key] = Tensor._eager(np.array(value.array))
    else:
        write_inplace(buf, value)


def zeros_state(param: Tensor) -> Tensor:
    """A zero buffer shaped and typed like `param` (on its device)."""
    if param.kind == REMOTE:
        return zeros_like(param)
    return Tensor._eager(np.zeros(param.shape, param.dtype.np))


def scalar_state(value: float) -> Tensor:
    """A 0-d state number (step, ASGD's eta and mu, NAdam's mu_product), in the default float
    dtype, as PyTorch keeps them."""
    return Tensor._eager(np.array(value, dtypes.DEFAULT_FLOAT.np))


def set_scalar(buffer: Tensor, value) -> None:
    """Write into a 0-d state tensor in place (rounded to its dtype); its version moves, as
    PyTorch's in-place update of that state moves it."""
    buffer.array[...] = value
    buffer._version[0] += 1


def step_count() -> Tensor:
    """The step counter PyTorch keeps per parameter."""
    return scalar_state(0.0)


def advance(state: dict):
    """Count one more step in `state`; returns the new 1-based step as a Python float (under
    `tinyflow.compile`, as a tensor: the step is then a value of the compiled graph)."""
    step = state["step"]
    if trace_state.active is not None:   # under compile: a counter in the graph
        new = step + 1
        write_inplace(step, new)
        return new
    set_scalar(step, step.array + 1)
    return float(step.array)


def _copy(value, like: Optional[Tensor] = None):
    """A copy of a state value; tensors become new buffers, cast to `like`'s float dtype."""
    if isinstance(value, Tensor):
        arr = value.numpy()
        if like is not None and like.dtype.is_floating and arr.dtype.kind == "f":
            arr = arr.astype(like.dtype.np)
        return Tensor._eager(np.array(arr))
    if isinstance(value, dict):
        return {k: _copy(v, like) for k, v in value.items()}
    return copy.deepcopy(value)
