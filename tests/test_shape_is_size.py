"""`x.shape` is a `Size`, as PyTorch's `torch.Size`, however the tensor was made (a factory,
an op's result, a view, a recorded op, `from_numpy`, `.data =`), PyTorch as the oracle for
what a program sees: its repr, slices, `numel()`, equality with tuples."""
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinyflow  # noqa: E402

MAKERS = {   # name -> how a program makes the tensor, the same source for both libraries
    "zeros": lambda L: L.zeros(2, 3),
    "tensor": lambda L: L.tensor([[1.0, 2.0, 3.0]]),
    "from_numpy": lambda L: L.from_numpy(np.ones((4, 1), np.float32)),
    "scalar": lambda L: L.tensor(2.5),
    "add": lambda L: L.ones(2, 3) + 1,
    "reduce_dim": lambda L: L.ones(2, 3).sum(dim=1),
    "view": lambda L: L.ones(2, 3).view(3, 2),
    "transpose": lambda L: L.ones(2, 3, 4).permute(2, 0, 1),
    "index": lambda L: L.ones(2, 3)[1],
    "recorded": lambda L: L.ones(2, 3, requires_grad=True) * 2,
    "parameter": lambda L: L.nn.Linear(3, 5).weight,
    "randint": lambda L: L.randint(0, 5, (7,)),
    "cat": lambda L: L.cat([L.ones(2, 3), L.ones(1, 3)]),
}


@pytest.mark.parametrize("maker", MAKERS)
def test_shape_reads_as_torch_size(maker):
    want, got = MAKERS[maker](torch), MAKERS[maker](tinyflow)
    assert isinstance(got.shape, tinyflow.Size) and isinstance(got.shape, tuple)
    for expression in ("repr(s)", "str(s)", "repr(s[1:])", "s.numel()", "s == tuple(s)",
                       "list(s)", "repr(s + (1,))", "repr(s[::-1])", "len(s)"):
        assert eval(expression, {"s": got.shape}) == eval(expression, {"s": want.shape}), \
            expression
    assert got.size() == got.shape and type(got.size()) is tinyflow.Size


def test_shape_after_data_is_replaced():
    x = tinyflow.zeros(2, 3)
    x.data = tinyflow.ones(4)
    assert type(x.shape) is tinyflow.Size and repr(x.shape) == "torch.Size([4])"


def test_size_is_constructible_hashable_and_pickles():
    s = tinyflow.Size([2, 3])
    assert s == (2, 3) and hash(s) == hash((2, 3)) and s.numel() == 6
    assert repr(s) == repr(torch.Size([2, 3]))
    back = pickle.loads(pickle.dumps(tinyflow.zeros(2, 3).shape))
    assert type(back) is tinyflow.Size and back == (2, 3)
    assert tinyflow.zeros(s).shape == (2, 3) and np.zeros(s).shape == (2, 3)


def test_symbolic_shape_stays_tensorshape():
    """TF1's graph tensors keep `TensorShape` (its methods, unknown dims)."""
    g = tinyflow.Graph()
    with g.as_default():
        p = tinyflow.placeholder(tinyflow.float32, [None, 3])
    assert not isinstance(p.shape, tinyflow.Size)
    assert p.shape.as_list() == [None, 3]
