"""torchvision as one package: `import torchvision` becomes `import tinyflow.vision as
torchvision`, and `import torchvision.models as models` becomes
`from tinyflow.vision import models`. The models (built from nn) live here; datasets,
transforms and utils are tinyflow.datasets.vision's (a lower layer: data needs no nn)."""
from ..datasets.vision import datasets, transforms, utils  # noqa: F401
from . import models  # noqa: F401
