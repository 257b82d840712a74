import os
import pathlib

import pytest

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


def pytest_collection_modifyitems(config, items):
    """Under `pytest -n 2 --dist loadgroup` (make test), a module's tests stay in one worker
    process (module fixtures such as a trained example are built once), and every module on
    a local Ray runs in the same worker: two Ray clusters at once on two cores would starve
    each other's actors past their timeouts."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    ray_modules = {item.module for item in items
                   if "local_ray" in getattr(item, "fixturenames", ())}
    for item in items:
        module = getattr(item, "module", None)
        group = "ray" if module in ray_modules else getattr(module, "__name__", item.nodeid)
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray cluster for one test module (2 CPUs); its workers import this checkout
    of tinyflow and the test modules' actors and model factories from this folder."""
    import ray
    tests = os.path.dirname(os.path.abspath(__file__))
    env = {"OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([tests, str(REPO)])}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": env})
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def actor_pool(local_ray):
    """Parameter-server actors reused by the tests of a module (tests/ps_pool.py)."""
    from ps_pool import ActorPool
    return ActorPool()
