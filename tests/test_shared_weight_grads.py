"""The eager reverse sweep keeps the gradient terms of a tensor read by many products (a weight
used at every step of a hand-written loop) and sums them with one `product_sum`
(`_defer` in autodiff/reverse.py): the gradients are PyTorch's in float64 to rounding
(the sum's order differs), hooks, retain_grad, accumulation over backward() calls and
torch.autograd.grad see the whole sum, and create_graph takes the plain rules."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import tinyflow as tf
from tinyflow.autodiff import reverse
from tinyflow.core.kernels import numpy_kernels
from tinyflow.ops.linalg import ProductSum

TOL = dict(rtol=1e-11, atol=1e-12)
T, B, I, H = 9, 3, 2, 4


@pytest.fixture
def sums(monkeypatch):
    """The list that gets an entry (the number of inputs) for each `product_sum` kernel call."""
    calls, kernel = [], numpy_kernels[ProductSum]

    def counted(op, *arrays, **kw):
        calls.append(len(arrays))
        return kernel(op, *arrays, **kw)
    monkeypatch.setitem(numpy_kernels, ProductSum, counted)
    return calls


def _arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((T, B, I)), "w_ih": rng.standard_normal((4 * H, I)) * .5,
            "w_hh": rng.standard_normal((4 * H, H)) * .5, "b_ih": rng.standard_normal(4 * H),
            "b_hh": rng.standard_normal(4 * H), "w_out": rng.standard_normal((1, H)),
            "b_out": rng.standard_normal(1)}


def _leaves(lib, arrays):
    return {k: lib.tensor(v, requires_grad=k != "x") for k, v in arrays.items()}


def _cell_loss(lib, p):
    """nn.LSTMCell's step and a Linear head, stepped over T by hand (the time-sequence
    example's spelling, functional so both libraries share the parameters)."""
    cell = lib.nn.LSTMCell(I, H).double()
    f = lib.nn.functional
    h = c = lib.zeros(B, H, dtype=lib.float64)
    outs = []
    with lib.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            delattr(cell, name)
    cell.weight_ih, cell.weight_hh = p["w_ih"], p["w_hh"]
    cell.bias_ih, cell.bias_hh = p["b_ih"], p["b_hh"]
    for t in range(T):
        h, c = cell(p["x"][t], (h, c))
        outs.append(f.linear(h, p["w_out"], p["b_out"]))
    return (lib.cat(outs, 1) ** 2).sum()


PARAMS = ("w_ih", "w_hh", "b_ih", "b_hh", "w_out", "b_out")


def _backward(lib, arrays, loss_fn=_cell_loss):
    p = _leaves(lib, arrays)
    loss_fn(lib, p).backward()
    return {k: p[k].grad.numpy() for k in PARAMS}


def test_lstmcell_loop_gradients_match_torch(sums):
    arrays = _arrays()
    mine, theirs = _backward(tf, arrays), _backward(torch, arrays)
    for k in PARAMS:
        np.testing.assert_allclose(mine[k], theirs[k], **TOL, err_msg=k)
    assert sums, "the weights' gradient terms were not summed by product_sum"


@pytest.mark.parametrize("held", [1, 3000, 1 << 30])
def test_terms_summed_in_chunks_give_the_same_gradients(monkeypatch, sums, held):
    """A tensor's kept terms are summed once they hold TERM_BYTES (memory stays bounded):
    after each term, every few terms, or once at the end."""
    monkeypatch.setattr(reverse, "TERM_BYTES", held)
    arrays = _arrays(1)
    mine, theirs = _backward(tf, arrays), _backward(torch, arrays)
    for k in PARAMS:
        np.testing.assert_allclose(mine[k], theirs[k], **TOL, err_msg=k)
    if held == 1 << 30:   # one sum per kept tensor, b_ih's and b_hh's shared (one terms)
        assert len(sums) == 5


def test_biases_given_the_same_terms_get_gradients_of_their_own():
    p = _leaves(tf, _arrays(9))
    _cell_loss(tf, p).backward()
    b_ih, b_hh = p["b_ih"].grad.numpy(), p["b_hh"].grad.numpy()
    np.testing.assert_array_equal(b_ih, b_hh)
    assert not np.shares_memory(b_ih, b_hh)
    expected = b_hh.copy()
    p["b_ih"].grad.mul_(0)
    np.testing.assert_array_equal(p["b_hh"].grad.numpy(), expected)
    assert np.any(expected != 0)


def test_grad_accumulates_over_backward_calls():
    arrays = _arrays(2)
    results = []
    for lib in (tf, torch):
        p = _leaves(lib, arrays)
        _cell_loss(lib, p).backward()
        _cell_loss(lib, p).backward()
        results.append({k: p[k].grad.numpy() for k in PARAMS})
    for k in PARAMS:
        np.testing.assert_allclose(results[0][k], results[1][k], **TOL, err_msg=k)


def test_autograd_grad_of_the_shared_weights(sums):
    arrays = _arrays(3)
    results = []
    for lib in (tf, torch):
        p = _leaves(lib, arrays)
        grads = lib.autograd.grad(_cell_loss(lib, p), [p[k] for k in PARAMS])
        results.append([g.numpy() for g in grads])
        assert all(p[k].grad is None for k in PARAMS)
    for k, a, b in zip(PARAMS, *results):
        np.testing.assert_allclose(a, b, **TOL, err_msg=k)
    assert sums


def test_hook_on_the_weight_sees_the_whole_gradient_once():
    arrays = _arrays(4)
    seen, grads = {}, {}
    for lib in (tf, torch):
        p = _leaves(lib, arrays)
        calls = seen[lib.__name__] = []

        def hook(g, calls=calls):
            calls.append(g.numpy().copy())
            return g * 2
        p["w_hh"].register_hook(hook)
        _cell_loss(lib, p).backward()
        grads[lib.__name__] = p["w_hh"].grad.numpy()
    assert len(seen["tinyflow"]) == len(seen["torch"]) == 1
    np.testing.assert_allclose(seen["tinyflow"][0], seen["torch"][0], **TOL)
    np.testing.assert_allclose(grads["tinyflow"], grads["torch"], **TOL)


def _shared_nonleaf_loss(lib, p):
    """A non-leaf weight (a scaled leaf) read at every step by `x @ w`, `x @ w^T` (the
    product's right operand, transposed or not) and a Linear, with retain_grad."""
    w = p["w_hh"][:, :H] * 1.5          # [4H, H]
    w.retain_grad()
    p["w"] = w
    h = lib.ones(B, 4 * H, dtype=lib.float64)
    for t in range(T):
        a = lib.tanh(h @ w)                                   # [B, H]
        h = lib.tanh(a @ w.T + lib.nn.functional.linear(a, w, p["b_ih"]))
    return (h ** 2).sum()


def test_non_leaf_weight_and_retain_grad_match_torch(sums):
    arrays = _arrays(5)
    results = []
    for lib in (tf, torch):
        p = _leaves(lib, arrays)
        _shared_nonleaf_loss(lib, p).backward()
        results.append((p["w"].grad.numpy(), p["w_hh"].grad.numpy(), p["b_ih"].grad.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, **TOL)
    assert sums


def test_create_graph_takes_the_plain_rules_and_differentiates_again(sums):
    arrays = _arrays(6)
    results = []
    for lib in (tf, torch):
        p = _leaves(lib, arrays)
        _cell_loss(lib, p).backward(create_graph=True)
        assert lib is torch or not sums   # a graph is built: no kept terms
        assert p["w_hh"].grad.requires_grad
        # (this sweep, over the backward graph, builds none: it may keep terms)
        second = lib.autograd.grad((p["w_hh"].grad ** 2).sum(), [p["w_ih"], p["b_hh"]])
        results.append([p["w_hh"].grad.detach().numpy()] + [g.numpy() for g in second])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)


def test_an_optimizer_step_in_a_post_accumulate_hook_meets_no_kept_term():
    """Each step's input is a leaf updated in place once its gradient is final (an optimizer
    in backward): the shared weight's term that read it was kept, so the sweep sums the kept
    terms before the hook runs, and the weight's gradient is the one from the old values."""
    rng = np.random.default_rng(7)
    xs, w0 = rng.standard_normal((T, B, H)), rng.standard_normal((H, H))
    results = []
    for lib in (tf, torch):
        x = [lib.tensor(v, requires_grad=True) for v in xs]
        w = lib.tensor(w0, requires_grad=True)

        def step(leaf):
            with lib.no_grad():
                leaf.add_(leaf.grad * -0.5)
        for leaf in x:
            leaf.register_post_accumulate_grad_hook(step)
        h = lib.zeros(B, H, dtype=lib.float64)
        for t in range(T):
            h = lib.tanh(x[t] @ w + h)
        (h ** 2).sum().backward()
        results.append((w.grad.numpy(), np.stack([v.detach().numpy() for v in x])))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, **TOL)


def test_a_weight_read_once_keeps_no_term(sums):
    """An MLP's weights have one reader each: their gradients are computed as before."""
    rng = np.random.default_rng(8)
    model = tf.nn.Sequential(tf.nn.Linear(5, 7), tf.nn.Tanh(), tf.nn.Linear(7, 2)).double()
    model(tf.tensor(rng.standard_normal((4, 5)))).sum().backward()
    assert not sums


@pytest.mark.parametrize("cell", ["GRUCell", "RNNCell", "Linear"])
def test_other_cells_stepped_by_hand_match_torch(sums, cell):
    rng = np.random.default_rng(10)
    xs = rng.standard_normal((T, B, H))
    grads = []
    for lib in (tf, torch):
        layer = getattr(lib.nn, cell)(H, H).double()
        with lib.no_grad():
            for p in layer.parameters():
                p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape)) * 0.4))
        rng = np.random.default_rng(10)    # the same parameters for the second library
        rng.standard_normal((T, B, H))
        h = lib.zeros(B, H, dtype=lib.float64)
        for t in range(T):
            x = lib.tensor(xs[t])
            h = lib.tanh(layer(x + h)) if cell == "Linear" else layer(x, h)
        (h ** 2).sum().backward()
        grads.append([p.grad.numpy() for p in layer.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, **TOL)
    assert sums


# ---- the review's cases: other ways a tensor is read by many products -------------------

def _loop_nonleaf(lib, p):
    """A non-leaf weight (w0 * scale) read by 40 matmuls and 40 linears: its summed gradient
    must flow on to w0 and scale."""
    w = p["w0"] * p["s"]
    loss = 0
    for t in range(40):
        loss = loss + (p["x"][t] @ w).tanh().sum() + lib.nn.functional.linear(
            p["x"][t], w.T).sin().sum()
    return loss


def _loop_tied(lib, p):
    """A tied embedding: E read by an Embedding and a Linear at every step."""
    f, idx = lib.nn.functional, lib.tensor(np.array([1, 2, 3, 1]))
    loss = 0
    for t in range(T):
        loss = loss + f.linear(f.embedding(idx, p["E"]).tanh() * (t + 1), p["E"]).pow(2).sum()
    return loss


def _loop_sides(lib, p):
    """W as the left operand (never kept), the right one, both (W @ W), and a batched 3-D
    product (not kept) in one loop."""
    loss = 0
    for t in range(T):
        loss = loss + (p["W"] @ p["x"][t]).tanh().sum() + (p["x"][t].T @ p["W"]).pow(2).sum() \
            + (p["W"] @ p["W"]).sin().sum() * (t + 1) + (p["x3"] @ p["W"]).tanh().sum()
    return loss


def _loop_partly_no_grad(lib, p):
    """Some steps read the weight under no_grad; a 3-D input and a broadcast bias add."""
    f, loss = lib.nn.functional, 0
    for t in range(T):
        if t % 3 == 0:
            with lib.no_grad():
                y = f.linear(p["x"][t], p["W"], p["b"])
        else:
            y = f.linear(p["x"][t], p["W"], p["b"])
        loss = loss + y.tanh().sum() + f.linear(p["x3"], p["W"], p["b"]).sin().sum() \
            + (p["x"][t] @ p["W"].T + p["b"]).pow(2).sum()
    return loss


_REVIEW = {
    "nonleaf": (_loop_nonleaf, lambda r: {"w0": r.standard_normal((5, 4)),
                                          "s": r.standard_normal(1),
                                          "x": r.standard_normal((40, 3, 5))}),
    "tied": (_loop_tied, lambda r: {"E": r.standard_normal((6, 4))}),
    "sides": (_loop_sides, lambda r: {"W": r.standard_normal((4, 4)) * .5,
                                      "x": r.standard_normal((T, 4, 3)),
                                      "x3": r.standard_normal((2, 3, 4))}),
    "no_grad": (_loop_partly_no_grad, lambda r: {"W": r.standard_normal((3, 4)),
                                                 "b": r.standard_normal(3),
                                                 "x": r.standard_normal((T, 2, 4)),
                                                 "x3": r.standard_normal((2, 5, 4))}),
}


@pytest.mark.parametrize("case", sorted(_REVIEW))
@pytest.mark.parametrize("how", ["backward", "grad", "inputs"])
def test_loops_of_products_match_torch(sums, case, how):
    fn, make = _REVIEW[case]
    arrays = make(np.random.default_rng(11))
    results = []
    for lib in (tf, torch):
        p = {k: lib.tensor(v, requires_grad=True) for k, v in arrays.items()}
        loss, names = fn(lib, p), sorted(arrays)
        if how == "grad" and len(names) == 1:
            got = dict(zip(names, lib.autograd.grad(loss, [p[names[0]]])))
        elif how == "grad":   # only some inputs, then the rest
            first = lib.autograd.grad(loss, [p[names[0]]], retain_graph=True)
            got = dict(zip(names, first + lib.autograd.grad(loss, [p[k] for k in names[1:]])))
        elif how == "inputs":
            loss.backward(inputs=[p[names[0]]])
            got = {names[0]: p[names[0]].grad}
            assert all(p[k].grad is None for k in names[1:])
        else:   # twice, retaining the graph: accumulated
            loss.backward(retain_graph=True)
            loss.backward()
            got = {k: p[k].grad for k in names}
        results.append({k: g.numpy() for k, g in got.items()})
    for k in results[1]:
        np.testing.assert_allclose(results[0][k], results[1][k], rtol=1e-10, atol=1e-12,
                                   err_msg=k)
    assert sums


def test_a_raising_hook_leaves_nothing_for_the_next_backward():
    arrays = _REVIEW["no_grad"][1](np.random.default_rng(12))
    p = {k: tf.tensor(v, requires_grad=True) for k, v in arrays.items()}

    def boom(g):
        raise ValueError("boom")
    loss = _loop_partly_no_grad(tf, p)
    p["b"].register_hook(boom)
    with pytest.raises(ValueError):
        loss.backward()
    p = {k: tf.tensor(v, requires_grad=True) for k, v in arrays.items()}
    _loop_partly_no_grad(tf, p).backward()
    q = {k: torch.tensor(v, requires_grad=True) for k, v in arrays.items()}
    _loop_partly_no_grad(torch, q).backward()
    for k in ("W", "b"):
        np.testing.assert_allclose(p[k].grad.numpy(), q[k].grad.numpy(), rtol=1e-10)


def test_two_threads_sweep_at_once():
    import threading
    arrays = _REVIEW["nonleaf"][1](np.random.default_rng(13))
    q = {k: torch.tensor(v, requires_grad=True) for k, v in arrays.items()}
    _loop_nonleaf(torch, q).backward()
    failures = []

    def job():
        for _ in range(5):
            p = {k: tf.tensor(v, requires_grad=True) for k, v in arrays.items()}
            _loop_nonleaf(tf, p).backward()
            for k in ("w0", "s"):
                if not np.allclose(p[k].grad.numpy(), q[k].grad.numpy(), rtol=1e-10):
                    failures.append(k)
    threads = [threading.Thread(target=job) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_plain_vjp_is_no_trait_of_the_sweep():
    """`Op.plain_vjp` (the sweep's one look-up for most eager nodes) agrees with the traits."""
    from tinyflow.core.op import OPS
    for cls in OPS.values():
        assert cls.plain_vjp is not (cls.composed or cls.joins_first_adjoint
                                     or cls.sums_adjoints), cls
