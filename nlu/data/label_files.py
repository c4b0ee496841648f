"""Label files: names and one-line descriptions of intents and slot types, read by the zero-shot model and the
prompting backend; and label names made readable (label texts).

A label file is YAML with up to two sections, each a mapping from a label name to a one-line description::

    intents:
      PlayMusic: play a song, an album or an artist's music
      GetWeather:            # no description: the readable name alone ("get weather") is encoded
    slots:
      artist: the name of a singer or a band
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from nlu.data.registry import label_file
from nlu.errors import DataError

SECTIONS = ("intents", "slots")
_SEPARATORS = re.compile(r"[\W_]+")


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


def load_label_file(path: str | Path) -> tuple[dict[str, str], dict[str, str]]:
    """``(intent name -> description, slot type -> description)`` from a YAML label file, given by its path or
    by the name of one that ships with nlu (``snips``: see :func:`nlu.data.registry.label_file`); a name without a
    description maps to ``""``. Raises :class:`DataError` naming the file and every malformed key at once."""
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
        for name, description in entries.items():
            if not isinstance(name, str) or not name.strip():
                problems.append(f"{path}: {section}.{name}: a label name must be a non-empty string")
            elif description is not None and not isinstance(description, str):
                problems.append(
                    f"{path}: {section}.{name}: expected a one-line description (a string), "
                    f"got {_kind(description)}"
                )
            else:
                sections[section][name] = " ".join((description or "").split())
    if problems:
        raise DataError("\n".join(problems))
    return sections["intents"], sections["slots"]


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return f"{type(value).__name__} {value!r}"
