"""A loss summed in place over a sequence (`loss += criterion(out, y[t])`, the seq2seq and
char-RNN tutorials): each write walks only the history made since the last one
(`tape._unwalked`), not the whole history so far, and gradients stay torch's, also when
other in-place writes come between (which make the next walk a whole one again)."""
import numpy as np
import pytest
import torch

import tinyflow as tf
from tinyflow.autodiff import tape


@pytest.fixture
def walked(monkeypatch):
    """Counts the nodes the in-place writes' walks look at."""
    count = [0]
    inner = tape._unwalked

    def counting(result, target):
        for node in inner(result, target):
            count[0] += 1
            yield node
    monkeypatch.setattr(tape, "_unwalked", counting)
    return count


def _rnn_loss(t, steps, other_write_every=0):
    rng = np.random.default_rng(0)
    w = t.tensor(rng.standard_normal((4, 4)) * 0.5, requires_grad=True)
    xs = t.tensor(rng.standard_normal((steps, 4)))
    h, loss = t.zeros(4, dtype=t.float64), t.zeros((), dtype=t.float64)
    for k in range(steps):
        h = t.tanh(xs[k] + h @ w)
        loss += (h * h).sum()
        if other_write_every and k % other_write_every == 0:
            g = h * 1
            g.mul_(2)          # another tensor's history moves: the next walk is whole
            loss += g.sum()
    loss.backward()
    return loss.item(), w.grad.numpy()


def test_each_write_walks_only_the_new_nodes(walked):
    _rnn_loss(tf, 100)
    per_step = walked[0] / 100
    assert per_step < 12, per_step   # ~6 new nodes a step; the whole history: ~300 a step


@pytest.mark.parametrize("other_write_every", [0, 1, 7])
def test_gradients_match_torch(other_write_every):
    ours, theirs = _rnn_loss(tf, 30, other_write_every), _rnn_loss(torch, 30, other_write_every)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-10)


@pytest.mark.parametrize("other_write", [False, True])
def test_a_walk_after_another_tensors_write_is_whole_again(walked, other_write):
    x = tf.ones(3, dtype=tf.float64, requires_grad=True)
    acc = x * 1
    y = x * 2
    acc += y * 1
    if other_write:
        other = x * 4
        other.add_(1)    # another history moves: what the last walk left may read acc now
    before = walked[0]
    acc += x * 3
    # new: the sum, `x * 3` and acc's stand-in; a whole walk also looks at acc's old nodes
    assert (walked[0] - before > 3) if other_write else (walked[0] - before == 3)
    acc.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1 + 2 + 3] * 3)
