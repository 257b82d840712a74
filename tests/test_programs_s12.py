"""What other people's programs needed, round 12, and session 11's review leftovers: module
backward hooks (Grad-CAM and gradient-inspection tutorials), forward hooks with
always_call, 3-D pooling. Each test reproduces the pattern, written here, with PyTorch as the
oracle.
"""
import warnings

import numpy as np
import pytest
import torch

import tinyflow
from tinyflow.nn.modules import module
from torch_oracle import X, compare, gradcheck


def both(fn, args, **options):
    """compare() of one function written once for both libraries: fn(lib, *inputs)."""
    return compare(lambda *a: fn(torch, *a), lambda *a: fn(tinyflow, *a), args, **options)


def _hooked_linear(L, log):
    """A Linear whose pre-hook scales grad_output and whose full hook adds 1 to grad_input,
    logging what each saw."""
    lin = L.nn.Linear(2, 2)
    with L.no_grad():
        lin.weight.copy_(L.tensor([[1.0, 2.0], [3.0, 4.0]]))
        lin.bias.zero_()

    def pre(module, grad_output):
        log.append(("pre", grad_output[0].tolist()))
        return (grad_output[0] * 10,)

    def full(module, grad_input, grad_output):
        log.append(("full", grad_input[0].tolist(), grad_output[0].tolist()))
        return (grad_input[0] + 1,)
    lin.register_full_backward_pre_hook(pre)
    lin.register_full_backward_hook(full)
    return lin


def test_full_backward_hooks_see_and_replace_gradients_as_torch():
    results = []
    for L in (torch, tinyflow):
        log = []
        lin = _hooked_linear(L, log)
        x = L.tensor([[1.0, -1.0]], requires_grad=True)
        (lin(x) * L.tensor([[1.0, 2.0]])).sum().backward()
        results.append((log, x.grad.tolist(), lin.weight.grad.tolist()))
    assert results[1] == results[0]


class _Scale:
    """forward(a, k, b) = a * b * k * w: a tensor that needs grad, a number, one that does
    not, and a parameter w = 1."""

    @staticmethod
    def build(L):
        class Scale(L.nn.Module):
            def __init__(self):
                super().__init__()
                self.w = L.nn.Parameter(L.ones(1))

            def forward(self, a, k, b):
                return a * b * k * self.w
        return Scale()


def test_full_backward_hook_grad_input_holds_none_and_zeros_as_torch():
    """None for a number, zeros for a tensor that needs no grad; with no input needing
    grad, the hook runs when grad_output is known, grad_input all None."""
    logs = []
    for L in (torch, tinyflow):
        log = []
        m = _Scale.build(L)
        m.register_full_backward_hook(lambda mod, gi, go: log.append(
            [None if g is None else g.tolist() for g in gi] + [go[0].tolist()]))
        a = L.tensor([1.0, 2.0], requires_grad=True)
        m(a, 2.0, L.tensor([3.0, 4.0])).sum().backward()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")    # PyTorch's note that no input needs grad
            m(L.tensor([1.0]), 2.0, L.tensor([3.0])).sum().backward()
        logs.append(log)
    assert logs[1] == logs[0] == [[[6.0, 8.0], None, [0.0, 0.0], [1.0, 1.0]],
                                  [None, None, None, [1.0]]]


def test_full_backward_hook_refuses_to_replace_a_gradient_already_passed_on():
    m = _Scale.build(tinyflow)
    m.register_full_backward_hook(lambda mod, gi, go: tuple(g if g is None else g * 2
                                                           for g in gi))
    a, b = (tinyflow.tensor([1.0], requires_grad=True) for _ in range(2))
    with pytest.raises(RuntimeError, match=r"replaced grad_input\[\d\]"):
        m(a, 2.0, b).sum().backward()


def test_backward_hooks_are_a_graph_break_and_run_under_compile():
    lin, seen = tinyflow.nn.Linear(3, 2), []
    handle = lin.register_full_backward_hook(lambda m, gi, go: seen.append(go[0].shape))
    f = tinyflow.compile(lambda x: lin(x).sum())
    x = tinyflow.ones(4, 3, requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f(x).backward()
    assert seen == [(4, 2)] and any("hooks" in str(w.message) for w in caught)
    g = tinyflow.compile(lambda x: lin(x).sum())
    handle.remove()
    assert not lin._hooked() and id(lin) not in module._HOOKED
    g(x)
    lin.register_full_backward_pre_hook(lambda m, go: seen.append("pre"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # the graph break's one-line report
        g(x).backward()
    assert seen[-1] == "pre"       # the guard saw the hook added after compiling


def test_forward_hook_always_call_runs_when_forward_raises_as_torch():
    logs = []
    for L in (torch, tinyflow):
        log = []

        class Bad(L.nn.Module):
            def forward(self, x):
                raise ValueError("boom")
        bad = Bad()
        bad.register_forward_hook(lambda m, a, o: log.append(("always", o)), always_call=True)
        bad.register_forward_hook(lambda m, a, o: log.append(("plain", o)))
        bad.register_forward_hook(lambda m, a, k, o: log.append(("kw", o)), with_kwargs=True,
                                  always_call=True)
        with pytest.raises(ValueError, match="boom"):
            bad(L.ones(1))
        good = L.nn.Identity()
        good.register_forward_hook(lambda m, a, o: log.append(("ok", o.tolist())),
                                   always_call=True)
        good(L.ones(1))
        logs.append(log)
    assert logs[1] == logs[0] == [("always", None), ("kw", None), ("ok", [1.0])]


def test_an_always_call_hook_that_raises_after_forward_raised_is_a_warning():
    bad = tinyflow.nn.Linear(2, 2)
    bad.register_forward_hook(lambda m, a, o: 1 / 0, always_call=True)
    with pytest.warns(UserWarning, match="always_call"), pytest.raises(Exception) as error:
        bad(tinyflow.ones(3))     # a shape error in forward: the one raised
    assert not isinstance(error.value, ZeroDivisionError)


# ---- 3-D pooling (Conv3d programs: video and volume classifiers) -------------------------

POOL3D = [("max", {"kernel_size": 2}),
          ("max", {"kernel_size": (2, 3, 2), "stride": (1, 2, 1), "padding": (1, 1, 0)}),
          ("max", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
          ("max", {"kernel_size": 2, "stride": 1, "dilation": (2, 1, 2)}),
          ("avg", {"kernel_size": (3, 2, 3), "stride": (2, 1, 2), "padding": 1,
                   "count_include_pad": False}),
          ("avg", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True,
                   "count_include_pad": False}),
          ("avg", {"kernel_size": 2, "divisor_override": 3})]


@pytest.mark.parametrize("kind, options", POOL3D)
def test_pool3d_values_and_gradients_match_torch(kind, options):
    both(lambda L, x: getattr(L.nn.functional, f"{kind}_pool3d")(x, **options),
         [X(2, 3, 5, 6, 7)])
    both(lambda L, x: getattr(L.nn.functional, f"{kind}_pool3d")(x, **options), [X(2, 5, 4, 5)])


def test_pool3d_modules_and_gradcheck():
    for ours, theirs in ((tinyflow.nn.MaxPool3d(2, 1), torch.nn.MaxPool3d(2, 1)),
                         (tinyflow.nn.AvgPool3d((1, 2, 2)), torch.nn.AvgPool3d((1, 2, 2)))):
        assert repr(ours) == repr(theirs)
        both(lambda L, x: (ours if L is tinyflow else theirs)(x), [X(1, 2, 3, 4, 4)])
    rng = np.random.default_rng(1)
    F = tinyflow.nn.functional
    gradcheck(lambda x: F.max_pool3d(x, 2, stride=1, padding=1),
              rng.standard_normal((1, 2, 3, 3, 3)))
    gradcheck(lambda x: F.avg_pool3d(x, 2, stride=1, padding=1, count_include_pad=False),
              rng.standard_normal((1, 2, 3, 3, 3)))
    with pytest.raises(NotImplementedError, match="return_indices"):
        F.max_pool3d(tinyflow.ones(1, 1, 2, 2, 2), 2, return_indices=True)
    with pytest.raises(tinyflow.ShapeError, match=r"max_pool3d: expected a 4-D or 5-D input"):
        F.max_pool3d(tinyflow.ones(2, 2, 2), 2)


@pytest.mark.parametrize("name, shape, padding", [
    ("max_pool1d", (1, 2, 5), 2), ("avg_pool1d", (1, 2, 5), 2),
    ("max_pool3d", (1, 1, 4, 4, 4), (0, 0, 2)), ("avg_pool3d", (1, 1, 4, 4, 4), 2)])
def test_pool_padding_over_half_the_kernel_names_the_function_called(name, shape, padding):
    """torch refuses it too; the message named max_pool2d / avg_pool2d, which the 1-D and 3-D
    pools are built from, with their padded shapes."""
    fn = getattr(tinyflow.nn.functional, name)
    with pytest.raises(ValueError, match=rf"^{name}: padding .* more than half of kernel_size"):
        fn(tinyflow.ones(*shape), 2, padding=padding)
    with pytest.raises(RuntimeError):
        getattr(torch.nn.functional, name)(torch.ones(*shape), 2, padding=padding)


def test_backward_hooks_are_those_of_the_forwards_time_and_tuples_are_refused():
    """As PyTorch's: a hook removed after the forward still runs, one added after it does
    not; a module returning a tuple with a grad-requiring tensor is refused even when no
    input requires grad (its hooks were silently never called)."""
    lin, seen = tinyflow.nn.Linear(3, 2), []
    kept = lin.register_full_backward_hook(lambda m, gi, go: seen.append("kept"))
    x = tinyflow.ones(4, 3, requires_grad=True)
    y = lin(x)
    kept.remove()
    lin.register_full_backward_hook(lambda m, gi, go: seen.append("added after"))
    y.sum().backward()
    assert seen == ["kept"]
    gru = tinyflow.nn.GRU(3, 2)
    gru.register_full_backward_hook(lambda m, gi, go: None)
    with pytest.raises(NotImplementedError, match="GRU: full backward hooks"):
        gru(tinyflow.ones(5, 1, 3))
