"""Answers the last review found wrong against PyTorch 2.13 (issue 14, "their code,
unchanged"): each case runs the same code on torch and on tinyflow and compares values,
dtypes and gradients, or the kind of error."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import tinyflow
from torch_oracle import Given, X, compare, gradcheck

# ---- attention: a row every mask hides -----------------------------------------------------

PADDED = np.array([[False, False, False], [True, True, True]])   # batch 1: every key padded


def _mha(L, x, attn_mask):
    L.manual_seed(0)
    m = L.nn.MultiheadAttention(4, 2, batch_first=True)
    with L.no_grad():   # the same parameters on both sides
        for p in m.parameters():
            p.copy_(L.tensor(np.linspace(-0.5, 0.5, p.numel(), dtype=np.float32)
                             .reshape(tuple(p.shape))))
    out, _ = m(x, x, x, key_padding_mask=L.tensor(PADDED), attn_mask=attn_mask,
               need_weights=False)
    return out


@pytest.mark.filterwarnings("ignore:Support for mismatched")   # torch's own
@pytest.mark.parametrize("attn_mask", [np.zeros((3, 3), bool), np.zeros((3, 3), np.float32)])
def test_mha_with_two_masks_gives_zeros_where_a_row_is_hidden(attn_mask):
    """torch's training path gives 0 there (not a softmax's NaN); gradients stay finite."""
    _, (out,) = compare(lambda x: _mha(torch, x, torch.tensor(attn_mask)),
                        lambda x: _mha(tinyflow, x, tinyflow.tensor(attn_mask)), (X(2, 3, 4),))
    assert np.isfinite(out.detach().numpy()).all()


def test_mha_weights_are_finite_for_a_hidden_row():
    """torch's weights path (need_weights=True) gives NaN here; ours the same zeros as its
    fused path, so one padded sequence does not poison a batch's loss."""
    m = tinyflow.nn.MultiheadAttention(4, 2, batch_first=True)
    x = tinyflow.ones(2, 3, 4)
    out, w = m(x, x, x, key_padding_mask=tinyflow.tensor(PADDED),
               attn_mask=tinyflow.zeros(3, 3, dtype=tinyflow.bool))
    assert np.isfinite(out.detach().numpy()).all() and not w.detach().numpy()[1].any()


@pytest.mark.parametrize("mask", [np.array([[True, True], [False, False]]),
                                  np.array([[0.0, 0.0], [-np.inf, -np.inf]], np.float32)])
def test_sdpa_hidden_row_is_zero_as_torch(mask):
    compare(lambda q: torch.nn.functional.scaled_dot_product_attention(q, q, q,
                                                                       torch.tensor(mask)),
            lambda q: tinyflow.nn.functional.scaled_dot_product_attention(q, q, q,
                                                                          tinyflow.tensor(mask)),
            (X(1, 2, 2, 4),))


# ---- determinants of singular matrices -------------------------------------------------------

SINGULAR = Given(np.array([[[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.5, -1.0, 2.0]],
                           [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]], np.float32))


def _cofactors(a):
    """det's gradient: C[i, j] = (-1)^(i+j) times the minor without row i and column j."""
    c = np.empty_like(a)
    for i, j in np.ndindex(a.shape[-2:]):
        minor = np.delete(np.delete(a, i, axis=-2), j, axis=-1)
        c[..., i, j] = (-1) ** (i + j) * np.linalg.det(minor)
    return c


def test_det_gradient_of_a_singular_matrix_is_its_cofactors_as_torch():
    """On a matrix of rank 2 of 3 and one of rank 1 (cofactors 0), the gradient is the
    cofactors, as torch's where its LU finds the determinant singular in rounding only.
    Where its LU finds det exactly 0 (which one does depends on the CPU's LAPACK kernels:
    on an AMD EPYC it does for the first), torch's gradient comes out 0 (a solve of a zero
    right side); ours stays the cofactors, which finite differences of the polynomial det
    confirm."""
    def grads(L, a):
        a = L.tensor(a.value, requires_grad=True)
        L.linalg.det(a).sum().backward()
        return a.grad.numpy()
    ours = grads(tinyflow, SINGULAR)
    np.testing.assert_allclose(ours, _cofactors(SINGULAR.value.astype(np.float64)), atol=1e-5)
    theirs, dets = grads(torch, SINGULAR), torch.linalg.det(torch.tensor(SINGULAR.value))
    for k in np.flatnonzero(dets.numpy() != 0):
        np.testing.assert_allclose(ours[k], theirs[k], atol=1e-5)
    gradcheck(tinyflow.linalg.det, np.array([[0.0, 0.0], [0.0, 1.0]]))
    gradcheck(tinyflow.linalg.det, np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]]))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # log(0), g / 0
@pytest.mark.parametrize("fn", ["logdet", "slogdet"])
def test_log_determinant_of_a_singular_matrix_has_a_gradient(fn):
    """torch gives -inf and a non-finite gradient (not an error)."""
    a = tinyflow.tensor(SINGULAR.value[:1], requires_grad=True)
    out = getattr(tinyflow, fn)(a)
    (out[1] if fn == "slogdet" else out).sum().backward()
    assert np.isneginf((out[1] if fn == "slogdet" else out).detach().numpy()).all()
    assert not np.isfinite(a.grad.numpy()).all()


# ---- max pooling: which NaN of a window gets the gradient ----------------------------------

def _nan_windows(shape):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(np.float32)
    x[rng.random(shape) < 0.5] = np.nan      # several NaNs in most windows
    return x


@pytest.mark.parametrize("shape, kwargs", [((2, 3, 6, 8), dict(kernel_size=2)),
                                           ((2, 3, 6, 9), dict(kernel_size=3)),
                                           ((1, 2, 7, 7), dict(kernel_size=3, stride=1)),
                                           ((1, 2, 6, 6), dict(kernel_size=3, stride=2,
                                                               padding=1))])
def test_max_pool_gradient_goes_to_the_last_nan_as_torch(shape, kwargs):
    compare(lambda x: torch.nn.functional.max_pool2d(x, **kwargs),
            lambda x: tinyflow.nn.functional.max_pool2d(x, **kwargs),
            (X(*shape, domain=lambda rng, s: _nan_windows(s)),), atol=1e-6)


# ---- gradients at NaN and at the limits ------------------------------------------------------

EDGES = np.array([np.nan, 0.0, -1.0, 1.0, 6.0, 0.5, -3.0, 7.0, np.nan], np.float32)
ACTIVATIONS = {
    "relu": lambda L, x: L.relu(x),
    "relu_module": lambda L, x: L.nn.ReLU()(x),
    "leaky_relu": lambda L, x: L.nn.functional.leaky_relu(x),
    "hardtanh": lambda L, x: L.nn.functional.hardtanh(x),
    "relu6": lambda L, x: L.nn.functional.relu6(x),
    "elu": lambda L, x: L.nn.functional.elu(x),
    "clamp": lambda L, x: L.clamp(x, -1.0, 1.0),
    "clamp_min": lambda L, x: L.clamp(x, min=0.0),
    "clamp_max": lambda L, x: x.clamp(max=0.5),
    "maximum": lambda L, x: L.maximum(x, x.flip(0)),
    "minimum": lambda L, x: L.minimum(x, x.flip(0)),
}


@pytest.mark.filterwarnings("ignore:invalid value")   # comparing a NaN sets the flag
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_gradient_at_nan_and_limits_as_torch(name):
    fn = ACTIVATIONS[name]
    compare(lambda x: fn(torch, x), lambda x: fn(tinyflow, x),
            (X(9, domain=lambda rng, shape: EDGES),))


def test_clamp_by_tensor_gives_the_limit_its_gradient():
    compare(lambda x, m: torch.clamp(x, min=m), lambda x, m: tinyflow.clamp(x, min=m),
            (X(9, domain=lambda rng, shape: EDGES), X()))


# ---- integer sums accumulate in int64 --------------------------------------------------------

@pytest.mark.parametrize("dtype", ["bool", "int8", "int16", "int32", "uint8", "int64"])
def test_integer_sums_and_products_are_int64_as_torch(dtype):
    values = np.array([[1, 0, 1], [1, 1, 0]]).astype(dtype)
    calls = {"sum": lambda L, x: x.sum(), "sum_dim": lambda L, x: L.sum(x, 0),
             "cumsum": lambda L, x: L.cumsum(x, 1), "cumsum_method": lambda L, x: x.cumsum(0),
             "prod": lambda L, x: x.prod(), "cumprod": lambda L, x: L.cumprod(x, 1),
             "sum_dtype": lambda L, x: x.sum(dtype=L.int32),
             "cumsum_dtype": lambda L, x: L.cumsum(x, 0, dtype=L.float32)}
    for name, fn in calls.items():
        theirs, ours = fn(torch, torch.tensor(values)), fn(tinyflow, tinyflow.tensor(values))
        assert ours.dtype.name == str(theirs.dtype).replace("torch.", ""), name
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=name)


def test_mean_of_integers_is_refused_as_torch():
    for L, says in ((torch, "could not infer output dtype"),
                    (tinyflow, r"mean\(\): the input is int64; a mean is taken of floating")):
        with pytest.raises(RuntimeError, match=says):
            L.tensor([1, 2]).mean()
    assert tinyflow.tensor([1, 2]).mean(dtype=tinyflow.float32).item() == 1.5


def test_tf1_sums_keep_int32():
    with tinyflow.Graph().as_default():
        x = tinyflow.placeholder(tinyflow.int32, [3])
        assert tinyflow.cumsum(x, 0).dtype is tinyflow.int32
        assert tinyflow.reduce_sum(x).dtype is tinyflow.int32


# ---- piecewise-constant functions: zero gradients, not an error -------------------------------

@pytest.mark.parametrize("name", ["round", "trunc", "floor", "ceil", "sign", "frac",
                                  "fix"])
def test_rounding_gives_zero_gradients_as_torch(name):
    compare(lambda x: getattr(torch, name)(x * 3), lambda x: getattr(tinyflow, name)(x * 3),
            (X(2, 5),))


# ---- the names added: finite-difference checks of the differentiable ones --------------------

_RNG = np.random.default_rng(3)
_IDX = tinyflow.tensor(np.array([[2, 0, 1, 1], [0, 2, 2, 0]]))
FINITE_DIFFERENCES = {
    "pinv_tall": (lambda a: tinyflow.linalg.pinv(a), (_RNG.standard_normal((4, 3)),)),
    "pinv_wide": (lambda a: tinyflow.linalg.pinv(a), (_RNG.standard_normal((2, 4)),)),
    "matrix_power": (lambda a: tinyflow.linalg.matrix_power(a, -3),
                     (_RNG.uniform(-1, 1, (3, 3)) + 3 * np.eye(3),)),
    "norm_2": (lambda a: tinyflow.linalg.matrix_norm(a, 2), (_RNG.standard_normal((3, 4)),)),
    "norm_nuc": (lambda a: tinyflow.linalg.norm(a, "nuc"), (_RNG.standard_normal((4, 3)),)),
    "norm_-2": (lambda a: tinyflow.linalg.norm(a, -2), (_RNG.standard_normal((4, 3)),)),
    "nanmedian": (lambda x: tinyflow.nanmedian(x, 1).values,
                  (np.array([[1.0, np.nan, 3.0, 2.0], [0.5, 4.0, 3.0, 9.0]]),)),
    "nanquantile": (lambda x: tinyflow.nanquantile(x, 0.3, 1),
                    (np.array([[1.0, np.nan, 3.0, 2.0], [0.5, 4.0, 3.0, 9.0]]),)),
    **{f"scatter_reduce_{r}_{own}": (
        lambda x, s, r=r, own=own: x.scatter_reduce(0, _IDX, s, r, include_self=own),
        (_RNG.uniform(0.5, 2, (3, 4)), _RNG.uniform(0.5, 2, (2, 4))))
       for r in ("sum", "prod", "mean", "amax", "amin") for own in (True, False)},
}


@pytest.mark.parametrize("name", sorted(FINITE_DIFFERENCES))
def test_new_names_gradients_match_finite_differences(name):
    fn, arrays = FINITE_DIFFERENCES[name]
    gradcheck(fn, *arrays, atol=1e-6)


# ---- writing into expand / broadcast_to results --------------------------------------------

WRITES = {
    "add_": (lambda L, a: a[0].expand(2, 3), lambda L, b: b.add_(1)),
    "iadd": (lambda L, a: a[0].expand(2, 3), lambda L, b: b.__iadd__(1)),
    "copy_": (lambda L, a: a[0].expand(2, 3), lambda L, b: b.copy_(L.ones(2, 3))),
    "setitem_row": (lambda L, a: a[0].expand(2, 3), lambda L, b: b.__setitem__(0, 5)),
    "setitem_column": (lambda L, a: a[0].expand(2, 3),
                       lambda L, b: b.__setitem__((slice(None), 1), 5)),
    "setitem_element": (lambda L, a: a[0].expand(2, 3), lambda L, b: b.__setitem__((1, 2), 7)),
    "fill_": (lambda L, a: L.broadcast_to(a[0], (2, 3)), lambda L, b: b.fill_(1)),
    "zero_": (lambda L, a: L.broadcast_to(a[1], (4, 3)), lambda L, b: b.zero_()),
    "no_overlap_add_": (lambda L, a: a[:1].expand(1, 3), lambda L, b: b.add_(1)),
    "no_overlap_expand_as": (lambda L, a: a.expand_as(a), lambda L, b: b.mul_(2)),
    "no_overlap_setitem": (lambda L, a: a[:1].expand(1, 3), lambda L, b: b.__setitem__(0, 4)),
}


@pytest.mark.parametrize("name", sorted(WRITES))
def test_writes_into_expanded_views_as_torch(name):
    """Where no two written elements share memory the write reaches the base; else torch's
    RuntimeError (ours in our words)."""
    make, write = WRITES[name]
    outcomes = []
    for L in (torch, tinyflow):
        a = L.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
        try:
            write(L, make(L, a))
            outcomes.append(a.tolist())
        except RuntimeError as error:
            outcomes.append("refused" if "single memory location" in str(error) or
                            "one write would land in several elements" in str(error)
                            else str(error))
    assert outcomes[1] == outcomes[0]


def test_write_into_an_expand_of_a_fortran_ordered_tensor_reaches_it_as_torch():
    """from_numpy of a Fortran-ordered array: the expand's memory root is one block, in
    column order."""
    outcomes = []
    for L in (torch, tinyflow):
        a = L.from_numpy(np.asfortranarray(np.arange(6, dtype=np.float32).reshape(3, 2)))
        wide = a[:, 1:].expand(3, 4)
        wide[:, 0].fill_(9)
        wide[1, 0] = 7
        outcomes.append(a.tolist())
    assert outcomes[1] == outcomes[0]


# ---- everyday spellings found missing ----------------------------------------------------------

@pytest.mark.filterwarnings("ignore:invalid value")   # sqrt_ of a negative: NaN, as torch
def test_in_place_variants_of_elementwise_methods_as_torch():
    from tinyflow.pytorch.inplace import SAME_SHAPE
    assert all(hasattr(tinyflow.Tensor, n) for n in SAME_SHAPE)
    for name, args in [("abs_", ()), ("sqrt_", ()), ("exp_", ()), ("sigmoid_", ()),
                       ("clamp_min_", (0.5,)), ("lerp_", (None, 0.3)), ("tril_", ()),
                       ("addcmul_", (None, None)), ("lt_", (0.0,)), ("cumsum_", (1,))]:
        results = []
        for L in (torch, tinyflow):
            x = L.tensor([[-1.5, 2.0], [0.25, -3.0]])
            other = L.tensor([[1.0, 2.0], [3.0, 4.0]])
            same = x
            assert getattr(x, name)(*(other if a is None else a for a in args)) is x
            results.append(same.tolist())
        np.testing.assert_allclose(results[1], results[0], rtol=1e-6, err_msg=name)


def test_type_names_the_tensor_type_as_torch():
    for L in (torch, tinyflow):
        x = L.ones(2)
        assert (x.type(), x.long().type(), x.type("torch.IntTensor").type()) == (
            "torch.FloatTensor", "torch.LongTensor", "torch.IntTensor")


def _cubic(x, y):
    return (x ** 3 * y[:3]).sum() + (x * y[1:]).prod()


@pytest.mark.parametrize("which", ["jacobian", "jacobian_tuple", "hessian", "hessian_tuple",
                                   "vjp", "hvp"])
def test_autograd_functional_as_torch(which):
    x0, y0 = np.array([0.5, -1.0, 2.0], np.float32), np.array([1.0, 2.0, -0.5, 0.3], np.float32)
    results = []
    for L in (torch, tinyflow):
        fn = L.autograd.functional
        x, y = L.tensor(x0), L.tensor(y0)
        result = {
            "jacobian": lambda: fn.jacobian(lambda t: t.sin() * t[0], x),
            "jacobian_tuple": lambda: fn.jacobian(lambda a, b: (a * b[:3], b.sum()), (x, y)),
            "hessian": lambda: fn.hessian(lambda t: (t ** 3).sum() * t[1], x),
            "hessian_tuple": lambda: fn.hessian(_cubic, (x, y)),
            "vjp": lambda: fn.vjp(lambda t: t.exp() * 2, x, L.tensor([1.0, 0.5, -1.0])),
            "hvp": lambda: fn.hvp(lambda t: (t ** 3).sum(), x, L.tensor([1.0, 0.0, 2.0])),
        }[which]()
        flat = []

        def collect(r):
            if isinstance(r, (tuple, list)):
                for item in r:
                    collect(item)
            else:
                flat.append(np.asarray(r.detach().numpy()))
        collect(result)
        results.append(flat)
    assert len(results[0]) == len(results[1])
    for ours, theirs in zip(results[1], results[0]):
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("t_mult, fractional", [(1, False), (2, False), (2, True)])
def test_cosine_annealing_warm_restarts_as_torch(t_mult, fractional):
    rates = []
    for L in (torch, tinyflow):
        p = L.nn.Parameter(L.ones(1))
        opt = L.optim.SGD([p], lr=0.1)
        sched = L.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=t_mult,
                                                                 eta_min=0.01)
        seen = []
        for step in range(12):
            opt.step()
            sched.step(step * 0.75 if fractional else None)
            seen.append(opt.param_groups[0]["lr"])
        rates.append(seen + sched.get_last_lr())
    np.testing.assert_allclose(rates[1], rates[0], rtol=1e-12)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_logsumexp_of_infinities_as_torch():
    rows = Given(np.array([[-np.inf, -np.inf], [1.0, np.inf], [1.0, 2.0]], np.float32))
    compare(lambda x: torch.logsumexp(x, 1), lambda x: tinyflow.logsumexp(x, 1), (rows,))
    compare(lambda x: torch.logsumexp(x, 1), lambda x: tinyflow.logsumexp(x, 1), (X(3, 4),))


def test_dtype_attributes_as_torch():
    for name in ("float32", "float16", "bfloat16", "int64", "uint8", "bool"):
        ours, theirs = getattr(tinyflow, name), getattr(torch, name)
        assert (ours.is_floating_point, ours.is_signed, ours.is_complex, ours.itemsize) == (
            theirs.is_floating_point, theirs.is_signed, theirs.is_complex, theirs.itemsize)


@pytest.mark.parametrize("name", ["i0e", "i1e"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scaled_bessel_functions_stay_finite_where_i0_overflows_as_torch(name, dtype):
    """e^-|x| i0(x) at |x| beyond i0's range (float32 ~90, float64 ~713), and its gradient."""
    x = np.array([-1000.0, -200.0, -95.0, -3.0, 0.0, 0.5, 95.0, 200.0, 1000.0], dtype)
    results = []
    for L in (torch, tinyflow):
        t = L.tensor(x, requires_grad=True)
        y = getattr(L.special, name)(t)
        y.sum().backward()
        results.append((y.detach().numpy(), t.grad.numpy()))
    for got, expected in zip(results[1], results[0]):
        np.testing.assert_allclose(got, expected, rtol=2e-5 if dtype == np.float32 else 1e-9,
                                   atol=1e-7)


def test_float_power_in_place_needs_a_float64_base_as_torch():
    """Its result is float64: written into a float32 base PyTorch refuses rather than round."""
    for L in (torch, tinyflow):
        x = L.tensor([1.5, 2.0], dtype=L.float64)
        assert x.float_power_(2) is x and x.tolist() == [2.25, 4.0]
        with pytest.raises(RuntimeError, match="float_power_"):
            L.tensor([1.5, 2.0]).float_power_(2)
