"""`torch.set_default_dtype`: float factories, Python floats meeting integer tensors, new
layers' parameters and optimizer state take the default float dtype, with PyTorch as the
oracle under both float32 and float64 defaults."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinyflow  # noqa: E402


@pytest.fixture(params=["float32", "float64"])
def default(request):
    """Both libraries under the same default dtype; the old default is restored after."""
    torch.set_default_dtype(getattr(torch, request.param))
    tinyflow.set_default_dtype(getattr(tinyflow, request.param))
    yield request.param
    torch.set_default_dtype(torch.float32)
    tinyflow.set_default_dtype(tinyflow.float32)


CASES = {
    "tensor of floats": lambda L: L.tensor([1.0, 2.5]),
    "tensor of a float": lambda L: L.tensor(1.5),
    "tensor of ints": lambda L: L.tensor([1, 2]),
    "tensor of a float32 array": lambda L: L.tensor(np.ones(2, np.float32)),
    "Tensor(list)": lambda L: L.Tensor([1, 2]),
    "Tensor(sizes)": lambda L: L.Tensor(2, 3),
    "FloatTensor": lambda L: L.FloatTensor([1]),
    "as_tensor": lambda L: L.as_tensor([0.5]),
    "zeros": lambda L: L.zeros(2, 3),
    "ones": lambda L: L.ones(2),
    "empty": lambda L: L.empty(2),
    "full of a float": lambda L: L.full((2,), 1.5),
    "full of an int": lambda L: L.full((2,), 1),
    "randn": lambda L: L.randn(2),
    "rand": lambda L: L.rand(2),
    "normal": lambda L: L.normal(0.0, 1.0, size=(2,)),
    "arange of floats": lambda L: L.arange(0, 1, 0.25),
    "arange of ints": lambda L: L.arange(3),
    "linspace": lambda L: L.linspace(0, 1, 5),
    "logspace": lambda L: L.logspace(0, 1, 3),
    "eye": lambda L: L.eye(2),
    "exp of ints": lambda L: L.exp(L.tensor([1, 2])),
    "ints / int": lambda L: L.tensor([1, 2]) / 2,
    "ints + float": lambda L: L.tensor([1, 2]) + 1.5,
    "float32 * float": lambda L: L.ones(2, dtype=L.float32) * 1.5,
    "where of floats": lambda L: L.where(L.tensor([True, False]), 1.0, 0.0),
    "Linear weight": lambda L: L.nn.Linear(2, 3).weight,
    "Conv2d weight": lambda L: L.nn.Conv2d(1, 2, 3).weight,
    "BatchNorm running_mean": lambda L: L.nn.BatchNorm1d(3).running_mean,
    "LayerNorm weight": lambda L: L.nn.LayerNorm(3).weight,
    "Embedding weight": lambda L: L.nn.Embedding(3, 2).weight,
    "LSTM weight": lambda L: L.nn.LSTM(2, 3).weight_ih_l0,
    "Linear().float() weight": lambda L: L.nn.Linear(2, 3).float().weight,
}


@pytest.mark.parametrize("case", CASES)
def test_dtype_follows_the_default_as_in_torch(default, case):
    want, got = CASES[case](torch).dtype, CASES[case](tinyflow).dtype
    assert got.name == str(want).removeprefix("torch."), (case, want, got)
    assert tinyflow.get_default_dtype().name == default


def test_a_float64_default_trains_in_float64_as_torch(default):
    """One Adam step of a Linear layer from the same weights: the step count, the parameters
    and the loss have torch's dtype and values."""
    rng = np.random.default_rng(0)
    w, b, x = rng.standard_normal((3, 2)), rng.standard_normal(3), rng.standard_normal((4, 2))
    results = []
    for L in (torch, tinyflow):
        layer = L.nn.Linear(2, 3)
        with L.no_grad():
            layer.weight.copy_(L.tensor(w.tolist()))
            layer.bias.copy_(L.tensor(b.tolist()))
        opt = L.optim.Adam(layer.parameters(), lr=0.1)
        loss = (layer(L.tensor(x.tolist())) ** 2).mean()
        loss.backward()
        opt.step()
        results.append((loss, layer.weight, opt.state[layer.weight]["step"]))
    for want, got in zip(*results):
        assert got.dtype.name == default
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(),
                                   rtol=1e-12 if default == "float64" else 1e-5)


def test_only_floating_defaults_are_accepted():
    with pytest.raises(TypeError, match="set_default_dtype: .* floating .* not int64"):
        tinyflow.set_default_dtype(tinyflow.int64)
    assert tinyflow.get_default_dtype() is tinyflow.float32


def test_compile_guards_on_the_default_dtype():
    """A trace made under float32 holds float32 literals: after set_default_dtype(float64)
    the same call retraces and gives float64, as eagerly."""
    f = tinyflow.compile(lambda x: x / 2 + tinyflow.ones(2))
    x = tinyflow.tensor([1, 2])
    assert f(x).dtype is tinyflow.float32 and f(x).dtype is tinyflow.float32
    try:
        tinyflow.set_default_dtype(tinyflow.float64)
        assert f(x).dtype is (x / 2 + tinyflow.ones(2)).dtype is tinyflow.float64
    finally:
        tinyflow.set_default_dtype(tinyflow.float32)
