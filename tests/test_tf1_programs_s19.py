"""What TF1 programs run in session 19 needed (TensorFlow-Examples' 2_BasicModels to
6_MultiGPU, run again with only their import lines changed). Each test pins TF1's documented
behaviour of one gap found there, in a few lines of our own."""
import pytest

import tinyflow as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()


# ---- TF 1.x's eager mode: refused at its switch, graph mode reported ----------------------

def test_executing_eagerly_is_false_in_tf1_graph_mode():
    # TF1 programs branch on it (graph mode unless eager execution was switched on)
    assert tf.executing_eagerly() is False
    assert tf.compat.v1.executing_eagerly() is False


@pytest.mark.parametrize("switch", ["enable_eager_execution", "enable_v2_behavior"])
def test_enabling_eager_mode_stops_the_program_with_a_clear_error(switch):
    # The eager-API tutorials begin with `tf.enable_eager_execution()` and then compute
    # values with tf.* ops: without eager mode each op would build a graph node instead, so
    # the program must stop at the switch and say why.
    with pytest.raises(NotImplementedError, match="eager"):
        getattr(tf, switch)()
