"""PyTorch-style eager tensors and autograd, with PyTorch as the oracle."""
import numpy as np
import pytest

import tinyflow as tt

OUT_NEEDS_GRAD = "an argument requires grad, and a result written into out= is not differentiated"

torch = pytest.importorskip("torch")


def _pair(*shape, seed=0, requires_grad=True, low=-2.0, high=2.0):
    """The same float32 values as a tinyflow tensor and a torch tensor."""
    arr = np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)
    return (tt.tensor(arr, requires_grad=requires_grad),
            torch.tensor(arr, requires_grad=requires_grad))


def _close(a, b, rtol=1e-5, atol=1e-6):
    a = a.detach().numpy() if hasattr(a, "numpy") else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def test_specification_snippet_gradients_match_torch():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in [(20, 20), (20, 10), (1, 10),
                                                                   (1, 20)]]
    grads = {}
    for lib in (tt, torch):
        W_h = lib.tensor(arrays[0], requires_grad=True)
        W_x = lib.tensor(arrays[1], requires_grad=True)
        x, prev_h = lib.tensor(arrays[2]), lib.tensor(arrays[3])
        h2h = lib.mm(W_h, prev_h.t())
        i2h = lib.mm(W_x, x.t())
        next_h = (h2h + i2h).tanh()
        next_h.sum().backward()
        grads[lib] = (W_h.grad, W_x.grad)
    for a, b in zip(grads[tt], grads[torch]):
        _close(a, b)


# (name, function of a tensor in either library) — forward and backward compared with torch
METHODS = [
    ("sum_dim", lambda x: x.sum(dim=1)),
    ("sum_keepdim", lambda x: x.sum(1, keepdim=True)),
    ("mean", lambda x: x.mean()),
    ("mean_dims", lambda x: x.mean(dim=(0, 2))),
    ("max_all", lambda x: x.max()),
    ("max_dim_values", lambda x: x.max(dim=1)[0]),
    ("min_dim_keepdim", lambda x: x.min(dim=-1, keepdim=True).values),
    ("std", lambda x: x.std(dim=1)),
    ("var_biased", lambda x: x.var(dim=0, unbiased=False)),
    ("clamp", lambda x: x.clamp(-0.5, 0.7)),
    ("clamp_min", lambda x: x.clamp(min=0.1)),
    ("pow", lambda x: x.pow(2) + x ** 3),
    ("exp_log_sqrt", lambda x: (x.exp() + 1).log().sqrt()),
    ("sigmoid_tanh_relu", lambda x: x.sigmoid() * x.tanh() + x.relu()),
    ("abs_neg", lambda x: (-x).abs()),
    ("softmax", lambda x: x.softmax(dim=-1)),
    ("log_softmax", lambda x: x.log_softmax(dim=1)),
    ("logsumexp", lambda x: x.logsumexp(dim=2)),
    ("reshape_view", lambda x: x.reshape(6, 4).view(4, 6) * 2),
    ("flatten", lambda x: x.flatten(1)),
    ("permute", lambda x: x.permute(2, 0, 1) * 1.5),
    ("transpose", lambda x: x.transpose(0, 2).contiguous()),
    ("unsqueeze_squeeze", lambda x: x.unsqueeze(1).squeeze(1).squeeze()),
    ("expand", lambda x: x[:, :1, :].expand(2, 3, 4) * x),
    ("index", lambda x: x[1, 1:, ::2] * 3),
    ("index_tensor", lambda x: x[:, [2, 0, 2]]),
    ("chunk", lambda x: x.chunk(2, dim=2)[1] * 2),
    ("split", lambda x: x.split(1, dim=1)[2] + x.split([1, 2], dim=1)[1].sum(1, keepdim=True)),
    ("clone", lambda x: x.clone() * x),
    ("masked_fill", lambda x: x.masked_fill(x > 0.5, 0.0)),
    ("matmul", lambda x: x @ x.transpose(1, 2)),
    ("norm", lambda x: x.norm()),
    ("where", lambda x: (x > 0).float() * x),
]


@pytest.mark.parametrize("name,fn", METHODS, ids=[m[0] for m in METHODS])
def test_tensor_methods_match_torch(name, fn):
    a, b = _pair(2, 3, 4)
    out_a, out_b = fn(a), fn(b)
    _close(out_a, out_b)
    weights = np.random.default_rng(1).standard_normal(out_b.shape).astype(np.float32)
    (out_a * tt.tensor(weights)).sum().backward()
    (out_b * torch.tensor(weights)).sum().backward()
    _close(a.grad, b.grad)


FUNCTIONS = [
    ("cat", lambda lib, x: lib.cat([x, x * 2], dim=1)),
    ("stack", lambda lib, x: lib.stack([x, x.exp()], dim=0)),
    ("gather", lambda lib, x: lib.gather(x, 2, lib.tensor(np.array(
        [[[0, 3], [1, 1], [2, 0]], [[3, 3], [0, 1], [2, 2]]])))),
    ("index_select", lambda lib, x: lib.index_select(x, 1, lib.tensor(np.array([2, 0, 2])))),
    ("where", lambda lib, x: lib.where(x > 0, x, x * x)),
    ("maximum", lambda lib, x: lib.maximum(x, x.flip(0))),
    ("max_pairwise", lambda lib, x: lib.max(x, x * 0.5)),
    ("transpose", lambda lib, x: lib.transpose(x, 0, 1)),
    ("sum", lambda lib, x: lib.sum(x, dim=1)),
    ("clamp", lambda lib, x: lib.clamp(x, max=0.3)),
]


@pytest.mark.parametrize("name,fn", FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_functions_match_torch(name, fn):
    a, b = _pair(2, 3, 4)
    out_a, out_b = fn(tt, a), fn(torch, b)
    _close(out_a, out_b)
    out_a.sum().backward()
    out_b.sum().backward()
    _close(a.grad, b.grad)


def test_creation_functions_dtypes_and_shapes_match_torch():
    for name, args in [("zeros", (2, 3)), ("ones", ((2, 3),)), ("arange", (5,)),
                       ("arange", (1.0, 2.0, 0.25)), ("linspace", (0, 1, 5)), ("eye", (3,)),
                       ("full", ((2, 2), 7)), ("full", ((2,), 1.5))]:
        a, b = getattr(tt, name)(*args), getattr(torch, name)(*args)
        assert a.shape == tuple(b.shape) and a.dtype.name == str(b.dtype).split(".")[1], name
        _close(a, b)
    assert tt.tensor([1, 2]).dtype is tt.int64 and tt.tensor([1.0]).dtype is tt.float32
    assert tt.tensor(np.zeros(2)).dtype is tt.float64
    assert tt.randn(3, 4).dtype is tt.float32 and tt.randint(0, 5, (3,)).dtype is tt.int64
    tt.manual_seed(3)
    first = tt.randn(5).numpy()
    tt.manual_seed(3)
    np.testing.assert_array_equal(first, tt.randn(5).numpy())
    g = tt.Generator().manual_seed(1)
    np.testing.assert_array_equal(tt.rand(4, generator=g).numpy(),
                                  tt.rand(4, generator=tt.Generator().manual_seed(1)).numpy())


def test_views_and_from_numpy_share_memory():
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = tt.from_numpy(arr)
    arr[0, 0] = 100
    assert t[0, 0].item() == 100
    row = t[1]
    row.mul_(2)
    assert arr[1].tolist() == [8, 10, 12, 14]
    v = t.view(4, 3)
    v.add_(1)
    assert arr[0, 0] == 101
    assert t.t().is_contiguous() is False and t.t().contiguous().is_contiguous()
    with pytest.raises(RuntimeError, match="view: these elements are not evenly spaced in memory"):
        t.t().view(12)
    t.t().reshape(12)  # reshape copies when it must


def test_in_place_ops_and_version_counter():
    w = tt.tensor([1.0, 2.0], requires_grad=True)
    h = w * 2
    h += 1
    h.relu_()
    (h * h).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [12.0, 20.0])  # d/dw (2w+1)^2

    x = tt.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    z = y * 3
    y.add_(1)  # exp's rule reads its output: the stand-in keeps the old value (torch refuses)
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.exp([1.0, 2.0]), rtol=1e-6)
    with pytest.raises(RuntimeError, match="in-place write into a leaf tensor that requires grad"):
        x.add_(1)
    with tt.no_grad():
        x.add_(1)  # optimizers do this
    assert x.tolist() == [2.0, 3.0]


def test_modifying_a_saved_leaf_under_no_grad_is_caught():
    w = tt.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    with tt.no_grad():
        w.sub_(0.1)
    with pytest.raises(RuntimeError, match=r"it is at version 1, saved at 0"):
        loss.backward()


def test_backward_twice_needs_retain_graph():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])
    with pytest.raises(RuntimeError, match="already differentiated and its saved values"):
        y.backward()


def test_backward_errors_like_pytorch():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"not one element, so the starting gradient cannot"):
        (x * 2).backward()
    (x * 2).backward(tt.tensor([1.0, 0.5]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 1.0])


def test_leaf_and_non_leaf_rules():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = y.sum()
    y.retain_grad()
    z.backward()
    assert x.is_leaf and not y.is_leaf and z.grad is None
    np.testing.assert_allclose(y.grad.numpy(), [1.0, 1.0])
    assert y.grad_fn is not None and x.grad_fn is None
    d = y.detach()
    assert not d.requires_grad and d.is_leaf
    with pytest.raises(RuntimeError, match="only floating-point"):
        tt.tensor([1, 2], requires_grad=True)


def test_autograd_grad_matches_torch_incl_double_backward():
    a, b = _pair(3, 4)
    ga = tt.autograd.grad((a.tanh() ** 2).sum(), a, create_graph=True)[0]
    gb = torch.autograd.grad((b.tanh() ** 2).sum(), b, create_graph=True)[0]
    _close(ga, gb)
    hga = tt.autograd.grad(ga.sum(), a)[0]
    hgb = torch.autograd.grad(gb.sum(), b)[0]
    _close(hga, hgb)
    assert a.grad is None
    c = tt.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"input 1 \(shape \[1\]\) is not used.*allow_unused"):
        tt.autograd.grad((a * 2).sum(), [a, c])
    assert tt.autograd.grad((a * 2).sum(), [a, c], allow_unused=True)[1] is None


def test_detect_anomaly_names_the_op_and_the_line():
    x = tt.tensor([0.0, 1.0], requires_grad=True)
    with tt.autograd.detect_anomaly():
        y = x.sqrt()  # d sqrt / dx at 0 is inf
        with pytest.raises(RuntimeError, match=r"'sqrt' returned nan or inf.*test_eager.py"):
            y.sum().backward()


def test_out_argument_and_grad_accumulation():
    out = tt.zeros(2)
    tt.add(tt.tensor([1.0, 2.0]), tt.tensor([3.0, 4.0]), out=out)
    assert out.tolist() == [4.0, 6.0]
    p = tt.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=OUT_NEEDS_GRAD):
        tt.mul(p, 2.0, out=tt.zeros(1, requires_grad=True))
    for _ in range(3):
        (p * 2).sum().backward()
    assert p.grad.item() == 6.0


def test_no_grad_enable_grad_and_set_grad_enabled():
    x = tt.tensor([1.0], requires_grad=True)
    with tt.no_grad():
        assert not (x * 2).requires_grad
        with tt.enable_grad():
            assert (x * 2).requires_grad
    with tt.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    with tt.inference_mode():
        assert not (x * 2).requires_grad

    @tt.no_grad()
    def step():
        return x * 2
    assert not step().requires_grad and tt.is_grad_enabled()


@pytest.mark.parametrize("mode", [False, True])
def test_set_grad_enabled_as_a_decorator_changes_only_the_calls(mode):
    """Was: decorating switched the mode off for all code until the first call, and the calls
    ran in whatever mode was on."""
    x = tt.tensor([1.0], requires_grad=True)
    with tt.set_grad_enabled(not mode):
        @tt.set_grad_enabled(mode)
        def step():
            return (x * 2).requires_grad
        assert tt.is_grad_enabled() is not mode
        assert [step(), step()] == [mode, mode]
        assert tt.is_grad_enabled() is not mode
    assert tt.is_grad_enabled()


def test_dtype_conversions():
    x = tt.tensor([1.7, -2.2])
    assert x.long().tolist() == [1, -2] and x.long().dtype is tt.long
    assert x.double().dtype is tt.float64 and x.to(tt.float16).dtype is tt.half
    assert x.to("cpu") is x and x.int().dtype is tt.int32 and (x > 0).dtype is tt.bool
    with pytest.raises(RuntimeError, match="cuda"):
        x.to("cuda")


def test_out_argument_writes_into_the_buffer_and_refuses_autograd():
    a = tt.tensor(np.arange(6.0).reshape(2, 3))
    b = tt.tensor(np.ones((2, 3)))
    target = tt.zeros(2, 3, dtype=tt.float64)
    buffer, version = target.array, target._version[0]
    assert tt.subtract(a, b, out=target) is target
    assert target.array is buffer and target._version[0] == version + 1
    np.testing.assert_array_equal(target.numpy(), np.arange(6.0).reshape(2, 3) - 1)
    tt.subtract(a, b * 2, out=a)            # aliasing an input: the in-place ufunc path
    np.testing.assert_array_equal(a.numpy(), np.arange(6.0).reshape(2, 3) - 2)
    wrong_shape = tt.zeros(3, dtype=tt.float64)   # resized, warned (PyTorch's rule)
    with pytest.warns(UserWarning, match=r"sub: out= of shape \[3\] is resized"):
        tt.subtract(a, b, out=wrong_shape)
    assert wrong_shape.shape == (2, 3)
    with pytest.raises(RuntimeError, match="float64 can't be cast to out's int64"):
        tt.subtract(a, b, out=tt.zeros(2, 3, dtype=tt.int64))
    w = tt.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"sub\(\): " + OUT_NEEDS_GRAD):
        tt.subtract(w, 1.0, out=tt.zeros(3, dtype=tt.float64))
    with tt.no_grad():                      # an optimizer's update of a parameter
        tt.subtract(w, 0.5, out=w)
    np.testing.assert_array_equal(w.detach().numpy(), [0.5, 0.5, 0.5])


def _inplace_program(lib, a):
    """In-place ops under autograd that read their own target, and in-place ops on views."""
    x = lib.tensor(a, requires_grad=True)
    z = lib.tensor(np.arange(4.0), requires_grad=True)
    y = x * 2
    y.add_(y * 2)                 # the right side reads the old y
    row = y[1]
    row.mul_(3)                   # through a view: y's history becomes a setitem
    col = y[:, 2]
    col.add_(z[:3])
    ((y * y).sum() + col.sum()).backward()
    return y.detach().numpy(), x.grad.numpy(), z.grad.numpy()


def test_inplace_under_autograd_matches_torch_including_views():
    import torch
    a = np.random.default_rng(5).standard_normal((3, 4))
    for got, want in zip(_inplace_program(tt, a), _inplace_program(torch, a)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_inplace_on_views_refuses_what_it_cannot_differentiate():
    leaf = tt.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place write into a view of a leaf tensor that"):
        leaf[0].mul_(2)
    y = leaf * 1
    first, second = y[0], y[1]
    first.mul_(2)
    second.add_(1)                # y changed again, elsewhere: `first` reads y's new history
    first.sum().backward()        # as PyTorch (which does not refuse it either)
    np.testing.assert_array_equal(leaf.grad.numpy(), [[2, 2, 2], [0, 0, 0]])
    # a view of a view (y.T[0]) is written exactly now: tests/test_programs_s11.py


def test_grads_of_different_leaves_never_share_memory_even_through_hooks():
    """`add` hands one adjoint to both inputs: each `.grad` must be its own array, so an
    in-place change (GradScaler.unscale_, clip_grad_norm_, a hook) touches one gradient."""
    def run(lib):
        a, b, x = (lib.ones(2, requires_grad=True) for _ in range(3))
        def scale_in_place(p):
            p.grad.mul_(10)
        a.register_post_accumulate_grad_hook(scale_in_place)
        ((x * 2 + a) * 1.0).sum().backward(retain_graph=True)
        ((a + b) * 1.0).sum().backward()
        return [t.grad.tolist() for t in (a, b, x)], a.grad, b.grad

    ours, a_grad, b_grad = run(tt)
    assert ours == run(torch)[0] == [[110.0, 110.0], [1.0, 1.0], [2.0, 2.0]]
    assert not np.shares_memory(a_grad.numpy(), b_grad.numpy())


def test_grads_stay_apart_under_create_graph_too():
    a, b = (tt.ones(2, requires_grad=True) for _ in range(2))
    ((a + b) * 3.0).sum().backward(create_graph=True)
    assert a.grad is not b.grad and a.grad.requires_grad
    with tt.no_grad():
        a.grad.mul_(2)
    assert b.grad.tolist() == [3.0, 3.0]
