"""Words <-> sub-tokens <-> characters.

Torch-free on purpose: the ONNX runtime uses the same word splitting and span building as training.

Raw text is split into words by a named rule, recorded with each model (``word_split`` in its config and in an
artifact's manifest) so that every parser of that model splits alike:

- ``ws_punct_v1``: split on white space; then peel opening quotes/brackets off the front of a word and
  ``, ; ! ? " ' ) ]`` off its end as words of their own; a final ``.`` is peeled off only when the rest is at
  least four characters and holds no other ``.`` (so ``st.``, ``mr.``, ``p.m.`` and ``u.s.`` stay whole while
  ``boston.`` becomes ``boston`` ``.``). Models saved before the v2 rules keep it.
- ``ws_punct_v2``: v1, and an ellipsis (``...``, ``…``) or a colon at a word's end is a word of its own
  (``tomorrow...`` -> ``tomorrow`` ``...``), as is the "." that ends the text after a short word (``off.``;
  common abbreviations such as ``st.`` keep it). Apostrophes inside a word stay (``i'd``, ``o'clock``,
  ``atlanta's``): what ATIS-style training data writes.
- ``ws_punct_v2_clitics``: v2, and an English clitic after an apostrophe is a word of its own, the apostrophe
  dropped (``Jenna's`` -> ``Jenna`` ``s``, ``I'd`` -> ``I`` ``d``, ``don't`` -> ``don`` ``t``): what SNIPS-style
  training data writes. The span of an entity over both (``Jenna's``) still covers the apostrophe.

Training picks v2 or v2_clitics from the training split (:func:`detect_word_split`). The benchmark data sets
are already tokenised, so this matters for what users type, not for the benchmarks' scores.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

WORD_SPLIT_RULE = "ws_punct_v1"  # the rule of models saved before the rule was chosen per model
WORD_SPLIT_RULES = ("ws_punct_v1", "ws_punct_v2", "ws_punct_v2_clitics")
_LEADING = "\"'([{“‘«"
_TRAILING = ",;!?\"')]}”’»"
_TRAILING_V2 = _TRAILING + ":…"
_CLITIC = re.compile(r"^(.*[^\W_])['’](s|d|m|t|ll|re|ve)$", re.IGNORECASE)


def split_words(text: str, rule: str = WORD_SPLIT_RULE) -> list[tuple[str, int, int]]:
    """Split ``text`` into ``(word, start, end)`` with character offsets (end exclusive) by ``rule``."""
    if rule not in WORD_SPLIT_RULES:
        raise ValueError(f"unknown word splitting rule {rule!r}; known: {', '.join(WORD_SPLIT_RULES)}")
    v2 = rule != "ws_punct_v1"
    trailing = _TRAILING_V2 if v2 else _TRAILING
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
            if v2 and text.endswith("...", start, end) and end - start > 3:
                tail.append(("...", end - 3, end))
                end -= 3
            elif last in trailing or (last == "." and _ends_sentence(body, end == len(text.rstrip()), v2)):
                tail.append((last, end - 1, end))
                end -= 1
            else:
                break
        words.extend(head)
        clitic = _CLITIC.match(text[start:end]) if rule == "ws_punct_v2_clitics" else None
        if clitic:
            stem_end = start + len(clitic.group(1))
            words.append((clitic.group(1), start, stem_end))
            words.append((clitic.group(2), stem_end + 1, end))
        else:
            words.append((text[start:end], start, end))
        words.extend(reversed(tail))
    return words


# Short words that keep their final "." even at the end of a sentence (``ws_punct_v2``).
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "vs", "mt", "ft", "no", "inc", "ave", "etc"}


def _ends_sentence(body: str, last_word: bool, v2: bool) -> bool:
    """Whether a final "." after ``body`` is punctuation rather than part of an abbreviation: ``boston.`` but not
    ``st.`` or ``p.m.``; with the v2 rules, also a short word ending the text (``shake it off.``)."""
    if "." in body:
        return False
    return len(body) >= 4 or (v2 and last_word and body.lower() not in _ABBREVIATIONS)


def detect_word_split(words: Iterable[Sequence[str]]) -> str:
    """The v2 rule that splits typed text as ``words`` (a training split's tokens) are split: with clitics as
    words of their own (``i d``, ``what s``: SNIPS) or kept whole (``i'd``, ``what's``: ATIS)."""
    counts: Counter[str] = Counter()
    for tokens in words:
        for previous, token in zip(tokens, tokens[1:], strict=False):
            if token.lower() in ("s", "d", "m", "t", "ll", "re", "ve") and previous.isalpha():
                counts["split"] += 1
        counts["kept"] += sum(1 for token in tokens if _CLITIC.match(token))
    return "ws_punct_v2_clitics" if counts["split"] > counts["kept"] else "ws_punct_v2"


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
