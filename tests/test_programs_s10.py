"""What other people's programs needed, round 10: pytorch/examples' mnist_hogwild (a module in
shared memory trained by several processes), mnist_forward_forward, and the NLP, spatial
transformer and basics tutorials of pytorch/tutorials, run with only their import lines
changed. Each test reproduces the pattern, written here, with PyTorch as the oracle.
"""
import copy
import multiprocessing
import os
import pickle
import warnings
from multiprocessing.reduction import ForkingPickler

import numpy as np
import pytest
import torch

import tinyflow
from tinyflow.core import shared_memory
from torch_oracle import Given, X, compare, copy_state, gradcheck, param_pairs, randomize


# ---- Module.share_memory and Hogwild (pytorch/examples mnist_hogwild) ---------------------

def _net(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))


def test_share_memory_shares_parameters_and_buffers_as_torch():
    ours, theirs = _net(tinyflow), _net(torch)
    assert ours.share_memory() is ours and theirs.share_memory() is theirs
    assert [p.is_shared() for p in ours.parameters()] == [
        p.is_shared() for p in theirs.parameters()] == [True] * 6
    assert [b.is_shared() for b in ours.buffers()] == [b.is_shared() for b in theirs.buffers()]
    assert not tinyflow.ones(2).is_shared() and not torch.ones(2).is_shared()


def test_a_pickled_shared_module_trains_the_same_memory():
    """What spawn does with a Process's arguments (multiprocessing's pickler): the copy's
    parameters are the original's memory, so an optimizer step in either is seen by both;
    gradients stay private."""
    tinyflow.manual_seed(0)
    model = _net(tinyflow).share_memory()
    other = pickle.loads(ForkingPickler.dumps(model))
    before = model[0].weight.detach().numpy().copy()
    opt = tinyflow.optim.SGD(other.parameters(), lr=0.5, momentum=0.5)
    loss = tinyflow.nn.functional.cross_entropy(other(tinyflow.randn(5, 4)),
                                                tinyflow.tensor([0, 1, 0, 1, 1]))
    loss.backward()
    opt.step()
    assert not np.array_equal(before, model[0].weight.detach().numpy())
    for p, q in zip(model.parameters(), other.parameters()):
        assert np.shares_memory(p.array, q.array) and p.grad is None and q.is_shared()
    assert np.array_equal(model[1].running_mean.numpy(), other[1].running_mean.numpy())


def test_a_shared_tensor_unpickled_elsewhere_maps_the_same_block(monkeypatch):
    """Another process maps the block by name: a second mapping here stands for it."""
    t = tinyflow.arange(6.0).share_memory_()
    data = ForkingPickler.dumps(t[2:])
    monkeypatch.setattr(shared_memory, "_memory", {})
    other = pickle.loads(data)
    assert not np.shares_memory(other.array, t.array)   # two mappings of one block
    other.mul_(10)
    assert t.tolist() == [0, 1, 20, 30, 40, 50]


def test_a_shared_block_is_freed_with_its_last_tensor():
    t = tinyflow.ones(3).share_memory_()
    name = shared_memory.place_of(t.array)[0]
    assert os.path.exists(f"/dev/shm/{name}")
    del t
    assert not os.path.exists(f"/dev/shm/{name}")
    with pytest.raises(RuntimeError, match="shared block .* is gone"):
        shared_memory.attach(name, 0, (3,), (4,), np.float32)


def _add_one(model, queue):
    model = model if queue is None else queue.get()
    with tinyflow.no_grad():
        for t in [*model.parameters(), *model.buffers()]:
            t.add_(1)


def test_processes_given_a_shared_module_train_it_in_place():
    """mnist_hogwild's pattern: a forked process inherits the module's blocks; one sent it
    through a queue (multiprocessing's pickler, as spawn's arguments) maps the same ones."""
    ctx = multiprocessing.get_context("fork")
    model = _net(tinyflow).share_memory()
    before = [t.detach().numpy().copy() for t in [*model.parameters(), *model.buffers()]]
    queue = ctx.SimpleQueue()
    procs = [ctx.Process(target=_add_one, args=(model, None)),
             ctx.Process(target=_add_one, args=(None, queue))]
    for p in procs:
        p.start()
    queue.put(model)
    for p in procs:
        p.join()
    assert [p.exitcode for p in procs] == [0, 0]
    for old, t in zip(before, [*model.parameters(), *model.buffers()]):
        assert np.array_equal(t.detach().numpy(), old + 2)


def _shared(lib, kind):
    """A shared tensor, Parameter or module of `lib`, and the tensors it holds."""
    if kind == "module":
        made = lib.nn.Linear(3, 1).share_memory()
    else:
        made = (lib.zeros(3) if kind == "tensor" else lib.nn.Parameter(lib.zeros(3)))
        made.share_memory_()
    return made, _held(made)


def _held(obj) -> list:
    return list(obj.parameters()) if hasattr(obj, "parameters") else [obj]


@pytest.mark.parametrize("kind", ["tensor", "parameter", "module"])
def test_plain_pickling_copies_shared_data_as_torchs(kind):
    """Only multiprocessing's pickler sends a block by reference: pickle.dumps (a file, a
    copy) holds the data, which outlives the block and is the copy's own."""
    for lib in (torch, tinyflow):
        made, tensors = _shared(lib, kind)
        before = [t.tolist() for t in tensors]
        data = pickle.dumps(made)
        copies = _held(pickle.loads(data))
        with lib.no_grad():
            for c in copies:
                c.add_(1)
        assert [t.tolist() for t in tensors] == before
        assert not any(c.is_shared() for c in copies), lib.__name__
        del made, tensors
        assert [t.tolist() for t in _held(pickle.loads(data))] == before   # block freed


def test_copies_of_a_shared_tensor_share_as_torchs():
    """A deep copy has data of its own; a shallow copy keeps the shared data."""
    for lib in (torch, tinyflow):
        for t in (lib.arange(4.0).share_memory_(), lib.nn.Parameter(lib.arange(4.0)),
                  lib.nn.Parameter(lib.arange(4.0)).share_memory_()):
            deep, shallow = copy.deepcopy(t), copy.copy(t)
            assert not deep.is_shared() and shallow.is_shared() == t.is_shared()
            with lib.no_grad():
                t.add_(1)
            assert deep.tolist() == [0, 1, 2, 3] and shallow.tolist() == [1, 2, 3, 4]


def test_share_memory_of_a_view_is_refused():
    with pytest.raises(RuntimeError, match="share_memory_.*view"):
        tinyflow.ones(4)[1:].share_memory_()


# ---- F.affine_grid and F.grid_sample (the spatial transformer tutorial) --------------------

def _grid_points(*shape, seed=1):
    """Sampling points in [-1.4, 1.4], some outside the image, none on a pixel's edge."""
    return np.random.default_rng(seed).uniform(-1.4, 1.4, shape).astype(np.float32)


_PADDINGS = ["zeros", "border", "reflection"]


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("padding", _PADDINGS)
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_grid_sample_matches_torch(mode, padding, align):
    def sample(lib):
        return lambda x, g: lib.nn.functional.grid_sample(x, g, mode, padding, align)
    compare(sample(torch), sample(tinyflow), [X(2, 3, 5, 6), Given(_grid_points(2, 4, 3, 2))])


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.filterwarnings("error::UserWarning")
@pytest.mark.parametrize("size", [(2, 3, 5, 7), (2, 1, 1, 4), (2, 2, 3, 4, 5)])
def test_affine_grid_matches_torch(size, align):
    """With torch's warning for a unit-size grid with align_corners=True."""
    k = len(size) - 2

    def grid(lib):
        def run(t):
            if align and 1 in size[2:]:
                with pytest.warns(UserWarning, match="unit-size grids|has its one point at 0"):
                    return lib.nn.functional.affine_grid(t, size, align)
            return lib.nn.functional.affine_grid(t, size, align)
        return run
    compare(grid(torch), grid(tinyflow), [X(2, k, k + 1)])


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("padding", _PADDINGS)
def test_grid_sample_grid_gradient_at_the_edges_is_torchs(padding, align):
    """Points exactly on the first and last pixel (an identity grid's edges), past them and
    inside: border and reflection padding give the grid no gradient at or past the bound."""
    edge = 1.0 if align else 0.75     # the outer pixels' normalized coordinate (4 pixels)
    xs = np.array([-1.3, -edge, -0.55, 0.2, edge, 1.25], np.float32)
    ys = np.array([-edge, -0.1, edge, 1.2], np.float32)
    points = np.stack(np.meshgrid(xs, ys), -1)[None]

    def sample(lib):
        return lambda x, g: lib.nn.functional.grid_sample(x, g, "bilinear", padding, align)
    compare(sample(torch), sample(tinyflow),
            [X(1, 2, 4, 4), X(*points.shape, domain=lambda rng, shape: points)])


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf - inf
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_grid_sample_of_nan_and_infinite_points_is_torchs(mode):
    """A diverging transformer's grid: NaN or infinite points read NaN or zero (zeros
    padding) or a clipped pixel as torch's, not an out-of-range index."""
    x = np.arange(24, dtype=np.float32).reshape(1, 2, 3, 4)
    g = np.array([[[[np.nan, 0], [0.2, np.nan], [np.inf, 0], [-np.inf, 0.3], [5, 0.3]]]],
                 np.float32)
    for padding in _PADDINGS:
        for align in (False, True):
            ours, theirs = (lib.nn.functional.grid_sample(lib.tensor(x), lib.tensor(g), mode,
                                                          padding, align).numpy()
                            for lib in (tinyflow, torch))
            np.testing.assert_allclose(ours, theirs, 1e-6, err_msg=f"{padding} {align}")


def test_a_spatial_transformer_samples_and_differentiates_as_torch():
    """The tutorial's stn(): theta -> affine_grid(theta, x.size()) -> grid_sample, with the
    warnings torch gives for the default align_corners."""
    def stn(lib):
        def run(x, theta):
            with pytest.warns(UserWarning, match="since 1.3.0|align_corners was not given"):
                grid = lib.nn.functional.affine_grid(theta, x.size())
            with pytest.warns(UserWarning, match="since 1.3.0|align_corners was not given"):
                return lib.nn.functional.grid_sample(x, grid)
        return run
    identity = np.array([[1, 0, 0], [0, 1, 0]], np.float32)
    theta = identity + 0.3 * np.random.default_rng(2).standard_normal((3, 2, 3))
    compare(stn(torch), stn(tinyflow), [X(3, 2, 6, 5), Given(theta.astype(np.float32))])


@pytest.mark.parametrize("padding", _PADDINGS)
def test_grid_sample_gradients_match_finite_differences(padding):
    x = np.random.default_rng(3).standard_normal((1, 2, 3, 4))
    gradcheck(lambda a, g: tinyflow.nn.functional.grid_sample(a, g, "bilinear", padding,
                                                             False),
              x, _grid_points(1, 2, 3, 2).astype(np.float64))


@pytest.mark.parametrize("args,kwargs", [
    (((1, 1, 3, 3), (1, 2, 2, 3)), {}),          # grid's last dim is not 2
    (((2, 1, 3, 3), (1, 2, 2, 2)), {}),          # batch sizes differ
    (((1, 3, 3), (1, 2, 2)), {}),                # 3-D
    (((1, 1, 3, 3), (1, 2, 2, 2)), {"mode": "cubic"}),
    (((1, 1, 3, 3), (1, 2, 2, 2)), {"padding_mode": "wrap"}),
])
def test_grid_sample_errors_are_torchs(args, kwargs):
    def error(lib):
        x, g = (lib.zeros(*s) for s in args)
        with pytest.raises(Exception) as info:
            lib.nn.functional.grid_sample(x, g, align_corners=False, **kwargs)
        return info.type
    assert issubclass(error(tinyflow), error(torch))


@pytest.mark.parametrize("theta,size", [((1, 2, 3), (1, 1, 2, 2, 2)), ((1, 3, 3), (1, 1, 4, 4)),
                                        ((1, 2, 3), (1, 4, 4))])
def test_affine_grid_errors_are_torchs(theta, size):
    def error(lib):
        with pytest.raises(Exception) as info:
            lib.nn.functional.affine_grid(lib.zeros(*theta), size, align_corners=False)
        return info.type
    assert issubclass(error(tinyflow), error(torch))


def test_grid_sample_refuses_what_it_lacks_by_name():
    x, g = tinyflow.zeros(1, 1, 3, 3), tinyflow.zeros(1, 2, 2, 2)
    with pytest.raises(NotImplementedError, match="bicubic"):
        tinyflow.nn.functional.grid_sample(x, g, "bicubic", align_corners=False)
    with pytest.raises(NotImplementedError, match="5-D"):
        tinyflow.nn.functional.grid_sample(tinyflow.zeros(1, 1, 2, 2, 2),
                                           tinyflow.zeros(1, 1, 1, 1, 3), align_corners=False)


# ---- printing, autograd.Variable (the NLP tutorials) -----------------------------------------

@pytest.mark.parametrize("shape", [(1, 5), (1, 7), (3, 6), (12,), (2, 2, 4), (0, 3)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_grad_fn_and_dtype_wrap_to_a_new_line_as_torch(shape, dtype):
    """torch puts `grad_fn=...` / `dtype=...` on a line of their own past 80 columns (the
    embedding tutorial prints a [1, 5] lookup that way)."""
    a = (np.random.default_rng(0).standard_normal(shape) * 1000).astype(dtype)
    for make in (lambda lib: lib.tensor(a, requires_grad=True),
                 lambda lib: lib.tensor(a, requires_grad=True) * 1):
        assert str(make(tinyflow)) == str(make(torch))


def test_variable_is_a_detached_alias_as_torch():
    for lib in (torch, tinyflow):
        x = lib.ones(2, requires_grad=True) * 2
        v = lib.autograd.Variable(x)
        assert v is not x and not v.requires_grad and v.grad_fn is None
        assert isinstance(x, lib.autograd.Variable)
        with torch.no_grad():
            v.add_(1)
        assert x.tolist() == [3.0, 3.0]
        assert lib.autograd.Variable(lib.zeros(1), requires_grad=True).requires_grad
        ours = lib is tinyflow
        with pytest.warns(UserWarning, match=r"Variable\(volatile=...\) is ignored" if ours
                          else "volatile was removed"):
            lib.autograd.Variable(lib.zeros(1), volatile=True)
        with pytest.raises(TypeError, match=r"Variable\(data\): data must be a Tensor, got list"
                           if ours else "Variable data has to be a tensor, but got list"):
            lib.autograd.Variable([1.0])
        assert lib.autograd.Variable().shape == (0,)


@pytest.mark.parametrize("value,dtype", [(3, None), ([2], None), (2.0, None), ([1, 2], None),
                                         (True, None), (3, "uint8")])
def test_a_tensor_indexes_a_list_as_torch(value, dtype):
    """The quickstart's `classes[pred[0].argmax(0)]`."""
    def pick(lib):
        t = lib.tensor(value, dtype=None if dtype is None else getattr(lib, dtype))
        try:
            return [10, 11, 12, 13][t]
        except TypeError as e:
            return e
    ours, theirs = pick(tinyflow), pick(torch)
    if isinstance(theirs, TypeError):
        assert isinstance(ours, TypeError) and "cannot be used as an index; it must be one " \
            "integer" in str(ours), ours
    else:
        assert ours == theirs


@pytest.mark.parametrize("name", ["add_", "sub_"])
def test_the_deprecated_number_tensor_overload_of_add_(name):
    """The char-RNN tutorials' hand-written step `p.data.add_(-lr, p.grad.data)`, with
    torch's warning (torch gives it once per process, so it is checked on ours only)."""
    def step(lib):
        p, g = lib.tensor([1.0, 2.0]), lib.tensor([0.5, -1.0])
        getattr(p, name)(-0.1, g)
        getattr(p, name)(g, alpha=2)
        return p.tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = step(torch)
    with pytest.warns(UserWarning, match=rf"{name}\(alpha, other\), the number first, is "
                                         rf"deprecated; write {name}\(other, alpha=alpha\)"):
        assert step(tinyflow) == pytest.approx(theirs)


# ---- torchvision.io (the data tutorial's custom dataset) --------------------------------------

@pytest.mark.parametrize("pil_mode,channels", [("L", 1), ("LA", 2), ("RGB", 3), ("RGBA", 4)])
def test_read_image_gives_uint8_chw_as_pillow_sees_it(tmp_path, pil_mode, channels):
    from PIL import Image
    from tinyflow.vision.io import ImageReadMode, read_image, write_png
    pixels = np.random.default_rng(0).integers(0, 256, (5, 7, channels), dtype=np.uint8)
    path = str(tmp_path / "x.png")
    Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels, pil_mode).save(path)
    image = read_image(path)
    assert image.dtype is tinyflow.uint8 and tuple(image.shape) == (channels, 5, 7)
    np.testing.assert_array_equal(image.numpy(), pixels.transpose(2, 0, 1))
    rgb = read_image(path, ImageReadMode.RGB)
    np.testing.assert_array_equal(
        rgb.numpy(), np.asarray(Image.open(path).convert("RGB")).transpose(2, 0, 1))
    write_png(image, str(tmp_path / "y.png"))
    np.testing.assert_array_equal(read_image(str(tmp_path / "y.png")).numpy(), image.numpy())


# ---- the seq2seq translation tutorial's step: a GRU encoder written into a buffer, attention --

def _seq2seq(lib, vocab=7, hidden=5, max_len=4):
    nn, F = lib.nn, lib.nn.functional

    class Seq2seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc_embed, self.enc_gru = nn.Embedding(vocab, hidden), nn.GRU(hidden, hidden)
            self.dec_embed = nn.Embedding(vocab, hidden)
            self.attn = nn.Linear(2 * hidden, max_len)
            self.combine = nn.Linear(2 * hidden, hidden)
            self.dec_gru, self.out = nn.GRU(hidden, hidden), nn.Linear(hidden, vocab)

        def forward(self, source, target):
            """Encoder outputs written one step at a time into a zeros buffer, then decoder
            steps fed their own argmax, the loss summed from the int 0."""
            h = lib.zeros(1, 1, hidden)
            outputs = lib.zeros(max_len, hidden)
            for i in range(source.size(0)):
                o, h = self.enc_gru(self.enc_embed(source[i]).view(1, 1, -1), h)
                outputs[i] = o[0, 0]
            token, loss = lib.tensor([[0]]), 0
            for i in range(target.size(0)):
                x = self.dec_embed(token).view(1, 1, -1)
                weights = F.softmax(self.attn(lib.cat((x[0], h[0]), 1)), dim=1)
                applied = lib.bmm(weights.unsqueeze(0), outputs.unsqueeze(0))
                x = F.relu(self.combine(lib.cat((x[0], applied[0]), 1)).unsqueeze(0))
                o, h = self.dec_gru(x, h)
                log_probs = F.log_softmax(self.out(o[0]), dim=1)
                loss += F.nll_loss(log_probs, target[i])
                token = log_probs.topk(1)[1].squeeze().detach()
            return loss
    return Seq2seq()


def test_a_seq2seq_step_with_a_written_encoder_buffer_matches_torch():
    theirs, ours = _seq2seq(torch), _seq2seq(tinyflow)
    randomize(theirs, np.random.default_rng(4))
    copy_state(theirs, ours)
    source, target = [[3], [1], [5]], [[2], [6], [4], [1]]
    loss_t = theirs(torch.tensor(source), torch.tensor(target))
    loss_f = ours(tinyflow.tensor(source), tinyflow.tensor(target))
    loss_t.backward()
    loss_f.backward()
    assert loss_f.item() == pytest.approx(loss_t.item(), rel=1e-5)
    for name, t, f in param_pairs(theirs, ours):
        np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-6,
                                   err_msg=name)


@pytest.mark.parametrize("call", ["F.log_softmax", "F.softmax", "nn.LogSoftmax", "nn.Softmax"])
def test_softmax_without_dim_warns_and_picks_torchs_dim(call):
    """The LSTM tagger tutorial's F.log_softmax(tag_space): torch's legacy dim, its warning."""
    x = np.random.default_rng(5).standard_normal((2, 3, 4)).astype(np.float32)

    def run(lib):
        kind, name = call.split(".")
        fn = getattr(lib.nn.functional, name) if kind == "F" else getattr(lib.nn, name)()
        says = ("Implicit dimension choice for" if lib is torch else
                r"without dim picks dim [01] by the input's rank")
        with pytest.warns(UserWarning, match=says):
            return fn(lib.tensor(x)).numpy()
    np.testing.assert_allclose(run(tinyflow), run(torch), rtol=1e-5, atol=1e-6)
