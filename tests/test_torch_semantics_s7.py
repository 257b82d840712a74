"""Answers the session-7 review found wrong against PyTorch 2.13 (issue 14, "their code,
unchanged"): the same snippet on torch and on tinyflow, values, dtypes, types and errors
compared."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import tinyflow

LIBS = (torch, tinyflow)


def both(fn):
    """fn(lib) for torch and tinyflow."""
    return fn(torch), fn(tinyflow)


def error_of(fn):
    """The exception type fn raises (None if it returns)."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the type is the answer
        return type(e)
    return None


# ---- split and friends return tuples --------------------------------------------------------

SPLITS = {
    "split": lambda L, y: L.split(y, 2), "method split": lambda L, y: y.split(2),
    "split sizes": lambda L, y: y.split([2, 4]), "chunk": lambda L, y: L.chunk(y, 4),
    "method chunk": lambda L, y: y.chunk(3), "unbind": lambda L, y: y.unbind(),
    "tensor_split": lambda L, y: L.tensor_split(y, 4), "hsplit": lambda L, y: L.hsplit(y, 3),
    "hsplit at": lambda L, y: y.hsplit([1, 4]),
    "vsplit": lambda L, y: L.vsplit(y.view(2, 3), 2),
    "dsplit": lambda L, y: L.dsplit(y.view(1, 2, 3), [1]),
}


@pytest.mark.parametrize("case", SPLITS)
def test_splits_return_tuples_of_the_same_pieces(case):
    ours, theirs = SPLITS[case](tinyflow, tinyflow.arange(6)), SPLITS[case](torch, torch.arange(6))
    assert type(ours) is type(theirs) is tuple
    assert [p.tolist() for p in ours] == [p.tolist() for p in theirs]


@pytest.mark.parametrize("fn", [lambda L: L.hsplit(L.arange(6), 4),
                                lambda L: L.vsplit(L.arange(6), 2),
                                lambda L: L.dsplit(L.arange(6).view(2, 3), 3)])
def test_directional_splits_refuse_what_torch_refuses(fn):
    assert error_of(lambda: fn(torch)) is RuntimeError
    with pytest.raises(RuntimeError, match="split"):
        fn(tinyflow)


# ---- nn.utils.parameters_to_vector / vector_to_parameters ----------------------------------

def test_parameters_to_vector_and_back_as_torch():
    def run(L):
        L.manual_seed(0)
        net = L.nn.Sequential(L.nn.Linear(3, 4), L.nn.Linear(4, 2))
        with L.no_grad():
            for p in net.parameters():
                p.copy_(L.tensor(np.linspace(-1, 1, p.numel(), dtype=np.float32)).view(p.shape))
        vec = L.nn.utils.parameters_to_vector(net.parameters())
        (vec * L.arange(vec.numel())).sum().backward()
        grads = [p.grad.clone() for p in net.parameters()]
        L.nn.utils.vector_to_parameters(L.arange(30, dtype=L.float32) * 0.5, net.parameters())
        return vec.detach(), grads, [p.detach().clone() for p in net.parameters()]
    theirs, ours = both(run)
    for a, b in zip([theirs[0], *theirs[1], *theirs[2]], [ours[0], *ours[1], *ours[2]]):
        np.testing.assert_allclose(b.numpy(), a.numpy())


def test_vector_to_parameters_refuses_as_torch():
    for L in LIBS:
        params = list(L.nn.Linear(2, 3).parameters())
        with pytest.raises(TypeError, match="Tensor"):
            L.nn.utils.vector_to_parameters([1.0, 2.0], params)
        with pytest.raises(RuntimeError):
            L.nn.utils.vector_to_parameters(L.zeros(5), params)
