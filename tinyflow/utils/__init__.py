"""PyTorch's `torch.utils`: `data` (Dataset, TensorDataset, DataLoader) and `checkpoint`
(activation checkpointing)."""
from . import checkpoint, data  # noqa: F401
