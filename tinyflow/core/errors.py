"""Errors that name the op, the shapes and the user's line of code."""
from __future__ import annotations

import os
import sys

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class TinyflowError(Exception):
    """Base class of every error tinyflow raises on purpose."""


class ShapeError(TinyflowError, ValueError, RuntimeError):
    """Shapes that an op cannot accept, found when the node is built. Also a RuntimeError,
    the class PyTorch raises for the same mistakes, so `except RuntimeError` code works."""


class DTypeError(TinyflowError, TypeError, RuntimeError):
    """Element types that an op cannot accept (a RuntimeError too, as in PyTorch)."""


class IndexOutOfRangeError(TinyflowError, IndexError, RuntimeError):
    """An index outside its dimension, found when a kernel runs: an IndexError as Python
    raises (PyTorch raises IndexError or RuntimeError, by op)."""


class IndexShapeError(ShapeError, IndexOutOfRangeError):
    """An index outside its dimension, found when the node is built (shapes known)."""


class IntegerDivisionByZero(TinyflowError, ZeroDivisionError, RuntimeError):
    """// or % of integers by zero: a RuntimeError as PyTorch raises, a ZeroDivisionError
    as Python's integers raise."""


class ValueRuntimeError(TinyflowError, ValueError, RuntimeError):
    """A value an op cannot take (an integer to a negative power, `item()` of many
    elements): a RuntimeError as PyTorch raises, a ValueError as NumPy raises."""


class FeedError(TinyflowError, ValueError):
    """A feed that is missing, or of the wrong shape or dtype."""


class FetchError(TinyflowError, ValueError):
    """A fetch that is not a tensor of the session's graph."""


class FeedTypeError(FeedError, TypeError):
    """A feed key or value of a kind that cannot be fed (TF1 raises TypeError)."""


class FetchTypeError(FetchError, TypeError):
    """A fetch that is not a tensor, op or name at all (TF1 raises TypeError)."""


class UninitializedVariableError(TinyflowError, RuntimeError):
    """A variable read before its initializer ran."""


_OURS: dict = {}    # a code object's file name -> whether it is a file of the package


def user_site() -> str:
    """`file:line` of the innermost frame outside the tinyflow package, for error messages
    (and every node a trace makes: each file is tested once, not at every frame of every
    node, which took half a GPT step's trace)."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        ours = _OURS.get(filename)
        if ours is None:
            ours = _OURS[filename] = os.path.abspath(filename).startswith(
                _PACKAGE_DIR + os.sep)
        if not ours:
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


# Messages raised in several places (eager, traced and remote backward), written once.

def no_history_error(what: str = "the tensor") -> RuntimeError:
    """backward() of a tensor that does not require grad: nothing to differentiate."""
    return RuntimeError(f"backward(): {what} does not require grad and has no grad_fn, so "
                        f"there is nothing to differentiate; make a leaf it is computed "
                        f"from with requires_grad=True (and compute it outside no_grad)")


def implicit_seed_error(shape) -> RuntimeError:
    """backward()/grad() without a gradient of an output that is not one element."""
    return RuntimeError(f"backward(): the output has shape {shape}, not one element, so the "
                        f"starting gradient cannot be taken as 1; pass gradient= of that "
                        f"shape, or reduce the output first (e.g. .sum())")


def freed_graph_error(where: str) -> RuntimeError:
    """A second backward through a node whose saved values the first one freed."""
    return RuntimeError(f"backward(): {where} was already differentiated and its saved "
                        f"values were freed; to run backward through it twice, pass "
                        f"retain_graph=True to the first backward()")


def leaf_write_error(view: bool = False) -> RuntimeError:
    """An in-place write, under grad mode, into a leaf that requires grad (or a view of one)."""
    target = "a view of a leaf tensor" if view else "a leaf tensor"
    return RuntimeError(f"in-place write into {target} that requires grad: its gradient "
                        f"is taken at the values it holds; write under torch.no_grad(), or "
                        f"write into a clone()")


def overwritten_error(what: str, t, saved_version: int) -> RuntimeError:
    """A value saved for a gradient that an in-place op changed before backward read it."""
    return RuntimeError(f"backward(): {what}, a tensor of shape {list(t.shape)} and dtype "
                        f"{t.dtype.name}, was saved for the gradient and then modified by an "
                        f"in-place operation (it is at version {t._version[0]}, saved at "
                        f"{saved_version}); write out of place, or into a clone()")


def out_needs_grad_error(name: str) -> RuntimeError:
    """`out=` with an argument that requires grad: a write into out= is not differentiated."""
    return RuntimeError(f"{name}: an argument requires grad, and a result written into out= "
                        f"is not differentiated; drop out= (or compute under no_grad)")


class InvalidArgumentError(TinyflowError, ValueError):
    """A check that failed when a graph ran (TF1's `tf.errors.InvalidArgumentError`: a failed
    `tf.Assert`, a value an op refuses)."""
