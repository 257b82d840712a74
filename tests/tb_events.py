"""Reading TensorBoard event files in tests, with the protobuf library as the oracle: the
messages tinyflow writes by hand (Event, Summary, HistogramProto, Image, GraphDef) are
declared here from their field numbers in TensorFlow's .proto files, so a file the library
parses field by field was written in the real wire format."""
from __future__ import annotations

import struct

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto
_MESSAGES = {
    "Histo": [(1, "min", _F.TYPE_DOUBLE), (2, "max", _F.TYPE_DOUBLE), (3, "num", _F.TYPE_DOUBLE),
              (4, "sum", _F.TYPE_DOUBLE), (5, "sum_squares", _F.TYPE_DOUBLE),
              (6, "bucket_limit", _F.TYPE_DOUBLE, "repeated"),
              (7, "bucket", _F.TYPE_DOUBLE, "repeated")],
    "Image": [(1, "height", _F.TYPE_INT32), (2, "width", _F.TYPE_INT32),
              (3, "colorspace", _F.TYPE_INT32), (4, "encoded_image_string", _F.TYPE_BYTES)],
    "Value": [(1, "tag", _F.TYPE_STRING), (2, "simple_value", _F.TYPE_FLOAT),
              (4, "image", "Image"), (5, "histo", "Histo")],
    "Summary": [(1, "value", "Value", "repeated")],
    "NodeDef": [(1, "name", _F.TYPE_STRING), (2, "op", _F.TYPE_STRING),
                (3, "input", _F.TYPE_STRING, "repeated")],
    "GraphDef": [(1, "node", "NodeDef", "repeated")],
    "Event": [(1, "wall_time", _F.TYPE_DOUBLE), (2, "step", _F.TYPE_INT64),
              (3, "file_version", _F.TYPE_STRING), (4, "graph_def", _F.TYPE_BYTES),
              (5, "summary", "Summary")],
}


def _classes() -> dict:
    proto = descriptor_pb2.FileDescriptorProto(name="tinyflow_tests_events.proto",
                                               package="tbtest", syntax="proto3")
    for name, fields in _MESSAGES.items():
        message = proto.message_type.add(name=name)
        for number, field, kind, *label in fields:
            f = message.field.add(name=field, number=number,
                                  label=_F.LABEL_REPEATED if label else _F.LABEL_OPTIONAL)
            if isinstance(kind, str):
                f.type, f.type_name = _F.TYPE_MESSAGE, ".tbtest." + kind
            else:
                f.type = kind
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName("tbtest." + name))
            for name in _MESSAGES}


MESSAGES = _classes()


def parse_summary(data: bytes):
    return MESSAGES["Summary"].FromString(bytes(data))


def read_events(path) -> list:
    """The Events of a TFRecord file (checksums are checked by the tests that need it)."""
    data = open(path, "rb").read()
    events, i = [], 0
    while i < len(data):
        (n,) = struct.unpack("<Q", data[i:i + 8])
        events.append(MESSAGES["Event"].FromString(data[i + 12:i + 12 + n]))
        i += 12 + n + 4
    assert i == len(data), "a truncated record"
    return events
