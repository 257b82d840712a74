"""ONNX export: each exported model passes onnx's checker and, run by onnxruntime, gives
tinyflow's outputs to float32 tolerance (the reference: `Session(optimize=False)` for TF1
graphs, eager modules for PyTorch-style models), also at a batch size other than the one
exported; an op with no ONNX equivalent is refused naming the op and the graph node."""
from __future__ import annotations

import io
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import tinyflow as tf  # noqa: E402
import tinyflow as torch  # noqa: E402
from tinyflow import nn  # noqa: E402
from tinyflow.nn import functional as F  # noqa: E402
from op_table import TABLE, make_array  # noqa: E402

TOL = dict(rtol=1e-4, atol=1e-5)


def run_onnx(model, feeds: dict) -> list:
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def random(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ---- TF1 ----------------------------------------------------------------------------------

def mlp_graph():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 6], name="x")
        w1 = tf.Variable(random(6, 16, seed=1), name="w1")
        b1 = tf.Variable(random(16, seed=2), name="b1")
        w2 = tf.Variable(random(16, 3, seed=3), name="w2")
        h = tf.nn.relu(tf.matmul(x, w1) + b1)
        logits = tf.matmul(h, w2, name="logits")
        probs = tf.nn.softmax(logits, name="probs")
        sess = tf.Session(optimize=False)
        sess.run(tf.global_variables_initializer())
    return sess, x, logits, probs


@pytest.mark.parametrize("optimize", [False, True])
def test_mlp_from_a_session_matches_session_run(tmp_path, optimize):
    """As written, or after the graph rewrites (optimize=True)."""
    sess, x, logits, probs = mlp_graph()
    path = tmp_path / "mlp.onnx"
    tf.onnx.export(sess, [logits, probs], {"x": x}, str(path), optimize=optimize)
    model = onnx.load(str(path))
    assert [i.name for i in model.graph.input] == ["x"]
    assert [o.name for o in model.graph.output] == ["logits", "probs"]
    assert {i.name for i in model.graph.initializer} >= {"w1", "b1", "w2"}
    for batch in (2, 7):
        feed = random(batch, 6, seed=batch)
        expect = sess.run([logits, probs], {x: feed})
        got = run_onnx(model, {"x": feed})
        for e, o in zip(expect, got):
            np.testing.assert_allclose(o, e, **TOL)


def test_variables_are_read_from_the_session():
    """The file holds the variables' values at export time, not their initial values."""
    sess, x, logits, _ = mlp_graph()
    w1 = next(v for v in sess.variables if v.name.startswith("w1"))
    sess.variables[w1] = sess.variables[w1] * 2
    feed = random(3, 6)
    got = run_onnx(tf.onnx.export(sess, logits, [x]), {"x": feed})[0]
    np.testing.assert_allclose(got, sess.run(logits, {x: feed}), **TOL)


def test_nhwc_cnn_from_a_session():
    """tf.nn's NHWC convolution and pooling ('SAME' and 'VALID') and a spatial mean."""
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 9, 9, 3], name="x")
        w = tf.Variable(random(3, 3, 3, 4, seed=11), name="w")
        b = tf.Variable(random(4, seed=12), name="b")
        h = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME"), b))
        h = tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
        h = tf.nn.avg_pool(h, [1, 2, 2, 1], [1, 1, 1, 1], "VALID")
        y = tf.reduce_mean(h, axis=[1, 2])
        sess = tf.Session(optimize=False)
        sess.run(tf.global_variables_initializer())
    model = tf.onnx.export(sess, y, [x])
    feed = random(4, 9, 9, 3, seed=13)
    np.testing.assert_allclose(run_onnx(model, {"x": feed})[0], sess.run(y, {x: feed}), **TOL)


# ---- PyTorch-style modules ----------------------------------------------------------------

class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 2, padding="same")    # the odd pad after: asymmetric
        self.conv3 = nn.Conv2d(8, 4, 3, stride=2, groups=4)
        self.fc = nn.Linear(4 * 2 * 2, 5)

    def forward(self, x):
        x = F.max_pool2d(torch.relu(self.bn(self.conv1(x))), 3, 2, padding=1, ceil_mode=True)
        x = F.avg_pool2d(torch.sigmoid(self.conv2(x)), 2, 1, padding=1, count_include_pad=False)
        return self.fc(torch.flatten(torch.tanh(self.conv3(x)), 1))


def test_cnn_module_with_a_dynamic_batch(tmp_path):
    torch.manual_seed(0)
    model = SmallCNN()
    model.bn.running_mean.copy_(torch.tensor(random(8, seed=4)))
    model.bn.running_var.copy_(torch.tensor(np.abs(random(8, seed=5)) + 0.5))
    model.train()
    path = tmp_path / "cnn.onnx"
    torch.onnx.export(model, (torch.tensor(random(2, 3, 9, 9)),), str(path),
                      input_names=["images"], output_names=["logits"],
                      dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}})
    assert model.training and model.bn.training, "the model's mode is given back"
    exported = onnx.load(str(path))
    assert exported.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert {"Conv", "MaxPool", "AveragePool", "Relu", "Gemm"} <= {
        n.op_type for n in exported.graph.node}
    model.eval()
    x = random(5, 3, 9, 9, seed=6)
    got = run_onnx(exported, {"images": x})[0]
    np.testing.assert_allclose(got, model(torch.tensor(x)).detach().numpy(), **TOL)


def test_transposed_convolution_decoder():
    """ConvTranspose2d (stride, padding, output padding): ONNX's ConvTranspose; the
    zero-filled size reference of the op is not written into the file."""
    torch.manual_seed(0)
    decoder = nn.Sequential(nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1),
                            nn.ReLU(), nn.ConvTranspose2d(3, 2, 2, stride=2, groups=1))
    x = random(2, 4, 5, 5, seed=14)
    model = torch.onnx.export(decoder, torch.tensor(x), None)
    assert [n.op_type for n in model.graph.node].count("ConvTranspose") == 2
    assert sum(np.prod(i.dims) for i in model.graph.initializer) < 200   # the weights only
    np.testing.assert_allclose(run_onnx(model, {"input": x})[0],
                               decoder(torch.tensor(x)).detach().numpy(), **TOL)


def test_discriminator_block_exports_leaky_relu():
    """A DCGAN discriminator block (LeakyReLU(0.2) in place, one op since session 21):
    ONNX's LeakyRelu, with the eager values."""
    torch.manual_seed(0)
    block = nn.Sequential(nn.Conv2d(3, 4, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True))
    x = random(2, 3, 8, 8, seed=15)
    model = torch.onnx.export(block, torch.tensor(x), None)
    assert "LeakyRelu" in [n.op_type for n in model.graph.node]
    np.testing.assert_allclose(run_onnx(model, {"input": x})[0],
                               block(torch.tensor(x)).detach().numpy(), **TOL)


class Block(nn.Module):
    """A pre-norm transformer block: self-attention and a GELU MLP, each with a residual."""

    def __init__(self, d=16, heads=4):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d, eps=0.1)   # eps shows
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


@pytest.mark.parametrize("opset", [13, 17, 20])
def test_transformer_block_matches_eager(opset):
    """Layer norm is LayerNormalization from opset 17 (before: mean and variance written
    out); GELU a Gelu node from opset 20 (before: written out with Erf)."""
    torch.manual_seed(0)
    block = Block()
    model = torch.onnx.export(block, torch.tensor(random(2, 5, 16)), None,
                              input_names=["tokens"], dynamic_axes={"tokens": [0]},
                              opset_version=opset)
    kinds = {n.op_type for n in model.graph.node}
    assert {"Softmax", "MatMul"} <= kinds
    assert ("LayerNormalization" in kinds) == (opset >= 17)
    assert ("Gelu" in kinds) == (opset >= 20) and ("Erf" in kinds) == (opset < 20)
    x = random(3, 5, 16, seed=7)
    got = run_onnx(model, {"tokens": x})[0]
    np.testing.assert_allclose(got, block(torch.tensor(x)).detach().numpy(), **TOL)


def test_transformer_encoder_layer_from_a_placeholder():
    """A library module applied to a TF1 placeholder builds a graph that exports too."""
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 32, dropout=0.0, activation="gelu",
                                       batch_first=True).eval()
    g = tf.Graph()
    with g.as_default():
        src = tf.placeholder(tf.float32, [None, 4, 8], name="src")
        out = layer(src)
        sess = tf.Session(optimize=False)
    buffer = io.BytesIO()
    tf.onnx.export(sess, {"encoded": out}, [src], buffer)
    x = random(3, 4, 8, seed=8)
    got = run_onnx(onnx.load_from_string(buffer.getvalue()), {"src": x})[0]
    np.testing.assert_allclose(got, sess.run(out, {src: x}), **TOL)


class TinyLM(nn.Module):
    """Token and position embeddings, causal attention, a triangle mask, logits."""

    def __init__(self, vocab=11, d=8, length=6):
        super().__init__()
        self.tokens, self.positions = nn.Embedding(vocab, d), nn.Embedding(length, d)
        self.qkv, self.head = nn.Linear(d, 3 * d), nn.Linear(d, vocab)

    def forward(self, ids):
        h = self.tokens(ids) + self.positions(torch.arange(ids.shape[1]))
        q, k, v = self.qkv(h).chunk(3, dim=-1)
        scores = torch.matmul(q, k.transpose(1, 2)) / 8 ** 0.5
        scores = scores.masked_fill(torch.triu(torch.ones_like(scores), 1) > 0, float("-inf"))
        return self.head(torch.matmul(torch.softmax(scores, dim=-1), v))


def test_embedding_and_causal_attention():
    torch.manual_seed(0)
    lm = TinyLM()
    ids = np.random.default_rng(15).integers(0, 11, (2, 6))
    model = torch.onnx.export(lm, torch.tensor(ids), None, input_names=["ids"],
                              dynamic_axes={"ids": {0: "batch"}})
    assert {"Gather", "Trilu", "Where"} <= {n.op_type for n in model.graph.node}
    ids = np.random.default_rng(16).integers(0, 11, (3, 6))
    np.testing.assert_allclose(run_onnx(model, {"ids": ids})[0],
                               lm(torch.tensor(ids)).detach().numpy(), **TOL)


class TwoCells(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm, self.gru = nn.LSTMCell(3, 5), nn.GRUCell(5, 4)

    def forward(self, x):
        h, c = self.lstm(x)
        return self.gru(h + c)


def test_lstm_and_gru_cells_export():
    """Each cell is one fused op in tinyflow and a handful of ONNX nodes."""
    torch.manual_seed(0)
    cells = TwoCells()
    model = torch.onnx.export(cells, torch.tensor(random(2, 3)), None, input_names=["x"],
                              dynamic_axes={"x": [0]})
    x = random(4, 3, seed=9)
    np.testing.assert_allclose(run_onnx(model, {"x": x})[0],
                               cells(torch.tensor(x)).detach().numpy(), **TOL)


@pytest.mark.parametrize("opset", [13, 18])
def test_indexing_reductions_and_where_export(opset):
    """A function (not a module) with slices, an index array, reductions, masks and concat
    (ReduceMax takes its axes as an attribute before opset 18, as an input from 18)."""
    def f(x):
        y = x[:, 1:5:2, None, -1] * 2.0 + x[..., ::3, [0, 2]].sum(-1, keepdim=True)
        m = torch.where(y > 0, y, torch.zeros_like(y)).mean(dim=2)
        return torch.cat([m, x.amax(dim=-1).flip(1)], dim=1), x.argmax(dim=1)

    x = random(2, 6, 4, seed=9)
    model = torch.onnx.export(f, torch.tensor(x), None, dynamic_axes={"input": {0: "n"}},
                              opset_version=opset)
    x = random(4, 6, 4, seed=10)
    expect = f(torch.tensor(x))
    got = run_onnx(model, {"input": x})
    np.testing.assert_allclose(got[0], expect[0].numpy(), **TOL)
    np.testing.assert_array_equal(got[1], expect[1].numpy())


# ---- errors and files ----------------------------------------------------------------------

def test_an_unsupported_op_names_the_op_and_the_node():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 4], name="x")
        order = torch.argsort(tf.nn.relu(x), dim=-1)
        sess = tf.Session()
    with pytest.raises(tf.onnx.UnsupportedOpError,
                       match=r"no ONNX conversion for op 'argsort' \(ArgSort\) at graph node "
                             r"argsort"):
        tf.onnx.export(sess, order, [x])


def test_a_needed_placeholder_missing_from_the_inputs_is_named():
    sess, x, logits, _ = mlp_graph()
    with pytest.raises(tf.FeedError, match="ONNX export: placeholder x.*list it in the inputs"):
        tf.onnx.export(sess, logits, [])


def test_the_file_is_replaced_atomically(tmp_path, monkeypatch):
    """Written to a temporary file that replaces the target: a failure keeps the old file
    and leaves no temporary behind."""
    sess, x, logits, _ = mlp_graph()
    path = tmp_path / "m.onnx"
    tf.onnx.export(sess, logits, [x], path)
    assert os.listdir(tmp_path) == ["m.onnx"]
    good = path.read_bytes()

    def fail(*args):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        tf.onnx.export(sess, logits, [x], path, opset=18)
    assert path.read_bytes() == good and os.listdir(tmp_path) == ["m.onnx"]


# ---- every op that exports, over the op table's samples -----------------------------------

def _table_params():
    supported = set(tf.onnx.supported_ops())
    return [pytest.param(case, k, id=f"{case.name}-{k}") for case in TABLE
            if case.registered_op in supported for k in range(len(case.samples))]


@pytest.mark.parametrize("case,index", _table_params())
def test_op_table_sample_exports(case, index):
    """Each op with a converter, on each op-table sample (float32), exported from a graph
    of placeholders and run by onnxruntime, gives the session's values."""
    rng = np.random.default_rng(index)
    sample = case.samples[index]
    arrays = [make_array(arg, tf.float32, rng) for arg in sample.args]
    g = tf.Graph()
    with g.as_default():
        phs = [tf.placeholder(tf.as_dtype(a.dtype), a.shape, name=f"in{k}")
               for k, a in enumerate(arrays)]
        outs = case.fn(*phs, **sample.kwargs)
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        sess = tf.Session(optimize=False)
        expect = sess.run(outs, dict(zip(phs, arrays)))
    model = tf.onnx.export(sess, outs, phs, output_names=[f"out{k}" for k in range(len(outs))])
    got = run_onnx(model, {f"in{k}": a for k, a in enumerate(arrays)})
    for o, e in zip(got, expect):   # within the op's float32 tolerance in the table
        assert o.dtype == e.dtype and o.shape == e.shape
        np.testing.assert_allclose(o, e, rtol=1e-5, atol=max(1e-6, case.atol))
