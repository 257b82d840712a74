"""What TF1 programs run in session 13 needed (tensorflow/examples' tutorials, Hvass-Labs'
TensorFlow-Tutorials): each test pins TF1's documented behaviour of one gap found there."""
import os

import numpy as np
import pytest
import torch

import tinyflow as tf
from tinyflow.contrib.tensorboard.plugins import projector


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield


def test_projector_config_is_written_as_tf1s_text_proto(tmp_path):
    """word2vec_basic's last step: TensorBoard's projector reads projector_config.pbtxt."""
    with tf.variable_scope("embeddings"):
        embeddings = tf.get_variable("table", [4, 2])
    writer = tf.summary.FileWriter(str(tmp_path))
    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = embeddings.name
    embedding.metadata_path = os.path.join("logs", 'say "hi".tsv')
    projector.visualize_embeddings(writer, config)
    writer.close()
    text = (tmp_path / "projector_config.pbtxt").read_text()
    assert text == ('embeddings {\n  tensor_name: "embeddings/table:0"\n'
                    '  metadata_path: "logs/say \\"hi\\".tsv"\n}\n')
    with pytest.raises(TypeError, match="ProjectorConfig"):
        projector.visualize_embeddings(writer, {"embeddings": []})


def test_compat_v1_is_the_tf1_namespace():
    """TF 1.13+ programs spell the same API tf.compat.v1 (word2vec_basic's Session)."""
    assert tf.compat.v1.Session is tf.Session and tf.compat.v1.placeholder is tf.placeholder
    with tf.compat.v1.Session() as sess:
        assert sess.run(tf.compat.v1.constant(2.0) * 3.0) == 6.0


def test_conv_and_pool_nodes_are_found_by_tf1_type_in_the_programs_layout():
    """Hvass-Labs 13B: `[op.name for op in graph.get_operations() if op.type == 'Conv2D']`,
    then `get_tensor_by_name(name + ':0')` is the convolution's output, NHWC, before bias."""
    x = tf.placeholder(tf.float32, [None, 6, 6, 1], name="x")
    h = tf.layers.conv2d(x, 3, 3, padding="same", activation=tf.nn.relu, name="layer_conv1")
    pooled = tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
    graph = tf.get_default_graph()
    convs = [op.name for op in graph.get_operations() if op.type == "Conv2D"]
    assert convs == ["layer_conv1/Conv2D"] and pooled.op.type == "MaxPool"
    conv = graph.get_tensor_by_name(convs[0] + ":0")
    kernel = graph.get_tensor_by_name("layer_conv1/kernel:0")
    image = np.random.default_rng(0).standard_normal((2, 6, 6, 1)).astype(np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got, w = sess.run([conv, kernel], {x: image})
    want = torch.nn.functional.conv2d(torch.from_numpy(image).permute(0, 3, 1, 2),
                                      torch.from_numpy(w).permute(3, 2, 0, 1), padding=1)
    np.testing.assert_allclose(got, want.permute(0, 2, 3, 1).numpy(), rtol=1e-5, atol=1e-5)


def test_compat_v1_imports_as_a_module_and_disables_v2_behavior():
    """Most TF 1.13+ programs begin `import tensorflow.compat.v1 as tf` and
    `tf.disable_v2_behavior()`."""
    import importlib
    v1 = importlib.import_module("tinyflow.compat.v1")
    assert v1 is tf and importlib.import_module("tinyflow.compat").v1 is tf
    v1.disable_v2_behavior()
    v1.disable_eager_execution()
    x = v1.placeholder(tf.float32, [None])
    with v1.Session() as sess:
        np.testing.assert_allclose(sess.run(x * 2.0, {x: [1.5]}), [3.0])
