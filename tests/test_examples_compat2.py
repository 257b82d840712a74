"""What other people's PyTorch programs needed, round 2 (issue 14), each checked against
PyTorch as the oracle: pytorch/examples' reinforcement_learning (torch.distributions),
language_translation, time_sequence_prediction, and gaps a reviewer found (torch.Tensor's
dtype, as_tensor, register_hook, bilinear interpolation, pooling indices and unpooling,
avg_pool1d, adaptive max pooling, conv3d, LSTM projections, TF1's int32 constants).
"""
import numpy as np
import pytest
import torch

import tinyflow
from torch_oracle import Given, Ids, X, compare, copy_state, gradcheck, param_pairs, randomize


def both(fn, args, **options):
    """compare() of one function written once for both libraries: fn(lib, *inputs)."""
    return compare(lambda *a: fn(torch, *a), lambda *a: fn(tinyflow, *a), args, **options)


# ---- torch.Tensor, as_tensor -------------------------------------------------------------

@pytest.mark.parametrize("data", [[1, 2], [[True, False]], [[1.5, 2]], (), [0]])
def test_tensor_of_python_data_is_float32_like_torch(data):
    theirs = torch.Tensor(data) if data != () else torch.Tensor()
    ours = tinyflow.Tensor(data) if data != () else tinyflow.Tensor()
    assert ours.dtype is tinyflow.float32 and theirs.dtype is torch.float32
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_tensor_of_sizes_and_of_arrays():
    assert tuple(tinyflow.Tensor(2, 3).shape) == tuple(torch.Tensor(2, 3).shape)
    assert tinyflow.Tensor(np.arange(3.0)).dtype is tinyflow.float64   # arrays keep dtype


def test_as_tensor_shares_arrays_and_converts_like_torch():
    a = np.arange(4.0)
    ours, theirs = tinyflow.as_tensor(a), torch.as_tensor(a)
    a[0] = 7
    assert ours.numpy()[0] == theirs.numpy()[0] == 7
    for data in ([1, 2], [1.0, 2.0], [True]):
        assert tinyflow.as_tensor(data).dtype.name == str(torch.as_tensor(data).dtype)[6:]
    t = tinyflow.tensor([1.0, 2.0])
    assert tinyflow.as_tensor(t) is t
    assert tinyflow.as_tensor(t, dtype=tinyflow.float64).dtype is tinyflow.float64
    assert tinyflow.as_tensor(a, dtype=tinyflow.float32).dtype is tinyflow.float32


# ---- register_hook -----------------------------------------------------------------------

def _hooked(lib, seen):
    w = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
    leaf_handle = w.register_hook(lambda g: g * 10)
    y = w * w
    y.register_hook(lambda g: seen.append(g.detach().numpy().copy()))
    plus_one = y.register_hook(lambda g: g + 1)
    (y * 3 + y.sin()).sum().backward()
    first = w.grad.numpy().copy()
    plus_one.remove()
    leaf_handle.remove()
    w.grad = None
    (w * w * 3).sum().backward()
    return first, w.grad.numpy()


def test_register_hook_sees_and_replaces_gradients_like_torch():
    seen_t, seen_f = [], []
    for a, b in zip(_hooked(torch, seen_t), _hooked(tinyflow, seen_f)):
        np.testing.assert_allclose(b, a, rtol=1e-6)
    assert len(seen_f) == len(seen_t) == 1
    np.testing.assert_allclose(seen_f[0], seen_t[0], rtol=1e-6)


def test_register_hook_under_compile_is_a_graph_break_with_the_eager_result():
    w = tinyflow.tensor([1.0, 2.0], requires_grad=True)

    def loss(w):
        y = w * w
        y.register_hook(lambda g: g * 100)
        return (y * 3).sum()

    with pytest.warns(UserWarning, match="register_hook"):
        tinyflow.compile(loss)(w).backward()
    np.testing.assert_allclose(w.grad.numpy(), [600.0, 1200.0])


def test_register_hook_errors():
    with pytest.raises(RuntimeError, match="register_hook: the tensor does not require grad"):
        tinyflow.ones(2).register_hook(lambda g: g)
    w = tinyflow.ones(2, requires_grad=True)
    w.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match="shape"):
        (w * 2).sum().backward()


# ---- torch.distributions -----------------------------------------------------------------

def _categorical_terms(lib, p, logits, value):
    D = lib.distributions
    by_probs, by_logits = D.Categorical(p), D.Categorical(logits=logits)
    return (by_probs.log_prob(value), by_probs.entropy(), by_logits.log_prob(value),
            by_logits.entropy(), by_logits.probs, by_probs.logits)


def test_categorical_log_prob_entropy_and_gradients_match_torch():
    both(_categorical_terms, [X(4, 3, domain=lambda r, s: r.uniform(0.1, 1, s)), X(4, 3),
                              Ids(3, 4)])
    both(lambda L, p, v: L.distributions.Categorical(p).log_prob(v),   # broadcast samples
         [X(4, 3, domain=lambda r, s: r.uniform(0.1, 1, s)), Ids(3, 2, 4)])


def test_categorical_sample_shapes_and_frequencies():
    tinyflow.manual_seed(0)
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], np.float32)
    ours = tinyflow.distributions.Categorical(tinyflow.tensor(probs))
    theirs = torch.distributions.Categorical(torch.tensor(probs))
    assert tuple(ours.sample().shape) == tuple(theirs.sample().shape) == (2,)
    draws = ours.sample((4000,))
    assert tuple(draws.shape) == (4000, 2) and draws.dtype is tinyflow.int64
    freq = np.stack([np.bincount(draws.numpy()[:, k], minlength=3) / 4000 for k in range(2)])
    np.testing.assert_allclose(freq, probs, atol=0.03)
    assert tuple(ours.batch_shape) == tuple(theirs.batch_shape)
    with pytest.raises(ValueError, match="either `probs` or `logits`"):
        tinyflow.distributions.Categorical()


def test_normal_log_prob_entropy_rsample_match_torch():
    both(lambda L, mu, s, v: (L.distributions.Normal(mu, s).log_prob(v),
                              L.distributions.Normal(mu, s).entropy()),
         [X(3, 2), X(3, 2, domain=lambda r, s: r.uniform(0.5, 2, s)), X(3, 2)])
    n = tinyflow.distributions.Normal(tinyflow.zeros(2, requires_grad=True), tinyflow.ones(2))
    assert tuple(n.rsample((5,)).shape) == (5, 2) and n.rsample().requires_grad
    assert not n.sample().requires_grad


# ---- interpolation, pooling, conv3d ------------------------------------------------------

@pytest.mark.parametrize("shape,mode", [((2, 3, 5, 7), "bilinear"), ((2, 3, 6), "linear"),
                                        ((1, 2, 3, 4, 5), "trilinear")])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("how", [{"scale_factor": 2}, {"scale_factor": 0.6}, {"size": 3}])
def test_linear_interpolation_matches_torch(shape, mode, align_corners, how):
    both(lambda L, x: L.nn.functional.interpolate(x, mode=mode, align_corners=align_corners,
                                                  **how), [X(*shape)])


def test_upsample_bilinear_module():
    both(lambda L, x: L.nn.Upsample(scale_factor=2, mode="bilinear")(x), [X(1, 2, 3, 4)])
    with pytest.raises(NotImplementedError, match="needs a 4D input"):
        tinyflow.nn.functional.interpolate(tinyflow.ones(1, 1, 4), scale_factor=2,
                                           mode="bilinear")


@pytest.mark.parametrize("args", [(2,), (3, 2, 1, 1, True), (2, 1, 0, 2)])
def test_max_pool2d_indices_and_unpool_match_torch(args):
    both(lambda L, x: L.nn.functional.max_pool2d(x, *args, return_indices=True),
         [X(2, 3, 7, 9)])
    both(lambda L, x: L.nn.functional.max_pool1d(x, 3, 2, return_indices=True), [X(3, 7, 9)])


def test_max_unpool2d_matches_torch():
    both(lambda L, x: L.nn.MaxUnpool2d(2)(*L.nn.MaxPool2d(2, return_indices=True)(x)),
         [X(2, 3, 6, 8)])
    both(lambda L, x: L.nn.functional.max_unpool2d(
        *L.nn.functional.max_pool2d(x, 2, return_indices=True), 2, output_size=(7, 9)),
         [X(2, 3, 7, 9)])
    # overlapping windows pick one position twice: written once, each gets its gradient
    both(lambda L, x: L.nn.functional.max_unpool2d(
        *L.nn.functional.max_pool2d(x, 3, 1, 1, return_indices=True), 3, 1, 1),
         [X(2, 3, 5, 6)])
    with pytest.raises(ValueError, match="invalid max index"):
        tinyflow.nn.functional.max_unpool2d(tinyflow.ones(1, 1, 1, 1),
                                            tinyflow.tensor([[[[9]]]]), 2)


def test_avg_pool1d_and_adaptive_max_pool2d_match_torch():
    both(lambda L, x: L.nn.functional.avg_pool1d(x, 3, 2, 1), [X(2, 3, 9)])
    both(lambda L, x: L.nn.AvgPool1d(2, ceil_mode=True, count_include_pad=False)(x), [X(3, 7)])
    both(lambda L, x: L.nn.AdaptiveMaxPool2d((3, 3))(x), [X(2, 3, 6, 9)])
    both(lambda L, x: L.nn.functional.adaptive_max_pool2d(x, 3, return_indices=True),
         [X(2, 3, 6, 9)])
    both(lambda L, x: L.nn.AdaptiveMaxPool2d((4, None))(x), [X(2, 3, 7, 5)])
    both(lambda L, x: L.nn.AdaptiveMaxPool2d((4, 5))(x), [X(3, 7, 9)])


@pytest.mark.parametrize("options", [{}, {"stride": (2, 1, 2), "padding": (1, 2, 0),
                                          "dilation": (2, 1, 1)}])
def test_conv3d_matches_torch(options):
    both(lambda L, x, w, b: L.nn.functional.conv3d(x, w, b, **options),
         [X(2, 3, 5, 6, 7), X(4, 3, 2, 3, 2), X(4)], atol=1e-5)   # float32 sums, other order
    both(lambda L, x, w: L.nn.functional.conv3d(x, w, padding="same", groups=3),
         [X(1, 6, 4, 5, 5), X(6, 2, 3, 2, 3)])


def test_conv3d_module_and_gradcheck():
    ours, theirs = tinyflow.nn.Conv3d(2, 3, 3, padding=1), torch.nn.Conv3d(2, 3, 3, padding=1)
    randomize(theirs, np.random.default_rng(0))
    copy_state(theirs, ours)
    assert repr(ours) == repr(theirs)
    both(lambda L, x: (ours if L is tinyflow else theirs)(x), [X(1, 2, 3, 4, 4)],
         params=param_pairs(theirs, ours))
    rng = np.random.default_rng(1)
    gradcheck(lambda x, w: tinyflow.nn.functional.conv3d(x, w, stride=2, padding=1),
              rng.standard_normal((1, 2, 3, 3, 3)), rng.standard_normal((2, 2, 2, 2, 2)))


# ---- LSTM projections --------------------------------------------------------------------

@pytest.mark.parametrize("options", [{"num_layers": 2, "proj_size": 3},
                                     {"proj_size": 2, "bidirectional": True,
                                      "batch_first": True}])
def test_lstm_proj_size_matches_torch(options):
    theirs, ours = torch.nn.LSTM(5, 6, **options), tinyflow.nn.LSTM(5, 6, **options)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    randomize(theirs, np.random.default_rng(0))
    copy_state(theirs, ours)
    layers = options.get("num_layers", 1) * (2 if options.get("bidirectional") else 1)
    batch = 4
    both(lambda L, x, h, c: (ours if L is tinyflow else theirs)(x, (h, c)),
         [X(4, 4, 5), X(layers, batch, options["proj_size"]), X(layers, batch, 6)],
         params=param_pairs(theirs, ours))
    both(lambda L, x: (ours if L is tinyflow else theirs)(x), [X(4, 4, 5)])
    with pytest.raises(ValueError, match="LSTM: proj_size=4 must be below hidden_size=4"):
        tinyflow.nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="GRU: proj_size is for LSTM only"):
        tinyflow.nn.GRU(3, 4, proj_size=2)


# ---- TF1: Python ints are int32 ----------------------------------------------------------

def test_tf1_int_constants_and_variables_are_int32():
    tf = tinyflow
    assert tf.constant(3).dtype is tf.int32 and tf.constant([1, 2]).dtype is tf.int32
    assert tf.Variable(3).dtype is tf.int32
    assert tf.constant(2 ** 40).dtype is tf.int64 and tf.constant(3, tf.int64).dtype is tf.int64
    assert tf.constant(3.0).dtype is tf.float32 and tf.constant(True).dtype is tf.bool
    with tf.Graph().as_default():
        v = tf.Variable(3)
        step = tf.assign_add(v, 2)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            assert sess.run(step) == 5


def test_concat_of_int32_and_int64_promotes_like_torch_cat():
    """An int32 constant meeting int64 indices: no wrap-around of the int64 values."""
    pairs = [(lib.tensor([1], dtype=lib.int32), lib.tensor([2 ** 40])) for lib in (torch,
                                                                                  tinyflow)]
    for op in ("cat", "stack"):
        theirs, ours = (getattr(lib, op)(pair) for lib, pair in zip((torch, tinyflow), pairs))
        assert ours.dtype.name == str(theirs.dtype)[6:] == "int64"
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    both(lambda L, a, b: L.cat([a, b.double()]), [X(2, 3), X(1, 3)])


# ---- a REINFORCE episode in the reinforcement_learning example's style -------------------

def _reinforce(lib, weights, states, uniforms, gamma=0.99):
    """A policy net picks actions with Categorical (sampled by shared uniforms), the
    discounted returns are normalized, and -log_prob * return is minimized by Adam."""
    policy = lib.nn.Sequential(lib.nn.Linear(4, 16), lib.nn.ReLU(), lib.nn.Linear(16, 2),
                               lib.nn.Softmax(dim=1))
    with lib.no_grad():
        for p, w in zip(policy.parameters(), weights):
            p.copy_(lib.tensor(w))
    optimizer = lib.optim.Adam(policy.parameters(), lr=1e-2)
    losses = []
    for episode in range(3):
        log_probs, rewards = [], []
        for state, u in zip(states[episode], uniforms[episode]):
            m = lib.distributions.Categorical(policy(lib.from_numpy(state).float().unsqueeze(0)))
            action = lib.tensor([int((np.cumsum(m.probs.detach().numpy()) < u).sum())])
            log_probs.append(m.log_prob(action))
            rewards.append(1.0 if action.item() == (state[2] > 0) else 0.0)
        returns, R = [], 0.0
        for r in rewards[::-1]:
            R = r + gamma * R
            returns.insert(0, R)
        returns = lib.tensor(returns)
        returns = (returns - returns.mean()) / (returns.std() + 1e-7)
        loss = lib.cat([-lp * R for lp, R in zip(log_probs, returns)]).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, [p.detach().numpy() for p in policy.parameters()]


def test_reinforce_episodes_match_torch():
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal(s).astype(np.float32) * 0.3
               for s in [(16, 4), (16,), (2, 16), (2,)]]
    states = rng.standard_normal((3, 12, 4))
    uniforms = rng.random((3, 12))
    theirs, ours = _reinforce(torch, weights, states, uniforms), \
        _reinforce(tinyflow, weights, states, uniforms)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5, atol=1e-6)
    for a, b in zip(ours[1], theirs[1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_as_tensor_of_an_unsupported_numpy_dtype_names_it():
    with pytest.raises(TypeError, match="unsupported dtype uint16"):
        tinyflow.as_tensor(np.array([1, 2], dtype=np.uint16))
