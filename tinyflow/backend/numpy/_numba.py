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

Such a load also leaves for later what only a compilation reads: a cached library holds its
machine code and the LLVM bitcode that a caller compiled later would link and inline, and
Numba parses that bitcode and notes every symbol in it on every load (~1.5 ms a kernel). The
engine is told only of the entry point the load asks for; the bitcode is parsed when a
compilation links the library or asks for another symbol.
"""
import threading
import weakref

import numba
from numba.core import caching, codegen, cpu, registry
from numba.core.runtime import nrt

__all__ = ["numba"]

_called = threading.local()    # .depth: inside a Python call's compile of an njit function
_loading = threading.local()   # .fast: inside a load made for a Python call
_unparsed = weakref.WeakSet()  # libraries loaded that way whose linking bitcode waits


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
            _loading.fast = True
            try:
                with self._guard_against_spurious_io_errors():
                    return self._load_overload(sig, target_context)
            finally:
                _loading.fast = False
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
    _install_lazy_linking()


def _install_lazy_linking() -> None:
    """Patch the unserializing of a cached library so that a fast load (above) leaves its
    linking bitcode unparsed until needed (where this Numba has the parts it needs)."""
    library, engine, context = codegen.JITCodeLibrary, codegen.JitEngine, cpu.CPUContext
    if not all(hasattr(library, name) for name in (
            "_unserialize", "_get_module_for_linking", "enable_object_caching",
            "_set_compiled_object", "_finalize_final_module")) \
            or not hasattr(engine, "is_symbol_defined") \
            or not hasattr(context, "get_executable"):
        return
    unserialize, for_linking = library._unserialize.__func__, library._get_module_for_linking
    is_defined, executable = engine.is_symbol_defined, context.get_executable

    def lazy_unserialize(cls, codegen_, state):
        name, kind, data = state
        if kind != "object" or not getattr(_loading, "fast", False):
            return unserialize(cls, codegen_, state)
        lib = codegen_.create_library(name)
        lib.enable_object_caching()
        lib._set_compiled_object(data[0])
        lib._unparsed_bitcode = data[1]
        lib._finalize_final_module()
        _unparsed.add(lib)
        return lib

    def parse_all() -> None:
        """Numba's own end of an object-code load, for every library that skipped it."""
        for lib in list(_unparsed):
            _unparsed.discard(lib)
            lib._shared_module = codegen.ll.parse_bitcode(lib.__dict__.pop("_unparsed_bitcode"))
            lib._codegen._engine._load_defined_symbols(lib._shared_module)

    def get_module_for_linking(self):
        if self in _unparsed:
            parse_all()
        return for_linking(self)

    def is_symbol_defined(self, name):
        if not is_defined(self, name) and _unparsed:
            parse_all()
        return is_defined(self, name)

    def get_executable(self, library, fndesc, env):
        if library in _unparsed:   # its own entry point, which its machine code defines
            library._codegen._engine._defined_symbols.add(fndesc.llvm_cpython_wrapper_name)
        return executable(self, library, fndesc, env)

    library._unserialize = classmethod(lazy_unserialize)
    library._get_module_for_linking = get_module_for_linking
    engine.is_symbol_defined = is_symbol_defined
    context.get_executable = get_executable


_install()
