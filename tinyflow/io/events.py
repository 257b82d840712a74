"""TensorBoard event files, as TF1's `tf.summary.FileWriter` writes them: TFRecord records
(length, masked CRC-32C of the length, data, masked CRC-32C of the data) each holding an
`Event` protocol buffer (wall_time 1, step 2, file_version 3, graph_def 4, summary 5)."""
from __future__ import annotations

import os
import socket
import struct
import time

from ..core.protobuf import bytes_field, double_field, int_field


def _crc32c_table() -> list:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), the checksum of TFRecord files."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def record(data: bytes) -> bytes:
    """One TFRecord."""
    length = struct.pack("<Q", len(data))
    return (length + struct.pack("<I", masked_crc32c(length)) + data +
            struct.pack("<I", masked_crc32c(data)))


def event(step: int = 0, wall_time: float | None = None, **what) -> bytes:
    """An Event with one of file_version (str), graph_def (bytes), summary (bytes)."""
    fields = {"file_version": 3, "graph_def": 4, "summary": 5}
    body = double_field(1, time.time() if wall_time is None else wall_time)
    if step:
        body += int_field(2, step)
    for key, value in what.items():
        body += bytes_field(fields[key], value)
    return body


class EventFileWriter:
    """Appends events to `logdir/events.out.tfevents.<seconds>.<host>`, each written through at
    once (a reader such as TensorBoard sees every event as soon as it is added)."""

    def __init__(self, logdir: str, filename_suffix: str = "") -> None:
        os.makedirs(logdir, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}"
        self.path = os.path.join(logdir, name + filename_suffix)
        self._file = open(self.path, "ab")
        self.add(event(file_version="brain.Event:2"))

    def add(self, event_bytes: bytes) -> None:
        if self._file is None:
            raise RuntimeError(f"the event file {self.path} is closed")
        self._file.write(record(event_bytes))
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
