"""A user's autograd.Function output: its forward already computed the value (input 0)."""
from ...ops import custom
from .registry import kernel


@kernel(custom.CustomFunction)
def custom_function(op, value, *inputs):
    return value
