"""Bad (and borderline) input, with PyTorch as the oracle.

Each case is `fn(lib)`, run once with lib = torch and once with lib = tinyflow. Where PyTorch
raises, tinyflow must raise an exception that is an instance of PyTorch's class (so a user's
`except RuntimeError:` still catches it) whose message matches the case's pattern (it names
the op, the argument, the shapes or the dtypes). Where PyTorch returns, tinyflow returns the
same value (arrays to float32 tolerance, dtypes by name, sizes as tuples).

The worst class of failure this guards against is a silent wrong answer: a mismatched loss
target broadcast into a plausible number, an out-of-range index returning a row, an integer
division by zero returning 0, a 0-dim tensor widening a whole batch's dtype.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch

import tinyflow

A34 = np.arange(12, dtype=np.float32).reshape(3, 4) / 10


def T(lib, data=A34, **kw):
    return lib.tensor(np.array(data), **kw)


LEAF_WRITE = r"in-place write into a (view of a )?leaf tensor that requires grad"


def leaf(lib):
    return lib.ones(2, 3, requires_grad=True)


def F(lib):
    return lib.nn.functional


def prob(lib, *shape):
    return lib.full(shape, 0.3)


def with_grad_mode(lib, mode):
    """`torch.set_grad_enabled(mode)` as a plain call: does the next op record history?"""
    before = lib.is_grad_enabled()
    lib.set_grad_enabled(mode)
    try:
        return (leaf(lib) * 2).requires_grad
    finally:
        lib.set_grad_enabled(before)


def decorated_no_grad(lib):
    @lib.no_grad()
    def f(x):
        return x * 2
    return f(leaf(lib)).requires_grad


def bare_decorated_no_grad(lib):
    @lib.no_grad
    def f(x):
        return x * 2
    return f(leaf(lib)).requires_grad, lib.is_grad_enabled()


def bare_decorated_inference_mode(lib):
    @lib.inference_mode
    def f(x):
        return x * 2
    return f(leaf(lib)).requires_grad, lib.is_grad_enabled()


def enable_inside_no_grad(lib):
    with lib.no_grad():
        with lib.enable_grad():
            return (leaf(lib) * 2).requires_grad


def in_inference_mode(lib):
    with lib.inference_mode():
        return (leaf(lib) * 2).requires_grad


def set_grad(lib, value):
    x = leaf(lib)
    x.grad = value(lib)
    return x.grad


def no_grad_write(lib):
    x = leaf(lib)
    with lib.no_grad():
        x.add_(1)
        x[0, 0] = 5
        x.mul_(3)
    return x.detach()


def constant_into_history(write):
    """A constant written in place into a tensor with history: the tensor keeps requiring
    grad and its old history gets a zero gradient (not an error, not a stale gradient)."""
    def run(lib):
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        write(lib, y)
        ((y * x).sum() + y.sum()).backward()
        return x.grad
    return run


def view_of_leaf(lib):
    x = leaf(lib)
    x[0].mul_(2)


def optimizer(name, **kw):
    return lambda lib: getattr(lib.optim, name)([leaf(lib)], **kw)


# (id, fn, pattern the tinyflow message must match where PyTorch raises; None otherwise)
CASES = [
    # ---- losses: every loss, against mismatched targets ---------------------------------
    ("mse broadcast (3,1) vs (3,)", lambda L: F(L).mse_loss(T(L, A34[:, :1]), T(L, A34[0, :3])),
     None),
    ("mse no broadcast", lambda L: F(L).mse_loss(T(L), T(L, A34[:, 0])), r"mse_loss.*\[3, 4\]"),
    ("l1 no broadcast", lambda L: F(L).l1_loss(T(L), T(L, A34[0, :3])), r"l1_loss"),
    ("smooth_l1 broadcast", lambda L: F(L).smooth_l1_loss(T(L), T(L, A34[0])), None),
    ("smooth_l1 no broadcast", lambda L: F(L).smooth_l1_loss(T(L), T(L, A34.T)),
     r"smooth_l1_loss"),
    ("huber broadcast", lambda L: F(L).huber_loss(T(L, A34[:, :1]), T(L, A34[0])), None),
    ("huber no broadcast", lambda L: F(L).huber_loss(T(L), T(L, A34[:2])), r"huber_loss"),
    ("kl_div broadcast", lambda L: F(L).kl_div(T(L), T(L, A34[:1]), reduction="batchmean"),
     None),
    ("kl_div no broadcast", lambda L: F(L).kl_div(T(L), T(L, A34[:, :3])), r"kl_div"),
    ("bce (3,1) vs (3,)", lambda L: F(L).binary_cross_entropy(prob(L, 3, 1), prob(L, 3)),
     r"binary_cross_entropy.*\[3\].*\[3, 1\]"),
    ("bce (3,4) vs (1,4)", lambda L: F(L).binary_cross_entropy(prob(L, 3, 4), prob(L, 1, 4)),
     r"binary_cross_entropy: target \[1, 4\] and input \[3, 4\] differ"),
    ("bce scalar target", lambda L: F(L).binary_cross_entropy(prob(L, 3), prob(L)),
     r"binary_cross_entropy"),
    ("bce_logits (3,1) vs (3,)",
     lambda L: F(L).binary_cross_entropy_with_logits(T(L, A34[:, :1]), prob(L, 3)),
     r"binary_cross_entropy_with_logits.*\[3\].*\[3, 1\]"),
    ("bce_logits (3,4) vs (4,)",
     lambda L: F(L).binary_cross_entropy_with_logits(T(L), prob(L, 4)),
     r"binary_cross_entropy_with_logits"),
    ("bce same shape", lambda L: F(L).binary_cross_entropy(prob(L, 3, 4), prob(L, 3, 4)), None),
    ("cross_entropy ids (3,1)", lambda L: F(L).cross_entropy(T(L), T(L, [[0], [1], [2]])),
     r"cross_entropy.*target"),
    ("cross_entropy batch", lambda L: F(L).cross_entropy(T(L), T(L, [0, 1, 2, 3])),
     r"cross_entropy: input has 3 samples but target 4"),
    ("cross_entropy float ids", lambda L: F(L).cross_entropy(T(L), T(L, [0., 1., 2.])),
     r"cross_entropy: the target is float64 \[3\]; class indices must be"),
    ("cross_entropy int32 ids", lambda L: F(L).cross_entropy(T(L), T(L, [0, 1, 2]).int()),
     r"cross_entropy: the target is int32; class indices must be int64"),
    ("nll uint8 ids", lambda L: F(L).nll_loss(T(L), T(L, np.array([0, 1, 2], np.uint8))),
     None),
    ("cross_entropy probabilities", lambda L: F(L).cross_entropy(T(L), L.softmax(T(L), 1)),
     None),
    ("cross_entropy id out of range", lambda L: F(L).cross_entropy(T(L), T(L, [0, 1, 4])),
     r"target class 4 is out of range for 4 classes"),
    ("cross_entropy spatial", lambda L: F(L).cross_entropy(
        T(L, np.ones((2, 4, 5), np.float32)), T(L, np.zeros((2, 4), np.int64))),
     r"cross_entropy: the target is \[2, 4\].*it must be \[2, 5\]"),
    ("cross_entropy weight", lambda L: F(L).cross_entropy(T(L), T(L, [0, 1, 2]),
                                                         weight=L.ones(5)),
     r"cross_entropy: weight has shape \[5\]; it needs one entry per class \[4\]"),
    ("nll ids (3,1)", lambda L: F(L).nll_loss(T(L), T(L, [[0], [1], [2]])), r"nll_loss"),
    ("nll 1-D input", lambda L: F(L).nll_loss(T(L, A34[0]), T(L, [0, 1, 2])), r"nll_loss"),
    ("nll id -1", lambda L: F(L).nll_loss(T(L), T(L, [0, 1, -1])),
     r"target class -1 is out of range for 4 classes"),
    ("nll ignore_index", lambda L: F(L).nll_loss(T(L), T(L, [0, -100, 3])), None),
    # ---- indexing ----------------------------------------------------------------------
    ("getitem int", lambda L: T(L)[3], r"index 3 is out of bounds"),
    ("getitem negative", lambda L: T(L)[-4], r"index -4 is out of bounds"),
    ("getitem list", lambda L: T(L)[[0, 5]], r"index 5 is out of bounds"),
    ("getitem tensor", lambda L: T(L)[T(L, [0, -5])], r"index -5"),
    ("getitem column", lambda L: T(L)[:, 4], r"index 4 is out of bounds"),
    ("getitem in range", lambda L: T(L)[T(L, [2, -1, 0]), 1:3], None),
    ("index_select", lambda L: L.index_select(T(L), 0, T(L, [3])), r"index out of range"),
    ("gather", lambda L: L.gather(T(L), 1, T(L, [[4], [0], [0]])), r"index out of range"),
    ("gather ok", lambda L: L.gather(T(L), 1, T(L, [[3], [0], [1]])), None),
    ("embedding", lambda L: F(L).embedding(T(L, [5]), T(L)), r"index out of range"),
    ("setitem", lambda L: T(L).__setitem__(7, 0.0), r"index 7 is out of bounds"),
    # ---- integer division --------------------------------------------------------------
    ("int // 0", lambda L: T(L, [1, 2]) // T(L, [1, 0]), r"division by zero"),
    ("int % 0", lambda L: T(L, [1, 2]) % 0, r"division by zero"),
    ("int div trunc 0", lambda L: L.div(T(L, [1]), 0, rounding_mode="trunc"),
     r"division by zero"),
    ("float // 0", lambda L: T(L, [1., -1.]) / 0, None),
    ("int / 0", lambda L: T(L, [1, 0]) / 0, None),
    ("div floor", lambda L: L.div(T(L, [7, -7]), 2, rounding_mode="floor"), None),
    ("div trunc", lambda L: L.div(T(L, [7., -7.]), 2, rounding_mode="trunc"), None),
    ("div bad mode", lambda L: L.div(T(L), 2, rounding_mode="round"), r"rounding_mode"),
    # ---- dtype promotion: 0-dim tensors and Python scalars ------------------------------
    ("f32 * 0-dim f64", lambda L: (L.ones(2) * L.tensor(2., dtype=L.float64)).dtype, None),
    ("i32 * 0-dim i64", lambda L: (L.ones(2, dtype=L.int32) * L.tensor(2)).dtype, None),
    ("i32 * 0-dim f64", lambda L: (L.ones(2, dtype=L.int32) * L.tensor(2., dtype=L.float64))
     .dtype, None),
    ("0-dim i32 * 0-dim i64",
     lambda L: (L.tensor(1, dtype=L.int32) * L.tensor(2)).dtype, None),
    ("u8 + 0-dim i64", lambda L: (L.ones(2, dtype=L.uint8) + L.tensor(300)).dtype, None),
    ("bool + 0-dim i32", lambda L: (L.ones(2, dtype=L.bool) + L.tensor(1, dtype=L.int32))
     .dtype, None),
    ("i16 * 2.5", lambda L: (L.ones(2, dtype=L.int16) * 2.5).dtype, None),
    ("f16 * 2.5", lambda L: (L.ones(2, dtype=L.float16) * 2.5).dtype, None),
    ("bool + True", lambda L: (L.ones(2, dtype=L.bool) + True).dtype, None),
    ("bool + 1", lambda L: (L.ones(2, dtype=L.bool) + 1).dtype, None),
    ("0-dim f64 value", lambda L: L.ones(2) * L.tensor(1 / 3, dtype=L.float64), None),
    ("where mixed", lambda L: L.where(L.ones(2, dtype=L.bool), L.ones(2),
                                      L.tensor(0., dtype=L.float64)).dtype, None),
    ("result_type tensor, float", lambda L: L.result_type(L.ones(2, dtype=L.int32), 2.0),
     None),
    ("result_type 0-dim, tensor", lambda L: L.result_type(
        L.tensor(1., dtype=L.float64), L.ones(2)), None),
    ("result_type int, int tensor", lambda L: L.result_type(3, L.ones(2, dtype=L.int8)), None),
    ("result_type scalars", lambda L: L.result_type(3, 2.0), None),
    ("result_type bool, int", lambda L: L.result_type(L.ones(2, dtype=L.bool), 3), None),
    ("promote_types", lambda L: L.promote_types(L.int32, L.float16), None),
    ("neg bool", lambda L: -L.ones(2, dtype=L.bool), r"neg: `-` of a bool tensor is refused"),
    ("sign bool", lambda L: L.sign(L.ones(2, dtype=L.bool)), None),
    # ---- in-place rules on leaves and views --------------------------------------------
    ("leaf add_", lambda L: leaf(L).add_(1), LEAF_WRITE),
    ("leaf mul_", lambda L: leaf(L).mul_(2), LEAF_WRITE),
    ("leaf fill_", lambda L: leaf(L).fill_(1), LEAF_WRITE),
    ("leaf zero_", lambda L: leaf(L).zero_(), LEAF_WRITE),
    ("leaf copy_", lambda L: leaf(L).copy_(L.zeros(2, 3)), LEAF_WRITE),
    ("leaf normal_", lambda L: leaf(L).normal_(), LEAF_WRITE),
    ("leaf uniform_", lambda L: leaf(L).uniform_(), LEAF_WRITE),
    ("leaf clamp_", lambda L: leaf(L).clamp_(0, 1), LEAF_WRITE),
    ("leaf setitem", lambda L: leaf(L).__setitem__(0, 1.0), LEAF_WRITE),
    ("leaf +=", lambda L: leaf(L).__iadd__(1), LEAF_WRITE),
    ("view of leaf mul_", view_of_leaf, LEAF_WRITE),
    ("leaf under no_grad", no_grad_write, None),
    ("fill_ into history", constant_into_history(lambda L, y: y.fill_(1)), None),
    ("zero_ into history", constant_into_history(lambda L, y: y.zero_()), None),
    ("copy_ into history", constant_into_history(lambda L, y: y.copy_(L.arange(3.))), None),
    ("setitem into history", constant_into_history(lambda L, y: y.__setitem__(0, 5.0)), None),
    # ---- .grad assignment ---------------------------------------------------------------
    ("grad shape", lambda L: set_grad(L, lambda L: L.ones(3)),
     r"shape \[3\] for a tensor of shape \[2, 3\]"),
    ("grad dtype", lambda L: set_grad(L, lambda L: L.ones(2, 3, dtype=L.float64)),
     r"a float64 tensor for a float32 tensor; the dtypes must match"),
    ("grad list", lambda L: set_grad(L, lambda L: [1.0]), r"\.grad = a list; assign a Tensor"),
    ("grad ok", lambda L: set_grad(L, lambda L: L.full((2, 3), 2.0)), None),
    ("grad None", lambda L: set_grad(L, lambda L: None), None),
    # ---- grad modes, in all their spellings ---------------------------------------------
    ("set_grad_enabled(False) call", lambda L: with_grad_mode(L, False), None),
    ("set_grad_enabled(True) call", lambda L: with_grad_mode(L, True), None),
    ("no_grad decorator", decorated_no_grad, None),
    ("bare no_grad decorator", bare_decorated_no_grad, None),
    ("bare inference_mode decorator", bare_decorated_inference_mode, None),
    ("enable_grad in no_grad", enable_inside_no_grad, None),
    ("inference_mode", in_inference_mode, None),
    # ---- creation functions' arguments --------------------------------------------------
    ("zeros size=", lambda L: L.zeros(size=(2, 3)).shape, None),
    ("ones size= device=", lambda L: L.ones(size=[2], device="cpu").shape, None),
    ("randn size=", lambda L: L.randn(size=(2, 3)).shape, None),
    ("arange device", lambda L: L.arange(0, 5, dtype=L.long, device=L.device("cpu")), None),
    ("full device", lambda L: L.full((2,), 1.5, device="cpu"), None),
    ("eye device", lambda L: L.eye(3, device="cpu"), None),
    ("tensor device", lambda L: L.tensor([1, 2], device="cpu"), None),
    ("zeros_like device", lambda L: L.zeros_like(T(L), device="cpu"), None),
    ("empty pin_memory", lambda L: L.empty(2, pin_memory=False).shape, None),
    ("zeros bad keyword", lambda L: L.zeros(2, sizes=3), r"zeros.*sizes"),
    ("arange int dtype", lambda L: L.arange(5).dtype, None),
    ("arange float dtype", lambda L: L.arange(0, 1, 0.25).dtype, None),
    ("full int", lambda L: L.full((2,), 7).dtype, None),
    ("full bool", lambda L: L.full((2,), True).dtype, None),
    ("randint size", lambda L: L.randint(0, 5, (3,)).shape, None),
    ("int tensor requires_grad", lambda L: L.tensor([1, 2], requires_grad=True),
     r"floating"),
    # ---- shapes: split, chunk, matmul, reductions, conv ---------------------------------
    ("split 0", lambda L: L.ones(4).split(0), r"split_size"),
    ("chunk 0", lambda L: L.ones(4).chunk(0), r"chunk.*0"),
    ("chunk 3 of 4", lambda L: [c.shape for c in L.ones(4).chunk(3)], None),
    ("matmul batch", lambda L: L.matmul(L.ones(2, 3, 4), L.ones(5, 4, 2)),
     r"matmul.*batch.*\(2,\).*\(5,\)"),
    ("matmul inner", lambda L: L.matmul(L.ones(2, 3), L.ones(4, 2)), r"matmul.*3.*4"),
    ("matmul dtypes", lambda L: L.matmul(L.ones(2, 3), L.ones(3, 2, dtype=L.float64)),
     r"matmul.*dtype"),
    ("1-D @ 1-D", lambda L: L.arange(3.) @ L.arange(3.), None),
    ("1-D @ 2-D", lambda L: L.arange(3.) @ T(L, A34[:3, :2]), None),
    ("2-D @ 1-D", lambda L: T(L) @ L.arange(4.), None),
    ("3-D @ 1-D", lambda L: L.ones(2, 3, 4) @ L.arange(4.), None),
    ("1-D @ 3-D", lambda L: L.arange(3.) @ L.ones(2, 3, 4), None),
    ("1-D @ 1-D mismatch", lambda L: L.arange(3.) @ L.arange(4.), r"matmul.*3.*4"),
    ("argmax empty dim", lambda L: L.argmax(L.ones(0, 3), dim=0), r"argmax.*dim 0"),
    ("argmax other dim", lambda L: L.argmax(L.ones(0, 3), dim=1), None),
    ("argmax keepdim", lambda L: L.argmax(T(L), dim=1, keepdim=True), None),
    ("max empty dim", lambda L: L.ones(0, 3).max(dim=0), r"max.*dim 0"),
    ("conv2d dtypes", lambda L: F(L).conv2d(L.ones(1, 1, 4, 4),
                                            L.ones(1, 1, 2, 2, dtype=L.float64)),
     r"conv2d.*float32.*float64"),
    ("conv2d negative padding", lambda L: F(L).conv2d(L.ones(1, 1, 4, 4), L.ones(1, 1, 2, 2),
                                                      padding=-1), r"negative padding"),
    ("mul out= resize", lambda L: L.mul(L.ones(3), 2, out=L.zeros(2)), None),
    ("div out= resize", lambda L: L.div(L.ones(3), 2, out=L.zeros(2)), None),
    ("div out= same", lambda L: L.div(L.ones(3), 2, out=L.zeros(3)), None),
    ("add_ int from float", lambda L: L.ones(2, dtype=L.long).add_(0.5),
     r"cannot hold without losing its kind"),
    # ---- strides ------------------------------------------------------------------------
    ("stride", lambda L: T(L).stride(), None),
    ("stride transposed", lambda L: T(L).t().stride(), None),
    ("stride dim", lambda L: T(L).stride(1), None),
    ("storage_offset", lambda L: T(L)[1, 1:].storage_offset(), None),
    ("as_strided", lambda L: L.as_strided(T(L), (2, 2), (1, 4), 1), None),
    ("as_strided of a view", lambda L: T(L)[1:].as_strided((3,), (2,)), None),
    ("as_strided out of bounds", lambda L: L.as_strided(T(L), (4, 4), (4, 1)),
     r"as_strided: .* reach element 15, past the 12 elements"),
    ("as_strided negative", lambda L: L.as_strided(T(L), (2,), (-1,)),
     r"strides \[-1\] hold a negative one"),
    ("format 0-dim", lambda L: "{:+.2f}|{:>8.3e}".format(L.tensor(1.5), L.tensor(-2.0)), None),
    ("format 1-D", lambda L: "{:.2f}".format(L.ones(2)), r"format"),
    # ---- optimizers' arguments ----------------------------------------------------------
    ("SGD lr", optimizer("SGD", lr=-0.1), r"^optimizer: lr must be >= 0, got -0.1$"),
    ("Adam beta", optimizer("Adam", betas=(1.0, 0.9)), r"betas\[0\] must be in \[0, 1\), got 1.0"),
    ("Adagrad lr", optimizer("Adagrad", lr=-1), r"lr must be >= 0, got -1"),
    ("Adagrad lr_decay", optimizer("Adagrad", lr_decay=-1), r"lr_decay must be >= 0, got -1"),
    ("Adagrad accumulator", optimizer("Adagrad", initial_accumulator_value=-1),
     r"initial.accumulator"),
    ("Adadelta rho", optimizer("Adadelta", rho=1.5), r"rho must be in \[0, 1\], got 1.5"),
    ("Adadelta eps", optimizer("Adadelta", eps=-1), r"eps must be >= 0, got -1"),
    ("Adamax beta", optimizer("Adamax", betas=(0.9, 1.0)), r"betas\[1\] must be in \[0, 1\)"),
    ("Adamax weight_decay", optimizer("Adamax", weight_decay=-1),
     r"weight_decay must be >= 0, got -1"),
    ("optimizer of a tensor", lambda L: L.optim.SGD(leaf(L), lr=0.1), r"iterable"),
    ("optimizer empty", lambda L: L.optim.Adagrad([], lr=0.1), r"the parameter list is empty"),
    # ---- data loaders' arguments --------------------------------------------------------
    ("DataLoader batch_size 0", lambda L: L.utils.data.DataLoader(list(range(4)),
                                                                  batch_size=0),
     r"batch_size"),
    ("DataLoader sampler and shuffle", lambda L: L.utils.data.DataLoader(
        list(range(4)), sampler=[0, 1], shuffle=True), r"sampler.*shuffle"),
    ("DataLoader batches", lambda L: [b.tolist() for b in L.utils.data.DataLoader(
        list(range(5)), batch_size=2)], None),
]


def _value(x):
    """A comparable plain value: arrays, dtype names, tuples."""
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    if isinstance(x, tinyflow.Tensor):
        return np.asarray(x.numpy())
    if isinstance(x, torch.dtype):
        return str(x).split(".")[-1]
    if isinstance(x, tinyflow.DType):
        return x.name
    if isinstance(x, (list, tuple)):   # torch.Size is a tuple
        return tuple(_value(v) for v in x)
    return x


def _run(fn, lib):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return True, _value(fn(lib))
        except Exception as e:  # noqa: BLE001  (the exception is the result compared)
            return False, e


def _assert_same(actual, expected, what):
    if isinstance(expected, tuple):
        assert isinstance(actual, tuple) and len(actual) == len(expected), (what, actual)
        for a, e in zip(actual, expected):
            _assert_same(a, e, what)
    elif isinstance(expected, np.ndarray):
        assert isinstance(actual, np.ndarray), (what, actual)
        assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
        assert actual.dtype == expected.dtype, (what, actual.dtype, expected.dtype)
        np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-7, err_msg=what)
    else:
        assert actual == expected, (what, actual, expected)


@pytest.mark.parametrize("name, fn, pattern", CASES, ids=[c[0] for c in CASES])
def test_as_pytorch(name, fn, pattern):
    torch_ok, expected = _run(fn, torch)
    ok, actual = _run(fn, tinyflow)
    if not torch_ok:
        assert pattern is not None, f"{name}: PyTorch raises {expected!r}; give a pattern"
        assert not ok, f"{name}: PyTorch raises {expected!r}, tinyflow returned {actual!r}"
        assert isinstance(actual, type(expected)), \
            f"{name}: PyTorch raises {type(expected).__name__}, tinyflow {actual!r}"
        assert re.search(pattern, str(actual)), f"{name}: {actual}"
    else:
        assert pattern is None, f"{name}: PyTorch returns {expected!r}; pattern is unused"
        assert ok, f"{name}: PyTorch returns {expected!r}, tinyflow raises {actual!r}"
        _assert_same(actual, expected, name)


def test_the_catalog_sees_a_silent_wrong_answer():
    """The check itself: a tinyflow that returned where PyTorch raises would fail."""
    torch_ok, _ = _run(lambda L: F(L).binary_cross_entropy(prob(L, 3, 1), prob(L, 3)), torch)
    ok, _ = _run(lambda L: F(L).mse_loss(prob(L, 3, 1), prob(L, 3)), tinyflow)
    assert not torch_ok and ok
