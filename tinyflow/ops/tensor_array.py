"""TF1's TensorArray as values: its elements are the rows of one buffer tensor (TF1's `flow`),
and a write makes a new buffer, so a TensorArray is an ordinary loop variable of
`tf.while_loop` and gradients flow through it like any tensor (symbolic/tensor_array.py
is the front end; a read is a `take` of a row).

While no element shape is known, the buffer is a placeholder row per element ([size]
zeros); the first write of a non-scalar fixes the element shape and allocates the rows."""
from __future__ import annotations

from ..core.op import Op, apply
from .indexing import Take


class TensorArrayWrite(Op):
    """A copy of `buffer` with row `index` set to `value`. With `grows`, an index past the
    last row adds rows (zeros) up to it (TF1's dynamic_size).

    `in_place`: a while_loop body's write of its own loop variable that nothing else in the
    body reads (`owned_writes`). The loop owns that buffer (it copies it on entry),
    so the row is written where it is, rows are added by doubling, and a row written twice
    is refused (TF1 writes each element once): T writes cost O(T), not O(T^2) copies."""
    name = "tensor_array_write"
    saves_output = False
    grows: bool
    in_place: bool = False

    def infer(self, buffer, index, value):
        if not index.dtype.is_integer or index.shape not in ((), None):
            raise TypeError(f"TensorArray.write: the index must be an int scalar, got "
                            f"{index.dtype.name} of shape {index.shape}")
        if value.dtype is not buffer.dtype:
            raise TypeError(f"TensorArray.write: the array holds {buffer.dtype.name}, got a "
                            f"value of {value.dtype.name}")
        if buffer.shape is None or value.shape is None:
            return None, buffer.dtype
        rows = None if self.grows else buffer.shape[0]
        if len(buffer.shape) > 1 and not _fits(buffer.shape[1:], value.shape):
            raise element_shape_error(buffer.shape[1:], value.shape)
        return (rows, *value.shape), buffer.dtype

    def vjp(self, g, out, buffer, index, value):
        return (apply(TensorArrayWriteGrad(), g, index, buffer), None,
                apply(Take(axis=0), g, index))


class TensorArrayWriteGrad(Op):
    """The adjoint of a write's buffer: `g` with the written row zeroed, cut to the rows
    `buffer` had (zeros when the buffer was still the placeholder rows)."""
    name = "tensor_array_write_grad"
    saves_output = False

    def infer(self, g, index, buffer):
        return buffer.shape, buffer.dtype

    def vjp(self, gg, out, g, index, buffer):
        raise NotImplementedError("TensorArray: gradients of a write's gradient (second "
                                  "order) are not supported")


def element_shape_error(known, got) -> ValueError:
    """A write of a value whose shape is not the elements' (found when built, or when run
    where the shapes were unknown before)."""
    return ValueError(f"TensorArray.write: the elements have shape {list(known)}, got a "
                      f"value of shape {list(got)}")


def written_twice_error(index) -> ValueError:
    """A second write of an element (found when built for a known index, or when run)."""
    return ValueError(f"TensorArray.write: element {index} was written already; each element "
                      f"is written once")


def out_of_range_error(index, size) -> IndexError:
    return IndexError(f"TensorArray.write: index {index} is outside the array's {size} "
                      f"elements (give dynamic_size=True to let it grow)")


def _fits(known, shape) -> bool:
    return len(known) == len(shape) and all(
        a is None or b is None or a == b for a, b in zip(known, shape))


def owned_writes(params, outputs, order, arrays) -> tuple:
    """The loop variables among `arrays` whose new value is a write into the variable
    itself, which nothing else of the body reads (a read of it could be run after the write
    and see the new row) or passes on as another loop variable (which would then share the
    buffer), and nothing reads after it; each such write node becomes an in-place one."""
    users = {}
    for node in order:
        for x in node.inputs:
            users.setdefault(id(x), []).append(node)
    owned = []
    for k in arrays:
        new, param = outputs[k], params[k]
        if (isinstance(new._op, TensorArrayWrite) and new.inputs[0] is param
                and not users.get(id(new)) and users.get(id(param)) == [new]
                and not any(o is param for o in outputs)):
            new._op = TensorArrayWrite(grows=new._op.grows, in_place=True)
            owned.append(k)
    return tuple(owned)


def write(buffer, index, value, grows: bool):
    return apply(TensorArrayWrite(grows=grows), buffer, index, value)
