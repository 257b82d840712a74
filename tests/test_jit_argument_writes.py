"""A compiled function writes its tensor arguments and their `.grad`s as the eager call does.

Two ways this had failed (each case here failed before its fix):
- `w -= lr * g` (and `+=`, `*=`, `/=`, `&=`, ...) on an argument rebound the name to a new
  value, as TF1's `x += 1` on a graph tensor does, so the compiled call never wrote its
  argument: a hand-written SGD step over parameters passed as arguments did not train.
- `w.grad` of an argument read the stand-in's `.grad` (None), not the argument's, so
  `w -= lr * w.grad` after `loss.backward()` raised, and `w.grad = None` was lost.
The compiled function runs three times from the same start as the eager one: the first call
traces, the others run the cached graph on the same (updated) arguments."""
import warnings

import numpy as np
import pytest

import tinyflow as torch


def _run(fn, make_args, calls=3):
    """Per call: the result and every argument's value and .grad after it."""
    args = make_args()
    seen = []
    for _ in range(calls):
        out = fn(*args)
        seen.append((out.detach().numpy().copy(),
                     [(a.detach().numpy().copy(),
                       None if a.grad is None else a.grad.numpy().copy()) for a in args]))
    return seen


def _assert_same(eager, compiled):
    for (out_e, args_e), (out_c, args_c) in zip(eager, compiled):
        np.testing.assert_allclose(out_c, out_e, rtol=1e-6)
        for (value_e, grad_e), (value_c, grad_c) in zip(args_e, args_c):
            np.testing.assert_allclose(value_c, value_e, rtol=1e-6)
            assert (grad_c is None) == (grad_e is None)
            if grad_e is not None:
                np.testing.assert_allclose(grad_c, grad_e, rtol=1e-6)


def _isub_no_grad(w, x):
    with torch.no_grad():
        w -= 0.1 * x
    return w.detach().sum()


def _iadd(w, x):
    w += x
    return w * 2


def _imul_itruediv(w, x):
    w *= x
    w /= 4
    return w.sum()


def _ior(m, x):
    m |= x > 0
    return m.sum()


def _sgd_step(w, x):
    loss = ((w * x).sum() - 1) ** 2
    loss.backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
    w.grad = None
    return loss


def _grad_zero(w, x):
    loss = (w * x).sum()
    loss.backward()
    step = w.grad * 0.5
    w.grad.zero_()
    with torch.no_grad():
        w.sub_(step)
    return loss


def _write_seen_by_view(w, x):
    h = w * 2
    flat = h.view(-1)
    h += x
    return flat


def _floats(requires_grad):
    def make():
        gen = np.random.default_rng(0)
        return (torch.tensor(gen.standard_normal((2, 3)).astype(np.float32),
                             requires_grad=requires_grad),
                torch.tensor(gen.standard_normal((2, 3)).astype(np.float32)))
    return make


def _floats_both_grad():
    w, x = _floats(True)()
    return w, x.requires_grad_()


def _mask_and_floats():
    return (torch.tensor([[True, False, False], [False, False, True]]),
            torch.tensor(np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32)))


def _imul_intermediate_backward(w, x):
    h = w * 1
    h *= x              # x's gradient is h's value before the write
    loss = h.sum()
    loss.backward()
    return loss


def _view_of_argument(w, x):
    v = w[0]
    v += x[0]
    return w.sum()


CASES = {
    "isub_no_grad_leaf": (_isub_no_grad, _floats(True)),
    "isub_plain": (_isub_no_grad, _floats(False)),
    "iadd": (_iadd, _floats(False)),
    "imul_itruediv": (_imul_itruediv, _floats(False)),
    "ior": (_ior, _mask_and_floats),
    "sgd_step_argument": (_sgd_step, _floats(True)),
    "grad_zero_argument": (_grad_zero, _floats(True)),
    "write_seen_by_view": (_write_seen_by_view, _floats(False)),
    "imul_intermediate_backward": (_imul_intermediate_backward, _floats_both_grad),
    "view_of_argument": (_view_of_argument, _floats(False)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_compiled_call_writes_its_arguments_as_eager(name):
    fn, make_args = CASES[name]
    eager = _run(fn, make_args)
    compiled_fn = torch.compile(fn)
    compiled = _run(compiled_fn, make_args)
    _assert_same(eager, compiled)
    assert compiled_fn.stats.eager_calls == 0


def test_sgd_over_argument_parameters_trains():
    """The hand-written loop of a beginner's regression, parameters passed in: the loss
    falls as eagerly, and the cached graph does the work after the first two calls."""
    fn = torch.compile(_sgd_step)
    w, x = _floats(True)()
    losses = [fn(w, x).item() for _ in range(20)]
    assert losses[-1] < 0.01 * losses[0]
    assert fn.stats.eager_calls == 0 and fn.stats.compiles <= 2


@pytest.mark.parametrize("write", [lambda i, y: i.__iadd__(y), lambda i, y: i.__itruediv__(2),
                                   lambda i, y: i.add_(y)])
def test_an_integer_argument_refuses_a_float_result_as_eager(write):
    """`i += 0.5` / `i /= 2` on an int tensor raises eagerly (PyTorch: the result type
    can't be cast to Long); the trace had cast the float result and written it."""
    def fn(i, y):
        write(i, y)
        return i * 1
    for f in (fn, torch.compile(fn)):
        i = torch.tensor(np.arange(3))
        with pytest.raises(RuntimeError, match="cannot hold"):
            f(i, torch.tensor(np.full(3, 0.5, np.float32)))
        np.testing.assert_array_equal(i.numpy(), np.arange(3))


def test_an_argument_written_then_stepped_by_a_captured_optimizer_as_eager():
    """`w *= 0.5` writes the argument through its placeholder, then an optimizer built
    over the same w outside writes it as a captured tensor: the placeholder's later reads
    had kept the first write's value (the result was wrong, w right). Now a graph break."""
    def make():
        w, x = _floats(True)()
        return w, x, torch.optim.SGD([w], lr=0.1)

    def step(w, x, opt):
        with torch.no_grad():
            w *= 0.5
        opt.zero_grad()
        (((w * x).sum() - 1) ** 2).backward()
        opt.step()
        return (w * x).sum().detach()

    for fn in (step, torch.compile(step)):
        w, x, opt = make()
        seen = [(fn(w, x, opt).numpy(), w.detach().numpy().copy()) for _ in range(3)]
        if fn is step:
            eager = seen
    for (out_e, w_e), (out_c, w_c) in zip(eager, seen):
        np.testing.assert_allclose(out_c, out_e, rtol=1e-6)
        np.testing.assert_allclose(w_c, w_e, rtol=1e-6)


def test_a_new_grad_each_step_reuses_the_graph():
    """The usual loop: zero_grad() sets .grad to None, backward() outside makes a new one,
    the compiled step reads it. Results are right, but each new .grad tensor fails the
    guard, so the step recompiles every call until the limit and then runs eagerly."""
    def step(w):
        with torch.no_grad():
            w -= 0.01 * w.grad

    fn = torch.compile(step)
    w = torch.tensor(np.ones(5, np.float32), requires_grad=True)
    x = torch.tensor(np.arange(5, dtype=np.float32))
    for _ in range(12):
        w.grad = None
        (((w * x).sum() - 3) ** 2).backward()
        fn(w)
    assert fn.stats.compiles <= 2 and fn.stats.eager_calls == 0
    w_e = np.ones(5, np.float32)    # the same loop in NumPy: each step reads its own grad
    for _ in range(12):
        w_e -= np.float32(0.01) * (2 * ((w_e * x.numpy()).sum() - 3) * x.numpy())
    np.testing.assert_allclose(w.detach().numpy(), w_e, rtol=1e-5)


def _optimizer_steps(compiled, writes_grad=False, steps=6):
    """torch 2's loop: zero_grad(set_to_none=True), backward outside, the step compiled
    (an AdamW over captured parameters; `writes_grad`: it also clips the .grads in place);
    a step without a .grad (None: skipped by the optimizer) in the middle."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)

    def step():
        if writes_grad:
            for p in model.parameters():
                if p.grad is not None:
                    p.grad.clamp_(-0.05, 0.05)
        opt.step()
    fn = torch.compile(step) if compiled else step
    x = torch.tensor(np.arange(8, dtype=np.float32).reshape(2, 4) / 8)
    for k in range(steps):
        opt.zero_grad(set_to_none=True)
        if k != 3:
            model(x * (k + 1)).square().sum().backward()
        fn()
    return fn, [p.detach().numpy().copy() for p in model.parameters()], \
        [p.grad.numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize("writes_grad", [False, True])
def test_new_grads_of_captured_parameters_are_read_each_step(writes_grad):
    """Each step's new .grad objects are fed to the cached graph, never an older step's; an
    in-place write into the .grad lands in the current one; None (no backward) is a graph
    of its own."""
    _, params_e, grads_e = _optimizer_steps(False, writes_grad)
    fn, params_c, grads_c = _optimizer_steps(True, writes_grad)
    for a, b in zip(params_e + grads_e, params_c + grads_c):
        np.testing.assert_allclose(b, a, rtol=2e-3, atol=1e-4)   # (eager AdamW is fused)
    assert fn.stats.eager_calls == 0 and fn.stats.compiles <= 4   # first, state, None


def test_a_grad_of_another_shape_is_not_fed_to_the_graph():
    """The guard on a fed .grad is its shape and dtype: another shape compiles anew."""
    def step(w):
        return w.grad * 2

    fn = torch.compile(step)
    w = torch.tensor(np.ones(3, np.float32), requires_grad=True)
    w.grad = torch.tensor(np.arange(3, dtype=np.float32))
    np.testing.assert_allclose(fn(w).numpy(), [0, 2, 4])
    w.grad = torch.tensor(np.full(3, 5, np.float32))
    np.testing.assert_allclose(fn(w).numpy(), [10, 10, 10])
    assert fn.stats.compiles == 1
    w.grad = None
    with pytest.raises(TypeError):   # as eagerly: None * 2
        fn(w)


def test_an_argument_or_grad_returned_as_is_is_each_calls_own():
    """A cached graph returning an argument, or a `.grad` it read, returns the later call's
    tensor (it had returned the traced call's: the first argument, an older step's .grad)."""
    fn = torch.compile(lambda x, y: (x * 2, y))
    a, b = (torch.tensor(np.full(2, v, np.float32)) for v in (1, 2))
    assert fn(a, a)[1] is a and fn(b, b)[1] is b and fn.stats.compiles == 1
    grad_of = torch.compile(lambda w: w.grad)
    w = torch.tensor(np.ones(2, np.float32), requires_grad=True)
    for v in (3, 5):
        w.grad = torch.tensor(np.full(2, v, np.float32))
        assert grad_of(w) is w.grad
    assert grad_of.stats.compiles == 1


def test_a_fed_grad_that_becomes_a_written_argument_is_not_read_stale():
    """A graph traced with a .grad apart from its arguments must not run for a call whose
    .grad is an argument the call writes: eagerly the read sees the write, a plan would
    read the value fed before it (the fed .grads' aliasing is guarded, as the arguments')."""
    p = torch.nn.Parameter(torch.ones(4))

    def f(x):
        p.grad.mul_(2)
        return x.sum() * 1

    fn = torch.compile(f)
    for step in range(3):
        x = torch.ones(4)
        p.grad = torch.ones(4) if step == 0 else x
        assert fn(x).item() == (4.0 if step == 0 else 8.0)
        np.testing.assert_allclose(p.grad.numpy(), [2.0] * 4)


def test_a_split_call_whose_grad_is_a_written_argument_runs_as_eager():
    """The same through a graph break (the call runs as pieces, traced each call): the
    overlap check of a split call counts the fed .grads with the arguments."""
    p = torch.nn.Parameter(torch.ones(4))

    def f(x):
        p.grad.mul_(2)
        n = int(x.sum().item())
        return x.sum() * n

    fn = torch.compile(f)
    for step in range(3):
        x = torch.ones(4)
        p.grad = torch.ones(4) if step == 0 else x
        assert fn(x).item() == (16.0 if step == 0 else 64.0)


def test_two_parameters_sharing_one_grad_accumulate_both_as_eager():
    """backward() inside the compiled call adds into a .grad that two parameters share (as
    torch: in place, so it gets both gradients); the plan computed each sum from the old
    buffer and copied them into it one after the other: the last one won."""
    w1 = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    w2 = torch.nn.Parameter(torch.tensor([3.0, 4.0]))

    def f(x):
        loss = (w1 * x).sum() + (w2 * x * 2).sum()
        loss.backward()
        return loss

    fn = torch.compile(f)
    for step in range(3):
        shared = torch.zeros(2)
        w1.grad, w2.grad = (torch.zeros(2), torch.zeros(2)) if step == 0 else (shared, shared)
        fn(torch.ones(2))
        want = ([1.0, 1.0], [2.0, 2.0]) if step == 0 else ([3.0, 3.0], [3.0, 3.0])
        np.testing.assert_allclose(w1.grad.numpy(), want[0])
        np.testing.assert_allclose(w2.grad.numpy(), want[1])


@pytest.mark.parametrize("as_view", [lambda b: b[:], lambda b: b.view(3), lambda b: b])
def test_a_grad_that_views_a_written_tensor_reads_the_write(as_view):
    """A .grad over the same memory as a tensor the call writes (a same-shape view of it, or
    the tensor itself) reads the write, as eagerly (a plan fed that .grad would read the
    value before it: stale)."""
    buf = torch.zeros(3)
    p = torch.nn.Parameter(torch.ones(3))
    p.grad = as_view(buf)

    def f(x):
        buf.add_(x)
        return p.grad * 1

    fn = torch.compile(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # (a graph break is the answer, not a wrong one)
        got = [fn(torch.ones(3) * k).numpy().tolist() for k in (1, 2, 3)]
    assert got == [[1.0] * 3, [3.0] * 3, [6.0] * 3]
