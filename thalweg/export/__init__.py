"""Exporting trained models to other runtimes (layer 5): ONNX for now.

>>> from thalweg.export import export_onnx  # doctest: +SKIP
>>> export_onnx(model, "model.onnx")  # doctest: +SKIP
"""

from thalweg.export.onnx import ExportError, export_onnx, to_onnx

__all__ = ["ExportError", "export_onnx", "to_onnx"]
