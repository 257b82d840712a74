"""A process with a warm Numba cache loads tinyflow's cached kernels without Numba's
compiler registries (backend/numpy/_numba.py: a warm compiled step's first call skips their
refresh) and without parsing their linking bitcode, the kernels it loads compute what they
did when compiled, and a function compiled later can link them."""
from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# the module by its path: the probe need not import all of tinyflow
KERNEL = """
import importlib.util, os
spec = importlib.util.spec_from_file_location("tinyflow_numba", os.environ["NUMBA_MODULE"])
loading = importlib.util.module_from_spec(spec)
spec.loader.exec_module(loading)
numba = loading.numba


@numba.njit(cache=True)
def scaled_total(x, a):
    total = 0.0
    for v in x:
        total += a * v
    return total
"""

PROBE = """
import json, sys
import numpy as np
import kernel_module
x = np.arange(10.0)
out = {"total": kernel_module.scaled_total(x, 2.0),
       "registries": "numba.np.random.generator_methods" in sys.modules,
       "unparsed": len(kernel_module.loading._unparsed)}
cres = next(iter(kernel_module.scaled_total.overloads.values()))
linked = cres.library._get_module_for_linking()   # what a caller compiled now links
out["linkable"] = cres.fndesc.llvm_func_name in {f.name for f in linked.functions}
out["unparsed after"] = len(kernel_module.loading._unparsed)
print(json.dumps(out))
"""


def probe(cache) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache / "numba"),
               NUMBA_MODULE=os.path.join(ROOT, "tinyflow", "backend", "numpy", "_numba.py"),
               PYTHONPATH=os.pathsep.join([ROOT, str(cache)]))
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_cached_kernels_load_without_the_compiler_registries(tmp_path):
    (tmp_path / "kernel_module.py").write_text(KERNEL)
    cold = probe(tmp_path)     # compiles the kernel (the registries loaded)
    warm = probe(tmp_path)     # loads it from the cache
    assert cold["registries"] and not warm["registries"]
    assert cold["total"] == warm["total"] == 90.0
    assert cold["unparsed"] == 0 and warm["unparsed"] == 1   # its linking bitcode: later
    assert cold["linkable"] and warm["linkable"] and warm["unparsed after"] == 0
