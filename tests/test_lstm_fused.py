"""nn.LSTM's fused, hidden-major path (ops/rnn.py) against torch.nn.LSTM: outputs and every
gradient (input, parameters, initial state), time-major and batch-first, the loss reading
the whole output, only h_n, or c_n too; several layers, both directions; float32 and
float64 (the Numba cells) and float16 (the NumPy passes)."""
import numpy as np
import pytest
import torch

import tinyflow as tf
from tinyflow import nn

CASES = [  # (steps, batch, features, hidden, layers, bidirectional, batch_first, state, uses)
    (6, 4, 5, 7, 1, False, False, False, "output"),
    (6, 4, 5, 7, 1, False, False, False, "h_n"),
    (5, 3, 4, 6, 1, False, True, True, "output"),
    (5, 3, 4, 6, 2, False, False, True, "all"),
    (4, 2, 3, 5, 2, True, False, True, "all"),
    (4, 2, 3, 5, 2, True, True, False, "h_n"),
    (3, 1, 2, 3, 1, False, False, True, "c_n"),
    (1, 5, 3, 4, 1, False, True, False, "all"),
]


def _loss(lib, output, h_n, c_n, weights, uses):
    w_out, w_h, w_c = (lib.tensor(w) for w in weights)
    terms = {"output": [output * w_out], "h_n": [h_n[-1] * w_h[-1]], "c_n": [c_n * w_c],
             "all": [output * w_out, h_n * w_h, c_n * w_c]}[uses]
    return sum(t.sum() for t in terms)


def run(lib, module, x, state, weights, uses):
    """(output, h_n, c_n) and the gradients of x, the initial state and the parameters."""
    x = lib.tensor(x, requires_grad=True)
    state = None if state is None else tuple(lib.tensor(s, requires_grad=True) for s in state)
    output, (h_n, c_n) = module(x) if state is None else module(x, state)
    _loss(lib, output, h_n, c_n, weights, uses).backward()
    grads = [x.grad] + ([] if state is None else [s.grad for s in state])
    grads += [p.grad for _, p in module.named_parameters()]
    return [t.detach().numpy() for t in (output, h_n, c_n)], [
        None if g is None else g.numpy() for g in grads]


def models(dtype, features, hidden, layers, bidirectional, batch_first):
    """torch.nn.LSTM and tinyflow's nn.LSTM with the same parameters."""
    reference = torch.nn.LSTM(features, hidden, layers, bidirectional=bidirectional,
                              batch_first=batch_first).to(
        {np.float32: torch.float32, np.float64: torch.float64}[dtype])
    ours = nn.LSTM(features, hidden, layers, bidirectional=bidirectional,
                   batch_first=batch_first, dtype=tf.as_dtype(dtype))
    ours.load_state_dict({k: tf.tensor(v.detach().numpy())
                          for k, v in reference.state_dict().items()})
    return reference, ours


def inputs(rng, dtype, steps, batch, features, hidden, layers, bidirectional, batch_first,
           state):
    """x, the initial state (or None) and the loss's weights on output, h_n and c_n."""
    directions = 2 if bidirectional else 1
    x = rng.standard_normal((batch, steps, features) if batch_first else
                            (steps, batch, features)).astype(dtype)
    h0 = rng.standard_normal((2, layers * directions, batch, hidden)).astype(dtype)
    out_shape = (batch, steps, directions * hidden) if batch_first else (
        steps, batch, directions * hidden)
    weights = [rng.standard_normal(s).astype(dtype)
               for s in (out_shape, h0.shape[1:], h0.shape[1:])]
    return x, (tuple(h0) if state else None), weights


@pytest.mark.parametrize("dtype, tol", [(np.float32, 2e-5), (np.float64, 1e-10)])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c)))
def test_matches_torch(case, dtype, tol):
    steps, batch, features, hidden, layers, bidirectional, batch_first, state, uses = case
    reference, ours = models(dtype, features, hidden, layers, bidirectional, batch_first)
    x, init, weights = inputs(np.random.default_rng(0), dtype, *case[:-1])
    want_values, want_grads = run(torch, reference, x, init, weights, uses)
    got_values, got_grads = run(tf, ours, x, init, weights, uses)
    for name, got, want in zip(("output", "h_n", "c_n"), got_values, want_values):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=name)
    assert len(got_grads) == len(want_grads)
    for k, (got, want) in enumerate(zip(got_grads, want_grads)):
        if want is None or not np.any(want):
            assert got is None or not np.any(got), f"gradient {k} should be zero"
            continue
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"gradient {k}")


def test_float16_takes_the_numpy_passes():
    """float16 runs the NumPy cell (the Numba cells take float32 and float64): the same
    values and gradients as float64, to float16 precision."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 3, 4))
    wide = nn.LSTM(4, 6, dtype=tf.float64)
    narrow = nn.LSTM(4, 6, dtype=tf.float16)
    narrow.load_state_dict({k: tf.tensor(v.numpy().astype(np.float16))
                            for k, v in wide.state_dict().items()})
    results = []
    for lstm in (wide, narrow):
        xt = tf.tensor(x.astype(lstm.weight_hh_l0.dtype.np), requires_grad=True)
        output, (h_n, c_n) = lstm(xt)
        (output.sum() + c_n.sum()).backward()
        results.append([a.astype(np.float64) for a in (
            output.detach().numpy(), xt.grad.numpy(), lstm.weight_hh_l0.grad.numpy())])
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got, want, rtol=2e-2, atol=2e-2)


def test_gate_planes_carry_no_gradient():
    """The packed output's gate planes are a workspace (ops/rnn.py): a loss reading them
    gives the inputs no gradient through them, in reverse mode as in forward mode."""
    rng = np.random.default_rng(2)
    xw = tf.tensor(rng.standard_normal((8, 6)).astype(np.float32), requires_grad=True)
    h0, c0 = (tf.tensor(rng.standard_normal((2, 2)).astype(np.float32)) for _ in range(2))
    w = tf.tensor(rng.standard_normal((8, 2)).astype(np.float32))
    packed = tf.ops.lstm(xw, h0, c0, w, tf.zeros([8]))
    assert packed.shape == (4, 6, 2, 2)
    packed[:, 2:].sum().backward()
    assert xw.grad is None or not np.any(xw.grad.numpy())


SLICES = [(-1, 0), (slice(1, None), 0), (-1, -6), (slice(None), slice(None, 2)),
          (slice(2, 4), 1, slice(0, 1)), (slice(None), slice(1, 3)), (Ellipsis, 0),
          (slice(None), slice(-6, -4))]


@pytest.mark.parametrize("index", SLICES, ids=str)
def test_sliced_adjoint_matches_the_dense_one(index):
    """The backward built from the getitems of the packed output alone (`sliced_adjoint`:
    the h and c planes' adjoint, nothing zero-filled at the packed size) gives the gradients
    of the same loss read through a mask of the whole output (a dense adjoint); an index
    that may reach a gate plane takes the dense way, and so does a mix of both."""
    rng = np.random.default_rng(3)
    args = [rng.standard_normal(s) for s in ((8, 6), (2, 2), (2, 2), (8, 2), (8,))]

    def grads(loss_of):
        xs = [tf.tensor(a, requires_grad=True) for a in args]
        loss_of(tf.ops.lstm(*xs)).backward()
        return [x.grad.numpy() for x in xs]

    mask = np.zeros((4, 6, 2, 2))
    mask[index] = 1
    mask[:, 2:] = 0           # the gate planes carry no gradient either way
    weight = rng.standard_normal(mask.shape)
    want = grads(lambda p: (p * tf.tensor(mask * weight)).sum())
    got = grads(lambda p: (p[index] * tf.tensor(weight[index])).sum())
    mixed = grads(lambda p: (p[index] * tf.tensor(weight[index])).sum() + (p * 0).sum())
    for g, m, w in zip(got, mixed, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(m, w, rtol=1e-12, atol=1e-12)


def test_state_plane_indices():
    """Which getitems of the packed output the sliced adjoint takes, rewritten for the
    [T + 1, 2, H, B] h and c planes, and which go the dense way (None)."""
    from tinyflow.ops.rnn import _in_state_planes
    assert _in_state_planes((-1, 0)) == (-1, 0)
    assert _in_state_planes((-1, np.int64(-5))) == (-1, 1)
    assert _in_state_planes((slice(None), slice(-6, -4), 0)) == (slice(None), slice(0, 2), 0)
    for index in [(slice(None), slice(1, 3)), (slice(None), 2), (slice(None), slice(None)),
                  (Ellipsis, 0), (None, 0), (slice(None), True), (0,),
                  (slice(None), slice(None, 2, 2)), (slice(None), slice(1, 1))]:
        assert _in_state_planes(index) is None, index


class _LanguageModel:
    """word_language_model's shape, in either library: embedding, a 2-layer recurrence (LSTM
    fused, GRU unrolled), a decoder; trained by SGD with clipped gradients."""

    def __init__(self, lib, kind, state):
        self.lib = lib
        self.encoder = lib.nn.Embedding(20, 6)
        self.rnn = getattr(lib.nn, kind)(6, 8, 2, dropout=0.0)
        self.decoder = lib.nn.Linear(8, 20)
        self.params = [p for m in (self.encoder, self.rnn, self.decoder)
                       for p in m.parameters()]
        names = [f"{m}.{n}" for m, mod in (("e", self.encoder), ("r", self.rnn),
                                            ("d", self.decoder))
                 for n, _ in mod.named_parameters()]
        with lib.no_grad():
            for name, p in zip(names, self.params):
                p.copy_(lib.tensor(state[name]))

    def losses(self, tokens, targets, steps):
        lib, out = self.lib, []
        opt = lib.optim.SGD(self.params, lr=0.5)
        for _ in range(steps):
            opt.zero_grad()
            h, _ = self.rnn(self.encoder(lib.tensor(tokens)))
            logits = self.decoder(h).reshape(-1, 20)
            loss = lib.nn.functional.cross_entropy(logits, lib.tensor(targets).reshape(-1))
            loss.backward()
            lib.nn.utils.clip_grad_norm_(self.params, 0.25)
            opt.step()
            out.append(float(loss.item()))
        return out


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_language_model_trains_as_torch(kind):
    """From the same weights, a few training steps give torch's losses (float32)."""
    rng = np.random.default_rng(0)
    reference = torch.nn.ModuleDict({"e": torch.nn.Embedding(20, 6),
                                     "r": getattr(torch.nn, kind)(6, 8, 2),
                                     "d": torch.nn.Linear(8, 20)})
    state = {k: rng.uniform(-0.3, 0.3, v.shape).astype(np.float32)
             for k, v in reference.state_dict().items()}
    tokens, targets = rng.integers(0, 20, (2, 7, 3))     # [T, B] each
    with torch.backends.mkldnn.flags(enabled=False):      # oneDNN: seconds of JIT per shape
        want = _LanguageModel(torch, kind, state).losses(tokens, targets, 4)
    got = _LanguageModel(tf, kind, state).losses(tokens, targets, 4)
    assert want[-1] < want[0]
    np.testing.assert_allclose(got, want, rtol=2e-5)


@pytest.mark.parametrize("dtype, tol", [(np.float32, 2e-5), (np.float64, 1e-10)])
@pytest.mark.parametrize("frozen", ["weight_hh", "bias", "weight_ih"])
def test_frozen_parameters_match_torch(frozen, dtype, tol):
    """The bias gradient rides on w_hh's product as a column (ops/rnn.py): with w_hh frozen
    it is a sum of its own, with the biases frozen w_hh's product has no extra column; every
    gradient still matches torch, and the frozen ones stay None."""
    case = (5, 3, 4, 6, 2, True, False, True)
    reference, ours = models(dtype, *case[2:7])
    for module in (reference, ours):
        for name, p in module.named_parameters():
            p.requires_grad_(not name.startswith(frozen))
    x, init, weights = inputs(np.random.default_rng(1), dtype, *case)
    want_values, want_grads = run(torch, reference, x, init, weights, "all")
    got_values, got_grads = run(tf, ours, x, init, weights, "all")
    for got, want in zip(got_values, want_values):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    assert [g is None for g in got_grads] == [g is None for g in want_grads]
    assert sum(g is None for g in got_grads) == (8 if frozen == "bias" else 4)
    for got, want in zip(got_grads, want_grads):
        if want is not None:
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("slots", [1, 2, 4])
@pytest.mark.parametrize("planes", [1, 2])
def test_lstm_grad_of_the_last_slots(dtype, slots, planes):
    """LstmGrad given the adjoint of the last k slots only (h_n alone: k = 1), and of the h
    planes alone, gives what it gives for that adjoint zero-padded to every slot and plane:
    the Numba loops (float32, float64) and the NumPy passes (float16)."""
    from tinyflow.core.op import apply
    from tinyflow.ops.rnn import LstmGrad
    rng = np.random.default_rng(4)
    args = [rng.standard_normal(s).astype(dtype) for s in ((8, 6), (2, 2), (2, 2), (8, 2),
                                                           (8,))]
    out = tf.ops.lstm(*(tf.tensor(a) for a in args))
    g = rng.standard_normal((4, 2, 2, 2)).astype(dtype)
    g[:4 - slots] = 0
    g[:, planes:] = 0
    w = tf.tensor(args[3])
    want = apply(LstmGrad(hidden=2), tf.tensor(g), out, w).numpy()
    got = apply(LstmGrad(hidden=2), tf.tensor(g[4 - slots:, :planes].copy()), out,
                w).numpy()
    np.testing.assert_array_equal(got, want)


def test_lstm_grad_refuses_more_slots_than_out():
    from tinyflow.core.op import apply
    from tinyflow.ops.rnn import LstmGrad
    out = tf.ops.lstm(tf.zeros([8, 6]), tf.zeros([2, 2]), tf.zeros([2, 2]), tf.zeros([8, 2]),
                      tf.zeros([8]))
    with pytest.raises(ValueError, match="last slots"):
        apply(LstmGrad(hidden=2), tf.zeros([5, 2, 2, 2]), out, tf.zeros([8, 2]))
    with pytest.raises(ValueError, match="h's alone"):
        apply(LstmGrad(hidden=2), tf.zeros([4, 3, 2, 2]), out, tf.zeros([8, 2]))


def test_first_slot_read():
    """The first slot the getitems of the packed output read, and their indices rebased to
    it; a backward step or unknown slots keep every slot."""
    from tinyflow.ops.rnn import _first_slot, _rebased
    assert _first_slot([(-1, 0)], 51) == 50
    assert _first_slot([(-1, 0), (slice(1, None), 0)], 51) == 1
    assert _first_slot([(slice(2, 4), 1)], 51) == 2
    assert _first_slot([(slice(None, None, -1), 0)], 51) == 0
    assert _first_slot([(-1, 0)], None) == 0
    assert _rebased(-1, 50, 51) == 0
    assert _rebased(slice(2, 4), 2, 51) == slice(0, 2, 1)
    assert _rebased(slice(1, None), 0, 51) == slice(1, None)


def test_h_n_alone_through_hooks_retain_grad_and_create_graph():
    """A loss on h_n alone (the last slot's adjoint only, `_first_slot`): a hook on h_n,
    its retained gradient and a backward with create_graph give torch's gradients."""
    rng = np.random.default_rng(5)
    reference, ours = models(np.float64, 3, 4, 1, False, False)
    x = rng.standard_normal((5, 2, 3))
    results = []
    for lib, module, create_graph in ((torch, reference, False), (tf, ours, False),
                                      (tf, ours, True)):
        module.zero_grad()
        xt = lib.tensor(x, requires_grad=True)
        _, (h_n, _) = module(xt)
        h_n.retain_grad()
        seen = []
        h_n.register_hook(lambda g: seen.append(g.detach().numpy().copy()) or g * 2)
        (h_n * h_n).sum().backward(create_graph=create_graph)
        results.append([seen[0], h_n.grad.detach().numpy(), xt.grad.detach().numpy(),
                        module.weight_hh_l0.grad.detach().numpy()])
    for got in results[1:]:
        for g, w in zip(got, results[0]):
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
