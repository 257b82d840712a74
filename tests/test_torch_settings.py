"""The first lines of PyTorch scripts: print options, seeds, matmul precision, determinism;
and the small torch.* creation and shape functions they use (windows, asarray, ...)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinyflow as tf  # noqa: E402


@pytest.fixture
def print_options():
    yield
    tf.set_printoptions(profile="default")
    torch.set_printoptions(profile="default")


VALUES = [np.array([1.23456789, -2.5, 3.0]), np.array([1e-6, 2.5]), np.arange(30.0) / 7,
          np.array([12345678.9, 0.5]), np.linspace(0, 1, 2000).reshape(40, 50)]


@pytest.mark.parametrize("options", [
    dict(precision=2), dict(precision=8), dict(sci_mode=False), dict(sci_mode=True),
    dict(threshold=5), dict(edgeitems=1, threshold=10), dict(linewidth=40),
    dict(profile="short"), dict(profile="full", linewidth=120), dict(edgeitems=0, threshold=3),
    dict(edgeitems=0)])
def test_set_printoptions_prints_as_torch(options, print_options):
    tf.set_printoptions(**options)
    torch.set_printoptions(**options)
    for values in VALUES:
        assert repr(tf.tensor(values)) == repr(torch.tensor(values)), values


def test_set_printoptions_default_profile_restores_and_bad_profile_is_named(print_options):
    before = repr(tf.tensor(VALUES[0]))
    tf.set_printoptions(precision=1, linewidth=20)
    tf.set_printoptions(profile="default")
    assert repr(tf.tensor(VALUES[0])) == before
    with pytest.raises(ValueError, match="profile must be one of"):
        tf.set_printoptions(profile="long")


def test_seed_and_initial_seed():
    tf.manual_seed(1234)
    assert tf.initial_seed() == 1234
    first = tf.rand(3).numpy()
    fresh = tf.seed()
    assert tf.initial_seed() == fresh and isinstance(fresh, int)
    tf.manual_seed(fresh)
    again = tf.rand(3).numpy()
    tf.manual_seed(fresh)
    np.testing.assert_array_equal(tf.rand(3).numpy(), again)
    tf.manual_seed(1234)
    np.testing.assert_array_equal(tf.rand(3).numpy(), first)


def test_process_switches_are_read_back_and_checked():
    try:
        tf.set_float32_matmul_precision("high")
        assert tf.get_float32_matmul_precision() == "high"
        with pytest.raises(RuntimeError, match="precision must be"):
            tf.set_float32_matmul_precision("fast")
        tf.use_deterministic_algorithms(True, warn_only=True)
        assert tf.are_deterministic_algorithms_enabled()
        assert tf.is_deterministic_algorithms_warn_only_enabled()
        with pytest.raises(RuntimeError, match="mode must be a bool"):
            tf.use_deterministic_algorithms("yes")
        tf.set_num_interop_threads(2)
        assert tf.get_num_interop_threads() == 2
    finally:
        tf.set_float32_matmul_precision("highest")
        tf.use_deterministic_algorithms(False)
        tf.set_num_interop_threads(1)


@pytest.mark.parametrize("name", ["hann_window", "hamming_window", "blackman_window",
                                  "bartlett_window", "kaiser_window"])
@pytest.mark.parametrize("length", [0, 1, 2, 7, 16])
@pytest.mark.parametrize("periodic", [True, False])
def test_windows_match_torch(name, length, periodic):
    got, want = getattr(tf, name)(length, periodic), getattr(torch, name)(length, periodic)
    assert str(got.dtype) == str(want.dtype).replace("torch", "tinyflow")
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-6)
    wide = getattr(tf, name)(length, periodic, dtype=tf.float64)
    np.testing.assert_allclose(wide.numpy(), getattr(torch, name)(
        length, periodic, dtype=torch.float64).numpy(), rtol=1e-12, atol=1e-12)


def test_small_torch_functions_match_torch():
    a = np.arange(6.0).reshape(2, 3)
    assert tf.broadcast_shapes((2, 1), (3,), 1) == torch.broadcast_shapes((2, 1), (3,), 1)
    with pytest.raises(RuntimeError, match=r"shapes \[\[2\], \[3\]\] cannot be broadcast"):
        tf.broadcast_shapes((2,), (3,))
    np.testing.assert_array_equal(tf.diagflat(tf.tensor(a), 1).numpy(),
                                  torch.diagflat(torch.tensor(a), 1).numpy())
    np.testing.assert_array_equal(tf.rsub(tf.tensor(a), 10.0, alpha=3).numpy(),
                                  torch.rsub(torch.tensor(a), 10.0, alpha=3).numpy())
    assert float(tf.vdot(tf.tensor(a[0]), tf.tensor(a[1]))) == 14.0
    assert tf.is_same_size(tf.ones(2, 3), tf.zeros(2, 3)) and not tf.is_same_size(
        tf.ones(2, 3), tf.ones(3, 2))
    s = tf.scalar_tensor(3)
    assert s.shape == () and s.dtype is tf.float32 and float(s) == 3.0
    ints = tf.randint_like(tf.ones(50, dtype=tf.int64), 2, 5).numpy()
    assert ints.dtype == np.int64 and ints.min() >= 2 and ints.max() <= 4


def test_asarray_shares_and_copies_as_torch():
    array = np.arange(4.0)
    shared = tf.asarray(array)
    array[0] = 9.0
    assert shared.numpy()[0] == 9.0
    copied = tf.asarray(array, copy=True)
    array[1] = 7.0
    assert copied.numpy()[1] == 1.0
    assert tf.asarray([1, 2]).dtype is tf.int64
    with pytest.raises(ValueError, match="copy=False"):
        tf.asarray(array, dtype=tf.float32, copy=False)
    assert tf.asarray(array, requires_grad=True).requires_grad


def test_asarray_of_a_graph_or_traced_tensor_reads_no_values():
    """asarray checks whether memory is shared only for copy=True/False: with the default it
    read the values (numpy()), which a TF1 placeholder refused and tinyflow.compile had to
    break the graph for."""
    p = tf.placeholder(tf.float32, [None])
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(tf.asarray(p) * 2, {p: [1.0, 2.0]}), [2.0, 4.0])
    step = tf.compile(lambda x: tf.asarray(x * 2) + 1)
    for _ in range(2):
        np.testing.assert_array_equal(step(tf.ones(3)).numpy(), [3.0, 3.0, 3.0])
    assert step.stats.graph_breaks == 0


def test_generator_seed_and_initial_seed_as_torch():
    for m in (tf, torch):
        g = m.Generator().manual_seed(99)
        assert g.initial_seed() == 99
        first = m.rand(3, generator=g).numpy()
        fresh = g.seed()
        assert g.initial_seed() == fresh and isinstance(fresh, int)
        g.manual_seed(99)
        np.testing.assert_array_equal(m.rand(3, generator=g).numpy(), first)


def test_a_new_generator_starts_from_torchs_fixed_seed():
    """`torch.Generator()` unseeded draws the same on every run (it had started from a fresh
    nondeterministic seed)."""
    for m in (tf, torch):
        assert m.Generator().initial_seed() == 67280421310721
    a, b = tf.Generator(), tf.Generator()
    np.testing.assert_array_equal(tf.rand(4, generator=a).numpy(), tf.rand(4, generator=b).numpy())
