"""tinyflow.optim, its lr schedulers and nn.utils gradient clipping, with PyTorch as the
oracle: the same parameters and gradients go through both, and must come out equal."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinyflow as tf  # noqa: E402
import tinyflow.nn.utils as tf_nn_utils  # noqa: E402
from tinyflow import optim  # noqa: E402
from tinyflow.pytorch.creation import tensor  # noqa: E402
from tinyflow.optim import lr_scheduler, rules  # noqa: E402

SHAPES = [(4, 3), (3,), (2, 2)]


def _initial(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in SHAPES]


def _params(values, lib):
    """Leaf parameters holding copies of `values`, in tinyflow (lib=tf) or torch."""
    if lib is torch:
        return [torch.tensor(v.copy(), requires_grad=True) for v in values]
    return [tensor(v.copy(), requires_grad=True) for v in values]


def _set_grads(params, step, lib):
    """Gradients that depend on the step and on each parameter's current value; the last
    parameter has no gradient on step 2, so it must be skipped then."""
    rng = np.random.default_rng(100 + step)
    for k, p in enumerate(params):
        current = p.detach().numpy()
        g = (rng.standard_normal(current.shape) * (2.0 if step % 2 else 0.3)
             + 0.5 * current).astype(np.float32)
        if k == len(params) - 1 and step == 2:
            p.grad = None
        else:
            p.grad = torch.tensor(g) if lib is torch else tensor(g)


def _train(make, lib, values, steps=5, groups=False):
    params = _params(values, lib)
    spec = ([{"params": params[:2]}, {"params": params[2:], "lr": 0.003}] if groups
            else params)
    opt = make(lib, spec)
    for step in range(steps):
        _set_grads(params, step, lib)
        opt.step()
    return opt, [p.detach().numpy().copy() for p in params]


def _cls(lib, name):
    return getattr((torch.optim if lib is torch else optim), name)


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, weight_decay=0.01, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.1, betas=(0.9, 0.6), amsgrad=True)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=0.1, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.1, betas=(0.9, 0.6), weight_decay=0.1, amsgrad=True,
                   maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, maximize=True, eps=1e-4)),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{kw}" for n, kw in CASES])
def test_optimizer_matches_torch(name, kwargs):
    values = _initial()
    make = lambda lib, spec: _cls(lib, name)(spec, **kwargs)  # noqa: E731
    opt, ours = _train(make, tf, values)
    ref_opt, theirs = _train(make, torch, values)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert any(not np.allclose(a, v) for a, v in zip(ours, values))
    # the state has PyTorch's layout and values
    ours_sd, ref_sd = opt.state_dict(), ref_opt.state_dict()
    assert ours_sd["param_groups"] == ref_sd["param_groups"]
    assert ours_sd["state"].keys() == ref_sd["state"].keys()
    for i, state in ref_sd["state"].items():
        assert ours_sd["state"][i].keys() == state.keys()
        for key, value in state.items():
            np.testing.assert_allclose(ours_sd["state"][i][key].numpy(), value.numpy(),
                                       rtol=1e-5, atol=1e-6, err_msg=key)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_param_groups_with_their_own_lr(name):
    values = _initial(1)

    def make(lib, spec):
        extra = {} if name == "Adam" else {"momentum": 0.9}
        return _cls(lib, name)(spec, lr=0.01, **extra)

    opt, ours = _train(make, tf, values, groups=True)
    _, theirs = _train(make, torch, values, groups=True)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.003]


def test_training_a_model_with_backward_matches_torch():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 4)).astype(np.float32)
    y = rng.standard_normal((16, 2)).astype(np.float32)
    w0 = rng.standard_normal((4, 2)).astype(np.float32)
    b0 = np.zeros(2, np.float32)
    results = []
    for lib in (tf, torch):
        mk = torch.tensor if lib is torch else tensor
        w, b = mk(w0.copy(), requires_grad=True), mk(b0.copy(), requires_grad=True)
        opt = _cls(lib, "AdamW")([w, b], lr=0.05)
        for _ in range(5):
            opt.zero_grad()
            loss = ((mk(x) @ w + b - mk(y)) ** 2).mean()
            loss.backward()
            opt.step()
        results.append((w.detach().numpy().copy(), b.detach().numpy().copy(), loss.item()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_step_calls_the_closure_with_grad_enabled():
    w = tensor([1.0, -2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with tf.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 5.0
    np.testing.assert_allclose(w.detach().numpy(), [0.0, 0.0])
    assert w.requires_grad and w.is_leaf


def test_zero_grad():
    w = tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    w.grad = tensor([3.0, 4.0])
    grad = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is grad and grad.numpy().tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert w.grad is None
    opt.step()  # no gradients: nothing moves
    assert w.detach().numpy().tolist() == [1.0, 2.0]


def test_step_updates_the_parameter_buffer_in_place():
    w = tensor([1.0, 2.0], requires_grad=True)
    buffer = w.detach().numpy()
    opt = optim.Adam([w], lr=0.1)
    w.grad = tensor([1.0, -1.0])
    opt.step()
    assert w.detach().numpy() is buffer
    np.testing.assert_allclose(buffer, [0.9, 2.1], rtol=1e-5)


def test_construction_errors():
    w = tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="params is one Tensor; give an iterable of tensors"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="the parameter list is empty"):
        optim.Adam([])
    with pytest.raises(ValueError, match="a parameter is in two param groups"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(ValueError, match="a param is not a leaf"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0 and dampening=0"):
        optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match=r"betas\[1\] must be in \[0, 1\)"):
        optim.Adam([w], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="lr must be >= 0"):
        optim.RMSprop([w], lr=-1)


def test_add_param_group_and_named_parameters():
    a = tensor([1.0], requires_grad=True)
    b = tensor([2.0], requires_grad=True)
    opt = optim.SGD([("a", a)], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.5})
    assert opt.param_groups[0]["param_names"] == ["a"]
    assert opt.param_groups[1]["params"][0] is b
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["lr"] == 0.5


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.1, betas=(0.9, 0.6), amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
])
def test_state_dict_round_trip_resumes_exactly(name, kwargs):
    cls = getattr(optim, name)
    params = _params(_initial(2), tf)
    opt = cls(params, **kwargs)
    for step in range(3):
        _set_grads(params, step, tf)
        opt.step()
    saved = opt.state_dict()
    at_three = [p.detach().numpy().copy() for p in params]
    before = {i: {k: v.numpy().copy() for k, v in s.items()} for i, s in saved["state"].items()}
    for step in range(3, 5):  # uninterrupted; the saved state must not move with it
        _set_grads(params, step, tf)
        opt.step()
    for i, s in saved["state"].items():
        for k, v in s.items():
            np.testing.assert_array_equal(v.numpy(), before[i][k])

    resumed = _params(at_three, tf)
    fresh = cls(resumed, lr=123.0)
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == kwargs["lr"]
    assert all(a is b for a, b in zip(fresh.param_groups[0]["params"], resumed))
    for step in range(3, 5):
        _set_grads(resumed, step, tf)
        fresh.step()
    for a, b in zip(resumed, params):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_load_state_dict_refuses_a_mismatch():
    a, b = tensor([1.0], requires_grad=True), tensor([2.0], requires_grad=True)
    saved = optim.Adam([a, b]).state_dict()
    with pytest.raises(ValueError, match="param group 0 has 2 params in the state, 1 in"):
        optim.Adam([a]).load_state_dict(saved)
    with pytest.raises(ValueError, match="the state has 1 param groups, this optimizer 2"):
        optim.Adam([{"params": [a]}, {"params": [b]}]).load_state_dict(saved)


# ---- the rules build graphs too -----------------------------------------------------------

def test_rules_run_eagerly_and_as_graph_nodes():
    rng = np.random.default_rng(4)
    p, g, s, ga, vel = (rng.random((3, 2)).astype(np.float32) for _ in range(5))
    eager = rules.rmsprop(tensor(p), tensor(g), tensor(s), 0.01, 0.9, 1e-8,
                          grad_avg=tensor(ga * 0.1), velocity=tensor(vel), mu=0.5)
    holders = [tf.placeholder(tf.float32, [3, 2]) for _ in range(5)]
    graph = rules.rmsprop(*holders[:3], 0.01, 0.9, 1e-8, grad_avg=holders[3] * 0.1,
                          velocity=holders[4], mu=0.5)
    with tf.Session() as sess:
        out = sess.run(list(graph), dict(zip(holders, (p, g, s, ga, vel))))
    for a, b in zip(eager, out):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-6)


# ---- lr schedulers ------------------------------------------------------------------------

def _warmup_cosine(epoch):
    if epoch < 4:
        return (epoch + 1) / 4
    return 0.5 * (1 + math.cos(math.pi * min(epoch - 4, 12) / 12))


SCHEDULES = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=3, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.1, total_iters=6),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=7, eta_min=0.01),
    "LambdaLR": lambda m, o: m.LambdaLR(o, _warmup_cosine),
    "LambdaLR-per-group": lambda m, o: m.LambdaLR(o, [_warmup_cosine, lambda e: 0.9 ** e]),
    "SequentialLR": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.01, total_iters=5),
            m.CosineAnnealingLR(o, T_max=12, eta_min=1e-4)], milestones=[5]),
}


def _lr_sequence(lib, make, steps=20):
    module = torch.optim.lr_scheduler if lib is torch else lr_scheduler
    w = _params(_initial(), lib)
    opt = _cls(lib, "SGD")([{"params": w[:1]}, {"params": w[1:], "lr": 0.5}], lr=0.1)
    sched = make(module, opt)
    lrs = [sched.get_last_lr()]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr())
        assert lrs[-1] == [g["lr"] for g in opt.param_groups]
    return lrs, opt, sched


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_scheduler_matches_torch(name):
    ours, opt, _ = _lr_sequence(tf, SCHEDULES[name])
    theirs, _, _ = _lr_sequence(torch, SCHEDULES[name])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.5]


@pytest.mark.parametrize("name", ["StepLR", "CosineAnnealingLR", "LambdaLR", "SequentialLR"])
def test_scheduler_state_dict_resumes(name):
    full, _, _ = _lr_sequence(tf, SCHEDULES[name], steps=12)
    _, opt, sched = _lr_sequence(tf, SCHEDULES[name], steps=5)
    saved, opt_saved = sched.state_dict(), opt.state_dict()
    assert "optimizer" not in saved
    w = _params(_initial(), tf)
    opt2 = optim.SGD([{"params": w[:1]}, {"params": w[1:], "lr": 0.5}], lr=0.1)
    sched2 = SCHEDULES[name](lr_scheduler, opt2)
    opt2.load_state_dict(opt_saved)
    sched2.load_state_dict(saved)
    lrs = [sched2.get_last_lr()]
    for _ in range(7):
        opt2.step()
        sched2.step()
        lrs.append(sched2.get_last_lr())
    np.testing.assert_allclose(lrs, full[5:], rtol=1e-12)


# ---- gradient clipping --------------------------------------------------------------------

def _grads_pair(seed=5):
    rng = np.random.default_rng(seed)
    grads = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    ours, theirs = _params(_initial(), tf), _params(_initial(), torch)
    for p, q, g in zip(ours, theirs, grads):
        p.grad, q.grad = tensor(g.copy()), torch.tensor(g.copy())
    ours[1].grad = theirs[1].grad = None  # parameters without a gradient are left out
    return ours, theirs


@pytest.mark.parametrize("max_norm", [0.5, 100.0])
@pytest.mark.parametrize("norm_type", [2.0, 1, 3.0, float("inf")])
def test_clip_grad_norm_matches_torch(max_norm, norm_type):
    ours, theirs = _grads_pair()
    total = tf_nn_utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type, foreach=True)
    ref = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, tf.Tensor) and total.shape == ()
    np.testing.assert_allclose(total.numpy(), ref.numpy(), rtol=1e-6)
    for p, q in zip(ours, theirs):
        if q.grad is None:
            assert p.grad is None
        else:
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6)


def test_clip_grad_norm_edge_cases():
    w = tensor([3.0, 4.0], requires_grad=True)
    w.grad = tensor([3.0, 4.0])
    assert tf_nn_utils.clip_grad_norm_(w, 1.0).item() == pytest.approx(5.0)
    np.testing.assert_allclose(w.grad.numpy(), [0.6, 0.8], rtol=1e-5)
    assert tf_nn_utils.clip_grad_norm_([tensor([1.0])], 1.0).item() == 0.0
    w.grad = tensor([float("inf"), 1.0])
    with pytest.raises(RuntimeError, match="total 2.0-norm is inf or NaN"):
        tf_nn_utils.clip_grad_norm_([w], 1.0, error_if_nonfinite=True)


def test_clip_grad_value_matches_torch():
    ours, theirs = _grads_pair(6)
    tf_nn_utils.clip_grad_value_(ours, 0.5)
    torch.nn.utils.clip_grad_value_(theirs, 0.5)
    for p, q in zip(ours, theirs):
        if q.grad is not None:
            np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


ONE_CYCLE = {
    "OneCycleLR-cos-sgd-momentum": ("SGD", dict(momentum=0.9), lambda m, o: m.OneCycleLR(
        o, max_lr=[0.5, 1.0], total_steps=20)),
    "OneCycleLR-linear-three-phase": ("SGD", dict(momentum=0.9), lambda m, o: m.OneCycleLR(
        o, max_lr=0.3, epochs=4, steps_per_epoch=5, anneal_strategy="linear", three_phase=True,
        pct_start=0.25)),
    "OneCycleLR-adam-betas": ("Adam", {}, lambda m, o: m.OneCycleLR(
        o, max_lr=0.01, total_steps=20, pct_start=0.4, div_factor=10)),
}


@pytest.mark.parametrize("name", list(ONE_CYCLE))
def test_one_cycle_matches_torch_including_momentum(name):
    opt_name, kwargs, make = ONE_CYCLE[name]

    def run(lib):
        module = torch.optim.lr_scheduler if lib is torch else lr_scheduler
        w = _params(_initial(), lib)
        opt = _cls(lib, opt_name)([{"params": w[:1]}, {"params": w[1:]}], lr=0.1, **kwargs)
        sched = make(module, opt)
        seen = []
        for _ in range(20):
            seen.append([(g["lr"], g.get("momentum"), tuple(g.get("betas", ()))) for g in
                         opt.param_groups])
            opt.step()
            if len(seen) < 20:
                sched.step()
        return seen, sched
    ours, sched = run(tf)
    theirs, _ = run(torch)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        for (lr_a, m_a, b_a), (lr_b, m_b, b_b) in zip(a, b):
            assert lr_a == pytest.approx(lr_b, rel=1e-12) and m_a == pytest.approx(m_b)
            assert b_a == pytest.approx(b_b)
    sched.step()                       # step 20 of 20
    with pytest.raises(ValueError, match="step 21 is past total_steps=20"):
        sched.step()


def test_reduce_lr_on_plateau_matches_torch():
    metrics = [5.0, 4.0, 4.0, 3.9999, 4.1, 4.2, 4.3, 3.0, 3.0, 3.0, 3.0, 3.0, 2.0, -1.0, -1.0,
               -1.00001, -0.9, -0.9, -0.9, -0.9]

    def run(lib, **kw):
        module = torch.optim.lr_scheduler if lib is torch else lr_scheduler
        w = _params(_initial(), lib)
        opt = _cls(lib, "SGD")([{"params": w[:1]}, {"params": w[1:], "lr": 0.5}], lr=0.1)
        sched = module.ReduceLROnPlateau(opt, **kw)
        lrs = []
        for m in metrics:
            opt.step()
            sched.step(m)
            lrs.append(sched.get_last_lr())
        return lrs
    for kw in (dict(patience=2), dict(patience=1, cooldown=2, factor=0.5, min_lr=[0.02, 0.1]),
               dict(mode="max", patience=1, threshold_mode="abs", threshold=0.5)):
        np.testing.assert_allclose(run(tf, **kw), run(torch, **kw), rtol=1e-12)
    with pytest.raises(ValueError, match="Factor"):
        lr_scheduler.ReduceLROnPlateau(optim.SGD(_params(_initial(), tf), lr=0.1), factor=1.0)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_carries_on_after_the_model_changes_dtype(nesterov):
    """`model.double()` after some steps leaves the momentum buffer float32, as in PyTorch:
    the next steps update it in its own dtype instead of refusing the mix."""
    def run(lib):
        model = lib.nn.Linear(3, 2)
        with lib.no_grad():
            model.weight.copy_(lib.tensor(np.arange(6, dtype=np.float32).reshape(2, 3) / 10))
            model.bias.copy_(lib.tensor(np.array([0.1, -0.2], dtype=np.float32)))
        opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=nesterov)
        x = lib.ones(4, 3)
        for step in range(4):
            if step == 2:
                model.double()
                x = x.double()
            opt.zero_grad()
            (model(x) ** 2).sum().backward()
            opt.step()
        buf = opt.state[model.weight]["momentum_buffer"]
        return model.weight.detach().numpy(), str(buf.dtype).split(".")[-1]

    (want, want_dtype), (got, got_dtype) = run(torch), run(tf)
    assert got.dtype == np.float64 and got_dtype == want_dtype == "float32"
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
