"""ONNX export: ``export_model`` writes an artifact directory that ``nlu.runtime.Parser`` loads."""

from nlu.export.exporter import export_model

__all__ = ["export_model"]
