"""`tf.contrib.layers`, the parts TF1 tutorials use: `flatten` and `xavier_initializer`;
any other name is refused by name."""
from ..nn.tf_batch_norm import batch_norm  # noqa: F401
from ..nn.tf_layers import flatten  # noqa: F401
from ..symbolic.variable_scope import glorot_uniform_initializer


def xavier_initializer(uniform=True, seed=None, dtype=None):
    """Glorot (Xavier) uniform initialization; the normal form is not supported."""
    if not uniform:
        raise NotImplementedError("tf.contrib.layers.xavier_initializer(uniform=False) is "
                                  "not supported (use uniform=True)")
    return glorot_uniform_initializer()


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"tf.contrib.layers.{name} is not supported by tinyflow (it has "
                         f"flatten and xavier_initializer)")
