"""Pipeline parallelism (dist.Pipeline): the schedules as data, then a 4-stage MLP on a local
Ray — the same parameters as single-process training for GPipe and 1F1B and 1..8
micro-batches, one activation and one gradient per boundary per micro-batch, 1F1B's bounded
activations, and a clear error naming the stage when a worker dies or a step hangs."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

ray = pytest.importorskip("ray")

import tinyflow as torch  # noqa: E402
import tinyflow.distributed as dist  # noqa: E402
from tinyflow import nn  # noqa: E402
from tinyflow.distributed.pipeline_schedule import (bubble_fraction, peak_stored,  # noqa: E402
                                                    schedule_for)
from tinyflow.nn import functional as F  # noqa: E402

WIDTHS = [5, 8, 8, 8, 3]          # 4 stages: Linear + Tanh each, the last Linear only
BATCH = 16


def make_stage(i: int):
    """Stage i of the MLP, the same parameters wherever it is built (seeded per stage)."""
    torch.manual_seed(100 + i)
    layers = [nn.Linear(WIDTHS[i], WIDTHS[i + 1])]
    if i < len(WIDTHS) - 2:
        layers.append(nn.Tanh())
    return nn.Sequential(*layers).double()


class StageFactory:
    """A picklable factory for stage i (built inside the stage's worker)."""

    def __init__(self, i: int) -> None:
        self.i = i

    def __call__(self):
        return make_stage(self.i)


def sgd(params):
    return torch.optim.SGD(params, lr=0.1, momentum=0.9)


def batches(steps: int):
    rng = np.random.default_rng(0)
    return [(rng.standard_normal((BATCH, WIDTHS[0])), rng.standard_normal((BATCH, WIDTHS[-1])))
            for _ in range(steps)]


def single_process(data) -> tuple:
    """The reference: nn.Sequential of the same stages trained on whole batches; the
    parameters after every step, the losses, and the last step's gradients."""
    model = nn.Sequential(*[make_stage(i) for i in range(4)])
    opt = sgd(model.parameters())
    states, losses = [], []
    for x, y in data:
        opt.zero_grad()
        loss = F.mse_loss(model(torch.tensor(x)), torch.tensor(y))
        loss.backward()
        opt.step()
        losses.append(loss.item())
        states.append({k: v.numpy().copy() for k, v in model.state_dict().items()})
    grads = {k: p.grad.numpy() for k, p in model.named_parameters()}
    return states, losses, grads


# ---- schedules as data (no Ray) -----------------------------------------------------------

@pytest.mark.parametrize("name", ["gpipe", "1f1b"])
@pytest.mark.parametrize("m", [1, 2, 4, 8, 16])
def test_schedules_run_every_microbatch_once_and_leave_the_textbook_bubble(name, m):
    p = 4
    orders = schedule_for(name, p, m)
    for order in orders:
        assert sorted((w.kind, w.microbatch) for w in order) == sorted(
            [("F", k) for k in range(m)] + [("B", k) for k in range(m)])
    lines = dist.simulate(name, p, m, forward=1.0, backward=2.0)
    assert bubble_fraction(lines) == pytest.approx(dist.theoretical_bubble(p, m))
    peaks = [peak_stored(order) for order in orders]
    expected = [m] * p if name == "gpipe" else [min(p - i, m) for i in range(p)]
    assert peaks == expected


def test_message_latency_adds_to_1f1b_bubble_more_than_to_gpipes():
    """1F1B's steady state has no slack: every hop lies on the critical path (GPipe's
    forwards stream ahead), which is what the benchmark measures on Ray."""
    ideal = dist.theoretical_bubble(4, 16)
    gpipe = bubble_fraction(dist.simulate("gpipe", 4, 16, 1.0, 2.0, latency=0.05))
    ofob = bubble_fraction(dist.simulate("1f1b", 4, 16, 1.0, 2.0, latency=0.05))
    assert ideal < gpipe < ofob


def test_bad_schedule_arguments_are_named():
    with pytest.raises(ValueError, match="schedule must be one of.*'zigzag'"):
        schedule_for("zigzag", 4, 2)
    with pytest.raises(ValueError, match="chunks=0"):
        schedule_for("gpipe", 4, 0)


# ---- on Ray ---------------------------------------------------------------------------------

# Every (schedule, m) trains 10 steps, continuing from the one before, on one pipeline (new
# stage processes are what costs time here); the single-process reference does not depend on
# them, so after every block the parameters must equal its parameters after as many steps.
RUNS = [("gpipe", m) for m in (1, 2, 4, 8)] + [("1f1b", m) for m in (1, 2, 4, 8)] + [
    ("1f1b", 3)]                                             # 3 uneven chunks: 6, 5, 5 rows


@pytest.mark.usefixtures("local_ray")
def test_pipeline_trains_like_one_process_for_every_schedule_and_chunks():
    data = batches(10 * len(RUNS))
    states, losses, grads = single_process(data)
    pipe = dist.Pipeline([StageFactory(i) for i in range(4)], devices=["gpu0", "gpu1", "gpu2",
                                                                       "gpu3"],
                         loss_fn=F.mse_loss, optimizer=sgd)
    try:
        for run, (schedule, m) in enumerate(RUNS):
            pipe.schedule, pipe.chunks = schedule, m
            for t in range(10 * run, 10 * run + 10):
                loss = pipe.step(*data[t])
                assert loss == pytest.approx(losses[t], rel=1e-12), (schedule, m, t)
            got = pipe.state_dict()
            assert sorted(got) == sorted(states[t])
            for k, want in states[t].items():
                np.testing.assert_allclose(got[k], want, rtol=0, atol=1e-10,
                                           err_msg=f"{k} after {schedule}, m={m}")
            check_report(pipe.last, schedule, m)
        for k, want in pipe.gradients().items():       # the last step's: full-batch ones
            np.testing.assert_allclose(want, grads[k], rtol=0, atol=1e-12, err_msg=k)
        pipe.chunks = 17
        with pytest.raises(ValueError, match="16 rows cannot be split into chunks=17"):
            pipe.step(*data[0])
    finally:
        pipe.shutdown()


@pytest.mark.usefixtures("local_ray")
def test_stages_given_as_modules_train_with_in_place_updates():
    """Modules built here travel to their workers (Ray unpickles their arrays read-only):
    plain SGD, which writes each parameter in place, must still step them."""
    data = batches(2)
    model = nn.Sequential(*[make_stage(i) for i in range(4)])
    pipe = dist.Pipeline([make_stage(i) for i in range(4)], chunks=2, loss_fn=F.mse_loss,
                         optimizer=lambda p: torch.optim.SGD(p, lr=0.1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    try:
        for x, y in data:
            opt.zero_grad()
            F.mse_loss(model(torch.tensor(x)), torch.tensor(y)).backward()
            opt.step()
            pipe.step(x, y)
        for k, want in model.state_dict().items():
            np.testing.assert_allclose(pipe.state_dict()[k], want.numpy(), atol=1e-12)
    finally:
        pipe.shutdown()


def check_report(report, schedule, m):
    """One activation forward and one gradient backward per boundary per micro-batch; every
    stage ran every forward and backward once and held what its schedule says."""
    assert report.transfers("activation") == [m] * 3, (schedule, m)
    assert report.transfers("gradient") == [m] * 3, (schedule, m)
    assert [r.get("activation", 0) for r in report.received] == [0, m, m, m]
    assert [r.get("gradient", 0) for r in report.received] == [m, m, m, 0]
    assert report.sent[0]["activation bytes"] == BATCH * WIDTHS[1] * 8
    assert report.sent[3]["gradient bytes"] == BATCH * WIDTHS[3] * 8
    for i, line in enumerate(report.timelines):
        assert sorted((iv.kind, iv.microbatch) for iv in line) == sorted(
            (w.kind, w.microbatch) for w in schedule_for(schedule, 4, m)[i])
        assert all(iv.end >= iv.start for iv in line)
    expected = [m] * 4 if schedule == "gpipe" else [min(4 - i, m) for i in range(4)]
    assert report.peak_activations == expected, (schedule, m)
    assert 0.0 <= report.bubble_fraction < 1.0


@pytest.mark.usefixtures("local_ray")
def test_a_worker_killed_mid_step_is_named_not_waited_for():
    stages = [dist.Delayed(StageFactory(i), forward=0.02, backward=0.04) for i in range(4)]
    pipe = dist.Pipeline(stages, devices=["a", "b", "c", "d"], chunks=8, loss_fn=F.mse_loss,
                         optimizer=sgd, timeout=60.0)
    x, y = batches(1)[0]
    try:
        pipe.step(x, y)                                   # a good step first
        killer = threading.Timer(0.3, ray.kill, [pipe.workers[2]])
        killer.start()
        start = time.monotonic()
        with pytest.raises(dist.PipelineError, match=r"stage 2 \(device 'c'\) died during "
                                                     r"step 1"):
            pipe.step(x, y)
        assert time.monotonic() - start < 30              # not the 60 s timeout
        with pytest.raises(dist.PipelineError, match="failed earlier"):
            pipe.step(x, y)
    finally:
        pipe.shutdown()


@pytest.mark.usefixtures("local_ray")
def test_a_stuck_step_times_out_saying_what_each_stage_awaits():
    stages = [dist.Delayed(StageFactory(2), forward=5.0), StageFactory(3)]
    pipe = dist.Pipeline(stages, chunks=2, loss_fn=F.mse_loss, timeout=1.0)
    x, y = batches(1)[0]
    try:
        with pytest.raises(dist.PipelineTimeout,
                           match=r"did not finish within 1.0 s.*stage 0 \(device 'worker:0'\) "
                                 r"is running F0.*stage 1 \(device 'worker:1'\) is waiting "
                                 r"for the activation of micro-batch 0 from stage 0"):
            pipe.step(np.ones((BATCH, 8)), y)
    finally:
        pipe.shutdown()


@pytest.mark.usefixtures("local_ray")
def test_an_error_in_a_stage_names_it_and_the_microbatch():
    x, y = batches(1)[0]
    with dist.Pipeline([StageFactory(0), StageFactory(2)], devices=["cpu:0", "cpu:1"],
                       chunks=2, loss_fn=F.mse_loss) as pipe:   # 8 features, stage 2 takes 8
        with pytest.raises(dist.PipelineError, match=r"stage 1 \(device 'cpu:1'\) failed "
                                                     r"during step 0.*forward of micro-batch 0"):
            pipe.step(x, y)                               # ...but y has 3 columns, not 8


@pytest.mark.usefixtures("local_ray")
def test_a_stage_that_cannot_be_built_is_named_with_the_reason():
    with pytest.raises(dist.PipelineError, match=r"stage 1 \(device 'worker:1'\) died while "
                                                 r"starting the stages \(TypeError: a pipeline "
                                                 r"stage must be an nn.Module.*got str\)"):
        dist.Pipeline([StageFactory(0), not_a_module], loss_fn=F.mse_loss)


def not_a_module():
    return "Linear(8, 8)"
