"""What pytorch/examples (gcn, gat, super_resolution, fast_neural_style, dcgan) needed that
tinyflow lacked, each checked against PyTorch as the oracle: values and gradients.

- pixel shuffle, nearest interpolation, instance norm and the padding layers (the image
  examples), with PyTorch's module names, defaults, repr and state_dict keys;
- sparse COO tensors: construction, coalescing, to_dense / to_sparse, sparse @ dense with
  gradients to the values and to the dense operand, and clear errors for what is missing;
- torch.diag, the legacy typed constructors and torch.Tensor(sizes);
- two small models in the examples' style trained a few steps beside PyTorch.
"""
import numpy as np
import pytest
import torch

import tinyflow
from torch_oracle import Given, X, assert_close, compare, copy_state, gradcheck, param_pairs, \
    randomize

F, TF = torch.nn.functional, tinyflow.nn.functional


# ---- pixel shuffle, interpolation --------------------------------------------------------

@pytest.mark.parametrize("shape,r", [((2, 8, 3, 5), 2), ((9, 2, 2), 3), ((2, 1, 4, 2, 3), 2)])
def test_pixel_shuffle_and_unshuffle_match_torch(shape, r):
    compare(lambda x: F.pixel_shuffle(x, r), lambda x: TF.pixel_shuffle(x, r), [X(*shape)])
    *batch, c, h, w = shape
    small = (*batch, c // (r * r), h * r, w * r)
    compare(lambda x: F.pixel_unshuffle(x, r), lambda x: TF.pixel_unshuffle(x, r), [X(*small)])
    assert repr(tinyflow.nn.PixelShuffle(r)) == repr(torch.nn.PixelShuffle(r))
    assert repr(tinyflow.nn.PixelUnshuffle(r)) == repr(torch.nn.PixelUnshuffle(r))


def test_pixel_shuffle_refuses_channels_not_divisible_like_torch():
    x = np.zeros((1, 5, 2, 2), np.float32)
    with pytest.raises(RuntimeError):
        F.pixel_shuffle(torch.tensor(x), 2)
    with pytest.raises(RuntimeError, match=r"5 channels \(dim -3\) are not a multiple of "
                                           r"upscale_factor\*\*2 = 4"):
        TF.pixel_shuffle(tinyflow.tensor(x), 2)


@pytest.mark.parametrize("shape,kwargs", [
    ((2, 3, 4, 5), dict(scale_factor=2)),
    ((1, 2, 4, 5), dict(scale_factor=(3, 1))),
    ((1, 2, 4, 5), dict(scale_factor=1.5)),
    ((2, 2, 4, 5), dict(size=(7, 3))),
    ((2, 3, 6), dict(scale_factor=2)),
    ((1, 1, 2, 3, 2), dict(size=(3, 6, 5))),
    ((1, 2, 5, 5), dict(scale_factor=0.5)),
    ((1, 2, 4, 5), dict(scale_factor=1.7, recompute_scale_factor=True)),
])
def test_nearest_interpolate_matches_torch(shape, kwargs):
    compare(lambda x: F.interpolate(x, mode="nearest", **kwargs),
            lambda x: TF.interpolate(x, mode="nearest", **kwargs), [X(*shape)])


def test_upsample_module_and_interpolate_errors():
    for kwargs in (dict(scale_factor=2), dict(size=(3, 4)), dict(scale_factor=(2, 3))):
        ours, theirs = tinyflow.nn.Upsample(**kwargs), torch.nn.Upsample(**kwargs)
        assert repr(ours) == repr(theirs)
        compare(theirs, ours, [X(1, 2, 3, 4)])
    x = tinyflow.zeros(1, 2, 3, 3)
    with pytest.raises(NotImplementedError, match="mode 'bicubic' is not supported"):
        TF.interpolate(x, scale_factor=2, mode="bicubic")
    with pytest.raises(ValueError, match="give size or scale_factor, not both"):
        TF.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ValueError, match="interpolate: give size or scale_factor$"):
        TF.interpolate(x)
    with pytest.raises(ValueError, match=r"interpolate: the input is 2-D; it must be \[N, C\]"):
        TF.interpolate(tinyflow.zeros(2, 3), scale_factor=2)


def test_nearest_upsampling_gradient_by_finite_differences():
    gradcheck(lambda x: TF.interpolate(x, scale_factor=2), np.random.rand(1, 2, 2, 3))
    gradcheck(lambda x: TF.interpolate(x, size=(3, 5)), np.random.rand(1, 1, 2, 3))
    gradcheck(lambda x: TF.pixel_shuffle(x, 2), np.random.rand(1, 4, 2, 3))


# ---- instance norm -------------------------------------------------------------------------

def test_instance_norm_defaults_repr_and_state_dict_keys_are_torchs():
    for kwargs in ({}, dict(affine=True), dict(track_running_stats=True),
                   dict(affine=True, track_running_stats=True, eps=1e-3, momentum=0.2)):
        for cls in ("InstanceNorm1d", "InstanceNorm2d"):
            ours, theirs = getattr(tinyflow.nn, cls)(6, **kwargs), getattr(torch.nn, cls)(6, **kwargs)
            assert repr(ours) == repr(theirs)
            assert list(ours.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize("affine,track", [(True, False), (False, False), (True, True)])
def test_instance_norm_2d_matches_torch_in_training_and_eval(affine, track):
    rng = np.random.default_rng(0)
    theirs = torch.nn.InstanceNorm2d(3, affine=affine, track_running_stats=track)
    randomize(theirs, rng)
    ours = tinyflow.nn.InstanceNorm2d(3, affine=affine, track_running_stats=track)
    copy_state(theirs, ours)
    compare(theirs, ours, [X(2, 3, 4, 5)], params=param_pairs(theirs, ours))
    for name, buffer in theirs.named_buffers():
        assert_close(dict(ours.named_buffers())[name].numpy(), buffer.numpy(), name)
    theirs.eval(), ours.eval()
    compare(theirs, ours, [X(2, 3, 4, 5)], seed=1)
    compare(theirs, ours, [X(3, 4, 5)], seed=2)      # unbatched [C, H, W]


def test_instance_norm_errors_match_torch():
    norm = tinyflow.nn.InstanceNorm2d(3, affine=True)
    with pytest.raises(ValueError, match=r"expected 3D or 4D input \(got 2D input\)"):
        norm(tinyflow.zeros(4, 3))
    with pytest.raises(ValueError, match=r"expected input's size at dim=1 to match "
                                         r"num_features \(3\), but got: 4"):
        norm(tinyflow.zeros(1, 4, 3, 3))


def test_instance_norm_gradient_by_finite_differences():
    w, b = np.random.rand(2) + 0.5, np.random.rand(2)
    gradcheck(lambda x, w, b: TF.instance_norm(x, weight=w, bias=b),
              np.random.rand(2, 2, 3, 3), w, b)


# ---- padding layers ---------------------------------------------------------------------------

@pytest.mark.parametrize("cls,args,shape", [
    ("ReflectionPad2d", (2,), (2, 3, 4, 5)), ("ReflectionPad2d", ((1, 0, 2, 3),), (1, 2, 4, 4)),
    ("ReflectionPad1d", (3,), (2, 3, 5)), ("ReplicationPad2d", ((2, 1, 0, 3),), (1, 2, 3, 3)),
    ("ReplicationPad1d", (2,), (1, 2, 3)), ("ZeroPad2d", (1,), (1, 2, 3, 3)),
    ("ConstantPad2d", ((1, 2, 0, 1), 3.5), (1, 2, 3, 3)),
])
def test_padding_layers_match_torch(cls, args, shape):
    ours, theirs = getattr(tinyflow.nn, cls)(*args), getattr(torch.nn, cls)(*args)
    assert repr(ours) == repr(theirs)
    compare(theirs, ours, [X(*shape)])


# ---- sparse COO tensors --------------------------------------------------------------------

COORDS = np.array([[0, 1, 1, 2, 1, 3], [1, 0, 2, 2, 2, 0]])   # (1, 2) twice, row 4 empty


def _sparse(lib, values, size=(5, 3), **kwargs):
    return lib.sparse_coo_tensor(COORDS, values, size, **kwargs)


def test_sparse_construction_coalesce_and_to_dense_match_torch():
    values = np.arange(1, 7, dtype=np.float32)
    ours, theirs = _sparse(tinyflow, tinyflow.tensor(values)), _sparse(torch, torch.tensor(values))
    assert ours.is_sparse and not tinyflow.ones(2).is_sparse
    assert ours.shape == tuple(theirs.shape) and ours._nnz() == theirs._nnz() == 6
    assert not ours.is_coalesced()
    assert_close(ours.to_dense().numpy(), theirs.to_dense().numpy(), "to_dense")
    oc, tc = ours.coalesce(), theirs.coalesce()
    assert oc.is_coalesced() and oc._nnz() == tc._nnz() == 5
    np.testing.assert_array_equal(oc.indices().numpy(), tc.indices().numpy())
    assert_close(oc.values().numpy(), tc.values().numpy(), "coalesced values")
    assert_close(ours.t().to_dense().numpy(), theirs.t().to_dense().numpy(), "t()")
    inferred = tinyflow.sparse_coo_tensor(COORDS, tinyflow.tensor(values))
    assert inferred.shape == tuple(torch.sparse_coo_tensor(COORDS, torch.tensor(values)).shape)


def test_dense_plus_integer_sparse_is_dense_as_in_torch():
    """gcn/gat build their adjacency matrix this way: eye(V) + an int64 sparse matrix."""
    ones = np.ones(6, np.float32)
    ours = tinyflow.eye(5, 3) + _sparse(tinyflow, tinyflow.tensor(ones), dtype=tinyflow.int64)
    theirs = torch.eye(5, 3) + _sparse(torch, torch.tensor(ones), dtype=torch.int64)
    assert isinstance(ours, tinyflow.Tensor) and ours.dtype is tinyflow.float32
    assert_close(ours.numpy(), theirs.numpy(), "eye + sparse")


@pytest.mark.parametrize("form", ["at", "mm", "spmm", "sparse.mm", "coalesced", "vector"])
def test_sparse_times_dense_gradients_to_values_and_dense_match_torch(form):
    def product(lib, values, dense):
        a = _sparse(lib, values)
        a = a.coalesce() if form == "coalesced" else a
        if form == "vector":
            return a @ dense[:, 0]
        call = {"at": lambda: a @ dense, "mm": lambda: lib.mm(a, dense),
                "spmm": lambda: lib.spmm(a, dense), "sparse.mm": lambda: lib.sparse.mm(a, dense),
                "coalesced": lambda: a @ dense}
        return call[form]()
    compare(lambda v, d: product(torch, v, d), lambda v, d: product(tinyflow, v, d),
            [X(6), X(3, 4)])


def test_dense_times_sparse_and_to_sparse_match_torch():
    compare(lambda d, v: torch.mm(d, _sparse(torch, v)),
            lambda d, v: tinyflow.mm(d, _sparse(tinyflow, v)), [X(2, 5), X(6)])
    dense = np.array([[0, 1.5, 0], [2, 0, 0], [0, 0, -1]], np.float32)

    def via_to_sparse(lib, x, y):      # dense -> sparse, then a sparse product: x gets grads
        return lib.sparse.mm((x * lib.tensor(dense)).to_sparse(), y)
    compare(lambda x, y: via_to_sparse(torch, x, y), lambda x, y: via_to_sparse(tinyflow, x, y),
            [X(3, 3), X(3, 2)])
    ours, theirs = tinyflow.tensor(dense).to_sparse(), torch.tensor(dense).to_sparse()
    np.testing.assert_array_equal(ours.indices().numpy(), theirs.indices().numpy())
    assert_close(ours.values().numpy(), theirs.values().numpy(), "to_sparse values")


def test_sparse_product_gradients_by_finite_differences():
    def product(values, dense):
        return tinyflow.sparse.mm(tinyflow.sparse_coo_tensor(COORDS, values, (5, 3)), dense)
    gradcheck(product, np.random.rand(6), np.random.rand(3, 2))
    gradcheck(lambda v: tinyflow.sparse_coo_tensor(COORDS, v, (5, 3)).coalesce().values(),
              np.random.rand(6))


def test_unsupported_sparse_operations_raise_clear_errors():
    a = _sparse(tinyflow, tinyflow.ones(6))
    with pytest.raises(AttributeError, match=r"'exp' is not supported on sparse COO tensors.*"
                                             r"to_dense"):
        a.exp()
    with pytest.raises(NotImplementedError, match="sparse @ sparse is not supported"):
        a.t() @ a
    with pytest.raises(NotImplementedError, match="scalar only"):
        a * tinyflow.ones(5, 3)
    with pytest.raises(NotImplementedError, match="sum over dims"):
        a.sum(0)
    with pytest.raises(RuntimeError, match=r"indices: the sparse tensor may hold repeated "
                                           r"indices; call \.coalesce\(\) first"):
        a.indices()
    with pytest.raises(ValueError, match="sparse_coo_tensor: index 3 in dim 0 is out of range "
                                         "for size 3"):
        tinyflow.sparse_coo_tensor(COORDS, tinyflow.ones(6), (3, 3))
    with pytest.raises(ValueError, match="indices hold 6 entries and values 5"):
        tinyflow.sparse_coo_tensor(COORDS, tinyflow.ones(5), (5, 3))
    with pytest.raises(NotImplementedError, match="hybrid"):
        tinyflow.sparse_coo_tensor(COORDS, tinyflow.ones(6, 2), (5, 3))
    assert (a * 2).sum().item() == 12.0 and (-a).sum().item() == -6.0


# ---- diag and the legacy constructors ----------------------------------------------------------

@pytest.mark.parametrize("shape,d", [((4,), 0), ((3,), 2), ((3,), -1), ((3, 4), 0), ((3, 4), 1),
                                     ((4, 3), -2), ((3, 4), 6)])
def test_diag_matches_torch(shape, d):
    compare(lambda x: torch.diag(x, d), lambda x: tinyflow.diag(x, d), [X(*shape)])


def test_legacy_typed_constructors_and_tensor_sizes():
    data = np.array([[1, 0], [2, 3]], np.int32)
    for name in ("FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "BoolTensor"):
        ours, theirs = getattr(tinyflow, name)(data), getattr(torch, name)(data)
        assert ours.dtype.name == str(theirs.dtype).replace("torch.", "")
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        assert getattr(tinyflow, name)(2, 3).shape == tuple(getattr(torch, name)(2, 3).shape)
    for sizes in ((3,), (3, 4), (2, 3, 4)):
        t = tinyflow.Tensor(*sizes)
        assert t.shape == sizes and t.dtype is tinyflow.float32
    assert tinyflow.Tensor([1.0, 2.0]).shape == (2,)


# ---- small models in the examples' style, a few optimizer steps beside torch -------------------

def _train(lib, model, inputs, target, steps, lr):
    opt = lib.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = lib.nn.functional.mse_loss(model(*inputs), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def _image_model(lib):
    """reflection pad -> conv -> instance norm -> relu -> nearest x2 -> conv -> pixel shuffle."""
    nn = lib.nn
    return nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(2, 4, 3), nn.InstanceNorm2d(4, affine=True),
                         nn.ReLU(), nn.Upsample(scale_factor=2), nn.Conv2d(4, 8, 3, padding=1),
                         nn.PixelShuffle(2))


class _GraphLayer:
    """relu(A (x W) + b) with a sparse A, the shape of gcn's layer."""

    def __new__(cls, lib, n_in, n_out):
        class Layer(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.weight = lib.nn.Parameter(lib.Tensor(n_in, n_out))
                self.bias = lib.nn.Parameter(lib.Tensor(n_out))

            def forward(self, x, adj):
                return lib.relu(lib.spmm(adj, lib.mm(x, self.weight)) + self.bias)
        return Layer()


def test_image_and_graph_models_train_like_torch():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 6, 6)).astype(np.float32)
    target = rng.standard_normal((2, 2, 24, 24)).astype(np.float32)
    theirs, ours = _image_model(torch), _image_model(tinyflow)
    randomize(theirs, rng)
    copy_state(theirs, ours)
    lt = _train(torch, theirs, [torch.tensor(x)], torch.tensor(target), 3, 1e-2)
    lf = _train(tinyflow, ours, [tinyflow.tensor(x)], tinyflow.tensor(target), 3, 1e-2)
    assert_close(lf, lt, "image model losses")
    for (name, p), q in zip(theirs.named_parameters(), ours.parameters()):
        if name != "1.bias":   # a bias before instance norm gets ~0 gradient: Adam amplifies noise
            assert_close(q.detach().numpy(), p.detach().numpy(), name, atol=1e-5)

    adjacency = (rng.random((6, 6)) < 0.4).astype(np.float32) + np.eye(6, dtype=np.float32)
    feats = rng.standard_normal((6, 5)).astype(np.float32)
    labels = rng.standard_normal((6, 3)).astype(np.float32)
    theirs, ours = _GraphLayer(torch, 5, 3), _GraphLayer(tinyflow, 5, 3)
    randomize(theirs, rng)
    copy_state(theirs, ours)
    runs = {}
    for lib, model in ((torch, theirs), (tinyflow, ours)):
        adj = lib.tensor(adjacency).to_sparse()
        feats_sparse = lib.tensor(feats).to_sparse()
        runs[lib] = _train(lib, model, [feats_sparse, adj], lib.tensor(labels), 4, 0.05)
    assert_close(runs[tinyflow], runs[torch], "graph layer losses")
    for p, q in zip(theirs.parameters(), ours.parameters()):
        assert_close(q.detach().numpy(), p.detach().numpy(), "graph layer parameters")


def test_reassigned_child_and_parameter_keep_their_place_as_in_torch():
    """siamese_network replaces resnet.conv1 and then slices list(children())[:-1]."""
    orders = {}
    for lib in (torch, tinyflow):
        m = lib.nn.Module()
        m.a, m.b = lib.nn.Linear(1, 1), lib.nn.Linear(1, 1)
        m.w, m.v = lib.nn.Parameter(lib.ones(1)), lib.nn.Parameter(lib.ones(1))
        m.a, m.w = lib.nn.Linear(1, 2), lib.nn.Parameter(lib.ones(2))
        orders[lib] = ([n for n, _ in m.named_children()], list(m.state_dict()))
    assert orders[tinyflow] == orders[torch]


def test_bce_of_a_saturated_sigmoid_has_torchs_finite_gradient():
    """siamese_network: sigmoid(30) is exactly 1.0 in float32; BCELoss's gradient there is
    PyTorch's (p - y) / max(p (1 - p), 1e-12), not 0 * inf = NaN."""
    logits = Given(np.array([30.0, -30.0, 20.0, 0.0, 2.0], np.float32))
    target = Given(np.array([0.0, 1.0, 0.0, 1.0, 0.3], np.float32))

    def loss(lib, x, y):
        x = x.clone().requires_grad_(True) if lib is torch else x.detach().requires_grad_(True)
        value = lib.nn.BCELoss()(lib.sigmoid(x), y)
        value.backward()
        return value.detach(), x.grad
    (tv, tg), (fv, fg) = loss(torch, *[torch.tensor(g.value) for g in (logits, target)]), \
        loss(tinyflow, *[tinyflow.tensor(g.value) for g in (logits, target)])
    assert_close(fv.numpy(), tv.numpy(), "loss")
    assert np.isfinite(fg.numpy()).all()
    assert_close(fg.numpy(), tg.numpy(), "gradient")
    compare(lambda p, y: F.binary_cross_entropy(p, y), lambda p, y: TF.binary_cross_entropy(p, y),
            [X(3, 4, domain=lambda rng, s: rng.uniform(0.05, 0.95, s)),
             X(3, 4, domain=lambda rng, s: rng.uniform(0, 1, s))])
