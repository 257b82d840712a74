"""Data types: thin named wrappers over NumPy dtypes, shared by every front end."""
from __future__ import annotations

import ml_dtypes
import numpy as np


class DType:
    """A tensor element type; `tf.float32` and `torch.float32` are the same object.

    `is_reduced`: a float narrower than float32 (float16, bfloat16, fp8), whose reductions
    and normalizations accumulate in float32 as PyTorch's do; `is_fp8`: promotes with no
    other type (PyTorch refuses; it also does no arithmetic on fp8, which tinyflow does with
    ml_dtypes, rounding each result).
    """

    __slots__ = ("name", "np", "is_floating", "is_integer", "is_bool", "is_reduced", "is_fp8")

    def __init__(self, name: str, np_dtype) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        # ml_dtypes' floats are NumPy kind "V": known by name
        self.is_floating = self.np.kind == "f" or name in ML_FLOATS  # computed once
        self.is_integer = self.np.kind in "iu"
        self.is_bool = self.np.kind == "b"
        self.is_reduced = self.is_floating and self.np.itemsize < 4
        self.is_fp8 = name.startswith("float8")

    @property
    def is_floating_point(self) -> bool:
        """PyTorch's spelling (`torch.float32.is_floating_point`)."""
        return self.is_floating

    @property
    def is_signed(self) -> bool:
        return self.np.kind in "fi" or self.name in ML_FLOATS

    @property
    def is_complex(self) -> bool:
        return False

    @property
    def itemsize(self) -> int:
        return self.np.itemsize

    @property
    def as_numpy_dtype(self):
        """TF1 spelling of the NumPy scalar type."""
        return self.np.type

    def __repr__(self) -> str:
        return f"tinyflow.{self.name}"

    def __reduce__(self):
        return (as_dtype, (self.name,))


ML_FLOATS = ("bfloat16", "float8_e4m3fn", "float8_e5m2")

float16 = DType("float16", np.float16)
bfloat16 = DType("bfloat16", ml_dtypes.bfloat16)
float8_e4m3fn = DType("float8_e4m3fn", ml_dtypes.float8_e4m3fn)
float8_e5m2 = DType("float8_e5m2", ml_dtypes.float8_e5m2)
float32 = DType("float32", np.float32)
float64 = DType("float64", np.float64)
int8 = DType("int8", np.int8)
uint8 = DType("uint8", np.uint8)
int16 = DType("int16", np.int16)
int32 = DType("int32", np.int32)
int64 = DType("int64", np.int64)
bool_ = DType("bool", np.bool_)
# TF1's tf.string: bytes in object arrays (string constants, feeds, serialized summaries).
# No NumPy dtype maps to it (an object array is refused, not taken for text): only
# tf1_constant, placeholders and the ops marked `strings` (core/op.py) make it
string = DType("string", object)

_ALL = (float16, bfloat16, float8_e4m3fn, float8_e5m2, float32, float64, int8, uint8, int16,
        int32, int64, bool_)
_BY_NP = {d.np: d for d in _ALL}
_BY_NAME = {d.name: d for d in _ALL + (string,)}
_BY_NAME.update({"half": float16, "float": float32, "double": float64, "long": int64,
                 "int": int32, "short": int16, "bool_": bool_})

DEFAULT_FLOAT = float32   # PyTorch's default dtype; `set_default_float` changes it


def set_default_float(dt) -> None:
    """`torch.set_default_dtype`: the dtype of Python floats and of new float tensors and
    layers. A process-wide setting, as in PyTorch; floats only."""
    global DEFAULT_FLOAT
    dt = as_dtype(dt)
    if not dt.is_floating or dt.is_fp8:
        raise TypeError(f"set_default_dtype: the default must be a floating dtype "
                        f"(float16, bfloat16, float32 or float64), not {dt.name}")
    DEFAULT_FLOAT = dt
REDUCED_NUMPY = frozenset(d.np for d in _ALL if d.is_reduced)   # what kernels widen


def as_dtype(x) -> DType:
    """Accept a DType, a NumPy dtype or type, a Python type, or a name; Python's `float`
    reads as TF1 reads it, float32 (the torch front end reads it with `torch_dtype`)."""
    if isinstance(x, DType):
        return x
    if isinstance(x, str):
        if x in _BY_NAME:
            return _BY_NAME[x]
        raise TypeError(f"unknown dtype name {x!r}")
    if x is float:
        return float32
    if x is int:
        return int64
    if x is bool:
        return bool_
    try:
        return _BY_NP[np.dtype(x)]
    except (TypeError, KeyError):
        raise TypeError(f"unsupported dtype {x!r}") from None


def torch_dtype(x) -> DType:
    """A dtype argument as PyTorch reads it: Python's `float` is float64 (as in NumPy), where
    TF1 (`as_dtype`) reads float32; everything else as `as_dtype`."""
    return float64 if x is float else as_dtype(x)


def is_known(np_dtype) -> bool:
    """Whether a NumPy dtype is one of ours (ml_dtypes' are kind "V", as are records)."""
    return np_dtype in _BY_NP


def from_numpy_dtype(np_dtype) -> DType:
    """The DType of a NumPy array's dtype (fast path for kernels' outputs)."""
    try:
        return _BY_NP[np_dtype]
    except KeyError:
        raise TypeError(f"unsupported dtype {np_dtype} (tinyflow has "
                        f"{', '.join(sorted(_BY_NAME))})") from None


# ---- promotion rules ---------------------------------------------------------------------

def promote(a: DType, b: DType) -> DType:
    """NumPy's rules within a kind; a float meeting an int or bool wins (PyTorch: int32 *
    float32 -> float32, where NumPy would widen to float64); bfloat16 and float16 meet in
    float32; fp8 meets nothing but itself (PyTorch refuses it too)."""
    if a is b:
        return a
    if a is string or b is string:
        raise TypeError(f"no arithmetic takes tf.string (here with {a.name} and {b.name})")
    if a.is_fp8 or b.is_fp8:
        raise TypeError(f"{a.name} and {b.name} have no common dtype (float8 types are "
                        f"never promoted); cast one first")
    if a.is_floating != b.is_floating:
        return a if a.is_floating else b
    if {a.name, b.name} == {"float16", "bfloat16"}:   # NumPy promotes them only from ml_dtypes 0.7
        return float32
    return from_numpy_dtype(np.result_type(a.np, b.np))


def kind_rank(dt: DType) -> int:
    """bool < integer < float: PyTorch's categories, which decide who wins a promotion."""
    return 2 if dt.is_floating else 0 if dt.is_bool else 1


def float_info(dt: DType):
    """eps, max, tiny, ... of a float type (ml_dtypes' finfo also knows bfloat16 and fp8)."""
    return ml_dtypes.finfo(dt.np)


def float_result(dt: DType) -> DType:
    """exp/log/... of integers give the default float type, as in PyTorch."""
    return dt if dt.is_floating else DEFAULT_FLOAT


def weak_scalar(value, like: DType) -> DType:
    """The dtype a Python number takes beside a tensor of dtype `like` ("weak" typing, as
    PyTorch): the tensor's, unless it would lose the number's kind (a float meeting ints
    gives the default float, an int meeting bools gives int64). Beside tf.string, the
    number's own (the op then refuses the pair)."""
    if like is string:
        return (bool_ if isinstance(value, (bool, np.bool_)) else int64
                if isinstance(value, (int, np.integer)) else DEFAULT_FLOAT)
    if isinstance(value, (float, np.floating)) and not like.is_floating:
        return DEFAULT_FLOAT
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and like.is_bool:
        return int64
    return like
