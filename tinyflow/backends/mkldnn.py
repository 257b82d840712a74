"""`torch.backends.mkldnn`: no oneDNN here; `flags(enabled=False)` is accepted."""
from ._absent import flags, is_available  # noqa: F401

enabled = False
