"""`Module.register_full_backward_hook` and `register_full_backward_pre_hook`: the gradients
with respect to one call's outputs and inputs, as PyTorch's hooks see them (Grad-CAM and
gradient inspection read them this way).

The call's output is passed through a copy whose tensor hook sees grad_output (pre-hooks
may replace it); each tensor input that requires grad goes through a copy whose tensor hook
collects its gradient, and the full hooks run once the last of them has arrived. A copy is
an op like any other. An input that gets no gradient in a sweep (forward ignores it) is
given zeros, as PyTorch gives, when the sweep ends (`queue_callback`). Known gap: an input
the sweep skips because `autograd.grad` or `backward(inputs=...)` asked for others also gets
zeros, where PyTorch computes its gradient for the hook anyway."""
from __future__ import annotations

import functools

from ...autodiff.reverse import queue_callback
from ...core.modes import grad_mode
from ...core.tensor import Tensor
from ...ops.creation import zeros_like
from ...ops.shape import copy
from ...pytorch.autograd import register_hook


class BackwardHooks:
    """One call of a module with backward hooks: wraps its inputs and its output and runs
    the module's hooks from the tensor hooks of the wrappers."""

    def __init__(self, module, args: tuple) -> None:
        self.module, self.args = module, args
        self.needs = {k for k, a in enumerate(args)
                      if isinstance(a, Tensor) and a.requires_grad and grad_mode.enabled}
        self.waiting: set = set()
        self.grad_input: list = [None] * len(args)
        self.grad_output: tuple = ()
        d = module.__dict__   # the hooks of the forward's time, as PyTorch's
        self.pre_hooks = [h for h, _, _ in d.get("_backward_pre_hooks", {}).values()]
        self.full_hooks = [h for h, _, _ in d.get("_backward_hooks", {}).values()]

    def wrap_inputs(self) -> tuple:
        return tuple(self._watch(a, functools.partial(self._input_grad, k))
                     if k in self.needs else a for k, a in enumerate(self.args))

    def wrap_output(self, output):
        """The output through a watched copy; PyTorch's grad_output for one tensor."""
        if isinstance(output, Tensor):
            return self._watch(output, self._output_grad) if output.requires_grad else output
        if self.needs or any(isinstance(o, Tensor) and o.requires_grad
                             for o in (output if isinstance(output, (tuple, list)) else ())):
            raise NotImplementedError(
                f"{type(self.module).__name__}: full backward hooks here take a module that "
                f"returns one tensor, not {type(output).__name__}")
        return output

    @staticmethod
    def _watch(x: Tensor, hook) -> Tensor:
        y = copy(x)
        register_hook(y, hook)
        return y

    def _output_grad(self, g: Tensor):
        grad_output = (g,)
        for hook in self.pre_hooks:
            result = hook(self.module, grad_output)
            if result is not None:
                grad_output = tuple(result) if isinstance(result, (tuple, list)) else (result,)
        self.grad_output = grad_output
        self.waiting = set(self.needs)
        if not self.needs:   # no input needs a gradient: PyTorch runs the hooks now, all None
            self._run_full(tuple(None for _ in self.args))
        else:
            queue_callback(self._at_end)
        return grad_output[0]

    def _given(self) -> tuple:
        """grad_input: what arrived; zeros for the other tensors (None for non-tensors)."""
        return tuple(self.grad_input[j] if j in self.needs and j not in self.waiting else
                     zeros_like(a) if isinstance(a, Tensor) else None
                     for j, a in enumerate(self.args))

    def _at_end(self) -> None:
        """The sweep ended with inputs still waiting: they got no gradient."""
        if self.waiting:
            given = self._given()
            self.waiting = set()
            self._refuse_late(self._run_full(given), given, self.needs)

    def _input_grad(self, k: int, g: Tensor):
        self.grad_input[k] = g
        self.waiting.discard(k)
        if self.waiting:
            return None
        given = self._given()
        new = self._run_full(given)
        self._refuse_late(new, given, [j for j in self.needs if j != k])
        return new[k]

    def _refuse_late(self, new: tuple, given: tuple, gone: list) -> None:
        """A hook's replacement for an input whose gradient already went on (or, at the
        sweep's end, got none) cannot take effect: an error, not a silently lost value."""
        late = [j for j in gone if new[j] is not given[j]]
        if late:
            raise RuntimeError(
                f"{type(self.module).__name__}: a full backward hook replaced "
                f"grad_input[{late[0]}], whose gradient had already gone on (or that got "
                f"none); here a hook may replace the gradient of the last input to get one "
                f"only")

    def _run_full(self, grad_input: tuple) -> tuple:
        for hook in self.full_hooks:
            result = hook(self.module, grad_input, self.grad_output)
            if result is not None:
                result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
                if len(result) != len(grad_input):
                    raise RuntimeError(f"full backward hook: returned {len(result)} "
                                       f"grad_input for {len(grad_input)} inputs")
                grad_input = result
        return grad_input
