"""What TF1 programs run in session 13 needed (tensorflow/examples' tutorials, Hvass-Labs'
TensorFlow-Tutorials): each test pins TF1's documented behaviour of one gap found there."""
import os

import pytest

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
