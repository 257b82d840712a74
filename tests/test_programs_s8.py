"""What other people's programs needed, round 8: pytorch/examples' imagenet (`-a resnet18
--dummy`) and dcgan (`--dataset fake`) with only their imports changed, which need
torchvision's models, FakeData and save_image; and errors of PyTorch's class. torchvision is
not installed: the oracles are torch.nn models written here with torchvision's layout, the
parameter counts torchvision publishes, and torch's own errors.
"""
import io
import os

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import tinyflow
from tinyflow.vision import datasets, models, transforms, utils

tnn = torch.nn


# ---- torch oracles with torchvision's layout ----------------------------------------------

class _TorchBlock(tnn.Module):
    """torchvision's BasicBlock (bottleneck=False) or Bottleneck, written with torch.nn."""

    def __init__(self, cin, planes, stride, bottleneck):
        super().__init__()
        out = planes * (4 if bottleneck else 1)
        self.relu = tnn.ReLU()
        if bottleneck:
            self.conv1, self.bn1 = tnn.Conv2d(cin, planes, 1, bias=False), tnn.BatchNorm2d(planes)
            self.conv2 = tnn.Conv2d(planes, planes, 3, stride, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(planes)
            self.conv3, self.bn3 = tnn.Conv2d(planes, out, 1, bias=False), tnn.BatchNorm2d(out)
        else:
            self.conv1 = tnn.Conv2d(cin, planes, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(planes)
            self.conv2, self.bn2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False), \
                tnn.BatchNorm2d(planes)
        self.downsample = None if stride == 1 and cin == out else tnn.Sequential(
            tnn.Conv2d(cin, out, 1, stride, bias=False), tnn.BatchNorm2d(out))

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        if hasattr(self, "conv3"):
            y = self.bn3(self.conv3(self.relu(y)))
        return self.relu(y + (x if self.downsample is None else self.downsample(x)))


class _TorchResNet(tnn.Module):
    def __init__(self, layers, bottleneck, num_classes=1000):
        super().__init__()
        self.conv1, self.bn1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False), tnn.BatchNorm2d(64)
        self.relu, self.maxpool = tnn.ReLU(), tnn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), layers)):
            blocks = []
            for j in range(n):
                blocks.append(_TorchBlock(cin, planes, 2 if i and not j else 1, bottleneck))
                cin = planes * (4 if bottleneck else 1)
            setattr(self, f"layer{i + 1}", tnn.Sequential(*blocks))
        self.avgpool, self.fc = tnn.AdaptiveAvgPool2d(1), tnn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def _cna(cin, cout, k=3, stride=1, groups=1):
    """torchvision's Conv2dNormActivation with ReLU6."""
    return tnn.Sequential(tnn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups,
                                     bias=False), tnn.BatchNorm2d(cout), tnn.ReLU6())


class _TorchInverted(tnn.Module):
    def __init__(self, cin, cout, stride, t):
        super().__init__()
        hidden = cin * t
        layers = [_cna(cin, hidden, 1)] if t != 1 else []
        self.conv = tnn.Sequential(*layers, _cna(hidden, hidden, 3, stride, hidden),
                                   tnn.Conv2d(hidden, cout, 1, bias=False), tnn.BatchNorm2d(cout))
        self.res = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.conv(x) if self.res else self.conv(x)


def _torch_mobilenet_v2():
    features, cin = [_cna(3, 32, 3, 2)], 32
    for t, c, n, s in [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
                       [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]:
        for i in range(n):
            features.append(_TorchInverted(cin, c, s if i == 0 else 1, t))
            cin = c
    features.append(_cna(cin, 1280, 1))
    return _TorchNamed(tnn.Sequential(*features),
                       tnn.Sequential(tnn.Dropout(0.2), tnn.Linear(1280, 1000)), True)


class _TorchNamed(tnn.Module):
    """`features`, [global average pool], `classifier`, flattened."""

    def __init__(self, features, classifier, pool_first):
        super().__init__()
        self.features, self.classifier, self.pool_first = features, classifier, pool_first

    def forward(self, x):
        x = self.features(x)
        if self.pool_first:
            x = tnn.functional.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.classifier(x).flatten(1)


class _TorchFire(tnn.Module):
    def __init__(self, cin, s, e1, e3):
        super().__init__()
        self.squeeze, self.expand1x1 = tnn.Conv2d(cin, s, 1), tnn.Conv2d(s, e1, 1)
        self.expand3x3 = tnn.Conv2d(s, e3, 3, padding=1)

    def forward(self, x):
        x = torch.relu(self.squeeze(x))
        return torch.cat([torch.relu(self.expand1x1(x)), torch.relu(self.expand3x3(x))], 1)


def _torch_squeezenet1_0():
    pool = lambda: tnn.MaxPool2d(3, 2, ceil_mode=True)  # noqa: E731
    features = tnn.Sequential(
        tnn.Conv2d(3, 96, 7, 2), tnn.ReLU(), pool(), _TorchFire(96, 16, 64, 64),
        _TorchFire(128, 16, 64, 64), _TorchFire(128, 32, 128, 128), pool(),
        _TorchFire(256, 32, 128, 128), _TorchFire(256, 48, 192, 192),
        _TorchFire(384, 48, 192, 192), _TorchFire(384, 64, 256, 256), pool(),
        _TorchFire(512, 64, 256, 256))
    classifier = tnn.Sequential(tnn.Dropout(0.5), tnn.Conv2d(512, 1000, 1), tnn.ReLU(),
                                tnn.AdaptiveAvgPool2d(1))
    return _TorchNamed(features, classifier, False)


def _load_through_file(model, state, tmp_path):
    """torch's tensors -> a safetensors file written by torch -> tinyflow's torch.load."""
    path = str(tmp_path / "weights.safetensors")
    save_file({k: v.contiguous() for k, v in state.items()}, path)
    model.load_state_dict(tinyflow.load(path))


def _randomize_bn(oracle):
    torch.manual_seed(0)
    for m in oracle.modules():
        if isinstance(m, tnn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)


CASES = [   # builder, its torch oracle, input size, torchvision's parameter count
    ("resnet18", lambda: _TorchResNet([2, 2, 2, 2], False), 32, 11_689_512),
    ("mobilenet_v2", _torch_mobilenet_v2, 32, 3_504_872),
    ("squeezenet1_0", _torch_squeezenet1_0, 48, 1_248_424),
]


@pytest.mark.parametrize("name, oracle, size, count", CASES, ids=[c[0] for c in CASES])
def test_model_loads_torch_weights_and_computes_as_torch(tmp_path, name, oracle, size, count):
    """Same state dict keys, shapes and order as torchvision's layout; torch's weights saved
    with safetensors load, and the eval forward equals torch's."""
    torch.manual_seed(0)
    reference = oracle().eval()
    _randomize_bn(reference)
    state = reference.state_dict()
    model = getattr(models, name)()
    ours = model.state_dict()
    assert list(ours) == list(state)
    assert {k: tuple(v.shape) for k, v in ours.items()} == \
        {k: tuple(v.shape) for k, v in state.items()}
    assert sum(p.numel() for p in model.parameters()) == count
    _load_through_file(model, state, tmp_path)
    x = np.random.default_rng(0).standard_normal((1, 3, size, size)).astype(np.float32)
    with torch.no_grad():
        expected = reference(torch.from_numpy(x)).numpy()
    model.eval()
    with tinyflow.no_grad():
        got = model(tinyflow.tensor(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_bottleneck_resnet_computes_as_torch(tmp_path):
    """resnet50's block (stride on the 3x3, downsample on the first of each stage)."""
    torch.manual_seed(1)
    reference = _TorchResNet([1, 2, 1, 1], True, num_classes=7).eval()
    _randomize_bn(reference)
    model = models.ResNet(models.resnet.Bottleneck, [1, 2, 1, 1], num_classes=7)
    assert list(model.state_dict()) == list(reference.state_dict())
    _load_through_file(model, reference.state_dict(), tmp_path)
    x = np.random.default_rng(1).standard_normal((1, 3, 32, 32)).astype(np.float32)
    model.eval()
    with tinyflow.no_grad():
        got = model(tinyflow.tensor(x)).numpy()
    np.testing.assert_allclose(got, reference(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-4)


# torchvision's published parameter counts less the classifier's Linear layers
# (25088*4096 + 4096 + 4096*4096 + 4096 + 4096*1000 + 1000 = 123_642_856 for VGG)
VGG_FEATURES = [("A", False, 132_863_336 - 123_642_856), ("A", True, 132_868_840 - 123_642_856),
                ("D", False, 138_357_544 - 123_642_856), ("D", True, 138_365_992 - 123_642_856)]


@pytest.mark.parametrize("cfg, bn, count", VGG_FEATURES)
def test_vgg_features_have_torchvisions_names_and_counts(cfg, bn, count):
    """vgg11/16 (cfg A/D), with and without batch norm; the whole models take seconds to
    build (a 25088x4096 layer), so their features are checked here and the builders below."""
    layers, cin, names = [], 3, {}
    for v in models.vgg.CONFIGS[cfg]:
        if v == "M":
            layers.append(tnn.MaxPool2d(2, 2))
            continue
        layers += [tnn.Conv2d(cin, v, 3, padding=1)] + ([tnn.BatchNorm2d(v)] if bn else []) + \
            [tnn.ReLU()]
        cin = v
    reference = tnn.Sequential(*layers)
    features = models.vgg.make_layers(models.vgg.CONFIGS[cfg], batch_norm=bn)
    names = {k: tuple(v.shape) for k, v in features.state_dict().items()}
    assert names == {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert sum(p.numel() for p in features.parameters()) == count


def test_builders_refuse_downloads_and_list_as_torchvision():
    """imagenet/main.py lists `models.__dict__`'s lower-case callables as its choices."""
    names = sorted(n for n in models.__dict__ if n.islower() and not n.startswith("__")
                   and callable(models.__dict__[n]))
    assert {"resnet18", "resnet34", "resnet50", "vgg11", "vgg11_bn", "vgg16", "vgg16_bn",
            "alexnet", "mobilenet_v2", "squeezenet1_0"} <= set(names)
    assert all(n.startswith(("resnet", "vgg", "alexnet", "mobilenet", "squeezenet"))
               for n in names)
    with pytest.raises(ValueError, match="resnet18: weights='IMAGENET1K_V1' needs a download"):
        models.resnet18(weights="IMAGENET1K_V1")
    with pytest.raises(ValueError, match="pretrained=True"):
        models.squeezenet1_0(pretrained=True)
    assert models.squeezenet1_1(pretrained=False, num_classes=3).classifier[1].out_channels == 3


def test_zero_init_residual_starts_blocks_as_identity():
    model = models.ResNet(models.resnet.BasicBlock, [1, 1, 1, 1], zero_init_residual=True)
    assert all(float(block.bn2.weight.abs().sum()) == 0
               for layer in (model.layer1, model.layer4) for block in layer)
    assert float(model.bn1.weight.sum()) == 64


# ---- FakeData (imagenet --dummy, dcgan --dataset fake) -------------------------------------

def test_fake_data_is_reproducible_per_index_and_batches():
    data = datasets.FakeData(size=10, image_size=(3, 8, 6), num_classes=4,
                             transform=transforms.ToTensor())
    image, target = data[3]
    assert tuple(image.shape) == (3, 8, 6) and image.dtype == tinyflow.float32
    assert 0 <= float(image.min()) and float(image.max()) <= 1 and 0 <= target < 4
    again, same = data[3]
    assert np.array_equal(again.numpy(), image.numpy()) and same == target
    assert not np.array_equal(data[4][0].numpy(), image.numpy())
    shifted = datasets.FakeData(10, (3, 8, 6), 4, transforms.ToTensor(), random_offset=1)
    assert np.array_equal(shifted[2][0].numpy(), image.numpy())
    images, targets = next(iter(tinyflow.utils.data.DataLoader(data, batch_size=4,
                                                               shuffle=True)))
    assert tuple(images.shape) == (4, 3, 8, 6) and targets.dtype == tinyflow.int64
    assert len(data) == 10 and data[-1][1] == data[9][1]
    with pytest.raises(IndexError, match="index 10 out of range"):
        data[10]
    assert datasets.FakeData(2, (1, 5, 5))[0][0].shape == (5, 5)


# ---- make_grid / save_image (dcgan's sample pictures) --------------------------------------

def test_make_grid_tiles_and_pads_as_torchvision():
    rng = np.random.default_rng(0)
    x = rng.random((5, 3, 4, 6), dtype=np.float32)
    grid = utils.make_grid(tinyflow.tensor(x), nrow=2, padding=1, pad_value=0.5).numpy()
    assert grid.shape == (3, 3 * 5 + 1, 2 * 7 + 1)       # 3 rows of 2 columns, 1-pixel frame
    for k in range(5):
        y, c = divmod(k, 2)
        np.testing.assert_array_equal(grid[:, 1 + 5 * y:5 + 5 * y, 1 + 7 * c:7 + 7 * c], x[k])
    assert (grid[:, 0] == 0.5).all() and (grid[:, 11:, 8:] == 0.5).all()   # frame, empty cell
    one = utils.make_grid(tinyflow.tensor(x[:1, :1]), normalize=True).numpy()
    assert one.shape == (3, 4, 6) and one.min() == 0 and one.max() == 1   # 1 channel -> 3
    ranged = utils.make_grid(tinyflow.tensor(x * 4 - 2), value_range=(-1, 1), normalize=True,
                             padding=0).numpy()
    np.testing.assert_allclose(ranged[:, :4, :6], (np.clip(x[0] * 4 - 2, -1, 1) + 1) / 2,
                               rtol=1e-6)
    each = utils.make_grid([tinyflow.tensor(x[0]), tinyflow.tensor(x[1] * 10)],
                           normalize=True, scale_each=True, padding=0).numpy()
    assert each[:, :, :6].max() == 1 and each[:, :, 6:].max() == 1


def test_save_image_writes_rounded_png_atomically(tmp_path):
    from PIL import Image
    x = np.random.default_rng(2).random((2, 3, 5, 4), dtype=np.float32)
    path = tmp_path / "samples.png"
    utils.save_image(tinyflow.tensor(x, requires_grad=True) * 1, str(path), padding=0)
    pixels = np.asarray(Image.open(path))
    assert pixels.shape == (5, 8, 3) and pixels.dtype == np.uint8
    expected = np.floor(np.concatenate(list(x), axis=2) * 255 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(pixels, expected.transpose(1, 2, 0))
    assert os.listdir(tmp_path) == ["samples.png"]            # no temporary left behind
    buffer = io.BytesIO()
    utils.save_image(tinyflow.tensor(x), buffer, format="PNG")
    assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="unknown image file extension"):
        utils.save_image(tinyflow.tensor(x), str(tmp_path / "samples.xyz"))
    assert os.listdir(tmp_path) == ["samples.png"]


# ---- errors of PyTorch's class --------------------------------------------------------------

ERRORS = [   # (what, code on the library L, torch's class)
    ("int ** -1", lambda L: L.tensor([1, 2]) ** -1, RuntimeError),
    ("int.pow(-2)", lambda L: L.tensor([1, 2]).pow(-2), RuntimeError),
    ("item of many", lambda L: L.tensor([1.0, 2.0]).item(), RuntimeError),
    ("item of none", lambda L: L.zeros(0).item(), RuntimeError),
    ("x[::0]", lambda L: L.arange(4)[::0], ValueError),
    ("leaf.numpy()", lambda L: L.ones(2, requires_grad=True).numpy(), RuntimeError),
    ("(2 * leaf).numpy()", lambda L: (2 * L.ones(2, requires_grad=True)).numpy(),
     RuntimeError),
]


@pytest.mark.parametrize("what, code, error", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_have_torchs_class(what, code, error):
    with pytest.raises(error) as expected:
        code(torch)
    with pytest.raises(expected.type):
        code(tinyflow)


def test_allowed_cases_beside_the_errors():
    leaf = tinyflow.ones(2, requires_grad=True)
    assert leaf.detach().numpy().tolist() == [1, 1] and leaf.numpy(force=True).sum() == 2
    with tinyflow.no_grad():
        assert (leaf * 2).numpy().tolist() == [2, 2]       # made without grad: no grad
    assert tinyflow.arange(4).flip(0).tolist() == [3, 2, 1, 0]
    # torch refuses a negative slice step; TF1 and NumPy take it and no torch program
    # relies on the refusal, so the one library takes it for every front end
    assert tinyflow.arange(4)[::-1].tolist() == [3, 2, 1, 0]
    assert tinyflow.tensor([2.0, 4.0]).pow(-1).tolist() == [0.5, 0.25]
    with pytest.raises(ValueError):        # numpy's class is kept beside torch's
        tinyflow.tensor([3]) ** -1
    graph_input = tinyflow.placeholder(tinyflow.float32, [3])   # TF1 reverses a graph tensor
    with tinyflow.Session() as sess:
        reversed_ = sess.run(graph_input[::-1], {graph_input: [1.0, 2.0, 3.0]})
    assert reversed_.tolist() == [3, 2, 1]


def test_internal_readers_take_tensors_that_require_grad(tmp_path):
    """What reads a tensor's data inside tinyflow does not trip `.numpy()`'s refusal."""
    w = tinyflow.arange(6.0).reshape(2, 3).requires_grad_()
    tinyflow.save({"w": w, "n": 2}, str(tmp_path / "ck.pt"))
    assert tinyflow.load(str(tmp_path / "ck.pt"))["w"].tolist() == w.tolist()
    with pytest.warns(UserWarning):
        torch.tensor(torch.ones(1, requires_grad=True))   # torch warns and copies; so do we
    assert not tinyflow.tensor(w).requires_grad and tinyflow.tensor(w).tolist() == w.tolist()
    layer = tinyflow.nn.Linear(3, 2)
    vector = tinyflow.nn.utils.parameters_to_vector(layer.parameters()) * 2
    tinyflow.nn.utils.vector_to_parameters(vector, layer.parameters())
    assert float(layer.bias.sum()) == pytest.approx(float(vector[-2:].sum()))
    assert w.to_sparse().values().tolist() == [1, 2, 3, 4, 5]
    batch = tinyflow.utils.data.default_collate([w[0], w[1]])
    assert batch.tolist() == w.tolist()
