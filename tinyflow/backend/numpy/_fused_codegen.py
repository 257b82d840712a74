"""Numba source for a fused elementwise group, compiled once per machine.

Each member op has a scalar expression template; a group becomes one loop nest over the
(collapsed) output shape that reads every input once, evaluates the members in registers
and writes the output once. Broadcasting is by strides: an input is passed as a view of the
output's shape, merging first the adjacent dims that every operand walks contiguously (so
same-shape inputs and scalars give one flat loop, which LLVM vectorizes; a bias row gives
two loops); an input that is C-contiguous over the dims it walks (a bias row, a column) is
passed as that compact array, indexed by those loop variables only, so every operand stays
C-contiguous and the inner loop still vectorizes (a strided view does not: 1.7x slower
than NumPy's two ufuncs for layer norm's x * gamma + beta, measured); one value is a
scalar.

The source depends on the group (`FusedElementwise.key`), the dtype (typed constants),
the loop depth and how each input is read; its hash names a module file in the cache
directory (`TINYFLOW_CACHE_DIR`, default ~/.cache/tinyflow), written atomically and never
rewritten, imported with Numba's `cache=True`: a second process loads the machine code Numba
stored beside it and compiles nothing.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile

import numpy as np

from ...ops import math as m

VERSION = "6"   # bump when the generated source changes shape

# Scalar templates: {0}, {1} are the operands (local names), constants are module globals.
TEMPLATES = {
    m.Add: "{0} + {1}", m.Sub: "{0} - {1}", m.Mul: "{0} * {1}", m.Div: "{0} / {1}",
    m.Pow: "{0} ** {1}", m.Neg: "-{0}", m.Square: "{0} * {0}", m.Sqrt: "np.sqrt({0})",
    m.Exp: "np.exp({0})", m.Log: "np.log({0})", m.Log1p: "np.log1p({0})",
    m.Expm1: "np.expm1({0})", m.Tanh: "np.tanh({0})", m.Sin: "np.sin({0})",
    m.Cos: "np.cos({0})", m.Abs: "abs({0})",
    # exp of -|x| never overflows (as the NumPy kernel)
    m.Sigmoid: "ONE / (ONE + np.exp(-{0})) if {0} >= ZERO else "
               "np.exp({0}) / (ONE + np.exp({0}))",
    m.Relu: "{0} if not {0} < ZERO else ZERO",            # NaN passes, as np.maximum
    m.ReluGrad: "ZERO if {1} <= ZERO else {0}",          # NaN passes g, as PyTorch
    m.Maximum: "{0} if {0} >= {1} or {0} != {0} else {1}",  # NaN wins, as np.maximum
    m.Minimum: "{0} if {0} <= {1} or {0} != {0} else {1}",
}
DTYPES = ("float32", "float64")
# Without Intel's SVML, Numba calls libm once per element for these: measured 5x (exp) to
# 40x (tanh) slower than NumPy's SIMD ufuncs on float32, more than fusion saves. The
# generator covers them; the fusion pass leaves them out of groups.
LIBM_CALLS = (m.Exp, m.Log, m.Log1p, m.Expm1, m.Tanh, m.Sigmoid, m.Sin, m.Cos, m.Pow)


def supports(op) -> bool:
    """Whether the generator has a scalar template for this member op."""
    return type(op) in TEMPLATES


def pays(op) -> bool:
    """Whether fusing this member makes a group faster (a template that vectorizes)."""
    return type(op) in TEMPLATES and type(op) not in LIBM_CALLS


def cache_dir() -> str:
    return os.environ.get("TINYFLOW_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "tinyflow")


def source(group, dtype: str, ndim: int, patterns: tuple, total: bool = False,
           stores: tuple = (), reads: tuple = ()) -> str:
    """The module text: `kernel(shape, out, *inputs)` looping over `shape` (the collapsed
    `ndim`-dim output shape); input k is read as `patterns[k]` says: () one element (a
    1-element array), a tuple of loop dims a C-contiguous array over just those dims (a
    bias row, a same-shape input), None a strided view of the whole shape. C-contiguous
    operands let LLVM vectorize the inner loop. `total`: add the values up (in float64)
    into the 1-element `out` instead of storing them. No `prange` (over two cores it
    measured no faster at 10^7 elements and ~5 ms slower, thread wake-up, below 10^6: issue
    12's report); without the GIL, so `fused.in_parts` runs a large loop in parts on the
    kernel pool (backend/numpy/parallel.py), as the eager kernels do. `stores`: members
    whose values are also stored, member
    `stores[k]` into the array `o{k}` (of out's layout), passed after out: one loop computes
    several values (an optimizer's moments and the parameter they update). `reads`: (input
    k, output name) where input k is the very buffer that output overwrites (in place): the
    loop reads it through the output's array, so LLVM, seeing one array loaded and stored
    at the same index, still vectorizes (two arrays over one buffer fail its run-time
    overlap test and it runs the scalar loop: AdamW's update 2.5x slower, measured)."""
    through = dict(reads)
    loop = [f"i{d}" for d in range(ndim)]
    idx = ", ".join(loop)
    params = ", ".join(["shape", "out"] + [f"o{k}" for k in range(len(stores))]
                       + [f"a{k}" for k in range(group.num_inputs)])
    lines = [f'"""Generated by tinyflow ({VERSION}): {group.name}, {dtype}, {ndim}-d, '
             f'inputs {patterns}, stores {stores}, reads {reads}.\n\n{group.key}\n"""',
             "import numba",
             "import numpy as np",
             "", f"ZERO = np.{dtype}(0)", f"ONE = np.{dtype}(1)", "", "",
             # a total in any order (NumPy's is pairwise): LLVM may then vectorize it, 3-5x;
             # NumPy's error model: x / 0 is inf or NaN as in NumPy (Python's raises), and
             # without that check a loop with a division vectorizes (AdamW's update of a
             # 1024 x 256 weight: 609 us before, measured)
             # nogil: the caller may run parts of the loop on the kernel pool's threads
             '@numba.njit(cache=True, nogil=True, error_model="numpy"'
             + (', fastmath={"reassoc"})' if total else ")"),
             f"def kernel({params}):"]
    lines += [f"    x{k} = a{k}[0]" for k, p in enumerate(patterns) if p == ()]
    lines.append("    " + ", ".join(f"n{d}" for d in range(ndim)) + ", = shape")
    if total:
        lines.append("    total = 0.0")
    pad = "    "
    for d in range(ndim):
        lines.append(f"{pad}for i{d} in range(n{d}):")
        pad += "    "
    for k, p in enumerate(patterns):
        if p != ():
            at = idx if p is None else ", ".join(loop[d] for d in p)
            lines.append(f"{pad}x{k} = {through.get(k, f'a{k}')}[{at}]")
    names = [f"x{k}" for k in range(group.num_inputs)]
    for j, (member, operands) in enumerate(zip(group.members, group.args)):
        expr = TEMPLATES[type(member)].format(*[names[k] for k in operands])
        lines.append(f"{pad}t{j} = {expr}")
        names.append(f"t{j}")
    if total:
        lines += [f"{pad}total += {names[-1]}", "    out[0] = total"]
    else:
        lines += [f"{pad}o{k}[{idx}] = t{j}" for k, j in enumerate(stores)]
        lines.append(f"{pad}out[{idx}] = {names[-1]}")
    lines += ["    return out", ""]
    return "\n".join(lines)


_loaded: dict = {}


def load(group, dtype: str, ndim: int, patterns: tuple, total: bool = False,
         stores: tuple = (), reads: tuple = ()):
    """The generated module for this group and layout (imported once per process)."""
    memo = (group.key, dtype, ndim, patterns, total, stores, reads)
    module = _loaded.get(memo)
    if module is None:
        from . import _numba   # noqa: F401 (Numba with the fast cached loads, see there)
        text = source(group, dtype, ndim, patterns, total, stores, reads)
        digest = hashlib.sha256(text.encode()).hexdigest()[:24]
        path = os.path.join(cache_dir(), f"fused_{digest}.py")
        if not os.path.exists(path):
            _write_atomically(path, text)
        spec = importlib.util.spec_from_file_location(f"tinyflow_fused_{digest}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module   # Numba's cache locates functions by module
        spec.loader.exec_module(module)
        module.path = path
        _loaded[memo] = module
    return module


def _write_atomically(path: str, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: another process sees the whole
    file or none (and an existing file is never rewritten, which would void Numba's cache)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def collapse(shape: tuple, out, arrays: list) -> tuple:
    """Views of `out` (None: nothing written elementwise) and of each input broadcast to
    `shape`, with the adjacent dims that all of them step through contiguously merged:
    (collapsed shape, out view, inputs, patterns), where patterns[k] says how input k is
    passed (see `source`): () one element, a tuple of the loop dims it walks when it is
    C-contiguous over them (then passed as that compact array), else None (a strided view)."""
    if all(a.size == 1 or a.shape == shape and a.flags.c_contiguous for a in arrays) \
            and (out is None or out.flags.c_contiguous):
        return _flat(shape, out, arrays)   # the common case, without as_strided
    scalars = [a.size == 1 for a in arrays]
    views = ([] if out is None else [out]) + [np.broadcast_to(a, shape)
                                              for a, s in zip(arrays, scalars) if not s]
    dims, strides = [], [[] for _ in views]
    for d, n in enumerate(shape):
        if n == 1:
            continue          # a unit dim walks nowhere: drop it
        if dims and all(st[-1] == v.strides[d] * n for st, v in zip(strides, views)):
            dims[-1] *= n
            for st, v in zip(strides, views):
                st[-1] = v.strides[d]
            continue
        dims.append(n)
        for st, v in zip(strides, views):
            st.append(v.strides[d])
    if not dims:
        dims, strides = [1], [[v.itemsize] for v in views]
    merged = iter(zip(views, strides))
    out_view = None
    if out is not None:
        v, st = next(merged)
        out_view = np.lib.stride_tricks.as_strided(v, tuple(dims), tuple(st), writeable=True)
    inputs, patterns = [], []
    for a, s in zip(arrays, scalars):
        if s:
            inputs.append(a.reshape(1))
            patterns.append(())
            continue
        v, st = next(merged)
        walked = tuple(d for d, step in enumerate(st) if step != 0)
        compact = tuple(dims[d] for d in walked)
        if not walked:    # one value broadcast everywhere (strides all 0)
            inputs.append(np.lib.stride_tricks.as_strided(v, (1,), (v.itemsize,),
                                                          writeable=False))
            patterns.append(())
        elif tuple(st[d] for d in walked) == _c_strides(compact, v.itemsize):
            inputs.append(np.lib.stride_tricks.as_strided(
                v, compact, tuple(st[d] for d in walked), writeable=False))
            patterns.append(walked)
        else:   # read-only always, so Numba sees one array type per layout
            inputs.append(np.lib.stride_tricks.as_strided(v, tuple(dims), tuple(st),
                                                          writeable=False))
            patterns.append(None)
    return tuple(dims), out_view, inputs, tuple(patterns)


def in_place_reads(outputs: list, inputs: list, patterns: tuple) -> tuple:
    """`source`'s `reads`: (input k, output name) for each input that is exactly the buffer
    an output (name, view) is written through (same start, shape and strides)."""
    found = []
    for k, (a, p) in enumerate(zip(inputs, patterns)):
        if p == ():
            continue
        start = a.__array_interface__["data"][0]
        for name, o in outputs:
            if o.shape == a.shape and o.strides == a.strides and \
                    o.__array_interface__["data"][0] == start:
                found.append((k, name))
                break
    return tuple(found)


def _c_strides(shape: tuple, itemsize: int) -> tuple:
    strides, step = [], itemsize
    for n in reversed(shape):
        strides.append(step)
        step *= n
    return tuple(reversed(strides))


def _flat(shape: tuple, out, arrays: list) -> tuple:
    """`collapse` when every input is C-contiguous of the whole shape or a scalar: flat views
    (inputs read-only, as `collapse` makes them, so Numba compiles one version)."""
    inputs, patterns = [], []
    for a in arrays:
        v = a.reshape(-1)
        v.flags.writeable = False
        inputs.append(v)
        patterns.append(() if a.size == 1 else (0,))
    size = 1
    for n in shape:
        size *= n
    return (size,), None if out is None else out.reshape(-1), inputs, tuple(patterns)
