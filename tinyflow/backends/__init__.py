"""`torch.backends`: the accelerator libraries PyTorch can switch, none of which is here.
Each is a module, so `import torch.backends.cudnn as cudnn` works (as
`import tinyflow.backends.cudnn as cudnn`); its flags can be set and change nothing, and
`is_available()` says False. (tinyflow's own kernels are `tinyflow.backend`.)"""
from . import cpu, cuda, cudnn, mkldnn, mps  # noqa: F401
