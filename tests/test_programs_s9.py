"""What other people's programs needed, round 9: the real-data paths of pytorch/examples
(ImageFolder, the crops, flips and resizes of their pipelines, super_resolution's transforms on
PIL images), DistributedSampler, `import torch.backends.cudnn`, `torch.nn.parallel`, and the
`<Model>_Weights` names. torchvision is not installed: the oracles are torch (interpolate,
pad, DistributedSampler, DataParallel), Python's colorsys and Pillow.
"""
import colorsys
import importlib

import numpy as np
import pytest
import torch
from PIL import Image

import tinyflow
from tinyflow.utils.data import DataLoader
from tinyflow.utils.data.distributed import DistributedSampler
from tinyflow.vision import datasets, models
import tinyflow.vision.transforms as T
import tinyflow.vision.transforms.functional as TF


def _image(h=37, w=53, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# ---- transforms ------------------------------------------------------------------------------

@pytest.mark.parametrize("size,want", [(20, (20, 28)), ((17, 31), (17, 31)), (64, (64, 91))])
def test_resize_takes_torchvisions_sizes_and_antialiased_bilinear_values(size, want):
    """An int sets the shorter side (the longer cut to an int); a tensor resizes as
    interpolate(bilinear, antialias=True), which is torchvision's tensor path."""
    pil = Image.fromarray(_image())
    assert T.Resize(size)(pil).size == want[::-1]
    assert T.Resize(size)(_image()).shape == want + (3,)
    x = T.ToTensor()(pil)
    expected = torch.nn.functional.interpolate(torch.from_numpy(x.numpy())[None], size=want,
                                               mode="bilinear", antialias=True)[0]
    np.testing.assert_allclose(T.Resize(size)(x).numpy(), expected.numpy(), atol=1e-5)


def test_center_crop_cuts_the_middle_and_pads_a_small_image_with_zeros():
    a = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    np.testing.assert_array_equal(T.CenterCrop(3)(a), a[1:4, 2:5])
    np.testing.assert_array_equal(np.asarray(T.CenterCrop((2, 4))(Image.fromarray(a))),
                                  a[2:4, 2:6])   # round(1.5) = 2, as torchvision's
    big = T.CenterCrop(8)(a)                     # 3 rows added: 1 above, 2 below; 1 column right
    assert big.shape == (8, 8, 3)
    np.testing.assert_array_equal(big[1:6, 0:7], a)
    assert big[0].sum() == big[6:].sum() == big[:, 7].sum() == 0
    x = T.ToTensor()(a)
    np.testing.assert_array_equal(T.CenterCrop(3)(x).numpy(), x.numpy()[:, 1:4, 2:5])


@pytest.mark.parametrize("mode,torch_mode", [("reflect", "reflect"), ("edge", "replicate"),
                                             ("constant", "constant")])
def test_pad_modes_equal_torchs(mode, torch_mode):
    x = T.ToTensor()(_image(6, 5))
    got = TF.pad(x, (1, 2, 3, 4), padding_mode=mode).numpy()   # left, top, right, bottom
    want = torch.nn.functional.pad(torch.from_numpy(x.numpy()), (1, 3, 2, 4), mode=torch_mode)
    np.testing.assert_array_equal(got, want.numpy())
    pil = TF.pad(Image.fromarray(_image(6, 5)), 2, padding_mode=mode)
    np.testing.assert_array_equal(np.asarray(pil), np.pad(_image(6, 5), ((2, 2), (2, 2), (0, 0)),
                                                          mode=mode))


def test_random_crop_with_padding_is_a_seeded_window_of_the_padded_image():
    a = np.random.default_rng(1).integers(1, 256, (28, 28), dtype=np.uint8)
    padded = np.pad(a, 4)
    tinyflow.manual_seed(3)
    crops = [T.RandomCrop(28, padding=4)(a) for _ in range(20)]
    places = set()
    for c in crops:
        assert c.shape == (28, 28)
        hits = [(i, j) for i in range(9) for j in range(9)
                if np.array_equal(padded[i:i + 28, j:j + 28], c)]
        assert hits
        places.add(hits[0])
    assert len(places) > 5
    tinyflow.manual_seed(3)
    np.testing.assert_array_equal(T.RandomCrop(28, padding=4)(a), crops[0])
    assert T.RandomCrop(40, pad_if_needed=True)(a).shape == (40, 40)
    with pytest.raises(ValueError, match="larger than the input image size"):
        T.RandomCrop(40)(a)


def test_random_resized_crop_draws_windows_within_scale_and_ratio():
    img = Image.fromarray(_image(60, 80))
    crop = T.RandomResizedCrop(24, scale=(0.2, 0.6), ratio=(0.5, 2.0))
    tinyflow.manual_seed(0)
    for _ in range(30):
        top, left, h, w = crop.get_params(img, crop.scale, crop.ratio)
        assert 0 <= top <= 60 - h and 0 <= left <= 80 - w
        assert 0.2 * 4800 * 0.8 <= h * w <= 0.6 * 4800 * 1.2    # rounding of sides
        assert 0.5 * 0.8 <= w / h <= 2.0 * 1.25
    assert crop(img).size == (24, 24)
    impossible = T.RandomResizedCrop(8, scale=(5.0, 6.0), ratio=(1.0, 1.0))
    # (the centre window of ratio 1)
    assert impossible.get_params(img, impossible.scale, impossible.ratio) == (0, 10, 60, 60)
    with pytest.raises(ValueError, match="of kind"):
        T.RandomResizedCrop(8, scale=(1.0, 0.5))


def test_flips_and_their_probabilities():
    a = _image(4, 5)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(a), a[:, ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(0.0)(a), a)
    np.testing.assert_array_equal(np.asarray(T.RandomVerticalFlip(1.0)(Image.fromarray(a))),
                                  a[::-1])
    x = T.ToTensor()(a)
    np.testing.assert_array_equal(TF.hflip(x).numpy(), x.numpy()[:, :, ::-1])


def test_colour_adjustments_on_tensors_follow_torchvisions_formulas():
    x = T.ToTensor()(_image(5, 6)).numpy().astype(np.float64)
    t = tinyflow.tensor(x)
    gray = 0.2989 * x[0] + 0.587 * x[1] + 0.114 * x[2]
    np.testing.assert_allclose(TF.adjust_brightness(t, 1.5).numpy(), np.clip(1.5 * x, 0, 1))
    np.testing.assert_allclose(TF.adjust_contrast(t, 0.3).numpy(),
                               np.clip(0.3 * x + 0.7 * gray.mean(), 0, 1))
    np.testing.assert_allclose(TF.adjust_saturation(t, 2.0).numpy(),
                               np.clip(2.0 * x - gray, 0, 1))
    hue = TF.adjust_hue(t, 0.25).numpy()
    for i, j in [(0, 0), (2, 3), (4, 5)]:
        h, s, v = colorsys.rgb_to_hsv(*x[:, i, j])
        np.testing.assert_allclose(hue[:, i, j], colorsys.hsv_to_rgb((h + 0.25) % 1, s, v),
                                   atol=1e-12)
    with pytest.raises(ValueError, match="hue_factor"):
        TF.adjust_hue(t, 0.7)


def test_color_jitter_keeps_kind_and_shape_and_checks_its_ranges():
    tinyflow.manual_seed(0)
    jitter = T.ColorJitter(0.4, 0.4, 0.4, 0.1)
    assert jitter(Image.fromarray(_image())).size == (53, 37)
    assert jitter(_image()).shape == (37, 53, 3)
    out = jitter(T.ToTensor()(_image())).numpy()
    assert out.shape == (3, 37, 53) and 0 <= out.min() and out.max() <= 1
    assert T.ColorJitter(brightness=0).brightness is None
    with pytest.raises(ValueError, match="hue values should be between"):
        T.ColorJitter(hue=0.7)


def test_to_pil_image_and_to_tensor_round_trip():
    a = _image(4, 6)
    x = T.ToTensor()(Image.fromarray(a))
    np.testing.assert_array_equal(np.asarray(T.ToPILImage()(x)), (x.numpy() * 255).astype(
        np.uint8).transpose(1, 2, 0))
    assert T.ToPILImage()(x[:1]).mode == "L"
    with pytest.raises(TypeError, match="PIL image or an ndarray"):
        T.ToTensor()(x)


def test_torchvision_module_paths_import():
    for name in ("transforms", "transforms.functional", "datasets", "utils", "models"):
        assert importlib.import_module("tinyflow.vision." + name) is not None
    assert importlib.import_module("tinyflow.vision.transforms") is T


# ---- ImageFolder -----------------------------------------------------------------------------

def _folder(root):
    for k, name in enumerate(("dog", "cat")):
        (root / name / "sub").mkdir(parents=True)
        for i in range(2 + k):
            Image.fromarray(_image(8 + i, 10, seed=i + 3 * k)).save(root / name / f"{i}.png")
        Image.fromarray(_image(9, 9)).save(root / name / "sub" / "x.JPG")
        (root / name / "notes.txt").write_text("not an image")
    return root


def test_image_folder_lists_sorted_classes_and_reads_rgb_pil_images(tmp_path):
    ds = datasets.ImageFolder(str(_folder(tmp_path)))
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    assert [(p[len(str(tmp_path)) + 1:], c) for p, c in ds.samples] == [
        ("cat/0.png", 0), ("cat/1.png", 0), ("cat/2.png", 0), ("cat/sub/x.JPG", 0),
        ("dog/0.png", 1), ("dog/1.png", 1), ("dog/sub/x.JPG", 1)]
    assert ds.targets == [0, 0, 0, 0, 1, 1, 1] and ds.imgs is ds.samples and len(ds) == 7
    image, target = ds[4]
    assert image.mode == "RGB" and image.size == (10, 8) and target == 1
    np.testing.assert_array_equal(np.asarray(image), _image(8, 10, seed=0))


def test_image_folder_through_a_pipeline_and_a_loader(tmp_path):
    ds = datasets.ImageFolder(str(_folder(tmp_path)), transform=T.Compose([
        T.Resize(6), T.CenterCrop(6), T.ToTensor()]), target_transform=lambda c: c * 10)
    x, y = next(iter(DataLoader(ds, batch_size=5)))
    assert x.shape == (5, 3, 6, 6) and x.dtype == tinyflow.float32
    assert y.tolist() == [0, 0, 0, 0, 10]
    only_png = datasets.ImageFolder(str(tmp_path), is_valid_file=lambda p: p.endswith(".png"))
    assert len(only_png) == 5


def test_image_folder_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        datasets.ImageFolder(str(tmp_path))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no valid file for the classes empty"):
        datasets.ImageFolder(str(tmp_path))
    assert len(datasets.ImageFolder(str(tmp_path), allow_empty=True)) == 0


# ---- DistributedSampler ----------------------------------------------------------------------

@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (2, 5, False),
                                                  (12, 4, True), (13, 4, False)])
def test_distributed_sampler_splits_as_torchs(n, replicas, drop_last):
    from torch.utils.data.distributed import DistributedSampler as TorchSampler
    for rank in range(replicas):
        ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = TorchSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
    shuffled = [list(DistributedSampler(range(n), replicas, r, seed=7, drop_last=drop_last))
                for r in range(replicas)]
    every = sorted(i for part in shuffled for i in part)
    assert set(every) <= set(range(n)) and len(every) == sum(map(len, shuffled))
    if not drop_last:
        assert set(every) == set(range(n))


def test_distributed_sampler_set_epoch_reshuffles_and_needs_its_rank():
    sampler = DistributedSampler(range(100), num_replicas=2, rank=1)
    first = list(sampler)
    assert list(sampler) == first
    sampler.set_epoch(1)
    assert list(sampler) != first
    loader = DataLoader(tinyflow.utils.data.TensorDataset(tinyflow.arange(100)), batch_size=10,
                        sampler=sampler)
    assert [int(v) for (b,) in loader for v in b.tolist()] == list(sampler)
    with pytest.raises(RuntimeError, match="pass num_replicas and rank"):
        DistributedSampler(range(4))
    with pytest.raises(ValueError, match="Invalid rank 2"):
        DistributedSampler(range(4), num_replicas=2, rank=2)


# ---- torch.backends, torch.nn.parallel, model weights ---------------------------------------

def test_backends_are_modules_whose_flags_can_be_set():
    cudnn = importlib.import_module("tinyflow.backends.cudnn")
    assert tinyflow.backends.cudnn is cudnn and not cudnn.is_available()
    assert (cudnn.enabled, cudnn.benchmark, cudnn.deterministic) == (
        torch.backends.cudnn.enabled, False, False)
    old = cudnn.benchmark
    try:
        cudnn.benchmark = True
        assert tinyflow.backends.cudnn.benchmark
    finally:
        cudnn.benchmark = old
    assert not tinyflow.backends.mps.is_available()
    with tinyflow.backends.mkldnn.flags(enabled=False):
        pass
    assert hasattr(tinyflow.backends.cuda.matmul, "allow_tf32")


def test_data_parallel_wraps_and_calls_the_module_as_torchs_does_on_cpu():
    inner = tinyflow.nn.Linear(3, 2)
    wrapped = tinyflow.nn.DataParallel(inner, device_ids=[0, 1])
    assert tinyflow.nn.parallel.DataParallel is tinyflow.nn.DataParallel
    assert wrapped.module is inner
    assert list(wrapped.state_dict()) == list(torch.nn.DataParallel(
        torch.nn.Linear(3, 2)).state_dict())
    x = tinyflow.randn(4, 3)
    np.testing.assert_array_equal(wrapped(x).detach().numpy(), inner(x).detach().numpy())
    np.testing.assert_array_equal(tinyflow.nn.parallel.data_parallel(inner, x).detach().numpy(),
                                  inner(x).detach().numpy())
    with pytest.raises(RuntimeError, match="process group has not been initialized"):
        tinyflow.nn.parallel.DistributedDataParallel(inner)


def test_weights_enums_reach_the_builder_which_refuses_them():
    assert models.ResNet50_Weights.DEFAULT is models.ResNet50_Weights.IMAGENET1K_V2
    with pytest.raises(ValueError, match="vgg16: weights=VGG16_Weights.IMAGENET1K_V1 needs a"):
        models.vgg16(weights=models.VGG16_Weights.IMAGENET1K_V1)


def test_repeat_returns_a_writable_copy_even_when_only_leading_ones_repeat():
    """fast_neural_style: `style.repeat(batch, 1, 1, 1)` then `div_` in place; a stride-0
    view of the single image was refused as overlapping memory."""
    for shape, sizes in [((1, 3, 2, 2), (4, 1, 1, 1)), ((3,), (2,)), ((2, 1), (1, 1))]:
        x = tinyflow.ones(*shape)
        y = x.repeat(*sizes)
        y.div_(2.0)
        tx = torch.ones(*shape)
        ty = tx.repeat(*sizes).div_(2.0)
        np.testing.assert_array_equal(y.numpy(), ty.numpy())
        np.testing.assert_array_equal(x.numpy(), tx.numpy())
        assert y.is_contiguous()


def test_an_index_array_result_is_a_copy_that_in_place_writes_to_its_source_leave_alone():
    """fast_neural_style pads with ReflectionPad2d (a gather) and then divides the input in
    place: the padded tensor has its own memory, so its saved version must not move (NumPy
    gives a fancy-index result a base of its own, which was taken for a view)."""
    for lib in (tinyflow, torch):
        x = lib.ones(1, 2, 4, 4)
        w = lib.ones(3, 2, 3, 3, requires_grad=True)
        out = lib.nn.functional.conv2d(lib.nn.ReflectionPad2d(2)(x), w)
        picked = x[:, [1, 0]]
        x.div_(2.0)
        (out.sum() + (picked * w[0, :, 0, 0].reshape(1, 2, 1, 1)).sum()).backward()
        if lib is tinyflow:
            ours = w.grad.numpy().copy()
    np.testing.assert_array_equal(ours, w.grad.numpy())
    view = tinyflow.ones(2, 3)[:, 1:]
    loss = (view * tinyflow.ones(2, 2, requires_grad=True)).sum()
    view.mul_(2.0)
    with pytest.raises(RuntimeError, match="saved for the gradient and then modified by an in-place"):
        loss.backward()


def _square_into(i, queue):
    queue.put((i, i * i))


def test_multiprocessing_spawn_runs_fn_with_its_index():
    import tinyflow.multiprocessing as mp
    queue = mp.get_context("fork").SimpleQueue()
    mp.spawn(_square_into, args=(queue,), nprocs=2, start_method="fork")
    assert sorted(queue.get() for _ in range(2)) == [(0, 0), (1, 1)]
    with pytest.raises(RuntimeError, match="process 0 terminated with exit code"):
        mp.spawn(_square_into, args=(None,), nprocs=1, start_method="fork")


def test_resize_takes_interpolation_names_and_pillow_constants():
    pil = Image.fromarray(_image())
    nearest = pil.resize((14, 10), Image.Resampling.NEAREST)
    for how in (T.InterpolationMode.NEAREST, "nearest", Image.NEAREST):
        assert np.array_equal(np.asarray(T.Resize((10, 14), interpolation=how)(pil)), nearest)
    with pytest.raises(ValueError, match="unknown interpolation 'cubic'"):
        T.Resize(10, interpolation="cubic")(pil)


def test_color_transforms_of_uint8_tensors_keep_the_0_255_range():
    """torchvision clamps a blend to the dtype's largest value and turns hue on integer
    pixels through floats in [0, 1]: uint8 tensors must not be clipped to 1 or wrap."""
    from tinyflow.datasets.vision.transforms import functional as VF
    pixel = np.array([10, 100, 200], np.uint8).reshape(3, 1, 1)
    img = tinyflow.tensor(np.broadcast_to(pixel, (3, 2, 2)).copy())
    assert (VF.adjust_brightness(img, 1.0).numpy() == img.numpy()).all()
    assert VF.adjust_brightness(img, 1.5).numpy()[:, 0, 0].tolist() == [15, 150, 255]
    assert (VF.adjust_saturation(img, 1.0).numpy() == img.numpy()).all()
    as_float = VF.adjust_hue(tinyflow.tensor(img.numpy() / np.float32(255)), 0.1).numpy()
    shifted = VF.adjust_hue(img, 0.1).numpy().astype(np.float64)
    np.testing.assert_allclose(shifted, np.floor(as_float * 255.999), atol=1)


@pytest.mark.parametrize("kind", ["pil", "tensor"])
def test_pad_with_one_fill_value_per_channel(kind):
    """fill=(r, g, b) paints the border in that color (np.pad would read it per axis)."""
    from PIL import Image

    from tinyflow.datasets.vision.transforms import functional as VF
    rgb = np.full((2, 2, 3), 7, np.uint8)
    img = Image.fromarray(rgb) if kind == "pil" else tinyflow.tensor(rgb.transpose(2, 0, 1))
    out = VF.pad(img, 1, fill=(255, 0, 9))
    a = np.asarray(out) if kind == "pil" else out.numpy().transpose(1, 2, 0)
    assert a.shape == (4, 4, 3)
    assert (a[0, 0] == [255, 0, 9]).all() and (a[3, 2] == [255, 0, 9]).all()
    assert (a[1:3, 1:3] == 7).all()
    with pytest.raises(ValueError, match="fill"):
        VF.pad(img, 1, fill=(1, 2))


def test_crop_get_params_are_static_as_torchvisions():
    """Programs call T.RandomCrop.get_params(img, size) and
    T.RandomResizedCrop.get_params(img, scale, ratio) on the class."""
    from tinyflow.datasets.vision import transforms as T
    img = tinyflow.zeros(3, 20, 30)
    top, left, h, w = T.RandomCrop.get_params(img, (8, 10))
    assert (h, w) == (8, 10) and 0 <= top <= 12 and 0 <= left <= 20
    top, left, h, w = T.RandomResizedCrop.get_params(img, (0.5, 1.0), (3 / 4, 4 / 3))
    assert 0 < h <= 20 and 0 < w <= 30 and top + h <= 20 and left + w <= 30
    assert T.RandomResizedCrop(8)(img).shape == (3, 8, 8)
    assert T.RandomCrop(8)(img).shape == (3, 8, 8)
