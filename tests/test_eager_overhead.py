"""The shortened eager paths of the small steps (backward's one walk of the recorded history,
its 0-d seed, relu's inline tests, F.linear's eager check, `with no_grad()` without
__init__) give what PyTorch gives, and keep the cases they skip past."""
import numpy as np
import pytest
import torch as pt

import tinyflow as torch
import tinyflow.nn.functional as F


def _pair(a: np.ndarray):
    return torch.tensor(a, requires_grad=True), pt.tensor(a, requires_grad=True)


def test_backward_through_shared_inputs_in_either_order():
    """An input read both directly and through another node, listed first or second: the
    walk must sweep the consumer before the shared input (a wrong order loses a partial)."""
    a = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    for first in (True, False):
        ours, theirs = _pair(a)
        results = []
        for lib, x in ((torch, ours), (pt, theirs)):
            h = lib.tanh(x)
            y = h * lib.exp(h) if first else lib.exp(h) * h   # h feeds the product twice
            z = (y + x * h).sum()
            z.backward()
            results.append(x.grad.numpy())
        np.testing.assert_allclose(results[0], results[1], rtol=1e-5, atol=1e-6)


def test_backward_reaches_every_leaf_and_retained_node():
    rng = np.random.default_rng(1)
    w_np, b_np = rng.standard_normal((4, 2)).astype(np.float32), rng.standard_normal(
        2).astype(np.float32)
    x_np = rng.standard_normal((5, 4)).astype(np.float32)
    grads = []
    for lib in (torch, pt):
        w = lib.tensor(w_np, requires_grad=True)
        b = lib.tensor(b_np, requires_grad=True)
        h = lib.tensor(x_np) @ w + b
        h.retain_grad()
        (lib.relu(h) ** 2).mean().backward()
        grads.append([t.grad.numpy() for t in (w, b, h)])
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_backward_sweeps_in_its_grad_mode_and_restores_the_callers():
    """Hooks see grad mode off (on with create_graph), as in PyTorch; the caller's mode is
    back afterwards, also when a hook raises."""
    x = torch.tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    seen = []
    y = x * 3
    y.register_hook(lambda g: seen.append(torch.is_grad_enabled()))
    y.sum().backward(retain_graph=True)
    y.sum().backward(create_graph=True)
    assert seen == [False, True] and torch.is_grad_enabled()

    def fails(g):
        raise ValueError("from the hook")
    z = x * 2
    z.register_hook(fails)
    loss = z.sum()
    for outer in (True, False):
        with torch.set_grad_enabled(outer):
            with pytest.raises(ValueError, match="from the hook"):
                loss.backward(retain_graph=True)
            assert torch.is_grad_enabled() is outer


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
def test_backward_seed_of_a_one_element_loss(shape):
    x = torch.tensor(np.array([2.0, 3.0], np.float32), requires_grad=True)
    loss = (x * x).sum().reshape(shape)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 6.0])
    with pytest.raises(RuntimeError, match=r"not one element, so the starting gradient cannot"):
        (x * 1.0).backward()


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16", "int32"])
def test_relu_kernel_paths(dtype):
    values = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]] * 3)
    x = torch.tensor(values).to(getattr(torch, dtype))
    want = pt.relu(pt.tensor(values).to(getattr(pt, dtype)))
    got = F.relu(x)
    assert got.dtype is x.dtype
    np.testing.assert_array_equal(got.float().numpy(), want.float().numpy())
    x.relu_()   # in place: the kernel's out= (reduced floats through float32)
    np.testing.assert_array_equal(x.float().numpy(), want.float().numpy())


def test_relu_of_a_large_tensor_on_the_pool():
    """Above the pool's threshold the kernel cuts the rows; the values are the same."""
    x = np.random.default_rng(2).standard_normal((1024, 600)).astype(np.float32)
    np.testing.assert_array_equal(F.relu(torch.tensor(x)).numpy(), np.maximum(x, 0))


def test_linear_bias_that_only_broadcasts_is_added_after_the_product():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(
        (2, 4)).astype(np.float32)
    bias = rng.standard_normal((3, 2)).astype(np.float32)   # not one value per feature
    got = F.linear(torch.tensor(x), torch.tensor(w), torch.tensor(bias)).numpy()
    np.testing.assert_allclose(got, x @ w.T + bias, rtol=1e-5)


def test_grad_mode_context_managers():
    x = torch.ones(2, requires_grad=True)
    with torch.no_grad():
        assert not (x * 2).requires_grad
        with torch.enable_grad():
            assert (x * 2).requires_grad
        assert not torch.is_grad_enabled()
    assert torch.is_grad_enabled()

    @torch.no_grad()
    def double(t):
        return t * 2
    assert not double(x).requires_grad
    torch.set_grad_enabled(False)
    assert not torch.is_grad_enabled()
    torch.set_grad_enabled(True)
    with torch.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad


@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_full_reduction_is_a_0d_tensor_of_the_input_dtype(reduce):
    for dtype in ("float32", "float64"):
        x = torch.arange(6).reshape(2, 3).to(getattr(torch, dtype))
        out = getattr(x, reduce)()
        assert out.shape == () and out.dtype is x.dtype
        assert isinstance(out.numpy(), np.ndarray)
        assert out.item() == getattr(np.arange(6.0), reduce)()
        assert getattr(x, reduce)(dim=[]).item() == out.item()   # PyTorch: every dim


def test_in_place_operators_on_eager_and_symbolic_tensors():
    x = torch.ones(3)
    x -= torch.ones(3) * 0.5
    x += 1
    x *= 2
    x /= 3
    np.testing.assert_allclose(x.numpy(), [1.0, 1.0, 1.0])
    import tinyflow as tf
    p = tf.placeholder(tf.float32, [3])
    q = p
    q -= 1.0                  # symbolic: a new node, p is unchanged
    assert q is not p
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(q, {p: np.zeros(3, np.float32)}), [-1.0] * 3)


def test_inference_mode_takes_pytorchs_mode_argument():
    x = torch.ones(2, requires_grad=True)
    with torch.inference_mode():
        assert not (x * 2).requires_grad
    with torch.inference_mode(mode=True):
        assert not (x * 2).requires_grad
    with torch.inference_mode(False):     # turns grad mode on, as PyTorch's (checked there)
        assert (x * 2).requires_grad
        with torch.no_grad(), torch.inference_mode(False):
            assert torch.is_grad_enabled() and (x * 2).requires_grad
        with torch.no_grad():
            assert not torch.is_grad_enabled()
    assert torch.is_grad_enabled()

    @torch.inference_mode()
    def double(t):
        return t * 2
    assert not double(x).requires_grad


def _in_thread(context, inside) -> None:
    """Runs `inside()` in the main thread while another thread sits inside `context`."""
    import threading
    entered, leave = threading.Event(), threading.Event()

    def hold():
        with context:
            entered.set()
            leave.wait(10)
    worker = threading.Thread(target=hold)
    worker.start()
    try:
        assert entered.wait(10), "the other thread never entered its context"
        inside()
    finally:
        leave.set()
        worker.join(10)


def test_modes_stay_per_thread_with_the_hot_paths_shortcut():
    """The eager paths skip the thread-local mode reads while no thread has a mode on
    (core/modes.py's *_THREADS sets): another thread's no_grad or autocast must not change
    this thread's ops, and this thread's own modes still apply."""
    from tinyflow.core import modes
    x = torch.ones(2, 3, requires_grad=True)
    lin = torch.nn.Linear(3, 4)

    def main_thread_ops():
        assert modes.GRAD_OFF_THREADS and modes.AUTOCAST_THREADS   # the other thread's
        assert (x * 2.0).requires_grad and (x * 2.0).grad_fn is not None
        assert lin(x).dtype is torch.float32 and lin(x).requires_grad
    _in_thread(torch.no_grad(), lambda: _in_thread(
        torch.autocast("cpu", dtype=torch.bfloat16), main_thread_ops))
    assert not modes.GRAD_OFF_THREADS and not modes.AUTOCAST_THREADS
    with torch.no_grad():
        assert not (x * 2.0).requires_grad and not lin(x).requires_grad
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert lin(x).dtype is torch.bfloat16 and (x @ lin.weight.t()).dtype is torch.bfloat16
    assert lin(x).dtype is torch.float32


def test_module_call_passes_arguments_as_given():
    """Module.__call__'s one-tensor shortcut: keywords (also one named `input`), several
    positionals and none reach forward as written."""
    class Two(torch.nn.Module):
        def forward(self, x, input=None):
            return x, input

    class Empty(torch.nn.Module):
        def forward(self):
            return "none"
    m = Two()
    assert m(1) == (1, None) and m(1, 2) == (1, 2) and m(1, input=2) == (1, 2)
    assert m(x=3, input=4) == (3, 4) and Empty()() == "none"


def test_module_call_finds_hooks_added_late_copied_and_removed():
    """Module.__call__ reads the hook tables only for modules in its `_HOOKED` hint: a hook
    added after calls without one runs, a deep copy of a hooked module runs its copy of the
    hook, and removing one table keeps the other."""
    import copy
    from tinyflow.nn.modules import module as module_py
    lin, x = torch.nn.Linear(3, 2), torch.ones(3)
    plain = lin(x)
    seen = []
    handle = lin.register_forward_hook(lambda m, args, out: seen.append("hook") or out * 2)
    pre = lin.register_forward_pre_hook(lambda m, args: seen.append("pre"))
    np.testing.assert_allclose(lin(x).detach().numpy(), 2 * plain.detach().numpy())
    twin = copy.deepcopy(lin)
    assert id(twin) in module_py._HOOKED
    np.testing.assert_allclose(twin(x).detach().numpy(), 2 * plain.detach().numpy())
    assert seen == ["pre", "hook", "pre", "hook"]
    handle.remove()
    np.testing.assert_allclose(lin(x).detach().numpy(), plain.detach().numpy())
    assert seen[-1] == "pre" and id(lin) in module_py._HOOKED
    pre.remove()
    assert id(lin) not in module_py._HOOKED
    lin(x)
    assert len(seen) == 5


def test_eager_tensor_rare_fields_are_class_defaults_until_set():
    """A new eager tensor has no instance dict (its rare fields are class defaults); setting
    one (a hook, retain_grad, a view's base) is its own, and pickling keeps it."""
    import pickle
    x = torch.ones(3, requires_grad=True)
    y = x * 2
    assert y._base is None and y.site is None and y.remote is None and not y.__dict__
    y.retain_grad()
    seen = []
    x.register_post_accumulate_grad_hook(lambda leaf: seen.append(leaf.grad.tolist()))
    assert y._retains_grad and not (x * 3)._retains_grad and not torch.ones(1)._post_grad_hooks
    y.sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), np.ones(3))
    assert seen == [[2.0, 2.0, 2.0]]
    v = torch.ones(4)[1:]
    assert v._base is not None
    again = pickle.loads(pickle.dumps(torch.ones(2) * 3))
    assert again.tolist() == [3.0, 3.0] and again._base is None and not again.__dict__


def test_vector_sum_takes_numpy_and_matches_torch():
    """A full sum of a short vector (NumPy's reduce, not the row loops) as PyTorch's."""
    a = np.random.default_rng(1).standard_normal(10).astype(np.float32)
    ours, theirs = torch.from_numpy(a).sum(), pt.from_numpy(a).sum()
    assert ours.shape == () and ours.dtype is torch.float32
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-6)
    np.testing.assert_allclose(torch.from_numpy(a).sum(0).item(), theirs.item(), rtol=1e-6)


def test_relu_layer_shortcut_and_its_other_paths():
    """nn.ReLU applies the op itself on a Tensor (a TF1 placeholder makes a node there); in
    place and on a Parameter it goes through F.relu; each gives what PyTorch gives."""
    a = np.array([[-1.5, 0.0, 2.0]], np.float32)
    x, px = _pair(a)
    y, py = torch.nn.ReLU()(x * 1.0), pt.nn.ReLU()(px * 1.0)
    y.sum().backward()
    py.sum().backward()
    np.testing.assert_array_equal(y.detach().numpy(), py.detach().numpy())
    np.testing.assert_array_equal(x.grad.numpy(), px.grad.numpy())
    z = torch.tensor(a)
    assert torch.nn.ReLU(inplace=True)(z) is z and z.numpy().min() == 0.0
    w = torch.nn.Parameter(torch.tensor(a))
    np.testing.assert_array_equal(torch.nn.ReLU()(w).detach().numpy(), np.maximum(a, 0))
    import tinyflow as tf
    with tf.Graph().as_default():
        p = tf.placeholder(tf.float32, [None, 3])
        node = torch.nn.ReLU()(p)
        assert node.is_symbolic
        with tf.Session() as sess:
            np.testing.assert_array_equal(sess.run(node, {p: a}), np.maximum(a, 0))


def test_nested_grad_modes_keep_the_grad_off_thread_set_in_step():
    """no_grad / enable_grad / set_grad_enabled nested: on leaving each, the mode and the
    hot paths' set of grad-off threads are back to what they were."""
    from tinyflow.core import modes
    x = torch.ones(2, requires_grad=True)
    assert not modes.GRAD_OFF_THREADS
    with torch.no_grad():
        assert modes.GRAD_OFF_THREADS and not (x * 2).requires_grad
        with torch.enable_grad():
            assert not modes.GRAD_OFF_THREADS and (x * 2).requires_grad
            with torch.set_grad_enabled(False):
                assert modes.GRAD_OFF_THREADS and not torch.is_grad_enabled()
            assert not modes.GRAD_OFF_THREADS and torch.is_grad_enabled()
        assert modes.GRAD_OFF_THREADS and not torch.is_grad_enabled()
    assert not modes.GRAD_OFF_THREADS and (x * 2).requires_grad


def test_linear_layer_shortcut_keeps_what_f_linear_does():
    """nn.Linear runs the affine op itself for an eager input of rank 1 or 2; what that op
    refuses (a bias of one value that broadcasts, mixed dtypes) or what it does not take
    (rank 3) goes through F.linear, with its results and errors."""
    from tinyflow.core.errors import DTypeError
    lin = torch.nn.Linear(3, 2)
    ref = pt.nn.Linear(3, 2)
    with pt.no_grad():
        ref.weight.copy_(pt.from_numpy(lin.weight.detach().numpy()))
        ref.bias.copy_(pt.from_numpy(lin.bias.detach().numpy()))
    for shape in [(3,), (4, 3), (2, 4, 3)]:
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        out = lin(torch.from_numpy(x))
        assert out.grad_fn is not None
        np.testing.assert_allclose(out.detach().numpy(), ref(pt.from_numpy(x)).detach(),
                                   rtol=1e-6, atol=1e-6)
    lin.bias = torch.nn.Parameter(torch.ones(1))    # broadcasts: PyTorch allows it
    np.testing.assert_allclose(lin(torch.zeros(3)).detach().numpy(), [1.0, 1.0])
    with pytest.raises(DTypeError, match="same dtype"):
        lin(torch.zeros(3, dtype=torch.float64))


def test_scalar_first_binary_ops_match_torch_in_float64():
    """`0.5 * x`, `1 - x`, `2.0 / x` (a scalar first: Binary.infer's scalar-first case, the
    kept literal read inline) give PyTorch's values, dtypes and gradients; a float literal
    beside float16 and float64 tensors takes their dtype; a 0-d tensor of another dtype
    still promotes as PyTorch's."""
    a = np.random.default_rng(4).uniform(0.5, 2.0, (3, 4))
    x, px = _pair(a)
    for lib, t in ((torch, x), (pt, px)):
        (0.5 * t + (1.0 - t) * t - 2.0 / t + t * 0.25).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), px.grad.numpy(), rtol=1e-12)
    for dtype in (torch.float16, torch.float64):
        t = torch.ones(2, 3, dtype=dtype)
        for y in (0.5 * t, t * 0.5, 1.5 - t, t - 1.5):
            assert y.dtype is dtype and tuple(y.shape) == (2, 3)
    s = torch.tensor(2.0, dtype=torch.float64)   # 0-d float64 beside float32: float32
    got = s * torch.ones(3)
    assert got.dtype is torch.float32 and tuple(got.shape) == (3,)
    assert (torch.tensor(2.0) * torch.ones(2, 2)).shape == (2, 2)
    assert (torch.ones(2, 2) * torch.tensor(3.0)).numpy().tolist() == [[3.0, 3.0]] * 2


def test_matmul_softmax_and_in_place_updates_keep_their_other_cases():
    """`x @ w` and ops.matmul take apply2 (a name keeps the general path: a TF1 graph node);
    F.softmax keeps one op per dim; `p -= lr * g` writes into p, and add_/sub_'s deprecated
    number-first overload still warns and computes as PyTorch's."""
    import tinyflow as tf
    from tinyflow import ops
    a = np.random.default_rng(5).standard_normal((3, 4))
    w = np.random.default_rng(6).standard_normal((4, 2))
    np.testing.assert_allclose(ops.matmul(a, w).numpy(), a @ w)          # arrays in
    np.testing.assert_allclose(ops.matmul(torch.tensor(a), torch.tensor(w.T),
                                          transpose_b=True).numpy(), a @ w)
    with tf.Graph().as_default():
        p = tf.placeholder(tf.float64, [None, 4])
        node = ops.matmul(p, torch.tensor(w), name="product")
        assert node.is_symbolic and node.name.startswith("product")
        with tf.Session() as sess:
            np.testing.assert_allclose(sess.run(node, {p: a}), a @ w)
    z = torch.tensor(a)
    for dim in (0, 1, -1, 1):
        np.testing.assert_allclose(F.softmax(z, dim=dim).numpy(),
                                   pt.softmax(pt.tensor(a), dim=dim).numpy(), rtol=1e-12)
    p, pp = _pair(a)
    with torch.no_grad():
        p -= 0.1 * torch.ones_like(p)
    with pt.no_grad():
        pp -= 0.1 * pt.ones_like(pp)
    np.testing.assert_allclose(p.detach().numpy(), pp.detach().numpy())
    q, pq = torch.ones(2), pt.ones(2)
    with pytest.warns(UserWarning, match="deprecated"):
        q.sub_(2.0, torch.ones(2))   # sub_(alpha, other), as old SGD loops wrote it
    np.testing.assert_allclose(q.numpy(), pq.sub(pt.ones(2), alpha=2.0).numpy())


def test_enable_grad_and_no_grad_each_enter_their_own_mode():
    """no_grad and enable_grad each have their own __enter__: each sets its mode whatever
    the mode outside, and restores that mode on leaving; as decorators too."""
    x = torch.ones(2, requires_grad=True)
    for outer in (True, False):
        torch.set_grad_enabled(outer)
        with torch.enable_grad():
            assert torch.is_grad_enabled() and (x * 2).requires_grad
        assert torch.is_grad_enabled() is outer
        with torch.no_grad():
            assert not torch.is_grad_enabled()
        assert torch.is_grad_enabled() is outer
        assert torch.enable_grad()(lambda: (x * 2).requires_grad)()
        assert not torch.no_grad(lambda: (x * 2).requires_grad)()
    torch.set_grad_enabled(True)


def test_unrecorded_op_results_fill_every_slot_as_new_eager_does():
    """apply1/2/3 and _recorded build a result without new_eager's frame: every slot of
    Tensor is filled (a slot added to new_eager but not there fails here) and the rare
    fields stay class defaults."""
    from tinyflow.core.tensor import Tensor, new_eager
    slots = [s for s in Tensor.__slots__ if s not in ("__dict__", "__weakref__")]
    x = torch.ones(3, 4)
    w, b = torch.ones(2, 4), torch.ones(2)
    xg = torch.ones(3, 4, requires_grad=True)
    for t in (torch.relu(x), x + x, F.linear(x, w, b), torch.relu(xg), xg * xg):
        ref = new_eager(t.array, t.dtype, t._op, t.inputs, t.requires_grad)
        for slot in slots:
            if slot == "_saved" and t.requires_grad:   # the versions, set after (below)
                continue
            got, want = getattr(t, slot), getattr(ref, slot)
            assert got is want or got == want, slot
        assert vars(t) == {} and t._version is not ref._version
    assert torch.relu(xg)._saved == (0, 0) and (xg * xg)._saved == (0, 0, 0)


@pytest.mark.parametrize("outer, deco, inside", [
    ("enabled", "no_grad", False), ("disabled", "enable_grad", True),
    ("enabled", "inference_mode", False), ("disabled", "set_grad_enabled_true", True)])
def test_grad_mode_decorators_enter_at_each_resumption_of_a_generator(outer, deco, inside):
    """PyTorch's decorators wrap every `next` of a generator function (its body runs after
    the call returns): @no_grad on a generator must not record history, nor leak its mode
    to the caller between items."""
    make = {"no_grad": torch.no_grad, "enable_grad": torch.enable_grad,
            "inference_mode": torch.inference_mode,
            "set_grad_enabled_true": lambda: torch.set_grad_enabled(True)}[deco]
    x = torch.ones(2, requires_grad=True)

    @make()
    def items(n):
        for _ in range(n):
            got = yield torch.is_grad_enabled(), (x * 2).requires_grad
            assert got is None or got == "sent"
        return "done"

    with torch.set_grad_enabled(outer == "enabled"):
        gen = items(3)
        assert next(gen) == (inside, inside)
        assert torch.is_grad_enabled() == (outer == "enabled")   # the caller's mode between items
        assert gen.send("sent") == (inside, inside)
        assert next(gen) == (inside, inside)
        with pytest.raises(StopIteration) as stop:
            next(gen)
        assert stop.value.value == "done"
        assert torch.is_grad_enabled() == (outer == "enabled")
        gen = items(3)
        next(gen)
        gen.close()
        assert torch.is_grad_enabled() == (outer == "enabled")
