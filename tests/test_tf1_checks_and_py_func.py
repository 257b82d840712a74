"""TF1's run-time checks and prints (tf.Assert, tf.debugging.assert_*, tf.Print, tf.print),
tf.case's checks, and tf.py_func / tf.numpy_function: in a Session on placeholders (with
control dependencies, as TF1 programs use them) and eagerly."""
import sys

import numpy as np
import pytest

import tinyflow as tf


def test_assert_under_control_dependencies_runs_before_the_read():
    x = tf.placeholder(tf.float32, [None])
    check = tf.Assert(tf.reduce_all(x > 0), ["x must be positive:", x], summarize=2)
    with tf.control_dependencies([check]):
        y = tf.identity(x) * 2
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {x: [1, 2]}), [2, 4])
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"assertion failed: \[x must be positive:\] \[1.0 -2.0...\]"):
            sess.run(y, {x: [1, -2, 3]})



def test_assert_on_constants_checks_when_run():
    """As TF1's: building the check raises nothing; running it does (tf.debugging's
    comparisons, below, check known values at once, as TF1's)."""
    fine = tf.Assert(tf.constant(True), ["fine"])
    wrong = tf.Assert(tf.constant(False), ["no", tf.constant(3)])
    x = tf.placeholder(tf.float32, [])
    with tf.control_dependencies([wrong]):
        guarded = x + 1.0
    with tf.Session() as sess:
        sess.run(fine)
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[no\] \[3\]"):
            sess.run(wrong)
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[no\] \[3\]"):
            sess.run(guarded, {x: 1.0})


@pytest.mark.parametrize("check, good, bad", [
    (tf.debugging.assert_equal, ([1, 2], [1, 2]), ([1, 2], [1, 3])),
    (tf.assert_less, ([1, 2], [2, 3]), ([1, 2], [2, 2])),
    (tf.debugging.assert_greater_equal, ([2, 2], [1, 2]), ([0, 2], [1, 2])),
    (tf.debugging.assert_none_equal, ([1, 2], [2, 1]), ([1, 2], [1, 1])),
])
def test_comparison_checks_hold_or_raise_when_run_and_eagerly(check, good, bad):
    a, b = tf.placeholder(tf.int32, [2]), tf.placeholder(tf.int32, [2])
    op = check(a, b, message="pair")
    with tf.Session() as sess:
        sess.run(op, {a: good[0], b: good[1]})
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=rf"pair: {check.__name__} failed: x =\] \[.*\] \[y =\]"):
            sess.run(op, {a: bad[0], b: bad[1]})
    assert check(tf.constant(good[0]), tf.constant(good[1])) is None
    with pytest.raises(tf.errors.InvalidArgumentError, match=check.__name__):
        check(tf.constant(bad[0]), tf.constant(bad[1]))


def test_sign_checks():
    x = tf.placeholder(tf.float32, [None])
    checks = [tf.debugging.assert_positive(x), tf.assert_non_negative(x),
              tf.debugging.assert_negative(-x), tf.assert_non_positive(-x)]
    with tf.Session() as sess:
        sess.run(checks, {x: [1.0, 2.0]})
        with pytest.raises(tf.errors.InvalidArgumentError, match="assert_positive failed"):
            sess.run(checks[0], {x: [1.0, 0.0]})
        sess.run(checks[1], {x: [1.0, 0.0]})


def test_print_passes_its_input_on_and_prints_once_per_run(capsys):
    x = tf.placeholder(tf.float32, [None])
    y = tf.Print(x * 2, [x, tf.reduce_sum(x)], message="x, sum: ", summarize=2)
    once = tf.Print(x, [x], message="first: ", first_n=1)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {x: [1, 2, 3]}), [2, 4, 6])
        sess.run(y, {x: [1, 2]})
        sess.run([once], {x: [5]})
        sess.run([once], {x: [6]})
    err = capsys.readouterr().err
    assert err == ("x, sum: [1.0 2.0...][6.0]\nx, sum: [1.0 2.0][3.0]\nfirst: [5.0]\n")
    grad, = tf.gradients(tf.reduce_sum(y), x)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(grad, {x: [1, 2]}), [2, 2])


def test_tf_print_is_an_op_in_a_graph_and_prints_at_once_eagerly(capsys):
    x = tf.placeholder(tf.int32, [None])
    op = tf.print("values:", x, "total", tf.reduce_sum(x), output_stream=sys.stdout)
    assert capsys.readouterr().out == ""
    with tf.Session() as sess:
        sess.run(op, {x: [1, 2]})
    tf.print("eager", tf.constant([[1, 2], [3, 4]]), sep="|", summarize=-1)
    captured = capsys.readouterr()
    assert captured.out == "values: [1 2] total 3\n"
    assert captured.err == "eager|[1 2 3 4]\n"


def test_case_without_default_raises_when_no_predicate_holds():
    x = tf.placeholder(tf.int32, [])
    r = tf.case([(tf.equal(x, 1), lambda: tf.constant(10)),
                 (tf.equal(x, 2), lambda: tf.constant(20))])
    exclusive = tf.case({x > 0: lambda: tf.constant(1), x > 1: lambda: tf.constant(2)},
                        default=lambda: tf.constant(0), exclusive=True)
    with tf.Session() as sess:
        assert sess.run(r, {x: 1}) == 10 and sess.run(r, {x: 2}) == 20
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"no predicate holds .* \(predicates \[False, False\]\)"):
            sess.run(r, {x: 3})
        assert sess.run(exclusive, {x: 1}) == 1 and sess.run(exclusive, {x: 0}) == 0
        with pytest.raises(tf.errors.InvalidArgumentError, match="exclusive=True"):
            sess.run(exclusive, {x: 2})
    with pytest.raises(tf.errors.InvalidArgumentError, match="no predicate holds"):
        tf.case([(tf.constant(False), lambda: tf.constant(1))])


def test_py_func_runs_once_per_run_and_gives_no_gradient():
    calls = []

    def sort_and_count(a, scale):
        calls.append(a.copy())
        return np.sort(a) * scale, np.int64(a.size)

    x = tf.placeholder(tf.float32, [None])
    y, n = tf.py_func(sort_and_count, [x, 2.0], [tf.float32, tf.int64])
    z = tf.numpy_function(lambda a: a + 1, [y], tf.float32)
    w = tf.Variable(1.0)
    loss = tf.reduce_sum(z * w)
    d_w, d_x = tf.gradients(loss, [w, x])
    assert d_x is None and y.dtype == tf.float32 and n.dtype == tf.int64
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run([y, n, z, d_w], {x: [3, 1, 2]})
        assert len(calls) == 1
        np.testing.assert_array_equal(got[0], [2, 4, 6])
        assert got[1] == 3 and got[3] == 15
        np.testing.assert_array_equal(sess.run(z, {x: [3, 1, 2, 5]}), [3, 5, 7, 11])
        assert len(calls) == 2
    y, n = tf.py_func(sort_and_count, [np.array([2.0, 1.0], np.float32), 2.0],
                      [tf.float32, tf.int64])
    assert y.kind == "eager" and y.tolist() == [2.0, 4.0] and int(n) == 2


def test_py_func_inside_a_loop_body_and_wrong_result_dtypes():
    calls = []

    def body(i, v):
        w = tf.py_func(lambda a: (calls.append(1), a * 2)[1], [v], tf.float32)
        w.set_shape([])
        return i + 1, w

    x = tf.placeholder(tf.float32, [])
    _, r = tf.while_loop(lambda i, v: i < 3, body, [0, x])
    bad = tf.py_func(lambda a: a, [x], tf.int32)
    with tf.Session() as sess:
        assert sess.run(r, {x: 1.0}) == 8.0 and len(calls) == 3
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match="py_func: result 0 of <lambda> is float32, but Tout says int32"):
            sess.run(bad, {x: 1.0})
