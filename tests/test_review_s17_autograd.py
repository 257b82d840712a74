"""Session 17 review: autograd semantics around the eager layer-norm / residual join
(hooks, retained gradients, a user's output gradient, partial `grad` requests), checked
against torch in float64. They hold on main and must keep holding with the join."""
import numpy as np
import pytest
import torch

import tinyflow as tt

RNG = np.random.default_rng(0)
XS, WS, BS = RNG.standard_normal((3, 5, 8)), RNG.standard_normal(8), RNG.standard_normal(8)
MS, GS = RNG.standard_normal((8, 8)) / 3, RNG.standard_normal((3, 5, 8))


def _leaves(lib):
    return [lib.tensor(a.copy(), requires_grad=True) for a in (XS, WS, BS, MS)]


def _block(lib, x, w, b, m):
    return x + lib.nn.functional.layer_norm(x, (8,), w, b) @ m


def _hooks_and_retained(lib):
    x, w, b, m = _leaves(lib)
    x.register_hook(lambda g: g * 2)
    y = _block(lib, x, w, b, m)
    y.retain_grad()
    y.register_hook(lambda g: g * 3)
    z = _block(lib, y, w, b, m)
    z.retain_grad()
    (z * lib.tensor(GS)).sum().backward()
    return x.grad, y.grad, z.grad, w.grad, b.grad, m.grad


def _user_gradient(lib):
    x, w, b, m = _leaves(lib)
    gy = lib.tensor(GS.copy())
    _block(lib, x, w, b, m).backward(gy)
    return x.grad, w.grad, gy           # gy must come back unchanged


def _partial_requests(lib):
    x, w, b, m = _leaves(lib)
    loss = (_block(lib, _block(lib, x, w, b, m), w, b, m) * lib.tensor(GS)).sum()
    only_x = lib.autograd.grad(loss, [x], retain_graph=True)
    only_w = lib.autograd.grad(loss, [w], retain_graph=True)
    return only_x + only_w + lib.autograd.grad(loss, [x, b])


@pytest.mark.parametrize("case", [_hooks_and_retained, _user_gradient, _partial_requests])
def test_layer_norm_residual_semantics_match_torch(case):
    for ours, theirs in zip(case(tt), case(torch)):
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
