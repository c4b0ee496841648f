"""Recommendation dialogues (ReDial) for the template-filling generator: reading, turn merging, and the
(context -> reply template + items) instances NTRD trains on.

Two input forms, told apart per line:

* normalized (``../shared/data/redial/{dev,test}.jsonl``): ``{"id", "messages": [{"role": "seeker" |
  "recommender", "text", "movies"}], "movie_titles": {"@123": "Title (year)"}}``;
* the official release (``train_data.jsonl`` / ``test_data.jsonl`` of ``redial_dataset.zip``):
  ``{"conversationId", "initiatorWorkerId", "messages": [{"senderWorkerId", "text"}], "movieMentions"}``, where
  the initiator is the seeker.

Consecutive messages of one speaker are merged into one turn, as KGSF and NTRD do. Every movie mention
``@<id>`` in a reply becomes the placeholder :data:`ITEM` in its template, and the ids, in order, are what the
item selector must fill in.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from nlu.data.readers import json_objects
from nlu.errors import RecordError
from nlu.generation.records import tokenize

ITEM = "__item__"
_MENTION = re.compile(r"@(\d+)")


@dataclass
class Turn:
    role: str  # "seeker" | "recommender"
    text: str
    movies: list[str] = field(default_factory=list)  # "@<id>" in order, repeats kept


@dataclass
class Dialogue:
    id: str
    turns: list[Turn]
    titles: dict[str, str]


@dataclass
class ReplyInstance:
    """One recommender turn to generate. ``context``: lower-cased words of the previous turns (movies as
    :data:`ITEM`), ``context_items``: movies mentioned so far (first mention order, no repeats), ``template``:
    the reply's words with :data:`ITEM` for each movie, ``items``: the reply's movies in order."""

    dialogue_id: str
    context: list[str]
    context_items: list[str]
    template: list[str]
    items: list[str]
    reference: str  # the reply as written, mentions as @id


def template_words(text: str) -> list[str]:
    return [ITEM if w == ITEM else w.lower() for w in tokenize(_MENTION.sub(f" {ITEM} ", text))]


def _merge(turns: list[Turn]) -> list[Turn]:
    merged: list[Turn] = []
    for turn in turns:
        if not turn.text.strip():
            continue
        if merged and merged[-1].role == turn.role:
            merged[-1] = Turn(turn.role, f"{merged[-1].text} {turn.text}", merged[-1].movies + turn.movies)
        else:
            merged.append(turn)
    return merged


def parse_dialogue(obj: object, where: str) -> Dialogue:
    if not isinstance(obj, dict) or not isinstance(obj.get("messages"), list):
        raise RecordError(f'{where}: expected a dialogue object with a "messages" list')
    if "conversationId" in obj:  # the official release
        seeker = obj.get("initiatorWorkerId")
        turns = []
        for i, m in enumerate(obj["messages"]):
            if not isinstance(m, dict) or not isinstance(m.get("text"), str):
                raise RecordError(f'{where}: message {i + 1}: expected {{"senderWorkerId", "text"}}')
            role = "seeker" if m.get("senderWorkerId") == seeker else "recommender"
            turns.append(Turn(role, m["text"], [f"@{x}" for x in _MENTION.findall(m["text"])]))
        titles = {f"@{k}": str(v) for k, v in (obj.get("movieMentions") or {}).items()}
        return Dialogue(f"redial-{obj['conversationId']}", _merge(turns), titles)
    turns = []
    for i, m in enumerate(obj["messages"]):
        if (
            not isinstance(m, dict)
            or m.get("role") not in ("seeker", "recommender")
            or not isinstance(m.get("text"), str)
        ):
            raise RecordError(f'{where}: message {i + 1}: expected {{"role": seeker|recommender, "text"}}')
        turns.append(Turn(m["role"], m["text"], [f"@{x}" for x in _MENTION.findall(m["text"])]))
    titles = obj.get("movie_titles") or {}
    if not isinstance(titles, dict):
        raise RecordError(f'{where}: "movie_titles" must map @id to a title')
    return Dialogue(str(obj.get("id", where)), _merge(turns), {str(k): str(v) for k, v in titles.items()})


def read_dialogues(path: str | Path) -> list[Dialogue]:
    """Every dialogue of a JSON-lines file; a bad line is named by file and line."""
    path = Path(path)
    dialogues = [parse_dialogue(obj, where) for _, where, obj in json_objects(path, ["messages"])]
    if not dialogues:
        raise RecordError(f"{path}: no dialogues")
    return dialogues


def read_catalogue(path: str | Path) -> dict[str, str]:
    """``movies_with_mentions.csv`` (``movieId,movieName,nbMentions``) -> ``{"@id": title}``."""
    path = Path(path)
    if not path.is_file():
        raise RecordError(f"{path}: no such file (the movie catalogue, movies_with_mentions.csv)")
    out = {}
    with path.open(encoding="utf-8", newline="") as f:
        for number, row in enumerate(csv.DictReader(f), 2):
            if not row.get("movieId") or row.get("movieName") is None:
                raise RecordError(f"{path}:{number}: expected movieId,movieName,nbMentions")
            out[f"@{row['movieId'].strip()}"] = " ".join(row["movieName"].split())
    return out


def reply_instances(dialogues: list[Dialogue], max_context_words: int = 256) -> list[ReplyInstance]:
    """Every recommender turn after the first turn, with the words and movies of all turns before it."""
    instances = []
    for d in dialogues:
        words: list[str] = []
        mentioned: list[str] = []
        for i, turn in enumerate(d.turns):
            if turn.role == "recommender" and i > 0:
                instances.append(
                    ReplyInstance(
                        d.id,
                        words[-max_context_words:],
                        list(mentioned),
                        template_words(turn.text),
                        list(turn.movies),
                        turn.text,
                    )
                )
            words.extend(template_words(turn.text) + ["__eot__"])
            mentioned.extend(m for m in turn.movies if m not in mentioned)
    return instances
