"""Answers a differential fuzzer (random op calls run on PyTorch and on tinyflow, session 10)
found wrong, reduced to their smallest cases: values, dtypes, shapes and gradients compared
with PyTorch's, and errors where PyTorch raises."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import tinyflow


def _arrays(out):
    """Tensors (and tuples of them) as (dtype name, shape, values)."""
    if isinstance(out, (tuple, list)):
        return [a for o in out for a in _arrays(o)]
    return [(str(out.dtype).split(".")[-1], tuple(out.shape), out.detach().numpy())]


def _leaf(L, values, dtype="float64"):
    return L.tensor(np.asarray(values, dtype), requires_grad=True)


def _grads(fn):
    """fn(L, x) -> out for a float64 leaf x; (out, x.grad) after out's backward with weights."""
    def run(L):
        x = _leaf(L, np.arange(-3.0, 3.0).reshape(2, 3) / 2)
        out = fn(L, x)
        weights = L.tensor(np.linspace(1, 2, out.numel()).reshape(tuple(out.shape)))
        (out * weights).sum().backward()
        return out, x.grad
    return run


CASES = {
    # float functions of bool / int8 / uint8 in float32 (NumPy's loops give float16)
    "exp of uint8": lambda L: L.exp(L.tensor([0, 3, 12, 200], dtype=L.uint8)),
    "log of int8": lambda L: L.log(L.tensor([1, 5, 7, 127], dtype=L.int8)),
    "cos of bool": lambda L: L.tensor([True, False]).cos(),
    "tanh of uint8": lambda L: L.tanh(L.tensor([1, 2], dtype=L.uint8)),
    "sigmoid of uint8": lambda L: L.sigmoid(L.tensor([0, 3, 250], dtype=L.uint8)),
    # a Python int beyond a small int's range wraps, as PyTorch's
    "uint8 > -3": lambda L: L.tensor([0, 1, 5], dtype=L.uint8) > -3,
    "int8 < 300": lambda L: L.tensor([0, -1, 5], dtype=L.int8) < 300,
    "uint8 / -4": lambda L: L.tensor([1, 200], dtype=L.uint8) / -4,
    "-4 / uint8": lambda L: -4 / L.tensor([1, 200], dtype=L.uint8),
    "uint8 + 300": lambda L: L.tensor([1, 200], dtype=L.uint8) + 300,
    # float by integer zero: inf / NaN, not an integer division error
    "float // int zero": lambda L: L.tensor([1.0, -2.0]) // L.tensor([0, 1]),
    "float % int zero": lambda L: L.remainder(L.tensor([1.0, -2.0]), L.tensor([0, 2])),
    "copysign promotes": lambda L: L.copysign(L.tensor([3]), L.tensor(-1.0, dtype=L.float64)),
    "xlogy promotes": lambda L: L.xlogy(L.tensor([1, 2]), L.tensor(3.0, dtype=L.float64)),
    "logaddexp2 promotes": lambda L: L.logaddexp2(L.tensor([1]), L.tensor(2.0, dtype=L.float64)),
    "square of bool": lambda L: L.square(L.tensor([True, False])),
    "logsumexp of bool": lambda L: L.logsumexp(L.tensor([True, False]), 0),
    # masked_fill keeps x's dtype; in-place int64 into uint8 wraps (PyTorch's casting rule)
    "masked_fill of bools": lambda L: L.tensor([True, True]).masked_fill(L.tensor([True, False]),
                                                                          0),
    "masked_fill of ints": lambda L: L.tensor([1, 2]).masked_fill(L.tensor([True, False]), 0.5),
    "uint8 += int64": lambda L: L.tensor([250, 3], dtype=L.uint8).add_(L.tensor([10, 4])),
    # a dim of size 0: empty rows, log(0)
    "softmax of empty rows": lambda L: L.softmax(L.zeros(2, 0), -1),
    "log_softmax of empty rows": lambda L: L.log_softmax(L.zeros(2, 0), 1),
    "logsumexp of empty rows": lambda L: L.logsumexp(L.zeros(2, 0), -1),
    # integers select before arrays index (NumPy would put the array's dim first)
    "int, slice, list": lambda L: L.arange(24).view(2, 3, 4)[0, :, [1, 2]],
    "list, slice, int": lambda L: L.arange(24).view(2, 3, 4)[[1, 0], :, -1],
    "0-d tensor, slice, list": lambda L: L.arange(24).view(2, 3, 4)[L.tensor(1), :, [1, 2]],
    "int, slice, mask": lambda L: L.arange(24).view(2, 3, 4)[1, 1:, L.tensor([True, False,
                                                                               True, True])],
}


@pytest.mark.parametrize("case", CASES)
def test_values_and_dtypes_as_torch(case):
    theirs, ours = _arrays(CASES[case](torch)), _arrays(CASES[case](tinyflow))
    for (dt, shape, value), (our_dt, our_shape, our_value) in zip(theirs, ours):
        assert (our_dt, our_shape) == (dt, shape)
        np.testing.assert_allclose(our_value, value, rtol=1e-6)


GRADIENTS = {
    # a constant row's std and a zero row's norm have a zero gradient, not NaN
    "std of a constant row": lambda L, x: L.cat([x[:1], x[1:] * 0 + 1]).std(1),
    "std of one element": lambda L, x: x[:, :1].std(1, correction=0),
    "normalize a zero row": lambda L, x: L.nn.functional.normalize(L.cat([x[:1], x[1:] * 0])),
    # the gradient of max/min along a dim goes to the index returned, not to every tie
    "max along a dim with ties": lambda L, x: x.abs().view(3, 2).max(0).values,
    "min along a dim with ties": lambda L, x: L.min(x.abs().view(3, 2), 0, keepdim=True)[0],
    # every target ignored: a NaN loss whose gradient is zero, not NaN
    "nll_loss, all ignored": lambda L, x: L.nn.functional.nll_loss(x, L.tensor([1, 1]),
                                                                   ignore_index=1),
    "smoothed cross_entropy, all ignored": lambda L, x: L.nn.functional.cross_entropy(
        x, L.tensor([-100, -100]), label_smoothing=0.1),
    "x ** 0 at x = 0": lambda L, x: L.cat([x, x * 0]) ** L.tensor([[0, 1, 2], [0, 1, 3]] * 2),
    "bool % float": lambda L, x: L.tensor([[True, False, True]]) % (x + 2),
    "softplus at the threshold": lambda L, x: L.nn.functional.softplus(x, beta=2, threshold=1),
    "adaptive max pool ties": lambda L, x: L.nn.functional.adaptive_max_pool2d(
        x.abs().view(1, 2, 3), (1, 2)),
    "int, slice, list": lambda L, x: x.view(2, 3, 1)[0, :, [0, 0]],
    "setitem int, slice, list": lambda L, x: _set(x.view(1, 2, 3) * 1, (0, slice(None), [0, 2]),
                                                  x[:, 1:2] * 10),
    # a value's leading ones beyond the selection's rank are dropped (attn[i] = w of [1, n])
    "setitem [1, n] into a row": lambda L, x: _set(x * 1, 0, x[1:2] * 10),
    "clamp_ of a slice": lambda L, x: _clamped_slice(x),
    "augmented assignments into views": lambda L, x: _augmented(x),
    "augmented int, slice, list": lambda L, x: _augmented_split(x),
}


def _augmented_split(x):
    y = x.view(1, 2, 3) * 1
    y[0, :, [0, 2]] += x[:, :1]   # integers first, then the array: PyTorch's order
    return y


def _augmented(x):
    y = x * 1
    y[0] *= 2               # Python: v = y[0]; v *= 2 (through the view); y[0] = v
    y[..., 1] += x[:, 0]
    y[...] *= x
    return y


def _set(target, index, value):
    target[index] = value
    return target


def _clamped_slice(x):
    y = x * 1
    y[1:].clamp_(min=0.5)
    return y


@pytest.mark.parametrize("case", GRADIENTS)
def test_gradients_as_torch(case):
    theirs, ours = _grads(GRADIENTS[case])(torch), _grads(GRADIENTS[case])(tinyflow)
    for (dt, shape, value), (our_dt, our_shape, our_value) in zip(_arrays(theirs), _arrays(ours)):
        assert (our_dt, our_shape) == (dt, shape)
        np.testing.assert_allclose(our_value, value, rtol=1e-7, atol=1e-12)


VIEW_WRITES = {
    "x[-1] of a vector": lambda x: x.view(-1)[-1].add_(10),
    "select to 0-d": lambda x: x.view(-1).select(0, 2).fill_(7),
    "diagonal": lambda x: x.diagonal(1).mul_(-1),
    "diagonal of a transpose": lambda x: x.t().diagonal(-1).zero_(),
    "unfold": lambda x: x.unfold(1, 2, 2).add_(100),
    "unfold of a diagonal": lambda x: x.view(3, 2, 2).diagonal().unfold(-1, 1, 1).add_(100),
    "squeeze of nothing": lambda x: x.squeeze().mul_(3),
}


@pytest.mark.parametrize("case,order", [(case, "C") for case in VIEW_WRITES] + [
    (case, "F") for case in ("diagonal", "diagonal of a transpose", "unfold")])
def test_writes_through_views_reach_the_base_as_torch(case, order):
    """Also over a Fortran-ordered array from NumPy (its storage is flat in another order;
    view(-1) of it is refused by both)."""
    data = np.arange(12.0).reshape(3, 4)
    bases = [L.from_numpy(np.array(data, order=order)) for L in (torch, tinyflow)]
    for base in bases:
        VIEW_WRITES[case](base)
    np.testing.assert_array_equal(bases[1].numpy(), bases[0].numpy())


@pytest.mark.parametrize("view", [lambda y: y.diagonal(), lambda y: y.unfold(1, 2, 1)])
def test_in_place_on_a_view_under_autograd_is_exact_or_refused(view):
    """Writes under autograd into views that are not a part of the base's memory (diagonal
    is a copy here) or whose elements overlap: refused, never a gradient that misses the
    write (views that are: tests/test_programs_s11.py)."""
    x = _leaf(tinyflow, np.ones((2, 3)))
    y = x * 1
    with pytest.raises(RuntimeError, match="in-place modification of this view"):
        view(y).mul_(2)


READ_THEN_WRITTEN = {   # a node reads a tensor that is then written in place (session 14 review)
    "add, then relu_": lambda a: ((a + 1) * (a + 1)).sum() + a.relu_().sum(),
    "add, then mul_": lambda a: (a + 1).sum() + 0 * a.mul_(3).sum(),
    "sub, then mul_": lambda a: (a - 1).sum() + 0 * a.mul_(3).sum(),
}


@pytest.mark.parametrize("case", READ_THEN_WRITTEN)
def test_a_tensor_written_after_a_read_gives_torchs_gradient_or_is_refused(case):
    """The earlier reader's gradient must reach the old value: exact, or refused at
    backward (never the written value's history in its place)."""
    grads = []
    for L in (torch, tinyflow):
        w = L.tensor([1.0, -2.0, 3.0], requires_grad=True)
        try:
            READ_THEN_WRITTEN[case](w * 2).backward()
        except RuntimeError as e:
            assert L is tinyflow and "inplace" in str(e).replace("in-place", "inplace")
            return
        grads.append(w.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0])


REFUSED = {
    "bce target above 1": lambda L: L.nn.functional.binary_cross_entropy(
        L.tensor([0.5, 0.5]), L.tensor([0.0, 2.0])),
    "bce input below 0": lambda L: L.nn.functional.binary_cross_entropy(
        L.tensor([-0.5, 0.5]), L.tensor([0.0, 1.0])),
}


@pytest.mark.parametrize("case", REFUSED)
def test_refused_as_torch(case):
    with pytest.raises(RuntimeError):
        REFUSED[case](torch)
    with pytest.raises(RuntimeError):
        REFUSED[case](tinyflow)


@pytest.mark.parametrize("subtract", [lambda L: L.tensor([True]) - L.tensor([1.0]),
                                      lambda L: L.tensor([1, 2]) - True,
                                      lambda L: False - L.tensor([1.0])])
def test_subtracting_bools_is_refused_as_torch(subtract):
    with pytest.raises(RuntimeError, match="Subtraction"):
        subtract(torch)
    with pytest.raises(RuntimeError, match="subtraction with a bool"):
        subtract(tinyflow)
