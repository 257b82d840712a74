"""Winograd F(2x2, 5x5) and F(4x4, 3x3) convolutions (backend/numpy/_conv_winograd.py)
against PyTorch: the forward with and without bias, the weight and bias gradients and the
input gradient, on odd sizes (a partial last tile), padding 0 / 1 / 2 / asymmetric / "same",
float64 (tight) and float32, one thread and the kernel pool; and the cases that must not
take the path."""
from __future__ import annotations

import numpy as np
import pytest

from tinyflow.backend.numpy import _conv_numba, _conv_winograd
from tinyflow.ops import conv as conv_ops

from conv_kernel_check import check_kernels_against_torch
from pool_helpers import force_pool


CASES = [  # x shape, out channels, padding (torch spelling), kernel size
    ((2, 3, 7, 6), 4, 2, 5),
    ((3, 2, 5, 9), 3, 0, 5),
    ((1, 4, 6, 7), 2, "same", 5),
    ((2, 5, 8, 5), 3, ((1, 3), (0, 2)), 5),   # (top, bottom), (left, right)
    ((64, 32, 14, 14), 64, 2, 5),             # the CNN benchmark's layers
    ((2, 32, 7, 6), 32, 1, 3),                # 3x3 takes it from 32 channels in and out
    ((1, 33, 5, 9), 32, 0, 3),
    ((1, 32, 6, 7), 34, "same", 3),
    ((1, 32, 9, 5), 32, ((0, 2), (1, 1)), 3),
    ((64, 32, 14, 14), 64, 1, 3),
]


def _run(shape, out_channels, padding, kernel, dtype, bias):
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape).astype(dtype)
    w = (rng.standard_normal((out_channels, shape[1], kernel, kernel)) / kernel).astype(dtype)
    b = rng.standard_normal(out_channels).astype(dtype) if bias else None
    check_kernels_against_torch(x, w, b, padding, rng)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c[0])) + f"-k{c[3]}")
def test_winograd_matches_torch(case, bias, dtype, monkeypatch):
    _any_size(monkeypatch)
    calls = []
    monkeypatch.setattr(_conv_winograd, "conv2d", _counted(_conv_winograd.conv2d, calls))
    for name in ("grad_weight", "grad_input"):
        monkeypatch.setattr(_conv_winograd, name, _counted(getattr(_conv_winograd, name), calls))
    _run(*case, dtype, bias)
    assert calls == ["conv2d", "grad_weight", "grad_input"]


def _any_size(monkeypatch):
    """The path on small sizes and few channels too (it checks the transforms' arithmetic,
    which the size rule does not change)."""
    monkeypatch.setattr(_conv_winograd, "MIN_TILES", 1)
    monkeypatch.setattr(_conv_winograd, "MIN_SAVING", 0.0)
    _few_channels(monkeypatch)


def _few_channels(monkeypatch):
    monkeypatch.setitem(_conv_winograd.MIN_CHANNELS, 5, (2, 2))


def _counted(fn, calls):
    def wrapper(*args, **kwargs):
        calls.append(fn.__name__)
        return fn(*args, **kwargs)
    return wrapper


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_winograd_on_the_kernel_pool_matches_torch(dtype, monkeypatch):
    threaded = force_pool(monkeypatch, 1 << 10, [])
    _few_channels(monkeypatch)
    _run((9, 6, 11, 10), 5, 2, 5, dtype, bias=True)
    _run((9, 32, 11, 10), 32, 1, 3, dtype, bias=True)
    # forward and input gradient; the weight gradients' parts run from `sum_parts`
    assert threaded.count("_conv_winograd.py") == 4 and threaded.count("_conv_numba.py") == 2


@pytest.mark.parametrize("attrs, channels, out_channels, kernel", [
    (dict(stride=2, padding=2), 3, 4, 5),
    (dict(dilation=2, padding=4), 3, 4, 5),
    (dict(groups=3, padding=2), 3, 3, 5),
    (dict(stride=2, padding=1), 32, 32, 3),
    (dict(padding=1), 16, 64, 3),      # a narrow 3x3 layer: the transforms cost more
    (dict(padding=1), 64, 16, 3),
    (dict(padding=3), 32, 32, 7),      # no Winograd size for 7x7
    (dict(padding=2), 1, 4, 5),        # one input channel: the tap-major im2col
    (dict(padding=2), 6, 16, 5),       # LeNet's 6 -> 16: the transforms cost more
    (dict(padding=2), 8, 16, 5),
])
def test_other_convolutions_keep_im2col(attrs, channels, out_channels, kernel):
    op = conv_ops.Conv2d(**conv_ops.conv_attrs(**attrs))
    assert not _conv_winograd.applies(op, (kernel, kernel), channels, out_channels,
                                      np.float32, 64, (28, 28))


@pytest.mark.parametrize("images, channels, out_hw, kernel, winograd", [
    (64, 128, (4, 4), 3, True),     # one 4x4 tile an image, 64 of them
    (64, 64, (7, 7), 3, True),
    (16, 128, (4, 4), 3, False),    # 16 tiles: the weight transform is not paid back
    (64, 256, (2, 2), 3, False),    # a 4x4 tile for 2x2 outputs: as many products as im2col
    (64, 512, (1, 1), 3, False),    # ResNet-18's last layers on 28x28 images
    (64, 32, (3, 3), 5, False),     # 5x5: 2x2 tiles, 1.56x fewer products
    (64, 32, (7, 7), 5, True),
])
def test_the_size_rule(images, channels, out_hw, kernel, winograd):
    op = conv_ops.Conv2d(**conv_ops.conv_attrs(padding=kernel // 2))
    assert _conv_winograd.applies(op, (kernel, kernel), channels, channels, np.float32,
                                  images, out_hw) is winograd


def test_small_outputs_take_im2col_and_match_torch(monkeypatch):
    calls = []
    monkeypatch.setattr(_conv_winograd, "conv2d", _counted(_conv_winograd.conv2d, calls))
    _run((4, 32, 2, 2), 32, 1, 3, np.float64, bias=True)
    assert calls == []


def test_padding_past_the_kernel_matches_torch(monkeypatch):
    """Padding above r - 1: whole rows of tiles read only zeros, their gradient is dropped."""
    _any_size(monkeypatch)
    _run((2, 3, 4, 5), 4, 5, 5, np.float64, bias=True)
    _run((2, 32, 4, 5), 32, 4, 3, np.float64, bias=True)


@pytest.mark.parametrize("r", [5, 3])
def test_matrices_compute_the_correlation(r):
    """y = A^T [(G w) * (B^T d)] is the 1-D correlation of d with w, in float64."""
    at, g, bt = _conv_winograd.matrices(r, np.float64)
    rng = np.random.default_rng(1)
    w, d = rng.standard_normal(r), rng.standard_normal(6)
    want = [w @ d[i:i + r] for i in range(6 - r + 1)]
    np.testing.assert_allclose(at @ ((g @ w) * (bt @ d)), want, rtol=1e-12)


@pytest.mark.parametrize("r", [5, 3])
def test_matrices_have_the_zeros_the_transform_loops_leave_out(r):
    """The transform loops skip terms of B^T and A^T (`_conv_loops.winograd_*`): the first
    row's last, the last row's first, both in the rows between (so the first and last
    columns have one term each). Other points than 0 and infinity would give no such
    zeros."""
    for matrix in _conv_winograd.matrices(r, np.float64)[::2]:     # A^T, B^T
        skipped = np.zeros(matrix.shape, bool)
        skipped[:-1, -1] = skipped[1:, 0] = True
        assert not matrix[skipped].any()


@pytest.mark.parametrize("n, tiles_per_image", [(2, 30), (3, 30), (2, 4), (8, 4), (64, 16)])
def test_the_callers_shorter_piece_keeps_an_image(n, tiles_per_image, monkeypatch):
    """The caller's piece (which makes the transformed weight) is shifted shorter, but at
    batch 2 a shift of one had left it no image and the other thread both."""
    seen = []

    def two_threads(piece, length, work):
        for a, b in _conv_winograd.parallel.bounds(length, 2):
            piece(a, b)
    monkeypatch.setattr(_conv_winograd.parallel, "split", two_threads)
    making = _conv_winograd.Shared(lambda: None)
    _conv_winograd._split(lambda a, b: seen.append((a, b)), n, tiles_per_image, 1, making)
    assert all(b > a for a, b in seen) and sorted(seen)[0][0] == 0 and seen[-1][1] == n
    assert sum(b - a for a, b in seen) == n
    seen.clear()    # a weight the memo had: even halves
    making.value = "kept"
    _conv_winograd._split(lambda a, b: seen.append((a, b)), n, tiles_per_image, 1, making)
    assert seen == list(_conv_winograd.parallel.bounds(n, 2))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("r", [3, 5])
def test_transformed_weight_is_g_w_g_transposed(r, dtype):
    """The Numba loop's G w G^T of every (o, c), in both layouts, against NumPy's products."""
    w = np.random.default_rng(5).standard_normal((7, 3, r, r)).astype(dtype)
    gm = _conv_winograd.matrices(r, dtype)[1]
    want = np.einsum("ai,ocij,bj->abco", gm, w, gm).reshape(36, 3, 7)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_conv_winograd._transformed_weight(w, "co"), want, **tol)
    np.testing.assert_allclose(_conv_winograd._transformed_weight(w, "oc"),
                               want.transpose(0, 2, 1), **tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kept_transform_follows_the_weights_bits(dtype, monkeypatch):
    """The memo gives back a transform only for the bits it was made from: the same weight
    again gets the kept array; the weight changed in place (one value, the last, or a -0.0
    for a 0.0: equal as floats, different bits) or a new weight at the same address gets
    a fresh one, equal to a memo-less transform."""
    monkeypatch.setattr(_conv_numba, "weight_memo", _conv_numba.WeightMemo())
    w = np.random.default_rng(6).standard_normal((5, 4, 3, 3)).astype(dtype)
    w[0, 0, 0, 0] = 0.0
    first = _conv_winograd._transformed_weight(w, "co")
    assert _conv_winograd._transformed_weight(w, "co") is first
    assert _conv_winograd._transformed_weight(w, "oc") is not first   # each order its own
    for change in [(-1, -1, -1, -1), (0, 0, 0, 0)]:
        w[change] = -w[change]
        again = _conv_winograd._transformed_weight(w, "co")
        assert again is not first
        monkeypatch.setattr(_conv_numba, "weight_memo", _conv_numba.WeightMemo())
        np.testing.assert_array_equal(_conv_winograd._transformed_weight(w, "co"), again)
        first = again


def test_memo_drops_the_least_recent_past_its_bytes(monkeypatch):
    memo = _conv_numba.WeightMemo()
    monkeypatch.setattr(_conv_numba, "weight_memo", memo)
    ws = [np.full((4, 4, 3, 3), k, np.float32) for k in range(3)]
    one = ws[0].nbytes + 36 * 16 * 4                       # a copy and its transform
    monkeypatch.setattr(_conv_numba, "MEMO_BYTES", 2 * one)
    kept = [_conv_winograd._transformed_weight(w, "co") for w in ws]
    assert memo.bytes == 2 * one and len(memo.entries) == 2
    assert _conv_winograd._transformed_weight(ws[0], "co") is not kept[0]   # dropped
    assert _conv_winograd._transformed_weight(ws[2], "co") is kept[2]


def test_a_weight_being_trained_stops_being_kept(monkeypatch):
    """A weight found changed twice (an optimizer's in-place steps) is no longer copied and
    kept: its transform is made in scratch memory, and still right."""
    memo = _conv_numba.WeightMemo()
    monkeypatch.setattr(_conv_numba, "weight_memo", memo)
    w = np.random.default_rng(7).standard_normal((5, 4, 3, 3))
    gm = _conv_winograd.matrices(3, np.float64)[1]
    for step in range(5):
        got = _conv_winograd._transformed_weight(w, "co")
        want = np.einsum("ai,ocij,bj->abco", gm, w, gm).reshape(36, 4, 5)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        assert len(memo.entries) == (1 if step < 2 else 0) and memo.wanted(w, "co") == (step < 2)
        w -= 0.1 * np.sign(w)                     # a training step, in place
    assert memo.bytes == 0


def test_a_weight_cycled_out_of_the_memo_stops_being_kept(monkeypatch):
    """A kept transform found dropped (more layers than MEMO_BYTES holds, cycled through in
    order, each call a miss) counts as a change: after two such misses the weight is no
    longer copied and kept, and the memo settles on the others, which it then serves
    (before, every call of every layer missed, paying the copy and fresh pages)."""
    memo = _conv_numba.WeightMemo()
    monkeypatch.setattr(_conv_numba, "weight_memo", memo)
    ws = [np.full((4, 4, 3, 3), k, np.float32) for k in range(3)]
    one = ws[0].nbytes + 36 * 16 * 4
    monkeypatch.setattr(_conv_numba, "MEMO_BYTES", 2 * one)
    for _ in range(3):
        for w in ws:
            _conv_winograd._transformed_weight(w, "co")
    assert not memo.wanted(ws[0], "co")
    assert all(memo.find(w, "co") is not None for w in ws[1:])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_trained_weights_forward_hands_its_backward_the_transform(dtype, monkeypatch):
    """Training in place (an optimizer's steps between calls): once the weight is seen
    changing, its forward also makes the input gradient's transform and keeps it, in the
    same array every step, for the backward, which finds it; a change to the weight between
    the forward and the backward (in place) is seen, and every result matches torch."""
    torch = pytest.importorskip("torch")
    memo = _conv_numba.WeightMemo()
    monkeypatch.setattr(_conv_numba, "weight_memo", memo)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 32, 8, 8)).astype(dtype)
    w = (rng.standard_normal((32, 32, 3, 3)) / 9).astype(dtype)
    g = rng.standard_normal((2, 32, 8, 8)).astype(dtype)
    pads = ((1, 1), (1, 1))
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    handed = []
    for step in range(6):
        out = _conv_winograd.conv2d(x, w, None, pads)
        want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1)
        np.testing.assert_allclose(out, want.numpy(), **tol)
        kept = memo.find(w, "oc") if step >= 2 else None
        if step >= 2:
            assert kept is not None and not memo.wanted(w, "co")
            handed.append(kept.__array_interface__["data"][0])
        if step == 4:
            w[0, 0, 0, 0] += 1.0                    # changed between forward and backward
            assert memo.find(w, "oc") is None
        dx = _conv_winograd.grad_input(g, w, x.shape, pads)
        want = torch.nn.grad.conv2d_input(x.shape, torch.from_numpy(w), torch.from_numpy(g),
                                          padding=1)
        np.testing.assert_allclose(dx, want.numpy(), **tol)
        w -= 0.01 * np.sign(w)                      # an optimizer step, in place
        kept = None     # (held, the array is not made again: a run may still read it)
    assert handed[0] == handed[1] == handed[2]      # the step before's array, made again


def test_the_memos_change_counts_stay_bounded(monkeypatch):
    """`keep` notes every kept weight in `changes` (so a dropped one's miss counts): a long
    run making transforms of ever new weights (new models, per-call weights) must not grow
    that dict without bound (before, only a found change pruned it)."""
    memo = _conv_numba.WeightMemo()
    monkeypatch.setattr(_conv_numba, "weight_memo", memo)
    monkeypatch.setattr(_conv_numba, "MEMO_BYTES", 64 << 10)
    alive = [np.full((4, 4, 3, 3), k, np.float32) for k in range(6000)]   # distinct addresses
    for w in alive:
        _conv_winograd._transformed_weight(w, "co")
    assert len(memo.changes) <= 4097


def test_the_handed_on_array_is_not_rewritten_while_another_run_reads_it(monkeypatch):
    """A forward's `slot` makes the backward's transform again in the array kept the step
    before: not while another run (another thread's backward, which found it) still reads it:
    the Numba loop writes partial sums in place, which that run's products would read."""
    memo = _conv_numba.WeightMemo()
    monkeypatch.setattr(_conv_numba, "weight_memo", memo)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 32, 16, 16)).astype(np.float32)
    w = (rng.standard_normal((32, 32, 3, 3)) / 9).astype(np.float32)
    pads = ((1, 1), (1, 1))
    for _ in range(3):                          # trained: the forward hands "oc" on
        _conv_winograd.conv2d(x, w, None, pads)
        w -= 0.01 * np.sign(w)
    _conv_winograd.conv2d(x, w, None, pads)
    held = memo.find(w, "oc")                   # as another thread's backward holds it
    assert held is not None
    before = held.copy()
    w -= 0.01 * np.sign(w)
    _conv_winograd.conv2d(x, w, None, pads)     # this thread's next step
    np.testing.assert_array_equal(held, before)
    assert memo.find(w, "oc") is not None       # and the backward still gets its own


def test_the_pools_threads_let_go_of_a_run_s_pieces(monkeypatch):
    """A kernel thread drops the piece it ran (its closure: the run's arrays) before the run
    returns: a memo array a finished run read is then unread (`WeightMemo.slot` checks)."""
    import gc
    import weakref
    from tinyflow.backend.numpy import parallel
    monkeypatch.setattr(parallel, "threads", lambda: 2)

    class Held:
        pass
    held = Held()
    ref, seen = weakref.ref(held), []

    def piece(start, stop, held=held):
        seen.append((start, stop))
    parallel.run(piece, 2)
    del piece, held
    gc.collect()
    assert len(seen) == 2 and ref() is None
