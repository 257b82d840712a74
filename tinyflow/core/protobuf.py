"""The protocol buffer wire format, written by hand: the few field kinds the Summary and
Event messages of TensorBoard files need (tensorflow/core/framework/summary.proto and
util/event.proto are small)."""
from __future__ import annotations

import struct


def varint(n: int) -> bytes:
    """Base-128 varint; negative ints as their 64-bit two's complement, as protobuf does."""
    n &= (1 << 64) - 1
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def int_field(number: int, n: int) -> bytes:
    return varint(number << 3) + varint(int(n))


def double_field(number: int, x: float) -> bytes:
    return varint(number << 3 | 1) + struct.pack("<d", x)


def float_field(number: int, x: float) -> bytes:
    return varint(number << 3 | 5) + struct.pack("<f", x)


def bytes_field(number: int, data) -> bytes:
    """A length-delimited field: bytes, a str (UTF-8), a sub-message, a packed array."""
    data = data.encode() if isinstance(data, str) else bytes(data)
    return varint(number << 3 | 2) + varint(len(data)) + data
