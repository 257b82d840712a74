"""TF1's `tf.contrib`, as far as its tutorials use it: `tf.contrib.rnn`,
`tf.contrib.layers.flatten` and the embedding projector's config (`tf.contrib.tensorboard`).
Any other contrib package (factorization, tensor_forest, ...) is refused by name, both as an
attribute (`tf.contrib.slim`) and as an import (`from tensorflow.contrib.factorization import
KMeans`), so a program stops where it asks for it rather than on a vague missing module."""
import importlib.abc
import sys

from . import layers, rnn, tensorboard  # noqa: F401

SUPPORTED = ("layers", "rnn", "tensorboard")


def _unsupported(name: str) -> str:
    return (f"tf.contrib.{name} is not supported by tinyflow (tf.contrib has only "
            f"{', '.join('tf.contrib.' + s for s in SUPPORTED)})")


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(_unsupported(name))


class _RefuseContrib(importlib.abc.MetaPathFinder):
    """Answers an import of a contrib package tinyflow lacks with an error naming it."""

    def find_spec(self, fullname, path=None, target=None):
        prefix = __name__ + "."
        if fullname.startswith(prefix):
            package = fullname[len(prefix):].split(".")[0]
            if package not in SUPPORTED:
                raise ModuleNotFoundError(_unsupported(package), name=fullname)
        return None


if not any(isinstance(f, _RefuseContrib) for f in sys.meta_path):
    sys.meta_path.append(_RefuseContrib())
