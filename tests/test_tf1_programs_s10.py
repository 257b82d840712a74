"""What other people's TF1 programs needed, round 10 (TensorFlow-Examples' helloworld and
tensorboard examples, the r1.x tutorials mnist_deep, mnist_with_summaries,
fully_connected_feed + mnist.py, word2vec_basic). Each test pins the documented TF1
behaviour the program relied on; PyTorch is the oracle where the maths is the same, and the
protobuf library reads the event files.
"""
import glob
import struct

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import tinyflow as tf
from tb_events import MESSAGES, parse_summary, read_events
from tinyflow.datasets.mnist import DataSet
from tinyflow.io.events import crc32c, masked_crc32c


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()


# ---- tf.string constants (helloworld) -------------------------------------------------------

def test_string_constants_run_to_bytes_as_tf1():
    hello = tf.constant("Hello, TensorFlow!")
    words = tf.constant([["a", "bc"]])
    assert hello.dtype is tf.string and hello.shape == () and words.shape == (1, 2)
    with tf.Session() as sess:
        assert sess.run(hello) == b"Hello, TensorFlow!"
        assert sess.run(words).tolist() == [[b"a", b"bc"]]
    assert "b'Hello, TensorFlow!'" in repr(hello)
    with pytest.raises(TypeError, match="tensors hold numbers"):
        tf.tensor([object()])       # arbitrary objects are still no tensors
    for make in (lambda: tf.from_numpy(np.array([1.5, 2], dtype=object)),
                 lambda: tf.zeros(3, dtype=tf.string)):
        with pytest.raises(TypeError, match="unsupported dtype object"):
            make()                  # an object array is no tf.string
    with pytest.raises(TypeError, match="cast: takes no tf.string"):
        tf.tensor([1, 2]).to(tf.string)
    with pytest.raises(TypeError, match="add: no arithmetic takes tf.string"):
        words + 1
    with pytest.raises(TypeError, match="'3.5' is text, not float32"):
        tf.constant("3.5", dtype=tf.float32)


# ---- tf.contrib beyond rnn is refused by name -----------------------------------------------

def test_unsupported_contrib_packages_are_named():
    with pytest.raises(ImportError, match=r"tf\.contrib\.factorization is not supported"):
        from tinyflow.contrib.factorization import KMeans  # noqa: F401
    with pytest.raises(AttributeError, match=r"tf\.contrib\.slim is not supported"):
        tf.contrib.slim
    assert tf.contrib.rnn.BasicLSTMCell is tf.nn.rnn_cell.BasicLSTMCell


# ---- name scopes, flags, app.run, op.run ----------------------------------------------------

def test_name_scope_prefixes_nodes_and_yields_the_scope_with_a_slash():
    with tf.name_scope("layer1") as scope:
        assert scope == "layer1/"
        w = tf.Variable(tf.zeros([2]), name="weights")
        with tf.name_scope("inner"):
            y = tf.multiply(w, 2.0, name="y")
    with tf.name_scope("layer1") as again:          # a second use gets a fresh scope
        assert again == "layer1_1/"
    with tf.name_scope(scope):                      # 'layer1/' re-enters it as is
        z = tf.add(w, 1.0, name="z")
    assert w.name == "layer1/weights:0" and y.name == "layer1/inner/y:0"
    assert z.name == "layer1/z:0"


def test_app_run_parses_defined_flags_and_exits_with_main():
    from tinyflow.symbolic.app import _Flags
    flags = _Flags()
    flags._define("learning_rate", 0.01, "", float)
    flags._define("fake_data", False, "", bool)
    rest = flags(["prog", "--learning_rate", "0.5", "--fake_data", "extra"])
    assert flags.learning_rate == 0.5 and flags.fake_data is True and rest == ["prog", "extra"]
    flags(["prog", "--nofake_data"])
    assert flags.fake_data is False
    flags(["prog", "--fake_data=true"])
    assert flags.fake_data is True
    with pytest.raises(AttributeError, match="no flag --missing"):
        flags.missing
    seen = []
    with pytest.raises(SystemExit) as stop:
        tf.app.run(main=lambda argv: seen.append(argv) or 3, argv=["prog", "left"])
    assert stop.value.code == 3 and seen == [["prog", "left"]]


def test_gfile_rename_and_copy_overwrite_only_when_asked(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("1")
    b.write_text("2")
    for move in (tf.gfile.Rename, tf.gfile.Copy):
        with pytest.raises(FileExistsError, match="pass overwrite=True"):
            move(str(a), str(b))
    tf.gfile.Copy(str(a), str(b), True)             # TF1: overwrite is the third argument
    assert b.read_text() == "1"
    b.write_text("2")
    tf.gfile.Rename(str(b), str(a), overwrite=True)
    assert a.read_text() == "2" and not b.exists()


def test_op_run_runs_a_train_op_in_the_default_session():
    v = tf.Variable(1.0)
    step = tf.assign_add(v, 2.0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert step.run() is None
        assert v.eval() == 3.0
    with pytest.raises(ValueError, match="no default session"):
        step.run()


# ---- event files ----------------------------------------------------------------------------

def test_crc32c_is_castagnolis():
    assert crc32c(b"123456789") == 0xE3069283      # the standard check value
    assert crc32c(b"") == 0


def test_file_writer_writes_checked_records_of_events(tmp_path):
    x = tf.placeholder(tf.float32, [None], name="x")
    with tf.name_scope("stats"):
        tf.summary.scalar("mean", tf.reduce_mean(x))
        tf.summary.histogram("values", x)
    merged = tf.summary.merge_all()
    with tf.Session() as sess:
        writer = tf.summary.FileWriter(str(tmp_path), sess.graph)
        for step in range(3):
            writer.add_summary(sess.run(merged, {x: [step, step + 1.0]}), step)
        writer.add_run_metadata(tf.RunMetadata(), "step2", 2)
        writer.close()
    [path] = glob.glob(str(tmp_path / "events.out.tfevents.*"))
    data, i = open(path, "rb").read(), 0
    while i < len(data):            # every record's length and data checksums hold
        (n,) = struct.unpack("<Q", data[i:i + 8])
        assert struct.unpack("<I", data[i + 8:i + 12])[0] == masked_crc32c(data[i:i + 8])
        body = data[i + 12:i + 12 + n]
        assert struct.unpack("<I", data[i + 12 + n:i + 16 + n])[0] == masked_crc32c(body)
        i += 16 + n
    events = read_events(path)
    assert events[0].file_version == "brain.Event:2"
    graph = MESSAGES["GraphDef"].FromString(events[1].graph_def)
    names = {node.name: node for node in graph.node}
    assert names["x"].op == "Placeholder" and names["stats/mean"].op == "ScalarSummary"
    summaries = [e for e in events if e.HasField("summary")]
    assert [e.step for e in summaries] == [0, 1, 2]
    assert [(v.tag, v.simple_value) for v in summaries[2].summary.value[:1]] == \
        [("stats/mean", 2.5)]
    assert summaries[2].summary.value[1].histo.num == 2


def test_merge_all_is_none_without_summaries_and_add_summary_checks_its_input(tmp_path):
    assert tf.summary.merge_all() is None
    writer = tf.summary.FileWriter(str(tmp_path))
    with pytest.raises(TypeError, match="serialized Summary"):
        writer.add_summary(1.5)
    eager = tf.summary.scalar("eager", tf.constant(2.0))
    writer.add_summary(eager, 7)     # an eager summary is its bytes already
    writer.close()
    event = read_events(glob.glob(str(tmp_path / "events.*"))[0])[-1]
    assert event.step == 7 and parse_summary(event.summary.SerializeToString()).value[0].tag \
        == "eager"


# ---- tf.losses ------------------------------------------------------------------------------

def _run(t, feed=None):
    with tf.Session() as sess:
        return sess.run(t, feed)


def test_losses_reduce_as_tf1s_sum_by_nonzero_weights():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 4)).astype(np.float32)
    labels = rng.integers(0, 4, 6)
    weights = np.array([1.0, 0.0, 2.0, 0.0, 1.0, 1.0], np.float32)
    per_example = F.cross_entropy(torch.tensor(logits), torch.tensor(labels),
                                  reduction="none").numpy()
    mean = tf.losses.sparse_softmax_cross_entropy(labels=tf.to_int64(labels), logits=logits)
    weighted = tf.losses.sparse_softmax_cross_entropy(labels, logits, weights=weights)
    np.testing.assert_allclose(_run(mean), per_example.mean(), rtol=1e-6)
    np.testing.assert_allclose(_run(weighted), (per_example * weights).sum() / 4, rtol=1e-6)
    assert tf.losses.get_losses() == [mean, weighted]
    np.testing.assert_allclose(_run(tf.losses.get_total_loss()),
                               per_example.mean() + (per_example * weights).sum() / 4,
                               rtol=1e-6)
    onehot = np.eye(4, dtype=np.float32)[labels]
    np.testing.assert_allclose(
        _run(tf.losses.softmax_cross_entropy(onehot, logits, label_smoothing=0.1)),
        F.cross_entropy(torch.tensor(logits), torch.tensor(labels), label_smoothing=0.1),
        rtol=1e-6)
    targets = (rng.random((6, 4)) > 0.5).astype(np.float32)
    np.testing.assert_allclose(
        _run(tf.losses.sigmoid_cross_entropy(targets, logits)),
        F.binary_cross_entropy_with_logits(torch.tensor(logits), torch.tensor(targets)),
        rtol=1e-6)
    np.testing.assert_allclose(_run(tf.losses.mean_squared_error(targets, logits)),
                               F.mse_loss(torch.tensor(logits), torch.tensor(targets)),
                               rtol=1e-6)
    np.testing.assert_allclose(_run(tf.losses.absolute_difference(targets, logits,
                                                                  weights=0.0)), 0.0)


@pytest.mark.parametrize("weights, expected", [
    ([[2.0, 0.0, 2.0]], {"NONE": [[2, 0, 18]], "SUM": 20, "MEAN": 5,
                         "SUM_OVER_BATCH_SIZE": 20 / 3, "SUM_BY_NONZERO_WEIGHTS": 10}),
    (2.0, {"NONE": [2, 8, 18], "SUM": 28, "MEAN": 14 / 3, "SUM_OVER_BATCH_SIZE": 28 / 3,
           "SUM_BY_NONZERO_WEIGHTS": 28 / 3}),
    ([0.0, 0.0, 0.0], {"SUM": 0, "MEAN": 0, "SUM_BY_NONZERO_WEIGHTS": 0}),
])
def test_losses_reduction_as_tf1(weights, expected):
    """tf.losses.Reduction on squared errors [1, 4, 9] (TF1's compute_weighted_loss)."""
    for key, value in expected.items():
        loss = tf.losses.mean_squared_error([0.0, 0.0, 0.0], [1.0, 2.0, 3.0], weights=weights,
                                            reduction=getattr(tf.losses.Reduction, key))
        np.testing.assert_allclose(_run(loss), value, rtol=1e-6, err_msg=key)
    with pytest.raises(ValueError, match="reduction='mean' is not one of tf.losses.Reduction"):
        tf.losses.mean_squared_error([0.0], [1.0], reduction="mean")


# ---- tf.nn.in_top_k, l2_normalize, embedding_lookup ----------------------------------------

def test_in_top_k_counts_boundary_ties_as_in_and_bad_targets_as_out():
    predictions = np.array([[0.1, 0.9, 0.5, 0.5],
                            [0.3, 0.3, 0.3, 0.1],
                            [0.2, np.inf, 0.4, 0.1],
                            [0.7, 0.1, 0.2, 0.0]], np.float32)
    targets = np.array([2, 0, 1, 7], np.int32)
    got = _run(tf.nn.in_top_k(predictions, targets, 2))
    # row 0: 0.5 ties 0.5 at the boundary (one larger) -> in; row 1: nothing larger -> in;
    # row 2: an infinite target prediction -> out; row 3: target out of range -> out
    np.testing.assert_array_equal(got, [True, True, False, False])
    p = torch.tensor(predictions[:2])
    top1 = p.topk(1).indices[:, 0].numpy()
    np.testing.assert_array_equal(_run(tf.nn.in_top_k(predictions[:2], top1, 1)), [True] * 2)


def test_l2_normalize_and_embedding_lookup_as_torch():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 5)).astype(np.float32)
    np.testing.assert_allclose(_run(tf.nn.l2_normalize(x, 1)),
                               F.normalize(torch.tensor(x), dim=1), rtol=1e-6)
    np.testing.assert_allclose(_run(tf.nn.l2_normalize(x, dim=0)),
                               F.normalize(torch.tensor(x), dim=0), rtol=1e-6)
    table = tf.Variable(x)
    ids = np.array([2, 0, 2])
    rows = tf.nn.embedding_lookup(table, ids)
    grad = tf.gradients(tf.reduce_sum(rows * rows), table)[0]
    weight = torch.tensor(x, requires_grad=True)
    torch_rows = F.embedding(torch.tensor(ids), weight)
    (torch_rows * torch_rows).sum().backward()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got_rows, got_grad = sess.run([rows, grad])
    np.testing.assert_allclose(got_rows, torch_rows.detach())
    np.testing.assert_allclose(got_grad, weight.grad, rtol=1e-6)
    with pytest.raises(NotImplementedError, match="shards is not supported"):
        tf.nn.embedding_lookup([table, table], ids)


# ---- nce_loss and its sampler (word2vec) ----------------------------------------------------

def _nce_reference(w, b, labels, x, sampled, true_expected, sampled_expected):
    """TF1's nce_loss, written from its documentation in NumPy (float64)."""
    true_logits = np.einsum("bd,btd->bt", x, w[labels]) + b[labels] - np.log(true_expected)
    sampled_logits = x @ w[sampled].T + b[sampled] - np.log(sampled_expected)
    logits = np.concatenate([true_logits, sampled_logits], 1)
    targets = np.concatenate([np.full_like(true_logits, 1 / labels.shape[1]),
                              np.zeros_like(sampled_logits)], 1)
    losses = np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits)))
    return losses.sum(1)


def test_nce_loss_matches_its_formula_and_finite_differences():
    rng = np.random.default_rng(2)
    classes, dim, batch = 7, 3, 4
    w0, b0 = rng.normal(size=(classes, dim)), rng.normal(size=classes)
    x0, labels = rng.normal(size=(batch, dim)), rng.integers(0, classes, (batch, 2))
    sampled = np.array([5, 1, 3])
    true_expected = rng.uniform(0.1, 1, (batch, 2))
    sampled_expected = rng.uniform(0.1, 1, 3)
    w, b, x = (tf.placeholder(tf.float64, a.shape) for a in (w0, b0, x0))
    loss = tf.nn.nce_loss(w, b, labels, x, num_sampled=3, num_classes=classes, num_true=2,
                          sampled_values=(sampled, true_expected, sampled_expected))
    total = tf.reduce_sum(loss)
    grads = tf.gradients(total, [w, x])
    feed = {w: w0, b: b0, x: x0}
    eps = 1e-6
    with tf.Session() as sess:
        got, (gw, gx) = sess.run([loss, grads], feed)
        for _ in range(2):     # central differences along random directions of (w, x)
            dw, dx = rng.normal(size=w0.shape), rng.normal(size=x0.shape)
            up = sess.run(total, {w: w0 + eps * dw, b: b0, x: x0 + eps * dx})
            down = sess.run(total, {w: w0 - eps * dw, b: b0, x: x0 - eps * dx})
            np.testing.assert_allclose((up - down) / (2 * eps),
                                       (gw * dw).sum() + (gx * dx).sum(), rtol=1e-6)
    np.testing.assert_allclose(got, _nce_reference(w0, b0, labels, x0, sampled, true_expected,
                                                   sampled_expected), rtol=1e-12)


def test_log_uniform_sampler_expected_counts_follow_tf1s_rule():
    sampled, true_expected, sampled_expected = tf.nn.log_uniform_candidate_sampler(
        np.array([[0], [9]]), 1, 4, True, 10)
    draws = sampled.inputs[0]      # the sampler op's output: the ids, then the draws taken
    with tf.Session() as sess:
        d, s, t, se = sess.run([draws, sampled, true_expected, sampled_expected])
    tries = d[-1]
    np.testing.assert_array_equal(d[:4], s)
    assert len(set(s.tolist())) == 4 and tries >= 4 and s.min() >= 0 and s.max() < 10
    p = lambda k: np.log((k + 2.0) / (k + 1.0)) / np.log(11.0)  # noqa: E731
    expect = (lambda q: q * 4) if tries == 4 else (lambda q: -np.expm1(tries * np.log1p(-q)))
    np.testing.assert_allclose(t[:, 0], expect(p(np.array([0, 9]))), rtol=1e-5)
    np.testing.assert_allclose(se, expect(p(s)), rtol=1e-5)


# ---- MNIST next_batch takes TF1's positional fake_data --------------------------------------

def test_next_batch_second_argument_is_fake_data_as_tf1():
    images = np.arange(10, dtype=np.float32)[:, None]
    a, b = DataSet(images, np.arange(10), seed=4), DataSet(images, np.arange(10), seed=4)
    np.testing.assert_array_equal(a.next_batch(5, False)[1], b.next_batch(5)[1])
    with pytest.raises(ValueError, match="fake_data=True"):
        a.next_batch(5, True)


# ---- variable scopes and tf.layers (dcgan, the tf.layers examples) ---------------------------

def test_variable_scope_names_and_reuses_layer_variables():
    def disc(x, reuse=False):
        with tf.variable_scope("D", reuse=reuse):
            return tf.layers.dense(tf.layers.dense(x, 3), 2)
    x = tf.placeholder(tf.float32, [None, 4])
    disc(x)
    disc(x * 2.0, reuse=True)                    # the same names again: shared
    names = [v.name for v in tf.trainable_variables()]
    assert names == ["D/dense/kernel:0", "D/dense/bias:0", "D/dense_1/kernel:0",
                     "D/dense_1/bias:0"]
    assert [v.name for v in tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES,
                                              scope="D/dense_1")] == names[2:]
    with pytest.raises(ValueError, match="exists already; to share it, open its variable_scope"):
        disc(x)
    with tf.variable_scope("E", reuse=True), pytest.raises(ValueError, match="made no E/w"):
        tf.get_variable("w", [2])
    with tf.variable_scope("F", reuse=tf.AUTO_REUSE):
        a = tf.get_variable("w", [2], initializer=tf.constant_initializer(3.0))
    with tf.variable_scope("F", reuse=tf.AUTO_REUSE):
        assert tf.get_variable("w", [2]) is a
    with tf.variable_scope("F", reuse=True), pytest.raises(ValueError, match="shape"):
        tf.get_variable("w", [3])
    inner = []
    for _ in range(2):                              # AUTO_REUSE outlives an inner False
        with tf.variable_scope("F", reuse=tf.AUTO_REUSE), tf.variable_scope("in", reuse=False):
            inner.append(tf.get_variable("v", [2]))
    assert inner[0] is inner[1]
    with tf.variable_scope("G", initializer=tf.ones_initializer()) as captured:
        b = tf.get_variable("b", [2])
    captured.reuse_variables()
    with tf.variable_scope(captured):               # the object brings reuse, initializer
        assert tf.get_variable("b", [2]) is b
    with tf.variable_scope(captured, reuse=tf.AUTO_REUSE):
        c = tf.get_variable("c", [2])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(a), [3.0, 3.0])
        np.testing.assert_array_equal(sess.run(c), [1.0, 1.0])


def test_glorot_uniform_bounds_count_the_receptive_field():
    with tf.variable_scope("g"):
        k = tf.get_variable("k", [5, 5, 3, 8])      # fans 75 and 200
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        values = sess.run(k)
    limit = np.sqrt(6.0 / (75 + 200))
    assert np.abs(values).max() <= limit and np.abs(values).max() > 0.9 * limit


def test_layers_compute_as_torch():
    rng = np.random.default_rng(3)
    x0 = rng.normal(size=(2, 6, 6, 3)).astype(np.float32)
    x = tf.constant(x0)
    conv = tf.layers.conv2d(x, 4, 3, strides=2, padding="same", activation=tf.nn.relu)
    up = tf.layers.conv2d_transpose(x, 2, 4, strides=2)          # valid: 6 * 2 + 2 = 14
    up_same = tf.layers.conv2d_transpose(x, 2, 3, strides=2, padding="same")
    pooled = tf.layers.max_pooling2d(x, 2, 2)
    averaged = tf.layers.average_pooling2d(x, 3, 3)
    dense = tf.layers.dense(x, 5)                                # over the last axis
    ragged = tf.placeholder(tf.float32, [None, None, 6, 3])
    dense_ragged = tf.layers.dense(ragged, 5, reuse=True, name="dense")  # two unknown dims
    assert up.shape == (2, 14, 14, 2) and up_same.shape == (2, 12, 12, 2)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run([conv, up, pooled, averaged, dense])
        np.testing.assert_allclose(sess.run(dense_ragged, {ragged: x0}), got[4], rtol=1e-6)
        variables = {v.name: sess.run(v) for v in tf.global_variables()}
    t = torch.tensor(x0).permute(0, 3, 1, 2)

    def nhwc(y):
        return y.permute(0, 2, 3, 1).numpy()
    kernel = torch.tensor(variables["conv2d/kernel:0"]).permute(3, 2, 0, 1)
    ref = F.relu(F.conv2d(F.pad(t, (0, 1, 0, 1)), kernel, stride=2))   # TF SAME: odd pad after
    np.testing.assert_allclose(got[0], nhwc(ref), rtol=1e-5, atol=1e-6)
    kernel = torch.tensor(variables["conv2d_transpose/kernel:0"]).permute(3, 2, 0, 1)
    np.testing.assert_allclose(got[1], nhwc(F.conv_transpose2d(t, kernel, stride=2)),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[2], nhwc(F.max_pool2d(t, 2)))
    np.testing.assert_allclose(got[3], nhwc(F.avg_pool2d(t, 3)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[4], x0 @ variables["dense/kernel:0"], rtol=1e-5, atol=1e-6)


def test_layers_dropout_follows_training():
    x = tf.ones([200, 50])
    keep = tf.layers.dropout(x, rate=0.5, training=False)
    drop = tf.layers.dropout(x, rate=0.5, training=True)
    training = tf.placeholder(tf.bool, [])
    either = tf.layers.dropout(x, rate=0.5, training=training)
    with tf.Session() as sess:
        assert keep is x
        values = sess.run(drop)
        assert set(np.unique(values)) == {0.0, 2.0} and 0.45 < (values == 0).mean() < 0.55
        assert (sess.run(either, {training: False}) == 1.0).all()
        assert (sess.run(either, {training: True}) == 0.0).any()


# ---- tf.data ---------------------------------------------------------------------------------

def test_dataset_iterator_feeds_the_graph_element_by_element():
    x0 = np.arange(12, dtype=np.float32).reshape(6, 2)
    y0 = np.arange(6)
    dataset = (tf.data.Dataset.from_tensor_slices((x0, y0))
               .map(lambda a, b: (a * 2.0, b)).batch(2, drop_remainder=True).prefetch(1))
    iterator = dataset.make_initializable_iterator()
    x, y = iterator.get_next()
    assert x.shape == (None, 2) and y.dtype is tf.int64
    total = tf.reduce_sum(x)
    with tf.Session() as sess:
        sess.run(iterator.initializer)
        got = [sess.run([x, y]) for _ in range(2)]    # each run one batch, x and y paired
        np.testing.assert_array_equal(got[0][0], x0[:2] * 2)
        np.testing.assert_array_equal(got[1][1], y0[2:4])
        assert sess.run(total) == (x0[4:] * 2).sum()  # a new plan's first run skips nothing
        with pytest.raises(tf.errors.OutOfRangeError):
            sess.run(x)
        sess.run(iterator.initializer)                # starts over
        np.testing.assert_array_equal(sess.run(y), y0[:2])


def test_dataset_repeat_shuffle_and_partial_batches():
    shuffled = tf.data.Dataset.range(10).shuffle(4, seed=0).repeat(2)
    values = [int(v) for v in shuffled._make()]
    assert sorted(values) == sorted(list(range(10)) * 2) and values[:10] != list(range(10))
    assert all(v < 4 + i for i, v in enumerate(values[:10]))   # a buffer of 4 at each step
    iterator = tf.data.Dataset.from_tensor_slices(np.arange(5.0)).batch(2) \
        .make_one_shot_iterator()
    x = iterator.get_next()
    assert x.dtype is tf.float64     # TF1 keeps a NumPy array's dtype; Python lists: float32
    assert tf.data.Dataset.from_tensor_slices([1.0]).make_one_shot_iterator().get_next() \
        .dtype is tf.float32
    with tf.Session() as sess:       # the short last batch gets a plan of its own
        got = [sess.run(x * 2.0) for _ in range(3)]
    assert [g.tolist() for g in got] == [[0, 2], [4, 6], [8]]


def test_dataset_components_of_one_run_come_from_one_element():
    xs, ys = np.arange(6, dtype=np.float32), np.arange(6) * 10
    x, y = tf.data.Dataset.from_tensor_slices((xs, ys)).make_one_shot_iterator().get_next()
    with tf.Session() as sess:       # TF1: each run takes one element, whatever it fetches
        assert sess.run(x) == 0.0 and sess.run(y) == 10
        assert sess.run([y, x]) == [20, 2.0] and sess.run([x, y]) == [3.0, 30]
        assert sess.run(x + tf.cast(y, tf.float32)) == 44.0


def test_whole_float_feeds_to_integer_placeholders_are_taken_others_refused():
    labels = tf.placeholder(tf.int32, [None])
    doubled = labels * 2
    with tf.Session() as sess:
        got = sess.run(doubled, {labels: np.concatenate([np.ones(2), np.zeros(1)])})
        assert got.dtype == np.int32 and got.tolist() == [2, 2, 0]
        for bad in ([1.5], [np.nan], [3e9], [2.0 ** 31]):
            with pytest.raises(tf.FeedError, match="dtype float64 to Placeholder"):
                sess.run(doubled, {labels: bad})
        wide = tf.placeholder(tf.int64, [None])
        assert sess.run(wide, {wide: [-2.0 ** 63]}).tolist() == [-2 ** 63]
        with pytest.raises(tf.FeedError, match="dtype float64"):
            sess.run(wide, {wide: [2.0 ** 63]})      # rounds to int64's max + 1: would wrap


# ---- tf.metrics, the global step and tf.estimator (the tf.layers estimator examples) --------

def test_streaming_accuracy_accumulates_in_local_variables():
    labels = tf.placeholder(tf.int64, [None])
    predictions = tf.placeholder(tf.int64, [None])
    accuracy, update = tf.metrics.accuracy(labels=labels, predictions=predictions)
    assert tf.global_variables() == [] and len(tf.local_variables()) == 2
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        assert sess.run(update, {labels: [1, 2, 3], predictions: [1, 0, 3]}) == \
            pytest.approx(2 / 3)
        sess.run(update, {labels: [4], predictions: [0]})
        assert sess.run(accuracy) == pytest.approx(2 / 4)
        sess.run(tf.local_variables_initializer())
        assert sess.run(accuracy) == 0.0


def _linear_model_fn(features, labels, mode):
    logits = tf.layers.dense(features["x"], 2)
    predictions = tf.argmax(logits, 1)
    if mode == tf.estimator.ModeKeys.PREDICT:
        return tf.estimator.EstimatorSpec(mode, predictions=predictions)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        logits=logits, labels=tf.cast(labels, tf.int32)))
    train_op = tf.train.GradientDescentOptimizer(0.5).minimize(
        loss, global_step=tf.train.get_global_step())
    return tf.estimator.EstimatorSpec(
        mode, predictions=predictions, loss=loss, train_op=train_op,
        eval_metric_ops={"accuracy": tf.metrics.accuracy(labels, predictions)})


def test_estimator_trains_evaluates_and_predicts_through_checkpoints(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = tf.estimator.Estimator(_linear_model_fn, model_dir=str(tmp_path))
    train = tf.estimator.inputs.numpy_input_fn({"x": x}, y, batch_size=8, num_epochs=None,
                                               shuffle=True)
    evaluate = tf.estimator.inputs.numpy_input_fn({"x": x}, y, batch_size=16, shuffle=False)
    model.train(train, steps=30)
    result = model.evaluate(evaluate)
    assert result["global_step"] == 30 and result["accuracy"] > 0.9
    predicted = np.array(list(model.predict(evaluate)))
    assert predicted.shape == (40,) and (predicted == y).mean() == pytest.approx(
        result["accuracy"])
    model.train(train, steps=5)                          # resumes from the checkpoint
    assert model.evaluate(evaluate, steps=1)["global_step"] == 35
    with pytest.raises(ValueError, match="shuffle must be given"):
        tf.estimator.inputs.numpy_input_fn({"x": x}, y)


def test_random_ops_take_a_shape_known_only_when_run():
    """The VAE example draws eps with tf.random_normal(tf.shape(z_std)): the shape is read at
    each run; tf.shape(x) keeps x's known dims while building."""
    x = tf.placeholder(tf.float32, [None, 2])
    eps = tf.random_normal(tf.shape(x))
    cut = tf.truncated_normal(tf.shape(x), stddev=0.5)
    uniform = tf.random_uniform([tf.shape(x)[0], 3], -1.0, 1.0)
    assert eps.shape == (None, 2) and uniform.shape == (None, 3)
    with tf.Session() as sess:
        for rows in (4, 7):
            a, b, c = sess.run([eps, cut, uniform], {x: np.zeros((rows, 2))})
            assert a.shape == b.shape == (rows, 2) and c.shape == (rows, 3)
            assert np.abs(b).max() <= 1.0 and -1.0 <= c.min() and c.max() < 1.0
    with pytest.raises(ValueError, match="1-D integer tensor"):
        tf.random_normal(tf.constant(2.0) * tf.ones([2]))
