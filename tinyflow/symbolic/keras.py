"""`tf.keras`, only as TF1 programs use it to get data: `tf.keras.datasets.mnist` and
`fashion_mnist` `.load_data()`, read from the local copies (`$TINYFLOW_DATA_DIR`). The rest
of Keras (models, layers, optimizers) is refused by name: tinyflow's layers are `tf.layers`
and `torch.nn`."""
import functools

from ..datasets import mnist as _mnist
from .app import Namespace


def _load_data(name: str, path=None):
    """((x_train, y_train), (x_test, y_test)) as uint8 arrays; `path` (Keras's cache file
    name) is ignored."""
    return _mnist.load_data(name)


datasets = Namespace(
    "tf.keras.datasets", __name__,
    mnist=Namespace("tf.keras.datasets.mnist", __name__,
                    load_data=functools.partial(_load_data, "mnist")),
    fashion_mnist=Namespace("tf.keras.datasets.fashion_mnist", __name__,
                            load_data=functools.partial(_load_data, "fashion-mnist")))
keras = Namespace("tf.keras", __name__, "; use tf.layers or torch.nn for models",
                  datasets=datasets)
