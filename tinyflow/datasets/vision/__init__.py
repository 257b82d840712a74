"""torchvision's `datasets` and `transforms` for the datasets tinyflow ships (MNIST,
Fashion-MNIST), so `from torchvision import datasets, transforms` becomes
`from tinyflow.datasets.vision import datasets, transforms` and the program runs unchanged.
Images are uint8 NumPy arrays where torchvision hands a PIL image to the transform."""
from . import datasets, transforms  # noqa: F401
