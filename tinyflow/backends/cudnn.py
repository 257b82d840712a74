"""`torch.backends.cudnn`: no cuDNN here. `cudnn.benchmark = True` and
`cudnn.deterministic = True` are accepted and change nothing (tinyflow's CPU kernels pick no
algorithm by timing and are deterministic)."""
from ._absent import flags, is_available, is_built  # noqa: F401

enabled = True          # PyTorch's defaults, so code that reads them sees the usual values
benchmark = False
deterministic = False
allow_tf32 = True


def version():
    """None, as in a PyTorch built without cuDNN."""
    return None
