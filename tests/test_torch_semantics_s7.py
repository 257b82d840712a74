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
