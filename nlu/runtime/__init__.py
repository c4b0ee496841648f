"""The torch-free runtime: load an artifact directory written by ``nlu export`` and parse utterances.

Imports only onnxruntime, tokenizers and numpy (and the standard library)::

    from nlu.runtime import Parser
    parser = Parser.load("artifacts/atis")
    parser.parse("show me flights from boston to denver").to_dict()
"""

from nlu.errors import ArtifactError
from nlu.runtime.parser import Parser

__all__ = ["ArtifactError", "Parser"]
