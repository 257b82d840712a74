"""Every op of the registry, through the op table's first sample of each case: outputs and
gradients are the same in the optimized session as in the reference (`optimize=False`), on
two sets of inputs. The random graphs of test_rewrites_property.py combine a subset of the
ops; this sweep reaches each op once, the rare ones (pooling, LSTM, einsum, ...) too."""
import pytest

import tinyflow as tf
from op_table import TABLE
from test_runtime_plan import _arrays, _graph

from equivalence import assert_runs_agree, session_pair


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in TABLE])
def test_op_optimized_matches_reference(case):
    first, second = _arrays(case, 0, "one"), _arrays(case, 0, "two")
    graph = tf.Graph()
    with graph.as_default():
        phs, fetches = _graph(case, 0, first)
    if not fetches:
        return
    sessions = session_pair(graph)
    for k, arrays in enumerate((first, second)):
        assert_runs_agree(sessions, fetches, dict(zip(phs, arrays)), f"{case.name}, inputs {k}",
                          seed=k)
