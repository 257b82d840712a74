"""Normalization over some axes as one op, and its gradient as one op: the core of layer,
group and instance norm. Composed from primitive ops it is five ops forward and about twenty
backward, each a full pass over the activations; fused it is one kernel each way. Training
batch norm folds its per-channel scale and shift in too (`BatchNorm`), and its statistics
for the running averages are one op (`BatchMoments`); in eval mode it is one per-channel
multiply-add (`ChannelAffine`), its scale and shift made inside one op (`BatchNormEval`)."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ..core.modes import needs_input_grad
from ..core.op import Op, apply, as_tensor, sum_terms
from ..core.shapes import broadcast_shapes, normalize_axes
from ..core.dtypes import float64
from ..core.tensor import EAGER, Tensor, new_eager
from .creation import zeros_like
from .math import check_floating, sqrt
from .reduce import reduce_mean, reduce_sum
from .shape import concat, getitem, reshape, reshape_to, stack


def _check(op: Op, *xs: Tensor) -> None:
    check_floating(*xs)
    for x in xs:
        if x.shape is not None:
            normalize_axes(op.axes, len(x.shape))


def normalize_composed(x: Tensor, axes: tuple, eps: float) -> tuple:
    """(x - mean) / sqrt(biased var + eps) over `axes` with primitive ops, and 1 / sqrt(...)."""
    centered = x - reduce_mean(x, axes, keepdims=True)
    std = sqrt(reduce_mean(centered * centered, axes, keepdims=True) + eps)
    return centered / std, 1 / std


class Normalize(Op):
    """(x - mean) / sqrt(var + eps) over `axes`, with the biased variance (as layer norm)."""
    name = "normalize"
    saves_output = False
    axes: tuple[int, ...]
    eps: float

    def infer(self, x):
        _check(self, x)
        return x.shape, x.dtype

    def vjp(self, g, out, x):
        return (apply(NormalizeGrad(axes=self.axes, eps=self.eps), g, x),)

    def jvp(self, t, out, x):
        # The Jacobian (I - 1 1^T / n - y y^T / n) / std is symmetric: J t = J^T t.
        return apply(NormalizeGrad(axes=self.axes, eps=self.eps), t[0], x)


class NormalizeGrad(Op):
    """normalize_grad(g, x) = (g - mean(g) - y mean(g y)) / std, y = normalize(x)."""
    name = "normalize_grad"
    composed = True       # derivatives: autodiff differentiates compose()
    axes: tuple[int, ...]
    eps: float

    def infer(self, g, x):
        _check(self, g, x)
        if g.shape is not None and x.shape is not None and (
                len(g.shape) != len(x.shape) or any(a is not None and b is not None and a != b
                                                    for a, b in zip(g.shape, x.shape))):
            raise ValueError(f"g {g.shape} must have the shape of x {x.shape}")
        return broadcast_shapes(g.shape, x.shape), x.dtype

    def compose(self, g, x):
        y, inv_std = normalize_composed(x, self.axes, self.eps)
        return inv_std * (g - reduce_mean(g, self.axes, keepdims=True)
                          - y * reduce_mean(g * y, self.axes, keepdims=True))


def normalize(x, axes, eps: float = 1e-5, name=None) -> Tensor:
    axes = (axes,) if isinstance(axes, int) else tuple(int(a) for a in axes)
    return apply(Normalize(axes=axes, eps=float(eps)), as_tensor(x), name=name)


# ---- layer norm with its scale and shift ---------------------------------------------------

def _check_layer(x, w, *more) -> None:
    """w and the other vectors have x's float dtype and x's trailing dims as their shape."""
    check_floating(x, w, *more)
    for v in (w,) + more:
        if v.dtype is not x.dtype:
            raise TypeError(f"the input ({x.dtype.name}) and the scale and shift "
                            f"({v.dtype.name}) must have the same dtype")
        if v.shape is None or x.shape is None:
            continue
        if len(v.shape) == 0 or len(v.shape) > len(x.shape) or any(
                a is not None and b is not None and a != b
                for a, b in zip(v.shape, x.shape[len(x.shape) - len(v.shape):])):
            raise ValueError(f"a scale or shift of shape {v.shape} must be the input's "
                             f"trailing dims (input shape {x.shape})")


def _trailing(x, dims: int) -> tuple:
    return tuple(range(len(x.shape) - dims, len(x.shape)))


def layer_norm_grads_parts(both, x, dims: int) -> tuple:
    """(dx, dw, db) from the rows of a `LayerNormGrads` value of x (static shape) with a
    scale of rank `dims`: getitem, then reshape, the form passes/residual_grads recognises."""
    n = math.prod(x.shape[:len(x.shape) - dims])
    return (reshape(getitem(both, slice(None, n)), x.shape), getitem(both, n),
            getitem(both, n + 1))


class LayerNorm(Op):
    """normalize(x) over its trailing dims (w's shape) times w plus b: layer norm as one op
    each way, where composing it takes the normalization, a product and a sum forward and
    four more passes over x's size backward."""
    name = "layer_norm"
    saves_output = False
    joins_first_adjoint = True   # a residual's gradient joins dx in the backward kernel
    eps: float

    def infer(self, x, w, b):
        _check_layer(x, w, b)
        if w.shape is not None and b.shape is not None and tuple(w.shape) != tuple(b.shape):
            raise ValueError(f"scale {w.shape} and shift {b.shape} must have one shape")
        return x.shape, x.dtype

    def vjp(self, g, out, x, w, b):
        params = needs_input_grad(1) or needs_input_grad(2)
        dims = next((len(v.shape) for v in (w, b) if v.shape is not None), None)
        if params and (needs_input_grad(0) or dims is None):
            # One kernel for all three; with the scale's rank unknown (a graph placeholder
            # of no shape) it is also the only way, as its kernel reads the rank at run time.
            both = apply(LayerNormGrads(eps=self.eps), g, x, w)
            if dims is not None and x.shape is not None and None not in x.shape:
                return layer_norm_grads_parts(both, x, dims)
            dx = reshape_to(getitem(both, slice(None, -2)), x) if needs_input_grad(0) else None
            return dx, getitem(both, -2), getitem(both, -1)
        dx = apply(LayerNormGrad(eps=self.eps), g, x, w) if needs_input_grad(0) else None
        if not params:
            return dx, None, None
        sums = apply(LayerNormParamGrad(dims=dims, eps=self.eps), g, x)
        return dx, getitem(sums, 0), getitem(sums, 1)

    def vjp_joining(self, g, out, r, x, w, b):
        from .fused import layer_norm_vjp_joined   # (fused's ops build on this module's)
        return layer_norm_vjp_joined(self, g, x, w, b, r)

    def jvp(self, t, out, x, w, b):
        tx, tw, tb = t
        norm = Normalize(axes=_trailing(x, len(w.shape)), eps=self.eps)
        if tb is not None and tx is None and tw is None:
            tb = tb + zeros_like(x)      # the tangent has the output's shape
        return sum_terms((None if tx is None else apply(NormalizeGrad(axes=norm.axes,
                                                                      eps=self.eps), tx, x) * w,
                          None if tw is None else apply(norm, x) * tw, tb))


class LayerNormGrad(Op):
    """The input gradient of `LayerNorm`: normalize_grad(g * w, x)."""
    name = "layer_norm_grad"
    composed = True       # derivatives: autodiff differentiates compose()
    eps: float

    def infer(self, g, x, w):
        _check_layer(x, w)
        _check_like(g, x)
        return x.shape, x.dtype

    def compose(self, g, x, w):
        return apply(NormalizeGrad(axes=_trailing(x, len(w.shape)), eps=self.eps), g * w, x)


class LayerNormParamGrad(Op):
    """The scale and shift gradients of `LayerNorm`, stacked [2, *trailing dims]: the sums
    of g * normalize(x) and of g over the leading dims, one pass over g and x."""
    name = "layer_norm_param_grad"
    composed = True
    dims: int             # trailing dims normalized (the scale's rank)
    eps: float

    def infer(self, g, x):
        check_floating(x)
        _check_like(g, x)
        if x.shape is not None and not 0 < self.dims <= len(x.shape):
            raise ValueError(f"cannot normalize the last {self.dims} dims of shape {x.shape}")
        return (None if x.shape is None else
                (2,) + tuple(x.shape[len(x.shape) - self.dims:])), x.dtype

    def compose(self, g, x):
        axes = _trailing(x, self.dims)
        lead = tuple(range(len(x.shape) - self.dims))
        gy = g * normalize_composed(x, axes, self.eps)[0]
        return stack([reduce_sum(gy, lead), reduce_sum(g, lead)] if lead else [gy, g])


class LayerNormGrads(Op):
    """`LayerNormGrad` and `LayerNormParamGrad` in one array [n + 2, *w's shape] (n: the
    product of x's leading dims): dx's rows, then the scale's and the shift's gradients.
    dx needs each row's moments and sums anyway, so one kernel reads g and x once for all
    three (as PyTorch's layer norm backward), where the two ops read both twice."""
    name = "layer_norm_grads"
    composed = True
    eps: float

    def infer(self, g, x, w):
        LayerNormGrad.infer(self, g, x, w)
        if x.shape is None or w.shape is None or None in x.shape:
            return None, x.dtype
        lead = x.shape[:len(x.shape) - len(w.shape)]
        return (math.prod(lead) + 2,) + tuple(w.shape), x.dtype

    def compose(self, g, x, w):
        dx = apply(LayerNormGrad(eps=self.eps), g, x, w)
        sums = apply(LayerNormParamGrad(dims=len(w.shape), eps=self.eps), g, x)
        return concat([reshape(dx, (-1,) + tuple(w.shape)), sums], axis=0)


def layer_norm(x, weight, bias, eps: float = 1e-5, name=None) -> Tensor:
    """Layer norm of x over the trailing dims of weight's shape, scaled and shifted."""
    return apply(LayerNorm(eps=float(eps)), as_tensor(x), as_tensor(weight), as_tensor(bias),
                 name=name)


# ---- batch norm in training mode ---------------------------------------------------------

def _channel_axes(x) -> tuple:
    """Every axis of x but the channels (axis 1): those batch norm reduces over."""
    return (0,) + tuple(range(2, len(x.shape)))


def _per_channel(v, x) -> Tensor:
    """A [C] vector shaped to broadcast against x [N, C, ...]."""
    return reshape(v, (1, -1) + (1,) * (len(x.shape) - 2))


def _check_channels(op: Op, x, *vectors) -> None:
    """x is [N, C, ...] and each vector [C], all of one float dtype."""
    check_floating(x, *vectors)
    if x.shape is not None and len(x.shape) < 2:
        raise ValueError(f"needs an input of rank 2 or more (N, C, ...), got shape {x.shape}")
    c = None if x.shape is None else x.shape[1]
    for v in vectors:
        if v.dtype is not x.dtype:
            raise TypeError(f"the input ({x.dtype.name}) and the per-channel parameters "
                            f"({v.dtype.name}) must have the same dtype")
        if v.shape is not None and (len(v.shape) != 1 or None not in (c, v.shape[0])
                                    and v.shape[0] != c):
            raise ValueError(f"per-channel parameters of shape {v.shape} do not match the "
                             f"input's {c} channels (input shape {x.shape})")


class BatchNorm(Op):
    """Training-mode batch norm: normalize(x) over every axis but 1, times w plus b (w, b:
    [C]). One op each way where composing it takes about a dozen passes over x."""
    name = "batch_norm"
    saves_output = False
    eps: float

    def infer(self, x, w, b):
        _check_channels(self, x, w, b)
        return x.shape, x.dtype

    def vjp(self, g, out, x, w, b):
        params = needs_input_grad(1) or needs_input_grad(2)
        if needs_input_grad(0) and params and x.shape is not None and None not in x.shape:
            return _split_grads(apply(BatchNormGrads(eps=self.eps), g, x, w), x)
        dx = apply(BatchNormGrad(eps=self.eps), g, x, w) if needs_input_grad(0) else None
        if not params:
            return dx, None, None
        sums = apply(BatchNormParamGrad(eps=self.eps), g, x)
        return dx, getitem(sums, 0), getitem(sums, 1)

    def jvp(self, t, out, x, w, b):
        tx, tw, tb = t
        y = apply(Normalize(axes=_channel_axes(x), eps=self.eps), x) if tw is not None else None
        shift = None if tb is None else _per_channel(tb, x)
        if tx is None and tw is None and shift is not None:
            shift = shift + zeros_like(x)     # the tangent has the output's shape
        return sum_terms((None if tx is None else apply(BatchNormGrad(eps=self.eps), tx, x, w),
                          None if tw is None else y * _per_channel(tw, x), shift))


def _split_grads(both: Tensor, x) -> tuple:
    """dx, dw, db from `BatchNormGrads`' flat vector: four views (dw and db sliced flat)."""
    size, c = math.prod(x.shape), x.shape[1]
    return (reshape(getitem(both, slice(None, size)), x.shape),
            getitem(both, slice(size, size + c)), getitem(both, slice(size + c, None)))


class BatchNormTracked(Op):
    """`BatchNorm` that also folds the batch's statistics into the running ones, in place:
    inputs (x, w, b, running_mean, running_var, num_batches_tracked, saved). The kernel adds
    1 to the count, then r = f * batch + (1 - f) * r with f = momentum (None: 1 / count, the
    cumulative average) and the variance unbiased, from the statistics its normalizing
    pass computes anyway. One op per training layer where the separate update took a
    moments pass and a dozen small ops. It also writes each channel's mean and 1 / std into
    `saved` (float64 [2, C], a fresh buffer per call, as PyTorch's save_mean / save_invstd),
    so the backward (`BatchNormGradsSaved`) does not compute them from x again. Eager only
    (graphs and `tinyflow.compile` keep `BatchMoments` and assigns: the planned runtime
    knows one written input per op). Derivatives: `BatchNorm`'s, in x, w and b."""
    name = "batch_norm_tracked"
    saves_output = False
    stateful = True
    eps: float
    momentum: Optional[float]

    def infer(self, x, w, b, running_mean, running_var, count, saved):
        _check_channels(self, x, w, b)
        c, wide = x.shape[1], "float32" if x.dtype.is_reduced else x.dtype.name
        for what, v in (("running_mean", running_mean), ("running_var", running_var)):
            if v.dtype.name != wide or v.shape != (c,):
                raise TypeError(f"{what} must be a {wide} [{c}] vector (for a {x.dtype.name} "
                                f"input), got {v.dtype.name} {v.shape}")
        if count.dtype.name != "int64" or count.shape != ():
            raise TypeError(f"num_batches_tracked must be an int64 scalar, got "
                            f"{count.dtype.name} {count.shape}")
        _check_saved(saved, c)
        if math.prod(x.shape) == c:
            raise ValueError(f"training on input {list(x.shape)} has 1 value per channel, so "
                             f"its variance is undefined; use a batch of 2 or more (or eval())")
        return x.shape, x.dtype

    def vjp(self, g, out, x, w, b, running_mean, running_var, count, saved):
        rest = (None,) * 4
        if not (needs_input_grad(0) and (needs_input_grad(1) or needs_input_grad(2))):
            return BatchNorm.vjp(self, g, out, x, w, b) + rest
        return _split_grads(apply(BatchNormGradsSaved(eps=self.eps), g, x, w, saved), x) + rest

    def vjp_reads(self, needs: tuple) -> tuple:
        # x, w and the saved statistics; not b, the running ones, the count or the output
        return (True, True) + (False,) * (len(needs) - 3) + (True, False)

    def jvp(self, t, out, x, w, b, running_mean, running_var, count, saved):
        return BatchNorm.jvp(self, t[:3], out, x, w, b)


def _check_saved(saved, c) -> None:
    """saved is float64 [2, C] (c: C, or None when unknown)."""
    shape = saved.shape
    if saved.dtype.name != "float64":
        raise TypeError(f"the saved statistics (each channel's mean and 1 / std) must be "
                        f"float64, got {saved.dtype.name}")
    if shape is not None and (len(shape) != 2 or shape[0] not in (2, None)
                              or None not in (c, shape[1]) and shape[1] != c):
        raise ValueError(f"the saved statistics (each channel's mean and 1 / std) must be "
                         f"[2, {c}], got shape {shape}")


class BatchNormGrad(Op):
    """The input gradient of `BatchNorm`: normalize_grad(g, x) * w (w per channel)."""
    name = "batch_norm_grad"
    composed = True       # derivatives: autodiff differentiates compose()
    eps: float

    def infer(self, g, x, w):
        _check_channels(self, x, w)
        _check_like(g, x)
        return x.shape, x.dtype

    def compose(self, g, x, w):
        axes = _channel_axes(x)
        return apply(NormalizeGrad(axes=axes, eps=self.eps), g, x) * _per_channel(w, x)


class BatchNormParamGrad(Op):
    """The weight and bias gradients of `BatchNorm`, stacked [2, C]: sum(g * normalize(x))
    and sum(g) per channel, one pass over g and x."""
    name = "batch_norm_param_grad"
    composed = True
    eps: float

    def infer(self, g, x):
        _check_channels(self, x)
        _check_like(g, x)
        return (2, None if x.shape is None else x.shape[1]), x.dtype

    def compose(self, g, x):
        axes = _channel_axes(x)
        y = normalize_composed(x, axes, self.eps)[0]
        return stack([reduce_sum(g * y, axes), reduce_sum(g, axes)])


class BatchNormGrads(Op):
    """`BatchNormGrad` and `BatchNormParamGrad` in one flat vector: dx (x's shape, C order)
    then the [2, C] sums. dx needs those sums anyway, so one kernel gives all three gradients
    in one pass over g and x, where the two ops read both twice."""
    name = "batch_norm_grads"
    composed = True
    eps: float

    def infer(self, g, x, w):
        BatchNormGrad.infer(self, g, x, w)
        known = x.shape is not None and None not in x.shape
        return (math.prod(x.shape) + 2 * x.shape[1] if known else None,), x.dtype

    def compose(self, g, x, w):
        dx = apply(BatchNormGrad(eps=self.eps), g, x, w)
        sums = apply(BatchNormParamGrad(eps=self.eps), g, x)
        return concat([reshape(dx, (-1,)), reshape(sums, (-1,))], axis=0)


class BatchNormGradsSaved(Op):
    """`BatchNormGrads` of (g, x, w) given each channel's mean and 1 / std of x, saved
    [2, C] float64 (as `BatchNormTracked` writes them): the same flat vector, from one pass
    over g and x where `BatchNormGrads` takes one more for the statistics. Its composition
    ignores `saved` and computes the statistics from x, so that derivatives in x include
    theirs (saved is a function of x)."""
    name = "batch_norm_grads_saved"
    composed = True
    eps: float

    def infer(self, g, x, w, saved):
        shape, dtype = BatchNormGrads.infer(self, g, x, w)
        _check_saved(saved, None if x.shape is None else x.shape[1])
        return shape, dtype

    def compose(self, g, x, w, saved):
        return apply(BatchNormGrads(eps=self.eps), g, x, w)


class BatchMoments(Op):
    """Mean and biased variance per channel (axis 1), stacked [2, C]: the batch statistics
    that update batch norm's running ones (no gradient flows through them)."""
    name = "batch_moments"
    differentiable = False

    def infer(self, x):
        _check_channels(self, x)
        return (2, None if x.shape is None else x.shape[1]), x.dtype


class ChannelAffine(Op):
    """x * a + b with a, b [C] per channel (axis 1 of x [N, C, ...]): eval-mode batch norm's
    arithmetic once the running statistics are folded into a and b. One pass over x, where
    x * a then + b is two passes and a temporary of x's size."""
    name = "channel_affine"
    saves_output = False

    def infer(self, x, a, b):
        _check_channels(self, x, a, b)
        return x.shape, x.dtype

    def vjp(self, g, out, x, a, b):
        axes = _channel_axes(x)
        return (g * _per_channel(a, x) if needs_input_grad(0) else None,
                reduce_sum(g * x, axes) if needs_input_grad(1) else None,
                reduce_sum(g, axes) if needs_input_grad(2) else None)

    def jvp(self, t, out, x, a, b):
        tx, ta, tb = t
        shift = None if tb is None else _per_channel(tb, x)
        if tx is None and ta is None and shift is not None:
            shift = shift + zeros_like(x)     # the tangent has the output's shape
        return sum_terms((None if tx is None else tx * _per_channel(a, x),
                          None if ta is None else x * _per_channel(ta, x), shift))


class BatchNormEval(Op):
    """Eval-mode batch norm of x [N, C, ...] by its running statistics, weight and bias [C]:
    (x - mean) / sqrt(var + eps) * w + b as one op, whose kernel makes each channel's scale
    and shift itself. Composed it is six small [C] ops and a `ChannelAffine`, seven dispatches
    per layer where PyTorch has one. The derivatives are written out (not `composed`), so a
    backward through a frozen batch norm does not run its forward again."""
    name = "batch_norm_eval"
    saves_output = False
    eps: float

    def infer(self, x, mean, var, w, b):
        _check_channels(self, x, mean, var, w, b)
        return x.shape, x.dtype

    def _scales(self, var, w) -> tuple:
        inv_std = 1 / sqrt(var + self.eps)
        return inv_std, inv_std * w

    def vjp(self, g, out, x, mean, var, w, b):
        axes = _channel_axes(x)
        inv_std, scale = self._scales(var, w)
        g_sum = reduce_sum(g, axes) if needs_input_grad(1) or needs_input_grad(4) else None
        g_centered = None       # sum of g * (x - mean) per channel
        if needs_input_grad(2) or needs_input_grad(3):
            g_centered = reduce_sum(g * (x - _per_channel(mean, x)), axes)
        return (g * _per_channel(scale, x) if needs_input_grad(0) else None,
                -g_sum * scale if needs_input_grad(1) else None,
                g_centered * scale * inv_std * inv_std * -0.5 if needs_input_grad(2) else None,
                g_centered * inv_std if needs_input_grad(3) else None,
                g_sum if needs_input_grad(4) else None)

    def jvp(self, t, out, x, mean, var, w, b):
        tx, tmean, tvar, tw, tb = t
        inv_std, scale = self._scales(var, w)
        dscale = sum_terms((None if tw is None else tw * inv_std,
                            None if tvar is None else tvar * scale * inv_std * inv_std * -0.5))
        shift = sum_terms((None if tmean is None else -tmean * scale, tb))
        full = sum_terms((None if tx is None else tx * _per_channel(scale, x),
                          None if dscale is None
                          else (x - _per_channel(mean, x)) * _per_channel(dscale, x)))
        if shift is None:
            return full
        shift = _per_channel(shift, x)
        return shift + (zeros_like(x) if full is None else full)


class BatchNormScale(Op):
    """w / sqrt(var + eps) per channel, as 1 / sqrt(var + eps) * w: eval batch norm's scale,
    which `fold_batchnorm` multiplies into the layer before it."""
    name = "batch_norm_scale"
    composed = True
    eps: float

    def infer(self, var, w):
        check_floating(var, w)
        if var.dtype is not w.dtype:
            raise TypeError(f"the variance ({var.dtype.name}) and the weight ({w.dtype.name}) "
                            f"must have the same dtype")
        return broadcast_shapes(var.shape, w.shape), var.dtype

    def compose(self, var, w):
        return 1 / sqrt(var + self.eps) * w


def _check_like(g, x) -> None:
    check_floating(g)
    if g.dtype is not x.dtype:
        raise TypeError(f"the gradient ({g.dtype.name}) and the input ({x.dtype.name}) must "
                        f"have the same dtype")
    if g.shape is not None and x.shape is not None and (
            len(g.shape) != len(x.shape) or any(a is not None and b is not None and a != b
                                                for a, b in zip(g.shape, x.shape))):
        raise ValueError(f"g {g.shape} must have the shape of x {x.shape}")


def normalize_channels(x, weight, bias, eps: float = 1e-5, name=None) -> Tensor:
    """Training-mode batch norm of x [N, C, ...] with per-channel weight and bias [C]."""
    return apply(BatchNorm(eps=float(eps)), as_tensor(x), as_tensor(weight), as_tensor(bias),
                 name=name)


def batch_norm_tracked(x, weight, bias, running_mean, running_var, num_batches_tracked,
                       momentum: Optional[float] = 0.1, eps: float = 1e-5) -> Tensor:
    """Training-mode batch norm of eager x [N, C, ...] that updates running_mean,
    running_var and num_batches_tracked in place (see `BatchNormTracked`)."""
    tensors = (as_tensor(x), weight, bias, running_mean, running_var, num_batches_tracked)
    if any(not isinstance(t, Tensor) or t.kind != EAGER for t in tensors):
        raise TypeError("batch_norm_tracked: needs eager tensors (a graph updates the "
                        "running statistics with assigns: F.batch_norm)")
    channels = tensors[0].shape[1] if len(tensors[0].shape) > 1 else 0
    saved = new_eager(np.empty((2, channels)), float64)    # the kernel writes it
    y = apply(BatchNormTracked(eps=float(eps),
                               momentum=None if momentum is None else float(momentum)),
              *tensors, saved)
    for t in tensors[3:]:
        t._version[0] += 1
    return y


def channel_affine(x, scale, shift, name=None) -> Tensor:
    """x * scale + shift per channel (axis 1) of x [N, C, ...], scale and shift [C]."""
    return apply(ChannelAffine(), as_tensor(x), as_tensor(scale), as_tensor(shift), name=name)


def batch_norm_eval(x, running_mean, running_var, weight, bias, eps: float = 1e-5,
                    name=None) -> Tensor:
    """Eval-mode batch norm of x [N, C, ...]: the running statistics, weight and bias [C]."""
    return apply(BatchNormEval(eps=float(eps)), *map(as_tensor, (
        x, running_mean, running_var, weight, bias)), name=name)


def channel_moments(x, name=None) -> Tensor:
    """[mean, biased variance] per channel (axis 1) of x [N, C, ...], stacked [2, C]."""
    return apply(BatchMoments(), as_tensor(x), name=name)
