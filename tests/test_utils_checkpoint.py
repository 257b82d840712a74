"""torch.utils.checkpoint: the same values and gradients as without it (and as torch's), the
checkpointed function run again in the backward, dropout's mask drawn again the same."""
import numpy as np
import pytest
import torch as pt

import tinyflow as torch
import tinyflow.nn as nn
from tinyflow.utils.checkpoint import checkpoint, checkpoint_sequential


def _pair(seed=0):
    """A tinyflow and a torch MLP with the same float64 parameters."""
    rng = np.random.default_rng(seed)
    sizes = [(6, 5), (5, 5), (5, 3)]
    ours = nn.Sequential(*[m for i, o in sizes for m in (nn.Linear(i, o), nn.Tanh())]).double()
    theirs = pt.nn.Sequential(*[m for i, o in sizes
                                for m in (pt.nn.Linear(i, o), pt.nn.Tanh())]).double()
    for p, q in zip(ours.parameters(), theirs.parameters()):
        value = rng.standard_normal(tuple(p.shape))
        p.data = torch.tensor(value)
        q.data = pt.tensor(value)
    return ours, theirs


@pytest.mark.parametrize("reentrant", [True, False])
@pytest.mark.parametrize("input_grad", [True, False])
def test_gradients_equal_torchs_and_the_function_runs_again(reentrant, input_grad):
    ours, theirs = _pair()
    x = np.random.default_rng(1).standard_normal((4, 6))
    calls = []

    def middle(h):
        calls.append(1)
        return ours[2:4](h)

    a = torch.tensor(x, requires_grad=input_grad)
    out = ours[4:](checkpoint(middle, ours[:2](a), use_reentrant=reentrant))
    assert len(calls) == 1
    (out ** 2).sum().backward()
    assert len(calls) == 2                       # recomputed in the backward
    b = pt.tensor(x, requires_grad=input_grad)
    (theirs(b) ** 2).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), theirs(b).detach().numpy(), rtol=1e-12)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10)
    if input_grad:
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10)


def test_an_input_needing_no_gradient_still_gives_the_parameters_theirs():
    """The first checkpointed layer reads data: its parameters still get gradients (PyTorch's
    non-reentrant variant; the reentrant one would leave them None)."""
    ours, theirs = _pair()
    x = np.ones((2, 6))
    checkpoint(ours, torch.tensor(x), use_reentrant=False).sum().backward()
    theirs(pt.tensor(x)).sum().backward()
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10)


def test_dropout_inside_draws_the_same_mask_when_recomputed():
    torch.manual_seed(0)
    w = torch.ones(50, requires_grad=True)
    drop = nn.Dropout(0.5)
    out = checkpoint(lambda v: drop(v * w), torch.ones(50), use_reentrant=False)
    out.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), out.detach().numpy())   # mask * 2 both


def test_checkpoint_sequential_equals_the_plain_run():
    ours, theirs = _pair()
    x = np.random.default_rng(2).standard_normal((3, 6))
    out = checkpoint_sequential(ours, 3, torch.tensor(x), use_reentrant=False)
    out.sum().backward()
    theirs(pt.tensor(x)).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), theirs(pt.tensor(x)).detach().numpy(),
                               rtol=1e-12)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10)
    with pytest.raises(ValueError, match="checkpoint_sequential: segments"):
        checkpoint_sequential(ours, 7, torch.tensor(x), use_reentrant=False)


def test_keywords_non_tensor_arguments_and_the_reentrant_warning():
    w = torch.tensor([2.0, 3.0], requires_grad=True)
    out = checkpoint(lambda v, k, scale=1.0: v * w * k * scale, torch.ones(2), 3.0, scale=2.0,
                     use_reentrant=False)
    out.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [6.0, 6.0])
    with pytest.warns(UserWarning, match="use_reentrant"):
        checkpoint(lambda v: v * 2, torch.ones(2))
    with torch.no_grad():                       # nothing recorded, nothing recomputed
        assert not checkpoint(lambda v: v * w, torch.ones(2), use_reentrant=False).requires_grad
