"""PyTorch's `torch.utils`: `data` (Dataset, TensorDataset, DataLoader)."""
from . import data  # noqa: F401
