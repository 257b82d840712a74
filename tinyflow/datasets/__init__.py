"""Standard datasets (MNIST, Fashion-MNIST), loaded with NumPy only."""

from tinyflow.datasets.mnist import (
    DataSet,
    DatasetDownloadError,
    DatasetError,
    Datasets,
    get_fashion_mnist,
    get_mnist,
    read_data_sets,
)

__all__ = [
    "DataSet",
    "DatasetDownloadError",
    "DatasetError",
    "Datasets",
    "get_fashion_mnist",
    "get_mnist",
    "read_data_sets",
]
