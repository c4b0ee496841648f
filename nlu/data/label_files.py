"""Label files: names and one-line descriptions of intents and slot types, read by the zero-shot models and the
prompting backend, with optional example values of slot types; and label names made readable (label texts,
slot-type questions).

A label file is YAML with up to two sections, each a mapping from a label name to a one-line description, or to
a mapping with the description and (slot types only) a few example values, as Shah et al. (2019) give them::

    intents:
      PlayMusic: play a song, an album or an artist's music
      GetWeather:            # no description: the readable name alone ("get weather") is encoded
    slots:
      artist: the name of a singer or a band
      playlist:
        description: the name of a playlist
        examples: [workout mix, chill evening]

Both forms can be mixed in one file. :func:`load_label_file` gives the descriptions (what every reader of label
files takes); :func:`read_label_file` gives the example values too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nlu.data.registry import label_file
from nlu.errors import DataError

SECTIONS = ("intents", "slots")
ENTRY_KEYS = {"intents": ("description",), "slots": ("description", "examples")}
_SEPARATORS = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class LabelSet:
    """A label file's contents: intent name -> description, slot type -> description (``""`` for none, in file
    order), and slot type -> its example values (only the types that have some)."""

    intents: dict[str, str]
    slots: dict[str, str]
    slot_examples: dict[str, list[str]] = field(default_factory=dict)


def humanize(name: str) -> str:
    """A label name as words: ``PlayMusic`` -> ``play music``, ``fromloc.city_name`` -> ``fromloc city name``,
    ``alarm/set_alarm`` -> ``alarm set alarm``. CamelCase and acronym boundaries split (``HTTPRequest`` ->
    ``http request``); every run of punctuation, ``_`` or white space becomes one space."""
    chars: list[str] = []
    for i, char in enumerate(name):
        if char.isupper() and i > 0:
            prev, following = name[i - 1], name[i + 1] if i + 1 < len(name) else ""
            if prev.islower() or prev.isdigit() or (prev.isupper() and following.islower()):
                chars.append(" ")
        chars.append(char)
    return " ".join(_SEPARATORS.sub(" ", "".join(chars)).lower().split())


def label_text(name: str, description: str = "") -> str:
    """What the label encoder reads: ``"<humanised name>: <description>"``, or the humanised name alone."""
    description = " ".join(description.split())
    return f"{humanize(name)}: {description}" if description else humanize(name)


def question_text(name: str, description: str = "", examples: list[str] | tuple[str, ...] = ()) -> str:
    """The question a slot type asks of an utterance (the question-answering formulation, ``zeroshot_qa``): its
    label text and, where given, example values as Shah et al. (2019) use them:
    ``"artist: the name of a singer or a band; for example adele or the beatles"``."""
    text = label_text(name, description)
    values = [" ".join(str(v).split()) for v in examples if str(v).strip()]
    if not values:
        return text
    listed = values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"
    return f"{text}; for example {listed}"


def load_label_file(path: str | Path) -> tuple[dict[str, str], dict[str, str]]:
    """``(intent name -> description, slot type -> description)`` from a YAML label file, given by its path or
    by the name of one that ships with nlu (``snips``: see :func:`nlu.data.registry.label_file`); a name without a
    description maps to ``""``. Example values, where the file has some, are left out (:func:`read_label_file`
    reads them). Raises :class:`DataError` naming the file and every malformed key at once."""
    labels = read_label_file(path)
    return labels.intents, labels.slots


def read_label_file(path: str | Path) -> LabelSet:
    """Everything a YAML label file holds (see the module docstring): descriptions, and example values of slot
    types. Raises :class:`DataError` naming the file and every malformed key at once."""
    path = label_file(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise DataError(f"{path}: cannot read the label file: {err.strerror or err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise DataError(f"{where}: not valid YAML: {getattr(err, 'problem', None) or err}") from None
    if not isinstance(data, dict):
        raise DataError(
            f"{path}: expected a mapping with the sections {' and/or '.join(SECTIONS)}, got {_kind(data)}"
        )
    problems = [
        f"{path}: {key}: unknown section; expected {' or '.join(SECTIONS)}"
        for key in data
        if key not in SECTIONS
    ]
    if not any(key in data for key in SECTIONS) and not problems:
        problems.append(f"{path}: no labels; write an {SECTIONS[0]}: and/or a {SECTIONS[1]}: section")
    sections: dict[str, dict[str, str]] = {}
    examples: dict[str, list[str]] = {}
    for section in SECTIONS:
        entries = data.get(section)
        sections[section] = {}
        if entries is None:
            continue
        if not isinstance(entries, dict):
            problems.append(
                f"{path}: {section}: expected a mapping from name to description, got {_kind(entries)} "
                "(write `Name: description`, or `Name:` for a name without one)"
            )
            continue
        for name, entry in entries.items():
            where = f"{path}: {section}.{name}"
            if not isinstance(name, str) or not name.strip():
                problems.append(f"{where}: a label name must be a non-empty string")
                continue
            description, values, wrong = _entry(section, entry)
            problems.extend(f"{where}{problem}" for problem in wrong)
            if not wrong:
                sections[section][name] = " ".join((description or "").split())
                if values:
                    examples[name] = values
    if problems:
        raise DataError("\n".join(problems))
    return LabelSet(sections["intents"], sections["slots"], examples)


def _entry(section: str, entry: object) -> tuple[str | None, list[str], list[str]]:
    """One label's entry -> (description, example values, problems, each starting with the key it is about)."""
    if entry is None or isinstance(entry, str):
        return entry, [], []
    if not isinstance(entry, dict):
        form = "a one-line description (a string)"
        if section == "slots":
            form += " or a mapping {description: ..., examples: [...]}"
        return None, [], [f": expected {form}, got {_kind(entry)}"]
    allowed = ENTRY_KEYS[section]
    problems = [
        f".{key}: unknown key; expected {' or '.join(allowed)}"
        + (" (example values are read for slot types only)" if key == "examples" else "")
        for key in entry
        if key not in allowed
    ]
    description = entry.get("description")
    if description is not None and not isinstance(description, str):
        problems.append(f".description: expected a one-line description (a string), got {_kind(description)}")
    values = entry.get("examples") or []
    if not isinstance(values, list) or not all(isinstance(v, (str, int, float)) for v in values):
        problems.append(f".examples: expected a list of example values, got {_kind(values)}")
        values = []
    if any(isinstance(v, bool) for v in values):  # YAML reads yes, no, on, off as booleans
        problems.append(".examples: true/false is not an example value; quote it ('yes')")
    return description, [" ".join(str(v).split()) for v in values if str(v).strip()], problems


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return f"{type(value).__name__} {value!r}"
