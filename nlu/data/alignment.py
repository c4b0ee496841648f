"""Words <-> sub-tokens <-> characters.

Torch-free on purpose: the ONNX runtime uses the same word splitting and span building as training.

Word splitting rule ``ws_punct_v1``: split on white space; then peel opening quotes/brackets off the front of a
word and ``, ; ! ? " ' ) ]`` off its end as words of their own; a final ``.`` is peeled off only when the rest is
at least four characters and holds no other ``.`` (so ``st.``, ``mr.``, ``p.m.`` and ``u.s.`` stay whole while
``boston.`` becomes ``boston`` ``.``). The benchmark data sets are already tokenised this way (white space, with
abbreviations kept), so a typed sentence is split like the training data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

WORD_SPLIT_RULE = "ws_punct_v1"
_LEADING = "\"'([{“‘«"
_TRAILING = ",;!?\"')]}”’»"


def split_words(text: str) -> list[tuple[str, int, int]]:
    """Split ``text`` into ``(word, start, end)`` with character offsets (end exclusive)."""
    words: list[tuple[str, int, int]] = []
    for match in re.finditer(r"\S+", text):
        start, end = match.span()
        head: list[tuple[str, int, int]] = []
        tail: list[tuple[str, int, int]] = []
        while end - start > 1 and text[start] in _LEADING:
            head.append((text[start], start, start + 1))
            start += 1
        while end - start > 1:
            last = text[end - 1]
            body = text[start : end - 1]
            if last in _TRAILING or (last == "." and len(body) >= 4 and "." not in body):
                tail.append((last, end - 1, end))
                end -= 1
            else:
                break
        words.extend(head)
        words.append((text[start:end], start, end))
        words.extend(reversed(tail))
    return words


def first_subtoken_mask(word_ids: Sequence[int | None]) -> list[bool]:
    """True at the first sub-token of each word; ``word_ids`` as given by a fast tokenizer (None = special)."""
    mask = []
    previous = None
    for wid in word_ids:
        mask.append(wid is not None and wid != previous)
        previous = wid
    return mask


def align_labels(
    word_ids: Sequence[int | None], word_labels: Sequence[int], ignore_index: int = -100
) -> list[int]:
    """Per-sub-token labels: the word's label on its first sub-token, ``ignore_index`` elsewhere."""
    mask = first_subtoken_mask(word_ids)
    return [word_labels[wid] if keep else ignore_index for wid, keep in zip(word_ids, mask, strict=True)]


def offsets_for_tokens(tokens: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """Join pre-tokenised words with single spaces; return the text and each word's character span."""
    offsets = []
    position = 0
    for tok in tokens:
        offsets.append((position, position + len(tok)))
        position += len(tok) + 1
    return " ".join(tokens), offsets
