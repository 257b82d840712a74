"""torchvision as one package: `import torchvision` becomes `import tinyflow.vision as
torchvision`, and `import torchvision.models as models` becomes
`from tinyflow.vision import models`. The models (built from nn) live here; datasets,
transforms and utils are tinyflow.datasets.vision's (a lower layer: data needs no nn), entered
in `sys.modules` under this package's name too, so `import torchvision.transforms as T`
becomes `import tinyflow.vision.transforms as T`."""
import sys

from ..datasets.vision import datasets, io, transforms, utils
from ..datasets.vision.transforms import functional as _functional
from . import models  # noqa: F401

for _module in (datasets, io, transforms, utils, _functional):
    sys.modules.setdefault(__name__ + _module.__name__[len("tinyflow.datasets.vision"):],
                           _module)
