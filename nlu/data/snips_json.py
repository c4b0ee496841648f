"""The Snips NLU benchmark's JSON (Coucke et al. 2018, ``2017-06-custom-intent-engines``).

One file per intent and split (``train_PlayMusic_full.json``), or any file of this shape::

    {"PlayMusic": [{"data": [{"text": "play "}, {"text": "Sean Paul", "entity": "artist"}]}, ...]}

Each chunk is split into words by the toolkit's word rule (:func:`nlu.data.alignment.split_words`, the rule the
runtime applies at inference), chunk by chunk so that slot boundaries are word boundaries. Unlike the JointBERT
copy of SNIPS (lower-cased, punctuation removed), case and punctuation are kept as written. Errors name the file
and the JSON path of the utterance (``PlayMusic[12].data[1]``): the format puts a whole intent on one line.
"""

from __future__ import annotations

import json
from pathlib import Path

from nlu.data.alignment import split_words
from nlu.data.example import Example
from nlu.data.readers import ReadStats, check_example, finish, read_text
from nlu.errors import DataError


def read(
    path: str | Path, *, split: str | None = None, lang: str = "en", prefix: str | None = None
) -> list[Example]:
    path = Path(path)
    prefix = prefix or f"snips-{path.stem}"
    try:
        document = json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise DataError(f"{path}:{err.lineno}: malformed JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(document, dict):
        raise DataError(f"{path}: expected a JSON object mapping each intent to its utterances")
    stats = ReadStats()
    examples: list[Example] = []
    for intent, utterances in document.items():
        if not isinstance(utterances, list):
            raise DataError(f"{path}: {intent}: expected a list of utterances")
        for i, utterance in enumerate(utterances):
            where = f"{path}: {intent}[{i}]"
            chunks = utterance.get("data") if isinstance(utterance, dict) else None
            if not isinstance(chunks, list):
                raise DataError(f"{where}: expected an object with a 'data' list of chunks")
            tokens: list[str] = []
            tags: list[str] = []
            for j, chunk in enumerate(chunks):
                if not isinstance(chunk, dict) or not isinstance(chunk.get("text"), str):
                    raise DataError(f"{where}.data[{j}]: a chunk needs a 'text' string")
                words = [w for w, _, _ in split_words(chunk["text"])]
                entity = chunk.get("entity")
                if entity and not words:
                    raise DataError(f"{where}.data[{j}]: entity {entity!r} has no words")
                tokens += words
                tags += [f"B-{entity}"] + [f"I-{entity}"] * (len(words) - 1) if entity else ["O"] * len(words)
            example = Example(
                id=f"{prefix}-{len(examples):05d}", tokens=tokens, tags=tags, intent=intent, lang=lang
            )
            examples.append(check_example(example, where, stats))
    return finish(path, examples, stats)
