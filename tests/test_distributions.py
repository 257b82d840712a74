"""torch.distributions: log_prob, entropy, kl_divergence and their gradients equal torch's in
float64; samples have the right shapes and statistics."""
import numpy as np
import pytest
import torch as pt

import tinyflow

RNG = np.random.default_rng(0)
LOC, SCALE = RNG.standard_normal((3, 4)), RNG.uniform(0.5, 2.0, (3, 4))
LOC2, SCALE2 = RNG.standard_normal((3, 4)), RNG.uniform(0.5, 2.0, (3, 4))
PROBS, PROBS2 = RNG.uniform(0.05, 0.95, (3, 4)), RNG.uniform(0.05, 0.95, (3, 4))
LOGITS, LOGITS2 = RNG.standard_normal((3, 5)), RNG.standard_normal((3, 5))
LOW, HIGH = RNG.uniform(-2, -1, (3, 4)), RNG.uniform(1, 2, (3, 4))
VALUE01 = (RNG.uniform(size=(3, 4)) < 0.5).astype(np.float64)
VALUE = RNG.uniform(-1.5, 1.5, (3, 4))


def _params(L, arrays):
    return [L.tensor(a, requires_grad=True) for a in arrays]


CASES = {   # name: (parameter arrays, build(L, D, params) -> value to compare)
    "normal_log_prob": ([LOC, SCALE], lambda L, D, p: D.Normal(*p).log_prob(L.tensor(VALUE))),
    "bernoulli_log_prob_probs": ([PROBS], lambda L, D, p: D.Bernoulli(p[0]).log_prob(
        L.tensor(VALUE01))),
    "bernoulli_log_prob_logits": ([LOC], lambda L, D, p: D.Bernoulli(logits=p[0]).log_prob(
        L.tensor(VALUE01))),
    "bernoulli_entropy": ([PROBS], lambda L, D, p: D.Bernoulli(p[0]).entropy()),
    "uniform_log_prob": ([LOW, HIGH], lambda L, D, p: D.Uniform(*p).log_prob(
        L.tensor(np.clip(VALUE, -0.9, 0.9)))),
    "uniform_entropy": ([LOW, HIGH], lambda L, D, p: D.Uniform(*p).entropy()),
    "independent_normal_log_prob": ([LOC, SCALE], lambda L, D, p: D.Independent(
        D.Normal(*p), 1).log_prob(L.tensor(VALUE))),
    "independent_normal_entropy": ([LOC, SCALE], lambda L, D, p: D.Independent(
        D.Normal(*p), 2).entropy()),
    "kl_normal": ([LOC, SCALE, LOC2, SCALE2], lambda L, D, p: D.kl_divergence(
        D.Normal(p[0], p[1]), D.Normal(p[2], p[3]))),
    "kl_categorical": ([LOGITS, LOGITS2], lambda L, D, p: D.kl_divergence(
        D.Categorical(logits=p[0]), D.Categorical(logits=p[1]))),
    "kl_bernoulli": ([PROBS, PROBS2], lambda L, D, p: D.kl_divergence(
        D.Bernoulli(p[0]), D.Bernoulli(p[1]))),
    "kl_uniform": ([LOW, HIGH], lambda L, D, p: D.kl_divergence(
        D.Uniform(p[0] * 0.5, p[1] * 0.5), D.Uniform(p[0], p[1]))),
    "kl_independent": ([LOC, SCALE, LOC2, SCALE2], lambda L, D, p: D.kl_divergence(
        D.Independent(D.Normal(p[0], p[1]), 1), D.Independent(D.Normal(p[2], p[3]), 1))),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients_equal_torchs(name):
    arrays, build = CASES[name]
    ours, theirs = _params(tinyflow, arrays), _params(pt, arrays)
    got = build(tinyflow, tinyflow.distributions, ours)
    want = build(pt, pt.distributions, theirs)
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    weights = RNG.standard_normal(tuple(want.shape))
    (got * tinyflow.tensor(weights)).sum().backward()
    (want * pt.tensor(weights)).sum().backward()
    for a, b in zip(ours, theirs):
        assert (a.grad is None) == (b.grad is None)      # entropy does not read loc
        if b.grad is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_outside_values_and_supports():
    D, TD = tinyflow.distributions, pt.distributions
    u, tu = D.Uniform(0.0, 1.0, validate_args=False), TD.Uniform(0.0, 1.0, validate_args=False)
    for v in (-0.5, 0.0, 0.5, 1.0):
        assert float(u.log_prob(tinyflow.tensor(v))) == float(tu.log_prob(pt.tensor(v)))
    assert float(D.kl_divergence(D.Uniform(0.0, 2.0), D.Uniform(0.0, 1.0))) == np.inf
    assert float(D.kl_divergence(D.Bernoulli(tinyflow.tensor(0.0)),
                                 D.Bernoulli(tinyflow.tensor(0.3)))) == pytest.approx(
        float(TD.kl_divergence(TD.Bernoulli(pt.tensor(0.0)), TD.Bernoulli(pt.tensor(0.3)))))
    with pytest.raises(NotImplementedError, match="no rule for Normal and Bernoulli"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Bernoulli(tinyflow.tensor(0.5)))
    with pytest.raises(ValueError, match="Independent: reinterpreted_batch_ndims"):
        D.Independent(D.Normal(tinyflow.zeros(3), 1.0), 2)


def test_samples_shapes_and_statistics():
    D = tinyflow.distributions
    tinyflow.manual_seed(0)
    b = D.Bernoulli(tinyflow.tensor([0.2, 0.7]))
    draws = b.sample((4000,))
    assert tuple(draws.shape) == (4000, 2) and set(np.unique(draws.numpy())) <= {0.0, 1.0}
    np.testing.assert_allclose(draws.numpy().mean(0), [0.2, 0.7], atol=0.03)
    u = D.Uniform(tinyflow.tensor([1.0]), tinyflow.tensor([3.0], requires_grad=True))
    x = u.rsample((4000,))
    assert x.requires_grad and tuple(x.shape) == (4000, 1)
    assert 1.0 <= x.detach().numpy().min() and x.detach().numpy().max() < 3.0
    np.testing.assert_allclose(x.detach().numpy().mean(), 2.0, atol=0.05)
    ind = D.Independent(D.Normal(tinyflow.zeros(5, 3), 1.0), 1)
    assert (tuple(ind.batch_shape), tuple(ind.event_shape)) == ((5,), (3,))
    assert tuple(ind.sample((2,)).shape) == (2, 5, 3)


def test_register_kl_adds_a_pair():
    D = tinyflow.distributions

    class Wide(D.Normal):
        pass

    @D.register_kl(Wide, D.Normal)
    def _kl(p, q):
        return tinyflow.tensor(7.0)
    assert float(D.kl_divergence(Wide(0.0, 1.0), D.Normal(0.0, 1.0))) == 7.0
    assert float(D.kl_divergence(D.Normal(0.0, 1.0), D.Normal(0.0, 1.0))) == 0.0
