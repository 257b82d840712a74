"""torch.testing.assert_close: the same verdicts as torch's on the same inputs."""
import numpy as np
import pytest
import torch as pt

import tinyflow


CASES = [   # (actual, expected, keywords): built for both libraries
    (lambda L: L.tensor([1.0, 2.0]), lambda L: L.tensor([1.0, 2.0 + 1e-7]), {}),
    (lambda L: L.tensor([1.0, 2.0]), lambda L: L.tensor([1.0, 2.001]), {}),
    (lambda L: L.tensor([1.0, 2.0]), lambda L: L.tensor([1.0, 2.001]),
     dict(rtol=1e-2, atol=0.0)),
    (lambda L: L.tensor([1.0, 2.0]), lambda L: L.tensor([1.0, 2.0], dtype=L.float64), {}),
    (lambda L: L.tensor([1.0, 2.0]), lambda L: L.tensor([1.0, 2.0], dtype=L.float64),
     dict(check_dtype=False)),
    (lambda L: L.tensor([1.0, 2.0]), lambda L: L.tensor([[1.0, 2.0]]), {}),
    (lambda L: L.tensor([float("nan")]), lambda L: L.tensor([float("nan")]), {}),
    (lambda L: L.tensor([float("nan")]), lambda L: L.tensor([float("nan")]),
     dict(equal_nan=True)),
    (lambda L: L.tensor([1, 2]), lambda L: L.tensor([1, 3]), {}),
    (lambda L: L.tensor([1.0], dtype=L.float16), lambda L: L.tensor([1.0009],
                                                                      dtype=L.float16), {}),
    (lambda L: [L.tensor(1.0), {"a": L.tensor([2.0])}],
     lambda L: [L.tensor(1.0), {"a": L.tensor([2.0])}], {}),
    (lambda L: [L.tensor(1.0), {"a": L.tensor([2.0])}],
     lambda L: [L.tensor(1.0), {"a": L.tensor([2.5])}], {}),
    (lambda L: 1.0, lambda L: 1.0 + 1e-9, {}),
]


@pytest.mark.parametrize("actual, expected, keywords", CASES)
def test_verdicts_match_torch(actual, expected, keywords):
    def verdict(L, check):
        try:
            check(actual(L), expected(L), **keywords)
            return "close"
        except AssertionError:
            return "differ"
    want = verdict(pt, pt.testing.assert_close)
    assert verdict(tinyflow, tinyflow.testing.assert_close) == want


def test_the_message_says_where_and_how_much():
    with pytest.raises(AssertionError, match=r"value\[1\]\['a'\]: 1 of 2 elements differ .*"
                                             r"largest difference is 0.5 at index \(1,\)"):
        tinyflow.testing.assert_close([1.0, {"a": tinyflow.tensor([2.0, 3.0])}],
                                      [1.0, {"a": tinyflow.tensor([2.0, 3.5])}])
    with pytest.raises(ValueError, match="both rtol and atol"):
        tinyflow.testing.assert_close(tinyflow.ones(1), tinyflow.ones(1), rtol=1e-3)


def test_vmap_at_the_top_level():
    out = tinyflow.vmap(lambda row: (row * row).sum())(tinyflow.tensor(np.eye(3) * 2))
    np.testing.assert_array_equal(out.numpy(), [4.0, 4.0, 4.0])
