"""torchvision's `datasets`, `transforms` and `utils` for what tinyflow ships (MNIST,
Fashion-MNIST, FakeData; image grids), so `from torchvision import datasets, transforms`
becomes `from tinyflow.datasets.vision import datasets, transforms` and the program runs
unchanged; `tinyflow.vision` adds the models. Images are uint8 NumPy arrays where
torchvision hands a PIL image to the transform."""
from . import datasets, transforms, utils  # noqa: F401
