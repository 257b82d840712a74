"""Parameters, buffers and submodules read back as attributes: every way of changing a
module's tables (set, del, pop, update, clear, None, deepcopy, pickle, save / load) reads
back as in PyTorch. Each program runs on both libraries; the results must match."""
import copy
import pickle

import pytest
import torch

import tinyflow
import tinyflow.nn as tnn


def both(program):
    """`program(lib)` on PyTorch and tinyflow; their results."""
    return program(torch), program(tinyflow)


def names(module):
    return [n for n, _ in module.named_parameters()], list(module.state_dict())


def test_table_writes_read_back_as_attributes():
    def program(lib):
        m = lib.nn.Linear(3, 2)
        out = []
        m._parameters["weight"] = lib.nn.Parameter(lib.zeros(2, 3))
        out.append(float(m.weight.sum()))
        del m._parameters["weight"]
        out.append(hasattr(m, "weight"))
        m._parameters["weight"] = lib.nn.Parameter(lib.ones(2, 3))
        out.append(float(m.weight.sum()))
        out.append(float(m._parameters.pop("bias").shape[0]))
        out.append(hasattr(m, "bias"))
        m._parameters.setdefault("bias", None)
        out.append(m.bias is None)
        m._parameters.update({"extra": lib.nn.Parameter(lib.ones(1))})
        out.append(float(m.extra.sum()))
        out.append(m._parameters.popitem()[0])
        out.append(hasattr(m, "extra"))
        m._parameters.clear()
        out.append((hasattr(m, "weight"), hasattr(m, "bias")))
        m._buffers["stat"] = lib.ones(2)
        out.append(float(m.stat.sum()))
        m._modules["child"] = lib.nn.ReLU()
        out.append(type(m.child).__name__)
        out.append(names(m))
        return out
    ours, theirs = both(program)
    assert ours == theirs


def test_assignment_none_del_and_order():
    def program(lib):
        m = lib.nn.Module()
        m.a = lib.nn.Parameter(lib.ones(1))
        m.b = lib.nn.Parameter(lib.ones(2))
        m.c = lib.nn.Linear(1, 1)
        m.a = None
        out = [m.a is None, names(m)]
        m.a = lib.nn.Parameter(lib.ones(3))    # keeps its place in the order
        out.append(names(m))
        del m.b
        out.append((hasattr(m, "b"), names(m)))
        m.b = lib.ones(2)                      # now a plain attribute
        out.append((float(m.b.sum()), names(m)))
        m.c = None
        out.append((m.c is None, names(m)))
        try:
            m.a = lib.ones(3)                  # a Tensor for a Parameter: refused
        except TypeError:
            out.append("TypeError")
        out.append(float(m.a.sum()))
        try:
            m.missing
        except AttributeError:
            out.append("AttributeError")
        return out
    ours, theirs = both(program)
    assert ours == theirs


def test_buffers_persistent_or_not():
    def program(lib):
        m = lib.nn.Module()
        m.register_buffer("kept", lib.ones(2))
        m.register_buffer("dropped", lib.zeros(2), persistent=False)
        m.register_buffer("empty", None)
        out = [float(m.kept.sum()), float(m.dropped.sum()), m.empty is None, list(m.state_dict())]
        m.kept = lib.full((2,), 3.0)           # a buffer stays a buffer
        out.append((float(m.kept.sum()), [n for n, _ in m.named_buffers()]))
        m.load_state_dict({"kept": lib.full((2,), 5.0)})
        out.append(float(m.kept.sum()))
        try:
            m.kept = 3
        except TypeError:
            out.append("TypeError")
        return out
    ours, theirs = both(program)
    assert ours == theirs


def test_class_names_and_own_attributes_are_not_shadowed():
    def program(lib):
        d = lib.nn.ModuleDict({"layer": lib.nn.Tanh()})
        d._modules["items"] = lib.nn.ReLU()     # the class's method still reads first
        out = [callable(d.items), type(d["items"]).__name__, type(d.layer).__name__]
        m = type("Scaled", (lib.nn.Module,), {"scale": 2.0})()
        m._parameters["scale"] = lib.nn.Parameter(lib.ones(1))
        out.append(m.scale)
        m.foo = 3
        m._parameters["foo"] = lib.nn.Parameter(lib.ones(1))
        out.append(m.foo)
        m._parameters["training"] = lib.nn.Parameter(lib.ones(1))
        out.append(m.training)
        out.append(list(dict(m.named_parameters())))
        return out
    ours, theirs = both(program)
    assert ours == theirs


def test_copies_and_pickles_have_their_own_attributes():
    def program(lib):
        m = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.ReLU())
        deep = copy.deepcopy(m)
        pickled = pickle.loads(pickle.dumps(m))
        out = []
        for c in (deep, pickled):
            out.append((c[0].weight is c[0]._parameters["weight"],
                        c[0].weight is not m[0].weight, names(c)))
        shallow = copy.copy(m[0])               # shares its tables, as in PyTorch
        shallow.weight = lib.nn.Parameter(lib.zeros(2, 2))
        out.append((float(m[0].weight.sum()), float(shallow.weight.sum())))
        del m[0]._parameters["bias"]
        out.append((hasattr(m[0], "bias"), hasattr(shallow, "bias")))
        return out
    ours, theirs = both(program)
    assert ours == theirs


def test_hooks_and_modes_still_apply():
    def program(lib):
        m = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.Dropout(0.5))
        seen = []
        m[0].register_forward_hook(lambda mod, args, out: seen.append(tuple(out.shape)))
        m.eval()
        x = lib.ones(1, 2)
        m(x)
        c = copy.deepcopy(m)
        c(x)
        return seen, m[1].training, c[1].training
    ours, theirs = both(program)
    assert ours == theirs


def test_saved_model_reads_its_attributes(tmp_path):
    m = tnn.Sequential(tnn.Linear(2, 3), tnn.ReLU())
    path = tmp_path / "model.pt"
    tinyflow.save(m, path)
    loaded = tinyflow.load(path, weights_only=False)
    assert loaded[0].weight is loaded[0]._parameters["weight"]
    assert loaded[0].weight.shape == (3, 2)
    x = tinyflow.ones(1, 2)
    assert tinyflow.allclose(loaded(x), m(x))


@pytest.mark.parametrize("layer", [lambda nn: nn.BatchNorm1d(3), lambda nn: nn.LayerNorm(3),
                                   lambda nn: nn.Conv2d(2, 3, 3), lambda nn: nn.LSTM(2, 3),
                                   lambda nn: nn.Embedding(4, 2),
                                   lambda nn: nn.MultiheadAttention(4, 2)])
def test_every_entry_is_an_attribute(layer):
    m = layer(tnn)
    for sub in m.modules():
        for table in (sub._parameters, sub._buffers, sub._modules):
            for name, value in table.items():
                assert getattr(sub, name) is value, (type(sub).__name__, name)
