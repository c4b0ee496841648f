"""Prompt templates for intent detection and slot filling with an instruction-tuned LLM (ILLUMINER, Mirza et al.
2024): the intent is chosen among natural-language descriptions of the intents, and the slots come from one
prompt per utterance that lists the candidate slot types with their descriptions and asks for ``slot: value``
lines.

A fine-tuned model (``model.prompting.finetune``) gets one prompt per utterance instead: the instruction as the
system message, the utterance as the user's (:func:`parse_prompt`), answered by the intent's name and the slot
lines (:func:`parse_reply`).

Prompts are kept compact for small models with short contexts: one instruction line, the options, the
demonstrations as ``Utterance:``/answer pairs (:func:`render_examples`), then the utterance. Descriptions come from
a label file (``nlu/data/cards/labels/<dataset>.yml``, read by ``load_label_file``); a label without one is shown as its
readable name. A rendered intent prompt::

    Which option says what the user wants?
    Options:
    - play a song, an album, a playlist or music by an artist on a service
    - ask for the weather forecast somewhere at some time

    Utterance: play some jazz on spotify
    Intent: play a song, an album, a playlist or music by an artist on a service

    Utterance: will it rain in paris tomorrow
    Intent:

and a slot prompt::

    Find the slots in the utterance. Slot types:
    - genre: a music genre such as jazz, pop or techno
    - service: a music streaming service such as spotify, deezer or youtube
    Copy each value from the utterance. Answer with one "slot: value" line per slot, or "none".

    Utterance: play some jazz on spotify
    Slots:
    genre: jazz
    service: spotify

    Utterance: play the beatles on deezer
    Slots:
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from nlu.data.bio import spans
from nlu.data.example import Example
from nlu.data.label_files import humanize

INTENT_INSTRUCTION = "Which option says what the user wants?"
CHOICE_INSTRUCTION = "Which option says what the user wants? Answer with the option number."
SLOT_INSTRUCTION = "Find the slots in the utterance. Slot types:"
SLOT_FORMAT = 'Copy each value from the utterance. Answer with one "slot: value" line per slot, or "none".'
NO_SLOTS = "none"
# The fine-tuned format (nlu.prompting.finetune): the instruction as the system message, the utterance alone as
# the user's, and a reply of the intent's name, then its slot lines.
PARSE_INSTRUCTION = (
    "Parse the utterance: answer with its intent on the first line, "
    'then one "slot: value" line per slot, or "none".'
)
# Where a generating backend should stop: the answer ends at a blank line or where a next demonstration begins.
STOP_SEQUENCES = ("\n\n", "\nUtterance:")


def utterance_text(example: Example) -> str:
    """The example's words joined with single spaces, as the demonstrations show them."""
    return " ".join(example.tokens)


def describe(name: str, descriptions: Mapping[str, str]) -> str:
    """A label's description, or its readable name (``PlayMusic`` -> ``play music``) when it has none."""
    return descriptions.get(name) or humanize(name)


def intent_options(intents: Mapping[str, str]) -> list[str]:
    """The options an intent prompt offers: option ``i`` describes ``list(intents)[i]`` (the mapping's order)."""
    return [describe(name, intents) for name in intents]


def slot_lines(example: Example) -> list[str]:
    """The example's slots as ``slot: value`` lines, in utterance order (from its word-level BIO tags)."""
    return [f"{kind}: {' '.join(example.tokens[first:last])}" for kind, first, last in spans(example.tags)]


def render_examples(
    examples: Sequence[Example],
    answer_label: str,
    answer: Callable[[Example], str],
    answer_on_next_line: bool = False,
) -> str:
    """Demonstrations as blocks of ``Utterance: <words>`` then ``<answer_label>: <answer(example)>`` (the answer
    on the line after the label with ``answer_on_next_line``), one blank line between blocks; ``""`` without
    examples."""
    joint = "\n" if answer_on_next_line else " "
    return "\n\n".join(
        f"Utterance: {utterance_text(example)}\n{answer_label}:{joint}{answer(example)}"
        for example in examples
    )


def _assemble(head: str, demonstrations: str, text: str, answer_label: str) -> str:
    parts = [head]
    if demonstrations:
        parts.append(demonstrations)
    parts.append(f"Utterance: {' '.join(text.split())}\n{answer_label}:")
    return "\n\n".join(parts)


def intent_prompt(
    text: str, intents: Mapping[str, str], examples: Sequence[Example] = ()
) -> tuple[str, list[str]]:
    """The prompt for choosing ``text``'s intent, and the options (one description per intent, in the order of
    ``intents``) a backend scores as continuations of the prompt. Each demonstration shows its intent's
    description."""
    options = intent_options(intents)
    head = "\n".join([INTENT_INSTRUCTION, "Options:", *(f"- {option}" for option in options)])
    demonstrations = render_examples(examples, "Intent", lambda ex: describe(ex.intent, intents))
    return _assemble(head, demonstrations, text, "Intent"), options


def intent_choice_prompt(
    text: str, intents: Mapping[str, str], examples: Sequence[Example] = ()
) -> tuple[str, list[str]]:
    """Like :func:`intent_prompt`, for backends that can only generate: the options are numbered from 1 and the
    model is asked for the number (read back with :func:`nlu.prompting.parsing.parse_choice`). A demonstration
    whose intent is not among the options shows its description instead of a number."""
    options = intent_options(intents)
    names = list(intents)
    head = "\n".join([CHOICE_INSTRUCTION, *(f"{i}. {option}" for i, option in enumerate(options, start=1))])

    def number(example: Example) -> str:
        return (
            str(names.index(example.intent) + 1)
            if example.intent in intents
            else describe(example.intent, {})
        )

    demonstrations = render_examples(examples, "Answer", number)
    return _assemble(head, demonstrations, text, "Answer"), options


def slot_prompt(text: str, slot_types: Mapping[str, str], examples: Sequence[Example] = ()) -> str:
    """The prompt asking for ``text``'s slots as ``slot: value`` lines (or ``none``), listing each candidate slot
    type with its description; demonstrations show their gold slots the same way."""
    head = "\n".join(
        [SLOT_INSTRUCTION, *(f"- {name}: {describe(name, slot_types)}" for name in slot_types), SLOT_FORMAT]
    )
    demonstrations = render_examples(
        examples, "Slots", lambda ex: "\n".join(slot_lines(ex)) or NO_SLOTS, answer_on_next_line=True
    )
    return _assemble(head, demonstrations, text, "Slots")


def parse_prompt(text: str) -> tuple[str, str]:
    """The fine-tuned format's prompt for ``text``: (user message, system message). Short on purpose: the model
    has learned the labels, so neither options nor descriptions are listed."""
    return " ".join(text.split()), PARSE_INSTRUCTION


def parse_reply(intent: str, lines: Sequence[str]) -> str:
    """The fine-tuned format's reply: the intent's name after a space (as likelihood scoring reads an option),
    then the slot lines, or ``none``: ``" PlayMusic\ngenre: jazz\nservice: spotify"``."""
    return f" {intent}\n" + ("\n".join(lines) or NO_SLOTS)
