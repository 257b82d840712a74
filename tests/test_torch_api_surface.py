"""The everyday torch.* functions and Tensor methods (issue 14: "their code, unchanged"): each
name exists, and on ints, bools, empty and 0-d inputs gives torch's values, dtype and shape,
and for the differentiable ones torch's gradients.

Each case is written once, `fn(L, *inputs)` with L = torch or tinyflow, and run by
torch_oracle.compare on both (float32 inputs that require grad, fixed int / bool arrays).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import tinyflow
from torch_oracle import Given, X, compare, positive, unit_interval

# ---- every name of the lead's list exists (a regression shows) ---------------------------

FUNCTIONS = """all any eq ne gt ge lt le prod norm t rsqrt nonzero unique take trace cumprod
diff isclose median kron repeat_interleave scatter acos sinh cosh asinh acosh atanh trunc frac
exp2 erfinv lgamma digamma hypot logaddexp copysign signbit heaviside nan_to_num deg2rad
rad2deg mv inner tensordot cdist cross det inverse logdet quantile nanmean nansum histc
bincount bucketize searchsorted meshgrid cartesian_prod combinations block_diag
broadcast_tensors cummax logcumsumexp hstack vstack dstack column_stack atleast_2d moveaxis
swapaxes baddbmm addmv addcmul argwhere isin is_nonzero can_cast set_default_dtype real imag conj
conj_physical resolve_conj resolve_neg is_conj nanmedian nanquantile unique_consecutive
scatter_reduce fmax fmin""".split()
METHODS = """prod unique nonzero take trace repeat_interleave cumprod diff isclose allclose
equal median quantile nansum nanmean erf erfinv lgamma reciprocal sinh cosh tan trunc frac
scatter scatter_add index_add index_fill index_copy masked_select masked_scatter diagonal
diag tile unfold cross logit xlogy addcmul addcdiv baddbmm bernoulli multinomial kthvalue mode
nan_to_num ravel swapdims moveaxis mv inner ger fliplr flipud rot90 tensor_split
split_with_sizes take_along_dim new_zeros new_ones new_full new_tensor is_nonzero
retains_grad itemsize nbytes ndimension data_ptr is_complex is_signed sgn positive negative
subtract multiply divide greater less not_equal bincount histc det inverse scatter_
index_add_ masked_scatter_ clamp_ scatter_add_ index_fill_ index_copy_ real imag conj
resolve_conj is_conj nanmedian nanquantile unique_consecutive scatter_reduce scatter_reduce_ fmax fmin""".split()
LINALG = ("norm vector_norm matrix_norm inv det slogdet solve cholesky qr svd svdvals eigh "
          "pinv matrix_rank matrix_power lstsq multi_dot cond").split()
SPECIAL = ("erf erfc expit logit xlogy log_softmax softmax logsumexp gammaln digamma psi "
           "erfinv ndtr sinc entr xlog1py i0 i1 i0e i1e ndtri multigammaln round "
           "modified_bessel_i0 modified_bessel_i1").split()


def test_every_listed_name_exists_in_torch_and_here():
    for names, ours, theirs in ((FUNCTIONS, tinyflow, torch),
                                (METHODS, tinyflow.Tensor, torch.Tensor),
                                (LINALG, tinyflow.linalg, torch.linalg),
                                (SPECIAL, tinyflow.special, torch.special)):
        assert all(hasattr(theirs, n) for n in names), [n for n in names
                                                        if not hasattr(theirs, n)]
        missing = [n for n in names if not hasattr(ours, n)]
        assert not missing, f"missing from {getattr(ours, '__name__', ours)}: {missing}"


# ---- values, dtypes and gradients against torch ------------------------------------------

INTS = Given(np.array([[3, -1, 0, 2], [1, 1, -4, 0], [2, 5, 0, -2]], np.int64))
BOOLS = Given(np.array([[True, False, True], [True, True, True]]))
EMPTY = X(0, 3)
SCALAR = X()
WITH_ZEROS = Given(np.array([[1.5, 0.0, -2.0, 0.5], [0.0, 3.0, -1.0, 0.0], [2.0, 0.7, -0.3,
                                                                             1.1]], np.float32))
INDEX = Given(np.array([[2, 0, 1, 1], [0, 2, 2, 0]], np.int64))
ROWS = Given(np.array([2, 0, 2], np.int64))
MASK = Given(np.array([[True, False, True, False], [False, False, True, True],
                       [True, True, False, False]]))
SPD = Given(np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]], np.float32))


def well_conditioned(rng, shape):
    return rng.uniform(-1, 1, shape) + 3 * np.eye(shape[-1])


def inside_unit(rng, shape):
    return rng.uniform(-0.9, 0.9, shape)


def above_one(rng, shape):
    return rng.uniform(1.2, 3, shape)


def distinct(rng, shape):
    n = math.prod(shape)
    return ((rng.permutation(n) - n / 2) * 0.1 + 0.05).reshape(shape)


D = X(3, 4, domain=distinct)

def _factor_grads(L, s):
    values, vectors = L.linalg.eigh(s)
    return (L.linalg.cholesky(s), L.linalg.cholesky(s, upper=True), values,
            vectors * vectors)   # the square: the same whatever each vector's sign


CASES = {
    # truth and comparison
    "all": (lambda L, x, i, b: (L.all(x > 0), L.all(i, 1), b.all(0), L.all(b, 1, True)),
            (X(3, 4, grad=False), INTS, BOOLS)),
    "any": (lambda L, x, i, b: (L.any(x > 1), i.any(0), L.any(b, dim=1, keepdim=True)),
            (X(3, 4, grad=False), INTS, BOOLS)),
    "all_empty": (lambda L, e: (L.all(e), L.any(e), e.all(1), e.any(0)), (X(0, 3, grad=False),)),
    "compare": (lambda L, x, i: (L.eq(x, x), L.ne(i, 0), L.gt(x, 0.5), L.ge(i, 1),
                                 L.lt(x, i), L.le(i, 2), x.greater(0), i.less(1),
                                 x.not_equal(x)), (X(3, 4, grad=False), INTS)),
    "isclose": (lambda L, x: (L.isclose(x, x + 1e-7), x.isclose(x * 1.01, rtol=1e-3),
                              L.isclose(x, x.clone(), atol=0, rtol=0)), (X(3, 4, grad=False),)),
    "isin": (lambda L, i: (L.isin(i, L.tensor([0, 2])), L.isin(i, L.tensor([5]), invert=True)),
             (INTS,)),
    "signbit": (lambda L: L.signbit(L.tensor([-0.0, 0.0, -1.5, 2.0])), ()),
    # reductions and scans
    "prod": (lambda L, x: (x.prod(), L.prod(x, 1), x.prod(0, keepdim=True)), (X(3, 4),)),
    "prod_zeros": (lambda L, z: (z.prod(1), L.prod(z)), (WITH_ZEROS,)),
    "prod_ints": (lambda L, i, b: (i.prod(1), L.prod(b), i.prod(dtype=L.float64)),
                  (INTS, BOOLS)),
    "cumprod": (lambda L, x: (L.cumprod(x, 1), x.cumprod(dim=0)), (X(3, 4),)),
    "cumprod_ints": (lambda L, i, b: (i.cumprod(1), L.cumprod(b, 0)), (INTS, BOOLS)),
    "norm": (lambda L, x: (x.norm(), L.norm(x, dim=1), x.norm(p=1, dim=0),
                           x.norm(float("inf")), L.norm(x, 3, 1, True), x.norm(p="fro")),
             (X(3, 4),)),
    "norm_at_zero": (lambda L, x: (x.norm(), L.norm(x * 0, dim=1), L.cdist(x, x),
                                   L.linalg.matrix_norm(x * 0)), (X(3, 4),)),
    "vector_norm": (lambda L, x: (L.linalg.vector_norm(x), L.linalg.vector_norm(x, 1, -1),
                                  L.linalg.vector_norm(x, float("-inf"), 0, True),
                                  L.linalg.vector_norm(x, 0.5, (0, 1))),
                    (X(3, 4, domain=positive),)),
    "matrix_norm": (lambda L, x: (L.linalg.matrix_norm(x), L.linalg.matrix_norm(x, 1),
                                  L.linalg.matrix_norm(x, float("inf"), keepdim=True),
                                  L.linalg.norm(x), L.linalg.norm(x, dim=1),
                                  L.linalg.norm(x, -1, (0, 1))), (X(3, 4, domain=distinct),)),
    "nansum": (lambda L, x: (L.nansum(x), x.nansum(1), L.nanmean(x, 0), x.nanmean()),
               (Given(np.array([[1.0, np.nan, 2.0], [np.nan, np.nan, 3.0]], np.float32)),)),
    "nan_reductions_grad": (lambda L, x: (L.nansum(x, 1), L.nanmean(x, 0, keepdim=True)),
                            (X(3, 4),)),
    "median": (lambda L, x: (x.median(), L.median(x, 1), x.median(0, keepdim=True)), (D,)),
    "kthvalue": (lambda L, x: (x.kthvalue(2), L.kthvalue(x, 3, 0, True)), (D,)),
    "quantile": (lambda L, x: (x.quantile(0.3), L.quantile(x, L.tensor([0.1, 0.5, 0.9]), 1),
                               x.quantile(0.75, 0, True, interpolation="lower"),
                               x.quantile(0.4, 1, interpolation="midpoint"),
                               x.quantile(0.6, 1, interpolation="nearest"),
                               x.quantile(0.2, 0, interpolation="higher")), (D,)),
    "mode": (lambda L, i: (i.mode(1).values, L.mode(i, 0).values),
             (Given(np.array([[1, 2, 2, 3], [4, 4, 1, 1], [0, 0, 0, 5]], np.int64)),)),
    "cummax": (lambda L, x: (L.cummax(x, 1), x.cummin(0)), (D,)),
    "logcumsumexp": (lambda L, x: (L.logcumsumexp(x, 1), x.logcumsumexp(0)), (X(3, 4),)),
    # a NaN: every quantile of its slice NaN; logcumsumexp NaN from it on, not before it
    "nan_quantile_logcumsumexp": (
        lambda L, x: (L.quantile(x, 0.5, 1), x.quantile(L.tensor([0.2, 0.9]), 0,
                                                         interpolation="lower"),
                      x.quantile(0.5), L.logcumsumexp(x, 1), x.logcumsumexp(0)),
        (Given(np.array([[1.0, np.nan, 3.0, 0.5], [4.0, 2.0, 2.0, 1.0],
                         [50.0, 60.0, -np.inf, np.nan]], np.float32)),)),
    "diff": (lambda L, x, b: (L.diff(x), x.diff(2, 0), L.diff(x, prepend=x[:, :1]),
                              b.diff()), (X(3, 4), BOOLS)),
    "trace": (lambda L, x, i: (L.trace(x), i.trace()), (X(3, 4), INTS)),
    "histc": (lambda L, x: (L.histc(x, 5), x.histc(4, -1, 1)), (X(20, grad=False),)),
    "bincount": (lambda L, i, w: (L.bincount(i), i.bincount(w, minlength=6)),
                 (Given(np.array([0, 3, 3, 1, 0, 3])), X(6, grad=False))),
    # indexing
    "nonzero": (lambda L, x, i: (L.nonzero(x > 0), i.nonzero(), *L.nonzero(i, as_tuple=True),
                                 L.argwhere(i)), (X(3, 4, grad=False), INTS)),
    "where": (lambda L, x, b: (*L.where(x > 0), *L.where(b), L.where(x > 0, x, -x),
                               L.where(b, 1.0, 0.0)), (X(3, 4), BOOLS)),
    "unique": (lambda L, i: (L.unique(i), *i.unique(return_inverse=True, return_counts=True),
                             L.unique(L.tensor([[1, 2], [1, 2], [0, 1]]), dim=0)), (INTS,)),
    "take": (lambda L, x, idx: (L.take(x, idx), x.take(L.tensor([[0, -1], [5, 3]]))),
             (X(3, 4), Given(np.array([0, 11, 5, 5])))),
    "take_along_dim": (lambda L, x, idx: (L.take_along_dim(x, idx, 1),
                                          x.take_along_dim(L.tensor([[0], [2], [1]]), 1),
                                          L.take_along_dim(x, L.tensor([3, 0]))),
                       (X(3, 4), Given(np.array([[0, 3], [1, 1], [2, 0]])))),
    "repeat_interleave": (lambda L, x: (L.repeat_interleave(x, 2), x.repeat_interleave(2, 0),
                                        x.repeat_interleave(L.tensor([1, 0, 3]), dim=0),
                                        L.repeat_interleave(L.tensor([2, 1]))), (X(3, 4),)),
    "scatter": (lambda L, x, idx, s: (x.scatter(0, idx, s), L.scatter(x, 1, idx[:, :3], 7.5),
                                      L.scatter_add(x, 0, idx, s),
                                      x.detach().scatter(0, idx, s.detach(), reduce="add")),
                (X(3, 4), Given(np.array([[2, 0, 1, 1], [0, 1, 2, 0]])), X(2, 4))),
    "index_add": (lambda L, x, r, s: (x.index_add(0, r, s), L.index_add(x, 0, r, s, alpha=2),
                                      x.index_copy(0, L.tensor([2, 0, 1]), s),
                                      x.index_fill(1, L.tensor([0, 3]), -1.0)),
                  (X(3, 4), ROWS, X(3, 4))),
    "masked": (lambda L, x, m, s: (x.masked_select(m), L.masked_select(x, m[0]),
                                   x.masked_scatter(m, s)), (X(3, 4), MASK, X(4, 4))),
    # shapes and layouts
    "diagonal": (lambda L, x: (x.diagonal(), L.diagonal(x, 1), x.diagonal(-1),
                               L.diagonal(x.reshape(2, 3, 2), 0, 0, 2), x.diag(1)), (X(3, 4),)),
    "tile": (lambda L, x: (x.tile(2), x.tile((2, 1, 1)), L.tile(x, (1, 2))), (X(3, 4),)),
    "unfold": (lambda L, x: (x.unfold(1, 2, 1), x.unfold(0, 2, 2)), (X(3, 4),)),
    "flips": (lambda L, x: (x.fliplr(), L.flipud(x), x.rot90(), L.rot90(x, 2), x.rot90(-1),
                            L.rot90(x.reshape(3, 2, 2), 1, (1, 2))), (X(3, 4),)),
    "splits": (lambda L, x: (*x.tensor_split(3, 1), *L.tensor_split(x, [1, 2], 0),
                             *x.split_with_sizes([1, 3], 1)), (X(3, 4),)),
    "axes": (lambda L, x: (x.swapdims(0, 1), L.swapaxes(x, 1, 0), L.moveaxis(x, 0, -1),
                           x.reshape(3, 2, 2).moveaxis((0, 1), (2, 0)), x.ravel()), (X(3, 4),)),
    "stacks": (lambda L, a, b, v: (L.hstack([a, b]), L.vstack([a, b]), L.dstack([a, b]),
                                   L.column_stack([v, v]), L.hstack([v, v]), L.vstack([v, v])),
               (X(3, 4), X(3, 4), X(3))),
    "atleast": (lambda L, s, v: (L.atleast_2d(s), L.atleast_3d(v), *L.atleast_2d(s, v),
                                 L.atleast_1d(s)), (SCALAR, X(3))),
    "grids": (lambda L, a, b: (*L.meshgrid(a, b, indexing="ij"), *L.meshgrid(a, b, indexing="xy"),
                               L.cartesian_prod(a, b), L.combinations(a),
                               L.combinations(b, 2, with_replacement=True)), (X(3), X(2))),
    "block_diag": (lambda L, a, b, s: L.block_diag(a, b, s), (X(2, 3), X(1, 2), SCALAR)),
    "broadcast_tensors": (lambda L, a, b: L.broadcast_tensors(a, b), (X(3, 1), X(4))),
    "kron": (lambda L, a, b: (L.kron(a, b), a.kron(b)), (X(2, 3), X(3, 2))),
    "cross": (lambda L, a, b: (L.cross(a, b, dim=1), a.cross(b, 1), L.linalg.cross(a, b)),
              (X(4, 3), X(4, 3))),
    # elementwise
    "trig": (lambda L, x, y: (L.acos(x), L.asinh(y), L.sinh(y), x.cosh(), L.tan(x),
                              L.atanh(x), L.asin(x), L.atan(y), x.arcsin()),
             (X(3, 4, domain=inside_unit), X(3, 4))),
    "acosh": (lambda L, x: (L.acosh(x), x.acosh()), (X(3, 4, domain=above_one),)),
    "rounding": (lambda L, x, i: (L.trunc(x.detach() * 3), x.frac(), L.trunc(i),
                                 L.fix(x.detach() * 2)),
                 (X(3, 4), INTS)),
    "exp2": (lambda L, x, i: (L.exp2(x), L.exp2(i), L.deg2rad(x), x.rad2deg(), L.erfc(x),
                              x.reciprocal(), i.reciprocal()), (X(3, 4), INTS)),
    "binary": (lambda L, x, y: (L.hypot(x, y), L.logaddexp(x, y), x.logaddexp2(y),
                                L.copysign(x, y), L.xlogy(x, y.abs()), x.float_power(2)),
               (X(3, 4), X(3, 4))),
    # x == 0 with y > 0: the value is 0, the gradient wrt x log(y) (log1p(y))
    "xlogy_at_zero": (lambda L, x, y: (L.xlogy(x, y), L.special.xlog1py(x, y),
                                       L.special.xlogy(x, y)),
                      (X(5, domain=lambda rng, shape: [0.0, 0.0, 1.5, -2.0, 0.0]),
                       X(5, domain=lambda rng, shape: [2.0, 0.5, 3.0, 0.25, 0.75]))),
    # NaN on either side (and on both), ties (the gradient goes to input)
    "fmax_fmin": (lambda L, x, y: (L.fmax(x, y), x.fmin(y), L.fmax(y, x)),
                  (Given(np.array([np.nan, 1.0, np.nan, 2.0, -1.0, 3.0], np.float32)),
                   Given(np.array([1.0, np.nan, np.nan, 2.0, 4.0, -3.0], np.float32)))),
    "cond": (lambda L, a: (L.linalg.cond(a), L.linalg.cond(a, -2), L.linalg.cond(a, "fro"),
                           L.linalg.cond(a, 1), L.linalg.cond(a, float("inf"))),
             (Given(np.array([[[2.0, 1.0, 0.0], [0.5, 3.0, 1.0], [0.0, 1.0, 4.0]],
                              [[1.0, 2.0, 0.5], [0.0, 1.0, 0.0], [2.0, 0.0, 3.0]]],
                             np.float32)),)),
    "heaviside": (lambda L, x, i: (L.heaviside(x, L.tensor([0.5])), i.heaviside(i)),
                  (Given(np.array([-1.0, 0.0, 2.0], np.float32)), INTS)),
    "nan_to_num": (lambda L, x: (L.nan_to_num(x), x.nan_to_num(1.0, 9.0, -9.0)),
                   (Given(np.array([np.nan, np.inf, -np.inf, 1.5], np.float32)),)),
    "logit": (lambda L, p: (L.logit(p), p.logit(eps=0.2), L.special.logit(p)),
              (X(3, 4, domain=unit_interval),)),
    "addc": (lambda L, x, a, b: (L.addcmul(x, a, b, value=0.5), x.addcdiv(a, b.exp())),
             (X(3, 4), X(3, 4), X(3, 4))),
    "aliases": (lambda L, x, y: (x.subtract(y), x.multiply(y), x.divide(y.exp()), x.detach().sgn(),
                                 x.positive(), x.negative()), (X(3, 4), X(3, 4))),
    "gamma": (lambda L, x: (L.lgamma(x), x.digamma(), L.special.gammaln(x), L.special.psi(x)),
              (X(3, 4, domain=positive),)),
    "erfinv": (lambda L, x: (L.erfinv(x), x.erfinv(), L.special.erfinv(x)),
               (X(3, 4, domain=inside_unit),)),
    "bessel": (lambda L, x, big: (L.special.i0(x), x.i0(), L.i0(big), L.special.i1(big),
                                  L.special.i1(-big), L.special.i1(x)),
               (X(3, 4), Given(np.array([0.5, 12.0, 29.0, 31.0, 45.0, 80.0])))),
    "special": (lambda L, x, p: (L.special.erf(x), L.special.expit(x), L.special.ndtr(x),
                                 L.special.sinc(x), L.special.entr(p), L.special.xlog1py(x, p),
                                 L.special.log_softmax(x, 1), L.special.softmax(x, 0),
                                 L.special.logsumexp(x, 1), L.special.exp2(x)),
                (X(3, 4), X(3, 4, domain=unit_interval))),
    "special_one_liners": (lambda L, x, p, y: (
        L.special.i0e(x), L.special.i1e(x), L.special.ndtri(p), L.special.multigammaln(y, 3),
        L.special.round(x), L.special.modified_bessel_i0(x), L.special.modified_bessel_i1(x)),
        (X(3, 4), X(3, 4, domain=unit_interval), X(5, domain=above_one))),
    # NaN-ignoring order statistics
    "nan_order_statistics": (lambda L, x: (
        L.nanmedian(x), L.nanmedian(x, 1).values, x.nanmedian(0, keepdim=True).values,
        L.nanquantile(x, 0.3, 1), x.nanquantile(L.tensor([0.25, 0.5, 1.0]), dim=0),
        L.nanquantile(x, 0.6, 1, keepdim=True, interpolation="lower"),
        L.nanquantile(x, 0.6, 1, interpolation="higher"),
        L.nanquantile(x, 0.5, 1, interpolation="midpoint"), L.nanquantile(x, 0.7)),
        (X(4, 5, domain=lambda rng, shape: np.where(rng.random(shape) < 0.3, np.nan,
                                                    distinct(rng, shape))),)),
    "nanmedian_indices": (lambda L, x: (L.nanmedian(x, 1).indices, x.nanmedian(0).indices),
                          (Given(np.array([[1.0, np.nan, 3.0, 2.0], [5.0, 1.0, np.nan, 2.0],
                                           [0.5, 4.0, 3.0, 9.0]], np.float32)),)),
    "scatter_reduce": (lambda L, x, s, i: tuple(
        x.scatter_reduce(0, i, s, reduce, include_self=own)
        for reduce in ("sum", "prod", "mean", "amax", "amin") for own in (True, False)),
        (X(3, 4), X(2, 4), INDEX)),
    "scatter_reduce_ties": (lambda L, x, s, i: (
        L.scatter_reduce(x, 1, i, s, "amax"), L.scatter_reduce(x, 1, i, s, "amin"),
        L.scatter_reduce(x, 1, i, s, "prod", include_self=False)),
        (X(2, 3, domain=lambda rng, shape: np.array([[1.0, 0.0, 2.0], [3.0, 3.0, 0.0]])),
         X(2, 4, domain=lambda rng, shape: np.array([[1.0, 1.0, 0.0, 2.0], [3.0, 0.0, 0.0,
                                                                             1.0]])),
         Given(np.array([[0, 0, 1, 2], [0, 2, 2, 1]], np.int64)))),
    "unique_consecutive": (lambda L, i: (L.unique_consecutive(i.flatten()),
                                         L.unique_consecutive(L.tensor([1, 1, 2, 2, 3, 1, 1]),
                                                              return_inverse=True,
                                                              return_counts=True),
                                         i.unique_consecutive(dim=0)),
                           (Given(np.array([[3, 3], [3, 3], [1, 2]], np.int64)),)),
    "real_tensors_complex_api": (lambda L, x: (L.real(x), x.real, L.conj(x), x.conj(),
                                               L.conj_physical(x), x.resolve_conj(),
                                               L.resolve_neg(x)), (X(2, 3),)),
    # linear algebra
    "pinv_lstsq_power": (lambda L, tall, wide, b, sq: (
        L.linalg.pinv(tall), L.linalg.pinv(wide), L.linalg.lstsq(tall, b).solution,
        L.linalg.matrix_rank(tall), L.linalg.lstsq(tall, b).rank,
        L.linalg.matrix_power(sq, 3), L.linalg.matrix_power(sq, -2),
        L.linalg.matrix_power(sq, 0), L.linalg.matrix_power(sq, 1),
        L.linalg.multi_dot([tall, wide, tall])),
        (X(5, 3), X(3, 5), X(5, 2), X(3, 3, domain=well_conditioned))),
    "rank_deficient": (lambda L, r: (L.linalg.matrix_rank(r), L.linalg.pinv(r)),
                       (Given(np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0]], np.float32)),)),
    "spectral_norms": (lambda L, a, batch: (
        L.linalg.norm(a, 2), L.linalg.norm(a, -2), L.linalg.norm(a, "nuc"),
        L.linalg.matrix_norm(batch, 2), L.linalg.matrix_norm(batch, "nuc", keepdim=True),
        L.linalg.matrix_norm(batch, -2, dim=(0, 2)), L.norm(a, "nuc")),
        (X(4, 3), X(2, 3, 5))),
    "products": (lambda L, a, v, b, c: (L.mv(a, v), a.mv(v), L.inner(v, v), L.inner(a, b),
                                        L.tensordot(a, c, 1), L.tensordot(c, b, ([0], [1])),
                                        L.outer(v, v), v.ger(v)),
                 (X(3, 4), X(4), X(2, 4), X(4, 5))),
    "addmm_family": (lambda L, x, a, b, i, m, v: (L.baddbmm(x, a, b, beta=0.5, alpha=2),
                                                  x.baddbmm(a, b), L.addmv(i, m, v, alpha=3),
                                                  i.addmv(m, v, beta=0)),
                     (X(2, 3, 5), X(2, 3, 4), X(2, 4, 5), X(3), X(3, 4), X(4))),
    "cdist": (lambda L, a, b: (L.cdist(a, b), L.cdist(a, b, p=1), L.cdist(a[None], b[None], 3)),
              (X(3, 4), X(5, 4))),
    "det_inverse": (lambda L, a: (L.det(a), a.det(), L.inverse(a), a.inverse(), L.logdet(a),
                                  L.linalg.inv(a), L.linalg.det(a), L.linalg.slogdet(a).logabsdet,
                                  L.linalg.slogdet(a.detach()).sign),
                    (X(2, 3, 3, domain=well_conditioned),)),
    "solve": (lambda L, a, b, v: (L.linalg.solve(a, b), L.linalg.solve(a, v),
                                  L.linalg.solve(a, b.mT, left=False)),
              (X(3, 3, domain=well_conditioned), X(3, 2), X(3))),
    # B of shape A.shape[:-1]: a batch of vectors, not one matrix (was a shape error)
    "solve_batched_vectors": (lambda L, a, v, m: (L.linalg.solve(a, v), L.linalg.solve(a, m)),
                              (X(2, 3, 3, domain=well_conditioned), X(2, 3), X(2, 3, 2))),
    "factorization_grads": (lambda L, a: _factor_grads(L, a @ a.mT + 3 * L.eye(3)),
                            (X(2, 3, 3),)),
    "factorizations": (lambda L, s: (L.linalg.cholesky(s), L.linalg.cholesky(s, upper=True),
                                     L.linalg.eigh(s).eigenvalues, L.linalg.svdvals(s),
                                     L.linalg.qr(s).R.abs(), L.linalg.svd(s).S), (SPD,)),
}

@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")   # torch's own
@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # NumPy's 1 / 0 and 0 / 0 (ints, NaN)
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name):
    fn, args = CASES[name]
    compare(lambda *a: fn(torch, *a), lambda *a: fn(tinyflow, *a), args,
            rtol=1e-4, atol=1e-5)


def test_bool_results():
    for L in (torch, tinyflow):
        x = L.tensor([[1.0, 2.0], [3.0, 4.0]])
        assert x.equal(x.clone()) is True and x.equal(x[:1]) is False
        assert x.allclose(x + 1e-9) is True and L.tensor([0.0]).is_nonzero() is False
        assert L.is_nonzero(L.tensor([2])) is True
        assert L.can_cast(L.int32, L.float32) and not L.can_cast(L.float32, L.int64)
        assert not L.can_cast(L.int8, L.bool) and L.can_cast(L.uint8, L.int8)
        assert (x.itemsize, x.nbytes, x.ndimension(), x.is_complex(), x.is_signed(),
                L.tensor([True]).is_signed(), x.retains_grad) == (4, 16, 2, False, True,
                                                                  False, False)
        assert x.data_ptr() != 0
    with pytest.raises(RuntimeError, match="ambiguous"):
        tinyflow.tensor([1.0, 2.0]).is_nonzero()


def test_searchsorted_and_bucketize_match_torch():
    for kwargs in ({}, {"right": True}, {"out_int32": True}):
        for L in (torch, tinyflow):
            seq = L.tensor([[1, 3, 5, 7], [2, 4, 6, 8]])
            got = (L.searchsorted(seq, L.tensor([[3, 6], [1, 9]]), **kwargs),
                   L.bucketize(L.tensor([1, 5, 9]), L.tensor([1, 3, 5, 7, 9]), **kwargs))
            if L is torch:
                want = got
            else:
                for ours, theirs in zip(got, want):
                    assert ours.tolist() == theirs.tolist()
                    assert ours.dtype.name == str(theirs.dtype).replace("torch.", "")


def test_in_place_variants_write_the_tensor():
    for name, args in (("scatter_", (0, [[1, 0, 2]], [[9.0, 8.0, 7.0]])),
                       ("scatter_add_", (0, [[1, 0, 2]], [[9.0, 8.0, 7.0]])),
                       ("index_add_", (0, [2, 0], [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])),
                       ("index_copy_", (0, [2, 0], [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])),
                       ("index_fill_", (1, [0, 2], -3.0)),
                       ("masked_scatter_", ([[True, False, True]] * 3, [[1.0] * 6]))):
        results = []
        for L in (torch, tinyflow):
            x = L.arange(9.0).reshape(3, 3)
            call = [L.tensor(a) if isinstance(a, list) else a for a in args]
            if name == "masked_scatter_":
                call[0] = call[0].bool() if L is torch else call[0]
            out = getattr(x, name)(*call)
            assert out is x
            results.append(x.tolist())
        assert results[0] == results[1], name


def test_bernoulli_and_multinomial_draw_as_asked():
    tinyflow.manual_seed(0)
    p = tinyflow.full((4000,), 0.3)
    draws = p.bernoulli()
    assert draws.dtype is tinyflow.float32 and abs(draws.mean().item() - 0.3) < 0.03
    assert set(np.unique(tinyflow.zeros(5).bernoulli(0.0).numpy())) == {0.0}
    picks = tinyflow.tensor([[0.0, 1.0, 0.0]]).multinomial(3, replacement=True)
    assert picks.tolist() == [[1, 1, 1]]


def test_errors_say_what_is_wrong():
    x = tinyflow.ones(3, 4)
    with pytest.raises(RuntimeError, match="out of bounds for dimension 0 with size 3"):
        x.scatter(0, tinyflow.tensor([[5, 0, 0, 0]]), 1.0)
    with pytest.raises(RuntimeError, match="floating point"):
        tinyflow.tensor([1, 2]).norm()
    with pytest.raises(RuntimeError, match=r"k=9 for dim -1 of size 4; k must be in 1..4"):
        x.kthvalue(9)
    with pytest.raises(RuntimeError, match="Expected dtype int64 for index"):
        x.index_add(0, tinyflow.tensor([0.0]), tinyflow.ones(1, 4))
    with pytest.raises(RuntimeError, match="BoolTensor for mask"):
        x.masked_select(tinyflow.ones(3, 4))
    with pytest.raises(RuntimeError, match="singular"):
        tinyflow.linalg.inv(tinyflow.zeros(2, 2))
    with pytest.raises(RuntimeError, match="not positive-definite"):
        tinyflow.linalg.cholesky(-tinyflow.eye(2))
    a = tinyflow.randn(3, 3, requires_grad=True)
    with pytest.raises(NotImplementedError, match="svd factors have no gradient"):
        tinyflow.linalg.svd(a).S.sum().backward()


# ---- 0-d tensors take dims 0 and -1 (PyTorch front end only) -----------------------------

ZERO_DIM = (
    lambda x: x.sum(0), lambda x: x.sum(-1, keepdim=True), lambda x: x.mean(-1),
    lambda x: x.max(0), lambda x: x.min(0, True), lambda x: x.argmax(0),
    lambda x: x.argmin(-1), lambda x: x.amax(0), lambda x: x.softmax(0),
    lambda x: x.log_softmax(-1), lambda x: x.cumsum(0), lambda x: x.logsumexp(0),
    lambda x: x.flip(0), lambda x: x.flip(dims=(-1,)), lambda x: x.norm(dim=0),
    lambda x: x.prod(0), lambda x: x.cumprod(0),
    lambda x: x.all(0), lambda x: x.any(-1), lambda x: x.median(0),
    lambda x: x.var(0, unbiased=False), lambda x: x.nansum(0),
    # p and k come before dim; kthvalue's and mode's dim defaults to -1
    lambda x: x.norm(2), lambda x: x.norm(1, 0), lambda x: x.kthvalue(1),
    lambda x: x.kthvalue(1, 0, True), lambda x: x.mode(),
)
ZERO_DIM_FUNCTIONS = (
    lambda L, x: L.sum(x, 0), lambda L, x: L.max(x, 0), lambda L, x: L.softmax(x, 0),
    lambda L, x: L.cumsum(x, 0), lambda L, x: L.argmax(x, 0), lambda L, x: L.prod(x, -1),
    lambda L, x: L.logsumexp(x, 0), lambda L, x: L.amax(x, -1),
    lambda L, x: L.norm(x, 2), lambda L, x: L.kthvalue(x, 1), lambda L, x: L.mode(x),
    lambda L, x: L.mean(x, -1, True), lambda L, x: L.sum(x, dim=0, keepdim=True),
    lambda L, x: L.mean(x), lambda L, x: L.sum(x, -1, dtype=L.float64),
)


@pytest.mark.parametrize("k", range(len(ZERO_DIM)))
def test_zero_dim_tensor_takes_dim_0_and_minus_1(k):
    compare(lambda x: ZERO_DIM[k](x), lambda x: ZERO_DIM[k](x), (X(),))


@pytest.mark.parametrize("k", range(len(ZERO_DIM_FUNCTIONS)))
def test_zero_dim_tensor_in_torch_functions(k):
    fn = ZERO_DIM_FUNCTIONS[k]
    compare(lambda x: fn(torch, x), lambda x: fn(tinyflow, x), (X(),))


def test_zero_dim_out_of_range_dim_is_an_index_error_as_in_torch():
    for L, says in ((torch, r"range of \[-1, 0\], but got 1"),
                    (tinyflow, r"dim 1 is out of range for a 0-D tensor \(use 0 or -1\)")):
        with pytest.raises(IndexError, match=says):
            L.tensor(3.0).sum(1)


def test_tf1_keeps_refusing_an_axis_on_a_scalar():
    with pytest.raises(tinyflow.ShapeError, match="axis 0 is out of range for rank 0"):
        tinyflow.reduce_sum(tinyflow.constant(3.0), axis=0)


# ---- data-dependent shapes under tinyflow.compile: a graph break that says why -----------

@pytest.mark.filterwarnings("ignore:tinyflow.compile. graph break")
@pytest.mark.parametrize("name", ["nonzero", "unique", "masked_select"])
def test_data_dependent_shapes_break_the_graph_with_a_reason(name):
    calls = {"nonzero": lambda x: (x * 2).nonzero().sum() + 1,
             "unique": lambda x: (x * 2).unique().sum() + 1,
             "masked_select": lambda x: (x + 1).masked_select(x > 0).sum() * 2}
    x = tinyflow.tensor([[1.0, -2.0, 0.0], [3.0, 1.0, -1.0]])
    eager = calls[name](x)
    report = tinyflow.explain(calls[name], x)
    assert report.graph_break_count >= 1
    assert any(name in str(b) for b in report.break_reasons), report.break_reasons
    np.testing.assert_allclose(tinyflow.compile(calls[name])(x).numpy(), eager.numpy())
