"""TF1's `tf.TensorArray`: a list of tensors of one dtype and element shape that a
`tf.while_loop` body writes one element per trip (the dynamic-RNN spelling). It is a value:
`write` returns a new TensorArray, and its elements are the rows of one buffer tensor,
`flow` (ops/tensor_array.py), which is what a loop carries and gradients flow through.

Supported: size (an int or int scalar tensor), dynamic_size, element_shape (else fixed by
the first write), write / read / stack / unstack / gather / concat / size / identity / close,
in a Session, in a loop and eagerly. clear_after_read and infer_shape are accepted; reading
an element twice is allowed, and an element never written reads as zeros."""
from __future__ import annotations

import numpy as np

from .. import ops
from ..core import dtypes
from ..core.op import apply, as_tensor
from ..core.shapes import as_shape
from ..core.tensor import Tensor
from ..ops import tensor_array as ta
from ..ops.creation import fill, tf1_constant
from ..ops.indexing import Take
from ..ops.shape import shape_of
from .control_flow import identity


class TensorArray:
    """A list of `size` tensors of `dtype`, as TF1's (see the module docstring)."""

    def __init__(self, dtype, size=None, dynamic_size=None, clear_after_read=None,
                 tensor_array_name=None, handle=None, flow=None, infer_shape=True,
                 element_shape=None, colocate_with_first_write_call=True, name=None) -> None:
        self.dtype = dtypes.as_dtype(dtype)
        self.dynamic_size = bool(dynamic_size)
        known = element_shape is not None and getattr(element_shape, "ndims", 0) is not None
        self.element_shape = as_shape(element_shape) if known else None
        if flow is None:
            if size is None:
                raise ValueError("TensorArray: give its size (or flow)")
            size = as_tensor(size)
            if not size.dtype.is_integer or size.shape not in ((), None):
                raise TypeError(f"TensorArray: size must be an int scalar, got "
                                f"{size.dtype.name} of shape {size.shape}")
            whole = self.element_shape is not None and None not in self.element_shape
            dims = [size, *self.element_shape] if whole else [size]
            zero = np.zeros((), self.dtype.np)
            flow = fill(dims, zero) if size.kind != "eager" else \
                tf1_constant(np.zeros([int(size.array), *dims[1:]], self.dtype.np))
        self.flow = flow
        self._written = frozenset()   # the indices known when built that writes set

    def _with(self, flow: Tensor, element_shape=None, written=frozenset()) -> "TensorArray":
        array = TensorArray(self.dtype, dynamic_size=self.dynamic_size, flow=flow,
                            element_shape=element_shape or self.element_shape)
        array._written = written
        return array

    def write(self, index, value, name=None) -> "TensorArray":
        """A TensorArray with element `index` set to value."""
        value = value if isinstance(value, Tensor) else tf1_constant(value, self.dtype,
                                                                    "TensorArray.write")
        index = as_tensor(index)
        known = {int(index.array)} if index.kind == "eager" and index.ndim == 0 else set()
        if known & self._written:
            raise ta.written_twice_error(int(index.array))
        flow = ta.write(self.flow, index, value, grows=self.dynamic_size)
        return self._with(flow, self.element_shape or value.shape, self._written | known)

    def read(self, index, name=None) -> Tensor:
        read = Take(axis=0, what="TensorArray.read", wraps=False)
        return self._shaped(apply(read, self.flow, as_tensor(index)), [])

    def gather(self, indices, element_shape=None, name=None) -> Tensor:
        gather = Take(axis=0, what="TensorArray.gather", wraps=False)
        return apply(gather, self.flow, as_tensor(indices))

    def stack(self, name=None) -> Tensor:
        """The elements stacked along a new first dim."""
        return self._shaped(identity(self.flow), [None])

    def _shaped(self, x: Tensor, lead: list) -> Tensor:
        """x, its static shape told the element shape (a loop's flow may not know it)."""
        if x.kind != "eager" and self.element_shape is not None:
            x.set_shape(lead + list(self.element_shape))
        return x

    def concat(self, name=None) -> Tensor:
        """The elements joined along their first dim."""
        rest = [] if self.element_shape is None else list(self.element_shape[1:])
        return ops.reshape(self.flow, [-1, *(-1 if d is None else d for d in rest)])

    def unstack(self, value, name=None) -> "TensorArray":
        """A TensorArray whose elements are value's rows."""
        value = as_tensor(value, dtype=self.dtype)
        return self._with(value, None if value.shape is None else value.shape[1:])

    def size(self, name=None) -> Tensor:
        return shape_of(self.flow)[0]

    def identity(self) -> "TensorArray":
        return self._with(self.flow)

    def close(self, name=None) -> None:
        return None
