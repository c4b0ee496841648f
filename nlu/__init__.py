"""nlu: intent detection and slot filling — train, evaluate, export and serve joint models.

Importing ``nlu`` is cheap on purpose (no torch): the torch-free runtime lives in ``nlu.runtime``.
"""

from importlib.metadata import PackageNotFoundError, version

from nlu.errors import DISTRIBUTION

try:
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # running from a checkout that was not installed
    __version__ = "0.0.0+unknown"
