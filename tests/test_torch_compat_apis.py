"""The PyTorch surface third-party programs type (issue 18), each checked against PyTorch:
devices, gradcheck, forward mode as a function, as_strided, the adaptive optimizers."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import tinyflow


# ---- devices --------------------------------------------------------------------------------

def test_device_keywords_accept_the_cpu_and_refuse_others_by_name():
    t = tinyflow
    assert t.arange(0, 4, dtype=t.long, device=t.device("cpu")).tolist() == [0, 1, 2, 3]
    assert t.zeros(2, device="cpu:0").to("cpu").to(t.device("cpu"), t.float64).dtype is \
        t.float64
    for make in (lambda: t.randn(2, device="cuda"), lambda: t.ones(2).to("mps"),
                 lambda: t.zeros(2).to(device="cuda:1"), lambda: t.ones(2).to(t.device("cuda"))):
        with pytest.raises(RuntimeError, match=r"'(cuda|mps)(:\d)?'.*CPU"):
            make()
    assert not t.cuda.is_available() and not t.accelerator.is_available()
    assert torch.accelerator.is_available() is t.accelerator.is_available()


def test_the_accelerator_idiom_of_the_pytorch_examples_picks_the_cpu():
    t = tinyflow
    use_accel = t.accelerator.is_available()
    device = t.accelerator.current_accelerator() if use_accel else t.device("cpu")
    assert t.ones(3, device=device).to(device).device.type == "cpu"


# ---- gradcheck ---------------------------------------------------------------------------

def _double(*shape):
    return np.random.default_rng(0).standard_normal(shape)


@pytest.mark.parametrize("fn", [lambda L, x, w: (x @ w).tanh().sum(1),
                                lambda L, x, w: L.nn.functional.softmax(x @ w, dim=1),
                                lambda L, x, w: (x.sigmoid() * 3, (w * w).sum())])
def test_gradcheck_agrees_with_pytorch_on_correct_gradients(fn):
    x, w = _double(3, 4), _double(4, 2)
    for L in (torch, tinyflow):
        inputs = (L.tensor(x, requires_grad=True), L.tensor(w, requires_grad=True))
        assert L.autograd.gradcheck(lambda a, b: fn(L, a, b), inputs) is True


def test_gradcheck_finds_a_wrong_gradient_as_pytorch_does():
    def wrong(L, x):       # x.detach() hides half the derivative of x * x
        return x.detach() * x

    for L, says in ((torch, "Jacobian mismatch for output 0 with respect to input 0"),
                    (tinyflow, "the gradient of output 0 w.r.t. input 0 differs")):
        x = L.tensor(_double(3), requires_grad=True)
        with pytest.raises(RuntimeError, match=says):
            L.autograd.gradcheck(lambda a: wrong(L, a), (x,))
        assert L.autograd.gradcheck(lambda a: wrong(L, a), x, raise_exception=False) is False


def test_gradcheck_needs_an_input_that_requires_grad():
    for L, says in ((torch, "at least one input tensor to require gradient"),
                    (tinyflow, "gradcheck: no input requires grad")):
        with pytest.raises(ValueError, match=says):
            L.autograd.gradcheck(lambda a: a * 2, (L.tensor(_double(2)),))


# ---- forward mode ------------------------------------------------------------------------

def test_functional_jvp_matches_pytorch():
    x, v = _double(3).astype(np.float32), _double(3).astype(np.float32) + 1

    def f(L, a):
        return (a.exp() * a.sin()).sum() + a[0]

    out, tangent = torch.autograd.functional.jvp(lambda a: f(torch, a), torch.tensor(x),
                                                 torch.tensor(v))
    out2, tangent2 = tinyflow.autograd.functional.jvp(lambda a: f(tinyflow, a),
                                                      tinyflow.tensor(x), tinyflow.tensor(v))
    np.testing.assert_allclose(out2.numpy(), out.numpy(), rtol=1e-6)
    np.testing.assert_allclose(tangent2.numpy(), tangent.numpy(), rtol=1e-5)


def test_forward_gradients_of_eager_tensors_are_never_silently_none():
    x = tinyflow.ones(2)
    y = x * 3
    with pytest.raises(RuntimeError, match="do not require grad"):
        tinyflow.forward_gradients(y, [x], [tinyflow.ones(2)])
    x = tinyflow.ones(2, requires_grad=True)
    (t,) = tinyflow.forward_gradients([x * 3], [x], [tinyflow.ones(2)])
    assert t.tolist() == [3.0, 3.0]
    unused = tinyflow.ones(2, requires_grad=True)
    assert tinyflow.forward_gradients([x * 3], [unused], [tinyflow.ones(2)]) == [None]


# ---- strides -----------------------------------------------------------------------------

def test_as_strided_is_a_view_of_the_same_memory():
    for L in (torch, tinyflow):
        base = L.arange(6.)
        windows = L.as_strided(base, (3, 2), (2, 1))
        windows.mul_(10)
        assert base.tolist() == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0], L
        assert L.as_strided(base, (2,), (1,), 4).tolist() == [40.0, 50.0]


def test_as_strided_gradient_matches_pytorch():
    x = np.arange(6, dtype=np.float32)
    grads = []
    for L in (torch, tinyflow):
        t = L.tensor(x, requires_grad=True)
        y = L.as_strided(t, (2, 3), (1, 2), 0)     # overlapping windows: position 2 twice
        (y * L.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))).sum().backward()
        grads.append(t.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0])


# ---- optimizers --------------------------------------------------------------------------

@pytest.mark.parametrize("name, options", [
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.2)),
    ("Adagrad", dict(maximize=True)),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.05)),
    ("Adadelta", dict()),
    ("Adamax", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1)),
    ("Adamax", dict(maximize=True)),
])
def test_adaptive_optimizers_match_pytorch(name, options):
    w0 = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    finals = []
    for L in (torch, tinyflow):
        w = L.tensor(w0, requires_grad=True)
        opt = getattr(L.optim, name)([w], **options)
        for step in range(6):
            opt.zero_grad()
            ((w * w).sum() + w.sum() * step).backward()
            opt.step()
        finals.append(w.detach().numpy().copy())
    np.testing.assert_allclose(finals[1], finals[0], rtol=1e-5, atol=1e-6)


def test_adaptive_optimizers_keep_pytorchs_state_names():
    for name in ("Adagrad", "Adadelta", "Adamax"):
        keys = []
        for L in (torch, tinyflow):
            w = L.ones(2, requires_grad=True)
            opt = getattr(L.optim, name)([w])
            (w * w).sum().backward()
            opt.step()
            keys.append(sorted(opt.state[w]))
        assert keys[0] == keys[1], name


# ---- grad modes and formatting -----------------------------------------------------------

def test_set_grad_enabled_as_a_context_restores_the_previous_mode():
    t = tinyflow
    with t.no_grad():
        with t.set_grad_enabled(True):
            assert t.is_grad_enabled()
        assert not t.is_grad_enabled()
    assert t.is_grad_enabled()


def test_format_a_loss_as_the_examples_print_it():
    loss = tinyflow.tensor(0.123456)
    assert f"loss {loss:.4f} {loss:+.1e}" == f"loss {0.123456:.4f} {0.123456:+.1e}"
    assert f"{tinyflow.ones(2)}" == str(tinyflow.ones(2))


@pytest.mark.parametrize("options", [dict(), dict(lr=0.5, max_iter=5, history_size=3)])
def test_lbfgs_matches_pytorch(options):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20, 5)).astype(np.float32)
    b = rng.standard_normal(20).astype(np.float32)
    runs = []
    for L in (torch, tinyflow):
        w = L.zeros(5, requires_grad=True)
        opt = L.optim.LBFGS([w], **options)
        at, bt = L.tensor(a), L.tensor(b)

        def closure():
            opt.zero_grad()
            loss = ((at @ w - bt) ** 2).mean() + (w ** 4).sum() * 0.01
            loss.backward()
            return loss
        # two steps: a third, at convergence, stops on float32 noise (|loss change| < 1e-9)
        losses = [opt.step(closure).item() for _ in range(2)]
        runs.append((losses, w.detach().numpy().copy(), opt.state[w]["func_evals"]))
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-6)
    np.testing.assert_allclose(runs[1][1], runs[0][1], atol=1e-5)
    assert runs[1][2] == runs[0][2]


def test_lbfgs_refuses_what_it_does_not_do():
    w = tinyflow.zeros(2, requires_grad=True)
    with pytest.raises(NotImplementedError, match="strong_wolfe"):
        tinyflow.optim.LBFGS([w], line_search_fn="strong_wolfe")
    with pytest.raises(RuntimeError, match="closure"):
        tinyflow.optim.LBFGS([w]).step()
    with pytest.raises(ValueError, match="takes one param group"):
        tinyflow.optim.LBFGS([{"params": [w]},
                              {"params": [tinyflow.ones(1, requires_grad=True)]}])


# ---- the torch.* linear algebra spellings of older programs ----------------------------------

_SPD = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]])


@pytest.mark.parametrize("fn", [
    lambda L, a: L.qr(a), lambda L, a: L.qr(a, some=False), lambda L, a: L.pinverse(a),
    lambda L, a: L.cholesky(L.tensor(_SPD)), lambda L, a: L.cholesky(L.tensor(_SPD), upper=True),
    lambda L, a: L.matrix_power(L.tensor(_SPD), 3), lambda L, a: L.matrix_power(L.tensor(_SPD), -2),
    lambda L, a: L.chain_matmul(a, a.T, a), lambda L, a: L.cholesky(L.tensor(_SPD), True),
    lambda L, a: _into(L, L.qr, a, (L.zeros(4, 3, dtype=L.float64),
                                    L.zeros(3, 3, dtype=L.float64))),
    lambda L, a: _into(L, L.linalg.svd, a, tuple(L.zeros(*s, dtype=L.float64)
                                                 for s in ((4, 3), (3,), (3, 3))),
                       full_matrices=False)])
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_legacy_linalg_spellings_as_torch(fn):
    a = _double(4, 3)
    theirs, ours = fn(torch, torch.tensor(a)), fn(tinyflow, tinyflow.tensor(a))
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    ours = ours if isinstance(ours, tuple) else (ours,)
    for t, o in zip(theirs, ours, strict=True):   # Q and R agree up to the signs of columns
        assert tuple(o.shape) == tuple(t.shape)
        np.testing.assert_allclose(np.abs(o.numpy()), np.abs(t.numpy()), rtol=1e-10, atol=1e-12)


def _into(L, fn, a, out, **kw):
    """fn(a, out=out): the results must be the tensors given, holding the values."""
    got = fn(a, out=out, **kw)
    assert all(g is o for g, o in zip(got, out, strict=True))
    return tuple(out)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_chain_matmul_of_one_matrix_is_a_copy_and_vectors_are_refused():
    for L in (torch, tinyflow):
        a = L.tensor(_double(4, 3))
        assert L.chain_matmul(a) is not a
        with pytest.raises(RuntimeError, match="dimension"):
            L.chain_matmul(L.tensor([1.0, 2.0]), L.tensor([1.0, 2.0]))


@pytest.mark.parametrize("call, full", [
    (lambda tf, a: tf.qr(a, full_matrices=True), True),
    (lambda tf, a: tf.linalg.qr(a), False), (lambda tf, a: tf.linalg.qr(a, True), True),
    (lambda tf, a: tf.linalg.qr(a, False), False),
    (lambda tf, a: tf.linalg.qr(a, full_matrices=True), True)])
def test_tf1_qr_keeps_its_full_matrices_argument(call, full):
    """TF1's tf.qr / tf.linalg.qr(input, full_matrices=False); tf.linalg is torch.linalg,
    whose second place is a mode string, so a bool there can only be TF's."""
    q, r = call(tinyflow, tinyflow.tensor(_double(4, 3)))
    assert (tuple(q.shape), tuple(r.shape)) == (((4, 4), (4, 3)) if full else ((4, 3), (3, 3)))


def test_dtype_predicates_at_top_level():
    for L in (torch, tinyflow):
        assert L.is_floating_point(L.ones(2)) and not L.is_floating_point(L.ones(2, dtype=L.long))
        assert not L.is_complex(L.ones(2))
