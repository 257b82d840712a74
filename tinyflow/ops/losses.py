"""Binary cross-entropy on probabilities as one op, so that its gradient is PyTorch's
(p - y) / max(p (1 - p), 1e-12): finite where a saturated sigmoid gives p exactly 0 or 1
(the composed logs' gradient there is 0 * inf = NaN). The smooth L1 loss per element as one
op: composed, it was nine ops forward and ten backward on a few elements (pytorch/examples'
regression: the step's largest part). The negative log-likelihood of log-probabilities at
class ids as one op each way (`Nll`, `NllGrad`): nll_loss when every target counts and no
class weight weighs it."""
from __future__ import annotations

from ..core.modes import needs_input_grad
from ..core.op import Op, apply, as_tensor, shared, sum_terms
from ..core.tensor import Tensor
from .math import abs as absolute, cast, less, log, maximum
from .nn import REDUCTIONS

EPSILON = 1e-12   # PyTorch's floor under p (1 - p) in the gradient
LOG_FLOOR = -100.0   # PyTorch's clamp of each log


class BinaryCrossEntropy(Op):
    """-(y log p + (1 - y) log(1 - p)) per element, each log clamped at -100."""
    name = "binary_cross_entropy"

    def infer(self, p, y):
        if p.dtype is not y.dtype:
            raise TypeError(f"expected input and target of one dtype, got {p.dtype.name} and "
                            f"{y.dtype.name}")
        if not p.dtype.is_floating:
            raise TypeError(f"expected floating point probabilities, got {p.dtype.name}")
        if None not in (p.shape, y.shape) and p.shape != y.shape:
            raise ValueError(f"input {p.shape} and target {y.shape} must have one shape")
        return p.shape if p.shape is not None else y.shape, p.dtype

    def vjp(self, g, out, p, y):
        return (g * _d_input(p, y) if needs_input_grad(0) else None,
                g * _d_target(p) if needs_input_grad(1) else None)

    def jvp(self, t, out, p, y):
        return sum_terms([None if t[0] is None else t[0] * _d_input(p, y),
                          None if t[1] is None else t[1] * _d_target(p)])


def _d_input(p, y):
    return (p - y) / maximum(p * (1 - p), EPSILON)


def _d_target(p):
    return log(1 - p) - log(p)   # unclamped, as PyTorch's (inf at p = 0 or 1)


def binary_cross_entropy(p, y) -> Tensor:
    return apply(BinaryCrossEntropy(), as_tensor(p), as_tensor(y))


class SmoothL1(Op):
    """0.5 d^2 / beta where |d| < beta, else |d| - beta / 2, of d = x - y per element (x and
    y of one shape and dtype; beta > 0). Its gradient is PyTorch's, g * clamp(d / beta, -1, 1)."""
    name = "smooth_l1"
    beta: float

    def infer(self, x, y):
        return _one_float_shape(x, y)

    def vjp(self, g, out, x, y):
        gx = g * smooth_l1_slope(x, y, self.beta)
        return (gx if needs_input_grad(0) else None, -gx if needs_input_grad(1) else None)

    def jvp(self, t, out, x, y):
        slope = smooth_l1_slope(x, y, self.beta)
        return sum_terms([None if t[0] is None else t[0] * slope,
                          None if t[1] is None else -(t[1] * slope)])


class SmoothL1Slope(Op):
    """d SmoothL1 / d x: clamp((x - y) / beta, -1, 1) (one op, where a composed clamp is six).
    Its own derivative, for a second backward or a Hessian: 1 / beta where |x - y| < beta,
    else 0."""
    name = "smooth_l1_slope"
    beta: float

    def infer(self, x, y):
        return _one_float_shape(x, y)

    def vjp(self, g, out, x, y):
        gx = g * self._curvature(x, y, g.dtype)
        return (gx if needs_input_grad(0) else None, -gx if needs_input_grad(1) else None)

    def jvp(self, t, out, x, y):
        # forward over reverse (torch.func.hessian = jacfwd(grad)): the composed loss had it
        inside = self._curvature(x, y, out.dtype)
        return sum_terms([None if t[0] is None else t[0] * inside,
                          None if t[1] is None else -(t[1] * inside)])

    def _curvature(self, x, y, dtype):
        return cast(less(absolute(x - y), self.beta), dtype) / self.beta


def _one_float_shape(x, y):
    if x.dtype is not y.dtype or not x.dtype.is_floating:
        raise TypeError(f"expected input and target of one floating dtype, got "
                        f"{x.dtype.name} and {y.dtype.name}")
    if None not in (x.shape, y.shape) and x.shape != y.shape:
        raise ValueError(f"input {x.shape} and target {y.shape} must have one shape")
    return x.shape if x.shape is not None else y.shape, x.dtype


def smooth_l1(x, y, beta: float) -> Tensor:
    return apply(shared(SmoothL1, float(beta)), as_tensor(x), as_tensor(y))


def smooth_l1_slope(x, y, beta: float) -> Tensor:
    return apply(shared(SmoothL1Slope, float(beta)), as_tensor(x), as_tensor(y))


class Nll(Op):
    """-logp[..., label] per example, then their mean or sum (`reduction`, as PyTorch's
    nll_loss with every target counted and no class weight): a char-RNN's loss per letter
    as one op, where a gather, its index, a squeeze, a negation and a mean were five each
    way. Linear in logp; the kernel refuses ids outside [0, classes)."""
    name = "nll"
    saves_output = False
    linearity = "linear"
    linear_inputs = 1
    reduction: str = "mean"

    def infer(self, logp, labels):
        if not labels.dtype.is_integer:
            raise TypeError(f"labels must be integer class ids, got {labels.dtype.name}")
        if not logp.dtype.is_floating:
            raise TypeError(f"log-probabilities must be floating point, got "
                            f"{logp.dtype.name}")
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"reduction={self.reduction!r} is unknown; use 'mean', 'sum' "
                             f"or 'none'")
        if logp.shape is None:
            return (None if self.reduction == "none" else ()), logp.dtype
        if not logp.shape:
            raise ValueError("log-probabilities need at least one dim (the classes)")
        examples = logp.shape[:-1]
        if labels.shape is not None and (len(labels.shape) != len(examples) or any(
                a is not None and b is not None and a != b
                for a, b in zip(labels.shape, examples))):
            raise ValueError(f"labels {labels.shape} must have shape {examples} for "
                             f"log-probabilities {logp.shape}")
        return (examples if self.reduction == "none" else ()), logp.dtype

    def vjp(self, g, out, logp, labels):
        return apply(shared(NllGrad, self.reduction), g, labels, logp), None


class NllGrad(Op):
    """Zeros shaped like `ref` (the log-probabilities) with -g at each label, over the
    number of examples for 'mean': `Nll`'s gradient, linear in g (its own gradient is `Nll`
    of the incoming one). `ref` gives only the shape."""
    name = "nll_grad"
    saves_inputs = False
    saves_output = False
    linearity = "linear"
    linear_inputs = 1
    reduction: str = "mean"

    def infer(self, g, labels, ref):
        shape, dtype = shared(Nll, self.reduction).infer(ref, labels)
        if g.dtype is not dtype:
            raise TypeError(f"g ({g.dtype.name}) must have the log-probabilities' dtype "
                            f"({dtype.name})")
        if g.shape is not None and shape is not None and (
                len(g.shape) != len(shape) or any(a is not None and b is not None and a != b
                                                  for a, b in zip(g.shape, shape))):
            raise ValueError(f"g {g.shape} must have the loss's shape {shape}")
        return ref.shape, dtype

    def vjp(self, gg, out, g, labels, ref):
        return nll(gg, labels, self.reduction), None, None


def nll(logp, labels, reduction: str = "mean") -> Tensor:
    return apply(shared(Nll, reduction), as_tensor(logp), as_tensor(labels))
