"""BIO tag checks and repair."""

from __future__ import annotations


def slot_type(tag: str) -> str | None:
    """``B-city`` -> ``city``; ``O`` -> ``None``."""
    if tag == "O":
        return None
    return tag[2:] if tag[:2] in ("B-", "I-") else tag


def is_valid_tag(tag: str) -> bool:
    return tag == "O" or (tag[:2] in ("B-", "I-") and len(tag) > 2)


def repair_bio(tags: list[str]) -> tuple[list[str], int]:
    """Turn every ``I-X`` that does not follow ``B-X``/``I-X`` into ``B-X``.

    Returns the repaired tags and how many were changed. This is how conlleval reads such tags anyway, so the
    repair changes no span; it only makes the training targets consistent.
    """
    fixed: list[str] = []
    changed = 0
    prev_type: str | None = None
    for tag in tags:
        if tag.startswith("I-") and prev_type != tag[2:]:
            tag = "B-" + tag[2:]
            changed += 1
        fixed.append(tag)
        prev_type = slot_type(tag)
    return fixed, changed


def spans(tags: list[str]) -> list[tuple[str, int, int]]:
    """Slot spans as ``(slot_type, first_word, last_word_exclusive)``, reading a stray ``I-X`` as a start."""
    out: list[tuple[str, int, int]] = []
    current: list = []
    for i, tag in enumerate(tags):
        kind = slot_type(tag)
        if kind is not None and tag.startswith("I-") and current and current[0] == kind:
            current[2] = i + 1
            continue
        if current:
            out.append(tuple(current))
            current = []
        if kind is not None:
            current = [kind, i, i + 1]
    if current:
        out.append(tuple(current))
    return out
