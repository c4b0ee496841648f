"""examples/bot.py: its answers, and that it runs on the runtime alone (torch is never imported)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from nlu.prediction import Entity, Prediction

BOT = Path(__file__).resolve().parents[2] / "examples" / "bot.py"


@pytest.fixture(scope="module")
def bot():
    spec = importlib.util.spec_from_file_location("example_bot", BOT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _prediction(intent, confidence=0.9, **slots) -> Prediction:
    entities = [Entity(name, value, 0, len(value), 0.9) for name, values in slots.items() for value in values]
    return Prediction(text="...", intent=intent, intent_confidence=confidence, entities=entities)


def test_respond_uses_the_most_specific_template_it_can_fill(bot):
    assert bot.respond(_prediction("turn_on_device", device=["fan"], room=["kitchen"])) == (
        "Turning on the fan in the kitchen."
    )
    assert bot.respond(_prediction("turn_on_device", device=["fan"])) == "Turning on the fan."
    assert bot.respond(_prediction("add_to_shopping_list", item=["milk", "eggs"])) == (
        "Added milk and eggs to your shopping list."
    )


def test_respond_falls_back_to_what_it_understood(bot):
    assert bot.respond(_prediction("turn_on_device", room=["kitchen"])) == (
        "I understood turn_on_device with room='kitchen'."
    )
    assert bot.respond(_prediction("order_pizza")) == "I understood order_pizza with no slots."
    assert bot.respond(Prediction(text="", intent=None, intent_confidence=0.0)).startswith("Say something")


def test_the_fallback_intent_is_a_sorry(bot):
    """ "hello" got "I understood play_music": a model gives every utterance one of its intents."""
    assert bot.respond(_prediction("nlu_fallback", confidence=0.7)).startswith("Sorry, I did not understand.")


def _run_bot(*args, stdin: str | None = None) -> subprocess.CompletedProcess:
    # -X importtime lists every module the interpreter imports, on stderr: an honest check for torch.
    return subprocess.run(
        [sys.executable, "-X", "importtime", str(BOT), *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _imported(stderr: str) -> set[str]:
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def _with_the_bots_fallback(bot, artifact_dir):
    from nlu.runtime import OnnxParser

    return OnnxParser.load(
        artifact_dir, fallback_threshold=bot.FALLBACK_THRESHOLD, ambiguity_threshold=bot.AMBIGUITY_THRESHOLD
    )


def test_bot_answers_once_without_importing_torch(bot, artifact_dir):
    text = "turn on the lights in the kitchen"
    result = _run_bot(artifact_dir, "--once", text)
    assert result.returncode == 0, result.stderr
    assert result.stdout == bot.respond(_with_the_bots_fallback(bot, artifact_dir).parse(text)) + "\n"
    imported = _imported(result.stderr)
    assert "onnxruntime" in imported  # the check sees the imports it should
    assert not {m for m in imported if m.split(".")[0] in ("torch", "transformers")}


def test_bot_reads_stdin_until_its_end(bot, parser, artifact_dir):
    lines = ["play hey jude by the beatles", "", "set an alarm for 7 am"]
    result = _run_bot(
        artifact_dir, "--fallback-threshold", "0", "--ambiguity-threshold", "0", stdin="\n".join(lines) + "\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        bot.respond(parser.parse(t)) for t in lines
    ]  # no fallback: the model's


def test_hello_gets_a_sorry(bot, artifact_dir):
    result = _run_bot(artifact_dir, "--once", "hello", "--fallback-threshold", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == bot.DID_NOT_UNDERSTAND + "\n"


def test_bot_on_a_bad_artifact(tmp_path):
    result = _run_bot(tmp_path / "missing", "--once", "hi")
    assert result.returncode == 2
    assert "error: " in result.stderr and "Traceback" not in result.stderr
