"""Op tests driven by the table in the op_table package (one module per group of ops).

For every entry and sample: the forward pass against NumPy (eager, and in a Session with
placeholders of known shape, unknown dims and unknown rank); the gradient against central
differences (tf.gradients and .backward()), also with unknown shapes and in float32; the
second-order gradient against central differences of the first; forward mode against
reverse mode and numbers. For every error input: the error, eagerly and in a graph. Then:
every registered op has a NumPy kernel and a table entry, the few ops the table cannot drive
(random, assign, no_op) have tests of their own, and Python operators behave as on NumPy
arrays.
"""
from __future__ import annotations

import contextlib
import os
import re
import zlib

import numpy as np
import pytest

import tinyflow as tf
from tinyflow.backend.numpy.registry import KERNELS
from tinyflow.core.op import OPS
from tinyflow.core.shapes import is_compatible

from op_table import COVERED_ELSEWHERE, TABLE, make_array

EPS = 1e-6
GRAD_TOL = dict(atol=1e-5, rtol=1e-3)     # as torch.autograd.gradcheck
SECOND_TOL = dict(atol=1e-4, rtol=1e-3)

# (test, case id or name) -> why it fails: an xfail(strict=True), so a fix shows up.
XFAILS: dict[tuple, str] = {
}


def _params(test: str, grad=False, dtypes=False, dynamic=False, modes=()) -> list:
    """pytest params (case, index[, dtype or mode]) with ids like "add-3-float32"; an entry of
    XFAILS under (test, id or name), or (test_mode, ...) for a mode, marks one xfail."""
    params = []
    for case in TABLE:
        if (grad and not case.grad or dynamic and not case.dynamic
                or test == "second_order" and not case.second_order):
            continue
        variants = case.dtypes if dtypes else modes or (None,)
        for index in range(len(case.samples)):
            for variant in variants:
                case_id = f"{case.name}-{index}"
                key = f"{test}_{variant}" if modes else test
                reason = XFAILS.get((key, case_id)) or XFAILS.get((key, case.name))
                marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                values = (case, index) if variant is None else (case, index, variant)
                suffix = "" if variant is None else f"-{getattr(variant, 'name', variant)}"
                params.append(pytest.param(*values, id=case_id + suffix, marks=marks))
    return params


# ---- helpers ---------------------------------------------------------------------------

def _rng(case, index, salt: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(f"{case.name}-{index}-{salt}".encode()))


def _inputs(case, index, dtype) -> list:
    rng = _rng(case, index, "inputs")
    return [make_array(arg, dtype, rng) for arg in case.samples[index].args]


def _diff(case, index) -> list:
    """Positions of the inputs whose gradients are checked."""
    return [k for k, arg in enumerate(case.samples[index].args) if arg.diff]


def _as_list(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _call(case, index, tensors) -> list:
    return _as_list(case.fn(*tensors, **case.samples[index].kwargs))


def _eager(arrays, requires_grad=()) -> list:
    tensors = [tf.Tensor(a) for a in arrays]
    for k in requires_grad:
        tensors[k].requires_grad = True
    return tensors


def _placeholders(arrays, unknown: str = "") -> list:
    """Placeholders for `arrays`: of their shapes, or with "dims" or the "rank" unknown."""
    shapes = {"": lambda a: a.shape, "dims": lambda a: (None,) * a.ndim, "rank": lambda a: None}
    return [tf.placeholder(tf.as_dtype(a.dtype), shapes[unknown](a)) for a in arrays]


@contextlib.contextmanager
def _session():
    graph = tf.Graph()
    with graph.as_default(), tf.Session(graph=graph) as sess:
        yield sess


def _run(sess, tensors, feed, shapes) -> list:
    """Values of `tensors`, with zeros (of `shapes`) standing in for None gradients."""
    fetch = [t for t in tensors if t is not None]
    values = iter(sess.run(fetch, feed) if fetch else [])
    return [np.zeros(s) if t is None else next(values) for t, s in zip(tensors, shapes)]


def _dot(tensors, arrays):
    """sum_i <tensors_i, arrays_i> as a scalar tensor (None terms count as zero)."""
    terms = [tf.reduce_sum(t * a) for t, a in zip(tensors, arrays) if t is not None]
    return None if not terms else sum(terms[1:], terms[0])


def _numeric_grad(f, arrays, k) -> np.ndarray:
    """Central differences of the scalar f(arrays) with respect to arrays[k]."""
    values = [np.array(a, order="C") for a in arrays]  # flat views below must not copy
    flat = values[k].reshape(-1)
    grad = np.zeros(flat.shape)
    for i in range(flat.size):
        orig = flat[i]
        flat[i] = orig + EPS
        plus = f(values)
        flat[i] = orig - EPS
        minus = f(values)
        flat[i] = orig
        grad[i] = (plus - minus) / (2 * EPS)
    return grad.reshape(values[k].shape)


def _tol(case, dtype) -> dict:
    if dtype is tf.float64:
        return dict(atol=1e-12, rtol=1e-10)
    if dtype is tf.float16:
        return dict(atol=1e-3, rtol=1e-3)
    if dtype.is_floating:
        return dict(atol=case.atol, rtol=case.rtol)
    return dict(atol=0, rtol=0)


def _grad_setup(case, index):
    """Float64 inputs, the differentiated positions and a fixed projection per output."""
    arrays = _inputs(case, index, tf.float64)
    with tf.no_grad():
        outs = _call(case, index, _eager(arrays))
    rng = _rng(case, index, "projection")
    weights = [np.asarray(rng.standard_normal(o.shape)) for o in outs]
    return arrays, _diff(case, index), weights


def _eager_loss(case, index, weights):
    def loss(values) -> float:
        with tf.no_grad():
            outs = _call(case, index, _eager(values))
        return sum(float(np.sum(o.numpy() * w)) for o, w in zip(outs, weights))
    return loss


# ---- 1. forward ------------------------------------------------------------------------

@pytest.mark.parametrize("case,index,dtype", _params("forward", dtypes=True))
def test_forward(case, index, dtype):
    kwargs = case.samples[index].kwargs
    arrays = _inputs(case, index, dtype)
    want = _as_list(case.ref(*arrays, **kwargs))
    out_dtype = case.out_dtype(dtype, kwargs)
    got = _call(case, index, _eager(arrays))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype is out_dtype, f"{g.dtype.name}, expected {out_dtype.name}"
        assert g.shape == w.shape
        np.testing.assert_allclose(g.numpy(), w, **_tol(case, out_dtype))
    eager = [g.numpy() for g in got]
    for unknown in ("", "dims", "rank") if case.dynamic else ("",):
        with _session() as sess:
            phs = _placeholders(arrays, unknown)
            outs = _call(case, index, phs)
            for o, e in zip(outs, eager):
                assert o.dtype is out_dtype
                assert (is_compatible(o.shape, e.shape) if unknown or case.value_shaped
                        else o.shape == e.shape)
            values = sess.run(outs, dict(zip(phs, arrays)))
        for v, e in zip(values, eager):
            assert v.dtype == e.dtype and v.shape == e.shape
            np.testing.assert_allclose(v, e, **_tol(case, out_dtype))


# ---- 2. gradients against central differences ------------------------------------------

@pytest.mark.parametrize("case,index", _params("gradient", grad=True))
def test_gradient(case, index):
    arrays, diff, weights = _grad_setup(case, index)
    numeric = [_numeric_grad(_eager_loss(case, index, weights), arrays, k) for k in diff]
    symbolic = _symbolic_gradients(case, index, arrays, diff, weights)
    for k, num, sym in zip(diff, numeric, symbolic):
        assert sym.shape == num.shape and sym.dtype == np.float64, f"input {k}"
        np.testing.assert_allclose(sym, num, **GRAD_TOL, err_msg=f"tf.gradients, input {k}")

    tensors = _eager(arrays, diff)
    _dot(_call(case, index, tensors), weights).backward()
    eager = [tensors[k].grad for k in diff]
    for k, num, eag in zip(diff, numeric, eager):
        eag = np.zeros(num.shape) if eag is None else eag.numpy()
        assert eag.shape == num.shape and eag.dtype == np.float64, f"input {k}"
        np.testing.assert_allclose(eag, num, **GRAD_TOL, err_msg=f".backward(), input {k}")


@pytest.mark.parametrize("case,index,unknown",
                         _params("unknown", grad=True, dynamic=True, modes=("dims", "rank")))
def test_autodiff_with_unknown_shapes(case, index, unknown):
    """Both modes with placeholders of unknown dims or rank (shapes known only at run time)
    give what they give with static shapes."""
    arrays, diff, weights = _grad_setup(case, index)
    tangents = [np.ones(arrays[k].shape) for k in diff]
    static = _symbolic_gradients(case, index, arrays, diff, weights, tangents)
    dynamic = _symbolic_gradients(case, index, arrays, diff, weights, tangents, unknown)
    for got, want in zip(dynamic, static):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case,index", _params("float32", grad=True))
def test_gradients_keep_float32(case, index):
    """In float32, both modes give gradients in their inputs' (and tangents in their outputs')
    dtype, close to the float64 ones."""
    arrays, diff, weights = _grad_setup(case, index)
    tangents = [np.ones(arrays[k].shape) for k in diff]
    want = _symbolic_gradients(case, index, arrays, diff, weights, tangents)
    arrays = _inputs(case, index, tf.float32)
    with tf.no_grad():
        out_dtypes = [o.dtype.np for o in _call(case, index, _eager(arrays))]
    weights = [w.astype(dt) for w, dt in zip(weights, out_dtypes)]
    got = _symbolic_gradients(case, index, arrays, diff, weights, tangents)
    dtypes = [arrays[k].dtype for k in diff] + out_dtypes
    for g, w, dt in zip(got, want, dtypes):
        assert g.dtype == dt and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-4)


def _symbolic_gradients(case, index, arrays, diff, weights, tangents=None,
                        unknown="") -> list:
    """tf.gradients of the projected outputs; then J t for `tangents` if given."""
    shapes = [arrays[k].shape for k in diff]
    with _session() as sess:
        phs = _placeholders(arrays, unknown)
        outs = _call(case, index, phs)
        xs = [phs[k] for k in diff]
        fetches = tf.gradients(_dot(outs, weights), xs)
        if tangents is not None:
            fetches += tf.forward_gradients(outs, xs, tangents)
            shapes += [w.shape for w in weights]
        return _run(sess, fetches, dict(zip(phs, arrays)), shapes)


# ---- 3. second order -------------------------------------------------------------------

@pytest.mark.parametrize("case,index", _params("second_order", grad=True))
def test_second_order(case, index):
    arrays, diff, weights = _grad_setup(case, index)
    rng = _rng(case, index, "second")
    vs = [rng.standard_normal(arrays[k].shape) for k in diff]
    shapes = [arrays[k].shape for k in diff]

    with _session() as sess:
        phs = _placeholders(arrays)
        xs = [phs[k] for k in diff]
        loss = _dot(_call(case, index, phs), weights)
        grad_dot_v = _dot(tf.gradients(loss, xs), vs)
        assert grad_dot_v is not None, "no first-order gradient"
        symbolic = _run(sess, tf.gradients(grad_dot_v, xs), dict(zip(phs, arrays)), shapes)

        def first_order(values) -> float:
            return float(sess.run(grad_dot_v, dict(zip(phs, values))))
        numeric = [_numeric_grad(first_order, arrays, k) for k in diff]

    tensors = _eager(arrays, diff)
    _dot(_call(case, index, tensors), weights).backward(create_graph=True)
    eager_dot_v = _dot([tensors[k].grad for k in diff], vs)
    eager = [np.zeros(s) if h is None else h.detach().numpy()
             for h, s in zip(tf.gradients(eager_dot_v, [tensors[k] for k in diff]), shapes)]

    for k, num, sym, eag in zip(diff, numeric, symbolic, eager):
        np.testing.assert_allclose(sym, num, **SECOND_TOL, err_msg=f"tf.gradients, input {k}")
        np.testing.assert_allclose(eag, num, **SECOND_TOL, err_msg=f"create_graph, input {k}")


# ---- 4. forward mode agrees with reverse mode ------------------------------------------

@pytest.mark.parametrize("case,index", _params("forward_mode", grad=True))
def test_forward_mode(case, index):
    """J t from forward mode, for a tangent on every input and on each input alone."""
    arrays, diff, weights = _grad_setup(case, index)
    rng = _rng(case, index, "tangents")
    tangents = {k: rng.standard_normal(arrays[k].shape) for k in diff}
    out_shapes = [w.shape for w in weights]
    with _session() as sess:
        phs = _placeholders(arrays)
        feed = dict(zip(phs, arrays))
        outs = _call(case, index, phs)
        vjps = tf.gradients(outs, [phs[k] for k in diff], grad_ys=weights)
        vjp = dict(zip(diff, _run(sess, vjps, feed, [arrays[k].shape for k in diff])))
        for subset in [diff] + ([[k] for k in diff] if len(diff) > 1 else []):
            jts = tf.forward_gradients(outs, [phs[k] for k in subset],
                                       [tangents[k] for k in subset])
            for jt, out in zip(jts, outs):
                assert jt is None or jt.shape == out.shape and jt.dtype is out.dtype
            jt_values = _run(sess, jts, feed, out_shapes)
            _check_jvp(case, index, arrays, {k: tangents[k] for k in subset}, jt_values,
                       weights, vjp)


def _check_jvp(case, index, arrays, tangents, jt_values, weights, vjp):
    """J t against <t, J^T w>, against central differences, and against eager forward mode."""
    lhs = sum(np.sum(jt * w) for jt, w in zip(jt_values, weights))
    rhs = sum(np.sum(t * vjp[k]) for k, t in tangents.items())
    label = f"tangents on inputs {list(tangents)}"
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10,
                               err_msg=f"<J t, w> != <t, J^T w>, {label}")

    def moved(step) -> list:
        values = [np.array(a) for a in arrays]
        for k, t in tangents.items():
            values[k] += step * t
        with tf.no_grad():
            return [o.numpy() for o in _call(case, index, _eager(values))]
    numeric = [(p - m) / (2 * EPS) for p, m in zip(moved(EPS), moved(-EPS))]
    for jt, num in zip(jt_values, numeric):
        np.testing.assert_allclose(jt, num, **GRAD_TOL, err_msg=f"J t vs numbers, {label}")

    tensors = _eager(arrays, list(tangents))
    eager = tf.forward_gradients(_call(case, index, tensors), [tensors[k] for k in tangents],
                                 list(tangents.values()))
    for jt, want in zip(eager, jt_values):
        np.testing.assert_allclose(np.zeros(want.shape) if jt is None else jt.detach().numpy(),
                                   want,
                                   rtol=1e-12, atol=1e-12, err_msg=f"eager J t, {label}")


# ---- 5. error inputs -------------------------------------------------------------------

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


def _error_params() -> list:
    return [pytest.param(case, k, id=f"{case.name}-{k}")
            for case in TABLE for k in range(len(case.errors))]


@pytest.mark.parametrize("case,k", _error_params())
def test_error_input(case, k):
    """The bad input raises the error with the message, eagerly (unless it has unknown dims)
    and in a graph: where the node is built, or in Session.run if the kernel finds it."""
    error = case.errors[k]
    args, kwargs = error.sample.args, error.sample.kwargs
    dtype = tf.float32 if tf.float32 in case.dtypes else case.dtypes[0]
    known = all(d is not None for arg in args for d in arg.shape)
    arrays = []
    if known:
        rng = np.random.default_rng(zlib.crc32(f"{case.name}-error-{k}".encode()))
        arrays = [make_array(arg, dtype, rng) for arg in args]
        with pytest.raises(error.error, match=error.match) as info:
            case.fn(*_eager(arrays), **kwargs)
        _check_names_shapes_and_site(info.value, args)
    assert known or not error.at_run, "an error found at run time needs known shapes"
    with _session() as sess:
        phs = [tf.placeholder(arg.dtype or dtype, arg.shape) for arg in args]
        if error.at_run:
            outs = case.fn(*phs, **kwargs)
            with pytest.raises(error.error, match=error.match):
                sess.run(outs, dict(zip(phs, arrays)))
            return
        with pytest.raises(error.error, match=error.match) as info:
            case.fn(*phs, **kwargs)
        _check_names_shapes_and_site(info.value, args)


def _check_names_shapes_and_site(exc: Exception, args) -> None:
    """The errors apply() raises (ShapeError, DTypeError) name every input's shape and the
    caller's line, outside tinyflow: here, the test or the op table."""
    if not isinstance(exc, (tf.ShapeError, tf.DTypeError)):
        return
    message = str(exc)
    shapes = ", ".join(str(tuple(arg.shape)) for arg in args)
    assert re.search(r"\(input shapes? " + re.escape(shapes) + r"[;)]", message), message
    site = re.search(r".* at (.+):\d+$", message)  # the last " at "
    assert site and site.group(1).startswith(TESTS_DIR + os.sep), message


# ---- 6. registry coverage --------------------------------------------------------------

def test_every_registered_op_has_a_kernel_and_a_table_entry():
    no_kernel = sorted(name for name, cls in OPS.items() if cls not in KERNELS)
    assert not no_kernel, f"ops without a NumPy kernel: {no_kernel}"
    tabled = {case.registered_op for case in TABLE} - {None}
    missing = sorted(set(OPS) - tabled - set(COVERED_ELSEWHERE))
    assert not missing, f"ops without an entry in tests/op_table/: {missing}"
    unknown = sorted((tabled | set(COVERED_ELSEWHERE)) - set(OPS))
    assert not unknown, f"table entries for ops that are not registered: {unknown}"
    for name, test in COVERED_ELSEWHERE.items():
        assert callable(globals().get(test)), f"{name}: no test named {test}"


def test_table_is_well_formed():
    """Ids are unique, layouts are really non-contiguous, and each entry runs its op."""
    ids = [case.name for case in TABLE]
    assert len(ids) == len(set(ids)), "duplicate case names"
    for case in TABLE:
        for index, sample in enumerate(case.samples):
            names = set()
            for dtype in case.dtypes:  # e.g. a cast to the dtype it has adds no node
                arrays = _inputs(case, index, dtype)
                for arg, a in zip(sample.args, arrays):
                    assert a.shape == arg.shape
                    assert a.flags.c_contiguous == (arg.layout == "C"), f"{case.name}-{index}"
                with _session() as sess:
                    _call(case, index, _placeholders(arrays))
                    names |= {type(n._op).name for n in sess.graph.nodes if n._op is not None}
            if case.registered_op is not None:
                assert case.registered_op in names, f"{case.name}-{index} runs {names}"
        for error in case.errors:
            assert issubclass(error.error, Exception) and re.compile(error.match)


# ---- ops the table cannot drive --------------------------------------------------------

def test_random_ops_shape_dtype_statistics():
    def draw(node):
        with tf.Session() as sess:
            return sess.run(node)

    tf.manual_seed(0)
    x = tf.random_normal((400, 250), mean=1.0, stddev=2.0)
    assert x.shape == (400, 250) and x.dtype is tf.float32
    xv = draw(x)
    assert abs(xv.mean() - 1) < 0.02 and abs(xv.std() - 2) < 0.02
    tf.manual_seed(0)
    np.testing.assert_array_equal(draw(tf.random_normal((400, 250), 1.0, 2.0)), xv)

    t = draw(tf.truncated_normal((100000,), stddev=2.0, dtype=tf.float64))
    assert t.dtype == np.float64 and np.abs(t).max() <= 4
    assert abs(t.std() - 2 * 0.87962566) < 0.02  # std of a normal truncated at 2 sigma

    u = draw(tf.random_uniform((100000,), minval=-1.0, maxval=3.0, dtype=tf.float64))
    assert u.min() >= -1 and u.max() < 3
    assert abs(u.mean() - 1) < 0.02 and abs(u.var() - 16 / 12) < 0.03
    k = tf.random_uniform((1000,), minval=0, maxval=5, dtype=tf.int32)
    assert k.dtype is tf.int32 and set(np.unique(draw(k))) == {0, 1, 2, 3, 4}


def test_random_ops_draw_anew_in_each_session_run():
    with _session() as sess:
        r = tf.random_normal((3, 2), dtype=tf.float64)
        assert r.shape == (3, 2) and r.dtype is tf.float64
        a, b = sess.run(r), sess.run(r)
        assert a.shape == (3, 2) and a.dtype == np.float64 and not np.array_equal(a, b)


def test_random_mask_keeps_the_right_share_and_redraws():
    tf.manual_seed(0)
    x = tf.zeros(200, 500, dtype=tf.float64)
    m1, m2 = tf.ops.random_mask(x, 0.8), tf.ops.random_mask(x, 0.8)
    assert m1.dtype is tf.float64 and set(np.unique(m1.numpy())) == {0.0, 1.0}
    assert abs(m1.numpy().mean() - 0.8) < 0.01 and not np.array_equal(m1.numpy(), m2.numpy())
    p = tf.placeholder(tf.float32, [None, 100])
    mask = tf.ops.random_mask(p, 0.5)
    with tf.Session() as sess:
        a, b = (sess.run(mask, {p: np.zeros((30, 100))}) for _ in range(2))
    assert a.shape == (30, 100) and abs(a.mean() - 0.5) < 0.05 and not np.array_equal(a, b)
    with pytest.raises(ValueError, match="keep_prob"):
        tf.ops.random_mask(x, 0.0)


def test_eager_assign_writes_in_place():
    x = tf.Tensor(np.zeros((2, 3), np.float32))
    buffer = x.numpy()
    y = tf.assign(x, np.arange(6.0).reshape(2, 3))
    assert x.numpy() is buffer and x.dtype is tf.float32 and y.dtype is tf.float32
    np.testing.assert_array_equal(x.numpy(), np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    tf.assign_add(x, 1.0)
    tf.assign_sub(x, np.full((2, 3), 3.0))
    np.testing.assert_array_equal(buffer, np.arange(6.0).reshape(2, 3) - 2)
    with pytest.raises(tf.ShapeError):
        tf.assign(x, np.zeros(3))


def test_custom_function_gradient_is_the_users_backward():
    """custom_function (a user's autograd.Function) against float64 finite differences, when
    the user's backward is the true derivative (tests/test_autograd_function.py has the rest)."""
    class Cube(tf.autograd.Function):
        @staticmethod
        def forward(ctx, x, w):
            ctx.save_for_backward(x, w)
            return x ** 3 * w

        @staticmethod
        def backward(ctx, g):
            x, w = ctx.saved_tensors
            return g * 3 * x ** 2 * w, (g * x ** 3).sum(0)

    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(3, 4)), rng.normal(size=(4,))]
    for k in range(2):
        leaves = [tf.Tensor(a.copy(), requires_grad=True) for a in arrays]
        (Cube.apply(*leaves) ** 2).sum().backward()
        numeric = _numeric_grad(
            lambda vals: float((Cube.apply(*map(tf.Tensor, vals)) ** 2).sum().numpy()), arrays, k)
        np.testing.assert_allclose(leaves[k].grad.numpy(), numeric, **GRAD_TOL)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("strided", [False, True])
def test_adam_step_matches_the_rule_in_place(dtype, strided):
    """The one-pass eager Adam(W) kernel against optim.rules.adam run op by op (a graph
    cannot hold adam_step: it writes three inputs)."""
    from tinyflow.ops.state import adam_step
    from tinyflow.optim import rules
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(6, 8)).astype(dtype) for _ in range(3)]
    arrays.append(np.abs(arrays[2]))                                   # exp_avg_sq >= 0
    if strided:
        arrays = [np.asfortranarray(a) for a in arrays]
    p, g, m, v = (tf.Tensor(a.copy(order="K")) for a in arrays)
    hyper = dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8)
    want = rules.adam(*(tf.Tensor(a) for a in arrays), 3.0, **hyper, epsilon_hat=False,
                      decoupled_weight_decay=0.1)
    buffer, versions = p.numpy(), [t._version[0] for t in (p, m, v)]
    assert adam_step(p, g, m, v, step=3.0, weight_decay=0.1, **hyper) is p
    assert p.numpy() is buffer and [t._version[0] for t in (p, m, v)] == [x + 1 for x in
                                                                          versions]
    for got, expected in zip((p, m, v), want[:3]):
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6, atol=1e-7)
    with pytest.raises(tf.ShapeError, match=r"^adam_step: grad has shape \(3,\)"):
        adam_step(p, tf.Tensor(np.zeros(3, dtype)), m, v, step=1.0, **hyper)
    with pytest.raises(TypeError, match="adam_step: needs eager tensors"):
        adam_step(p, tf.placeholder(tf.as_dtype(dtype), (6, 8)), m, v, step=1.0, **hyper)


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("strided", [False, True])
@pytest.mark.parametrize("direction", ["grad", "decay_maximize", "decay_starts"])
def test_momentum_step_matches_the_rule_in_place(nesterov, strided, direction):
    """The one-pass eager SGD-momentum kernel against optim.rules.gradient and
    optim.rules.momentum op by op (the coupled decay, maximize and the first step folded in),
    on the Numba loops and on NumPy's path (strided)."""
    from tinyflow.ops.state import momentum_step
    from tinyflow.optim import rules
    rng = np.random.default_rng(1)
    arrays = [rng.normal(size=(5, 9)).astype(np.float32) for _ in range(3)]
    if strided:
        arrays = [np.asfortranarray(a) for a in arrays]
    p, g, v = (tf.Tensor(a.copy(order="K")) for a in arrays)
    hyper = dict(lr=0.1, momentum=0.9, dampening=0.0 if nesterov else 0.2, nesterov=nesterov)
    folded = dict(grad={}, decay_maximize=dict(weight_decay=0.05, maximize=True),
                  decay_starts=dict(weight_decay=0.05, starts=True))[direction]
    d = rules.gradient(tf.Tensor(arrays[1]), tf.Tensor(arrays[0]),
                       folded.get("weight_decay", 0.0), folded.get("maximize", False))
    want_p, want_v = rules.momentum(tf.Tensor(arrays[0]), d,
                                    None if folded.get("starts") else tf.Tensor(arrays[2]),
                                    hyper["lr"], hyper["momentum"], nesterov,
                                    hyper["dampening"])
    hyper.update(folded)
    buffer = p.numpy()
    assert momentum_step(p, g, v, **hyper) is p and p.numpy() is buffer
    np.testing.assert_allclose(p.numpy(), want_p.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(v.numpy(), want_v.numpy(), rtol=1e-6, atol=1e-7)
    with pytest.raises(tf.ShapeError, match=r"^momentum_step: momentum_buffer has shape"):
        momentum_step(p, g, tf.Tensor(np.zeros(3, np.float32)), lr=0.1, momentum=0.9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("strided", [False, True])
def test_sgd_step_matches_the_rule_in_place(dtype, strided):
    """The one-pass eager plain-SGD kernel against optim.rules.gradient and rules.sgd op by
    op (maximize and the coupled weight decay folded in)."""
    from tinyflow.ops.state import sgd_step
    from tinyflow.optim import rules
    rng = np.random.default_rng(2)
    arrays = [rng.normal(size=(5, 9)).astype(dtype) for _ in range(2)]
    if strided:
        arrays = [np.asfortranarray(a) for a in arrays]
    p, g = (tf.Tensor(a.copy(order="K")) for a in arrays)
    want = rules.sgd(tf.Tensor(arrays[0]), rules.gradient(tf.Tensor(arrays[1]),
                                                          tf.Tensor(arrays[0]), 0.01, True), 0.1)
    buffer, version = p.numpy(), p._version[0]
    assert sgd_step(p, g, lr=0.1, weight_decay=0.01, maximize=True) is p
    assert p.numpy() is buffer and p._version[0] == version + 1
    np.testing.assert_allclose(p.numpy(), want.numpy(), rtol=1e-6, atol=1e-7)
    with pytest.raises(tf.ShapeError, match=r"^sgd_step: grad has shape \(3,\)"):
        sgd_step(p, tf.Tensor(np.zeros(3, dtype)), lr=0.1)
    with pytest.raises(TypeError, match="sgd_step: needs eager tensors"):
        sgd_step(p, tf.placeholder(tf.as_dtype(dtype), (5, 9)), lr=0.1)


def test_batch_norm_tracked_normalizes_updates_in_place_and_differentiates():
    """The eager training batch norm that also updates the running statistics: its output
    and gradients are BatchNorm's (float64 finite differences), its statistics PyTorch's
    arithmetic (momentum, or None: the cumulative average), float16 input with float32
    statistics, and a clear error for statistics of another dtype or a graph input."""
    import torch
    from tinyflow.ops import batch_norm_tracked
    from torch_oracle import gradcheck
    rng = np.random.default_rng(3)
    x64 = rng.normal(size=(3, 2, 2, 2)) * 2 + 1

    def tracked(x, w, b):
        stats = tf.tensor(np.zeros(2)), tf.tensor(np.ones(2)), tf.tensor(np.array(0))
        return batch_norm_tracked(x, w, b, *stats, momentum=0.1)
    gradcheck(tracked, x64, rng.normal(size=2), rng.normal(size=2))
    for momentum in (0.1, None):
        mean, var = tf.tensor(np.zeros(4, np.float32)), tf.tensor(np.ones(4, np.float32))
        count = tf.tensor(np.array(0))
        theirs = torch.nn.BatchNorm2d(4, momentum=momentum)
        w, b = tf.tensor(theirs.weight.detach().numpy()), tf.tensor(theirs.bias.detach().numpy())
        for step in range(3):
            x = (rng.normal(size=(4, 4, 3, 3)) * 3 + 2).astype(np.float32)
            y = batch_norm_tracked(tf.tensor(x), w, b, mean, var, count, momentum=momentum)
            np.testing.assert_allclose(y.numpy(), theirs(torch.tensor(x)).detach().numpy(),
                                       rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(mean.numpy(), theirs.running_mean.numpy(), rtol=1e-6)
        np.testing.assert_allclose(var.numpy(), theirs.running_var.numpy(), rtol=1e-6)
        assert int(count) == 3 and [t._version[0] for t in (mean, var, count)] == [3] * 3
    half = (rng.normal(size=(4, 3, 5)) * 2 + 1).astype(np.float16)
    mean, var = tf.tensor(np.zeros(3, np.float32)), tf.tensor(np.ones(3, np.float32))
    ones, zeros = tf.tensor(np.ones(3, np.float16)), tf.tensor(np.zeros(3, np.float16))
    y = batch_norm_tracked(tf.tensor(half), ones, zeros, mean, var, tf.tensor(np.array(0)))
    assert y.dtype == tf.float16 and mean.dtype == tf.float32
    wide = half.astype(np.float32)
    np.testing.assert_allclose(mean.numpy(), 0.1 * wide.mean((0, 2)), rtol=1e-5)
    np.testing.assert_allclose(var.numpy(), 0.9 + 0.1 * wide.var((0, 2), ddof=1), rtol=1e-5)
    with pytest.raises(tf.DTypeError, match=r"^batch_norm_tracked: running_mean must be a "
                                            r"float32 \[3\] vector"):
        batch_norm_tracked(tf.tensor(half), ones, zeros, ones, var, tf.tensor(np.array(0)))
    with pytest.raises(tf.ShapeError, match="has 1 value per channel"):
        batch_norm_tracked(tf.tensor(np.ones((1, 3), np.float16)), ones, zeros, mean, var,
                           tf.tensor(np.array(0)))
    with pytest.raises(TypeError, match="batch_norm_tracked: needs eager tensors"):
        batch_norm_tracked(tf.placeholder(tf.float32, (2, 3)), ones, zeros, mean, var,
                           tf.tensor(np.array(0)))


def test_group_runs_its_inputs():
    with _session() as sess:
        v = tf.Variable(0.0)
        w = tf.Variable(np.ones(2))
        step = tf.group(tf.assign_add(v, 1.0), [tf.assign(w, w * 2)])
        assert step.op.type == "NoOp" and step.op.name == "group_deps"   # TF1's
        sess.run(tf.global_variables_initializer())
        assert sess.run(step) is None
        sess.run(step)
        assert sess.run(v) == 2.0
        np.testing.assert_array_equal(sess.run(w), [4.0, 4.0])


def test_log_uniform_candidates_are_zipfian_and_distinct_when_asked():
    """TF1's log-uniform sampler: P(k) = log((k + 2) / (k + 1)) / log(range_max + 1); the
    last output is the number of draws (num_sampled itself without `unique`)."""
    from tinyflow.ops import log_uniform_candidates
    tf.manual_seed(0)
    with _session() as sess:
        free = sess.run(log_uniform_candidates(20000, 10, False))
        distinct = [sess.run(log_uniform_candidates(6, 10, True)) for _ in range(20)]
    assert free[-1] == 20000
    k = np.arange(10)
    np.testing.assert_allclose(np.bincount(free[:-1], minlength=10) / 20000,
                               np.log((k + 2) / (k + 1)) / np.log(11), atol=0.012)
    for draws in distinct:
        assert len(set(draws[:-1].tolist())) == 6 and draws[-1] >= 6
        assert 0 <= draws[:-1].min() and draws[:-1].max() < 10
    assert len({tuple(d[:-1]) for d in distinct}) > 1          # drawn anew on every run
    with pytest.raises(tf.ShapeError, match="cannot draw 11 distinct candidates"):
        log_uniform_candidates(11, 10, True)


def test_while_loop_ops_run_and_differentiate():
    """The loop's ops (tests/test_tf1_while_loop.py has the front end): x <- x * w + 1 while
    x < 10, and d(x)/d(w) back over the trips the run took."""
    with _session() as sess:
        x0 = tf.placeholder(tf.float64, [])
        w = tf.placeholder(tf.float64, [])
        x = tf.while_loop(lambda x: x < 10.0, lambda x: x * w + 1.0, [x0])
        d_w, = tf.gradients(x, w)
        ops = {type(n._op).name for n in sess.graph.nodes if n._op is not None}
        assert {"while_loop", "while_loop_var", "while_loop_grad",
                "while_loop_grad_part"} <= ops
        value, grad = sess.run([x, d_w], {x0: 1.0, w: 2.0})   # x: 1, 3, 7, 15
        assert value == 15.0   # d/dw ((x0 w + 1) w + 1) w + 1 = 3 x0 w^2 + 2 w + 1
        assert grad == 3 * 4 + 2 * 2 + 1


def test_tensor_array_write_ops_run_and_differentiate():
    """A write sets one row of a copy (growing the rows when asked); its gradient zeroes
    that row for the buffer and reads it for the value, against float64 finite differences
    (second order is refused) (tests/test_tf1_tensor_array.py has the front end)."""
    from tinyflow.ops.tensor_array import write
    from finite_differences import numeric_grad
    rng = np.random.default_rng(0)
    buffer, value, weights = rng.normal(size=(3, 2)), rng.normal(size=2), rng.normal(size=(4, 2))

    def reference(b, v, i):
        out = np.zeros((max(len(b), i + 1), 2))
        out[:len(b)], out[i] = b, v
        return out

    for index, grows in ((1, False), (3, True)):
        b, v = tf.tensor(buffer, requires_grad=True), tf.tensor(value, requires_grad=True)
        out = write(b, tf.tensor(index), v, grows=grows)
        np.testing.assert_array_equal(out.detach().numpy(), reference(buffer, value, index))
        w = tf.tensor(weights[:len(out)])
        db, dv = tf.autograd.grad((out * out * w).sum(), [b, v], create_graph=True)
        want_db = numeric_grad(lambda x: (reference(x, value, index) ** 2 * w.numpy()).sum(),
                               buffer)
        want_dv = numeric_grad(lambda x: (reference(buffer, x, index) ** 2 * w.numpy()).sum(),
                               value)
        np.testing.assert_allclose(db.detach().numpy(), want_db, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(dv.detach().numpy(), want_dv, rtol=1e-6, atol=1e-8)
        with pytest.raises(NotImplementedError, match="second order"):
            tf.autograd.grad(db.sum(), [b])
    with pytest.raises(IndexError, match="index 3 is outside the array's 3 elements"):
        write(tf.tensor(buffer), tf.tensor(3), tf.tensor(value), grows=False)
    with pytest.raises(TypeError, match="holds float64, got a value of float32"):
        write(tf.tensor(buffer), tf.tensor(0), tf.tensor(value, dtype=tf.float32), grows=False)


def test_assert_print_and_py_func_ops_run_in_a_graph(capsys):
    """The check, print and Python-function ops (tests/test_tf1_checks_and_py_func.py has
    the front ends): each passes or makes its value when run."""
    with _session() as sess:
        x = tf.placeholder(tf.float64, [None])
        shown = tf.Print(x, [x], message="x: ")
        halved = tf.py_func(lambda a: a / 2, [shown], tf.float64)
        check = tf.Assert(tf.reduce_all(x > 0), [x])
        ops = {type(n._op).name for n in sess.graph.nodes if n._op is not None}
        assert {"assert", "print", "py_func", "py_func_output"} <= ops
        np.testing.assert_array_equal(sess.run([halved, check], {x: [2.0, 4.0]})[0], [1, 2])
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[-1.0\]"):
            sess.run(check, {x: [-1.0]})
    assert capsys.readouterr().err == "x: [2.0 4.0]\n"


def test_dataset_iterator_ops_pull_and_restart():
    """iterator_get_next takes the host iterator's next element, whole, once per run;
    iterator_component reads one array of it; iterator_reset starts it over."""
    from tinyflow.ops.dataset import HostState, IteratorComponent, IteratorGetNext, IteratorReset

    class Source(HostState):
        def __init__(self):
            self.pulled, self.started = 0, 0

        def snapshot(self):
            return self.pulled

        def restore(self, saved):
            self.pulled = saved

        def next_element(self):
            self.pulled += 1
            return tuple(np.full(2, self.pulled * 10 + k, np.float32) for k in range(2))

        def reset(self):
            self.started += 1
    source = Source()
    with _session() as sess:
        element = tf.apply(IteratorGetNext(source=source), graph=tf.get_default_graph())
        a, b = (tf.apply(IteratorComponent(index=k, shape=(2,), dtype=tf.float32), element)
                for k in range(2))
        reset = tf.apply(IteratorReset(source=source), graph=tf.get_default_graph())
        assert b.shape == (2,) and sess.run(reset) is None and source.started >= 1
        first, second = sess.run(b), sess.run([a, b])
    np.testing.assert_array_equal(second[0] - first, [9.0, 9.0])   # the next element
    np.testing.assert_array_equal(second[1] - second[0], [1.0, 1.0])  # both from one


def test_summary_ops_write_tf1_summary_protos():
    """scalar / histogram / image / merge output one serialized Summary each (a 0-d
    tf.string), parsed here by the protobuf library; values against NumPy."""
    import io

    from PIL import Image
    from tb_events import parse_summary
    from tinyflow.backend.numpy.summary import BUCKET_LIMITS
    from tinyflow.ops.summary import histogram, image, merge, scalar
    values = np.array([-3.0, -1e-13, 0.0, 0.5, 0.5, 2.0, 7.0], np.float32)
    pixels = np.random.default_rng(0).uniform(0, 2, (3, 2, 4, 1)).astype(np.float32)
    with _session() as sess:
        x = tf.placeholder(tf.float32, [None])
        p = tf.placeholder(tf.float32, [None, 2, 4, 1])
        parts = [scalar("s", tf.reduce_max(x)), histogram("h", x), image("i", p, 2)]
        merged = merge(parts)
        assert merged.dtype is tf.string and merged.shape == ()
        out = sess.run(merged, {x: values, p: pixels})
        with pytest.raises(ValueError, match="Nan in summary histogram for: h"):
            sess.run(parts[1], {x: [1.0, np.inf]})      # TF1 refuses NaN and Inf
    value = {v.tag: v for v in parse_summary(out).value}
    assert list(value) == ["s", "h", "i/image/0", "i/image/1"]
    assert value["s"].simple_value == 7.0
    h = value["h"].histo
    assert (h.min, h.max, h.num, h.sum) == (-3.0, 7.0, 7, float(values.astype(float).sum()))
    np.testing.assert_allclose(h.sum_squares, np.square(values.astype(float)).sum())
    assert sum(h.bucket) == 7 and list(h.bucket_limit) == sorted(h.bucket_limit)
    for v in values:   # each value sits in the bucket whose limit is the first one above it
        k = int(np.searchsorted(h.bucket_limit, v, side="right"))
        assert h.bucket[k] > 0 and h.bucket_limit[k] in BUCKET_LIMITS
    img = value["i/image/1"].image
    assert (img.height, img.width, img.colorspace) == (2, 4, 1)
    decoded = np.asarray(Image.open(io.BytesIO(img.encoded_image_string)))
    expect = np.round(pixels[1, ..., 0] * (255 / pixels[1].max())).astype(np.uint8)
    np.testing.assert_array_equal(decoded, expect)
    with pytest.raises(tf.ShapeError, match="takes a scalar, got shape"):
        scalar("s", x)
    with pytest.raises(tf.ShapeError, match=r"takes \[batch, height, width, channels\]"):
        image("i", x)
    with pytest.raises(tf.DTypeError, match="takes summaries"):
        merge([x])


# ---- semantics worth pinning that central differences cannot see -----------------------

def test_ties_split_the_gradient_evenly():
    x = tf.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = tf.Tensor(np.array([1.0, 0.0, 5.0]), requires_grad=True)
    tf.reduce_sum(tf.maximum(x, y) + 10 * tf.minimum(x, y)).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [5.5, 1.0, 10.0])
    np.testing.assert_array_equal(y.grad.numpy(), [5.5, 10.0, 1.0])
    z = tf.Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]]), requires_grad=True)
    tf.reduce_sum(tf.reduce_max(z, axis=1)).backward()
    np.testing.assert_array_equal(z.grad.numpy(), [[0, 0.5, 0.5], [0.5, 0, 0.5]])


def test_cast_between_floats_passes_gradients_in_the_input_dtype():
    w = np.array([1.5, -2.0, 0.25])
    x = tf.Tensor(np.array([1.0, 2.0, 3.0], np.float32), requires_grad=True)
    tf.reduce_sum(tf.cast(x, tf.float64) * w).backward()
    assert x.grad.dtype is tf.float32
    np.testing.assert_array_equal(x.grad.numpy(), w.astype(np.float32))
    with _session() as sess:
        p = tf.placeholder(tf.float64, (3,))
        y = tf.cast(p, tf.float32)
        (g,) = tf.gradients(tf.reduce_sum(y * w.astype(np.float32)), [p])
        (jt,) = tf.forward_gradients(y, [p], [w])
        assert g.dtype is tf.float64 and jt.dtype is tf.float32
        g_value, jt_value = sess.run([g, jt], {p: np.zeros(3)})
        np.testing.assert_array_equal(g_value, w)
        np.testing.assert_array_equal(jt_value, w.astype(np.float32))
        q = tf.placeholder(tf.int32, (3,))
        assert tf.gradients(tf.reduce_sum(tf.cast(q, tf.float64)), [q]) == [None]


# ---- Python operators on eager and symbolic tensors ------------------------------------

_OP_RNG = np.random.default_rng(7)
X = _OP_RNG.uniform(0.5, 2, (3, 4)).astype(np.float32)
Y = _OP_RNG.uniform(-1, 1, (4, 2)).astype(np.float32)
Z = np.where(_OP_RNG.random((3, 4)) < 0.5, X, np.round(X, 1))  # half of it equals X
ARR = np.round(_OP_RNG.uniform(0.5, 2, (3, 4)), 1).astype(np.float32)
ARR64 = _OP_RNG.uniform(0.5, 2, (4,))

# Each expression runs on NumPy arrays (the reference), eager tensors and placeholders.
OPERATORS = {
    "x + 2": lambda x, y, z: x + 2,
    "2 - x": lambda x, y, z: 2 - x,
    "x - z": lambda x, y, z: x - z,
    "arr * x": lambda x, y, z: ARR * x,
    "x / arr": lambda x, y, z: x / ARR,
    "arr64 + x": lambda x, y, z: ARR64 + x,
    "2 ** x": lambda x, y, z: 2 ** x,
    "x ** 2": lambda x, y, z: x ** 2,
    "x ** 0.5": lambda x, y, z: x ** 0.5,
    "x ** z": lambda x, y, z: x ** z,
    "-x": lambda x, y, z: -x,
    "abs(x - 1)": lambda x, y, z: abs(x - 1),
    "x @ y": lambda x, y, z: x @ y,
    "arr @ y": lambda x, y, z: ARR @ y,
    "x == z": lambda x, y, z: x == z,
    "x == arr": lambda x, y, z: x == ARR,
    "x != arr": lambda x, y, z: x != ARR,
    "x < 1": lambda x, y, z: x < 1,
    "x <= z": lambda x, y, z: x <= z,
    "1 > x": lambda x, y, z: 1 > x,
    "x >= arr": lambda x, y, z: x >= ARR,
    "x.T @ z": lambda x, y, z: x.T @ z,
    "x[1:, ::2]": lambda x, y, z: x[1:, ::2],
    "x * 2.5 + y.T[0] / 4": lambda x, y, z: x * 2.5 + y.T[0] / 4,
}


@pytest.mark.parametrize("expr", list(OPERATORS))
def test_python_operators(expr):
    f = OPERATORS[expr]
    want = np.asarray(f(X, Y, Z))
    eager = f(tf.Tensor(X), tf.Tensor(Y), tf.Tensor(Z))
    assert isinstance(eager, tf.Tensor) and eager.dtype.np == want.dtype
    np.testing.assert_allclose(eager.numpy(), want, rtol=1e-6)
    with _session() as sess:
        xyz = [tf.placeholder(tf.float32, a.shape) for a in (X, Y, Z)]
        out = f(*xyz)
        assert out.dtype.np == want.dtype and out.shape == want.shape
        np.testing.assert_allclose(sess.run(out, dict(zip(xyz, (X, Y, Z)))), want, rtol=1e-6)


def test_python_scalars_keep_the_tensor_dtype():
    with _session():
        for x in (tf.Tensor(X), tf.placeholder(tf.float32, (3, 4))):
            for out in (x * 2.5, 2.5 * x, x + 1, x / 2, 1.0 - x, x ** 2.0, 2.0 ** x,
                        tf.maximum(x, 0.5), tf.where(x > 1, x, 0.0), x * np.float64(2)):
                assert out.dtype is tf.float32, out
        for x in (tf.Tensor(X.astype(np.float64)), tf.placeholder(tf.float64, (3,))):
            assert (x * 2.5).dtype is tf.float64 and (x + 1).dtype is tf.float64
        for x in (tf.Tensor(np.arange(3, dtype=np.int32)), tf.placeholder(tf.int32, (3,))):
            assert (x * 2).dtype is tf.int32 and (x + 1).dtype is tf.int32
            assert (x * 2.5).dtype is tf.float32 and (x / 2).dtype is tf.float32
        assert (tf.Tensor(np.array([True, False])) + 1).dtype is tf.int64


def test_multinomial_draws_in_proportion_to_the_weights():
    tf.manual_seed(0)
    weights = tf.tensor([[1.0, 0.0, 3.0], [0.0, 2.0, 2.0]])
    draws = tf.multinomial(weights, 4000, replacement=True).numpy()
    assert draws.shape == (2, 4000) and draws.dtype == np.int64
    np.testing.assert_allclose(np.bincount(draws[0], minlength=3) / 4000, [0.25, 0, 0.75],
                               atol=0.03)
    np.testing.assert_allclose(np.bincount(draws[1], minlength=3) / 4000, [0, 0.5, 0.5],
                               atol=0.03)
    once = tf.multinomial(tf.tensor([1.0, 1.0, 1.0, 1.0]), 4).numpy()
    assert sorted(once) == [0, 1, 2, 3]                       # without replacement
    with pytest.raises(ValueError, match="without replacement"):
        tf.multinomial(tf.tensor([1.0, 0.0]), 2)
    with pytest.raises(ValueError, match="non-negative"):
        tf.multinomial(tf.tensor([1.0, -1.0]), 1)
    x = tf.placeholder(tf.float32, [None, 3])                 # a graph node drawing per run
    with tf.Session() as sess:
        out = sess.run(tf.multinomial(x, 2), {x: np.ones((5, 3), np.float32)})
    assert out.shape == (5, 2)
