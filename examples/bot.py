"""A small rule-based dialogue bot on the torch-free runtime: intent -> response template filled with the slots.

    pip install 'nlu-toolkit[runtime]'          # onnxruntime + tokenizers, no torch
    python examples/bot.py artifacts/demo       # chat on stdin; Ctrl-D ends
    python examples/bot.py artifacts/demo --once "turn on the lights in the kitchen"

The templates below are for the packaged DEMO data set (``nlu train recipes/quickstart.yaml``, then
``nlu export``). Each intent lists templates from the most to the least specific; the bot uses the first one
whose ``{slots}`` were all found. An intent without a usable template gets "I understood <intent> with <slots>",
so the bot answers sensibly for any model.

A model answers every utterance with one of its intents, "hello" too (the DEMO set has no greeting). The parser
is loaded with a fallback threshold, as Rasa's FallbackClassifier works: below it, or when the two best intents
are closer than the ambiguity threshold, the intent is ``nlu_fallback`` and the bot says it did not understand.
"""

from __future__ import annotations

import argparse
import string
import sys

from nlu.prediction import Prediction
from nlu.rules import FALLBACK_INTENT
from nlu.runtime import ArtifactError, OnnxParser

FALLBACK_THRESHOLD = 0.7  # below this intent confidence the bot asks again (--fallback-threshold)
AMBIGUITY_THRESHOLD = 0.1  # ... and when the two best intents are closer than this (--ambiguity-threshold)
DID_NOT_UNDERSTAND = (
    "Sorry, I did not understand. I can switch devices, set alarms, play music, find restaurants and flights."
)

RESPONSES: dict[str, list[str]] = {
    "turn_on_device": ["Turning on the {device} in the {room}.", "Turning on the {device}."],
    "turn_off_device": ["Turning off the {device} in the {room}.", "Turning off the {device}."],
    "set_temperature": ["Setting the {room} to {temperature}.", "Setting the temperature to {temperature}."],
    "get_weather": ["Here is the weather for {city} {date}.", "Here is the weather for {city}."],
    "set_alarm": ["Alarm set for {time} {date}.", "Alarm set for {time}.", "For what time?"],
    "play_music": ["Playing {song} by {artist}.", "Playing {song}.", "Playing some {artist}."],
    "find_restaurant": ["Looking for {cuisine} restaurants in {city}.", "Looking for {cuisine} restaurants."],
    "book_flight": ["Searching flights from {fromloc} to {toloc} {date}.", "Searching flights to {toloc}."],
    "add_to_shopping_list": ["Added {item} to your shopping list.", "What should I add?"],
}


def slot_values(prediction: Prediction) -> dict[str, str]:
    """Entity name -> its value; several values of one entity are joined with "and"."""
    values: dict[str, list[str]] = {}
    for entity in prediction.entities:
        values.setdefault(entity.entity, []).append(entity.value)
    return {name: " and ".join(found) for name, found in values.items()}


def respond(prediction: Prediction) -> str:
    if prediction.intent is None:
        return "Say something and I'll try to help."
    if prediction.intent == FALLBACK_INTENT:
        return DID_NOT_UNDERSTAND
    slots = slot_values(prediction)
    for template in RESPONSES.get(prediction.intent, []):
        needed = {field for _, field, _, _ in string.Formatter().parse(template) if field}
        if needed <= slots.keys():
            return template.format(**slots)
    described = ", ".join(f"{name}={value!r}" for name, value in slots.items()) or "no slots"
    return f"I understood {prediction.intent} with {described}."


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    args.add_argument("artifact", help="an artifact directory written by `nlu export`")
    args.add_argument("--once", metavar="TEXT", help="answer TEXT and exit instead of reading stdin")
    args.add_argument(
        "--fallback-threshold",
        type=float,
        default=FALLBACK_THRESHOLD,
        help="say 'sorry' below this confidence",
    )
    args.add_argument(
        "--ambiguity-threshold",
        type=float,
        default=AMBIGUITY_THRESHOLD,
        help="say 'sorry' when the two best intents are closer than this",
    )
    options = args.parse_args()
    try:
        parser = OnnxParser.load(
            options.artifact,
            fallback_threshold=options.fallback_threshold,
            ambiguity_threshold=options.ambiguity_threshold,
        )
    except ArtifactError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if options.once is not None:
        print(respond(parser.parse(options.once)))
        return 0
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            print("> ", end="", flush=True)
        line = sys.stdin.readline()
        if not line:  # end of input
            return 0
        print(respond(parser.parse(line.rstrip("\r\n"))), flush=True)


if __name__ == "__main__":
    sys.exit(main())
