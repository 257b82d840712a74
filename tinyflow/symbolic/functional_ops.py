"""TF1's higher-order functions: `map_fn`, `scan`, `foldl` and `foldr` unrolled into the
graph (a tinyflow graph has no loops, so the leading dimension must be known when the graph
is built), and `case` / `switch_case` as nested `tf.cond`s (with TF1's run-time checks)."""
from __future__ import annotations

from .. import ops
from ..core import dtypes
from ..core.errors import InvalidArgumentError
from ..core.op import as_tensor
from ..core.pytree import tree_flatten, tree_unflatten
from ..core.tensor import EAGER
from ..ops.debug import checked
from .control_flow import cond


def _flatten(structure) -> list:
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in _flatten(item)]
    return [structure]


def _pack(structure, leaves):
    """leaves (an iterator) in structure's nesting of lists and tuples."""
    if isinstance(structure, (list, tuple)):
        return type(structure)(_pack(item, leaves) for item in structure)
    return next(leaves)


def _slices(fn_name: str, elems) -> list:
    """elems' structure once per step: each tensor unstacked along its first dim."""
    leaves = [as_tensor(e) for e in _flatten(elems)]
    if not leaves:
        raise ValueError(f"tf.{fn_name}: elems must hold at least one tensor")
    lengths = {None if x.ndim in (None, 0) else x.shape[0] for x in leaves}
    if None in lengths:
        shapes = ", ".join(str(x.shape) for x in leaves)
        raise ValueError(
            f"tf.{fn_name}: the leading dimension of elems (shapes {shapes}) must be known "
            f"when the graph is built: tinyflow graphs have no loops (see tf.while_loop), so "
            f"{fn_name} is unrolled one step per element. Give the placeholder a fixed first "
            f"dimension, or apply the function to the whole batch at once")
    if len(lengths) != 1:
        raise ValueError(f"tf.{fn_name}: the tensors of elems must have one leading "
                         f"dimension, got {sorted(lengths)}")
    n = lengths.pop()
    if n == 0:
        raise ValueError(f"tf.{fn_name}: elems have no elements (leading dimension 0)")
    columns = [ops.unstack(x, n) for x in leaves]
    return [_pack(elems, iter(step)) for step in zip(*columns)]


def _stack(steps: list):
    """One stacked tensor per leaf of the steps' (common) structure."""
    columns = zip(*(_flatten(step) for step in steps))
    return _pack(steps[0], iter([ops.stack([as_tensor(v) for v in c]) for c in columns]))


def map_fn(fn, elems, dtype=None, parallel_iterations=None, back_prop=True,
           swap_memory=False, infer_shape=True, name=None):
    """fn applied to each element of elems (unstacked on dim 0), the results stacked."""
    return _stack([fn(x) for x in _slices("map_fn", elems)])


def scan(fn, elems, initializer=None, parallel_iterations=10, back_prop=True,
         swap_memory=False, infer_shape=True, reverse=False, name=None):
    """Every accumulator of acc = fn(acc, x) over elems (from the end if reverse), stacked
    in elems' order; without an initializer the first element is the first accumulator."""
    steps = _slices("scan", elems)
    order = list(range(len(steps)))[::-1] if reverse else list(range(len(steps)))
    if initializer is None:
        acc, order = steps[order[0]], order[1:]
        results = {(len(steps) - 1 if reverse else 0): acc}
    else:
        acc, results = initializer, {}
    for k in order:
        acc = results[k] = fn(acc, steps[k])
    return _stack([results[k] for k in sorted(results)])


def _fold(fn_name: str, fn, elems, initializer, from_end: bool):
    steps = _slices(fn_name, elems)
    steps = steps[::-1] if from_end else steps
    acc = steps.pop(0) if initializer is None else initializer
    for x in steps:
        acc = fn(acc, x)
    return acc


def foldl(fn, elems, initializer=None, parallel_iterations=10, back_prop=True,
          swap_memory=False, name=None):
    """acc = fn(acc, x) over elems from the first (which is the start without an
    initializer); the last acc."""
    return _fold("foldl", fn, elems, initializer, from_end=False)


def foldr(fn, elems, initializer=None, parallel_iterations=10, back_prop=True,
          swap_memory=False, name=None):
    """foldl from the last element to the first."""
    return _fold("foldr", fn, elems, initializer, from_end=True)


def case(pred_fn_pairs, default=None, exclusive=False, strict=False, name="case"):
    """The value of the first fn whose pred holds, else of default: nested tf.conds. As
    TF1's, when run (or at once, eagerly) it raises InvalidArgumentError if no pred holds
    and there is no default (the last fn stands in for it), and, with exclusive, if more
    than one pred holds."""
    pairs = list(pred_fn_pairs.items() if isinstance(pred_fn_pairs, dict) else pred_fn_pairs)
    if not pairs or any(not isinstance(p, (list, tuple)) or len(p) != 2 or not callable(p[1])
                        for p in pairs):
        raise TypeError("tf.case: pred_fn_pairs must be a non-empty list of (pred, callable) "
                        "pairs")
    preds = ops.stack([as_tensor(p) for p, _ in pairs])
    count = ops.reduce_sum(ops.cast(preds, dtypes.int32))
    checks = []
    if default is None:
        pairs, default = pairs[:-1], pairs[-1][1]
        checks.append((ops.greater(count, 0), "no predicate holds and there is no default"))
    if exclusive:
        checks.append((ops.less_equal(count, 1), "more than one predicate holds, but "
                                                 "exclusive=True"))
    if not callable(default):
        raise TypeError(f"tf.case: default must be callable, got {default!r}")
    branch = default
    for pred, fn in reversed(pairs):
        branch = _chain(pred, fn, branch)
    result = branch()
    for holds, problem in checks:
        result = _checked_leaves(result, holds, _case_error(name, problem), preds)
    return result


def _case_error(name: str, problem: str):
    def describe(holds, preds) -> str:
        return f"tf.{name}: {problem} (predicates {preds.tolist()})"
    return describe


def _checked_leaves(result, holds, describe, preds):
    """result with every tensor checked (an op grouped with the check), eagerly at once."""
    if holds.kind == EAGER:
        if not bool(holds.array):
            raise InvalidArgumentError(describe(holds.array, preds.array))
        return result
    leaves, spec = tree_flatten(result)
    checked_leaves = []
    for leaf in leaves:
        leaf = as_tensor(leaf)
        if leaf.dtype is None:    # an op (tf.group, an assign's group): run the check too
            check = checked(ops.cast(holds, dtypes.int32), holds, describe, preds)
            checked_leaves.append(ops.group(leaf, check))
        else:
            checked_leaves.append(checked(leaf, holds, describe, preds))
    return tree_unflatten(spec, checked_leaves)


def _chain(pred, fn, otherwise):
    return lambda: cond(pred, fn, otherwise)


def switch_case(branch_index, branch_fns, default=None, name="switch_case"):
    """branch_fns[branch_index]() (a list, or a dict / pairs keyed by int); an index out of
    range runs default, or the last branch when default is None."""
    fns = dict(branch_fns.items() if isinstance(branch_fns, dict) else
               branch_fns if all(isinstance(b, (list, tuple)) for b in branch_fns) else
               enumerate(branch_fns))
    if not fns or not all(callable(f) for f in fns.values()):
        raise TypeError("tf.switch_case: branch_fns must be a non-empty list of callables "
                        "or a dict of int keys to callables")
    index = as_tensor(branch_index)
    if not index.dtype.is_integer or index.ndim not in (0, None):
        raise TypeError(f"tf.switch_case: branch_index must be an int scalar tensor, got "
                        f"{index.dtype.name} of shape {index.shape}")
    keys = sorted(fns)
    return case([(ops.equal(index, k), fns[k]) for k in keys],
                default=default or fns[keys[-1]])
