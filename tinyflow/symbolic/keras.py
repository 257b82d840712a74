"""`tf.keras`, only as TF1 programs use it to get data: `tf.keras.datasets.mnist` and
`fashion_mnist` `.load_data()`, read from the local copies (`$TINYFLOW_DATA_DIR`). The rest
of Keras (models, layers, optimizers) is refused by name: tinyflow's layers are `tf.layers`
and `torch.nn`."""
import functools
import types

from ..datasets import mnist as _mnist


class _Refusing(types.SimpleNamespace):
    """A namespace that names what it lacks."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(f"{self._path}.{name} is not supported by tinyflow (tf.keras has "
                             f"only tf.keras.datasets.mnist and tf.keras.datasets."
                             f"fashion_mnist; use tf.layers or torch.nn for models)")


def _load_data(name: str, path=None):
    """((x_train, y_train), (x_test, y_test)) as uint8 arrays; `path` (Keras's cache file
    name) is ignored."""
    return _mnist.load_data(name)


datasets = _Refusing(
    _path="tf.keras.datasets",
    mnist=types.SimpleNamespace(load_data=functools.partial(_load_data, "mnist")),
    fashion_mnist=types.SimpleNamespace(load_data=functools.partial(_load_data,
                                                                    "fashion-mnist")))
keras = _Refusing(_path="tf.keras", datasets=datasets)
