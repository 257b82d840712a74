"""torchvision's `datasets`, `transforms` and `utils` for what tinyflow ships (MNIST,
Fashion-MNIST, FakeData, ImageFolder; crops, flips, resizes; image grids), so `from torchvision import datasets, transforms`
becomes `from tinyflow.datasets.vision import datasets, transforms` and the program runs
unchanged; `tinyflow.vision` adds the models. MNIST's and FakeData's images are uint8 NumPy
arrays where torchvision hands a PIL image to the transform; ImageFolder's are PIL images, as
torchvision's; the transforms take either."""
from . import datasets, transforms, utils  # noqa: F401
