"""`torch.nn.parameter`: where PyTorch programs import Parameter and UninitializedParameter
from."""
from .modules.lazy import UninitializedParameter
from .modules.module import Parameter

__all__ = ["Parameter", "UninitializedParameter"]
