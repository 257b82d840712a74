"""tinyflow.func against torch.func (float64, same functions) and against finite differences."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.func as tfunc

import tinyflow as tf
from tinyflow import func

RNG = np.random.default_rng(0)


def data(*shape) -> np.ndarray:
    return RNG.standard_normal(shape)


def ours(a):
    return tf.tensor(np.array(a), dtype=tf.float64)


def theirs(a):
    return torch.tensor(np.array(a), dtype=torch.float64)


def close(mine, ref, atol=1e-9):
    """Pytrees of tinyflow and torch tensors agree leaf by leaf."""
    if isinstance(ref, (tuple, list)):
        assert isinstance(mine, type(ref)) and len(mine) == len(ref), (mine, ref)
        for m, r in zip(mine, ref):
            close(m, r, atol)
    elif isinstance(ref, dict):
        assert mine.keys() == ref.keys()
        for k in ref:
            close(mine[k], ref[k], atol)
    else:
        assert isinstance(mine, tf.Tensor), mine
        assert tuple(mine.shape) == tuple(ref.shape), (mine.shape, ref.shape)
        np.testing.assert_allclose(mine.detach().numpy(), ref.detach().numpy(), rtol=1e-7,
                                   atol=atol)


def numeric_grad(f, arrays, k, eps=1e-6) -> np.ndarray:
    """Central differences of scalar f(*arrays) (on NumPy) in arrays[k]."""
    x = arrays[k]
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        plus, minus = [a.copy() for a in arrays], [a.copy() for a in arrays]
        plus[k][i] += eps
        minus[k][i] -= eps
        g[i] = (f(*map(ours, plus)).item() - f(*map(ours, minus)).item()) / (2 * eps)
    return g


# ---- the functions, written once for both libraries (Tensor methods they share) -----------
def poly(x):
    return (3 * x ** 3 - 2 * x ** 2 + x).sum()


def tanh_exp_log(x):
    return ((x.tanh() * x).exp() + (x * x + 1).log()).sum()


def mlp_loss(w1, w2, x):
    return ((x @ w1).tanh() @ w2).pow(2).mean()


def cross_entropy(logits, onehot):
    shifted = logits - logits.max(-1, keepdim=True)[0]
    logp = shifted - shifted.exp().sum(-1, keepdim=True).log()
    return -(logp * onehot).sum() / logits.shape[0]


def xent_of_linear(w, x, onehot):
    return cross_entropy(x @ w, onehot)


ONEHOT = np.eye(3)[[0, 2, 1, 2]]
CASES = {   # name: (f, arrays)
    "poly": (poly, [data(5)]),
    "tanh_exp_log": (tanh_exp_log, [data(2, 3)]),
    "mlp": (mlp_loss, [data(3, 4), data(4, 2), data(5, 3)]),
    "xent": (xent_of_linear, [data(6, 3), data(4, 6), ONEHOT]),
}


@pytest.mark.parametrize("name", CASES)
def test_grad_every_argument_matches_torch_func_and_finite_differences(name):
    f, arrays = CASES[name]
    argnums = tuple(range(len(arrays)))
    mine = func.grad(f, argnums=argnums)(*map(ours, arrays))
    close(mine, tfunc.grad(f, argnums=argnums)(*map(theirs, arrays)))
    for k in argnums:
        np.testing.assert_allclose(mine[k].numpy(), numeric_grad(f, arrays, k), atol=1e-6)


def test_grad_of_grad_is_the_second_derivative():
    f = lambda x: (x.tanh() * x.exp()).sum()  # noqa: E731
    x = data()                                  # a 0-d scalar, as torch.func needs
    d2 = func.grad(func.grad(f))(ours(x))
    close(d2, tfunc.grad(tfunc.grad(f))(theirs(x)))
    d1 = func.grad(f)
    numeric = (d1(ours(x + 1e-5)).item() - d1(ours(x - 1e-5)).item()) / 2e-5
    assert d2.item() == pytest.approx(numeric, rel=1e-6)
    close(func.grad(func.grad(func.grad(f)))(ours(x)),
          tfunc.grad(tfunc.grad(tfunc.grad(f)))(theirs(x)))


def test_nested_levels_do_not_confuse_their_variables():
    """Siskind and Pearlmutter's perturbation confusion: d/dx (x * d/dy (x + y)) is 1."""
    x = ours(np.array(2.5))
    inner = lambda x: func.grad(lambda y: x + y)(x)  # noqa: E731
    assert func.grad(lambda x: x * inner(x))(x).item() == 1.0
    assert func.jvp(lambda x: x * inner(x), (x,), (ours(np.array(1.0)),))[1].item() == 1.0


def test_grad_of_a_sum_of_gradients_matches_torch_on_an_mlp():
    """Reverse over reverse through a matmul MLP: d/dw1 of |d loss / d w2|^2."""
    w1, w2, x = CASES["mlp"][1]

    def outer(lib, make):
        inner = lib.grad(mlp_loss, argnums=1)
        return lib.grad(lambda w1: inner(w1, make(w2), make(x)).pow(2).sum())(make(w1))
    close(outer(func, ours), outer(tfunc, theirs))


def test_argnums_negative_and_tuple_shapes():
    w1, w2, x = CASES["mlp"][1]
    close(func.grad(mlp_loss, argnums=-1)(*map(ours, (w1, w2, x))),
          tfunc.grad(mlp_loss, argnums=-1)(*map(theirs, (w1, w2, x))))
    one = func.grad(mlp_loss, argnums=(1,))(*map(ours, (w1, w2, x)))
    assert isinstance(one, tuple) and len(one) == 1


def test_unused_argument_gets_zeros_as_in_torch_func():
    f = lambda x, y: (x * x).sum()  # noqa: E731
    a, b = data(3), data(2)
    close(func.grad(f, argnums=(0, 1))(ours(a), ours(b)),
          tfunc.grad(f, argnums=(0, 1))(theirs(a), theirs(b)))


def test_has_aux_and_grad_and_value_and_value_and_grad():
    def f(x):
        y = tanh_exp_log(x)
        return y, {"y2": y * 2, "x": x}
    a = data(2, 3)
    close(func.grad(f, has_aux=True)(ours(a)), tfunc.grad(f, has_aux=True)(theirs(a)))
    close(func.grad_and_value(f, has_aux=True)(ours(a)),
          tfunc.grad_and_value(f, has_aux=True)(theirs(a)))
    close(func.grad_and_value(poly)(ours(a)), tfunc.grad_and_value(poly)(theirs(a)))
    value, g = func.value_and_grad(poly)(ours(a))          # JAX's order
    close((g, value), tfunc.grad_and_value(poly)(theirs(a)))


def test_pytree_arguments_get_gradients_of_their_structure():
    def f(params, x):
        return mlp_loss(params["w"][0], params["w"][1], x) + params["b"].sin().sum()
    w1, w2, x = CASES["mlp"][1]
    b = data(2)
    mine = func.grad(f)({"w": (ours(w1), ours(w2)), "b": ours(b)}, ours(x))
    close(mine, tfunc.grad(f)({"w": (theirs(w1), theirs(w2)), "b": theirs(b)}, theirs(x)))


def test_vjp_with_tuple_output_and_two_primals_called_twice():
    f = lambda x, y: ((x * y).tanh(), (x @ y.T).exp())  # noqa: E731
    a, b, c1, c2 = data(2, 3), data(2, 3), data(2, 3), data(2, 2)
    out, vjp_fn = func.vjp(f, ours(a), ours(b))
    ref_out, ref_fn = tfunc.vjp(f, theirs(a), theirs(b))
    close(out, ref_out)
    for scale in (1.0, -2.0):
        close(vjp_fn((ours(c1 * scale), ours(c2))), ref_fn((theirs(c1 * scale), theirs(c2))))
    _, one = func.vjp(tanh_exp_log, ours(a))
    close(one(ours(np.array(1.0))), tfunc.vjp(tanh_exp_log, theirs(a))[1](theirs(np.array(1.0))))


def test_vjp_has_aux():
    f = lambda x: (x.exp(), x.sum())  # noqa: E731
    a = data(3)
    out, fn, aux = func.vjp(f, ours(a), has_aux=True)
    ref_out, ref_fn, ref_aux = tfunc.vjp(f, theirs(a), has_aux=True)
    close((out, aux, fn(ours(a))), (ref_out, ref_aux, ref_fn(theirs(a))))


@pytest.mark.parametrize("name", ["poly", "tanh_exp_log", "mlp", "xent"])
def test_jvp_matches_torch_func_and_finite_differences(name):
    f, arrays = CASES[name]
    tangents = [data(*a.shape) for a in arrays]
    mine = func.jvp(f, tuple(map(ours, arrays)), tuple(map(ours, tangents)))
    close(mine, tfunc.jvp(f, tuple(map(theirs, arrays)), tuple(map(theirs, tangents))))
    eps = 1e-6
    plus = f(*[ours(a + eps * t) for a, t in zip(arrays, tangents)]).item()
    minus = f(*[ours(a - eps * t) for a, t in zip(arrays, tangents)]).item()
    assert mine[1].item() == pytest.approx((plus - minus) / (2 * eps), rel=1e-6, abs=1e-8)


def test_jvp_of_a_pytree_output():
    f = lambda x: {"t": x.tanh(), "pair": (x * x, x.exp())}  # noqa: E731
    a, t = data(4), data(4)
    close(func.jvp(f, (ours(a),), (ours(t),)), tfunc.jvp(f, (theirs(a),), (theirs(t),)))


@pytest.mark.parametrize("name", ["poly", "tanh_exp_log", "xent"])
def test_hvp_matches_torch_autograd_functional_and_reverse_over_reverse(name):
    f, arrays = CASES[name]
    rest = arrays[1:]
    g = lambda x: f(x, *map(ours, rest))   # noqa: E731
    ref = lambda x: f(x, *map(theirs, rest))   # noqa: E731
    x, v = arrays[0], data(*arrays[0].shape)
    mine = func.hvp(g, (ours(x),), (ours(v),))
    close(mine, torch.autograd.functional.hvp(ref, theirs(x), theirs(v))[1])
    reverse = func.grad(lambda x: (func.grad(g)(x) * ours(v)).sum())(ours(x))
    close(mine, reverse)


def test_hvp_over_two_primals_is_the_full_hessian_times_the_tangents():
    w1, w2, x = CASES["mlp"][1]
    f = lambda w1, w2: mlp_loss(w1, w2, ours(x))  # noqa: E731
    ref = lambda w1, w2: mlp_loss(w1, w2, theirs(x))  # noqa: E731
    v1, v2 = data(*w1.shape), data(*w2.shape)
    close(func.hvp(f, (ours(w1), ours(w2)), (ours(v1), ours(v2))),
          torch.autograd.functional.hvp(ref, (theirs(w1), theirs(w2)),
                                        (theirs(v1), theirs(v2)))[1])


def test_jacrev_jacfwd_and_hessian_match_torch_func():
    f = lambda x, y: ((x @ y).tanh(), x.exp().sum())  # noqa: E731
    a, b = data(2, 3), data(3, 2)
    for ours_t, ref_t in ((func.jacrev, tfunc.jacrev), (func.jacfwd, tfunc.jacfwd)):
        close(ours_t(f)(ours(a), ours(b)), ref_t(f)(theirs(a), theirs(b)))
        close(ours_t(f, argnums=(0, 1))(ours(a), ours(b)),
              ref_t(f, argnums=(0, 1))(theirs(a), theirs(b)))
    close(func.hessian(tanh_exp_log)(ours(a)), tfunc.hessian(tanh_exp_log)(theirs(a)))
    g = lambda w, x: xent_of_linear(w, x, ours(ONEHOT))  # noqa: E731
    r = lambda w, x: xent_of_linear(w, x, theirs(ONEHOT))  # noqa: E731
    w, x = CASES["xent"][1][:2]
    close(func.hessian(g, argnums=(0, 1))(ours(w), ours(x)),
          tfunc.hessian(r, argnums=(0, 1))(theirs(w), theirs(x)))


def test_vmap_of_grad_gives_per_sample_gradients():
    w, x = data(3, 2), data(5, 3)
    loss = lambda w, xi: ((xi @ w).tanh() ** 2).sum()  # noqa: E731
    close(func.vmap(func.grad(loss), in_dims=(None, 0))(ours(w), ours(x)),
          tfunc.vmap(tfunc.grad(loss), in_dims=(None, 0))(theirs(w), theirs(x)))
    close(func.vmap(lambda a, b: (a * b, a.sum()), in_dims=(1, 0))(ours(x.T), ours(x)),
          tfunc.vmap(lambda a, b: (a * b, a.sum()), in_dims=(1, 0))(theirs(x.T), theirs(x)))


# ---- the caller's tensors, and gradients flowing out of a transform -----------------------
def test_callers_tensors_are_not_touched_and_results_are_detached():
    a = ours(data(3))
    g = func.grad(poly)(a)
    assert not a.requires_grad and a.grad is None and not g.requires_grad
    b = ours(data(3)).requires_grad_()
    _, vjp_fn = func.vjp(lambda x: x.tanh(), b)
    assert b.grad is None and b.requires_grad


def test_results_stay_differentiable_by_autograd_as_in_torch_func():
    """A tensor that requires grad (an argument or a closed-over parameter) gets a result
    with history: backward through grad() reaches it, with torch's values."""
    a, w = data(4), data(4)
    grads = []
    for lib, make in ((func, ours), (tfunc, theirs)):
        x, p = make(a).requires_grad_(), make(w).requires_grad_()
        g = lib.grad(lambda x: ((x * p).sin()).sum())(x)
        assert g.requires_grad
        (g * g).sum().backward()
        grads.append((x.grad, p.grad))
    close(grads[0], grads[1])


def test_inside_no_grad_the_result_is_detached():
    x = ours(data(3)).requires_grad_()
    with tf.no_grad():
        g = func.grad(poly)(x)
    assert not g.requires_grad
    np.testing.assert_allclose(g.numpy(), func.grad(poly)(x).detach().numpy())


def test_symbolic_inputs_build_a_graph_that_a_session_runs():
    """On graph tensors the transforms build nodes (the JIT's tracer path)."""
    a = data(4)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float64, shape=[4])
        g = func.grad(tanh_exp_log)(x)
        h = func.hvp(tanh_exp_log, (x,), (x,))
        hess = func.hessian(tanh_exp_log)(x)
        with tf.Session() as sess:
            got_g, got_h, got_hess = sess.run([g, h, hess], {x: a})
        with pytest.raises(ValueError, match="static shape"):
            func.jacrev(lambda v: v.exp())(tf.placeholder(tf.float64, shape=[None]))
    np.testing.assert_allclose(got_g, func.grad(tanh_exp_log)(ours(a)).numpy(), rtol=1e-12)
    np.testing.assert_allclose(got_h, func.hvp(tanh_exp_log, (ours(a),), (ours(a),)).numpy(),
                               rtol=1e-12)
    close(ours(got_hess), tfunc.hessian(tanh_exp_log)(theirs(a)))


# ---- errors: torch.func's class and what is wrong -----------------------------------------
X = data(3)


def error_of(call):
    with pytest.raises(Exception) as e:
        call(func, ours)
    with pytest.raises(Exception) as ref:
        call(tfunc, theirs)
    assert type(e.value) is type(ref.value), (e.value, ref.value)
    return str(e.value), str(ref.value)


@pytest.mark.parametrize("call, says", [
    (lambda lib, T: lib.grad(lambda x: x * 2)(T(X)), "f returned a 1-dim tensor; grad needs a "
                                                   "0-dim result"),
    (lambda lib, T: lib.grad(lambda x: 3.0)(T(X)), "f returned <class 'float'>, where a one-element"),
    (lambda lib, T: lib.grad(lambda x: x.sum(), has_aux=True)(T(X)),
     "with has_aux=True, f must return a pair (output, aux), got Tensor"),
    (lambda lib, T: lib.grad(lambda x, y: x.sum(), argnums=2)(T(X), T(X)),
     "argnums: 2 is out of range for 2 positional inputs"),
    (lambda lib, T: lib.grad(lambda x: x.sum(), argnums=1.0)(T(X)),
     "argnums is <class 'float'>: give one int position"),
    (lambda lib, T: lib.grad(lambda x: x.sum(), argnums=())(T(X)), "argnums must be non-empty"),
    (lambda lib, T: lib.grad(lambda x: x)(3.0), "input to differentiate must be Tensor, got <class"),
    (lambda lib, T: lib.grad(lambda x: x.sum())(T(np.arange(3)).long()),
     "an input of dtype int64 cannot be differentiated"),
    (lambda lib, T: lib.vjp(lambda x: 3.0, T(X)), "vjp(f, *primals): f returned <class 'float'>"),
    (lambda lib, T: lib.vjp(lambda x: x * 2, T(X))[1](T(np.ones(2))),
     "cotangent 0 is [2] for an output of shape [3]"),
    (lambda lib, T: lib.vjp(lambda x: (x, x), T(X))[1](T(X)),
     "the cotangents are nested as * but f's output as (*, *)"),
    (lambda lib, T: lib.jvp(lambda x: x, T(X), T(X)), "primals is a Tensor, where a tuple is"),
    (lambda lib, T: lib.jvp(lambda x: x, (T(X),), (T(np.ones(2)),)),
     "a tangent of shape [2] for a primal of shape [3]"),
    (lambda lib, T: lib.jvp(lambda x: x, (T(X),), (T(X), T(X))),
     "primals are nested as (*,) but tangents as (*, *)"),
], ids=["nonscalar", "not-a-tensor", "aux-not-pair", "argnum-range", "argnum-type",
        "argnums-empty", "float-arg", "int-arg", "vjp-output", "cotangent-shape",
        "cotangent-structure", "jvp-not-tuple", "tangent-shape", "tangent-structure"])
def test_errors_match_torch_func(call, says):
    """torch.func's exception class; our own words, naming what is wrong."""
    mine, ref = error_of(call)
    assert says in mine, (mine, ref)


# ---- functional_call: gradients w.r.t. a module's parameters as a dict --------------------
def two_layer(nn):
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()


def test_grad_of_functional_call_matches_torch_func_and_leaves_the_module_alone():
    mine, ref = two_layer(tf.nn), two_layer(torch.nn)
    weights = {n: data(*p.shape) for n, p in ref.named_parameters()}
    x, onehot = data(5, 3), np.eye(2)[[0, 1, 1, 0, 1]]

    def loss_of(lib, model, make):
        return lambda params: cross_entropy(
            lib.functional_call(model, params, (make(x),)), make(onehot))
    before = {n: p.detach().numpy().copy() for n, p in mine.named_parameters()}
    got = func.grad(loss_of(func, mine, ours))({n: ours(w) for n, w in weights.items()})
    want = tfunc.grad(loss_of(tfunc, ref, theirs))({n: theirs(w) for n, w in weights.items()})
    close(got, want)
    for n, p in mine.named_parameters():
        np.testing.assert_array_equal(p.detach().numpy(), before[n])
        assert p.grad is None


def test_functional_call_strict_names_the_keys():
    with pytest.raises(RuntimeError, match=r"Unexpected key\(s\): 'weight2'.*\n.*Missing key"):
        func.functional_call(tf.nn.Linear(2, 2), {"weight2": ours(np.zeros((2, 2)))},
                             (ours(np.ones((1, 2))),), strict=True)
    same = func.functional_call(tf.nn.Linear(2, 2), ({"weight": ours(np.zeros((2, 2)))},
                                                     {"bias": ours(np.ones(2))}),
                                ours(np.ones((1, 2))))
    np.testing.assert_array_equal(same.numpy(), [[1, 1]])


# ---- under tinyflow.compile (the JIT, built in another branch: runs once both are merged) --
@pytest.mark.skipif(not hasattr(tf, "compile"), reason="tinyflow.compile is not in this tree")
def test_transforms_under_compile_equal_eager_and_read_closed_over_tensors_each_call():
    x, p = ours(data(4, 3)), ours(np.ones((3, 1)))
    loss = lambda q: ((x @ q).tanh() ** 2).sum()  # noqa: E731

    def step(w):
        return (func.grad(loss)(w), func.hvp(loss, (w,), (w,)), func.jacrev(lambda q: x @ q)(w),
                func.grad(loss)(p.detach()))   # a fresh stand-in of a changing tensor
    compiled = tf.compile(step)
    for scale in (1.0, 2.0, -0.5):
        with tf.no_grad():
            p.mul_(scale)
        w = ours(data(3, 1))
        for got, want in zip(compiled(w), step(w)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
