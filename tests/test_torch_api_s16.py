"""Session 16's PyTorch surface: container methods, ParameterDict, Rprop and ASGD, with
PyTorch as the oracle (float64, values, state_dict layout, errors)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinyflow  # noqa: E402
from tinyflow import nn, optim  # noqa: E402


# ---- containers --------------------------------------------------------------------------

def _layers(L):
    return [L.nn.Linear(2, 2), L.nn.ReLU(), L.nn.Linear(2, 3), L.nn.Tanh()]


@pytest.mark.parametrize("container", ["Sequential", "ModuleList"])
def test_pop_returns_the_module_and_renumbers_the_rest(container):
    keys, kinds = [], []
    for L in (torch, tinyflow):
        layers = _layers(L)
        c = getattr(L.nn, container)(*layers) if container == "Sequential" \
            else L.nn.ModuleList(layers)
        popped = c.pop(1)
        assert popped is layers[1]
        assert c.pop(-1) is layers[3]
        keys.append(list(c.state_dict()))
        kinds.append([type(m).__name__ for m in c])
    assert keys[0] == keys[1] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    assert kinds[0] == kinds[1]
    with pytest.raises(IndexError):
        nn.ModuleList([nn.ReLU()]).pop(3)


@pytest.mark.parametrize("container", ["Sequential", "ModuleList", "ParameterList"])
def test_an_index_out_of_range_names_the_container_and_the_index(container):
    with pytest.raises(IndexError):
        getattr(torch.nn, container)().pop(0) if container != "ParameterList" \
            else torch.nn.ParameterList()[0]
    empty = getattr(nn, container)()
    with pytest.raises(IndexError, match=f"{container}: index 0 is out of range for 0"):
        empty.pop(0) if container != "ParameterList" else empty[0]
    full = getattr(nn, container)(*[nn.ReLU()] * 2) if container == "Sequential" \
        else getattr(nn, container)([nn.ReLU(), nn.Tanh()] if container == "ModuleList"
                                    else [tinyflow.ones(1)] * 2)
    with pytest.raises(IndexError, match=f"{container}: index -3 is out of range for 2"):
        full[-3]


def test_sequential_insert_append_extend_match_pytorch():
    names = []
    for L in (torch, tinyflow):
        s = L.nn.Sequential(L.nn.Linear(2, 2))
        s.append(L.nn.ReLU()).extend([L.nn.Linear(2, 1)])
        s.insert(-1, L.nn.Tanh())
        s.insert(0, L.nn.Identity())
        names.append([type(m).__name__ for m in s] + list(s.state_dict()))
    assert names[0] == names[1]
    with pytest.raises(IndexError, match="Sequential.insert: index 5"):
        nn.Sequential(nn.ReLU()).insert(5, nn.ReLU())


def test_parameter_dict_keys_order_and_training():
    w = np.arange(6.0).reshape(2, 3)
    got = []
    for L in (torch, tinyflow):
        d = L.nn.ParameterDict({"b": L.nn.Parameter(L.tensor(w)), "a": L.tensor(w[0])})
        d["c"] = L.nn.Parameter(L.ones(2, dtype=L.float64))
        d.update([("z", L.zeros(1, dtype=L.float64))])
        assert isinstance(d["a"], L.nn.Parameter) and d["a"].requires_grad
        assert "c" in d and len(d) == 4 and d.get("missing") is None
        m = L.nn.Module()
        m.p = d
        assert len(list(m.parameters())) == 4
        (d["b"].sum() * 2 + d["a"].pow(2).sum()).backward()
        popped = d.pop("z")
        got.append((list(m.state_dict()), list(d.keys()), d["a"].grad.numpy(),
                    tuple(popped.shape)))
    assert got[0][0] == got[1][0] == ["p.a", "p.b", "p.c"]   # a plain dict's keys sorted
    assert got[0][1] == got[1][1]
    np.testing.assert_allclose(got[1][2], got[0][2])
    assert got[0][3] == got[1][3]


def test_parameter_dict_merges_with_or_as_pytorchs():
    got = []
    for L in (torch, tinyflow):
        a, b, c = (L.nn.Parameter(L.ones(1)) for _ in range(3))
        d = L.nn.ParameterDict({"x": a, "y": b})
        merged = d | {"z": c, "x": b}
        assert type(merged) is L.nn.ParameterDict and merged["x"] is b and d["x"] is a
        left = {"y": c, "w": a} | d
        assert type(left) is dict and left["y"] is b
        d |= {"z": c}
        assert d["z"] is c
        got.append((list(merged), list(left), list(d)))
    assert got[0] == got[1]


def test_parameter_dict_loads_a_pytorch_state_dict_and_refuses_bad_values():
    ref = torch.nn.ParameterDict({"w": torch.nn.Parameter(torch.randn(2, 2))})
    ours = nn.ParameterDict({"w": nn.Parameter(tinyflow.zeros(2, 2))})
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    np.testing.assert_array_equal(ours["w"].detach().numpy(), ref["w"].detach().numpy())
    with pytest.raises(TypeError, match=r"ParameterDict\['x'\]: a list is not a tensor"):
        ours["x"] = [1.0]
    with pytest.raises(TypeError, match="keys are strings"):
        ours[3] = tinyflow.ones(1)
    with pytest.raises(KeyError):
        ours["a.b"] = tinyflow.ones(1)


def test_parameter_list_setitem_extend_and_slices():
    shapes = []
    for L in (torch, tinyflow):
        pl = L.nn.ParameterList([L.ones(2)])
        pl += [L.zeros(3)]
        pl.extend([L.nn.Parameter(L.ones(1))])
        pl[0] = L.full((4,), 2.0)
        assert isinstance(pl[0], L.nn.Parameter)
        assert isinstance(pl[1:], L.nn.ParameterList) and len(pl[1:]) == 2
        shapes.append([tuple(p.shape) for p in pl] + list(pl.state_dict()))
    assert shapes[0] == shapes[1]


# ---- optimizers --------------------------------------------------------------------------

def _train(L, name, options, steps=8):
    """A float64 problem whose gradients change sign now and then (Rprop's case)."""
    rng = np.random.default_rng(0)
    w = L.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = L.tensor(rng.standard_normal(4), requires_grad=True)
    opt = getattr(L.optim, name)([w, b], **options)
    for step in range(steps):
        opt.zero_grad()
        loss = ((w * w).sum() * 0.5 + (w.sum() - 1.0) ** 2 * (step % 3 - 1)
                + (b * w).sum() + (b ** 3).sum())
        loss.backward()
        opt.step()
    return [w.detach().numpy(), b.detach().numpy()], opt.state_dict()


NEW_OPTIMIZERS = [
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.1, etas=(0.3, 1.5), step_sizes=(0.01, 0.2), maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=3, weight_decay=0.1)),
    ("ASGD", dict(lr=0.02, t0=0, maximize=True)),
    # the older ones, in float64 too (NAdam's float32 momentum product is read back rounded)
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("Adamax", dict(lr=0.05, weight_decay=0.1, maximize=True)),
    ("Adadelta", dict()),
]


@pytest.mark.parametrize("name,options", NEW_OPTIMIZERS,
                         ids=[f"{n}-{o}" for n, o in NEW_OPTIMIZERS])
def test_optimizers_match_pytorch_in_float64(name, options):
    ours, our_state = _train(tinyflow, name, options)
    theirs, their_state = _train(torch, name, options)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert our_state["param_groups"] == their_state["param_groups"]
    for i, state in their_state["state"].items():
        assert list(our_state["state"][i]) == list(state)
        for key, value in state.items():
            assert our_state["state"][i][key].dtype.name == str(value.dtype)[6:], key
            np.testing.assert_allclose(our_state["state"][i][key].numpy(), value.numpy(),
                                       rtol=1e-12, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("name,keys", [("ASGD", ["step", "eta", "mu"]),
                                       ("NAdam", ["step", "mu_product"])])
def test_scalar_optimizer_state_is_written_in_place_as_pytorchs(name, keys):
    """Each step writes ASGD's eta and mu and NAdam's momentum product in place: their
    versions move by one per step, as PyTorch's do, and the dtype is PyTorch's."""
    def version(t):
        return t._version if isinstance(t._version, int) else t._version[0]
    moved = []
    for L in (torch, tinyflow):
        w = L.nn.Parameter(L.ones(2, dtype=L.float64))
        opt = getattr(L.optim, name)([w])
        w.grad = L.ones(2, dtype=L.float64)
        opt.step()
        state = opt.state[w]
        before = {k: (version(state[k]), state[k]) for k in keys}
        opt.step()
        moved.append({k: (version(state[k]) - v, state[k] is t, str(state[k].dtype)[-7:])
                      for k, (v, t) in before.items()})
    assert moved[0] == moved[1] == {k: (1, True, "float32") for k in keys}


@pytest.mark.parametrize("name", ["Rprop", "ASGD"])
def test_rprop_and_asgd_resume_from_their_state_dict(name):
    _, saved = _train(tinyflow, name, {}, steps=3)
    rng = np.random.default_rng(1)
    w = tinyflow.tensor(rng.standard_normal(3), requires_grad=True)
    opt = getattr(optim, name)([w, tinyflow.zeros(4, requires_grad=True)])
    opt.load_state_dict({"state": {}, "param_groups": saved["param_groups"]})
    assert opt.param_groups[0]["lr"] == 0.01


def test_rprop_and_asgd_refuse_bad_options():
    w = tinyflow.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match=r"Rprop: etas must satisfy .*\(0.5, 0.9\)"):
        optim.Rprop([w], etas=(0.5, 0.9))
    with pytest.raises(ValueError, match="lr must be >= 0"):
        optim.Rprop([w], lr=-1)
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        optim.ASGD([w], weight_decay=-0.1)


# ---- F.gumbel_softmax --------------------------------------------------------------------

def _noise_of(sample, logits, tau):
    """The Gumbel noise a soft sample was drawn with, up to a constant per row (which
    softmax ignores): tau * log(y) - logits."""
    return tau * np.log(sample) - logits


@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("dim", [-1, 0])
def test_gumbel_softmax_values_and_straight_through_gradient_match_pytorch(hard, dim):
    rng = np.random.default_rng(3)
    x0, tau = rng.standard_normal((4, 5)), 0.7
    weights = rng.standard_normal((4, 5))
    x = tinyflow.tensor(x0, requires_grad=True)
    tinyflow.manual_seed(11)
    soft = tinyflow.nn.functional.gumbel_softmax(x, tau=tau, dim=dim)
    tinyflow.manual_seed(11)       # the same noise again
    out = tinyflow.nn.functional.gumbel_softmax(x, tau=tau, hard=hard, dim=dim)
    (out * tinyflow.tensor(weights)).sum().backward()
    # PyTorch's formula on the same noise
    noise = torch.tensor(_noise_of(soft.detach().numpy(), x0, tau))
    tx = torch.tensor(x0, requires_grad=True)
    ref = ((tx + noise) / tau).softmax(dim)
    if hard:
        index = ref.max(dim, keepdim=True)[1]
        ref = torch.zeros_like(ref).scatter_(dim, index, 1.0) - ref.detach() + ref
    (ref * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    if hard:
        assert set(np.unique(out.detach().numpy())) == {0.0, 1.0}
        np.testing.assert_array_equal(out.detach().numpy().sum(dim), 1.0)


def test_gumbel_softmax_hard_samples_follow_the_softmax():
    """The Gumbel-max trick: argmax(logits + g) is a draw of Categorical(softmax(logits))."""
    logits = np.log(np.array([0.1, 0.2, 0.7]))
    tinyflow.manual_seed(0)
    draws = tinyflow.nn.functional.gumbel_softmax(
        tinyflow.tensor(np.tile(logits, (20000, 1))), tau=0.3, hard=True)
    np.testing.assert_allclose(draws.numpy().mean(0), [0.1, 0.2, 0.7], atol=0.015)


def test_gumbel_softmax_refuses_bad_arguments():
    F = tinyflow.nn.functional
    with pytest.raises(IndexError, match=r"gumbel_softmax: dim 2 is out of range .*\[2, 3\]"):
        F.gumbel_softmax(tinyflow.zeros(2, 3), dim=2)
    with pytest.raises(TypeError, match="gumbel_softmax: logits must be floating point"):
        F.gumbel_softmax(tinyflow.zeros(2, 3, dtype=tinyflow.int64))


@pytest.mark.parametrize("hard", [False, True])
def test_gumbel_softmax_of_a_0d_tensor_is_one_category(hard):
    got = []
    for L in (torch, tinyflow):
        x = L.tensor(0.3, requires_grad=True)
        out = L.nn.functional.gumbel_softmax(x, hard=hard)
        out.backward()
        got.append((out.item(), tuple(out.shape), x.grad.item()))
    assert got[0] == got[1] == (1.0, (), 0.0)


# ---- torch.distributions validate_args ---------------------------------------------------

def _mistakes(L):
    D, t = L.distributions, L.tensor
    return {
        "Normal scale": lambda: D.Normal(t([0.0, 1.0]), t([1.0, -1.0])),
        "Normal loc nan": lambda: D.Normal(t([float("nan")]), t([1.0])),
        "Bernoulli probs": lambda: D.Bernoulli(t([0.2, 1.5])),
        "Bernoulli logits nan": lambda: D.Bernoulli(logits=t([float("nan")])),
        "Categorical probs": lambda: D.Categorical(t([[0.2, -0.1, 0.9]])),
        "Uniform low >= high": lambda: D.Uniform(t([0.0, 2.0]), t([1.0, 1.0])),
        "Normal value nan": lambda: D.Normal(t([0.0]), t([1.0])).log_prob(t([float("nan")])),
        "Normal value float": lambda: D.Normal(t([0.0]), t([1.0])).log_prob(0.5),
        "Normal value shape": lambda: D.Normal(L.zeros(3), L.ones(3)).log_prob(L.zeros(2)),
        "Bernoulli value": lambda: D.Bernoulli(t([0.3])).log_prob(t([0.5])),
        "Categorical value": lambda: D.Categorical(t([0.3, 0.7])).log_prob(t(2)),
        "Categorical value fraction": lambda: D.Categorical(t([0.3, 0.7])).log_prob(t(0.5)),
        "Uniform value": lambda: D.Uniform(0.0, 1.0).log_prob(t(1.5)),
        "Independent value": lambda: D.Independent(D.Bernoulli(t([0.3, 0.2])), 1).log_prob(
            t([0.5, 1.0])),
    }


OUR_WORDS = {
    "Normal scale": r"Normal: parameter scale \(shape \[2\]\) has values outside "
                    r"GreaterThan\(lower_bound=0.0\); the first at index \[1\] is -1.0",
    "Bernoulli logits nan": r"Bernoulli: parameter logits .* outside Real\(\)",
    "Categorical probs": r"Categorical: parameter probs .* outside Simplex\(\)",
    "Uniform low >= high": "Uniform: low must be below high",
    "Normal value float": "Normal.log_prob: value must be a Tensor, got float",
    "Normal value shape": r"value of shape \[2\] does not broadcast with .* \[3\]",
    "Independent value": r"Bernoulli.log_prob: value has entries outside the support",
    "Categorical value": r"Categorical.log_prob: value has entries outside the support "
                         r"IntegerInterval\(lower_bound=0, upper_bound=1\)",
}


@pytest.mark.parametrize("case", list(_mistakes(torch)))
def test_distributions_refuse_what_pytorchs_refuse(case):
    with pytest.raises(ValueError):
        _mistakes(torch)[case]()
    with pytest.raises(ValueError, match=OUR_WORDS.get(case, case.split()[0])):
        _mistakes(tinyflow)[case]()


def test_validation_lets_good_values_and_edges_through_and_can_be_turned_off():
    D, t = tinyflow.distributions, tinyflow.tensor
    masked = D.Categorical(logits=t([[0.2, -float("inf"), 0.9]]))   # a masked action
    assert float(masked.log_prob(t([2]))) == pytest.approx(
        float(torch.distributions.Categorical(logits=torch.tensor([[0.2, -np.inf, 0.9]]))
              .log_prob(torch.tensor([2]))))
    assert float(D.Uniform(0.0, 1.0).log_prob(t(1.0))) == -np.inf    # high: in the support
    assert float(D.Bernoulli(t(0.3)).log_prob(t(1.0))) == pytest.approx(np.log(0.3))
    D.Normal(t([0.0]), t([-1.0]), validate_args=False)
    D.Bernoulli(t([0.3]), validate_args=False).log_prob(t([0.5]))
    D.Distribution.set_default_validate_args(False)
    try:
        D.Normal(t([0.0]), t([-1.0])).log_prob(t([2.0]))
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Normal(t([0.0]), t([-1.0]))
    assert D.constraints.positive.check(t([1.0, 0.0])).tolist() == [True, False]


@pytest.mark.parametrize("value", [2.5, [0.5, 2.5, 1.0]])
def test_a_support_error_finds_the_entry_when_the_parameters_batch_the_value(value):
    """The check's shape is the parameters' batch shape [3], not the value's ()."""
    with pytest.raises(ValueError, match="support"):
        torch.distributions.Uniform(torch.zeros(3), torch.tensor([1., 2., 3.])).log_prob(
            torch.tensor(value))
    d = tinyflow.distributions.Uniform(tinyflow.zeros(3), tinyflow.tensor([1., 2., 3.]))
    first = 0 if np.ndim(value) == 0 else 1
    with pytest.raises(ValueError, match=rf"outside the support .* index \[{first}\] is 2.5"):
        d.log_prob(tinyflow.tensor(value))


# ---- weight_norm: old checkpoints, load_state_dict pre-hooks ----------------------------

def test_an_old_weight_g_weight_v_checkpoint_loads_into_parametrized_weight_norm():
    old = torch.nn.Sequential(torch.nn.utils.weight_norm(torch.nn.Linear(3, 2).double()))
    saved = {k: v.detach().numpy() for k, v in old.state_dict().items()}
    assert "0.weight_g" in saved
    ours = nn.Sequential(nn.utils.parametrizations.weight_norm(nn.Linear(3, 2).double()))
    result = ours.load_state_dict(saved)
    assert not result.missing_keys and not result.unexpected_keys
    assert "0.weight_g" in saved    # the caller's dict is not renamed
    x = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_allclose(ours(tinyflow.tensor(x)).detach().numpy(),
                               old(torch.tensor(x)).detach().numpy(), rtol=1e-12)
    assert list(ours.state_dict()) == ["0.bias", "0.parametrizations.weight.original0",
                                       "0.parametrizations.weight.original1"]


def test_load_state_dict_pre_hooks_get_the_prefix_and_can_be_removed():
    seen = []
    inner = nn.Linear(2, 2)
    outer = nn.Sequential(nn.ReLU(), inner)

    def rename(module, state_dict, prefix, *rest):
        seen.append((module, prefix, len(rest)))
        if prefix + "w" in state_dict:
            state_dict[prefix + "weight"] = state_dict.pop(prefix + "w")

    handle = inner.register_load_state_dict_pre_hook(rename)
    outer.load_state_dict({"1.w": np.ones((2, 2)), "1.bias": np.zeros(2)})
    assert seen == [(inner, "1.", 5)]
    np.testing.assert_array_equal(inner.weight.detach().numpy(), np.ones((2, 2)))
    handle.remove()
    with pytest.raises(RuntimeError, match='keys missing from the state_dict: "1.weight"'):
        outer.load_state_dict({"1.w": np.ones((2, 2)), "1.bias": np.zeros(2)})


def test_what_load_pre_hooks_report_counts_as_pytorchs():
    """A hook's error_msgs raise; its missing and unexpected keys are returned."""
    outcome = []
    for L in (torch, tinyflow):
        m = L.nn.Linear(2, 2)

        def refuse(module, state_dict, prefix, meta, strict, missing, unexpected, errors):
            errors.append("the hook refuses this checkpoint")
        handle = m.register_load_state_dict_pre_hook(refuse)
        with pytest.raises(RuntimeError, match="the hook refuses this checkpoint"):
            m.load_state_dict(m.state_dict())
        handle.remove()

        def report(module, state_dict, prefix, meta, strict, missing, unexpected, errors):
            missing.append(prefix + "old")
            unexpected.append(prefix + "older")
        m.register_load_state_dict_pre_hook(report)
        result = m.load_state_dict(m.state_dict(), strict=False)
        outcome.append((result.missing_keys, result.unexpected_keys))
        with pytest.raises(RuntimeError, match="old"):
            m.load_state_dict(m.state_dict())
    assert outcome[0] == outcome[1] == (["old"], ["older"])


def test_a_shared_submodule_runs_its_load_pre_hook_under_each_prefix():
    seen = []
    for L in (torch, tinyflow):
        shared = L.nn.Linear(2, 2)
        outer = L.nn.Sequential(shared, L.nn.ReLU(), shared)
        prefixes = []
        shared.register_load_state_dict_pre_hook(
            lambda module, sd, prefix, meta, *rest: prefixes.append((prefix, meta)))
        state = outer.state_dict()
        state._metadata = {"": {"version": 1}, "0": {"version": 7}, "2": {"version": 9}}
        outer.load_state_dict(state)
        seen.append(prefixes)
    assert seen[0] == seen[1] == [("0.", {"version": 7}), ("2.", {"version": 9})]


# ---- torch.sum of a 0-d tensor, CTC at impossible alignments ----------------------------

@pytest.mark.parametrize("fn", ["sum", "mean", "amax"])
@pytest.mark.parametrize("dims", [(0, -1), (0, 0), [-1, -1]])
def test_a_0d_tensor_refuses_its_one_dim_named_twice(fn, dims):
    with pytest.raises(RuntimeError):
        getattr(torch, fn)(torch.tensor(3.0), dim=dims)
    with pytest.raises(RuntimeError, match=r"name dim 0 of a 0-D tensor 2 times"):
        getattr(tinyflow, fn)(tinyflow.tensor(3.0), dim=dims)
    assert float(getattr(tinyflow, fn)(tinyflow.tensor(3.0), dim=(-1,))) == 3.0


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("zero_infinity", [False, True])
def test_ctc_gradient_at_an_impossible_alignment_is_pytorchs(reduction, zero_infinity):
    """Sample 0's target (1 1 2 3: five frames with the blank between the 1s) cannot fit its
    3 frames: its loss is inf and its gradient NaN on those frames (0 past them), unless
    zero_infinity; sample 1 is unaffected."""
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((4, 3, 5))
    targets = np.array([[1, 1, 2, 3], [1, 2, 0, 0], [4, 4, 0, 0]])
    lengths = ([3, 4, 2], [4, 2, 2])     # sample 2: 4 4 needs 3 frames, has 2
    got = []
    for L in (torch, tinyflow):
        x = L.tensor(x0, requires_grad=True)
        loss = L.nn.functional.ctc_loss(x.log_softmax(2), L.tensor(targets),
                                        L.tensor(lengths[0]), L.tensor(lengths[1]),
                                        reduction=reduction, zero_infinity=zero_infinity)
        loss.sum().backward()
        got.append((loss.detach().numpy(), x.grad.numpy()))
    (want, want_grad), (ours, our_grad) = got
    np.testing.assert_allclose(ours, want, rtol=1e-12)
    np.testing.assert_array_equal(np.isnan(our_grad), np.isnan(want_grad))
    np.testing.assert_allclose(np.nan_to_num(our_grad), np.nan_to_num(want_grad), atol=1e-12)
    assert np.isnan(want_grad).any() != zero_infinity


def _ctc_case(L, values):
    """A small batch: sample 0 has a repeated label, sample 1 a shorter input."""
    return (L.tensor(np.array([[1, 1, 2], [3, 2, 0]])), L.tensor([5, 4]), L.tensor([3, 2]))


def test_ctc_logits_gradient_through_log_softmax_is_pytorchs():
    x0 = np.random.default_rng(4).standard_normal((5, 2, 4))
    grads = []
    for L in (torch, tinyflow):
        x = L.tensor(x0, requires_grad=True)
        loss = L.nn.functional.ctc_loss(x.log_softmax(2), *_ctc_case(L, x0))
        loss.backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-10, atol=1e-12)


def test_ctc_gradient_of_raw_log_probs_is_the_exact_derivative_not_pytorchs():
    """With log_probs a leaf, ours agrees with finite differences; PyTorch's adds
    exp(log_probs) on the frames each input uses (see nn/_ctc.py's docstring)."""
    lp0 = np.log(np.random.default_rng(5).dirichlet(np.ones(4), size=(5, 2)))
    grads = []
    for L in (torch, tinyflow):
        lp = L.tensor(lp0, requires_grad=True)
        L.nn.functional.ctc_loss(lp, *_ctc_case(L, lp0), reduction="sum").backward()
        grads.append(lp.grad.numpy())
    used = (np.arange(5)[:, None] < [5, 4])[..., None]      # frames within input_lengths
    np.testing.assert_allclose(grads[0] - grads[1], np.exp(lp0) * used, rtol=1e-10,
                               atol=1e-12)

    def loss(values):
        return float(tinyflow.nn.functional.ctc_loss(
            tinyflow.tensor(values), *_ctc_case(tinyflow, values), reduction="sum"))
    h = 1e-6
    for direction in np.random.default_rng(6).standard_normal((3,) + lp0.shape):
        numeric = (loss(lp0 + h * direction) - loss(lp0 - h * direction)) / (2 * h)
        assert np.sum(grads[1] * direction) == pytest.approx(numeric, rel=1e-6)


# ---- torch.fft: frequencies and shifts; transforms refused (no complex dtypes) ----------

@pytest.mark.parametrize("n,d", [(1, 1.0), (5, 1.0), (8, 0.25), (0, 1.0)])
def test_fft_frequencies_match_pytorch(n, d):
    for name in ("fftfreq", "rfftfreq"):
        ours = getattr(tinyflow.fft, name)(n, d, dtype=tinyflow.float64)
        theirs = getattr(torch.fft, name)(n, d, dtype=torch.float64)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert tinyflow.fft.fftfreq(4).dtype == tinyflow.float32


@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2), [1]])
def test_fft_shifts_match_pytorch_with_gradients(dim):
    x0 = np.random.default_rng(0).standard_normal((3, 4, 5))
    weights = np.random.default_rng(1).standard_normal((3, 4, 5))
    grads = []
    for L in (torch, tinyflow):
        x = L.tensor(x0, requires_grad=True)
        shifted = L.fft.fftshift(x, dim)
        back = L.fft.ifftshift(shifted, dim)
        np.testing.assert_array_equal(back.detach().numpy(), x0)
        (shifted * L.tensor(weights)).sum().backward()
        grads.append((shifted.detach().numpy(), x.grad.numpy()))
    for ours, theirs in zip(grads[1], grads[0]):
        np.testing.assert_array_equal(ours, theirs)


def test_fft_transforms_are_refused_by_name_and_the_module_imports():
    import tinyflow.fft as tf_fft
    with pytest.raises(NotImplementedError, match="torch.fft.rfft: tinyflow has no complex"):
        tf_fft.rfft(tinyflow.ones(4))
    with pytest.raises(NotImplementedError, match="torch.fft.fft2: "):
        tinyflow.fft.fft2(tinyflow.ones(4, 4), norm="ortho")
    with pytest.raises(IndexError, match=r"fft.fftshift: dim 2 is out of range .*\[3, 4\]"):
        tinyflow.fft.fftshift(tinyflow.ones(3, 4), dim=2)
    with pytest.raises(ValueError, match="fft.fftfreq: n must be a non-negative int"):
        tinyflow.fft.fftfreq(-1)
    with pytest.raises(TypeError):
        torch.fft.fftfreq(4.0)
    for name in ("fftfreq", "rfftfreq"):
        with pytest.raises(TypeError, match=f"fft.{name}: n must be an int, got float 4.0"):
            getattr(tinyflow.fft, name)(4.0)
