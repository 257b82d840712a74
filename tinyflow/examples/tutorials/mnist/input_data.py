"""`input_data.read_data_sets(...)` of TF1's MNIST tutorials (tinyflow.datasets underneath)."""
from ....datasets.mnist import DataSet, Datasets, read_data_sets  # noqa: F401
