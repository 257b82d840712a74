"""`torch.utils.checkpoint`: activation checkpointing. `checkpoint(fn, *args)` runs `fn`
without recording its intermediate values, and runs it again, recording, when the backward
reaches it; memory for the activations inside `fn` is traded for a second forward.

It is a custom autograd Function whose backward recomputes `fn` on detached copies of the
inputs and back-propagates through that recomputation: gradients of the tensors `fn` uses
but was not given (a module's parameters) are accumulated into their `.grad` there, as
PyTorch's reentrant variant does. So it is for eager `loss.backward()`; `autograd.grad` of
such a tensor, `create_graph=True`, `tinyflow.compile` and TF1 graphs see only the inputs'
gradients. The random state is put back before the recomputation (dropout draws the same
mask) unless `preserve_rng_state=False`.
"""
from __future__ import annotations

import warnings

from ..core.modes import enable_grad, grad_mode
from ..core.random import generator
from ..core.tensor import Tensor
from ..pytorch.autograd import backward as _backward
from ..pytorch.autograd_function import Function
from ..pytorch.creation import zeros

__all__ = ["checkpoint", "checkpoint_sequential"]


_SAVED = object()   # stands for a tensor argument in `ctx.others`


class _Recompute(Function):
    @staticmethod
    def forward(ctx, run, rng_state, anchor, *args):
        ctx.run, ctx.rng_state = run, rng_state
        ctx.save_for_backward(*[a for a in args if isinstance(a, Tensor)])
        ctx.others = [_SAVED if isinstance(a, Tensor) else a for a in args]
        return run(*args)

    @staticmethod
    def backward(ctx, *grads):
        saved = iter(ctx.saved_tensors)
        inputs = []
        for other in ctx.others:
            if other is _SAVED:
                t = next(saved)
                other = t.detach().requires_grad_(t.requires_grad)
            inputs.append(other)
        if ctx.rng_state is not None:
            bits = generator().bit_generator
            now, bits.state = bits.state, ctx.rng_state
        try:
            with enable_grad():
                outputs = ctx.run(*inputs)
        finally:
            if ctx.rng_state is not None:
                bits.state = now
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        pairs = [(o, g) for o, g in zip(outputs, grads)
                 if isinstance(o, Tensor) and o.requires_grad and g is not None]
        if pairs:
            _backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None, None) + tuple(a.grad if isinstance(a, Tensor) and a.requires_grad
                                          else None for a in inputs)


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check=None,
               debug=None, preserve_rng_state: bool = True, **kwargs):
    """`function(*args, **kwargs)`, its intermediate values recomputed in the backward
    instead of kept. `use_reentrant`, `determinism_check` and `debug` choose between PyTorch's
    two implementations and its checks; both give these gradients."""
    if context_fn is not None:
        raise NotImplementedError("checkpoint: context_fn is not supported")
    if use_reentrant is None:
        warnings.warn("checkpoint: pass use_reentrant=True or False explicitly, as PyTorch "
                      "asks (both give the same gradients here)", stacklevel=2)
    run = (lambda *a: function(*a, **kwargs)) if kwargs else function
    state = generator().bit_generator.state if preserve_rng_state else None
    # An input needing no gradient (the first layer's data) must not keep the parameters
    # inside from theirs: an empty tensor that needs one makes autograd record the call.
    anchor = None
    if grad_mode.enabled and not any(isinstance(a, Tensor) and a.requires_grad for a in args):
        anchor = zeros(0, requires_grad=True)
    return _Recompute.apply(run, state, anchor, *args)


def checkpoint_sequential(functions, segments: int, input, use_reentrant=None,  # noqa: A002
                          **kwargs):
    """`functions` (an nn.Sequential or a list of modules) run in `segments` consecutive
    pieces, each checkpointed but the last (whose output the backward needs first)."""
    functions = list(functions.children()) if hasattr(functions, "children") else \
        list(functions)
    if not 1 <= segments <= max(1, len(functions)):
        raise ValueError(f"checkpoint_sequential: segments must be between 1 and the "
                         f"number of functions ({len(functions)}), got {segments}")
    size = len(functions) // segments

    def run(start, end):
        def piece(x):
            for f in functions[start:end]:
                x = f(x)
            return x
        return piece

    end = 0
    for start in range(0, size * (segments - 1), size):
        end = start + size
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant,  # noqa: A001
                           **kwargs)
    return run(end, len(functions))(input)
