"""Mixed precision against PyTorch: autocast gives the same dtypes as torch.autocast on the
CPU for the same code, keeps float32 master weights, works around TF1 graph construction and
under tinyflow.compile; GradScaler scales, skips a step with inf and recovers as torch's;
fp8 products round as described (per-tensor scale, e4m3 forward, e5m2 gradients)."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
import torch

import tinyflow
import tinyflow as tf

LIBS = (tinyflow, torch)


def _inputs(lib, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {"x": rng.standard_normal((4, 8)), "w": rng.standard_normal((6, 8)),
              "b": rng.standard_normal(6), "img": rng.standard_normal((2, 3, 6, 6)),
              "k": rng.standard_normal((4, 3, 3, 3)), "seq": rng.standard_normal((2, 5, 8))}
    return {n: lib.tensor(a.astype(np.float32)) for n, a in arrays.items()}


def _F(lib):
    return lib.nn.functional


CODE = {
    "matmul": lambda L, t: t["x"] @ t["w"].T,
    "matmul_3d": lambda L, t: L.matmul(t["seq"], t["w"].T),
    "linear": lambda L, t: _F(L).linear(t["x"], t["w"], t["b"]),
    "linear_no_bias": lambda L, t: _F(L).linear(t["x"], t["w"]),
    "linear_3d": lambda L, t: _F(L).linear(t["seq"], t["w"], t["b"]),
    "linear_1d": lambda L, t: _F(L).linear(t["x"][0], t["w"], t["b"]),
    "conv2d": lambda L, t: _F(L).conv2d(t["img"], t["k"], t["b"][:4], padding=1),
    "einsum": lambda L, t: L.einsum("ij,kj->ik", t["x"], t["w"]),
    "attention": lambda L, t: _F(L).scaled_dot_product_attention(t["seq"], t["seq"],
                                                                 t["seq"]),
    "add_low_f32": lambda L, t: t["x"] @ t["x"].T + t["x"][:, :4],
    "relu": lambda L, t: _F(L).relu(t["x"] @ t["w"].T),
    "softmax": lambda L, t: _F(L).softmax(t["x"] @ t["w"].T, -1),
    "log_softmax": lambda L, t: _F(L).log_softmax(t["x"] @ t["w"].T, -1),
    "layer_norm": lambda L, t: _F(L).layer_norm(t["x"] @ t["w"].T, (6,)),
    "sum": lambda L, t: (t["x"] @ t["w"].T).sum(),
    "mean": lambda L, t: (t["x"] @ t["w"].T).mean(1),
    "norm": lambda L, t: (t["x"] @ t["w"].T).norm(),
    "var": lambda L, t: (t["x"] @ t["w"].T).var(),
    "cross_entropy": lambda L, t: _F(L).cross_entropy(t["x"] @ t["w"].T,
                                                      L.tensor([0, 1, 2, 3])),
    "mse_loss": lambda L, t: _F(L).mse_loss(t["x"] @ t["w"].T, t["x"][:, :6]),
    "l1_loss": lambda L, t: _F(L).l1_loss(t["x"] @ t["w"].T, t["x"][:, :6]),
    "bce_with_logits": lambda L, t: _F(L).binary_cross_entropy_with_logits(
        t["x"] @ t["w"].T, L.sigmoid(t["x"][:, :6])),
    "float32_only": lambda L, t: L.exp(t["x"]).sum(),
}


def _name(dtype) -> str:
    return str(dtype).split(".")[-1]


@pytest.mark.parametrize("low", ["bfloat16", "float16"])
@pytest.mark.parametrize("case", list(CODE))
def test_autocast_dtypes_match_torch(case, low):
    outs = {}
    for lib in LIBS:
        with lib.autocast(device_type="cpu", dtype=getattr(lib, low)):
            outs[lib] = CODE[case](lib, _inputs(lib))
    ours, theirs = outs[tinyflow], outs[torch]
    assert _name(ours.dtype) == _name(theirs.dtype)
    tol = 3e-2 if _name(ours.dtype) != "float32" or case in ("sum", "var", "norm") else 2e-2
    np.testing.assert_allclose(ours.float().numpy(), theirs.float().detach().numpy(),
                               rtol=tol, atol=tol * float(theirs.float().abs().max()))


def _mlp(lib, seed=0):
    lib.manual_seed(seed)
    model = lib.nn.Sequential(lib.nn.Linear(8, 16), lib.nn.ReLU(), lib.nn.LayerNorm(16),
                              lib.nn.Linear(16, 3))
    rng = np.random.default_rng(seed)
    with lib.no_grad():
        for p in model.parameters():
            p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32) * 0.3))
    return model


def test_master_weights_stay_float32_and_gradients_match_torch():
    grads, dtypes = {}, {}
    for lib in LIBS:
        model = _mlp(lib)
        x = _inputs(lib)["x"]
        with lib.autocast("cpu", dtype=lib.bfloat16):
            out = model(x)
            loss = _F(lib).cross_entropy(out, lib.tensor([0, 1, 2, 0]))
        dtypes[lib] = (_name(out.dtype), _name(loss.dtype))
        loss.backward()
        grads[lib] = [p.grad for p in model.parameters()]
        assert all(_name(p.dtype) == "float32" for p in model.parameters())
    assert dtypes[tinyflow] == dtypes[torch] == ("bfloat16", "float32")
    for ours, theirs in zip(grads[tinyflow], grads[torch]):
        assert ours.dtype is tf.float32
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=5e-2,
                                   atol=5e-2 * float(theirs.abs().max()))


def test_autocast_around_tf1_graph_construction():
    x = tf.placeholder(tf.float32, [None, 8])
    w = tf.Variable(np.random.default_rng(0).standard_normal((8, 6)).astype(np.float32))
    with tinyflow.autocast("cpu", dtype=tf.bfloat16):
        logits = tf.matmul(x, w)
        loss = tf.reduce_mean(tf.square(tf.cast(logits, tf.float32)))
    grad = tf.gradients(loss, [w])[0]
    assert logits.dtype is tf.bfloat16 and grad.dtype is tf.float32
    assert tf.matmul(x, w).dtype is tf.float32          # outside the block: float32 again
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        value, g = sess.run([logits, grad], {x: np.ones((2, 8), np.float32)})
    assert value.dtype == ml_dtypes.bfloat16 and g.dtype == np.float32
    want = np.ones((2, 8), np.float32) @ sess_free_weights(w)
    np.testing.assert_allclose(value.astype(np.float32), want, rtol=2e-2, atol=5e-2)


def sess_free_weights(w):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(w)


def test_compile_guards_on_autocast():
    @tinyflow.compile
    def product(a, b):
        return a @ b

    a, b = tinyflow.ones(4, 4), tinyflow.ones(4, 4)
    assert product(a, b).dtype is tf.float32
    with tinyflow.autocast("cpu"):
        assert product(a, b).dtype is tf.bfloat16
    assert product(a, b).dtype is tf.float32


def test_autocast_spellings_and_nesting():
    assert tinyflow.amp.autocast is tinyflow.autocast
    assert tinyflow.cuda.amp.GradScaler is tinyflow.amp.GradScaler is tinyflow.GradScaler
    x = tinyflow.ones(2, 2)
    with tinyflow.cuda.amp.autocast(True):       # torch's default there: float16
        assert (x @ x).dtype is tf.float16
    with tinyflow.cpu.amp.autocast(dtype=tinyflow.float16):
        assert (x @ x).dtype is tf.float16 and tinyflow.is_autocast_enabled()
        with tinyflow.autocast("cpu", enabled=False):
            assert (x @ x).dtype is tf.float32 and not tinyflow.is_autocast_enabled()
        assert tinyflow.get_autocast_dtype("cpu") is tf.float16
    with pytest.raises(ValueError, match="autocast: dtype must be bfloat16 or float16"):
        tinyflow.autocast("cpu", dtype=tinyflow.float32)
    with pytest.raises(RuntimeError, match="device_type='mps' is not available"):
        tinyflow.autocast("mps")


# ---- GradScaler --------------------------------------------------------------------------

def _scaler_run(lib, inject_at=(2,), steps=8):
    """A float32 linear regression stepped through GradScaler; inf injected into one
    gradient at the given steps. Returns the scales and the weights after each step."""
    model = _mlp(lib, seed=1)
    opt = lib.optim.SGD(model.parameters(), lr=0.05)
    scaler = lib.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=3)
    x, y = _inputs(lib)["x"], lib.tensor([0, 1, 2, 0])
    history = []
    for step in range(steps):
        opt.zero_grad()
        loss = _F(lib).cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        if step in inject_at:
            with lib.no_grad():
                model[0].weight.grad[0, 0] = float("inf")
        scaler.unscale_(opt)
        scaler.step(opt)
        scaler.update()
        history.append((scaler.get_scale(),
                        [p.detach().numpy().copy() for p in model.parameters()]))
    return history


def test_grad_scaler_skips_a_step_with_inf_and_recovers_as_torchs():
    ours, theirs = _scaler_run(tinyflow), _scaler_run(torch)
    assert [s for s, _ in ours] == [s for s, _ in theirs] == [
        1024.0, 1024.0, 512.0, 512.0, 512.0, 1024.0, 1024.0, 1024.0]
    for (_, a), (_, b) in zip(ours, theirs):
        for p, q in zip(a, b):
            np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6)
    skipped_before, skipped_after = ours[1][1], ours[2][1]
    for p, q in zip(skipped_before, skipped_after):
        np.testing.assert_array_equal(p, q)      # the step with inf changed nothing


def test_grad_scaler_checks_its_order_and_round_trips_its_state():
    model = tinyflow.nn.Linear(2, 1)
    opt = tinyflow.optim.SGD(model.parameters(), lr=0.1)
    scaler = tinyflow.amp.GradScaler(init_scale=8.0, growth_interval=1)
    scaler.scale(model(tinyflow.ones(1, 2)).sum()).backward()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="gradients are already unscaled"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="GradScaler.step: already called for this optimizer"):
        scaler.step(opt)
    scaler.update()
    assert scaler.get_scale() == 16.0
    other = tinyflow.amp.GradScaler()
    other.load_state_dict(scaler.state_dict())
    assert other.state_dict() == scaler.state_dict()
    off = tinyflow.amp.GradScaler(enabled=False)
    loss = model(tinyflow.ones(1, 2)).sum()
    assert off.scale(loss) is loss and off.get_scale() == 1.0


def test_grad_scaler_update_without_a_step_is_refused_as_torchs():
    for lib, says in ((tinyflow, r"no step\(\) or unscale_\(\) ran since the last update"),
                      (torch, "No inf checks were recorded")):
        scaler = lib.amp.GradScaler("cpu")
        scaler.scale(lib.ones(2, requires_grad=True).sum()).backward()
        with pytest.raises(AssertionError, match=says):
            scaler.update()


def test_a_compiled_step_sees_the_scale_update_sets():
    """The scale is a tensor the compiled graph reads, not a constant of its first trace."""
    w = tinyflow.tensor([1.0, 2.0], requires_grad=True)
    scaler = tinyflow.amp.GradScaler("cpu", init_scale=4.0)

    @tinyflow.compile
    def scaled_grad(x):
        scaler.scale((w * x).sum()).backward()
        g = w.grad * 1.0
        w.grad = None
        return g

    x = tinyflow.tensor([1.0, 1.0])
    assert scaled_grad(x).tolist() == [4.0, 4.0]
    scaler.update(new_scale=1024.0)
    assert scaled_grad(x).tolist() == [1024.0, 1024.0]
    assert scaled_grad.stats.compiles == 1


# ---- fp8 ---------------------------------------------------------------------------------

def test_fake_quantize_rounds_with_a_per_tensor_scale():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(1000).astype(np.float32) * 1e-3   # far below e4m3's range
    out = tinyflow.ops.fake_quantize(tinyflow.tensor(x), tinyflow.float8_e4m3fn).numpy()
    scale = 448.0 / np.abs(x).max()
    want = (x * scale).astype(ml_dtypes.float8_e4m3fn).astype(np.float32) / scale
    np.testing.assert_array_equal(out, want)
    assert len(np.unique(out)) > 100            # the scale keeps the values apart
    assert np.abs(out - x).max() <= np.abs(x).max() * 2.0 ** -4


def test_fake_quantize_gradients_straight_through_and_rounded():
    x = tinyflow.tensor(np.linspace(-1, 1, 50).astype(np.float32), requires_grad=True)
    g = np.random.default_rng(1).standard_normal(50).astype(np.float32)
    (tinyflow.ops.fake_quantize(x, tinyflow.float8_e4m3fn) * tinyflow.tensor(g)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), g)          # straight through
    x.grad = None
    (tinyflow.ops.fake_quantize(x, None, tinyflow.float8_e5m2) * tinyflow.tensor(g)).sum() \
        .backward()
    scale = 57344.0 / np.abs(g).max()
    want = (g * scale).astype(ml_dtypes.float8_e5m2).astype(np.float32) / scale
    np.testing.assert_array_equal(x.grad.numpy(), want)       # the gradient rounded to e5m2


def test_linear_under_fp8_autocast_is_close_to_float32():
    model = _mlp(tinyflow)
    x = _inputs(tinyflow)["x"]
    reference = model(x)
    _F(tinyflow).cross_entropy(reference, tinyflow.tensor([0, 1, 2, 0])).backward()
    ref_grad = model[0].weight.grad.numpy().copy()
    model.zero_grad()
    with tinyflow.fp8_autocast(fp8_recipe=tinyflow.Fp8Recipe()):
        out = model(x)
    _F(tinyflow).cross_entropy(out, tinyflow.tensor([0, 1, 2, 0])).backward()
    assert out.dtype is tf.float32
    assert not np.array_equal(out.detach().numpy(), reference.detach().numpy())
    scale = float(np.abs(reference.detach().numpy()).max())
    np.testing.assert_allclose(out.detach().numpy(), reference.detach().numpy(), atol=0.1 * scale)
    np.testing.assert_allclose(model[0].weight.grad.numpy(), ref_grad,
                               atol=0.15 * float(np.abs(ref_grad).max()))


# ---- the planned runtime under autocast ------------------------------------------------

def _autocast_mlp(planned: bool, autocast: bool = True):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, 20])
        labels = tf.placeholder(tf.int64, [None])
        rng = np.random.default_rng(0)
        params = [tf.Variable(rng.standard_normal(s).astype(np.float32) * 0.3)
                  for s in ((32, 20), (32,), (5, 32), (5,))]
        with tinyflow.autocast("cpu", dtype=tf.bfloat16, enabled=autocast):
            h = _F(tinyflow).relu(_F(tinyflow).linear(x, params[0], params[1]))
            loss = _F(tinyflow).cross_entropy(_F(tinyflow).linear(h, params[2], params[3]),
                                              labels)
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        sess = tf.Session(graph=graph, planned=planned)
        sess.run(tf.global_variables_initializer())
    feed = {x: rng.standard_normal((64, 20)).astype(np.float32),
            labels: rng.integers(0, 5, 64)}
    return sess, train, loss, params, feed


def test_planned_autocast_step_fuses_updates_and_equals_the_reference_loop():
    """The weight updates of bf16 products run blocked (fused_update), bit for bit as the
    reference loop's cast-then-subtract; activations are planned in bfloat16."""
    runs = {planned: _autocast_mlp(planned) for planned in (True, False)}
    for planned, (sess, train, loss, params, feed) in runs.items():
        for _ in range(3):
            sess.run(train, feed)
    (s1, t1, l1, p1, f1), (s2, t2, l2, p2, f2) = runs[True], runs[False]
    for a, b in zip(s1.run(p1), s2.run(p2)):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, b)
    kernels = s1.make_plan([t1], list(f1)).kernels(list(f1.values()))
    assert kernels.count("fused_update") == 2 and "relu" in kernels
    low = s1.make_plan([t1], list(f1)).memory(list(f1.values())).peak_bytes
    sess, train, _, _, feed = _autocast_mlp(True, autocast=False)
    assert low < sess.make_plan([train], list(feed)).memory(list(feed.values())).peak_bytes


def test_delayed_scaling_uses_the_history_and_saturates():
    history = tinyflow.core.modes.AmaxHistory(2)
    e4m3 = tinyflow.float8_e4m3fn
    x = np.linspace(-1, 1, 101).astype(np.float32)

    def step(values):
        return tinyflow.ops.fake_quantize(tinyflow.tensor(values), e4m3,
                                          history=history).numpy()

    np.testing.assert_array_equal(step(x), tinyflow.ops.fake_quantize(
        tinyflow.tensor(x), e4m3).numpy())                  # no history yet: current amax
    doubled = step(2 * x)                                   # scaled for amax 1: saturates
    assert np.abs(doubled).max() == 1.0 and list(history.amaxes) == [1.0, 2.0]
    small = step(0.1 * x)                                   # the history's max (2) scales
    want = (0.1 * x * 224.0).astype(ml_dtypes.float8_e4m3fn).astype(np.float32) / 224.0
    np.testing.assert_array_equal(small, want)
    assert list(history.amaxes) == [2.0, np.float32(0.1)]   # the oldest dropped


def test_linear_with_delayed_fp8_scaling_keeps_a_history_per_layer():
    model = _mlp(tinyflow)
    x, y = _inputs(tinyflow)["x"], tinyflow.tensor([0, 1, 2, 0])
    recipe = tinyflow.Fp8Recipe(amax_history_len=4)
    for _ in range(3):
        with tinyflow.fp8_autocast(fp8_recipe=recipe):
            loss = _F(tinyflow).cross_entropy(model(x), y)
        loss.backward()
    histories = recipe.histories_of(model[0].weight)
    assert [len(h.amaxes) for h in histories] == [3, 3, 3]
    assert histories is not recipe.histories_of(model[3].weight)
    assert np.isfinite(model[0].weight.grad.numpy()).all()


def test_a_compiled_fp8_step_keeps_each_recipes_own_histories():
    """Two recipes with equal settings are two recipes: a compiled graph built under one
    must not update the other's amax histories."""
    from tinyflow.core.modes import Fp8Recipe
    lin = tinyflow.nn.Linear(4, 3)
    x = tinyflow.ones(2, 4)
    step = tinyflow.compile(lambda x: lin(x).sum())
    first, second = Fp8Recipe(amax_history_len=4), Fp8Recipe(amax_history_len=4)
    with tinyflow.fp8_autocast(fp8_recipe=first):
        step(x)
    with tinyflow.fp8_autocast(fp8_recipe=second):
        step(x)
        step(x)
    assert [len(h.amaxes) for h in first.histories_of(lin.weight)] == [1, 1, 0]
    assert [len(h.amaxes) for h in second.histories_of(lin.weight)] == [2, 2, 0]
