"""Planned execution (pooled buffers, in place, out=, generated code) gives the same values
and gradients as the plain reference loop, for every entry of the op table, and never hands
out or keeps an array that a later run overwrites."""
import zlib

import numpy as np
import pytest

import tinyflow as tf
from op_table import TABLE, make_array


def _cases():
    params = []
    for case in TABLE:
        for index in range(len(case.samples)):
            params.append(pytest.param(case, index, id=f"{case.name}-{index}"))
    return params


def _arrays(case, index, salt):
    rng = np.random.default_rng(zlib.crc32(f"{case.name}-{index}-{salt}".encode()))
    dtype = case.dtypes[0]
    return [make_array(arg, dtype, rng) for arg in case.samples[index].args]


def _graph(case, index, arrays):
    """Placeholders, the case's outputs, and gradients of a weighted sum of them."""
    phs = [tf.placeholder(tf.as_dtype(a.dtype), a.shape) for a in arrays]
    out = case.fn(*phs, **case.samples[index].kwargs)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    fetches = [o for o in outs if o is not None]
    diff = [k for k, arg in enumerate(case.samples[index].args) if arg.diff]
    if case.grad and diff:
        floats = [o for o in fetches if o.dtype.is_floating]
        if floats:
            loss = tf.reduce_sum(floats[0] * floats[0])
            for o in floats[1:]:
                loss = loss + tf.reduce_sum(o * 2.0)
            grads = tf.gradients(loss, [phs[k] for k in diff])
            fetches += [g for g in grads if g is not None]
    return phs, fetches


@pytest.mark.parametrize("case,index", _cases())
def test_planned_matches_reference(case, index):
    a1, a2 = _arrays(case, index, "one"), _arrays(case, index, "two")
    graph = tf.Graph()
    with graph.as_default():
        phs, fetches = _graph(case, index, a1)
        if not fetches:
            return
        ref, planned = tf.Session(planned=False), tf.Session()
        want1 = [np.array(v) for v in ref.run(fetches, dict(zip(phs, a1)))]
        want2 = [np.array(v) for v in ref.run(fetches, dict(zip(phs, a2)))]
        stateful = any(getattr(f.op, "stateful", False) for f in fetches)
        got1 = planned.run(fetches, dict(zip(phs, a1)))
        kept = [np.array(v) for v in got1]
        got2 = planned.run(fetches, dict(zip(phs, a2)))
        got3 = planned.run(fetches, dict(zip(phs, a1)))
    tol = dict(rtol=1e-6, atol=1e-6)
    for k, (g1, g2, g3, k1) in enumerate(zip(got1, got2, got3, kept)):
        np.testing.assert_array_equal(g1, k1, err_msg=f"fetch {k} overwritten by a later run")
        if stateful:
            continue
        np.testing.assert_allclose(g1, want1[k], **tol, err_msg=f"fetch {k}, first run")
        np.testing.assert_allclose(g2, want2[k], **tol, err_msg=f"fetch {k}, second run")
        np.testing.assert_allclose(g3, want1[k], **tol, err_msg=f"fetch {k}, third run")
    for a, b in zip(a1, _arrays(case, index, "one")):
        np.testing.assert_array_equal(a, b, err_msg="a feed was written")
