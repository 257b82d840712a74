"""Answers the session-7 review found wrong against PyTorch 2.13 (issue 14, "their code,
unchanged"): the same snippet on torch and on tinyflow, values, dtypes, types and errors
compared."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import tinyflow

LIBS = (torch, tinyflow)


def both(fn):
    """fn(lib) for torch and tinyflow."""
    return fn(torch), fn(tinyflow)


def error_of(fn):
    """The exception type fn raises (None if it returns)."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the type is the answer
        return type(e)
    return None


# ---- split and friends return tuples --------------------------------------------------------

SPLITS = {
    "split": lambda L, y: L.split(y, 2), "method split": lambda L, y: y.split(2),
    "split sizes": lambda L, y: y.split([2, 4]), "chunk": lambda L, y: L.chunk(y, 4),
    "method chunk": lambda L, y: y.chunk(3), "unbind": lambda L, y: y.unbind(),
    "tensor_split": lambda L, y: L.tensor_split(y, 4), "hsplit": lambda L, y: L.hsplit(y, 3),
    "hsplit at": lambda L, y: y.hsplit([1, 4]),
    "vsplit": lambda L, y: L.vsplit(y.view(2, 3), 2),
    "dsplit": lambda L, y: L.dsplit(y.view(1, 2, 3), [1]),
}


@pytest.mark.parametrize("case", SPLITS)
def test_splits_return_tuples_of_the_same_pieces(case):
    ours, theirs = SPLITS[case](tinyflow, tinyflow.arange(6)), SPLITS[case](torch, torch.arange(6))
    assert type(ours) is type(theirs) is tuple
    assert [p.tolist() for p in ours] == [p.tolist() for p in theirs]


@pytest.mark.parametrize("fn", [lambda L: L.hsplit(L.arange(6), 4),
                                lambda L: L.vsplit(L.arange(6), 2),
                                lambda L: L.dsplit(L.arange(6).view(2, 3), 3)])
def test_directional_splits_refuse_what_torch_refuses(fn):
    assert error_of(lambda: fn(torch)) is RuntimeError
    with pytest.raises(RuntimeError, match="split"):
        fn(tinyflow)


# ---- nn.utils.parameters_to_vector / vector_to_parameters ----------------------------------

def test_parameters_to_vector_and_back_as_torch():
    def run(L):
        L.manual_seed(0)
        net = L.nn.Sequential(L.nn.Linear(3, 4), L.nn.Linear(4, 2))
        with L.no_grad():
            for p in net.parameters():
                p.copy_(L.tensor(np.linspace(-1, 1, p.numel(), dtype=np.float32)).view(p.shape))
        vec = L.nn.utils.parameters_to_vector(net.parameters())
        (vec * L.arange(vec.numel())).sum().backward()
        grads = [p.grad.clone() for p in net.parameters()]
        L.nn.utils.vector_to_parameters(L.arange(30, dtype=L.float32) * 0.5, net.parameters())
        return vec.detach(), grads, [p.detach().clone() for p in net.parameters()]
    theirs, ours = both(run)
    for a, b in zip([theirs[0], *theirs[1], *theirs[2]], [ours[0], *ours[1], *ours[2]]):
        np.testing.assert_allclose(b.numpy(), a.numpy())


def test_vector_to_parameters_refuses_as_torch():
    for L in LIBS:
        params = list(L.nn.Linear(2, 3).parameters())
        with pytest.raises(TypeError, match="Tensor"):
            L.nn.utils.vector_to_parameters([1.0, 2.0], params)
        with pytest.raises(RuntimeError):
            L.nn.utils.vector_to_parameters(L.zeros(5), params)


# ---- erfc, erfcx, log_ndtr: no cancellation in the tails -------------------------------------

TAILS = [-30.0, -27.0, -3.0, -0.5, 0.0, 0.3, 5.0, 10.0, 24.9, 26.0, 30.0, 1e5, np.inf, -np.inf,
         np.nan]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("fn", [lambda L, x: L.erfc(x), lambda L, x: x.erfc(),
                                lambda L, x: L.special.erfc(x), lambda L, x: L.special.erfcx(x),
                                lambda L, x: L.special.log_ndtr(x)])
def test_complementary_error_functions_match_torch_in_the_tails(fn, dtype):
    """erfc(10) is 2.1e-45 in float64 (1 - erf gave 0); relative error, not absolute."""
    theirs, ours = (fn(L, L.tensor(TAILS, dtype=getattr(L, dtype))).numpy() for L in LIBS)
    assert ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-12 if dtype == "float64" else 2e-6, atol=0)


@pytest.mark.parametrize("name", ["erfc", "special.erfcx", "special.log_ndtr"])
def test_complementary_error_function_gradients_match_torch(name):
    def grad(L):
        fn = L
        for part in name.split("."):
            fn = getattr(fn, part)
        x = L.tensor([-20.0, -5.0, -1.0, -0.2, 0.0, 0.7, 3.0, 12.0, 40.0], dtype=L.float64,
                     requires_grad=True)
        fn(x).sum().backward()
        return x.grad.numpy()
    theirs, ours = both(grad)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-300)


def test_erfc_of_integers_is_float32_as_torch():
    theirs, ours = both(lambda L: L.erfc(L.tensor([1, 6])))
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1] == "float32"
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


# ---- bitwise operators on integers and bools -------------------------------------------------

def _operands(L):
    return dict(a=L.tensor([1, 2, 3, -7], dtype=L.int32), b=L.tensor([3, 1, 0, 5]),
                m=L.tensor([True, False, True, False]), n=L.tensor([True, True, False, False]),
                u=L.tensor([200, 3, 1, 255], dtype=L.uint8), s=L.tensor([-8, 3, 1, 0], dtype=L.int8),
                f=L.tensor([1.0, 2.0, 3.0, 4.0]))


BITWISE = {
    "a & b": lambda a, b, **_: a & b, "a | 4": lambda a, **_: a | 4, "a ^ b": lambda a, b, **_: a ^ b,
    "5 & a": lambda a, **_: 5 & a, "~a": lambda a, **_: ~a, "~m": lambda m, **_: ~m,
    "m & n": lambda m, n, **_: m & n, "m | n": lambda m, n, **_: m | n,
    "m ^ True": lambda m, **_: m ^ True, "m & 1": lambda m, **_: m & 1,
    "m | a": lambda m, a, **_: m | a, "a & True": lambda a, **_: a & True,
    "u & s": lambda u, s, **_: u & s, "a << 2": lambda a, **_: a << 2,
    "a << b": lambda a, b, **_: a << b, "1 << b": lambda b, **_: 1 << b,
    "a >> 1": lambda a, **_: a >> 1, "s >> b": lambda s, b, **_: s >> b,
    "u << 1": lambda u, **_: u << 1, "u >> 3": lambda u, **_: u >> 3,
    "a << 40": lambda a, **_: a << 40, "a >> 40": lambda a, **_: a >> 40,
    "a << -1": lambda a, **_: a << -1, "m << 1": lambda m, **_: m << 1,
    "bitwise_and": lambda a, b, **_: a.bitwise_and(b),
    "torch.bitwise_or": lambda a, L, **_: L.bitwise_or(a, 6),
    "torch.bitwise_xor": lambda a, L, **_: L.bitwise_xor(6, a),
    "bitwise_not": lambda a, L, **_: L.bitwise_not(a),
    "bitwise_left_shift": lambda a, L, **_: L.bitwise_left_shift(a, 3),
    "bitwise_right_shift": lambda a, **_: a.bitwise_right_shift(1),
}


@pytest.mark.parametrize("case", BITWISE)
def test_bitwise_operators_match_torch_values_and_dtypes(case):
    theirs, ours = both(lambda L: BITWISE[case](L=L, **_operands(L)))
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    assert ours.tolist() == theirs.tolist()


@pytest.mark.parametrize("fn", [lambda f, a, L: f & f, lambda f, a, L: f & a,
                                lambda f, a, L: a | 1.0, lambda f, a, L: f << 1,
                                lambda f, a, L: a << 1.5, lambda f, a, L: ~f,
                                lambda f, a, L: L.bitwise_not(f)])
def test_bitwise_operators_refuse_floats_as_torch(fn):
    assert error_of(lambda: fn(*(_operands(torch)[k] for k in "fa"), torch)) is not None
    with pytest.raises((TypeError, RuntimeError), match="not implemented|only implemented"):
        fn(*(_operands(tinyflow)[k] for k in "fa"), tinyflow)


@pytest.mark.parametrize("step", ["x &= y", "x |= 8", "x ^= y", "x <<= 1", "x >>= y",
                                  "x.bitwise_and_(y)", "x.bitwise_or_(y)", "x.bitwise_xor_(y)",
                                  "x.bitwise_not_()", "x.bitwise_left_shift_(y)",
                                  "x.bitwise_right_shift_(y)"])
def test_bitwise_in_place_writes_into_the_tensor_and_its_views(step):
    def run(L):
        base = L.tensor([[5, 6, 7], [8, 9, 10]], dtype=L.int32)
        x, y = base[1], L.tensor([1, 2, 3], dtype=L.int32)
        exec(step, {}, {"x": x, "y": y})   # noqa: S102 - the same statement on both
        return base
    theirs, ours = both(run)
    assert ours.tolist() == theirs.tolist() and ours.dtype == tinyflow.int32


# ---- sign, sgn and abs's gradient at NaN: PyTorch's 0, TF1's NaN in graphs ------------------

SIGNS = {"torch.sign": lambda L, x: L.sign(x), "sign method": lambda L, x: x.sign(),
         "sgn": lambda L, x: L.sgn(x), "sign_": lambda L, x: x.clone().sign_(),
         "abs gradient": lambda L, x: L.autograd.grad(L.abs(x).sum(), x)[0],
         "sign gradient": lambda L, x: L.autograd.grad(L.sign(x).sum(), x)[0]}


@pytest.mark.parametrize("case", SIGNS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sign_and_abs_gradient_at_nan_match_torch(case, dtype):
    def run(L):
        x = L.tensor([np.nan, -2.0, 0.0, 3.0, -np.inf], dtype=getattr(L, dtype),
                     requires_grad=True)
        return SIGNS[case](L, x).detach().numpy()
    theirs, ours = both(run)
    np.testing.assert_array_equal(ours, theirs)


def test_tf1_sign_keeps_nan_in_a_graph():
    x = tinyflow.placeholder(tinyflow.float32, [3])
    with tinyflow.Session() as sess:
        out = sess.run(tinyflow.sign(x), {x: np.array([np.nan, -1, 2], np.float32)})
    np.testing.assert_array_equal(out, [np.nan, -1, 1])


def test_compiled_sign_is_torchs():
    step = tinyflow.compile(lambda x: tinyflow.sign(x) + x.sign())
    out = step(tinyflow.tensor([np.nan, -1.0, 2.0]))
    np.testing.assert_array_equal(out.numpy(), [0, -2, 2])


# ---- linalg.lstsq: torch's operand rules --------------------------------------------------

LSTSQ_SHAPES = [((2, 5, 3), (5, 2)), ((5, 3), (2, 5, 2)), ((5, 3), (4, 2)), ((2, 5, 3), (2, 4)),
                ((5,), (5,)), ((3, 5, 3), (2, 5, 2)), ((2, 5, 3), (3, 5)), ((2, 5, 3), (1, 5, 2)),
                ((5, 3), (5,)), ((2, 5, 3), (2, 5)), ((5, 3), (5, 2)), ((4, 6, 2), (4, 6, 3))]


@pytest.mark.parametrize("shapes", LSTSQ_SHAPES, ids=str)
def test_lstsq_solves_and_refuses_as_torch(shapes):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(s) for s in shapes)

    def run(L):
        return L.linalg.lstsq(L.tensor(a), L.tensor(b)).solution
    expected = error_of(lambda: run(torch))
    if expected is not None:
        with pytest.raises(RuntimeError):
            run(tinyflow)
        return
    np.testing.assert_allclose(run(tinyflow).numpy(), run(torch).numpy(), rtol=1e-9, atol=1e-10)


def test_lstsq_refuses_mixed_dtypes():
    with pytest.raises(RuntimeError, match="input is float32 and other float64; give both"):
        tinyflow.linalg.lstsq(tinyflow.ones(5, 3), tinyflow.ones(5, dtype=tinyflow.float64))


# ---- NumPy's floating-point warnings: torch is silent -----------------------------------------

NAN = float("nan")
QUIET = {
    "log of 0": lambda L: L.log(L.tensor([0.0, 1.0])),
    "0 / 0 and 1 / 0": lambda L: L.tensor([1.0, 0.0]) / L.tensor([0.0, 0.0]),
    "sqrt of -1": lambda L: L.sqrt(L.tensor([-1.0])),
    "exp overflow": lambda L: L.exp(L.tensor([1000.0])),
    "big relu gradient at NaN": lambda L: _relu_grad_at_nan(L, 600_000),
    "log1p of -2": lambda L: L.tensor([-2.0]).log1p(),
    "relu gradient at NaN": lambda L: _relu_grad_at_nan(L),
    "cross entropy of huge logits": lambda L: L.nn.functional.cross_entropy(
        L.tensor([[1000.0, -1000.0]]), L.tensor([1])),
}


def _relu_grad_at_nan(L, size=3):
    x = L.tensor(np.resize([NAN, 1.0, -1.0], size).astype(np.float32), requires_grad=True)
    L.relu(x).sum().backward()
    return x.grad


@pytest.mark.parametrize("case", QUIET)
def test_no_numpy_warnings_where_torch_is_silent(case):
    with warnings.catch_warnings(record=True) as caught:
        theirs = QUIET[case](torch)
        ours = QUIET[case](tinyflow)
    assert [str(w.message) for w in caught] == []
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())


def test_integer_division_by_zero_still_raises():
    with pytest.raises(ZeroDivisionError):
        tinyflow.tensor([1, 2]) // tinyflow.tensor([0, 1])


# ---- fills into an expand's shared memory -------------------------------------------------

SHARED_FILLS = {
    "index_fill_ dim 1": lambda L, e: e.index_fill_(1, L.tensor([0]), 1.0),
    "index_fill_ dim 0": lambda L, e: e.index_fill_(0, L.tensor([0]), 2.0),
    "index_fill_ tensor value": lambda L, e: e.index_fill_(1, L.tensor([0, 2]), L.tensor(3.0)),
    "masked_fill_": lambda L, e: e.masked_fill_(L.tensor([True, False, False, True]), 1.0),
    "x[mask] = v": lambda L, e: e.__setitem__(L.tensor([True, False, False]), 1.0),
}


@pytest.mark.filterwarnings("ignore:Use of")   # torch's deprecation warning (and ours)
@pytest.mark.parametrize("case", SHARED_FILLS)
@pytest.mark.parametrize("base", [(1, 4), (3, 1)])
def test_fills_into_an_expanded_tensor_as_torch(case, base):
    def run(L):
        root = L.zeros(*base)
        e = root.expand(3, 4)
        SHARED_FILLS[case](L, e)
        return e.tolist(), root.tolist()
    theirs, ours = both(run)
    assert ours == theirs


@pytest.mark.parametrize("fn", [lambda L, e: e.__setitem__((slice(None), 0), 1.0),
                                lambda L, e: e.index_copy_(1, L.tensor([0]), L.ones(3, 1))])
def test_other_writes_into_shared_memory_are_refused_as_torch(fn):
    for L in LIBS:
        with pytest.raises(RuntimeError, match="single memory location|one write would land in"):
            fn(L, L.zeros(1, 4).expand(3, 4))


# ---- torch.load gives a flat state dict's keys in the saved order ------------------------------

def test_load_keeps_a_state_dicts_order_as_torch(tmp_path):
    def run(L):
        L.manual_seed(0)
        net = L.nn.Sequential(L.nn.Linear(3, 4), L.nn.ReLU(), L.nn.Linear(4, 2),
                              L.nn.BatchNorm1d(2))
        path = tmp_path / f"{L.__name__}.pt"
        L.save(net.state_dict(), str(path))
        return list(L.load(str(path)))
    theirs, ours = both(run)
    assert ours == theirs and ours != sorted(ours)


def test_a_sorted_state_dict_is_a_plain_safetensors_file(tmp_path):
    from safetensors.numpy import save as plain
    state = {"a": np.ones(2, np.float32), "b": np.zeros(3, np.float32)}
    tinyflow.save(state, str(tmp_path / "s.pt"))
    assert (tmp_path / "s.pt").read_bytes() == plain(state)


@pytest.mark.parametrize("note", ['["b", "a", "c"]', '["b"]', "not json", '{"a": 1}'])
def test_an_order_note_that_does_not_fit_is_ignored(tmp_path, note):
    """A file another tool rewrote (entries added or removed) still loads, sorted."""
    from safetensors.numpy import save as plain
    path = tmp_path / "other.safetensors"
    path.write_bytes(plain({"b": np.ones(1), "a": np.zeros(1)},
                           metadata={"tinyflow.order": note}))
    assert list(tinyflow.load(str(path))) == ["a", "b"]


# ---- everyday spellings found by the hunt -------------------------------------------------

EVERYDAY = {
    "torch.equal": lambda L: L.equal(L.tensor([1, 2]), L.tensor([1, 2])),
    "torch.equal differs": lambda L: L.equal(L.tensor([1, 2]), L.tensor([1, 3])),
    "torch.equal shapes": lambda L: L.equal(L.tensor([1, 2]), L.tensor([[1, 2]])),
    "squeeze dims": lambda L: tuple(L.zeros(1, 2, 1).squeeze((0, 2)).shape),
    "squeeze dims kept": lambda L: tuple(L.zeros(1, 2, 1).squeeze((0, 1)).shape),
    "torch.squeeze dims": lambda L: tuple(L.squeeze(L.zeros(1, 2, 1), (-1,)).shape),
    "tensor of np.float64": lambda L: str(L.tensor(np.float64(1.5)).dtype).split(".")[-1],
    "tensor of a list with np.float64": lambda L: str(L.tensor([1.0, np.float64(2)]).dtype)
    .split(".")[-1],
    "tensor of floats": lambda L: str(L.tensor([[1.5]]).dtype).split(".")[-1],
    "normal size": lambda L: tuple(L.normal(0.0, 1.0, size=(2, 3)).shape),
    "normal tensors": lambda L: tuple(L.normal(L.zeros(2, 1), L.ones(3)).shape),
    "normal dtype": lambda L: str(L.normal(L.zeros(2, dtype=L.float64), 1.0).dtype).split(".")[-1],
    "bernoulli": lambda L: L.bernoulli(L.tensor([0.0, 1.0])).tolist(),
    "bernoulli_": lambda L: L.zeros(3).bernoulli_(1.0).tolist(),
}


@pytest.mark.parametrize("case", EVERYDAY)
def test_everyday_spellings_as_torch(case):
    theirs, ours = both(EVERYDAY[case])
    assert ours == theirs and type(ours) is type(theirs)


def test_tf1_equal_and_normal_keep_their_graph_meaning():
    x = tinyflow.placeholder(tinyflow.int64, [2])
    assert tinyflow.equal(x, x).is_symbolic
    draws = tinyflow.normal([2, 3], 0.5)    # tqchen/tinyflow's spelling: a graph node
    assert draws.is_symbolic and tuple(draws.shape) == (2, 3)


# ---- the schedulers that were missing ----------------------------------------------------

SCHEDULERS = {
    "ConstantLR": lambda S, o: S.ConstantLR(o, 0.5, total_iters=2),
    "PolynomialLR": lambda S, o: S.PolynomialLR(o, total_iters=4, power=2),
    "MultiplicativeLR": lambda S, o: S.MultiplicativeLR(o, lambda e: 0.9),
    "SequentialLR": lambda S, o: S.SequentialLR(
        o, [S.ConstantLR(o, 0.5, total_iters=2), S.ExponentialLR(o, 0.9)], milestones=[2]),
    "ConstantLR then StepLR chained": lambda S, o: [S.ConstantLR(o, 0.25, total_iters=3),
                                                    S.StepLR(o, 2, 0.5)],
}


@pytest.mark.parametrize("case", SCHEDULERS)
def test_schedulers_give_torchs_learning_rates(case):
    def run(L):
        opt = L.optim.SGD([L.nn.Parameter(L.zeros(2))], lr=0.1, momentum=0.9)
        made = SCHEDULERS[case](L.optim.lr_scheduler, opt)
        rates = []
        for _ in range(7):
            opt.step()
            for s in (made if isinstance(made, list) else [made]):
                s.step()
            rates.append(opt.param_groups[0]["lr"])
        return rates
    theirs, ours = both(run)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_constant_lr_refuses_a_factor_above_one():
    for L in LIBS:
        opt = L.optim.SGD([L.nn.Parameter(L.zeros(2))], lr=0.1)
        says = r"ConstantLR: factor=1.5 must be in \[0, 1\]" if L is tinyflow else "between 0"
        with pytest.raises(ValueError, match=says):
            L.optim.lr_scheduler.ConstantLR(opt, factor=1.5)


MORE_FUNCTIONS = {
    "diag_embed": lambda L, x: L.diag_embed(x),
    "diag_embed offset": lambda L, x: L.diag_embed(x, offset=-1),
    "diag_embed dims": lambda L, x: L.diag_embed(x, 1, dim1=0, dim2=2),
    "dist": lambda L, x: L.dist(x, L.ones(3)),
    "dist p1": lambda L, x: L.dist(x, L.ones(2, 3), p=1),
}


@pytest.mark.parametrize("case", MORE_FUNCTIONS)
def test_more_functions_match_torch_with_gradients(case):
    def run(L):
        x = L.tensor(np.linspace(-1, 1, 6).reshape(2, 3), dtype=L.float32, requires_grad=True)
        out = MORE_FUNCTIONS[case](L, x)
        (out * L.arange(out.numel(), dtype=L.float32).view(out.shape)).sum().backward()
        return out.detach().numpy(), x.grad.numpy()
    theirs, ours = both(run)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("args", [(3, 3), (4, 3, 1), (3, 5, -1), (2, 2, 5)])
def test_triangle_indices_as_torch(args):
    for name in ("tril_indices", "triu_indices"):
        theirs, ours = both(lambda L: getattr(L, name)(*args))
        assert ours.tolist() == theirs.tolist() and ours.dtype == tinyflow.int64


# ---- NAdam and RAdam --------------------------------------------------------------------

ADAM_VARIANTS = {
    "NAdam": lambda O, p: O.NAdam(p, lr=0.05),
    "NAdam weight decay": lambda O, p: O.NAdam(p, lr=0.05, weight_decay=0.1),
    "NAdam decoupled": lambda O, p: O.NAdam(p, lr=0.05, weight_decay=0.1,
                                            decoupled_weight_decay=True),
    "RAdam": lambda O, p: O.RAdam(p, lr=0.05),
    "RAdam decoupled maximize": lambda O, p: O.RAdam(p, lr=0.05, weight_decay=0.1,
                                                     decoupled_weight_decay=True, maximize=True),
}


@pytest.mark.parametrize("case", ADAM_VARIANTS)
def test_adam_variants_follow_torch_and_resume_from_their_state(case):
    """Eight steps (RAdam rectifies from step 6), and a copy resumed from the state dict."""
    def run(L):
        w = L.nn.Parameter(L.tensor(np.linspace(-1, 1, 6).reshape(2, 3), dtype=L.float32))
        opt = ADAM_VARIANTS[case](L.optim, [w])
        x = L.tensor(np.linspace(0.5, 1.5, 3), dtype=L.float32)
        for step in range(8):
            opt.zero_grad()
            ((w @ x) ** 2).sum().backward()
            opt.step()
            if step == 3:
                saved = ({k: v.clone() if hasattr(v, "clone") else v for k, v in
                          opt.state_dict()["state"][0].items()}, w.detach().clone())
        resumed_w = L.nn.Parameter(saved[1])
        resumed = ADAM_VARIANTS[case](L.optim, [resumed_w])
        resumed.load_state_dict({"state": {0: saved[0]},
                                 "param_groups": opt.state_dict()["param_groups"]})
        for _ in range(4):
            resumed.zero_grad()
            ((resumed_w @ x) ** 2).sum().backward()
            resumed.step()
        return w.detach().numpy(), resumed_w.detach().numpy()
    theirs, ours = both(run)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours[0], ours[1], rtol=1e-6)


DISTANCES = {
    "CosineSimilarity": lambda L, a, b: L.nn.CosineSimilarity(dim=1)(a, b),
    "CosineSimilarity dim 0": lambda L, a, b: L.nn.CosineSimilarity(dim=0, eps=1e-6)(a, b),
    "PairwiseDistance": lambda L, a, b: L.nn.PairwiseDistance()(a, b),
    "PairwiseDistance p1 keepdim": lambda L, a, b: L.nn.PairwiseDistance(1, keepdim=True)(a, b),
    "pairwise_distance inf": lambda L, a, b: L.nn.functional.pairwise_distance(a, b, p=float("inf")),
    "pairwise_distance p3": lambda L, a, b: L.nn.functional.pairwise_distance(a, b, p=3),
}


@pytest.mark.parametrize("case", DISTANCES)
def test_distance_layers_match_torch_with_gradients(case):
    def run(L):
        a = L.tensor(np.linspace(-1, 1, 12).reshape(3, 4), dtype=L.float32, requires_grad=True)
        b = L.tensor(np.cos(np.arange(12.0)).reshape(3, 4), dtype=L.float32, requires_grad=True)
        out = DISTANCES[case](L, a, b)
        (out * L.arange(1, out.numel() + 1, dtype=L.float32).view(out.shape)).sum().backward()
        return out.detach().numpy(), a.grad.numpy(), b.grad.numpy()
    theirs, ours = both(run)
    for x, y in zip(ours, theirs):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dims", [(-1, 0, 1), (0, -1, -2), (2, 0, 1)])
def test_permute_takes_negative_dims_as_torch(dims):
    for fn in (lambda L, x: x.permute(*dims), lambda L, x: L.permute(x, dims)):
        theirs, ours = both(lambda L: fn(L, L.arange(24).view(2, 3, 4)))
        assert ours.tolist() == theirs.tolist()


def test_permute_refuses_a_short_order_as_torch():
    for L in LIBS:
        with pytest.raises(RuntimeError):
            L.zeros(2, 3).permute(-1)


INDEX_PUTS = {
    "accumulate repeats": lambda L, x: x.index_put((L.tensor([0, 0, 2]),), L.tensor([[1.0], [2.0], [3.0]]),
                                                   accumulate=True),
    "write": lambda L, x: x.index_put((L.tensor([1, 2]), L.tensor([0, 3])), L.tensor(5.0)),
    "rows broadcast": lambda L, x: x.index_put((L.tensor([2, 0]),), L.tensor([1.0, 2.0, 3.0, 4.0])),
    "negative and 2-d": lambda L, x: x.index_put((L.tensor([[-1], [0]]), L.tensor([[1, 2]])),
                                                 L.tensor(7.0), True),
    "bool mask": lambda L, x: x.index_put((L.tensor([True, False, True]),), L.tensor(-1.0)),
    "in place": lambda L, x: x.clone().index_put_((L.tensor([1]),), L.ones(4), accumulate=True),
}


@pytest.mark.parametrize("case", INDEX_PUTS)
def test_index_put_matches_torch_with_gradients(case):
    def run(L):
        x = L.tensor(np.arange(12.0).reshape(3, 4), dtype=L.float32, requires_grad=True)
        out = INDEX_PUTS[case](L, x)
        (out * L.arange(12, dtype=L.float32).view(3, 4)).sum().backward()
        return out.detach().numpy(), x.grad.numpy()
    theirs, ours = both(run)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b)


CYCLIC = {
    "triangular": dict(base_lr=0.01, max_lr=0.1, step_size_up=2),
    "triangular2 uneven": dict(base_lr=0.01, max_lr=0.1, step_size_up=2, step_size_down=3,
                               mode="triangular2"),
    "exp_range": dict(base_lr=0.01, max_lr=0.1, step_size_up=3, mode="exp_range", gamma=0.9),
}


@pytest.mark.parametrize("case", CYCLIC)
@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_cyclic_lr_cycles_lr_and_momentum_as_torch(case, optimizer):
    def run(L):
        w = L.nn.Parameter(L.zeros(2))
        opt = (L.optim.SGD([w], lr=0.1, momentum=0.9) if optimizer == "SGD"
               else L.optim.Adam([w], lr=0.1))
        sched = L.optim.lr_scheduler.CyclicLR(opt, **CYCLIC[case])
        seen = []
        for _ in range(12):
            opt.step()
            sched.step()
            group = opt.param_groups[0]
            seen.append((group["lr"], group["momentum"] if optimizer == "SGD"
                         else group["betas"][0]))
        return seen
    theirs, ours = both(run)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_cyclic_lr_needs_a_momentum_to_cycle():
    for L in LIBS:
        opt = L.optim.Adagrad([L.nn.Parameter(L.zeros(2))])
        with pytest.raises(ValueError, match="momentum"):
            L.optim.lr_scheduler.CyclicLR(opt, 0.01, 0.1)


@pytest.mark.parametrize("args", [(0, 2, 3), (1, -1, 5, 2.0), (0.5, 1.5, 1)])
def test_logspace_as_torch(args):
    theirs, ours = both(lambda L: L.logspace(*args))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    assert ours.dtype == tinyflow.float32


def test_detach_in_place_makes_a_leaf_as_torch():
    def run(L):
        x = L.ones(2, requires_grad=True)
        y = x * 2
        assert y.detach_() is y
        return y.requires_grad, y.is_leaf, y.grad_fn is None
    theirs, ours = both(run)
    assert ours == theirs == (False, True, True)


def test_rng_state_round_trip_repeats_the_draws():
    tinyflow.manual_seed(3)
    state = tinyflow.get_rng_state()
    first = (tinyflow.randn(3), tinyflow.rand(2), tinyflow.randint(0, 9, (4,)))
    tinyflow.set_rng_state(state)
    again = (tinyflow.randn(3), tinyflow.rand(2), tinyflow.randint(0, 9, (4,)))
    assert state.dtype == tinyflow.uint8 and state.ndim == 1
    for a, b in zip(first, again):
        assert a.tolist() == b.tolist()
    with pytest.raises(TypeError, match="uint8"):
        tinyflow.set_rng_state(tinyflow.zeros(3))


# ---- F.unfold / F.fold ----------------------------------------------------------------------

PATCHES = {
    "unfold 3x3": lambda F, x: F.unfold(x, 3),
    "unfold strided padded dilated": lambda F, x: F.unfold(x, (2, 3), dilation=(2, 1),
                                                           padding=1, stride=(2, 1)),
    "unfold unbatched": lambda F, x: F.unfold(x[0], 2, stride=2),
    "fold of unfold overlapping": lambda F, x: F.fold(F.unfold(x, 3, padding=1), (5, 6), 3,
                                                      padding=1),
    "fold strided": lambda F, x: F.fold(F.unfold(x, 2, stride=2), (4, 6), 2, stride=2),
    "fold unbatched": lambda F, x: F.fold(F.unfold(x, (2, 2))[1], (5, 6), (2, 2)),
}
MODULES = {"nn.Unfold": lambda L, x: L.nn.Unfold(2, padding=1, stride=2)(x),
           "nn.Fold": lambda L, x: L.nn.Fold((5, 6), 3, padding=1)(L.nn.Unfold(3, padding=1)(x))}


@pytest.mark.parametrize("case", [*PATCHES, *MODULES])
def test_unfold_and_fold_match_torch_with_gradients(case):
    def run(L):
        x = L.tensor(np.linspace(-1, 1, 2 * 3 * 5 * 6).reshape(2, 3, 5, 6), dtype=L.float32,
                     requires_grad=True)
        out = (PATCHES[case](L.nn.functional, x) if case in PATCHES else MODULES[case](L, x))
        (out * L.arange(out.numel(), dtype=L.float32).view(out.shape)).sum().backward()
        return out.detach().numpy(), x.grad.numpy()
    theirs, ours = both(run)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_fold_refuses_a_wrong_number_of_blocks_as_torch():
    for L, says in ((torch, "sliding blocks"), (tinyflow, r"fold: dim 2 of the input \(5\) "
                                                         r"must be the number of blocks")):
        with pytest.raises(RuntimeError, match=says):
            L.nn.functional.fold(L.zeros(1, 4, 5), (4, 4), 2, stride=2)
