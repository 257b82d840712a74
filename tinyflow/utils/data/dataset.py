"""`torch.utils.data.dataset`: the dataset classes by their module path."""
from . import (ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset,  # noqa: F401
               random_split)
