"""Numba's disk cache serves the backend's loops to the next process: a second fresh process
with the same cache directory compiles nothing and writes nothing (before, loops that called
jitted helpers through closures recompiled in every process and grew the cache without end).
"""
import os
import subprocess
import sys

import numba

from tinyflow.backend.numpy import (_attention_loops, _batch_norm_loops, _conv_loops,
                                    _fast_math_loops, _norm_loops)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# One float32 call of a loop of each kind: flat loops on shared scalar helpers (GELU, erf), loops
# with a helper in their file (layer norm, batch norm, max pooling), the LSTM recurrence (cell
# helpers chosen per dtype by overloads, OpenBLAS called through an intrinsic), and loops
# without helpers (Adam's, the column sums'); attention's weights in float32 and float64
# (their loops differ).
SCRIPT = """
import numpy as np
from tinyflow.backend.numpy import _conv_numba, _fast_math, normalization, rnn, state
x = np.linspace(-3, 3, 64, dtype=np.float32).reshape(8, 8)
_fast_math.call("gelu", x); _fast_math.call("gelu_grad", x, x); _fast_math.call("erf", x)
c = normalization._constants(x, 1e-5)
w = np.ones(8, np.float32)
normalization._row_loops()[0](x, c, w, w, np.empty_like(x))
normalization._row_loops()[1](x, x, c, w, np.empty_like(x), True, np.zeros((1, 2, 8)), 32)
normalization._row_loops()[2](x, x, c, np.zeros((1, 2, 8)), 32)
cube = x.reshape(2, 4, 8)
from tinyflow.ops.normalization import BatchNorm
normalization.normalize_channels(BatchNorm(eps=1e-5), cube, np.ones(4, np.float32), np.zeros(4, np.float32))
from tinyflow.ops.normalization import BatchNormGrad
normalization.normalize_channels_grad(BatchNormGrad(eps=1e-5), cube, cube, np.ones(4, np.float32))
from tinyflow.backend.numpy import blas
w_hh = np.ascontiguousarray(x[:, :2])   # [4H, H], H 2; batch 8, 2 steps
xw, out = np.ones((8, 2, 8), np.float32), np.zeros((3, 6, 2, 8), np.float32)
rnn._loops().lstm_forward_steps(blas.gemm_address(np.float32), w_hh[None], xw, x[0],
                                x[:2].copy(), out, np.empty((1, 8, 8), np.float32),
                                np.array([0, 2], np.int64), 0, 8, 8, 2, np.zeros(1, np.int64),
                                0, 0, 0)
image = x.reshape(1, 1, 8, 8)
_conv_numba.max_pool("forward", image, (2, 2), (2, 2), (1, 1), ((0, 0), (0, 0)), (4, 4))
flat = x.reshape(-1).copy()
state._adam_loop()(flat, flat.copy(), flat.copy(), flat * flat, *np.ones(9, np.float32))
from tinyflow.backend.numpy import attention
from tinyflow.ops.attention import AttentionWeights
causal = AttentionWeights(scale=0.5, causal=True)
attention.attention_weights(causal, cube, cube, cube[0, :, :4] > 0)
wide = cube.astype(np.float64)
attention.attention_weights(causal, wide, wide, cube[0, :, :4] > 0)
from tinyflow.backend.numpy import reduce
from tinyflow.ops.reduce import Sum
reduce.sum_(Sum(axis=(0,), keepdims=False), np.ones((1024, 8), np.float32))
"""


def run(cache_dir: str) -> str:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, NUMBA_DEBUG_CACHE="1",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def cache_files(cache_dir: str) -> list:
    return sorted(os.path.join(d, f) for d, _, fs in os.walk(cache_dir) for f in fs)


def test_second_process_loads_every_loop_from_the_disk_cache(tmp_path):
    cache_dir = str(tmp_path / "numba")
    cold = run(cache_dir)
    files = cache_files(cache_dir)
    assert "data saved" in cold and files
    warm = run(cache_dir)
    saved = [line for line in warm.splitlines() if "saved" in line]
    assert not saved, "recompiled in the second process:\n" + "\n".join(saved)
    loaded = {line.rsplit("/", 1)[-1].split("-")[0] for line in warm.splitlines()
              if "data loaded" in line}
    assert loaded >= {"_fast_math_loops.unary32", "_fast_math_loops.binary32",
                      "_norm_loops.rows_forward",
                      "_norm_loops.rows_backward", "_norm_loops.rows_param_grad",
                      "_batch_norm_loops.forward",
                      "_fast_math_loops.lstm_forward_steps", "_conv_loops.pool_forward",
                      "_batch_norm_loops.input_grad",
                      "state._adam_loop.locals.adam_flat",
                      "_attention_loops.softmax_scores", "_attention_loops.normalize_rows",
                      "_sum_loops.column_sums"
                      }, loaded
    assert cache_files(cache_dir) == files


def test_cached_loops_capture_no_closures():
    """A closure variable is part of Numba's cache key: a jitted one pickles differently in
    each process, so its caller would never load from the cache."""
    for module in (_attention_loops, _batch_norm_loops, _conv_loops, _fast_math_loops,
                   _norm_loops):
        for name, value in vars(module).items():
            if isinstance(value, numba.core.registry.CPUDispatcher):
                assert value.py_func.__closure__ is None, f"{module.__name__}.{name}"
