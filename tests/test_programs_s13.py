"""What other people's programs needed, round 13 (nanoGPT, minGPT, makemore, the PyTorch
tutorials): torch.distributed's names imported at the top of training scripts, the
tensorboard writer they log through. Each test reproduces the pattern, written here, with
PyTorch as the oracle where it has one.
"""
import glob
import os

import pytest

import tinyflow
import tinyflow.distributed as dist
from tb_events import parse_summary, read_events
from tinyflow.utils.tensorboard import SummaryWriter


def test_process_group_names_exist_and_refuse_to_start_a_group():
    assert dist.is_available() is False and dist.is_initialized() is False
    assert tinyflow.__getattr__("distributed") is dist   # torch.distributed without import
    with pytest.raises(AttributeError, match="has no attribute 'distributd'"):
        tinyflow.distributd
    for start in (lambda: dist.init_process_group(backend="gloo"), dist.destroy_process_group):
        with pytest.raises(RuntimeError, match="process group.*DataParallel"):
            start()


def _scalars(path) -> list:
    out = []
    for e in read_events(path)[1:]:
        [value] = parse_summary(e.summary.SerializeToString()).value
        out.append((value.tag, e.step, round(value.simple_value, 4)))
    return out


def test_summary_writer_scalars_groups_and_histograms(tmp_path):
    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_scalar("Loss/train", tinyflow.tensor(0.5), 3)
        writer.add_scalar("Loss/train", 0.25, global_step=4)
        writer.add_histogram("w", tinyflow.arange(6.0), 4)
        writer.add_scalars("loss", {"train": 1.5, "test": 2.0}, 7)
        writer.flush()
    [main] = glob.glob(str(tmp_path / "events.out.tfevents.*"))
    events = read_events(main)
    assert events[0].file_version == "brain.Event:2"
    assert _scalars(main)[:2] == [("Loss/train", 3, 0.5), ("Loss/train", 4, 0.25)]
    histo = parse_summary(events[3].summary.SerializeToString()).value[0].histo
    assert (histo.num, histo.sum, histo.max) == (6, 15, 5)
    # add_scalars: one run per key beside the main one, tagged with the main tag (PyTorch's)
    for key, value in (("train", 1.5), ("test", 2.0)):
        [path] = glob.glob(os.path.join(tmp_path, f"loss_{key}", "events.out.tfevents.*"))
        assert _scalars(path) == [("loss", 7, value)]


def test_summary_writer_default_log_dir_is_under_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    writer = SummaryWriter(comment="_lr0.1")
    assert writer.get_logdir().startswith("runs" + os.sep)
    assert writer.get_logdir().endswith("_lr0.1") and os.path.isdir(writer.get_logdir())
    writer.close()


@pytest.mark.parametrize("exponent", [3.0, -2.0, 2.0, 0.5, 4.0])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pow_by_a_scalar_has_torchs_bits_and_stays_quiet(exponent, dtype):
    """makemore's GELU, `torch.pow(x, 3.0)`: x ** 3 and x ** -2 are products, as in PyTorch."""
    import warnings

    import numpy as np
    import torch
    x = np.random.default_rng(0).standard_normal(300).astype(dtype)
    x[:6] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e30]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = tinyflow.pow(tinyflow.tensor(x), exponent).numpy()
        inplace = tinyflow.tensor(x)
        inplace.pow_(exponent)
    want = torch.pow(torch.tensor(x), exponent).numpy()
    tol = 0 if exponent in (3.0, -2.0, 2.0) else 2e-7   # PyTorch's other exponents: libm's
    np.testing.assert_allclose(got, want, rtol=tol, atol=0)
    np.testing.assert_array_equal(inplace.numpy(), got)


def _full_hook_log(L, forward, inputs_of=None):
    """What a full backward hook sees when forward(a, b) leaves b without a gradient (and
    a's gradient; PyTorch's b.grad becomes zeros through its hook node, tinyflow's stays None)."""
    class M(L.nn.Module):
        def forward(self, a, b):
            return forward(a, b)
    log = []
    m = M()
    m.register_full_backward_hook(
        lambda mod, gi, go: log.append(([g.tolist() for g in gi], go[0].tolist())))
    a = L.tensor([1.0, 2.0], requires_grad=True)
    b = L.tensor([3.0, 4.0, 5.0], requires_grad=True)
    out = (m(a, b) * L.tensor([1.0, -1.0])).sum()
    if inputs_of is None:
        out.backward()
    else:
        out.backward(inputs=[a])
    return log, a.grad.tolist()


@pytest.mark.parametrize("inputs", [None, "a"])
def test_full_backward_hook_runs_with_zeros_for_an_input_without_gradient(inputs):
    """Session 12's gap: PyTorch calls the hook at the end of the backward with zeros for b."""
    import torch
    forward = lambda a, b: a * 3   # noqa: E731
    want = _full_hook_log(torch, forward, inputs)
    got = _full_hook_log(tinyflow, forward, inputs)
    assert got == want and want[0] == [([[3.0, -3.0], [0.0, 0.0, 0.0]], [1.0, -1.0])]


def test_a_hook_replacing_a_gradient_it_cannot_change_is_refused():
    """b gets no gradient, so the hook runs when the sweep ends, after a's went on: its
    replacement could not take effect (PyTorch applies it), so it is an error, not lost."""
    class M(tinyflow.nn.Module):
        def forward(self, a, b):
            return a * 2

    m = M()
    m.register_full_backward_hook(lambda mod, gi, go: tuple(g * 10 for g in gi))
    a = tinyflow.tensor([1.0, 2.0], requires_grad=True)
    b = tinyflow.tensor([3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"replaced grad_input\[0\]"):
        (m(a, b) * a).sum().backward()


def test_a_failed_backward_drops_the_callbacks_it_queued():
    from tinyflow.autodiff import reverse
    x = tinyflow.ones(2, requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: reverse.queue_callback(lambda: calls.append(1)) or 1 / 0)
    calls = []
    with pytest.raises(ZeroDivisionError):
        y.sum().backward()
    assert reverse.end_of_backward.queued == [] and calls == []
    z = x * 2
    z.register_hook(lambda g: reverse.queue_callback(lambda: calls.append(2)))
    z.sum().backward()
    assert calls == [2] and x.grad.tolist() == [2.0, 2.0]
