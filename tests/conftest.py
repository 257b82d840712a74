import os
import pathlib

import pytest

try:
    from _pytest.nodeid import coerce_node_id
except ImportError:   # pytest < 9.2: xdist's own "@group" suffix works (see below)
    coerce_node_id = None

import tinyflow as tf
import tinyflow.passes

tinyflow.passes.VERIFY = True   # every plan's program is verified after each rewrite pass

# Numba's import (~0.6 s) is paid here, once per test process, rather than inside whichever
# test first runs a short-row kernel (tests are timed; the import is no test's cost).
from tinyflow.backend.numpy import rows
rows._loops()

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def fresh_graph():
    """Every test starts with an empty default graph and a fixed random seed."""
    tf.reset_default_graph()
    tf.manual_seed(0)
    yield
    from tinyflow.core import dtypes
    if dtypes.DEFAULT_FLOAT is not dtypes.float32:   # set_default_dtype left behind
        tf.set_default_dtype(tf.float32)             # (restored, so only this test fails)
        pytest.fail("the test left the default float dtype changed: restore it after use")


@pytest.fixture
def data_dir():
    """The real MNIST folder, or skip: tests never download."""
    path = os.environ.get("TINYFLOW_DATA_DIR") or str(SHARED / "datasets")
    if not os.path.isdir(os.path.join(path, "mnist")):
        pytest.skip("MNIST data not available (set TINYFLOW_DATA_DIR)")
    return path


# Groups that run longest, longest first: ranked from `pytest --durations` of the suite on
# 2026-12-07 (the 5 Ray modules ~280 s together on a quiet machine, the property test of larger
# graphs ~100 s). xdist's loadgroup hands out the groups with the most tests first, so a long
# group of few tests (test_rewrites_property: 5) started last and kept one worker busy after
# the other had finished. Groups not named here follow, most tests first, as xdist orders them.
LONG_GROUPS = ("ray", "test_rewrites_property", "test_ops", "test_conv", "test_numba_cache",
               "test_kernel_pool_default", "test_low_precision_ops", "test_conv_threads",
               "test_lstm_fused", "test_nn", "test_examples_sequence", "test_examples_vision",
               "test_functional")


def pytest_configure(config):
    """The controller hands out groups in collection order (ordered below), not by size."""
    if config.pluginmanager.hasplugin("xdist"):
        config.option.loadscopereorder = False


@pytest.hookimpl(tryfirst=True)   # before xdist's own hook, which reads the marks added here
def pytest_collection_modifyitems(config, items):
    """Under `pytest -n 2 --dist loadgroup` (make test), a module's tests stay in one worker
    process (module fixtures such as a trained example are built once), and every module on
    a local Ray runs in the same worker: two Ray clusters at once on two cores would starve
    each other's actors past their timeouts. The groups are ordered longest first (LONG_GROUPS)."""
    if not config.pluginmanager.hasplugin("xdist") or not getattr(config.option, "loadgroup",
                                                                    False):
        return
    ray_modules = {item.module for item in items
                   if "local_ray" in getattr(item, "fixturenames", ())}
    groups = {}
    for item in items:
        module = getattr(item, "module", None)
        group = "ray" if module in ray_modules else getattr(module, "__name__", item.nodeid)
        item.add_marker(pytest.mark.xdist_group(group))
        if coerce_node_id is not None:
            # pytest 9.2 derives nodeid from _id: xdist 3.8 writes its "@group" suffix to
            # _nodeid, which nothing reads, so every test was its own group (a module's
            # fixtures built in both workers, two Ray clusters at once). The suffix, here.
            item._id = coerce_node_id(f"{item.nodeid}@{group}")
        groups.setdefault(group, []).append(item)
    rank = {name: n for n, name in enumerate(LONG_GROUPS)}
    order = sorted(groups, key=lambda g: (rank.get(g, len(rank)), -len(groups[g])))
    items[:] = [item for group in order for item in groups[group]]


@pytest.fixture(scope="session")
def _ray_cluster():
    """One local Ray cluster (2 CPUs) for the whole session, started by the first module that
    asks for it: a start and stop cost ~10 s, and every Ray module runs in one worker (the
    "ray" group above), so they would otherwise pay it one after another. Its workers import
    this checkout of tinyflow and the test modules' actors and model factories from this
    folder. Every actor the tests start asks for 0 CPUs, so one a module leaves behind cannot
    starve the next module's; the module fixtures below still stop theirs."""
    import ray
    tests = os.path.dirname(os.path.abspath(__file__))
    env = {"OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([tests, str(REPO)])}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": env})
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def local_ray(_ray_cluster):
    """The session's local Ray cluster, asked for by a test module (an actor is stopped when
    its last handle goes, so a module's actors end with its fixtures)."""
    yield


@pytest.fixture(scope="module")
def actor_pool(local_ray):
    """Parameter-server actors reused by the tests of a module (tests/ps_pool.py)."""
    from ps_pool import ActorPool
    pool = ActorPool()
    yield pool
    pool.stop()
