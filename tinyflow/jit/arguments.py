"""What goes into and comes out of a compiled call: each argument's guard (what a later call
must match to reuse a graph), and the result's structure with traced tensors as fetches."""
from __future__ import annotations

import dataclasses
from typing import Any, Optional

from ..core.tensor import EAGER, Tensor
from ..nn.modules.module import Module
from ..optim.optimizer import Optimizer

SCALARS = (bool, int, float, str, type(None))


def leaves(tree, path=()):
    """(path, value) of every non-container in nested tuples, lists and dicts."""
    if type(tree) is tuple and path and not any(isinstance(v, (tuple, list, dict))
                                                for v in tree):
        return [(path + (k,), v) for k, v in enumerate(tree)]   # flat: the common case
    return list(_walk(tree, path))


def _walk(tree, path):
    if isinstance(tree, (tuple, list)):
        for k, v in enumerate(tree):
            yield from _walk(v, path + (k,))
    elif isinstance(tree, dict):
        for k, v in tree.items():
            yield from _walk(v, path + (k,))
    else:
        yield path, tree


def same_kind(container, items: list):
    """`items` in a container of `container`'s type: a namedtuple (torch.max's, torch.sort's
    (values, indices)) takes them as fields."""
    if hasattr(container, "_fields"):
        return type(container)(*items)
    return type(container)(items)


def map_tree(tree, fn):
    if isinstance(tree, (tuple, list)):
        return same_kind(tree, [map_tree(v, fn) for v in tree])
    if isinstance(tree, dict):
        return {k: map_tree(v, fn) for k, v in tree.items()}
    return fn(tree)


def guard(value, dims: tuple, path) -> tuple:
    """What a call must match to reuse a graph traced with `value` in this position."""
    if isinstance(value, Tensor):
        if value.kind != EAGER:
            raise TypeError(f"tinyflow.compile: argument {_where(path)} is a symbolic tensor "
                            f"({value.name}); compiled functions take eager tensors")
        shape = value.array.shape
        if dims:
            shape = tuple(None if k in dims else n for k, n in enumerate(shape))
        return ("T", shape, value.dtype.name, value.requires_grad)
    if isinstance(value, SCALARS):
        return ("S", type(value).__name__, value)
    if isinstance(value, (Module, Optimizer)):
        training = tuple(m.training for m in value.modules()) if isinstance(value, Module) \
            else ()
        return ("O", id(value), training)
    raise TypeError(f"tinyflow.compile: argument {_where(path)} of type "
                    f"{type(value).__name__} is not supported; pass tensors, Python scalars "
                    f"or strings, modules or optimizers (in tuples, lists or dicts)")


def _where(path) -> str:
    """'2' for the third positional argument, 'lr' for a keyword, '0/1' inside a tuple."""
    return "/".join(str(p) for p in path[1:])


def flatten_result(result, tracer):
    """The result's structure with each traced tensor replaced by its fetch index."""
    fetches: list = []

    def one(value):
        if isinstance(value, Tensor):
            if id(value) in tracer.stale:
                tracer.graph_break("a result whose view was written in place")
            value = tracer.current.get(id(value), value)
            if id(value) in tracer.real:   # an argument (or a fed .grad) returned as is:
                fed = [id(n) for n in tracer.graph.nodes if id(n) in tracer.real]
                return _Out(False, None, fed.index(id(value)))   # each call's own
            if value.kind != EAGER and value.graph is not tracer.graph:
                return _Out(False, value)   # a TF1 graph's tensor (a TF1 draw): as eager
            if value.kind != EAGER:
                fetches.append(value)
                return _Out(True, len(fetches) - 1)
            return _Out(False, value)
        if isinstance(value, SCALARS):
            return _Out(False, value)
        raise TypeError(f"tinyflow.compile: the function returned a {type(value).__name__}; "
                        f"compiled functions return tensors and Python scalars (in tuples, "
                        f"lists or dicts)")
    return map_tree(result, one) if isinstance(result, (tuple, list, dict)) else one(result), \
        fetches


@dataclasses.dataclass
class _Out:
    """One returned value: a fetch index of the plan, or the value itself."""
    fetched: bool
    ref: Any
    fed: Optional[int] = None   # else: the call's fed tensor at this position (`_Graph.inputs`)


def rebuild(structure, make, fed=()):
    """The function's result, `make(k)` giving the tensor for fetch k, `fed` the call's
    tensor arguments and fed `.grad`s."""
    if isinstance(structure, _Out):
        if structure.fetched:
            return make(structure.ref)
        return structure.ref if structure.fed is None else fed[structure.fed]
    if isinstance(structure, (tuple, list)):
        return same_kind(structure, [rebuild(s, make, fed) for s in structure])
    if isinstance(structure, dict):
        return {k: rebuild(s, make, fed) for k, s in structure.items()}
    return structure
