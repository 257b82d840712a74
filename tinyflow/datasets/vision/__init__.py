"""torchvision's `datasets`, `transforms`, `models` and `utils` for what tinyflow ships
(MNIST, Fashion-MNIST, FakeData; classification models without downloaded weights; image
grids), so `from torchvision import datasets, transforms` becomes
`from tinyflow.datasets.vision import datasets, transforms` and the program runs unchanged.
Images are uint8 NumPy arrays where torchvision hands a PIL image to the transform."""
from . import datasets, models, transforms, utils  # noqa: F401
