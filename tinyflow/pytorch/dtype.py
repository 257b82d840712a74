"""Dtypes and devices as PyTorch spells them: `x.float()`, `x.to(...)`, `x.device`,
`torch.device`, `torch.cuda`, `torch.finfo`. tinyflow computes on the CPU only."""
from __future__ import annotations

import numpy as np

from .. import ops
from ..ops.math import to_double, to_float  # .float(), .double(): TF1's casts
from ..core import devices, dtypes
from ..core.graph import get_default_graph
from ..core.tensor import Tensor
from .amp import cuda_amp


# What torch.device parses; a device of another type is a typo, refused where it is written.
_DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu", "xla", "meta", "hpu", "mtia", "privateuseone")


class Device(str):
    """`torch.device`: any device PyTorch names can be written (`torch.device("cuda")`, as
    code does before testing `torch.cuda.is_available()`), but only the CPU, or a device
    declared with `tinyflow.distributed.devices` (a worker process), can hold a tensor:
    putting one anywhere else is refused by name (`check_device`)."""

    def __new__(cls, kind="cpu", index=None):
        if callable(kind):
            raise NotImplementedError("tf.device: device functions (a callable choosing each "
                                      "op's device) are not supported; give a device name")
        name = kind if index is None else f"{kind}:{index}"
        if isinstance(name, str) and devices.is_cpu(name):   # '/cpu:0' is TF1's CPU
            return super().__new__(cls, "cpu")
        if isinstance(name, str) and (devices.lookup(name) is not None
                                      or name.split(":")[0] in _DEVICE_TYPES):
            return super().__new__(cls, name)
        check_device(name, movable=True)        # refuses it by name
        return super().__new__(cls, "cpu")

    def __enter__(self):
        """`with tf.device(name):` places the graph nodes made inside on that device."""
        check_device(self, movable=True)
        self._scope = get_default_graph().device(None if self == "cpu" else str(self))
        self._scope.__enter__()
        return self

    def __exit__(self, *exc):
        self._scope.__exit__(*exc)

    @property
    def type(self) -> str:
        return self.split(":")[0]

    @property
    def index(self):
        tail = self.split(":")[1:]
        return int(tail[0]) if tail and tail[0].isdigit() else None

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"


def check_device(device, what: str = "device", movable: bool = False) -> None:
    """`device=` of creation functions and `.to()`: None, 'cpu', 'cpu:0' or a Device pass;
    a declared device passes where a tensor is moved (`movable`: `.to()`); creation
    functions make tensors here, to be moved with `.to(device)`. Any other device ('cuda',
    'mps', 0) is refused by name, as PyTorch without that device."""
    if device is None:   # (nearly every call) here, the CPU
        return
    declared = devices.lookup(str(device)) is not None
    if declared and not (movable or isinstance(device, Device) and device.type == "cpu"):
        raise NotImplementedError(f"{what}={device!r}: tensors are created on the CPU and "
                                  f"moved to a declared device with .to({str(device)!r})")
    if device is None or declared or isinstance(device, Device) and device == "cpu":
        return
    if isinstance(device, Device):
        device = str(device)
    kind = device.split(":")[0] if isinstance(device, str) else device
    if kind != "cpu":
        raise RuntimeError(f"{what}={device!r} is not available: tinyflow runs on the CPU "
                           f"only (use 'cpu', or test torch.cuda.is_available() first)")


device = Device   # torch's spelling
CPU = Device()


class cuda:  # noqa: N801  (torch.cuda namespace)
    """There is no GPU here: code that checks `torch.cuda.is_available()` takes its CPU path."""

    @staticmethod
    def is_available() -> bool:
        return False

    @staticmethod
    def device_count() -> int:
        return 0

    @staticmethod
    def _no_op(*args, **kwargs) -> None:
        """Seeding or freeing a GPU that is not there does nothing (as in a CPU-only PyTorch),
        so `set_seed` helpers that also seed CUDA run unchanged."""

    manual_seed = manual_seed_all = seed = seed_all = empty_cache = _no_op

    @staticmethod
    def is_initialized() -> bool:
        return False

    @staticmethod
    def is_bf16_supported(*args, **kwargs) -> bool:
        return False

    @staticmethod
    def _not_here(*args, **kwargs):
        raise AssertionError("tinyflow has no CUDA: there is no GPU to synchronize or name "
                             "(test torch.cuda.is_available() first)")

    synchronize = current_device = get_device_name = get_device_properties = _not_here

    amp = cuda_amp   # torch.cuda.amp: the CPU stands in; the scaler works here too


class accelerator:  # noqa: N801  (torch.accelerator namespace, PyTorch >= 2.6)
    """No accelerator here: `torch.accelerator.is_available()` is False, and code that asks
    for `current_accelerator()` when one is available takes its CPU path."""

    @staticmethod
    def is_available() -> bool:
        return False

    @staticmethod
    def device_count() -> int:
        return 0

    @staticmethod
    def current_accelerator(check_available: bool = False):
        return None


def to(x, *args, dtype=None, device=None, non_blocking=False, copy=False, **kwargs):
    """`to(dtype)`, `to('cpu')`, `to(device, dtype)`, `to(other_tensor)`; a device declared
    with `tinyflow.distributed.devices` gets a copy (an explicit, counted transfer); other
    devices are refused."""
    check_device(device, movable=True)
    for a in args:
        if isinstance(a, Tensor):
            dtype = a.dtype
            device = device_of(a)
        elif isinstance(a, (str, int)) and not isinstance(a, bool):
            check_device(a, movable=True)
            device = a
        elif a is not None:
            dtype = a
    out = x if dtype is None else ops.cast(x, dtypes.torch_dtype(dtype))
    out = out if device is None else devices.to_device(out, str(device))
    return ops.copy(out) if copy and out is x else out


TENSOR_TYPES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
                "bfloat16": "BFloat16Tensor", "int64": "LongTensor", "int32": "IntTensor",
                "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor",
                "bool": "BoolTensor"}


def to_type(x, dtype=None):
    """`x.type()` names the tensor type as PyTorch does ('torch.FloatTensor'); `x.type(dtype)`
    converts (a dtype, or such a name)."""
    if dtype is None:
        return "torch." + TENSOR_TYPES.get(x.dtype.name, x.dtype.name)
    if isinstance(dtype, str):
        names = {v: k for k, v in TENSOR_TYPES.items()}
        dtype = dtypes.torch_dtype(names.get(dtype.rsplit(".", 1)[-1], dtype))
    return to(x, dtype)


def type_as(x, other): return to(x, other.dtype)
def to_half(x): return ops.cast(x, dtypes.float16)
def to_bfloat16(x): return ops.cast(x, dtypes.bfloat16)
def to_long(x): return ops.cast(x, dtypes.int64)
def to_int(x): return ops.cast(x, dtypes.int32)
def to_bool(x): return ops.cast(x, dtypes.bool_)
def to_short(x): return ops.cast(x, dtypes.int16)
def to_char(x): return ops.cast(x, dtypes.int8)
def to_byte(x): return ops.cast(x, dtypes.uint8)
def to_cpu(x, memory_format=None): return devices.to_device(x, "cpu")
def device_of(x): return CPU if devices.name_of(x) is None else Device(devices.name_of(x))
def is_cuda(x) -> bool: return device_of(x).type == "cuda"
def is_xpu(x) -> bool: return device_of(x).type == "xpu"
def is_cpu(x) -> bool: return device_of(x).type == "cpu"


def get_device(x) -> int:
    """-1 on the CPU, as PyTorch; else the device's index."""
    device = device_of(x)
    return -1 if device.type == "cpu" else device.index or 0


def is_floating_point(x) -> bool: return x.dtype.is_floating
def nelement(x) -> int: return x.numel()
def element_size(x) -> int: return x.dtype.np.itemsize
def is_tensor(x) -> bool: return isinstance(x, Tensor)
def get_default_dtype(): return dtypes.DEFAULT_FLOAT


def format_tensor(x, spec: str) -> str:
    """`f"{loss:.4f}"`: a one-element eager tensor formats as its number (as PyTorch); any
    other tensor only with an empty spec (its repr)."""
    if x.kind == "eager" and x.ndim == 0:
        return format(x.item(), spec)
    if spec:
        raise TypeError(f"unsupported format string passed to Tensor.__format__: a tensor of "
                        f"shape {list(x.shape) if x.shape is not None else None} formats "
                        f"with a spec only if it has 0 dims (use x.item())")
    return repr(x)


def promote_types(type1, type2):
    """The dtype both convert to (`torch.promote_types`): a float beats an int, else the
    wider of the kind."""
    return dtypes.promote(dtypes.torch_dtype(type1), dtypes.torch_dtype(type2))


def _scalar_dtype(value):
    if isinstance(value, (bool, np.bool_)):
        return dtypes.bool_
    if isinstance(value, (int, np.integer)):
        return dtypes.int64
    if isinstance(value, (float, np.floating)):
        return dtypes.DEFAULT_FLOAT
    raise TypeError(f"result_type: expected a tensor or a number, got {type(value).__name__}")


def result_type(tensor1, tensor2):
    """`torch.result_type`: operands in three tiers (tensors with dims, 0-dim tensors,
    Python numbers); the highest tier present decides the dtype, unless a lower tier holds
    a higher kind (bool < integer < float), which then decides within its tier."""
    tiers = {2: [], 1: [], 0: []}
    for v in (tensor1, tensor2):
        if isinstance(v, Tensor):
            tiers[1 if v.ndim == 0 else 2].append(v.dtype)
        else:
            tiers[0].append(_scalar_dtype(v))
    result = None
    for tier in (2, 1, 0):
        if not tiers[tier]:
            continue
        here = tiers[tier][0]
        for dt in tiers[tier][1:]:
            here = dtypes.promote(here, dt)
        if result is None or dtypes.kind_rank(here) > dtypes.kind_rank(result):
            result = here
    return result


def finfo(dtype=None):
    """`torch.finfo(torch.float32).eps`, `.max`, `.min`, `.tiny` (also of bfloat16, fp8)."""
    return dtypes.float_info(dtypes.torch_dtype(dtype or dtypes.DEFAULT_FLOAT))


def iinfo(dtype):
    return np.iinfo(dtypes.torch_dtype(dtype).np)


METHODS = {
    "to": to, "type": to_type, "type_as": type_as, "float": to_float, "double": to_double,
    "half": to_half, "bfloat16": to_bfloat16, "long": to_long, "int": to_int,
    "bool": to_bool, "short": to_short, "char": to_char, "byte": to_byte, "cpu": to_cpu,
    "device": property(device_of), "is_cuda": property(is_cuda),
    "is_xpu": property(is_xpu), "is_cpu": property(is_cpu), "get_device": get_device,
    "is_floating_point": is_floating_point, "nelement": nelement,
    "element_size": element_size, "__format__": format_tensor,
}
