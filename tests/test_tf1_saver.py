"""tf.train.Saver as TF1 documents it: save(sess, path, global_step) writes `path-<step>` and
returns it; restore(sess, path) sets the variables; latest_checkpoint(dir) names the newest;
max_to_keep deletes older files. Errors name the file and the variable (TF1 raises
NotFoundError for a missing key, InvalidArgumentError on shape mismatch, ValueError for a
path that is not a checkpoint)."""
import os

import numpy as np
import pytest

import tinyflow as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()


def test_save_and_restore_round_trip(tmp_path):
    w = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3), name="w")
    step = tf.Variable(np.int32(7), name="step", trainable=False)
    saver = tf.train.Saver()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(tf.assign(w, w * 2.0))
        path = saver.save(sess, str(tmp_path / "model.ckpt"), global_step=step)
        assert path == str(tmp_path / "model.ckpt-7")
    assert tf.train.latest_checkpoint(str(tmp_path)) == path
    with tf.Session() as sess:
        saver.restore(sess, path)
        np.testing.assert_array_equal(sess.run(w), np.arange(6).reshape(2, 3) * 2)
        assert sess.run(step) == 7


def test_max_to_keep_deletes_older_files(tmp_path):
    tf.Variable(1.0, name="v")
    saver = tf.train.Saver(max_to_keep=2)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        paths = [saver.save(sess, str(tmp_path / "m"), global_step=i) for i in range(3)]
    assert not os.path.exists(paths[0]) and all(os.path.exists(p) for p in paths[1:])
    assert tf.train.latest_checkpoint(str(tmp_path)) == paths[-1]


def test_restore_errors_name_the_file_and_the_variable(tmp_path):
    v = tf.Variable(np.zeros(2, np.float32), name="v")
    with tf.Session() as sess:
        sess.run(v.initializer)
        path = tf.train.Saver().save(sess, str(tmp_path / "a.ckpt"))
    tf.reset_default_graph()
    tf.Variable(np.zeros(3, np.float32), name="v")
    with tf.Session() as sess, pytest.raises(ValueError, match=r"variable v has shape \(3,\) "
                                             r"but checkpoint .*a.ckpt holds shape \(2,\)"):
        tf.train.Saver().restore(sess, path)
    tf.reset_default_graph()
    tf.Variable(np.zeros(2, np.float32), name="u")
    with tf.Session() as sess, pytest.raises(KeyError, match=r"variable u not found in "
                                             r"checkpoint .*a.ckpt"):
        tf.train.Saver().restore(sess, path)
    with tf.Session() as sess, pytest.raises(ValueError, match="no checkpoint file at .*nope"):
        tf.train.Saver().restore(sess, str(tmp_path / "nope"))
    (tmp_path / "bad.ckpt").write_bytes(b"garbage")
    with tf.Session() as sess, pytest.raises(ValueError, match="bad.ckpt"):
        tf.train.Saver().restore(sess, str(tmp_path / "bad.ckpt"))
    with pytest.raises(TypeError, match="not a variable"):
        tf.train.Saver([tf.constant(1.0)])
