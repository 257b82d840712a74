"""Run the same code on PyTorch and on tinyflow and compare: the helper behind the tables of
test_nn.py and test_functional.py, plus a float64 finite-difference gradient check.

Tests describe inputs with small specs (`X(2, 3)`: float32 normals that require grad,
`Ids(5, 4)`: class ids, ...). `compare` draws one set of arrays, builds the torch and
tinyflow versions of every input, calls `fn(lib, *inputs)` with lib = torch or tinyflow (so a
case is written once: `lambda L, x: L.nn.functional.gelu(x)`), and compares the outputs, the
gradients of the inputs and of any given parameter pairs, after a backward pass of the
outputs weighted by random cotangents.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch

import tinyflow

RTOL, ATOL = 1e-5, 1e-6  # float32: atol covers values summed to near zero in another order


# ---- input specs ---------------------------------------------------------------------------

@dataclass
class X:
    """A float input: standard normal by default, or `domain(rng, shape)`."""
    shape: tuple
    grad: bool = True
    domain: Optional[Callable] = None

    def __init__(self, *shape, grad=True, domain=None):
        self.shape, self.grad, self.domain = shape, grad, domain

    def draw(self, rng):
        values = rng.standard_normal(self.shape) if self.domain is None else \
            self.domain(rng, self.shape)
        return np.asarray(values, np.float32)


@dataclass
class Ids:
    """int64 ids in [0, high)."""
    high: int
    shape: tuple

    def __init__(self, high, *shape):
        self.high, self.shape = high, shape

    def draw(self, rng):
        return rng.integers(0, self.high, self.shape).astype(np.int64)


@dataclass
class Mask:
    """A bool mask, True with probability `p` (first column always False: no empty row)."""
    shape: tuple
    p: float = 0.3

    def __init__(self, *shape, p=0.3):
        self.shape, self.p = shape, p

    def draw(self, rng):
        mask = rng.random(self.shape) < self.p
        mask[..., 0] = False
        return mask


@dataclass
class Given:
    """A fixed array (no gradient)."""
    value: np.ndarray

    def draw(self, rng):
        return np.asarray(self.value)


def probabilities(rng, shape):
    p = rng.uniform(0.1, 1, shape)
    return p / p.sum(1, keepdims=True)


def unit_interval(rng, shape):
    return rng.uniform(0.05, 0.95, shape)


def positive(rng, shape):
    return rng.uniform(0.5, 2, shape)


SPECS = (X, Ids, Mask, Given)


def build(spec, rng, leaves: list):
    """(torch value, tinyflow value) for a spec tree; float leaves needing grad are
    appended to `leaves` as (torch, tinyflow) pairs."""
    if isinstance(spec, SPECS):
        arr = spec.draw(rng)
        grad = isinstance(spec, X) and spec.grad
        t = torch.tensor(arr, requires_grad=grad)
        f = tinyflow.tensor(arr, requires_grad=grad)
        if grad:
            leaves.append((t, f))
        return t, f
    if isinstance(spec, (tuple, list)):
        pairs = [build(s, rng, leaves) for s in spec]
        return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)
    if isinstance(spec, dict):
        pairs = {k: build(s, rng, leaves) for k, s in spec.items()}
        return {k: p[0] for k, p in pairs.items()}, {k: p[1] for k, p in pairs.items()}
    return spec, spec


def flatten(value) -> list:
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in flatten(v)]
    return [] if value is None else [value]


def assert_close(actual, expected, what: str, rtol=RTOL, atol=ATOL) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def compare(torch_fn, tf_fn, args=(), kwargs=None, params=(), seed=0, rtol=RTOL,
            atol=ATOL) -> tuple:
    """Forward and backward on both libraries; `params` are extra (name, torch, tinyflow)
    tensors whose gradients must match. Returns the two flattened outputs."""
    rng = np.random.default_rng(seed)
    leaves: list = []
    targs, fargs = build(tuple(args), rng, leaves)
    tkw, fkw = build(dict(kwargs or {}), rng, leaves)
    touts, fouts = flatten(torch_fn(*targs, **tkw)), flatten(tf_fn(*fargs, **fkw))
    assert len(touts) == len(fouts), f"{len(fouts)} outputs, torch has {len(touts)}"
    for k, (t, f) in enumerate(zip(touts, fouts)):
        assert isinstance(f, tinyflow.Tensor), f"output {k} is {type(f).__name__}"
        assert f.dtype.name == str(t.dtype).replace("torch.", ""), f"output {k}: {f.dtype}"
        assert_close(f.detach().numpy(), t.detach().numpy(), f"output {k}", rtol, atol)
    cotangents = [rng.standard_normal(tuple(t.shape)).astype(np.float32) for t in touts]
    pairs = [(t, f, g) for t, f, g in zip(touts, fouts, cotangents) if t.requires_grad]
    if not pairs:
        return touts, fouts
    sum((t * torch.tensor(g)).sum() for t, _, g in pairs).backward()
    tf_loss = None
    for _, f, g in pairs:
        assert f.requires_grad, "output does not require grad, torch's does"
        term = (f * tinyflow.tensor(g)).sum()
        tf_loss = term if tf_loss is None else tf_loss + term
    tf_loss.backward()
    named = [(f"input {k}", t, f) for k, (t, f) in enumerate(leaves)] + list(params)
    for name, t, f in named:
        if t.grad is None:
            assert f.grad is None or not np.any(f.grad.numpy()), f"{name}: unexpected grad"
            continue
        assert f.grad is not None, f"{name}: no gradient"
        assert_close(f.grad.numpy(), t.grad.numpy(), f"grad of {name}", rtol, atol)
    return touts, fouts


# ---- modules ---------------------------------------------------------------------------------

def randomize(module: torch.nn.Module, rng) -> None:
    """Random parameters and running statistics (variances positive), so affine parts and
    eval-mode statistics are tested away from their trivial defaults."""
    with torch.no_grad():
        for name, t in list(module.named_parameters()) + list(module.named_buffers()):
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                values = rng.uniform(0.5, 1.5, tuple(t.shape))
            else:
                values = 0.5 * rng.standard_normal(tuple(t.shape))
            t.copy_(torch.tensor(values))


def copy_state(torch_module: torch.nn.Module, module) -> None:
    """Load torch's state_dict, as NumPy arrays, into the tinyflow module."""
    module.load_state_dict({k: v.detach().numpy() for k, v in
                            torch_module.state_dict().items()})


def param_pairs(torch_module, module) -> list:
    ours = dict(module.named_parameters())
    theirs = dict(torch_module.named_parameters())
    assert list(ours) == list(theirs), f"parameter names {list(ours)} != {list(theirs)}"
    return [(f"param {k}", theirs[k], ours[k]) for k in theirs]


# ---- finite differences ----------------------------------------------------------------------

def gradcheck(fn, *arrays, seed=0, eps=1e-6, rtol=1e-5, atol=1e-7) -> None:
    """Check backward() of `fn(*float64 tensors)` against central differences of
    sum(fn(...) * w) for a random w, element by element (keep inputs small)."""
    rng = np.random.default_rng(seed)
    arrays = [np.array(a, np.float64) for a in arrays]
    tensors = [tinyflow.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    w = rng.standard_normal(out.shape)
    (out * tinyflow.tensor(w)).sum().backward()

    def value(values) -> float:
        with tinyflow.no_grad():
            return float(np.sum(fn(*[tinyflow.tensor(v) for v in values]).numpy() * w))

    for k, a in enumerate(arrays):
        numeric = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            plus = [v.copy() for v in arrays]
            minus = [v.copy() for v in arrays]
            plus[k][i] += eps
            minus[k][i] -= eps
            numeric[i] = (value(plus) - value(minus)) / (2 * eps)
        np.testing.assert_allclose(tensors[k].grad.numpy(), numeric, rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {k}")
