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
    y = x
    for _ in range(10):
        y = y * 1.5      # a history of 10 nodes
    acc = x * 1
    acc += y             # walks y's history
    if other_write:
        other = x * 4
        other.add_(1)    # another history moves: what the last walk left may read acc now
    before = walked[0]
    acc += y * 2
    # new: the sum and `y * 2`; y's 10 nodes again only after the other write
    assert (walked[0] - before == 12) if other_write else (walked[0] - before == 2)
    acc.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1 + 3 * 1.5 ** 10] * 3, rtol=1e-12)


def test_an_in_place_activation_walks_one_node_not_the_network(walked):
    """MobileNet's `nn.ReLU6(inplace=True)` after each batch norm: its write looked at every
    node before it (through the stand-in of the old history), 16 times a step."""
    x = tf.ones(4, dtype=tf.float64, requires_grad=True)
    h = x
    for _ in range(30):
        h = tf.tanh(h * 1.5)
    h = h * 1   # a non-leaf to write into
    before = walked[0]
    h.clamp_(0, 0.5)
    assert walked[0] - before == 1
    h.sum().backward()
    t = torch.ones(4, dtype=torch.float64, requires_grad=True)
    g = t
    for _ in range(30):
        g = torch.tanh(g * 1.5)
    g = g * 1
    g.clamp_(0, 0.5)
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)
