"""Reverse mode (`gradients`, `backward`) and forward mode (`forward_gradients`)."""
from .forward import forward_gradients
from .reverse import backward, gradients

__all__ = ["backward", "forward_gradients", "gradients"]
