"""The Python API as the README shows it: ``nlu.load_parser`` opens a trained model and an exported artifact
alike, the README's snippet runs as written (on the test models), and the verbs say what they return."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_snippet() -> str:
    """The Python block of the README's "Python API" section."""
    section = README.read_text(encoding="utf-8").split("### Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.parametrize("kind", ["model", "artifact"])
def test_the_readme_snippet_runs_on_a_model_and_an_artifact(kind, tiny_mixed_model_dir, artifact_dir, capsys):
    import nlu
    from nlu.prediction import Prediction

    path = tiny_mixed_model_dir(True) if kind == "model" else artifact_dir
    snippet = readme_snippet()
    assert 'load_parser("runs/quickstart/best")' in snippet
    scope: dict = {}
    exec(snippet.replace('"runs/quickstart/best"', repr(str(path))), scope)  # noqa: S102 - the README's own code
    parser = scope["parser"]
    assert type(parser).__name__ == ("TorchParser" if kind == "model" else "OnnxParser")
    assert isinstance(scope["prediction"], Prediction)
    assert scope["prediction"].intent in parser.intent_labels
    batch = parser.parse_batch(["play some jazz", "book a table for two"])
    assert len(batch) == 2 and all(isinstance(p, Prediction) for p in batch)
    assert capsys.readouterr().out.startswith(scope["prediction"].intent)
    assert nlu.load_parser is nlu.parser.load_parser


def test_a_string_is_one_utterance_and_words_parse_as_the_evaluator_parses(artifact_dir):
    from nlu import load_parser

    parser = load_parser(artifact_dir)
    assert len(parser.parse_batch("book a flight")) == 1
    [from_words] = parser.parse_words([["book", "a", "flight"]])
    assert from_words.intent == parser.parse("book a flight").intent


def test_the_verbs_say_what_they_return():
    from nlu.inference import TorchParser
    from nlu.parser import Parser
    from nlu.runtime import Parser as OnnxParser

    for cls in (Parser, TorchParser, OnnxParser):
        for verb in ("parse", "parse_batch", "parse_words"):
            doc = getattr(cls, verb).__doc__
            assert doc and len(doc.split()) >= 5, f"{cls.__name__}.{verb} has no docstring"
