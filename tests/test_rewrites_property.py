"""Every graph rewrite preserves semantics: over random graphs built from the op registry
(tests/graph_strategies.py), the values, gradients and state after the run of the optimized
session (`tf.Session()`, the `passes.REWRITES` pipeline) equal those of the reference
(`tf.Session(optimize=False)`) to float32 tolerance, on two feed sets of different batch
sizes, with the eager parameters the graph reads changed between the runs.

A wrong rewrite is caught: `test_property_catches_a_wrong_rewrite` puts one in the pipeline.
"""
import numpy as np
import pytest
from hypothesis import Phase, given, note, settings

import tinyflow as tf
from tinyflow import passes
from tinyflow.core.op import OPS

from equivalence import assert_runs_agree, session_pair
from graph_strategies import KINDS, REGISTRY_OPS, random_graphs

FAST = settings(max_examples=60, deadline=None, derandomize=True, database=None)
SLOW = settings(max_examples=500, deadline=None, derandomize=True, database=None)


def assert_rewrites_preserve(g) -> None:
    """Run the drawn graph on each feed set in both sessions; they must agree."""
    note(g.listing)
    sessions = session_pair(g.graph)
    for k, feed in enumerate(g.feeds):
        assert_runs_agree(sessions, g.fetches + g.assigns, feed, f"feed set {k}",
                          g.variables, seed=k)
        g.between_runs()


@FAST
@given(random_graphs())
def test_rewrites_preserve_values_gradients_and_state(g):
    assert_rewrites_preserve(g)


@pytest.mark.slow
@SLOW
@given(random_graphs(max_ops=16))
def test_rewrites_preserve_semantics_on_larger_graphs(g):
    assert_rewrites_preserve(g)


def test_generator_builds_registry_ops_and_every_kind():
    """The generator is tied to the registry (a renamed op fails here, not silently) and
    reaches every kind, so the rewrites' patterns do occur in the drawn graphs."""
    assert set(REGISTRY_OPS) <= set(OPS), set(REGISTRY_OPS) - set(OPS)
    seen = set()

    @settings(max_examples=150, deadline=None, derandomize=True, database=None,
              phases=[Phase.generate])
    @given(random_graphs())
    def collect(g):
        seen.update(g.kinds)
    collect()
    assert seen == set(KINDS), f"never drawn: {set(KINDS) - seen}"


def _add_to_sub(program):
    """A wrong rewrite: the first add becomes a subtraction."""
    for n, step in enumerate(program.steps):
        if type(step.op) is OPS["add"]:
            steps = list(program.steps)
            steps[n] = step.replace(op=OPS["sub"]())
            return program.with_steps(steps, note=("add_to_sub", "1 add made a sub"))
    return program


def test_property_catches_a_wrong_rewrite(monkeypatch):
    """The harness can fail: with a wrong pass in the pipeline the property test fails."""
    monkeypatch.setattr(passes, "REWRITES", passes.REWRITES + [("add_to_sub", _add_to_sub)])

    @settings(max_examples=40, deadline=None, derandomize=True, database=None,
              phases=[Phase.generate])
    @given(random_graphs())
    def wrong(g):
        assert_rewrites_preserve(g)
    with pytest.raises(AssertionError, match="Not equal to tolerance"):
        wrong()


def test_lectures_example_agrees_with_the_reference_and_numpy():
    """E = D + (A + B) * C, its gradients, against the reference and NumPy."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((5, 3)).astype(np.float32) for _ in range(4)]
    graph = tf.Graph()
    with graph.as_default():
        a, b, c, d = (tf.placeholder(tf.float32, [None, 3]) for _ in range(4))
        e = d + (a + b) * c
        grads = tf.gradients(tf.reduce_sum(e * e), [a, c])
    feed = dict(zip((a, b, c, d), arrays))
    values = assert_runs_agree(session_pair(graph), [e] + grads, feed, "E = D + (A+B)*C")
    A, B, C, D = arrays
    np.testing.assert_allclose(values[0], D + (A + B) * C, rtol=1e-6)
    np.testing.assert_allclose(values[2], 2 * values[0] * (A + B), rtol=1e-5)
