"""Nested tuples, lists and dicts of leaves (tensors, fetch names, ...): flattened to a list of
leaves and a spec, and rebuilt from them. What `Session.run` does with its fetches, the
function transforms with their arguments, and the exporters with a model's outputs."""
from __future__ import annotations


def tree_flatten(tree) -> tuple:
    """(leaves, spec): the leaves in order, and what `tree_unflatten` rebuilds from."""
    if isinstance(tree, (tuple, list)):
        parts = [tree_flatten(x) for x in tree]
        return [leaf for leaves, _ in parts for leaf in leaves], (type(tree), [s for _, s in parts])
    if isinstance(tree, dict):
        parts = [tree_flatten(v) for v in tree.values()]
        return ([leaf for leaves, _ in parts for leaf in leaves],
                (dict, list(tree), [s for _, s in parts]))
    return [tree], None


def tree_unflatten(spec, leaves) -> object:
    """The nesting `spec` describes, with `leaves` in order (a namedtuple is rebuilt as one)."""
    return _build(spec, iter(leaves))


def _build(spec, it):
    if spec is None:
        return next(it)
    if spec[0] is dict:
        return {k: _build(s, it) for k, s in zip(spec[1], spec[2])}
    items = [_build(s, it) for s in spec[1]]
    kind = spec[0]
    return items if kind is list else tuple(items) if kind is tuple else kind(*items)
