"""BIO tag checks and repair, and how a slot type carries an entity's role and group.

A slot type is an entity name, optionally followed by ``#<role>`` and ``@<group>`` (``city#destination``,
``pizza@1``, ``city#destination@2``): Rasa's entity roles and groups, trained as labels of their own and split
back into ``entity``, ``role`` and ``group`` in every prediction. ``#`` and ``@`` are therefore reserved in
slot types; data without roles and groups keeps its tags as they are.
"""

from __future__ import annotations

ROLE_MARK = "#"
GROUP_MARK = "@"


def split_slot_type(kind: str) -> tuple[str, str | None, str | None]:
    """``city#destination@1`` -> ``("city", "destination", "1")``; ``fromloc.city_name`` -> itself, no role or
    group (a ``.`` is part of the name, as in ATIS)."""
    rest, _, group = kind.partition(GROUP_MARK)
    entity, _, role = rest.partition(ROLE_MARK)
    return entity, role or None, group or None


def join_slot_type(entity: str, role: str | None = None, group: str | None = None) -> str:
    """The slot type that carries an entity with its role and group: the inverse of :func:`split_slot_type`."""
    return entity + (f"{ROLE_MARK}{role}" if role else "") + (f"{GROUP_MARK}{group}" if group else "")


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
