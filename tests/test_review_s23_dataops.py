"""Review (session 23, dataops): the fast paths s23-dataops added skip general code (x[i]
and `for row in x` without the index walk, reshape/transpose infer without re-deriving the
shape, view() re-checking strides only for copies, zeros/empty/randint with the dtype passed
on, expand_dims/concat sharing one op per axis). These tests pin their answers to torch's,
the oracle, on the inputs where a shortcut could go wrong."""
import numpy as np
import pytest

import tinyflow
import tinyflow.compat.v1 as tf1

torch = pytest.importorskip("torch")


def _both(make):
    """make(module) under torch and tinyflow: (torch's result, tinyflow's result)."""
    return make(torch), make(tinyflow)


def _same(a, b):
    assert tuple(b.shape) == tuple(a.shape)
    assert str(b.dtype).split(".")[-1] == str(a.dtype).split(".")[-1]
    np.testing.assert_array_equal(np.asarray(b.tolist()), np.asarray(a.tolist()))


# ---- x[i], `for row in x` ------------------------------------------------------------------

@pytest.mark.parametrize("i", [-3, -1, 0, 2, np.int64(1), np.int32(-2)])
def test_int_index_selects_torchs_row(i):
    _same(*_both(lambda m: m.arange(12.).reshape(3, 4)[i]))


@pytest.mark.parametrize("i", [3, -4, 100])
def test_int_index_out_of_range_raises_index_error(i):
    with pytest.raises(IndexError):
        torch.arange(12.).reshape(3, 4)[i]
    with pytest.raises(IndexError, match="out of bounds"):
        tinyflow.arange(12.).reshape(3, 4)[i]


@pytest.mark.parametrize("index", [True, False])
def test_bool_index_is_not_a_row(index):
    # x[True] adds an axis (x[False]: an empty one); a bool is no integer here
    _same(*_both(lambda m: m.arange(6.).reshape(2, 3)[index]))


def test_zero_d_tensor_index_selects_a_row():
    _same(*_both(lambda m: m.arange(6.).reshape(3, 2)[m.tensor(-1)]))


def test_iteration_gives_torchs_rows_and_refuses_a_0d_tensor():
    for shape in [(3, 4), (3,), (0, 2), (2, 0)]:
        t, f = _both(lambda m: list(m.arange(float(np.prod(shape))).reshape(shape)))
        assert len(t) == len(f)
        for a, b in zip(t, f):
            _same(a, b)
    for m in (torch, tinyflow):
        with pytest.raises(TypeError):
            iter(m.tensor(1.0))


def test_iteration_rows_carry_gradient_and_share_memory():
    def grad(m):
        x = m.arange(12.0, dtype=m.float64).reshape(3, 4).requires_grad_()
        rows = list(x)
        assert all(r.requires_grad for r in rows)
        sum((r * r * (k + 1)).sum() for k, r in enumerate(rows)).backward()
        return x.grad
    _same(*_both(grad))

    def no_grad(m):
        x = m.ones(2, 3, requires_grad=True)
        with m.no_grad():
            rows = list(x)
        return [r.grad_fn is None for r in rows]   # no history (torch's rows of a leaf
    assert no_grad(tinyflow) == no_grad(torch) == [True, True]   # still say requires_grad)

    x = tinyflow.zeros(2, 3)
    for k, row in enumerate(x):
        row.add_(k + 1)   # a row is a view: the write reaches x
    assert x.tolist() == [[1.0] * 3, [2.0] * 3]

    p = tinyflow.nn.Parameter(tinyflow.ones(2, 3))   # a Tensor subclass: the general path
    (list(p)[1] * 3).sum().backward()
    assert p.grad.tolist() == [[0.0] * 3, [3.0] * 3]


# ---- view / reshape / transpose --------------------------------------------------------------

VIEWS = {   # name -> (elements, what makes the input of them, view shape): torch refuses
    # some of these views and accepts the others
    "transposed, flat": (24, lambda x: x.reshape(2, 3, 4).transpose(1, 2), (24,)),
    "transposed, -1": (24, lambda x: x.reshape(2, 3, 4).transpose(1, 2), (-1,)),
    "transposed, same shape": (24, lambda x: x.reshape(2, 3, 4).transpose(1, 2), (2, 4, 3)),
    "transposed, lead dims merged": (24, lambda x: x.reshape(2, 3, 4).transpose(0, 1), (3, 8)),
    "transposed, split": (24, lambda x: x.reshape(2, 3, 4).transpose(0, 1), (3, 2, 2, 2)),
    "sliced, flat": (24, lambda x: x.reshape(2, 3, 4)[..., :2], (12,)),
    "sliced, rows merged": (24, lambda x: x.reshape(2, 3, 4)[..., :2], (6, 2)),
    "sliced, unit axis": (24, lambda x: x.reshape(2, 3, 4)[..., :2], (2, 3, 2, 1)),
    "strided": (12, lambda x: x[::2], (2, 3)),
    "expanded": (8, lambda x: x.reshape(2, 1, 4).expand(2, 5, 4), (10, 4)),
    "expanded, split": (8, lambda x: x.reshape(2, 1, 4).expand(2, 5, 4), (2, 5, 2, 2)),
    "column": (24, lambda x: x.reshape(2, 3, 4)[:, :, 1], (6,)),
    "row": (24, lambda x: x.reshape(2, 3, 4)[1], (-1,)),
    "empty": (0, lambda x: x.reshape(0, 3).t(), (3, 0)),
}


@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("name", sorted(VIEWS))
def test_view_refuses_where_torch_refuses(name, requires_grad):
    n, make, shape = VIEWS[name]

    def view(m):
        return make(m.arange(float(n)).requires_grad_(requires_grad)).view(*shape)
    try:
        expected = view(torch)
    except RuntimeError:
        with pytest.raises(RuntimeError, match="view"):
            view(tinyflow)
        return
    got = view(tinyflow)
    _same(expected, got)
    assert got.requires_grad is requires_grad


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (-1, 0, 2), (0,), (1, 0)])
def test_reshape_of_zero_size(shape):
    if -1 in shape:   # torch cannot infer a dim beside a 0 (nor can tinyflow)
        with pytest.raises(RuntimeError):
            torch.zeros(2, 0).reshape(shape)
        with pytest.raises(ValueError):
            tinyflow.zeros(2, 0).reshape(shape)
        return
    _same(*_both(lambda m: m.zeros(2, 0).reshape(shape)))


@pytest.mark.parametrize("shape", [(5, 3), (-2, -6), (13,), (3, -1, 5)])
def test_reshape_to_a_wrong_size_is_refused(shape):
    with pytest.raises(RuntimeError):
        torch.arange(12.).reshape(shape)
    with pytest.raises(ValueError):
        tinyflow.arange(12.).reshape(shape)


def test_transposes_match_torch():
    x = np.arange(24.0).reshape(2, 3, 4)
    for m in (torch, tinyflow):
        assert tuple(m.tensor(x[0]).permute(1, 0).shape) == (4, 3)
    _same(*_both(lambda m: m.tensor(x).permute(2, 0, 1)))
    _same(*_both(lambda m: m.tensor(x).permute(-1, 0, 1)))
    _same(*_both(lambda m: m.tensor(x[0]).t()))
    _same(*_both(lambda m: m.tensor(x).mT))
    assert tinyflow.transpose(tinyflow.tensor(x)).shape == (4, 3, 2)   # TF1's: reversed
    with pytest.raises(ValueError, match="not a permutation"):
        tinyflow.tensor(x).permute(0, 0, 1)


# ---- creation -------------------------------------------------------------------------------

@pytest.mark.parametrize("factory", ["zeros", "ones", "empty"])
def test_filled_factories_follow_dtype_and_the_default_dtype(factory):
    for dtype in ["float16", "bfloat16", "float64", "int32", "int64", "bool", "uint8"]:
        t, f = _both(lambda m: getattr(m, factory)(2, 3, dtype=getattr(m, dtype)))
        assert str(f.dtype) == "tinyflow." + dtype == str(t.dtype).replace("torch", "tinyflow")
        if factory != "empty":
            _same(t, f)
    for m in (torch, tinyflow):
        m.set_default_dtype(m.float64)
        try:
            assert getattr(m, factory)(2).dtype is m.float64
            assert getattr(m, factory)(2, dtype=None).dtype is m.float64
        finally:
            m.set_default_dtype(m.float32)
    assert getattr(tinyflow, factory)(2).dtype is tinyflow.float32
    x = getattr(tinyflow, factory)(2, 3, requires_grad=True)
    assert x.requires_grad and x.is_leaf
    with pytest.raises(RuntimeError, match="floating-point"):
        getattr(tinyflow, factory)(2, dtype=tinyflow.int64, requires_grad=True)
    out = tinyflow.full((2, 3), 7.0)
    assert getattr(tinyflow, factory)(2, 3, out=out) is out
    if factory != "empty":
        assert out.tolist() == getattr(torch, factory)(2, 3).tolist()
    assert getattr(tinyflow, factory)(2, device="cpu").shape == (2,)
    with pytest.raises(RuntimeError, match="cuda"):
        getattr(tinyflow, factory)(2, device="cuda")
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        getattr(tinyflow, factory)(2, colour=1)


def test_filled_tensor_owns_writable_memory():
    a, b = tinyflow.zeros(3), tinyflow.zeros(3)
    a.add_(1)
    assert b.tolist() == [0.0] * 3 and a.tolist() == [1.0] * 3


def test_randint_range_dtype_and_generator():
    r = tinyflow.randint(3, 7, (2000,))
    assert r.dtype is tinyflow.int64 and r.shape == (2000,)
    assert sorted(set(r.tolist())) == [3, 4, 5, 6]
    assert set(tinyflow.randint(2, (500,)).tolist()) == {0, 1}
    for dtype in ["int32", "uint8", "float32", "float64", "int16"]:
        assert str(tinyflow.randint(0, 5, (3,), dtype=getattr(tinyflow, dtype)).dtype) == \
            str(torch.randint(0, 5, (3,), dtype=getattr(torch, dtype)).dtype).replace(
                "torch", "tinyflow")
    g1, g2 = tinyflow.Generator().manual_seed(5), tinyflow.Generator().manual_seed(5)
    assert tinyflow.randint(0, 1000, (8,), generator=g1).tolist() == \
        tinyflow.randint(0, 1000, (8,), generator=g2).tolist()
    r = tinyflow.randint(0, 5, (4,))
    r.add_(10)   # its own writable memory
    assert min(r.tolist()) >= 10
    with pytest.raises(ValueError):
        tinyflow.randint(5, 5, (3,))


# ---- expand_dims / concat: one shared op per axis --------------------------------------------

def test_shared_expand_dims_and_concat_ops_per_axis_in_graphs_and_compile():
    x = tinyflow.arange(6.0).reshape(2, 3)
    _same(*_both(lambda m: m.cat([m.arange(6.0).reshape(2, 3).unsqueeze(0),
                                  m.arange(6.0).reshape(2, 3).unsqueeze(-1).squeeze(-1)
                                  .unsqueeze(1).transpose(0, 1)], 0)))

    @tinyflow.compile
    def f(x):
        return tinyflow.cat([x.unsqueeze(0), x.unsqueeze(-1).squeeze(-1).unsqueeze(0)],
                            0).unsqueeze(-1) + tinyflow.cat([x, x], 1).sum()

    for shape in [(2, 3), (4, 1), (2, 3)]:
        a = np.arange(float(np.prod(shape))).reshape(shape)
        expected = np.concatenate([a[None], a[None]], 0)[..., None] + 2 * a.sum()
        np.testing.assert_array_equal(f(tinyflow.tensor(a)).numpy(), expected)

    g = tf1.Graph()
    with g.as_default():
        p = tf1.placeholder(tf1.float32, [None, 3])
        a, b = tf1.expand_dims(p, 1), tf1.expand_dims(p, -1)
        c = tf1.concat([a, a], axis=1)
        d = tf1.concat([c, tf1.transpose(b, [0, 2, 1])], axis=-2)
        grad, = tf1.gradients(tf1.reduce_sum(d * d), p)
        with tf1.Session() as s:
            for rows in (2, 4):
                v = np.arange(rows * 3.0).reshape(rows, 3)
                dv, gv = s.run([d, grad], {p: v})
                assert dv.shape == (rows, 3, 3)
                np.testing.assert_array_equal(gv, 2 * v * 3)
    assert x.shape == (2, 3)


# ---- a view saved by a node, then its base written in place ----------------------------------

@pytest.mark.parametrize("view", [lambda y: y[0], lambda y: y.t()[1], lambda y: y.view(-1)])
def test_node_reading_a_view_keeps_its_values_when_the_base_is_written(view):
    # torch refuses this backward (a saved value was modified in place); tinyflow gives the
    # gradient at the values the node read (as for a write to the view itself): main read
    # the view's memory after the write, a wrong gradient without an error
    def grad(write):
        x = tinyflow.arange(4.0, dtype=tinyflow.float64).reshape(2, 2).requires_grad_()
        y = x * 1
        r = view(y)
        z = (r * r * r).sum()
        if write:
            y.add_(1)
        z.backward()
        return x.grad.tolist()
    assert grad(True) == grad(False)


@pytest.mark.parametrize("low, high, dtype", [(0, 300, "uint8"), (-1, 5, "uint8"),
                                              (0, 3, "bool"), (0, 2 ** 31 + 1, "int32"),
                                              (-129, 0, "int8")])
def test_randint_out_of_its_dtypes_range_is_refused(low, high, dtype):
    # torch: "to - 1 is out of bounds for unsigned char"; main wrapped the draws around
    with pytest.raises(RuntimeError):
        torch.randint(low, high, (3,), dtype=getattr(torch, dtype))
    with pytest.raises(RuntimeError, match="randint.*out of bounds for " + dtype):
        tinyflow.randint(low, high, (3,), dtype=getattr(tinyflow, dtype))


@pytest.mark.parametrize("low, high, dtype", [(0, 256, "uint8"), (-128, 128, "int8"),
                                              (0, 2, "bool"), (-5, 2 ** 40, "int64")])
def test_randint_at_the_ends_of_its_dtypes_range(low, high, dtype):
    r = tinyflow.randint(low, high, (200,), dtype=getattr(tinyflow, dtype))
    assert str(r.dtype) == "tinyflow." + dtype
    assert low <= min(r.tolist()) and max(r.tolist()) < high
