"""Devices as Ray workers: the lectures' ToyModel on two workers trains exactly as in one
process, its transfers counted (one activation forward and one gradient backward per
boundary per step); TF1 graphs placed with `tf.device` are partitioned with send/recv pairs;
errors name the device (undeclared, mixed, a worker killed mid-step)."""
from __future__ import annotations

import gc
import os
import time

import numpy as np
import pytest
from ray_helpers import kill_and_wait, run_joined

import tinyflow as torch
import tinyflow as tf
from tinyflow import nn

ray = pytest.importorskip("ray")
dist = pytest.importorskip("tinyflow.distributed")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module", autouse=True)
def two_devices(local_ray):
    """Two declared devices on the module's local Ray."""
    made = dist.devices(["cuda:0", "cuda:1"], timeout=60)
    yield made
    dist.release_devices()


class ToyModel(nn.Module):      # the lectures' code, unchanged
    def __init__(self):
        super(ToyModel, self).__init__()
        self.net1 = torch.nn.Linear(10, 10).to('cuda:0')
        self.relu = torch.nn.ReLU()
        self.net2 = torch.nn.Linear(10, 5).to('cuda:1')

    def forward(self, x):
        x = self.relu(self.net1(x.to('cuda:0')))
        return self.net2(x.to('cuda:1'))


class LocalToyModel(nn.Module):  # the same layers in this process
    def __init__(self):
        super().__init__()
        self.net1 = torch.nn.Linear(10, 10)
        self.relu = torch.nn.ReLU()
        self.net2 = torch.nn.Linear(10, 5)

    def forward(self, x):
        return self.net2(self.relu(self.net1(x)))


def _train(model, make_optimizer, steps, xs, ys, labels_to=None):
    optimizer = make_optimizer(model.parameters())
    losses = []
    for x, y in zip(xs[:steps], ys[:steps]):
        optimizer.zero_grad()
        out = model(x)
        loss = nn.functional.mse_loss(out, y.to(labels_to) if labels_to else y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def _data(steps=10, seed=1):
    rng = np.random.default_rng(seed)
    xs = [torch.tensor(rng.standard_normal((16, 10)).astype(np.float32)) for _ in range(steps)]
    ys = [torch.tensor(rng.standard_normal((16, 5)).astype(np.float32)) for _ in range(steps)]
    return xs, ys


def _params(model):
    return {k: v.detach().cpu().numpy() for k, v in model.named_parameters()}


@pytest.mark.parametrize("make_optimizer", [
    lambda p: torch.optim.SGD(p, lr=0.1),
    lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
    lambda p: torch.optim.Adam(p, lr=0.01),
], ids=["sgd", "momentum", "adam"])
def test_toy_model_on_two_workers_trains_as_one_process(make_optimizer):
    xs, ys = _data()
    torch.manual_seed(0)
    local = LocalToyModel()
    torch.manual_seed(0)
    toy = ToyModel()
    assert toy.net1.weight.device == "cuda:0" and toy.net2.bias.device == "cuda:1"
    start = _params(toy)
    for k, v in _params(local).items():
        np.testing.assert_array_equal(start[k], v)
    dist.reset_transfer_stats()
    remote_losses = _train(toy, make_optimizer, 10, xs, ys, labels_to="cuda:1")
    stats = dist.transfer_stats()["transfers"]
    local_losses = _train(local, make_optimizer, 10, xs, ys)
    np.testing.assert_allclose(remote_losses, local_losses, rtol=1e-5)
    after = _params(toy)
    for k, v in _params(local).items():
        np.testing.assert_allclose(after[k], v, rtol=1e-5, atol=1e-6, err_msg=k)
    assert after["net1.weight"].tolist() != start["net1.weight"].tolist()
    # per step: the one boundary crossed once each way; inputs and labels sent once
    assert stats[("activation", "cuda:0", "cuda:1")] == 10
    assert stats[("gradient", "cuda:1", "cuda:0")] == 10
    assert stats[("activation", "cpu", "cuda:0")] == 10
    assert stats[("activation", "cpu", "cuda:1")] == 10
    assert not any(kind == "gradient" and target == "cpu" for kind, _, target in stats)


def test_gradients_cross_back_to_this_process():
    """x requiring grad, sent to a device and a loss computed back here: x.grad and the
    parameters' gradients equal the local ones, two gradient transfers back."""
    torch.manual_seed(3)
    local = LocalToyModel()
    torch.manual_seed(3)
    toy = ToyModel()
    x_local = torch.randn(4, 10, requires_grad=True)
    x_remote = torch.tensor(x_local.detach().numpy(), requires_grad=True)
    (local(x_local) ** 2).sum().backward()
    dist.reset_transfer_stats()
    (toy(x_remote).cpu() ** 2).sum().backward()
    stats = dist.transfer_stats()["transfers"]
    np.testing.assert_allclose(x_remote.grad.numpy(), x_local.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(toy.net1.weight.grad.cpu().numpy(),
                               local.net1.weight.grad.numpy(), rtol=1e-5)
    assert stats[("gradient", "cpu", "cuda:1")] == 1
    assert stats[("gradient", "cuda:1", "cuda:0")] == 1
    assert stats[("gradient", "cuda:0", "cpu")] == 1


def test_backward_options_a_device_path_cannot_honour_are_refused():
    """inputs= and create_graph=True on a local loss computed from a device would be
    silently dropped for the device's part: refused, and nothing is written."""
    w = torch.tensor([1.0, 1.0], requires_grad=True)
    v = torch.tensor([2.0, 2.0], requires_grad=True)
    loss = (w.to("cuda:0") * v.to("cuda:0")).sum().to("cpu")
    for options in ({"inputs": [v]}, {"create_graph": True}):
        with pytest.raises(NotImplementedError, match="came from a device"):
            loss.backward(retain_graph=True, **options)
    assert w.grad is None and v.grad is None
    local = (w * 3).sum()
    local.backward(inputs=[w])          # a purely local loss keeps its options
    assert w.grad.tolist() == [3.0, 3.0]


def test_a_tensor_lives_on_its_device():
    a = torch.ones(2, 3).to("cuda:0")
    assert a.device == "cuda:0" and a.device.type == "cuda" and a.is_cuda
    assert a.shape == (2, 3) and a.dtype is torch.float32
    b = (a * 2 + 1).sum()
    assert b.device == "cuda:0" and b.item() == 18.0
    with pytest.raises(TypeError, match="cuda:0 device type tensor.*cpu"):
        a.numpy()
    np.testing.assert_array_equal(a.cpu().numpy(), np.ones((2, 3)))
    np.testing.assert_array_equal(a.to("cuda:1").to("cpu").numpy(), np.ones((2, 3)))


def test_a_leaf_made_on_a_device_gets_its_gradient_there():
    a = torch.tensor([1.0, 2.0, 3.0]).to("cuda:1").requires_grad_()
    (a * a).sum().backward()
    assert a.grad.device == "cuda:1"
    np.testing.assert_array_equal(a.grad.cpu().numpy(), [2.0, 4.0, 6.0])
    with torch.no_grad():
        b = torch.ones(2, requires_grad=True).to("cuda:0")
    assert not b.requires_grad
    assert dist.transfer_stats()["transfers"]


def test_errors_name_the_devices():
    with pytest.raises(RuntimeError, match="'cuda:7' is not available"):
        torch.ones(2).to("cuda:7")
    with pytest.raises(RuntimeError, match="'cuda:7' is not available"):
        nn.Linear(2, 2).to("cuda:7")
    a, b = torch.ones(2).to("cuda:0"), torch.ones(2).to("cuda:1")
    with pytest.raises(RuntimeError, match="the inputs are on two devices, cuda:0 and cuda:1"):
        a + b
    with pytest.raises(RuntimeError, match="the inputs are on cuda:0 and on cpu"):
        a + torch.ones(2)
    with pytest.raises(Exception, match="matmul|shape"):
        torch.ones(2, 3).to("cuda:0") @ torch.ones(2, 3).to("cuda:0")


def test_module_moves_back_in_place():
    layer = nn.Linear(3, 2)
    weight = layer.weight
    before = weight.detach().numpy().copy()
    layer.to("cuda:1")
    assert layer.weight is weight and weight.device == "cuda:1"
    layer.cpu()
    assert weight.device == "cpu"
    np.testing.assert_array_equal(weight.detach().numpy(), before)


def test_a_killed_worker_is_an_error_naming_its_device():
    """Kill a device's worker between forward and backward: backward raises, naming it."""
    spare = dist.devices(["spare:0"], timeout=20)["spare:0"]
    layer = nn.Linear(4, 4).to("spare:0")
    loss = layer(torch.ones(2, 4).to("spare:0")).sum()
    kill_and_wait(spare.actor)
    with pytest.raises(dist.DeviceError, match="'spare:0'.*died"):
        loss.backward()


# ---- TF1: tf.device, partitions, send/recv -----------------------------------------------

def _tf1_graph(devs, make_optimizer):
    """x -> relu(x W1 + b1) on devs[0] -> (. W2 + b2) and the loss on devs[1]; the
    optimizer's update nodes are placed by the partitioner (beside their variables)."""
    rng = np.random.default_rng(0)
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 10])
        y = tf.placeholder(tf.float32, [None, 5])
        with tf.device(devs[0]):
            w1 = tf.Variable((rng.standard_normal((10, 10)) * 0.3).astype(np.float32))
            b1 = tf.Variable(np.zeros(10, np.float32))
            h = tf.nn.relu(tf.matmul(x, w1) + b1)
        with tf.device(devs[1]):
            w2 = tf.Variable((rng.standard_normal((10, 5)) * 0.3).astype(np.float32))
            b2 = tf.Variable(np.zeros(5, np.float32))
            loss = tf.reduce_mean(tf.square(tf.matmul(h, w2) + b2 - y))
        train = make_optimizer().minimize(loss)
        init = tf.global_variables_initializer()
    return g, (x, y, loss, train, init, w1)


@pytest.mark.parametrize("make_optimizer", [
    lambda: tf.train.GradientDescentOptimizer(0.1),
    lambda: tf.train.AdamOptimizer(0.01),
], ids=["sgd", "adam"])
def test_tf1_graph_split_over_two_devices_trains_as_on_one(make_optimizer):
    xs, ys = _data()
    results = {}
    for devs in (("cpu", "cpu"), ("cuda:0", "cuda:1")):
        g, (x, y, loss, train, init, w1) = _tf1_graph(devs, make_optimizer)
        with tf.Session(graph=g) as sess:
            sess.run(init)
            dist.reset_transfer_stats()
            losses = [sess.run([loss, train], {x: a.numpy(), y: b.numpy()})[0]
                      for a, b in zip(xs, ys)]
            stats = dist.transfer_stats()["transfers"]
            results[devs] = losses, sess.run(w1), stats
    (local, w_local, none), (placed, w_placed, stats) = results.values()
    assert not none
    np.testing.assert_allclose(placed, local, rtol=1e-6)
    np.testing.assert_allclose(w_placed, w_local, rtol=1e-6, atol=1e-7)
    assert local[-1] < local[0]
    # one send per cut edge per step: the activation forward, its gradient back (Adam also
    # sends its step size, a scalar it computes beside its step count, on cuda:0)
    adam = isinstance(make_optimizer(), tf.train.AdamOptimizer)
    assert stats[("send", "cuda:0", "cuda:1")] == (20 if adam else 10)
    assert stats[("send", "cuda:1", "cuda:0")] == 10


def test_tf1_partitions_are_uninstalled_with_their_session(two_devices):
    g, (x, y, loss, train, init, w1) = _tf1_graph(("cuda:0", "cuda:1"),
                                                  lambda: tf.train.GradientDescentOptimizer(0.1))
    workers = [two_devices[d].actor for d in ("cuda:0", "cuda:1")]
    before = [ray.get(w.installed.remote(), timeout=30) for w in workers]
    with tf.Session(graph=g) as sess:
        sess.run(init)
        sess.run([loss, train], {x: np.ones((4, 10), np.float32), y: np.ones((4, 5), np.float32)})
        during = [ray.get(w.installed.remote(), timeout=30) for w in workers]
        assert all(len(d) > len(b) for d, b in zip(during, before))
    gc.collect()
    deadline = time.monotonic() + 30       # the uninstall calls are not waited for
    while [ray.get(w.installed.remote(), timeout=30) for w in workers] != before:
        assert time.monotonic() < deadline, "the closed session's partitions stayed installed"
        time.sleep(0.05)


def test_tf1_partitions_have_send_recv_pairs():
    g, (x, y, loss, train, init, w1) = _tf1_graph(("cuda:0", "cuda:1"),
                                                  lambda: tf.train.GradientDescentOptimizer(0.1))
    with tf.Session(graph=g, optimize=False) as sess:   # the kernels as the graph has them
        plan = sess.make_plan([loss, train], (x, y))
    kernels = plan.kernels()
    assert kernels["cuda:0"][:4] == ["matmul", "add", "relu", "send(relu:0)"]
    assert kernels["cuda:1"][0] == "recv(relu:0)"
    sends = {d: [k for k in ks if k.startswith("send(")] for d, ks in kernels.items()}
    recvs = {d: [k for k in ks if k.startswith("recv(")] for d, ks in kernels.items()}
    assert sorted(k[5:] for ks in sends.values() for k in ks) == \
        sorted(k[5:] for ks in recvs.values() for k in ks)
    # the gradient of the relu's output is computed beside the loss and sent back; the
    # relu's own gradient runs beside the relu
    assert [k for k in recvs["cuda:0"] if "control" not in k] == ["recv(gradients/sum_to_3:0)"]
    assert "relu_grad" in kernels["cuda:0"] and "relu_grad" not in kernels["cuda:1"]


@pytest.mark.parametrize("optimize", [True, False], ids=["rewritten", "as-written"])
def test_tf1_gradients_across_the_cut(optimize):
    rng = np.random.default_rng(5)
    a_value = rng.standard_normal((3, 4)).astype(np.float32)
    grads = {}
    for devs in (("cpu", "cpu"), ("cuda:1", "cuda:0")):
        g = tf.Graph()
        with g.as_default():
            a = tf.placeholder(tf.float32, [3, 4])
            with tf.device(devs[0]):
                v = tf.Variable(np.ones((4, 2), np.float32))
                u = tf.tanh(tf.matmul(a, v))
            with tf.device(devs[1]):
                s = tf.reduce_sum(u * u)
            dv, da = tf.gradients(s, [v, a])
            with tf.Session(optimize=optimize) as sess:
                sess.run(tf.global_variables_initializer())
                grads[devs] = sess.run([dv, da], {a: a_value})
    for local, placed in zip(*grads.values()):
        np.testing.assert_allclose(placed, local, rtol=1e-6)


def test_tf1_undeclared_device_is_refused():
    with pytest.raises(RuntimeError, match="'/job:ps/task:3' is not available"):
        with tf.device("/job:ps/task:3"):
            pass


def test_tf1_a_killed_worker_is_an_error_naming_its_device():
    """The graph's second device dies between runs: the next run raises, naming it, and
    the first device's partition, waiting for its send, is stopped rather than left hanging."""
    made = dist.devices(["doomed:0", "doomed:1"], timeout=20)
    g, (x, y, loss, train, init, w1) = _tf1_graph(("doomed:0", "doomed:1"),
                                                  lambda: tf.train.GradientDescentOptimizer(0.1))
    xs, ys = _data(1)
    with tf.Session(graph=g) as sess:
        sess.run(init)
        feeds = {x: xs[0].numpy(), y: ys[0].numpy()}
        sess.run(train, feeds)
        kill_and_wait(made["doomed:1"].actor)
        with pytest.raises(dist.DeviceError, match="'doomed:1'.*died"):
            sess.run(train, feeds)
        # the survivor answers again at once (its partition was aborted, not timed out)
        assert made["doomed:0"].get(made["doomed:0"].actor.ping.remote(), "ping") == "doomed:0"


def test_tf1_unplaced_fetches_of_a_placed_graph_run_here():
    g = tf.Graph()
    with g.as_default():
        a = tf.placeholder(tf.float32, [2])
        with tf.device("cuda:0"):
            b = a * 2
        c = a + 1
        with tf.Session() as sess:
            np.testing.assert_array_equal(sess.run(c, {a: [1, 2]}), [2, 3])
            np.testing.assert_array_equal(sess.run(b, {a: [1, 2]}), [2, 4])
            assert sess.make_plan([b], (a,)).kernels() == {"cuda:0": ["mul"]}


# ---- a cluster joined by address ---------------------------------------------------------

JOIN = """
import numpy as np, tinyflow as torch, tinyflow.distributed as dist
dist.init(address="127.0.0.1:{port}")
dist.devices(["cuda:0", "cuda:1"])
a = torch.ones(2, 3).to("cuda:0").requires_grad_()
loss = ((a * 2).to("cuda:1") ** 2).sum()
loss.backward()
print("loss", loss.item(), "grad", a.grad.cpu().numpy().sum())
"""


@pytest.mark.slow
def test_devices_on_a_cluster_joined_by_address():
    """A head started apart (`ray start --head`) is joined by "host:port" from a fresh
    process, which declares devices there and crosses them forward and back."""
    assert "loss 24.0 grad 48.0" in run_joined(JOIN, ROOT).stdout


def test_a_tensor_of_a_released_device_is_refused_by_name():
    from tinyflow.core.devices import RemoteRef
    from tinyflow.core.tensor import Tensor

    class Released:                 # a device after dist.release_devices()
        name = "cuda:7"

        def release(self, key):
            pass
    t = Tensor._remote(RemoteRef(Released(), 1), (2,), torch.float32)
    with pytest.raises(RuntimeError, match="add: an input lived on device cuda:7, which was "
                                           "released"):
        t + 1
