"""Inside a compiled function, a traced tensor answers `requires_grad`, `is_leaf` and
`grad_fn` as the same tensor would eagerly: code branches on them (hooks registered only
where a gradient flows, out= refused under autograd), and a trace that read False for every
intermediate took the other branch. Also: a cast to integers is not recorded (PyTorch's
`x.long().requires_grad` is False)."""
import warnings

import numpy as np
import pytest
import torch as real_torch

import tinyflow as torch


def _flags(t):
    return t.requires_grad, t.is_leaf, t.grad_fn is not None


def _no_grad_product(a, w):
    with torch.no_grad():
        return a * 3


CASES = {
    "mul": lambda a, w: a * 2,
    "matmul": lambda a, w: a @ w,
    "detach": lambda a, w: a.detach(),
    "detach_then_matmul": lambda a, w: a.detach() @ w,
    "data": lambda a, w: a.data,
    "argmax": lambda a, w: a.argmax(1),
    "compare": lambda a, w: a > 0,
    "no_grad": _no_grad_product,
    "factory": lambda a, w: torch.ones(3) * 2,
    "to_long": lambda a, w: a.long(),
    "to_bool": lambda a, w: a.bool(),
    "to_double": lambda a, w: a.double(),
    "clone": lambda a, w: a.clone(),
    "view": lambda a, w: a.view(-1),
}


@pytest.mark.parametrize("name", list(CASES))
def test_traced_tensors_answer_as_eager_ones(name):
    fn = CASES[name]
    a = torch.randn(3, 4, requires_grad=True)
    w = torch.randn(4, 2, requires_grad=True)
    seen = {}

    def traced(a, w):
        r = fn(a, w)
        seen["inside"] = _flags(r)
        seen["argument"] = _flags(a)
        return r

    out = torch.compile(traced)(a, w)
    eager = _flags(fn(a, w))
    assert seen["inside"] == eager
    assert seen["argument"] == _flags(a) == (True, True, False)
    assert _flags(out) == eager


def test_an_argument_without_grad_reads_false_inside():
    seen = []

    @torch.compile
    def f(x):
        seen.append(x.requires_grad)
        y = x * 2
        seen.append(y.requires_grad)
        return y

    f(torch.randn(3))
    assert seen == [False, False]


def test_a_branch_on_requires_grad_takes_the_eager_side():
    """A hook registered only when a gradient flows: eagerly and compiled the gradient is
    doubled by the hook."""
    def f(x):
        y = x * 3
        if y.requires_grad:
            y.register_hook(lambda g: g * 2)
        return y.sum()

    x1 = torch.ones(4, requires_grad=True)
    f(x1).backward()
    x2 = torch.ones(4, requires_grad=True)
    torch.compile(f)(x2).backward()
    assert x1.grad.tolist() == [6.0] * 4
    assert x2.grad.tolist() == x1.grad.tolist()


def test_out_with_an_argument_requiring_grad_is_refused_when_compiled():
    a = torch.randn(3, 4, requires_grad=True)
    b = torch.empty(3)
    with pytest.raises(RuntimeError, match="requires grad"):
        torch.sum(a, 1, out=b)

    @torch.compile
    def f(a, b):
        return torch.sum(a, 1, out=b)

    with pytest.raises(RuntimeError, match="requires grad"):
        f(a, b)


@pytest.mark.parametrize("method", ["long", "int", "bool", "short"])
def test_a_cast_to_integers_does_not_require_grad(method):
    import torch as pt
    x = torch.randn(5, requires_grad=True)
    y = getattr(x, method)()
    ref = getattr(pt.randn(5, requires_grad=True), method)()
    assert (y.requires_grad, y.is_leaf, y.grad_fn) == (ref.requires_grad, ref.is_leaf, None)
    assert x.float().requires_grad and x.double().requires_grad


@pytest.mark.parametrize("method,name", [("short", "int16"), ("char", "int8"),
                                         ("byte", "uint8")])
def test_the_smaller_integer_casts(method, name):
    import torch as pt
    values = [0.2, 5.9, 100.7] + ([] if name == "uint8" else [-3.7])   # in range: C's rule
    mine = getattr(torch.tensor(values), method)()
    ref = getattr(pt.tensor(values), method)()
    assert mine.dtype is getattr(torch, name) and str(ref.dtype) == f"torch.{name}"
    assert mine.tolist() == ref.tolist()
    assert torch.short is torch.int16


def test_a_non_leaf_argument_is_not_a_leaf_inside():
    """A stand-in for an argument with history answers is_leaf as the argument (False), so an
    in-place write into it is not refused as a write into a leaf: it runs as eagerly."""
    def f(lib, a, w):
        leaf = a.is_leaf
        a.mul_(2)
        return (a * w).sum(), leaf

    compiled = torch.compile(lambda a, w: f(torch, a, w))
    for i in range(2):
        w, wt = (lib.tensor(np.arange(3.0), requires_grad=True) for lib in (torch, real_torch))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # (a graph break: the write is into history)
            got, leaf = compiled(w * 1 + i, w)
        want, leaf_t = f(real_torch, wt * 1 + i, wt)
        assert leaf == leaf_t is False
        got.backward()
        want.backward()
        assert got.item() == want.item() and w.grad.tolist() == wt.grad.tolist()


def _write_base_under_no_grad_read_view(lib, x):
    y = x * 2
    v = y[:2]
    with lib.no_grad():
        y.mul_(2)                  # values change, the history stays
    return v.sum()


def _fill_under_no_grad(lib, x):
    y = x * 2
    with lib.no_grad():
        y.fill_(3)
    return (y * y).sum()


def _fill_with_grad(lib, x):
    y = x * 2
    y.fill_(3)                     # still requires grad; x gets a zero gradient
    return (y * y).sum()


def _backward_through_a_grad(lib, x):
    (x * x * 2).sum().backward()   # x.grad = 4x, made without history
    loss = (x.grad * x).sum()
    x.grad = None
    loss.backward()                # d/dx = 4x, not 8x
    return x.grad * 1


@pytest.mark.parametrize("fn", [_write_base_under_no_grad_read_view, _fill_under_no_grad,
                                _fill_with_grad, _backward_through_a_grad])
def test_history_kept_or_dropped_by_in_place_writes_and_backward_as_torch(fn):
    """A write under no_grad keeps the tensor's history (and its views'), a constant written
    with grad keeps it requiring grad, and a `.grad` has no history: the compiled function's
    values, requires_grad and gradients are torch's (it had lost or added history)."""
    results = []
    for lib, compile_ in ((real_torch, False), (torch, True)):
        x = lib.tensor([1.0, 2.0, 3.0, 4.0], dtype=lib.float64, requires_grad=True)
        f = (lambda x: fn(lib, x))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # (a graph break is an answer)
            out = (torch.compile(f) if compile_ else f)(x)
        if out.requires_grad:
            out.backward()
        results.append((out.detach().numpy().tolist(), out.requires_grad,
                        None if x.grad is None else x.grad.numpy().tolist()))
    assert results[1] == results[0]


def test_an_argument_written_with_a_value_with_history_takes_it_as_eagerly():
    """`buf.copy_(w * 3)` into an argument without grad gives it w's history (eagerly and in
    torch): a graph break, where the graph had stored the values only (no grad for w)."""
    seen = []
    for lib, compile_ in ((real_torch, False), (torch, True)):
        w = lib.tensor([2.0, 2.0], requires_grad=True)

        def f(buf):
            buf.copy_(w * 3)
            return buf.requires_grad

        buf = lib.zeros(2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            flag = (torch.compile(f) if compile_ else f)(buf)
        buf.sum().backward()
        seen.append((flag, w.grad.tolist()))
    assert seen[1] == seen[0]
