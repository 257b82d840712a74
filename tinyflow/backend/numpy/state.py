"""State kernels. Assigning to a TF1 variable is done by the runtime (it owns the values);
this kernel covers eager tensors, which are overwritten in place."""
from ...ops import state
from .registry import kernel


@kernel(state.Assign)
def assign(op, target, value):
    target[...] = value
    return target


@kernel(state.NoOp)
def no_op(op):
    return None
