"""ONNX export of inference graphs from either front end: `tinyflow.onnx.export(sess,
outputs, inputs, f)` (TF1) or `tinyflow.onnx.export(model, args, f, ...)` (as
`torch.onnx.export`). The onnx package is needed only when exporting."""
from .export import UnsupportedOpError, export, export_graph, export_module


def supported_ops() -> list:
    """Names of the ops that export (the others raise `UnsupportedOpError`)."""
    from .convert import CONVERTERS
    return sorted(cls.name for cls in CONVERTERS)


__all__ = ["UnsupportedOpError", "export", "export_graph", "export_module", "supported_ops"]
