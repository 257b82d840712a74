"""Every op-table entry that runs in float32, run again in float16 and bfloat16: it either
matches its float32 reference (the same op on the same rounded inputs, in float32) within a
tolerance of the dtype, eagerly, in a Session and for its gradients, or it refuses with an
error naming the op and the dtype. No entry of its own: the table drives it (as OpInfo's
dtype variants).
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import tinyflow as tf

from op_table import TABLE, make_array
from test_ops import _as_list, _call, _diff, _dot, _eager, _placeholders, _rng, _session

LOW = (tf.float16, tf.bfloat16)
EPS = {tf.float16: 2.0 ** -10, tf.bfloat16: 2.0 ** -7}


def _params() -> list:
    return [pytest.param(case, index, dt, id=f"{case.name}-{index}-{dt.name}")
            for case in TABLE if tf.float32 in case.dtypes
            for index in range(len(case.samples)) for dt in LOW]


def _inputs(case, index, dt):
    """The sample's inputs in `dt` (fixed-dtype inputs as they are), and the same values in
    float32: the reference sees exactly the rounded inputs."""
    rng = _rng(case, index, "inputs")
    arrays = [make_array(arg, tf.float32, rng) for arg in case.samples[index].args]
    low = [a.astype(dt.np) if a.dtype == np.float32 else a for a in arrays]
    return low, [a.astype(np.float32) if a.dtype == dt.np else a for a in low]


def _close(got, want, dt, what: str, steps: int = 1) -> None:
    """Within a few roundings of `dt`, relative to each value and to the output's scale (a
    sum's error is relative to its terms, not to a result that cancels)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    finite = np.isfinite(want)
    scale = np.max(np.abs(want[finite]), initial=1.0)
    tol = 4 * steps * EPS[dt]
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale, err_msg=what)


def _refused(error: Exception, case, dt) -> bool:
    """A clear refusal: the op (or the function's) name and the dtype are in the message."""
    message = str(error)
    names = {case.name, case.registered_op or case.name, case.fn.__name__}
    return dt.name in message and any(re.search(rf"\b{re.escape(n)}\b", message)
                                       for n in names)


@pytest.mark.parametrize("case,index,dt", _params())
def test_low_precision_matches_float32(case, index, dt):
    kwargs = case.samples[index].kwargs
    low, ref = _inputs(case, index, dt)
    want = _call(case, index, _eager(ref))
    try:
        got = _call(case, index, _eager(low))
    except (tf.DTypeError, TypeError, NotImplementedError) as e:
        assert _refused(e, case, dt), f"unclear refusal: {e}"
        return
    for g, w in zip(got, want):
        expected = case.out_dtype(dt, kwargs) if w.dtype is tf.float32 else w.dtype
        assert g.dtype is expected, f"{g.dtype.name}, expected {expected.name}"
        assert g.shape == w.shape
        _close(g.numpy(), w.numpy(), dt, "eager")
    with _session() as sess:
        phs = _placeholders(low)
        values = sess.run(_call(case, index, phs), dict(zip(phs, low)))
    for v, g in zip(values, got):
        assert v.dtype == g.dtype.np and v.shape == g.shape
        _close(v, g.numpy(), dt, "Session.run against eager")
    if case.grad:
        _check_gradients(case, index, dt, low, ref, [w.numpy() for w in want])


def _check_gradients(case, index, dt, low, ref, outs) -> None:
    """backward() in `dt` gives gradients in the inputs' dtype, near float32's."""
    diff = [k for k in _diff(case, index) if low[k].dtype == dt.np]
    if not diff:
        return
    rng = _rng(case, index, "projection")
    weights = [rng.standard_normal(o.shape).astype(np.float32) for o in outs]
    grads = {}
    for arrays, w_dt in ((ref, np.float32), (low, dt.np)):
        tensors = _eager(arrays, diff)
        outputs = _as_list(_call(case, index, tensors))
        _dot(outputs, [w.astype(o.dtype.np) for w, o in zip(weights, outputs)]).backward()
        grads[w_dt] = [tensors[k].grad for k in diff]
    for k, g32, g in zip(diff, grads[np.float32], grads[dt.np]):
        if g32 is None:
            continue
        assert g is not None and g.dtype is dt, f"input {k}: {g and g.dtype.name}"
        _close(g.numpy(), g32.numpy(), dt, f"gradient of input {k}", steps=4)
