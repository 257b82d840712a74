"""Numba, imported by the kernel modules that need it (on their first use: importing Numba
costs ~0.15 s), with disk-cache loads that leave the compiler's registries unloaded.

Numba refreshes its typing and lowering registries before every cached load (it imports and
installs some hundred implementation modules, ~0.1-0.25 s on the first load of a process),
although a cached `njit` function called from Python is machine code that needs only the
runtime (NRT). So a cached load made by such a call (`CPUDispatcher._compile_for_args`)
skips the refresh; every other load (a `vectorize` ufunc, which builds its wrapper with the
registries, a call while compiling) and every compilation refresh them as Numba does, and a
load that fails is retried the normal way. A warm process that only loads cached kernels (a
compiled step's first call) so never pays for the registries.
"""
import threading

import numba
from numba.core import caching, registry
from numba.core.runtime import nrt

__all__ = ["numba"]

_called = threading.local()    # .depth: inside a Python call's compile of an njit function


def _install() -> None:
    """Patch `Cache.load_overload` and `CPUDispatcher._compile_for_args` where this Numba
    has the parts it needs (else Numba is left as it is)."""
    cache, dispatcher = caching.Cache, registry.CPUDispatcher
    if getattr(cache.load_overload, "_tinyflow", False) or not all(
            hasattr(cache, name) for name in ("_load_overload",
                                              "_guard_against_spurious_io_errors")) \
            or not hasattr(nrt.rtsys, "initialize") \
            or not hasattr(dispatcher, "_compile_for_args"):
        return
    full_load, compile_for_args = cache.load_overload, dispatcher._compile_for_args

    def load_overload(self, sig, target_context):
        if not getattr(_called, "depth", 0):
            return full_load(self, sig, target_context)
        try:
            nrt.rtsys.initialize(target_context)   # cached code may call the runtime
            with self._guard_against_spurious_io_errors():
                return self._load_overload(sig, target_context)
        except Exception:   # e.g. a cached library needing what a refresh installs
            return full_load(self, sig, target_context)

    def called_from_python(self, *args, **kwargs):
        _called.depth = getattr(_called, "depth", 0) + 1
        try:
            return compile_for_args(self, *args, **kwargs)
        finally:
            _called.depth -= 1

    load_overload._tinyflow = True
    cache.load_overload = load_overload
    dispatcher._compile_for_args = called_from_python


_install()
