"""Random short programs of views (slices, view, transpose, narrow, select, unsqueeze,
expand), in-place writes through them and their bases, and a backward, run under torch and
tinyflow side by side: values, w's gradient and whether a step raises must agree. Small and
seeded; a failing seed prints its program."""
import numpy as np
import pytest
import torch

import tinyflow as tf


def _view(rng, lib, t):
    """A random view of t (the same draw for both libraries: rng is drawn before lib)."""
    kind = rng.integers(7)
    dim = int(rng.integers(t.ndim)) if t.ndim else 0
    n = t.shape[dim] if t.ndim else 1
    start = int(rng.integers(n)) if n else 0
    stop = int(rng.integers(start, n + 1)) if n else 0
    if t.ndim == 0 or kind == 5:
        return f"unsqueeze({dim})", t.unsqueeze(dim)
    if kind == 0:
        index = (slice(None),) * dim + (slice(start, stop),)
        return f"[{':, ' * dim}{start}:{stop}]", t[index]
    if kind == 1:
        return f"narrow({dim}, {start}, {stop - start})", t.narrow(dim, start, stop - start)
    if kind == 2 and n:
        return f"select({dim}, {start})", t.select(dim, start)
    if kind == 3 and t.ndim >= 2:
        return "transpose(0, -1)", t.transpose(0, -1)
    if kind == 4:
        return "view(-1)", t.view(-1)
    if kind == 6 and 1 in tuple(t.shape):
        shape = tuple(3 if s == 1 else s for s in t.shape)
        return f"expand{shape}", t.expand(*shape)
    return f"[{start}:]", t[start:] if t.ndim else t


def _write(rng, lib, t, w):
    """A random in-place write into t: a constant, or a value with w's history."""
    kind = rng.integers(6)
    scale = float(rng.integers(1, 4))
    part = (w.reshape(-1)[:max(t.numel(), 1)] * scale)[:t.numel()].reshape(t.shape)
    if kind == 0:
        return "add_(w-part)", t.add_(part)
    if kind == 1:
        return f"mul_({scale})", t.mul_(scale)
    if kind == 2:
        return "mul_(w-part)", t.mul_(part)
    if kind == 3:
        return f"fill_({scale})", t.fill_(scale)
    if kind == 4 and t.ndim and t.shape[0]:
        i = int(rng.integers(t.shape[0]))
        t[i] = part[i] * 2
        return f"[{i}] = w-part", t
    return "copy_(w-part)", t.copy_(part)


def _run(seed: int, lib):
    rng = np.random.default_rng(seed)
    w = lib.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    with_history = bool(rng.integers(2))
    base = w * 1.5 if with_history else lib.zeros(3, 4, dtype=lib.float64)
    pool, steps = [base], [f"base = {'w * 1.5' if with_history else 'zeros(3, 4)'}"]
    try:
        for _ in range(int(rng.integers(3, 8))):
            k = int(rng.integers(len(pool)))
            if rng.integers(2):
                what, out = _view(rng, lib, pool[k])
                pool.append(out)
            else:
                what, out = _write(rng, lib, pool[k], w)
            steps.append(f"t{k}.{what}")
            for t in pool:   # torch regenerates a view's grad_fn when it is read: without
                t.grad_fn    # this, t.mul_(2) after t[0] = w raised "a leaf Variable ..."
        coefs = [float(c) for c in rng.integers(1, 5, len(pool))]
        loss = sum((t * c).sum() for t, c in zip(pool, coefs))
        if loss.requires_grad:
            loss.backward()
    except RuntimeError as e:
        return steps, f"raised: {str(e)[:300]}"
    grad = None if w.grad is None else w.grad.numpy().copy()
    return steps, ([t.detach().numpy().copy() for t in pool], grad)


@pytest.mark.parametrize("chunk", range(4))
def test_random_views_and_in_place_writes_as_torch(chunk):
    for seed in range(chunk * 60, chunk * 60 + 60):
        steps, theirs = _run(seed, torch)
        mine_steps, mine = _run(seed, tf)
        program = f"seed {seed}: " + "; ".join(steps)
        if isinstance(theirs, str) or isinstance(mine, str):   # both refuse (one may refuse
            assert isinstance(mine, str) and isinstance(theirs, str), (program, mine, theirs)
            continue   # a step earlier: fill_ into an expand of a base with history, seed 100)
        assert mine_steps == steps, program
        for a, b in zip(mine[0], theirs[0]):
            np.testing.assert_allclose(a, b, err_msg=program)
        assert (mine[1] is None) == (theirs[1] is None), program
        if theirs[1] is not None:
            np.testing.assert_allclose(mine[1], theirs[1], err_msg=program)
