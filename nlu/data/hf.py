"""Read a split of a Hugging Face dataset folder (written by ``save_to_disk``) into :class:`Example` records.

The dataset needs a tokens column (list of words), a tags column (list of BIO strings, or a ``ClassLabel``
sequence) and an intent column (string or ``ClassLabel``); ``columns`` (a recipe's ``data.columns``,
``nlu data stats --columns``) renames them.
"""

from __future__ import annotations

from nlu.data.bio import is_valid_tag, repair_bio
from nlu.data.example import Example
from nlu.data.registry import DataSource
from nlu.errors import DataError

DEFAULT_COLUMNS = {"tokens": "tokens", "tags": "tags", "intent": "intent"}


def _names(feature) -> list[str] | None:
    feature = getattr(feature, "feature", feature)  # Sequence(ClassLabel) -> ClassLabel
    if isinstance(feature, list) and feature:
        feature = feature[0]
    return getattr(feature, "names", None)


def load_hf_split(source: DataSource, split: str) -> list[Example]:
    import datasets

    unknown = sorted(set(source.columns or {}) - set(DEFAULT_COLUMNS))
    if unknown:
        raise DataError(
            f"{source.describe()}: columns maps {', '.join(unknown)}; it maps tokens, tags and intent to the "
            "dataset's column names, e.g. tokens=words"
        )
    columns = {**DEFAULT_COLUMNS, **(source.columns or {})}
    try:
        loaded = datasets.load_from_disk(source.location)
        dataset = loaded[split] if isinstance(loaded, datasets.DatasetDict) else loaded
    except KeyError:
        raise DataError(f"{source.describe()}: no split {split!r}") from None
    except Exception as err:  # damaged or foreign files: all reach the user the same way
        raise DataError(f"{source.describe()}: could not load split {split!r}: {err}") from None
    missing = [c for c in columns.values() if c not in dataset.column_names]
    if missing:
        raise DataError(
            f"{source.describe()}: column(s) {', '.join(missing)} not found (has {', '.join(dataset.column_names)}); "
            "map them with data.columns in the recipe"
        )
    tag_names = _names(dataset.features[columns["tags"]])
    intent_names = _names(dataset.features[columns["intent"]])
    examples = []
    for i, row in enumerate(dataset):
        tags = [tag_names[t] if tag_names else str(t) for t in row[columns["tags"]]]
        intent = row[columns["intent"]]
        intent = intent_names[intent] if intent_names else str(intent)
        tokens = [str(t) for t in row[columns["tokens"]]]
        where = f"{source.describe()} split {split!r} row {i}"
        if len(tokens) != len(tags) or not tokens:
            raise DataError(f"{where}: {len(tokens)} tokens but {len(tags)} tags")
        if not all(is_valid_tag(t) for t in tags):
            raise DataError(f"{where}: tags are not BIO: {tags}")
        tags, _ = repair_bio(tags)
        examples.append(
            Example(id=str(row.get("id", f"{split}-{i:05d}")), tokens=tokens, tags=tags, intent=intent)
        )
    if not examples:
        raise DataError(f"{source.describe()}: split {split!r} is empty")
    return examples
