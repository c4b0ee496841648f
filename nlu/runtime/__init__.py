"""The torch-free runtime: load an artifact directory written by ``nlu export`` and parse utterances.

Imports only onnxruntime, tokenizers and numpy (and the standard library)::

    from nlu.runtime import OnnxParser
    parser = OnnxParser.load("artifacts/atis")
    parser.parse("show me flights from boston to denver").to_dict()

``Parser`` is the same class under its earlier name; ``nlu.load_parser`` opens an artifact as this class too.
"""

from nlu.errors import ArtifactError
from nlu.runtime.parser import OnnxParser, Parser

__all__ = ["ArtifactError", "OnnxParser", "Parser"]
