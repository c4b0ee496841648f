"""nlu: intent detection and slot filling — train, evaluate, export and serve joint models.

Importing ``nlu`` is cheap on purpose (no torch): the torch-free runtime lives in ``nlu.runtime``.
"""

from importlib.metadata import PackageNotFoundError, version

from nlu.errors import DISTRIBUTION

try:
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # running from a checkout that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["Parser", "Prediction", "__version__", "load_parser"]


def __getattr__(name: str):
    """``nlu.load_parser``, ``nlu.Parser`` and ``nlu.Prediction``, imported when first used."""
    if name in ("load_parser", "Parser"):
        import nlu.parser

        return getattr(nlu.parser, name)
    if name == "Prediction":
        from nlu.prediction import Prediction

        return Prediction
    raise AttributeError(f"module 'nlu' has no attribute {name!r}")
