"""torch.compile guards on what the function read besides its arguments: a global, a closure
variable or a module attribute rebound after the first call recompiles (and the result equals
eager's); left alone, it does not."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinyflow as torch
import tinyflow.nn as nn

RNG = np.random.default_rng(0)
SCALE = 2.0
OFFSET = None        # a global tensor, set by the test
SHIFT = (1.0, 2.0)


def tensor(*shape, requires_grad=False):
    return torch.Tensor(RNG.standard_normal(shape).astype(np.float32),
                        requires_grad=requires_grad)


def scaled(x):
    return x * SCALE


def helper_scaled(x):      # the global is read in a function the compiled one calls
    return scaled(x) + 1.0


def test_rebound_global_number_recompiles():
    global SCALE
    f = torch.compile(lambda x: x * SCALE)
    x = tensor(3, 4)
    try:
        np.testing.assert_allclose(f(x).numpy(), x.numpy() * 2.0, rtol=1e-6)
        np.testing.assert_allclose(f(x).numpy(), x.numpy() * 2.0, rtol=1e-6)
        assert f.stats.compiles == 1
        SCALE = 3.0
        np.testing.assert_allclose(f(x).numpy(), x.numpy() * 3.0, rtol=1e-6)
        assert (f.stats.compiles, f.stats.recompiles) == (2, 1)
        SCALE = 2.0           # back: the first graph is still cached
        np.testing.assert_allclose(f(x).numpy(), x.numpy() * 2.0, rtol=1e-6)
        assert f.stats.compiles == 2
    finally:
        SCALE = 2.0


def test_global_read_by_called_function_is_guarded():
    global SCALE
    f = torch.compile(helper_scaled)
    x = tensor(2, 3)
    try:
        f(x)
        SCALE = -1.5
        np.testing.assert_allclose(f(x).numpy(), x.numpy() * -1.5 + 1.0, rtol=1e-6)
        assert f.stats.compiles == 2
    finally:
        SCALE = 2.0


def test_same_valued_global_does_not_recompile():
    global SCALE, SHIFT
    f = torch.compile(lambda x: x * SCALE + SHIFT[1])
    x = tensor(4)
    try:
        f(x)
        SCALE, SHIFT = 2.0, (1.0, 2.0)   # new objects, equal values
        f(x)
        assert f.stats.compiles == 1
        SCALE = 2           # an int now: it may trace otherwise (dtype promotion)
        f(x)
        assert f.stats.compiles == 2
        SHIFT = (1.0, 5.0)
        np.testing.assert_allclose(f(x).numpy(), x.numpy() * 2 + 5.0, rtol=1e-6)
        assert f.stats.compiles == 3
    finally:
        SCALE, SHIFT = 2.0, (1.0, 2.0)


def test_rebound_global_tensor_recompiles():
    global OFFSET
    OFFSET = tensor(3)
    f = torch.compile(lambda x: x + OFFSET)
    x = tensor(2, 3)
    try:
        np.testing.assert_allclose(f(x).numpy(), x.numpy() + OFFSET.numpy(), rtol=1e-6)
        OFFSET = tensor(3)    # another tensor of the same shape
        np.testing.assert_allclose(f(x).numpy(), x.numpy() + OFFSET.numpy(), rtol=1e-6)
        assert f.stats.compiles == 2
        OFFSET.add_(1.0)      # written in place: the graph reads its buffer, no recompile
        np.testing.assert_allclose(f(x).numpy(), x.numpy() + OFFSET.numpy(), rtol=1e-6)
        assert f.stats.compiles == 2
    finally:
        OFFSET = None


def test_rebound_closure_variable_recompiles():
    scale = 2.0
    w = tensor(4, 4, requires_grad=True)

    def step(x):
        loss = ((x @ w) * scale).sum()
        loss.backward()
        return loss

    f = torch.compile(step)
    x = tensor(3, 4)
    for value in (2.0, 2.0, 0.5, -3.0):
        scale = value
        w.grad = None
        loss = f(x)
        got, got_grad = loss.item(), w.grad.numpy().copy()
        w.grad = None
        want = step(x)
        np.testing.assert_allclose(got, want.item(), rtol=1e-5)
        np.testing.assert_allclose(got_grad, w.grad.numpy(), rtol=1e-5)
    assert f.stats.compiles == 3


class Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.scale = 2.0

    def forward(self, x):
        return self.fc(x) * self.scale


def test_rebound_module_attribute_recompiles():
    torch.manual_seed(0)
    model = Scaled()
    f = torch.compile(model)
    x = tensor(5, 4)
    np.testing.assert_allclose(f(x).detach().numpy(), model(x).detach().numpy(), rtol=1e-6)
    model.scale = 0.25
    np.testing.assert_allclose(f(x).detach().numpy(), model(x).detach().numpy(), rtol=1e-6)
    assert f.stats.compiles == 2
    model.fc = nn.Linear(4, 3)          # a submodule replaced
    np.testing.assert_allclose(f(x).detach().numpy(), model(x).detach().numpy(), rtol=1e-6)
    assert f.stats.compiles == 3


def test_rebound_parameter_of_captured_module_recompiles():
    torch.manual_seed(0)
    model = Scaled()
    f = torch.compile(lambda x: model(x).sum())
    x = tensor(5, 4)
    f(x)
    model.fc.weight = nn.Parameter(torch.Tensor(np.ones((3, 4), np.float32)))
    np.testing.assert_allclose(f(x).item(), model(x).sum().item(), rtol=1e-5)
    assert f.stats.compiles == 2


def test_recompiles_past_the_limit_warn():
    global SCALE
    f = torch.compile(lambda x: x * SCALE)
    x = tensor(2)
    try:
        with pytest.warns(UserWarning, match="guards keep failing"):
            for k in range(10):
                SCALE = float(k)
                np.testing.assert_allclose(f(x).numpy(), x.numpy() * k, rtol=1e-6)
    finally:
        SCALE = 2.0


def test_function_with_a_graph_break_sees_the_new_global():
    """Split into pieces (its Python runs every call): a rebound global reaches the piece
    after the break through the piece's signature (constants by value)."""
    global SCALE
    import warnings

    def f(x):
        y = x * SCALE
        if y.sum().item() > -1e9:        # a graph break
            y = y + SCALE
        return y
    compiled = torch.compile(f)
    x = tensor(3, 4)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for value in (2.0, 2.0, 7.0):
                SCALE = value
                np.testing.assert_allclose(compiled(x).numpy(), f(x).numpy(), rtol=1e-6)
        assert compiled.stats.graph_breaks == 1
    finally:
        SCALE = 2.0


def test_deleted_closure_variable_fails_as_eager():
    """A guard on a closure cell emptied by `del` fails (no crash): the retrace raises
    the NameError eager code raises."""
    x = tensor(3)
    scale = 2.0

    def g(x):
        return x * scale
    f = torch.compile(g)
    np.testing.assert_allclose(f(x).numpy(), x.numpy() * 2.0, rtol=1e-6)
    del scale
    with pytest.raises(NameError):
        g(x)
    with pytest.raises(NameError):
        f(x)


CONFIG = {"scale": 2.0}
WEIGHTS = [1.0, 2.0]
TABLE = np.array([1.0, 2.0, 3.0], np.float32)


class Options:        # a plain object read as a global (as an argparse Namespace)
    scale = steps = None


OPTIONS = Options()


def test_global_containers_arrays_and_objects_mutated_in_place_recompile():
    OPTIONS.scale, OPTIONS.steps = 2.0, 0
    f = torch.compile(lambda x: x * CONFIG["scale"] * WEIGHTS[1] * OPTIONS.scale
                      + torch.tensor(TABLE))
    x = tensor(3)

    def expected():
        return x.numpy() * CONFIG["scale"] * WEIGHTS[1] * OPTIONS.scale + TABLE
    try:
        np.testing.assert_allclose(f(x).numpy(), expected(), rtol=1e-6)
        OPTIONS.steps += 1    # an attribute the function does not read
        f(x)
        assert f.stats.compiles == 1
        for change in (lambda: CONFIG.update(scale=5.0), lambda: WEIGHTS.__setitem__(1, -3.0),
                       lambda: setattr(OPTIONS, "scale", 0.5),
                       lambda: TABLE.__setitem__(0, 9.0)):
            change()
            np.testing.assert_allclose(f(x).numpy(), expected(), rtol=1e-6)
        assert f.stats.compiles == 5
    finally:
        CONFIG["scale"], WEIGHTS[1], TABLE[0] = 2.0, 2.0, 1.0


def test_captured_tensor_read_as_a_number_is_guarded():
    """`float(scale)` of a global tensor becomes a constant of the trace: writing the tensor
    in place (fill_, +=) recompiles; leaving it alone does not."""
    scale = torch.tensor(2.0)

    def f(x):
        return x * float(scale)
    compiled, x = torch.compile(f), tensor(3)
    for value in (None, 5.0, None, 7.0):
        if value is not None:
            with torch.no_grad():
                scale.fill_(value)
        np.testing.assert_allclose(compiled(x).numpy(), f(x).numpy(), rtol=1e-6)
    assert compiled.stats.compiles == 3


def test_large_captured_tensor_read_by_numpy_is_guarded_by_version():
    table = torch.zeros(10_000)

    def f(x):
        return x + float(table.numpy().sum())
    compiled, x = torch.compile(f), tensor(2)
    np.testing.assert_allclose(compiled(x).numpy(), x.numpy(), rtol=1e-6)
    with torch.no_grad():
        table += 1.0                  # an in-place write: a new version
    np.testing.assert_allclose(compiled(x).numpy(), x.numpy() + 10_000, rtol=1e-6)
    compiled(x)
    assert compiled.stats.compiles == 2


def test_counter_tensor_read_every_call_stays_correct_past_the_limit():
    """A step counter read with `.item()` changes every call: each call recompiles until
    the limit, then (as torch.compile) the function runs eagerly, with a warning."""
    step = torch.tensor(0)

    def f(x):
        return x * 10 if step.item() > 1 else x
    compiled, x = torch.compile(f), tensor(2)
    with pytest.warns(UserWarning, match="run eagerly from now on"):
        for _ in range(12):
            np.testing.assert_allclose(compiled(x).numpy(), f(x).numpy(), rtol=1e-6)
            step += 1
    assert compiled.stats.eager_calls >= 2


def test_bool_of_a_tensor_written_in_the_trace_sees_the_write():
    flag = torch.tensor(False)

    def f(x):
        flag.fill_(True)
        return x + 1 if bool(flag) else x
    with pytest.warns(UserWarning, match="graph break"):
        np.testing.assert_allclose(torch.compile(f)(tensor(2) * 0).numpy(), [1.0, 1.0])


class Counted(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x * self.calls


def _changes_python_state():
    """Functions that change the Python state they read on each call (a dict's entry, an
    object's attribute, a list, a module's attribute) and the value of that state."""
    state, log, box = {"scale": 1.0}, [], type("Box", (), {"n": 0})()
    counted = Counted()

    def doubles(x):
        state["scale"] = state["scale"] * 2
        return x * state["scale"]

    def counts(x):
        box.n += 1
        return x * box.n

    def logs(x):
        y = x * 2
        log.append(1)
        return y + len(log)

    return [doubles, counts, logs, counted], lambda: (state["scale"], box.n, len(log),
                                                      counted.calls)


def test_python_state_a_function_changes_is_changed_on_every_call_as_eagerly():
    """A trace runs the Python once: a graph reused would skip its changes (x * 2 on every
    call where eager doubles), so such a function runs eagerly from its next call."""
    seen = []
    for compiled in (False, True):
        fns, state = _changes_python_state()
        calls = [torch.compile(f) if compiled else f for f in fns]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            values = [[c(torch.ones(2)).tolist() for c in calls] for _ in range(3)]
        seen.append((values, state()))
        if compiled:
            assert sum("changes Python state" in str(w.message) for w in caught) == 4
    assert seen[1] == seen[0]


def test_a_graph_break_does_not_make_a_python_change_twice():
    """The trace ran the Python up to the break; the eager run after it makes its changes
    again: they are undone first (a counter stepped by 2 on the first call)."""
    count, log = [0], []

    def f(x):
        count[0] += 1
        log.append(len(log))
        y = x * 2
        y.detach_()   # a graph break
        return y

    compiled = torch.compile(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for calls in (1, 2):
            compiled(torch.ones(2, requires_grad=True))
            assert count == [calls] and log == list(range(calls))


def test_a_graph_break_in_a_call_traced_again_does_not_make_a_python_change_twice():
    """A function with a value break (`.item()`) is traced on every call; a later call that
    breaks the graph (here by its value) runs eagerly after undoing its trace's changes."""
    count = [0]

    def f(x):
        count[0] += 1
        s = x.sum().item()
        y = x * s
        if s > 4:
            y.detach_()   # a graph break
        return y

    compiled = torch.compile(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for calls, scale in ((1, 1.0), (2, 1.0), (3, 2.0)):
            compiled(torch.ones(3, requires_grad=True) * scale)
            assert count == [calls]


class LazyMask(nn.Module):
    """A module that builds a cache on its first call (a causal mask, rotary cos/sin), in an
    attribute set to None first, or set the first time, in a dict, or in a buffer; or in
    an attribute of a module passed to the compiled function as an argument, or of one
    whose function is traced on every call (a value break)."""
    def __init__(self, where):
        super().__init__()
        self.where, self.scale, self.cache = where, torch.ones(3), {}
        if where in ("attribute", "argument", "split"):
            self.mask = None
        elif where == "buffer":
            self.register_buffer("mask", None)

    def forward(self, x):
        if getattr(self, "mask", None) is None and "mask" not in self.cache:
            mask = torch.tril(torch.ones(x.shape[0], 3) * self.scale)   # (a traced tensor)
            if self.where == "dict":
                self.cache["mask"] = mask
            else:
                self.mask = mask
        if self.where == "split":
            x = x * (x.sum() * 0 + 1).item()   # (a value break: traced on every call)
        return x * (self.cache["mask"] if self.where == "dict" else self.mask)


@pytest.mark.parametrize("where", ["attribute", "new attribute", "dict", "buffer",
                                   "argument", "split"])
def test_a_cache_set_on_the_first_call_holds_eager_values_and_then_compiles(where):
    """The trace that set it ran symbolically: the module must not keep a traced tensor
    (the next call, or an eager one, read it: TypeError), and once the state stops
    changing the calls run one compiled graph, not eagerly for good."""
    module, x = LazyMask(where), tensor(3, 3)
    compiled = torch.compile(module) if where != "argument" else torch.compile(
        lambda module, x: module(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(4):
            got = compiled(x) if where != "argument" else compiled(module, x)
            np.testing.assert_array_equal(got.numpy(), np.tril(x.numpy()))
    np.testing.assert_array_equal(module(x).numpy(), np.tril(x.numpy()))
    assert compiled.stats.compiles == (2 if where == "split" else 1)   # (split: 2 pieces)
    assert compiled.stats.eager_calls == 1   # the first call, which set the cache
