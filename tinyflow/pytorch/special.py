"""`torch.special`: the special functions under their SciPy-style names, as compositions of
the ops (erf, sigmoid, log_softmax, ...) and of the elementwise extras."""
from __future__ import annotations

import math

from .. import ops
from ..ops import special_functions
from ..ops.special_functions import digamma, erfinv, i0, i1  # noqa: F401
from ..ops.special_functions import lgamma as gammaln  # noqa: F401
from .elementwise import _where_zero, erfc, exp2, expit, floating, logit, sinc, xlogy  # noqa: F401
from .inplace import write_out
from .shared_names import log_softmax, logsumexp, softmax  # noqa: F401
from .zero_dim import wrap_namespace


erf = ops.erf         # integers give float32 (the ops' rule)
expm1 = ops.expm1
log1p = ops.log1p
psi = digamma


def ndtr(input, *, out=None):  # noqa: A002
    """The standard normal CDF: (1 + erf(x / sqrt 2)) / 2."""
    return write_out(0.5 * (1 + ops.erf(floating(input) * (1 / math.sqrt(2)))), out)


def erfcx(input, *, out=None):  # noqa: A002
    """e^(x^2) erfc(x), finite for large x where the product would be inf * 0."""
    return write_out(special_functions.erfcx(floating(input)), out)


def log_ndtr(input, *, out=None):  # noqa: A002
    """log of the normal CDF: log(erfcx(-x / sqrt 2) / 2) - x^2 / 2 below -1 (where the CDF
    underflows), log1p(-erfc(x / sqrt 2) / 2) above; each branch sees only its own inputs,
    so neither's infinities reach the gradient of the other."""
    x = floating(input)
    low = ops.less(x, -1.0)
    below = ops.where(low, x, ops.zeros_like(x) - 1.0)
    above = ops.where(low, ops.zeros_like(x), x)
    tail = ops.log(special_functions.erfcx(below * (-1 / math.sqrt(2))) * 0.5) - below * below * 0.5
    body = ops.log1p(special_functions.erfc(above * (1 / math.sqrt(2))) * -0.5)
    return write_out(ops.where(low, tail, body), out)


def entr(input, *, out=None):  # noqa: A002
    """-x log x (0 at 0, -inf below 0)."""
    x = floating(input)
    value = -xlogy(x, x)
    return write_out(ops.where(ops.less(x, 0), ops.zeros_like(x) - math.inf, value), out)


def xlog1py(input, other, *, out=None):  # noqa: A002
    """x * log1p(y), 0 where x == 0 (unless y is NaN); the gradient wrt x there is
    log1p(y), as PyTorch's."""
    x, y = ops.math.operands(floating(input), other)
    y = floating(y)
    return write_out(x * ops.log1p(_where_zero(x, y, bad=ops.logical_or(
        ops.less_equal(y, -1), ops.equal(y, math.inf)), safe=0.0)), out)


# ---- one-liners over the ops above ----------------------------------------------------------

round = ops.round  # noqa: A001
modified_bessel_i0 = i0
modified_bessel_i1 = i1


def i0e(input, *, out=None):  # noqa: A002
    """exp(-|x|) i0(x), finite where i0 overflows."""
    return write_out(special_functions.i0e(floating(input)), out)


def i1e(input, *, out=None):  # noqa: A002
    """exp(-|x|) i1(x), finite where i1 overflows."""
    return write_out(special_functions.i1e(floating(input)), out)


def ndtri(input, *, out=None):  # noqa: A002
    """The inverse of the normal CDF: sqrt 2 * erfinv(2 p - 1)."""
    return write_out(math.sqrt(2) * erfinv(2 * floating(input) - 1), out)


def multigammaln(input, p, *, out=None):  # noqa: A002
    """log of the multivariate gamma function of dimension p."""
    x = floating(input)
    terms = [gammaln(x - 0.5 * j) for j in range(p)]
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return write_out(total + p * (p - 1) / 4 * math.log(math.pi), out)


wrap_namespace(globals())   # special.softmax(torch.tensor(3.), 0), as torch.softmax
