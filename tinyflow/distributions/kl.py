"""`kl_divergence(p, q)`: KL(p || q) in closed form for the pairs registered here, batched
like the distributions; `register_kl(P, Q)` adds a pair (the most specific registered
classes win, as in PyTorch)."""
from __future__ import annotations

import math

from ..pytorch.shared_names import where
from .bernoulli import Bernoulli, softplus
from .categorical import Categorical
from .independent import Independent, sum_last
from .normal import Normal
from .uniform import Uniform

_RULES: dict = {}


def register_kl(type_p: type, type_q: type):
    """Decorator: `@register_kl(P, Q) def kl(p, q): ...`."""
    def add(rule):
        _RULES[type_p, type_q] = rule
        return rule
    return add


def kl_divergence(p, q):
    """KL(p || q), of shape p's batch_shape."""
    matches = [(tp, tq) for tp, tq in _RULES if isinstance(p, tp) and isinstance(q, tq)]
    if not matches:
        raise NotImplementedError(f"kl_divergence: no rule for {type(p).__name__} and "
                                  f"{type(q).__name__}; add one with register_kl")
    best = min(matches, key=lambda pair: (type(p).__mro__.index(pair[0]),
                                          type(q).__mro__.index(pair[1])))
    return _RULES[best](p, q)


@register_kl(Normal, Normal)
def _normal_normal(p, q):
    ratio = (p.scale / q.scale) ** 2
    return 0.5 * (ratio + ((p.loc - q.loc) / q.scale) ** 2 - 1 - ratio.log())


@register_kl(Categorical, Categorical)
def _categorical_categorical(p, q):
    terms = p.probs * (p.logits - q.logits)
    return where(p.probs == 0, 0.0, terms).sum(-1)   # 0 log 0 = 0


@register_kl(Bernoulli, Bernoulli)
def _bernoulli_bernoulli(p, q):
    ones = p.probs * (softplus(-q.logits) - softplus(-p.logits))
    zeros = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
    return where(p.probs == 0, 0.0, ones) + where(p.probs == 1, 0.0, zeros)


@register_kl(Uniform, Uniform)
def _uniform_uniform(p, q):
    """log of the width ratio; infinite where p's support leaves q's."""
    inside = (q.low <= p.low) & (p.high <= q.high)
    return where(inside, ((q.high - q.low) / (p.high - p.low)).log(), math.inf)


@register_kl(Independent, Independent)
def _independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError(f"kl_divergence: Independent distributions over "
                                  f"{p.reinterpreted_batch_ndims} and "
                                  f"{q.reinterpreted_batch_ndims} event dims")
    return sum_last(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)
