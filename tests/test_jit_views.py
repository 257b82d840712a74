"""Views made inside a compiled function share their base's memory, as eagerly: a write into
the base is seen by its views (and theirs), and a write into such a view is a graph break
(the function runs eagerly), never a lost write. PyTorch is the oracle."""
import warnings

import numpy as np
import pytest
import torch

import tinyflow as tf


def write_base_read_view(lib, a):
    y = a * 1
    z = y.view(2, 2).t()
    y[0] = 7.0
    return z + 1


def write_base_read_view_of_view(lib, a):
    y = a * 1
    w = y[1:][1:]
    y.add_(10)
    return w * 2


def write_argument_read_view(lib, a):
    head = a[:2]
    a.mul_(3)
    return head.sum() + a.sum()


def write_through_view(lib, a):
    y = a * 1
    y[0:2].mul_(3)
    return y + 0


@pytest.mark.parametrize("fn", [write_base_read_view, write_base_read_view_of_view,
                                write_argument_read_view, write_through_view])
def test_compiled_views_see_writes_as_torch(fn):
    compiled = tf.compile(lambda a: fn(tf, a))
    for i in range(3):
        a = np.arange(4.0) + i
        mine, ref = tf.tensor(a), torch.tensor(a)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # (a function may break the graph)
            got = compiled(mine)
        want = fn(torch, ref)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        np.testing.assert_array_equal(mine.numpy(), ref.numpy())


def test_a_training_step_that_transposes_its_weight_is_still_one_graph():
    """The view w.t() is made before the optimizer writes w: the write re-derives it and
    nothing breaks."""
    w = tf.nn.Parameter(tf.ones(3, 2))
    opt = tf.optim.SGD([w], lr=0.1)

    @tf.compile
    def step(x):
        opt.zero_grad()
        loss = (x @ w.t().t()).sum()
        loss.backward()
        opt.step()
        return loss

    with warnings.catch_warnings():
        warnings.simplefilter("error")   # a graph break warns
        for _ in range(3):
            step(tf.ones(4, 3))
    assert step.stats.graph_breaks == 0
    np.testing.assert_allclose(w.detach().numpy(), 1 - 3 * 0.1 * 4, rtol=1e-6)


def test_a_cached_graph_writes_into_each_calls_own_argument():
    """The plan traced on the first call's tensor runs for later calls: their arguments are
    written, and the first call's tensor is left alone (it got the later calls' results)."""
    compiled = tf.compile(lambda a: a.mul_(3).sum())
    mine, ref = [], []
    for i in range(3):
        mine.append(tf.tensor(np.arange(4.0) + i))
        ref.append(torch.tensor(np.arange(4.0) + i))
        assert compiled(mine[-1]).item() == ref[-1].mul_(3).sum().item()
    assert [t.tolist() for t in mine] == [t.tolist() for t in ref]
    assert compiled.stats.compiles == 1


def test_a_cached_graph_puts_grads_on_each_calls_own_argument():
    def f(a):
        (a * a).sum().backward()
        return a.sum()

    compiled = tf.compile(f)
    xs = [tf.tensor(np.arange(3.0) + i, requires_grad=True) for i in range(3)]
    for x in xs:
        compiled(x)
    xs[0].grad = None        # the first call's guard (its .grad) holds again: no retrace
    compiled(xs[1])
    assert xs[0].grad is None
    assert [x.grad.tolist() for x in xs[1:]] == [[4.0, 8.0, 12.0], [4.0, 6.0, 8.0]]  # x1: 2 calls
    assert compiled.stats.compiles <= 2


def reshape_of_transpose_copies(lib, a):
    y = a * 1
    z = y.view(2, 2).t().reshape(-1)   # a copy eagerly: it does not see the write
    y[0] = 7.0
    return z + 1


def integer_array_index_copies(lib, a):
    y = a * 1
    z = y[lib.tensor([1, 0])]          # a copy eagerly
    y[1] = 7.0
    return z * 2


def write_into_integer_array_index(lib, a):
    y = a * 1
    z = y[lib.tensor([1, 0])]
    z[0] = 9.0                          # writes the copy only
    return z + y.sum()


def write_view_of_temporary_read_base(lib, a):
    y = a * 2
    h = y.view(2, 2)
    h.relu_()
    return y + 0                        # stale in the trace: a graph break, eager answer


@pytest.mark.parametrize("fn", [reshape_of_transpose_copies, integer_array_index_copies,
                                write_into_integer_array_index,
                                write_view_of_temporary_read_base])
def test_copies_are_not_views_and_stale_bases_break(fn):
    test_compiled_views_see_writes_as_torch(fn)


@pytest.mark.parametrize("inplace", [False, True])
def test_an_in_place_op_on_a_view_of_a_temporary_is_one_graph(inplace):
    """`h = lin(x).view(...); relu(h, inplace=True)` writes a view whose base is read no more:
    nothing to scatter back, so no graph break (it was one before views were tracked)."""
    def f(lib, a):
        h = (a * 2 - 3).view(2, 2)
        if inplace:
            lib.nn.functional.relu(h, inplace=True)
            h.mul_(2)
        else:
            h = lib.nn.functional.relu(h) * 2
        return h.t().reshape(-1) + 1

    compiled = tf.compile(lambda a: f(tf, a))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for i in range(2):
            a = np.arange(4.0) + i
            np.testing.assert_array_equal(compiled(tf.tensor(a)).numpy(),
                                          f(torch, torch.tensor(a)).numpy())
    assert compiled.stats.graph_breaks == 0 and compiled.stats.compiles == 1


def test_a_graph_that_took_a_reshape_of_an_argument_for_a_view_is_not_reused_for_a_copy():
    """a.reshape(-1) of a contiguous argument is a view (it sees a.mul_), of a transposed one
    a copy (it does not): the graph traced on the first is guarded on the layout."""
    def f(lib, a):
        z = a.reshape(-1)
        a.mul_(2)
        return z * 1

    compiled = tf.compile(lambda a: f(tf, a))
    for make in (lambda lib: lib.tensor(np.arange(6.0).reshape(2, 3)),
                 lambda lib: lib.tensor(np.arange(6.0).reshape(3, 2)).t()):
        mine, ref = make(tf), make(torch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # the transposed argument breaks the graph
            got = compiled(mine)
        np.testing.assert_array_equal(got.numpy(), f(torch, ref).numpy())
        np.testing.assert_array_equal(mine.numpy(), ref.numpy())


def test_a_write_into_a_slice_is_one_graph_and_differentiates_as_torch():
    """y[1:3].mul_(3) and a KV-cache style buffer[:, pos].copy_(k) write their base's region
    (base[index] = value): no graph break, the same values and gradients as torch."""
    def f(lib, a):
        y = a * 1
        y[1:3].mul_(3)
        return (y * y).sum()

    def cache_step(lib, cache, k):
        cache[:, 1].copy_(k)
        return cache[:, :2].sum(0)

    compiled = tf.compile(lambda a: f(tf, a))
    compiled_step = tf.compile(lambda c, k: cache_step(tf, c, k))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for i in range(2):
            a = np.arange(4.0) + i
            mine, ref = tf.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
            got, want = compiled(mine), f(torch, ref)
            got.backward()
            want.backward()
            assert got.item() == want.item()
            np.testing.assert_array_equal(mine.grad.numpy(), ref.grad.numpy())
            cm, cr = tf.zeros(2, 3, dtype=tf.float64), torch.zeros(2, 3, dtype=torch.float64)
            np.testing.assert_array_equal(compiled_step(cm, tf.tensor(a[:2])).numpy(),
                                          cache_step(torch, cr, torch.tensor(a[:2])).numpy())
            np.testing.assert_array_equal(cm.numpy(), cr.numpy())
    for c in (compiled, compiled_step):
        assert c.stats.graph_breaks == 0 and c.stats.compiles == 1


def write_a_split_piece(lib, x):
    a, b = (x * 2).split(2)
    a.mul_(3)
    return b.sum()


def write_a_view_of_a_chunk(lib, x):
    a, b = (x * 2).chunk(2)
    a[:1].add_(1)
    return b.sum()


def write_an_unbound_row(lib, x):
    a, b = (x * 2).view(2, 2).unbind(0)
    a.add_(1)
    return b.sum()


def view_of_a_transpose(lib, x):
    return x.view(2, 2).t().view(4).sum()


def view_of_a_product_of_a_transpose(lib, x):
    return (x.view(2, 2).t() * 2).view(4).sum()   # (laid out as the transpose, eagerly)


def view_of_a_transposed_argument(lib, x):
    return x.t().view(4).sum()


def differentiate_a_piece_after_its_base_was_written(lib, x):
    y = x * 2
    a, b = y.split(2)
    with lib.no_grad():
        y.mul_(2)
    loss = (a * 1).sum()
    loss.backward()
    return loss


@pytest.mark.parametrize("fn", [write_a_split_piece, write_a_view_of_a_chunk,
                                write_an_unbound_row, view_of_a_transpose,
                                view_of_a_product_of_a_transpose,
                                view_of_a_transposed_argument,
                                differentiate_a_piece_after_its_base_was_written])
def test_what_eager_refuses_compiled_code_refuses(fn):
    """A write into a piece of split/chunk/unbind of a tensor that requires grad, a view of a
    tensor whose elements are not evenly spaced, a backward through a piece read after its
    base was written: torch and eager refuse them, and so does the compiled function (it had
    answered)."""
    def args(lib):
        x = lib.ones(4, requires_grad=True, dtype=lib.float64)
        return x.view(2, 2) if fn is view_of_a_transposed_argument else x

    with pytest.raises(RuntimeError) as want:
        fn(torch, args(torch))
    with pytest.raises(RuntimeError) as eager:
        fn(tf, args(tf))
    with pytest.raises(RuntimeError) as got, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tf.compile(lambda x: fn(tf, x))(args(tf))
    assert str(got.value) == str(eager.value), want.value


def test_a_piece_read_after_its_base_was_written_is_not_differentiated_outside():
    """Its backward runs outside the compiled call: eagerly it raises there, so the call runs
    eagerly (a graph break) rather than give the graph's gradient."""
    def f(x):
        y = x * 2
        a, _ = y.split(2)
        y.mul_(2)
        return a.sum(), a.detach() * 1

    x = tf.ones(4, requires_grad=True)
    compiled = tf.compile(f)
    with pytest.warns(UserWarning, match="split/chunk/unbind"):
        loss, value = compiled(x)
    np.testing.assert_array_equal(value.numpy(), [4.0, 4.0])
    with pytest.raises(RuntimeError, match="split/chunk/unbind"):
        loss.backward()
