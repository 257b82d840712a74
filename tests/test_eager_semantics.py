"""Eager in-place writes and views as PyTorch's (torch is the oracle): views made before
their base took a history, views made under no_grad, views of leaves, and F.pad's circular
refusal. The randomized sequences of views and writes are in test_inplace_views_random.py."""
import numpy as np
import pytest
import torch

import tinyflow as tf
import tinyflow.nn.functional as TF


def both(program):
    """program(lib) under torch and tinyflow: its results as lists, or the exception type."""
    out = []
    for lib in (torch, tf):
        try:
            out.append([np.asarray(r.detach().numpy()).tolist() for r in program(lib)])
        except RuntimeError:
            out.append(RuntimeError)
    return out


def test_an_older_view_read_after_its_base_took_history():
    def program(lib):
        w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        b = lib.zeros(3)
        v = b[:2]
        b += w * w
        assert v.requires_grad
        (v * 3).sum().backward()
        return [w.grad, v]
    theirs, mine = both(program)
    assert mine == theirs == [[6.0, 12.0, 0.0], [1.0, 4.0]]


def test_several_views_and_views_of_views_take_their_base_history():
    def program(lib):
        w = lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
        b = lib.zeros(2, 3)
        row, col = b[1], b.t()[2]
        inner = b.view(6)[1:5].view(2, 2)
        col[0] = 7.0             # a constant into b: b takes no history yet
        b.mul_(2)
        row.add_(w[0])           # through a view: b takes w's history
        inner[0, 1] = inner[1, 0].clone() * w[1, 1]
        loss = (b * b).sum() + (row * col[1]).sum() + inner.sum()
        loss.backward()
        return [w.grad, b, row, col, inner]
    theirs, mine = both(program)
    np.testing.assert_allclose(np.array(mine[0]), np.array(theirs[0]))
    assert mine[1:] == theirs[1:]


def test_a_write_through_the_base_after_a_write_through_an_older_view():
    def program(lib):
        w = lib.ones(4, requires_grad=True)
        b = lib.zeros(4)
        v = b.view(2, 2)
        b.add_(w)
        v[:, 1] *= w[:2]
        b[0] = b[3] * 2
        b.sum().backward()
        return [w.grad, v]
    theirs, mine = both(program)
    assert mine == theirs


def test_writes_into_a_view_made_under_no_grad_are_refused_as_torchs():
    def grad_base(lib):
        w = lib.ones(3, requires_grad=True)
        b = w * 1
        with lib.no_grad():
            v = b[:2]
        v.fill_(0)
        return [b]

    def grad_value(lib):
        w = lib.ones(3, requires_grad=True)
        b = lib.zeros(3)
        with lib.no_grad():
            v = b[:2]
        v.add_(w[:2])
        return [b]

    def constant(lib):   # no autograd anywhere: allowed
        b = lib.zeros(3)
        with lib.no_grad():
            v = b[:2]
        v.fill_(2)
        return [b]
    assert both(grad_base) == [RuntimeError, RuntimeError]
    assert both(grad_value) == [RuntimeError, RuntimeError]
    assert both(constant)[0] == both(constant)[1] == [[2.0, 2.0, 0.0]]


def test_a_view_made_under_no_grad_is_refused_once_its_base_took_history():
    def program(lib):
        w = lib.ones(3, requires_grad=True)
        b = lib.zeros(3)
        with lib.no_grad():
            v = b[:2]
        b += w
        ((v * 2).sum() + b.sum()).backward()
        return [w.grad]
    assert both(program) == [RuntimeError, RuntimeError]


def test_a_view_of_a_tensor_that_then_requires_grad_is_not_written():
    def program(lib):
        b = lib.zeros(3)
        v = b[:2]
        b.requires_grad_()
        v.mul_(2)
        return [b]
    assert both(program) == [RuntimeError, RuntimeError]


def test_a_value_saved_for_backward_then_overwritten_keeps_its_old_history():
    """torch raises here; tinyflow's stand-in keeps the values the product read, so its
    gradient is torch's without the write: right, not silently wrong."""
    def program(lib, write):
        w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = w * 2
        z = y * y
        if write:
            y[1:].add_(1)
        z.sum().backward()
        return [w.grad]
    assert both(lambda lib: program(lib, True))[0] is RuntimeError
    assert both(lambda lib: program(lib, True))[1] == both(lambda lib: program(lib, False))[0]


@pytest.mark.parametrize("pad", [(4, 0), (0, 4), (1, 5)])
def test_circular_padding_that_wraps_twice_is_refused(pad):
    x = np.arange(3.0).reshape(1, 1, 3)
    with pytest.raises(RuntimeError):
        torch.nn.functional.pad(torch.tensor(x), pad, mode="circular")
    with pytest.raises(RuntimeError, match="more than once"):
        TF.pad(tf.tensor(x), pad, mode="circular")
    np.testing.assert_array_equal(   # as large as the size: one whole wrap, as torch
        TF.pad(tf.tensor(x), (3, 3), mode="circular").numpy(),
        torch.nn.functional.pad(torch.tensor(x), (3, 3), mode="circular").numpy())


def test_views_take_history_without_scanning_the_heap(monkeypatch):
    """`buf[0] += out` on a fresh buffer (a live temporary view) fires every training step;
    a heap scan (gc.get_referrers) there cost ~40 ms a step with 2 million live objects."""
    import gc

    def refuse(*args):
        raise AssertionError("the heap was scanned")

    monkeypatch.setattr(gc, "get_referrers", refuse)
    monkeypatch.setattr(gc, "get_objects", refuse)
    w = tf.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = tf.zeros(2, 3)
    row = b[1]
    b[0] += w * w
    row += w
    b.sum().backward()
    assert w.grad.tolist() == [3.0, 5.0, 7.0]


def test_a_base_remembers_its_views_in_bounded_memory():
    """Views of a long-lived buffer without grad (a dataset's batches, x[i:i + 32]) come and
    go; the base's weak references to them are dropped as they die, the live ones kept."""
    b = tf.zeros(64, 3)
    kept = [b[i] for i in range(40)]
    for i in range(20000):
        b[i % 64]
    assert len(b._views) < 256
    w = tf.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b[63] += w
    assert all(v.requires_grad for v in kept)
    (kept[5] * 2).sum().backward()
    assert w.grad.tolist() == [0.0, 0.0, 0.0]
    kept[7] += w
    b.sum().backward()
    assert w.grad.tolist() == [2.0, 2.0, 2.0]


def test_views_made_under_no_grad_are_not_remembered_but_still_found():
    """No-grad inference makes views by the million: they are not registered with their base
    (no cost), and the rare one alive when its base takes a history is found by a scan."""
    b = tf.zeros(2, 3)
    with tf.no_grad():
        v = b[0]
        u = b.t()
    assert b._views is None
    row = b[1]   # made in grad mode: remembered
    w = tf.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b[1] += w
    assert row.requires_grad
    with pytest.raises(RuntimeError, match="no_grad"):
        (v * 2).sum().backward()
    with pytest.raises(RuntimeError, match="no_grad"):
        u.add_(1.0)


@pytest.mark.parametrize("pieces", [lambda b: b.unbind(0), lambda b: b.split(1),
                                    lambda b: b.chunk(2)])
def test_multi_output_views_of_a_tensor_without_grad_are_no_grad_views(pieces):
    """torch treats split/chunk/unbind's views of a base without grad as made under no_grad:
    they do not follow the base's later history (reading or writing one raises), where
    views_take_history alone gave them a gradient. (tensor_split's are plain slices.)"""
    def read(lib):
        w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        b = lib.zeros(2, 3)
        r0, r1 = pieces(b)
        b[0] += w
        (r1 * 2 + r0).sum().backward()
        return [w.grad]

    def write(lib):
        w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        b = lib.zeros(2, 3)
        r0, r1 = pieces(b)
        b[0] += w
        r1.mul_(2)
        return [b]

    assert both(read) == [RuntimeError, RuntimeError]
    assert both(write) == [RuntimeError, RuntimeError]
    b = tf.zeros(2, 3)   # without autograd they stay plain views
    r0, r1 = pieces(b)
    r1 += 1.0
    assert b.tolist() == [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]


_PIECES = {"split": lambda b: b.split(1), "chunk": lambda b: b.chunk(2),
           "unbind": lambda b: b.unbind(0), "split_sizes": lambda b: b.split([1, 1]),
           "functional_split": lambda b: type(b).split(b, 1)}
_WRITES = {"mul_": lambda r: r.mul_(2), "setitem": lambda r: r.__setitem__(0, 5.0),
           "into_a_view_of_it": lambda r: r.view(-1)[:1].fill_(0)}


@pytest.mark.parametrize("pieces", _PIECES.values(), ids=_PIECES)
@pytest.mark.parametrize("write", _WRITES.values(), ids=_WRITES)
@pytest.mark.parametrize("leaf", [True, False])
def test_multi_output_views_of_a_tensor_with_grad_are_not_written_in_place(pieces, write,
                                                                           leaf):
    """torch refuses, in grad mode, an in-place write into an output of split, chunk or
    unbind of a tensor that requires grad, or into a view of one (their one gradient node
    cannot take one piece's new history); under no_grad, detached, or from tensor_split
    (slices), the write is allowed."""
    def grad_mode(lib):
        w = lib.ones(2, 3, requires_grad=True)
        r = pieces(w if leaf else w * 1)
        write(r[0])
        return [r[0]]

    def allowed(lib):
        w = lib.ones(2, 3, requires_grad=True)
        b = w * 1
        with lib.no_grad():
            write(pieces(b)[0])
        write(pieces(b)[1].detach())
        write(lib.tensor_split(b, 2)[0])
        b.sum().backward()
        return [b, w.grad]
    assert both(grad_mode) == [RuntimeError, RuntimeError]
    theirs, mine = both(allowed)
    assert theirs != RuntimeError and mine == theirs


@pytest.mark.parametrize("pieces", _PIECES.values(), ids=_PIECES)
def test_multi_output_views_read_after_their_base_was_written_are_refused(pieces):
    """torch refuses to differentiate an output of split/chunk/unbind (of a tensor with grad)
    after its base or a sibling was written in place, under no_grad too; one read before the
    write keeps the history it had."""
    def base_written(lib):
        w = lib.ones(2, 3, requires_grad=True)
        b = w * 1
        r = pieces(b)
        b.mul_(2)
        r[0].sum().backward()
        return [w.grad]

    def sibling_written_under_no_grad(lib):
        w = lib.ones(2, 3, requires_grad=True)
        r = pieces(w * 1)
        with lib.no_grad():
            r[0].mul_(2)
        (r[1] * 3).sum().backward()
        return [w.grad]

    def read_before(lib):
        w = lib.ones(2, 3, requires_grad=True)
        b = w * 1
        r = pieces(b)
        s = r[0] * 2
        b.mul_(3)
        (s.sum() + b.sum()).backward()
        return [w.grad, b]
    assert both(base_written) == [RuntimeError, RuntimeError]
    assert both(sibling_written_under_no_grad) == [RuntimeError, RuntimeError]
    theirs, mine = both(read_before)
    assert theirs != RuntimeError and mine == theirs


@pytest.mark.parametrize("pieces", _PIECES.values(), ids=_PIECES)
def test_multi_output_views_read_before_a_write_under_no_grad_keep_their_history(pieces):
    """torch refuses a piece at its first use after its base or a sibling was written, not
    at backward: one read only before the write (an optimizer-style step on the base under
    no_grad between the forward and the backward, a retained graph run again) is
    differentiated through its history as it was."""
    def base_written(lib):
        w = lib.ones(2, 3, requires_grad=True)
        r = pieces(w)
        s = (r[0] * 2).sum() + (r[1] * 3).sum()
        with lib.no_grad():
            w.mul_(2)
        s.backward()
        return [w.grad, w]

    def sibling_written(lib):
        w = lib.ones(2, 3, requires_grad=True)
        r = pieces(w * 1)
        s = (r[0] * 2).sum()
        with lib.no_grad():
            r[1].mul_(2)
        s.backward()
        return [w.grad]

    def graph_run_again(lib):
        w = lib.ones(2, 3, requires_grad=True)
        r = pieces(w)
        s = (r[0] * 3 + r[1] * 2).sum()
        s.backward(retain_graph=True)
        with lib.no_grad():
            w.sub_(w.grad * 0.1)
        s.backward()
        return [w.grad, w]
    def backward_from_it(lib):   # the backward reads it now: refused
        w = lib.ones(2, 3, requires_grad=True)
        r = pieces(w * 1)
        with lib.no_grad():
            r[1].mul_(2)
        r[0].backward(lib.ones(r[0].shape))
        return [w.grad]
    for program in (base_written, sibling_written, graph_run_again):
        theirs, mine = both(program)
        assert theirs != RuntimeError and mine == theirs, program.__name__
    assert both(backward_from_it) == [RuntimeError, RuntimeError]


def test_a_base_that_remembers_its_views_pickles():
    """`_views` holds weak references, which do not pickle: pickling leaves it out."""
    import copy
    import pickle
    b = tf.zeros(2, 3)
    row = b[1]
    assert pickle.loads(pickle.dumps(b)).tolist() == [[0.0] * 3] * 2
    assert pickle.loads(pickle.dumps(row)).tolist() == [0.0] * 3
    assert copy.deepcopy(b).shape == (2, 3)
