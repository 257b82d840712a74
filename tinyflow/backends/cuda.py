"""`torch.backends.cuda`: no CUDA here; `cuda.matmul.allow_tf32 = True` is accepted."""
from types import SimpleNamespace

from ._absent import is_built  # noqa: F401

matmul = SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                         allow_bf16_reduced_precision_reduction=True)
