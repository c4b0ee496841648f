"""The toolkit's own format: one JSON object a line, ``{"id", "tokens", "tags", "intent", "lang"}``.

``id`` and ``lang`` are optional; ``meta`` (a JSON object) is kept when present. Every other format converts
to this one losslessly, which is why ``nlu data convert`` writes it by default.
"""

from __future__ import annotations

import json
from pathlib import Path

from nlu.data.example import Example
from nlu.data.readers import ReadStats, check_example, finish, json_objects
from nlu.errors import DataError


def read(path: str | Path, *, split: str | None = None, lang: str = "en") -> list[Example]:
    """Read every line of ``path`` (``split`` is accepted for the common reader signature and ignored)."""
    path = Path(path)
    stats = ReadStats()
    examples: list[Example] = []
    for lineno, where, obj in json_objects(path, ("tokens", "tags", "intent")):
        if not isinstance(obj["tokens"], list) or not isinstance(obj["tags"], list):
            raise DataError(f"{where}: 'tokens' and 'tags' must be lists of strings")
        for key in ("tokens", "tags"):
            bad = next((i for i, v in enumerate(obj[key]) if not isinstance(v, str)), None)
            if bad is not None:
                raise DataError(
                    f"{where}: {key}[{bad}] is {json.dumps(obj[key][bad])}, not a string; every entry of "
                    f"'{key}' must be a string"
                )
        if not isinstance(obj["intent"], str):
            raise DataError(
                f"{where}: 'intent' is {json.dumps(obj['intent'])}, not a string; give the intent's name"
            )
        meta = obj.get("meta") or {}
        if not isinstance(meta, dict):
            raise DataError(f"{where}: 'meta' must be a JSON object")
        example = Example(
            id=str(obj.get("id", f"{path.stem}-{lineno:05d}")),
            tokens=obj["tokens"],
            tags=obj["tags"],
            intent=obj["intent"],
            lang=str(obj.get("lang", lang)),
            meta=meta,
        )
        examples.append(check_example(example, where, stats))
    return finish(path, examples, stats)


def write(examples: list[Example], path: str | Path) -> None:
    with Path(path).open("w", encoding="utf-8") as f:
        for ex in examples:
            f.write(json.dumps(ex.to_dict(), ensure_ascii=False) + "\n")
