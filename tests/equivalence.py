"""Running one graph in the reference session (`optimize=False`) and the optimized one, and
asserting that they agree: the check the rewrite tests share."""
from __future__ import annotations

import numpy as np

import tinyflow as tf

# float32 tolerance; ATOL scales with the largest reference value. RTOL is 2e-4, not 1e-4:
# stable_softmax turns log(softmax(x)) into log_softmax(x), and the reference's gradient
# through a rounded small probability (g / p, then softmax's backward cancelling) differs
# from log_softmax's by up to ~2e-4 relative in float32; the reference is the less exact side
# (a drawn graph of session 8: 3.2e-5 on 0.1547, found once the registry's new op shifted the
# derandomized draws; it passes with the rewrite skipped).
RTOL, ATOL = 2e-4, 1e-5


def assert_same(want, got, what: str) -> None:
    """`got` equals `want` to float32 tolerance: same shape and dtype, NaN and inf at the same
    places, the rest within RTOL plus ATOL times the reference's largest finite magnitude
    (rounding errors of sums grow with the terms, not with the result)."""
    want, got = np.asarray(want), np.asarray(got)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, reference {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, reference {want.dtype}"
    if not np.issubdtype(want.dtype, np.inexact):
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    finite = np.abs(want[np.isfinite(want)])
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL * scale, equal_nan=True,
                               err_msg=what)


def assert_all_same(want: list, got: list, what: str) -> None:
    assert len(got) == len(want), f"{what}: {len(got)} values, reference {len(want)}"
    for k, (w, g) in enumerate(zip(want, got)):
        assert_same(w, g, f"{what}, value {k}")


def session_pair(graph, seed: int = 0) -> dict:
    """The reference and the optimized session of `graph`, variables initialized alike."""
    with graph.as_default():
        init = tf.global_variables_initializer()
    sessions = {"reference": tf.Session(graph=graph, optimize=False),
                "optimized": tf.Session(graph=graph)}
    for sess in sessions.values():
        tf.manual_seed(seed)
        sess.run(init)
    return sessions


def run_pair(sessions: dict, fetches: list, feed: dict, seed: int = 0) -> dict:
    """Each session's values of `fetches`, random draws seeded alike."""
    out = {}
    for name, sess in sessions.items():
        tf.manual_seed(seed)
        out[name] = [np.array(v) for v in sess.run(fetches, feed)]
    return out


def assert_runs_agree(sessions: dict, fetches: list, feed: dict, what: str,
                      variables: list = (), seed: int = 0) -> list:
    """Run `fetches` in both sessions and assert they agree, then that `variables` (state an
    assign in the run may have changed) agree; returns the reference's values."""
    values = run_pair(sessions, list(fetches), feed, seed)
    assert_all_same(values["reference"], values["optimized"], what)
    if variables:
        state = run_pair(sessions, list(variables), {}, seed)
        assert_all_same(state["reference"], state["optimized"], f"{what}: variables after")
    return values["reference"]
