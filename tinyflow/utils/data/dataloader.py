"""`torch.utils.data.dataloader`: programs import the DataLoader from here by its module path."""
from . import DataLoader, default_collate  # noqa: F401
