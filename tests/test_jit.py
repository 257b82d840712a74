"""torch.compile: compiled calls equal eager ones (values, gradients, parameters after
optimizer steps), guards recompile exactly when they should, graph breaks split the function
and are reported with file:line, bad use is refused clearly."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinyflow as torch
import tinyflow.nn as nn
import tinyflow.nn.functional as F

RNG = np.random.default_rng(0)


def tensor(*shape, requires_grad=False):
    return torch.Tensor(RNG.standard_normal(shape).astype(np.float32),
                        requires_grad=requires_grad)


def seed_model():
    """The seed: softmax regression 784 -> 10 from zeros, SGD with rate 0.5."""
    w = torch.Tensor(np.zeros((784, 10), np.float32), requires_grad=True)
    return [w], torch.optim.SGD([w], lr=0.5), lambda x: torch.softmax(x @ w, dim=1)


def seed_loss(model, x, y_onehot):
    y = model(x)
    return (-(y_onehot * torch.log(y)).sum(dim=1)).mean()


def mlp(optimizer):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5))
    return list(model.parameters()), optimizer(model.parameters()), model


def cnn(optimizer):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(4 * 3 * 3, 5))
    return list(model.parameters()), optimizer(model.parameters()), model


def train(make, data, loss_fn, compiled: bool, steps=3):
    params, opt, model = make()

    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model, x, y)
        loss.backward()
        opt.step()
        return loss
    fn = torch.compile(step) if compiled else step
    losses = [fn(*data).detach().numpy().copy() for _ in range(steps)]
    return (losses, [p.detach().numpy().copy() for p in params],
            [p.grad.numpy().copy() for p in params])


def ce(model, x, y):
    return F.cross_entropy(model(x), y)


def assert_same_training(make, data, loss_fn, atol=1e-5):
    eager = train(make, data, loss_fn, compiled=False)
    compiled = train(make, data, loss_fn, compiled=True)
    for a, b in zip(eager, compiled):
        for u, v in zip(a, b):
            np.testing.assert_allclose(v, u, rtol=1e-4, atol=atol)


def test_seed_step_equals_eager():
    x = torch.Tensor(RNG.random((100, 784), dtype=np.float32))
    y = torch.Tensor(np.eye(10, dtype=np.float32)[RNG.integers(0, 10, 100)])
    assert_same_training(seed_model, (x, y), seed_loss)


@pytest.mark.parametrize("optimizer", [
    lambda p: torch.optim.SGD(p, lr=0.1),
    lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
    lambda p: torch.optim.Adam(p, lr=0.01),
], ids=["sgd", "momentum", "adam"])
def test_mlp_step_equals_eager(optimizer):
    data = (tensor(8, 20), torch.Tensor(RNG.integers(0, 5, 8), dtype="int64"))
    assert_same_training(lambda: mlp(optimizer), data, ce)


def test_cnn_step_equals_eager():
    data = (tensor(4, 1, 8, 8), torch.Tensor(RNG.integers(0, 5, 4), dtype="int64"))
    assert_same_training(lambda: cnn(lambda p: torch.optim.Adam(p, lr=0.01)), data, ce)


def test_lecture_snippet_gradient_equals_eager():
    def f(x, y):
        z = x - y
        loss = (z * z).sum()
        loss.backward()

    grads = []
    for fn in (f, torch.compile()(f)):
        x, y = torch.Tensor([1.0, 2.0], requires_grad=True), torch.Tensor([3.0, 1.0])
        fn(x, y)
        fn(x, y)   # accumulates, as eager does
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(grads[1], grads[0])
    np.testing.assert_array_equal(grads[0], [-8.0, 4.0])


def test_non_scalar_backward_refused_as_in_eager():
    @torch.compile
    def f(x, y):
        loss = (x - y) * (x - y)
        loss.backward()
    with pytest.raises(RuntimeError, match=r"not one element, so the starting gradient cannot"):
        f(torch.Tensor([1.0, 2.0], requires_grad=True), torch.Tensor([3.0, 1.0]))


def test_spellings_and_module():
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    x = tensor(4, 3)
    expected = model(x).detach().numpy()
    for compiled in (torch.compile(model), torch.compile()(model.forward),
                     torch.compile(lambda v: model(v))):
        np.testing.assert_allclose(compiled(x).detach().numpy(), expected, rtol=1e-6)
    assert torch.compile(model, disable=True) is model


def test_recompiles_only_for_new_shapes():
    f = torch.compile(lambda x, k: x * k + 1)
    f(tensor(4, 3), 2.0)
    f(tensor(4, 3), 2.0)
    assert (f.stats.compiles, f.stats.recompiles) == (1, 0)
    np.testing.assert_allclose(f(tensor(6, 3), 2.0).numpy().shape, (6, 3))
    assert (f.stats.compiles, f.stats.recompiles) == (2, 1)
    x = tensor(6, 3)
    np.testing.assert_allclose(f(x, 3.0).numpy(), x.numpy() * 3 + 1, rtol=1e-6)  # a new scalar
    assert f.stats.compiles == 3
    assert f.stats.warmup_s > 0


def test_dynamic_batch_compiles_once():
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    f = torch.compile(model, dynamic=True)
    for batch in (3, 5, 7, 5):
        x = tensor(batch, 4)
        np.testing.assert_allclose(f(x).detach().numpy(), model(x).detach().numpy(), rtol=1e-6)
    assert f.stats.compiles == 1


@pytest.mark.parametrize("dynamic", [None, True])
def test_a_wrong_feature_size_names_the_op_and_shapes(dynamic):
    """A size made symbolic (automatic dynamic after a change, or dynamic=True) is checked
    when it arrives: the kernel's NumPy error had come out with no op or shapes."""
    f = torch.compile(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)),
                      dynamic=dynamic)
    f(tensor(5, 4))
    with pytest.raises(torch.ShapeError, match=r"^affine: .*6.*4.*input shapes \(5, 6\)"):
        f(tensor(5, 6))


def test_a_session_names_the_op_when_unknown_sizes_disagree():
    import tinyflow.compat.v1 as tf
    a = tf.placeholder(tf.float32, [None, None])
    b = tf.placeholder(tf.float32, [None, None])
    y = tf.matmul(a, b)
    with tf.Session() as sess:
        with pytest.raises(torch.ShapeError, match=r"^matmul: .*input shapes \(1, 2\), \(1, 3\)"):
            sess.run(y, {a: [[1., 2.]], b: [[1., 2., 3.]]})


def test_automatic_dynamic_frees_the_dims_that_changed():
    f = torch.compile(lambda x: (x * 2).sum(dim=1))
    for shape in [(3, 4), (5, 4), (7, 4), (2, 4)]:   # dim 0 changes: one recompile
        x = tensor(*shape)
        np.testing.assert_allclose(f(x).numpy(), (x.numpy() * 2).sum(1), rtol=1e-5,
                                   atol=1e-6)
    assert (f.stats.compiles, f.stats.recompiles) == (2, 1)
    for shape in [(2, 6), (3, 9)]:                   # then dim 1: once more
        x = tensor(*shape)
        np.testing.assert_allclose(f(x).numpy(), (x.numpy() * 2).sum(1), rtol=1e-5,
                                   atol=1e-6)
    assert f.stats.compiles == 3


def test_dynamic_true_frees_every_dim_and_mark_dynamic_one():
    f = torch.compile(lambda x: (x * 2).sum(dim=1), dynamic=True)
    for shape in [(3, 4), (5, 6), (1, 2)]:
        x = tensor(*shape)
        np.testing.assert_allclose(f(x).numpy(), (x.numpy() * 2).sum(1), rtol=1e-6)
    assert f.stats.compiles == 1
    g = torch.compile(lambda x: x.exp() + 1, dynamic=False)
    for n in (4, 5, 6):
        x = tensor(2, n)
        torch.mark_dynamic(x, 1)
        np.testing.assert_allclose(g(x).numpy(), np.exp(x.numpy()) + 1, rtol=1e-6)
    assert g.stats.compiles == 1
    x = tensor(3, 4)
    torch.mark_dynamic(x, -1)
    g(x)   # dim 0 is not marked: a new graph
    assert g.stats.compiles == 2
    with pytest.raises(IndexError, match=r"dimension 2 out of range.*\(3, 4\)"):
        torch.mark_dynamic(x, 2)


def test_recompile_limit_warns():
    f = torch.compile(lambda x: x + 1, dynamic=False)
    with pytest.warns(UserWarning, match="compiled 9 graphs"):
        for n in range(1, 10):
            f(tensor(n))


def test_train_eval_switch_recompiles():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    f = torch.compile(model)
    x = tensor(2, 4)
    f(x)
    model.eval()
    np.testing.assert_allclose(f(x).detach().numpy(), model(x).detach().numpy(), rtol=1e-6)
    assert f.stats.compiles == 2
    model.train()
    f(x)
    assert f.stats.compiles == 2


def test_graph_break_falls_back_and_is_reported_once():
    def f(x):
        y = x * 2
        if y.sum().item() > 0:   # data-dependent Python
            return y + 1
        return y - 1
    line = f.__code__.co_firstlineno + 2
    compiled = torch.compile(f)
    for x in (torch.Tensor([1.0, 2.0]), torch.Tensor([-3.0, 1.0])):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            np.testing.assert_array_equal(compiled(x).numpy(), f(x).numpy())
        reports = [w for w in caught if "graph break" in str(w.message)]
        if x.numpy()[0] > 0:
            assert len(reports) == 1
            assert f"{__file__}:{line}" in str(reports[0].message)
            assert "item()" in str(reports[0].message)
        else:
            assert not reports   # reported once
    # compiled pieces with the break between (tests/test_jit_breaks.py), never all eager
    assert compiled.stats.graph_breaks == 1 and compiled.stats.eager_calls == 0


def test_printing_a_traced_tensor_breaks():
    def f(x):
        print(x)
        return x + 1
    with pytest.warns(UserWarning, match="printing a traced tensor"):
        out = torch.compile(f)(torch.Tensor([1.0]))
    np.testing.assert_array_equal(out.numpy(), [2.0])


def test_fullgraph_raises_at_the_break():
    def f(x):
        return x * float(x.sum())
    with pytest.raises(RuntimeError, match=r"fullgraph=True.*item\(\).*test_jit.py:\d+"):
        torch.compile(f, fullgraph=True)(torch.Tensor([1.0, 2.0]))


def test_graph_break_in_a_training_step_leaves_state_as_eager():
    def run(compiled):
        params, opt, model = mlp(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9))
        x, y = tensor(8, 20), torch.Tensor(RNG.integers(0, 5, 8), dtype="int64")

        def step():
            opt.zero_grad()
            loss = ce(model, x, y)
            loss.backward()
            opt.step()
            return loss.item()    # breaks after the step was traced
        fn = torch.compile(step) if compiled else step
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            losses = [fn() for _ in range(3)]
        return losses, [p.detach().numpy().copy() for p in params]
    global RNG
    RNG = np.random.default_rng(1)
    eager = run(False)
    RNG = np.random.default_rng(1)
    compiled = run(True)
    np.testing.assert_allclose(compiled[0], eager[0], rtol=1e-6)
    for a, b in zip(eager[1], compiled[1]):
        np.testing.assert_allclose(b, a, rtol=1e-6)


def test_bad_arguments_are_refused_clearly():
    f = torch.compile(lambda x: x + 1)
    with pytest.raises(TypeError, match="argument 0 of type ndarray is not supported"):
        f(np.ones(3))
    with pytest.raises(TypeError, match="expected a function or a Module"):
        torch.compile(3)
    with pytest.raises(TypeError, match="returned a set"):
        torch.compile(lambda x: {x})(torch.Tensor([1.0]))


def test_dynamic_training_step_equals_eager_across_batch_sizes():
    def run(compiled):
        params, opt, model = mlp(lambda p: torch.optim.Adam(p, lr=0.01))

        def step(x, y):
            opt.zero_grad()
            loss = ce(model, x, y)   # a mean over the batch: its count is read at run time
            loss.backward()
            opt.step()
            return loss
        fn = torch.compile(step, dynamic=True) if compiled else step
        rng = np.random.default_rng(2)
        losses = [fn(torch.Tensor(rng.standard_normal((b, 20)).astype(np.float32)),
                     torch.Tensor(rng.integers(0, 5, b), dtype="int64")).detach().numpy()
                  for b in (4, 6, 9, 6)]
        return fn, losses, [p.detach().numpy().copy() for p in params]
    _, eager_losses, eager_params = run(False)
    fn, losses, params = run(True)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-4)
    for a, b in zip(eager_params, params):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
    assert fn.stats.compiles == 1   # no recompile for new batch sizes


def test_dynamic_falls_back_to_static_shapes_where_code_needs_them():
    f = torch.compile(lambda x: x.reshape(x.shape[0] * 2, -1), dynamic=True)
    for n in (4, 5):   # the static graph of size 4 is not reused for size 5
        x = tensor(n, 6)
        np.testing.assert_array_equal(f(x).numpy(), x.numpy().reshape(2 * n, -1))


def test_backward_outside_a_compiled_module_equals_eager():
    """`loss = compiled(x); loss.backward()`: the result is on the eager tape."""
    def run(compiled):
        params, opt, model = mlp(lambda p: torch.optim.SGD(p, lr=0.1))
        fn = torch.compile(model) if compiled else model
        rng = np.random.default_rng(3)
        x = torch.Tensor(rng.standard_normal((6, 20)).astype(np.float32), requires_grad=True)
        y = torch.Tensor(rng.integers(0, 5, 6), dtype="int64")
        for _ in range(3):
            opt.zero_grad()
            loss = F.cross_entropy(fn(x), y)
            loss.backward()
            opt.step()
        values = [loss.detach().numpy(), x.grad.numpy()]
        return values + [p.detach().numpy().copy() for p in params], fn
    eager, _ = run(False)
    compiled, fn = run(True)
    for a, b in zip(eager, compiled):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
    assert fn.stats.compiles == 1


@pytest.mark.parametrize("use", ["loss", "logits", "both"])
def test_backward_through_a_module_returning_logits_and_loss(use):
    """nanoGPT's / minGPT's `logits, loss = model(idx, targets)` compiles as one graph (was:
    a graph break, the model eager): each result is a tape node with its own gradient plan,
    so a backward from either, or from both, gives eager's gradients."""
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)

        def forward(self, x, y):
            logits = self.fc(x)
            return logits, F.cross_entropy(logits, y)

    def grads(fn, model):
        model.zero_grad()
        logits, loss = fn(x, y)
        {"loss": loss, "logits": logits.pow(2).sum(), "both": loss + logits.sum()}[use].backward()
        return [loss.detach().numpy()] + [p.grad.numpy().copy() for p in model.parameters()]
    torch.manual_seed(0)
    model = Model()
    x, y = tensor(5, 4), torch.tensor([0, 1, 2, 1, 0])
    compiled = torch.compile(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # no graph break
        got = grads(compiled, model)
    for a, b in zip(grads(model, model), got):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)
    assert compiled.stats.compiles == 1 and compiled.stats.graph_breaks == 0


@pytest.mark.filterwarnings("ignore:tinyflow.compile. graph break")   # momentum=None: .item()
@pytest.mark.parametrize("momentum", [0.1, None])
def test_backward_outside_a_compiled_module_with_batch_norm(momentum):
    """The call writes the running statistics, which its gradient plan does not read: the
    result stays differentiable (was: a plain tensor, `loss.backward()` raised)."""
    def run(compiled):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3, momentum=momentum),
                              nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 2))
        fn = torch.compile(model) if compiled else model
        rng = np.random.default_rng(0)
        out = []
        for _ in range(2):
            model.zero_grad()
            x = torch.tensor(rng.standard_normal((4, 2, 6, 6)).astype(np.float32))
            F.cross_entropy(fn(x), torch.tensor([0, 1, 1, 0])).backward()
            out += [p.grad.numpy().copy() for p in model.parameters()]
        return out + [b.numpy().copy() for b in model.buffers()]
    for a, b in zip(run(False), run(True)):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


def test_backward_outside_uses_the_forward_dropout_mask():
    """The gradient plan is fed the forward run's random mask (was: it drew a new one, so
    the gradient of `dropout(x)` zeroed other elements than the forward did)."""
    torch.manual_seed(0)
    drop, norm = nn.Dropout(0.5), nn.BatchNorm1d(8)
    scaled = torch.compile(lambda x: drop(x) * 3.0)

    @torch.compile
    def normalized(x):     # with batch norm's writes in the same call
        dropped = drop(x)
        return dropped, norm(dropped)
    rng, masks = np.random.default_rng(0), []
    for _ in range(3):
        x = torch.ones(64, 8, requires_grad=True)
        out = scaled(x)
        out.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), out.detach().numpy())   # 3 * mask / 0.5 both
        masks.append(out.detach().numpy() != 0)
        x = torch.tensor(rng.standard_normal((64, 8)).astype(np.float32), requires_grad=True)
        dropped, y = normalized(x)
        (y * torch.tensor(rng.standard_normal((64, 8)).astype(np.float32))).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy() == 0, dropped.detach().numpy() == 0)
    assert not np.array_equal(masks[0], masks[1])     # each forward draws its own mask


def test_a_call_whose_gradient_reads_a_written_tensor_runs_eagerly():
    """`out = x * buf; buf.add_(1)`: a gradient plan run at backward time would read the new
    buf, so the call runs eagerly (a graph break): the result requires grad, and its
    backward is refused as eager autograd refuses it."""
    buf = torch.ones(3)
    w = torch.ones(3, requires_grad=True)

    def f(x):
        out = x * w * buf
        buf.add_(1)
        return out
    with pytest.warns(UserWarning, match="gradient reads a tensor the call writes"):
        out = torch.compile(f)(torch.ones(3))
    np.testing.assert_array_equal(buf.numpy(), [2, 2, 2])
    assert out.requires_grad
    with pytest.raises(RuntimeError, match="saved for the gradient and then modified by an in-place"):
        out.sum().backward()


def test_backward_outside_refuses_stale_inputs_as_eager():
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    out = torch.compile(model)(tensor(2, 3)).sum()
    with torch.no_grad():
        model.weight.mul_(2)
    with pytest.raises(RuntimeError, match="saved for the gradient and then modified by an in-place"):
        out.backward()


def test_explain_lists_graphs_and_breaks():
    def ok(x):
        return (x * 2).sum()

    def breaks(x):
        if x.sum().item() > 0:
            return x
        return -x
    report = torch.explain(ok, tensor(3))
    assert (report.graph_count, report.graph_break_count) == (1, 0)
    assert report.ops_per_graph[0] >= 1
    report = torch.explain(breaks, torch.Tensor([1.0, 2.0, 3.0]))
    assert (report.graph_count, report.graph_break_count) == (1, 1)   # x.sum(); `return x`
    assert "item()" in str(report) and "test_jit.py:" in str(report)


@pytest.mark.parametrize("optimizer, compiles", [
    (lambda p: torch.optim.SGD(p, lr=0.1), 1),
    (lambda p: torch.optim.Adam(p, lr=0.01), 1),
    (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), 2),   # its buffer starts at step 1
], ids=["sgd", "adam", "momentum"])
def test_training_loop_compiles(optimizer, compiles):
    params, opt, model = mlp(optimizer)
    x, y = tensor(8, 20), torch.Tensor(RNG.integers(0, 5, 8), dtype="int64")

    @torch.compile
    def step(x, y):
        opt.zero_grad()
        loss = ce(model, x, y)
        loss.backward()
        opt.step()
        return loss
    for _ in range(4):
        step(x, y)
    assert step.stats.compiles == compiles



def params_agree(run, seed):
    """`run(compiled)` -> (parameters, extra), eager then compiled from the same random
    state: the parameters must agree; returns the compiled run's extra."""
    global RNG
    RNG = np.random.default_rng(seed)
    eager, _ = run(False)
    RNG = np.random.default_rng(seed)
    compiled, extra = run(True)
    for a, b in zip(eager, compiled):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    return extra

def test_compiled_module_inside_a_compiled_step_is_inlined():
    def run(compiled):
        params, opt, model = mlp(lambda p: torch.optim.SGD(p, lr=0.1))
        inner = torch.compile(model) if compiled else model
        x, y = tensor(8, 20), torch.Tensor(RNG.integers(0, 5, 8), dtype="int64")

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(inner(x), y)
            loss.backward()
            opt.step()
            return loss
        fn = torch.compile(step) if compiled else step
        for _ in range(2):
            fn(x, y)
        return [p.detach().numpy().copy() for p in params], inner
    inner = params_agree(run, seed=4)
    assert inner.stats.compiles == 0   # traced as part of the step


def _steps_under_a_scheduler(step_size: int, inside: bool, calls: int):
    """`run` for params_agree: SGD steps whose lr a StepLR halves every `step_size` steps,
    stepped after each call, or `inside` the (compiled) step."""
    def run(compiled):
        params, opt, model = mlp(lambda p: torch.optim.SGD(p, lr=0.1))
        scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=step_size, gamma=0.5)
        x, y = tensor(8, 20), torch.Tensor(RNG.integers(0, 5, 8), dtype="int64")

        def step(x, y):
            opt.zero_grad()
            loss = ce(model, x, y)
            loss.backward()
            opt.step()
            if inside:
                scheduler.step()
            return loss
        fn = torch.compile(step) if compiled else step
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # (past the recompile limit: eager)
            for _ in range(calls):
                fn(x, y)
                if not inside:
                    scheduler.step()
        return [p.detach().numpy().copy() for p in params], fn
    return run


def test_changed_learning_rate_recompiles():
    fn = params_agree(_steps_under_a_scheduler(2, inside=False, calls=4), seed=5)
    assert fn.stats.compiles == 2


def test_a_scheduler_stepped_inside_the_compiled_step_changes_the_next_steps_lr():
    """The options are guarded as the traced step read them, not as the trace left them: a
    graph whose step used lr 0.1 is not reused once the scheduler inside made it 0.05."""
    params_agree(_steps_under_a_scheduler(1, inside=True, calls=3), seed=6)


def test_view_of_a_captured_eager_tensor_under_compile():
    """The view check reads the eager tensor's strides (the traced result has no array)."""
    w = torch.randn(4, 3)
    f = torch.compile(lambda x: x @ w.view(3, 4).t())
    x = torch.randn(2, 4)
    np.testing.assert_allclose(f(x).numpy(), (x @ w.view(3, 4).t()).numpy(), rtol=1e-6)
    wt = w.t()                     # eager and not contiguous: eager's view refuses it
    g = torch.compile(lambda x: x + wt.view(12))
    with pytest.raises(RuntimeError, match=r"not evenly spaced.*\(3, 4\).*\(12,\)"):
        g(torch.randn(12))


def _train_three_steps(compiled: bool, zero_grad_to_none: bool):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                          nn.Linear(3 * 4 * 4, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step(x, y):
        opt.zero_grad(set_to_none=zero_grad_to_none)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    f = torch.compile(step) if compiled else step
    rng = np.random.default_rng(0)
    for _ in range(3):
        f(torch.tensor(rng.standard_normal((5, 1, 6, 6)).astype(np.float32)),
          torch.tensor(rng.integers(0, 2, 5)))
    return model, f


@pytest.mark.parametrize("zero_grad_to_none", [True, False])
def test_compiled_step_updates_batch_norm_stats_and_zeroes_grads_as_eagerly(zero_grad_to_none):
    """zero_grad(set_to_none=False) zeroes in place, and the batch-norm running statistics
    and count update, on every compiled call (both were done once, at trace time)."""
    eager, _ = _train_three_steps(False, zero_grad_to_none)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # no graph break
        compiled, f = _train_three_steps(True, zero_grad_to_none)
    for (name, a), b in zip(eager.state_dict().items(), compiled.state_dict().values()):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)
    assert int(compiled[1].num_batches_tracked.item()) == 3
    for a, b in zip(eager.parameters(), compiled.parameters()):
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert f.stats.graph_breaks == 0


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf"), 3.0, 0.0])
def test_clip_grad_norm_under_compile_equals_eager(norm_type):
    results = []
    for compiled in (False, True):
        torch.manual_seed(0)
        net = nn.Linear(4, 2)
        opt = torch.optim.SGD(net.parameters(), lr=0.1)

        def step(x):
            opt.zero_grad()
            loss = (net(x) ** 2).mean()
            loss.backward()
            total = torch.nn.utils.clip_grad_norm_(net.parameters(), 0.5, norm_type)
            opt.step()
            return loss, total
        f = torch.compile(step) if compiled else step
        out = [tuple(float(v) for v in f(torch.ones(3, 4) * (k + 1))) for k in range(3)]
        results.append((out, [p.detach().numpy().copy() for p in net.parameters()]))
    (eager, pe), (comp, pc) = results
    np.testing.assert_allclose(comp, eager, rtol=1e-5)
    for a, b in zip(pe, pc):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)


def test_matmul_with_a_vector_under_compile_equals_eager():
    a, v = torch.randn(2, 3, 5, 4), torch.randn(4)
    for f in (lambda a, v: a @ v, lambda a, v: v @ a.transpose(-1, -2).transpose(-1, -2)[0, 0].t(),
              lambda a, v: (a @ v).transpose(1, 2).reshape(2, -1), lambda a, v: v @ v):
        np.testing.assert_allclose(torch.compile(f)(a, v).numpy(), f(a, v).numpy(), rtol=1e-6)


def test_several_training_steps_in_one_compiled_call_equal_eager():
    """After opt.step() inside the call, the parameters are leaves with their new values: the
    next backward differentiates w.r.t. them (it went through the update rule)."""
    results = []
    for compiled in (False, True):
        torch.manual_seed(0)
        net = nn.Linear(4, 3)
        opt = torch.optim.Adam(net.parameters(), lr=0.05)

        def two_steps(x):
            for _ in range(2):
                opt.zero_grad()
                (net(x) ** 2).sum().backward()
                opt.step()
            return net.weight.grad * 1
        f = torch.compile(two_steps) if compiled else two_steps
        x = torch.tensor(np.arange(8, dtype=np.float32).reshape(2, 4) / 8)
        grads = [f(x).detach().numpy() for _ in range(2)]
        results.append((grads, [p.detach().numpy().copy() for p in net.parameters()]))
    (ge, pe), (gc, pc) = results
    for a, b in zip(ge + pe, gc + pc):   # Adam: eager's fused step rounds apart from the rules
        np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-5)


SHARED_NAMES = {   # names TF1 and PyTorch share: compiled code is PyTorch's, not a TF1 graph
    "split": lambda x: torch.split(x, 2),
    "split_method": lambda x: x.split(2),
    "sort": lambda x: torch.sort(x, 0)[1],
    "cumsum_int": lambda x: torch.cumsum((x > 0).int(), 0),
    "cumsum_int_method": lambda x: (x * 3).int().cumsum(1),
    "where_condition_only": lambda x: torch.where(x > 0),   # nonzero: a graph break
}


@pytest.mark.filterwarnings("ignore:tinyflow.compile. graph break")
@pytest.mark.parametrize("name", sorted(SHARED_NAMES))
def test_shared_names_mean_pytorch_s_under_compile(name):
    fn, x = SHARED_NAMES[name], tensor(6, 4)
    expected, got = fn(x), torch.compile(fn)(x)
    expected, got = ((expected, got) if isinstance(expected, (tuple, list))
                     else ((expected,), (got,)))
    assert len(got) == len(expected)
    for e, g in zip(expected, got):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_array_equal(g.numpy(), e.numpy())


def test_a_namedtuple_result_comes_back_as_one():
    """torch.max / torch.sort give (values, indices) namedtuples: returned from a compiled
    function as from the eager one."""
    x = tensor(5, 4)
    for fn in (lambda a: torch.max(a, 1), lambda a: torch.sort(a * 2, 0)):
        expected, got = fn(x), torch.compile(fn)(x)
        assert type(got) is type(expected)
        np.testing.assert_array_equal(got.values.numpy(), expected.values.numpy())
        np.testing.assert_array_equal(got.indices.numpy(), expected.indices.numpy())


def test_a_scheduler_stepped_inside_that_keeps_the_lr_is_still_stepped():
    """StepLR(step_size=2) leaves lr alone on every other step: the options guard passes,
    but the scheduler's epoch count must still advance on every call, as eagerly."""
    params_agree(_steps_under_a_scheduler(2, inside=True, calls=5), seed=7)
