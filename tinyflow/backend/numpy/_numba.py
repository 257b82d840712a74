"""Numba, imported by the kernel modules that need it (on their first use: importing Numba
costs ~0.15 s), with disk-cache loads that leave the compiler's registries unloaded.

Numba refreshes its typing and lowering registries before every cached load (it imports and
installs some hundred implementation modules, ~0.1-0.25 s on the first load of a process),
although a cached function is machine code that needs only the runtime (NRT) to run. A
warm process that only loads cached kernels (a compiled step's first call) skips that; any
real compilation still refreshes them first (Numba's compiler does so itself), and a load
that fails is retried the normal way.
"""
import numba
from numba.core import caching
from numba.core.runtime import nrt

__all__ = ["numba"]


def _install() -> None:
    """Replace `Cache.load_overload` with one without the registries' refresh, where this
    Numba has the parts it needs (else Numba is left as it is)."""
    cache = caching.Cache
    if getattr(cache.load_overload, "_tinyflow", False) or not all(
            hasattr(cache, name) for name in ("_load_overload",
                                              "_guard_against_spurious_io_errors")) \
            or not hasattr(nrt.rtsys, "initialize"):
        return
    full_load = cache.load_overload

    def load_overload(self, sig, target_context):
        try:
            nrt.rtsys.initialize(target_context)   # cached code may call the runtime
            with self._guard_against_spurious_io_errors():
                return self._load_overload(sig, target_context)
        except Exception:   # e.g. a cached library needing what a refresh installs
            return full_load(self, sig, target_context)

    load_overload._tinyflow = True
    cache.load_overload = load_overload


_install()
