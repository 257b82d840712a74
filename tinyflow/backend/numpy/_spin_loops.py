"""The kernel pool's wait (`parallel.py`): a thread polls a counter without the GIL for a
short while before it sleeps, as an OpenMP team's threads do, so a piece handed over right
after the last one starts within microseconds instead of a futex wake-up (10-50 us on a
virtual machine, where waking an idle CPU is an interrupt through the hypervisor). Numba
cannot emit inline assembly (its JIT has no assembler), so the pause is LLVM's intrinsic."""
import platform

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ._numba import numba

X86 = ("x86_64", "amd64", "i386", "i686")
PAUSE = "llvm.x86.sse2.pause" if platform.machine().lower() in X86 else ""   # an intrinsic


@intrinsic
def _load_acquire(typingctx, address):
    """The int64 at `address`, read anew on every call (an atomic load: never hoisted)."""
    def codegen(context, builder, signature, args):
        pointer = builder.inttoptr(args[0], ir.IntType(64).as_pointer())
        return builder.load_atomic(pointer, "acquire", 8)
    return types.int64(types.intp), codegen


@intrinsic
def _pause(typingctx):
    """x86's spin-wait hint (a no-op elsewhere), so the poll does not flood the core."""
    def codegen(context, builder, signature, args):
        if PAUSE:
            builder.call(cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), []), PAUSE), [])
        return context.get_dummy_value()
    return types.none(), codegen


@numba.njit(nogil=True, cache=True)
def spin(address, seen, rounds, settle):
    """Poll the int64 at `address` up to `rounds` times; its value (`seen` if unchanged).
    After a change it pauses `settle` more times before returning (to the GIL)."""
    for _ in range(rounds):
        value = _load_acquire(address)
        if value != seen:
            for _ in range(settle):
                _pause()
            return value
        _pause()
    return _load_acquire(address)
