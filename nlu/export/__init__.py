"""ONNX export: ``export_model`` writes an artifact directory that ``nlu.runtime.Parser`` loads.

``nlu.export.onnx_config`` (how each architecture exports) is torch-free; ``export_model`` imports torch when
first used."""

from __future__ import annotations

from typing import Any

__all__ = ["export_model"]


def __getattr__(name: str) -> Any:
    if name == "export_model":
        from nlu.export.exporter import export_model

        return export_model
    raise AttributeError(f"module 'nlu.export' has no attribute {name!r}")
