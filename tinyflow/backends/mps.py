"""`torch.backends.mps`: no Apple GPU here."""
from ._absent import is_available, is_built  # noqa: F401
