"""torchvision's `datasets`, `transforms`, `utils` and `io` for what tinyflow ships (MNIST,
Fashion-MNIST, CIFAR-10/100, FakeData, ImageFolder; crops, flips, resizes; image grids;
read_image), so `from torchvision import datasets, transforms` becomes
`from tinyflow.datasets.vision import datasets, transforms` and the program runs unchanged;
`tinyflow.vision` adds the models. MNIST's, CIFAR's and FakeData's images are uint8 NumPy
arrays where torchvision hands a PIL image to the transform; ImageFolder's are PIL images,
as torchvision's; the transforms take either."""
from . import datasets, io, transforms, utils  # noqa: F401
