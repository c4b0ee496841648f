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
from collections.abc import Callable, Sequence

from nlu.data.bio import spans
from nlu.prediction import Entity, Prediction

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


def entities_from_tags(
    text: str,
    offsets: Sequence[tuple[int, int]],
    tags: Sequence[str],
    confidences: Sequence[float],
) -> list[Entity]:
    """Turn word-level BIO tags into entities with character spans in ``text``.

    ``offsets[i]`` is the character span of word ``i``; an entity's confidence is the mean confidence of its words.
    """
    entities = []
    for kind, first, last in spans(list(tags)):
        start, end = offsets[first][0], offsets[last - 1][1]
        conf = sum(confidences[first:last]) / (last - first)
        entities.append(Entity(entity=kind, value=text[start:end], start=start, end=end, confidence=conf))
    return entities


def offsets_for_tokens(tokens: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """Join pre-tokenised words with single spaces; return the text and each word's character span."""
    offsets = []
    position = 0
    for tok in tokens:
        offsets.append((position, position + len(tok)))
        position += len(tok) + 1
    return " ".join(tokens), offsets


def assemble_prediction(
    text: str,
    words: Sequence[str],
    offsets: Sequence[tuple[int, int]],
    word_ids: Sequence[int | None],
    intent_probs: Sequence[float],
    slot_ids: Sequence[int],
    slot_confidences: Sequence[float],
    intent_labels: Sequence[str],
    slot_labels: Sequence[str],
    ranking_size: int = 10,
) -> Prediction:
    """One utterance's :class:`Prediction` from the model's decisions, shared by the torch predictor and the
    ONNX runtime so both give the same output for the same numbers.

    ``word_ids``: the tokenizer's word index per sub-token (None for special tokens), after truncation;
    ``slot_ids``/``slot_confidences``: one per word the model saw, in word order; ``intent_probs``: over the
    intent vocabulary, whose index 0 (UNK) is never reported. Words past the truncation point are tagged ``O``.
    """
    seen = sorted({w for w in word_ids if w is not None})
    tags = ["O"] * len(words)
    confidences = [1.0] * len(words)
    for w, tag_id, conf in zip(seen, slot_ids, slot_confidences, strict=True):
        tags[w] = slot_labels[tag_id]
        confidences[w] = float(conf)
    words_used = (seen[-1] + 1) if seen else 0
    ranked = sorted(range(1, len(intent_probs)), key=lambda k: -intent_probs[k])[:ranking_size]
    ranking = [(intent_labels[k], float(intent_probs[k])) for k in ranked]
    return Prediction(
        text=text,
        intent=ranking[0][0],
        intent_confidence=ranking[0][1],
        ranking=ranking,
        entities=entities_from_tags(text, offsets, tags, confidences),
        tokens=list(words),
        tags=tags,
        truncated=words_used < len(words),
        words_used=words_used,
    )


# (text, words, character span of each word): what the torch predictor and the runtime both decode.
Item = tuple[str, list[str], list[tuple[int, int]]]


def items_from_texts(texts: str | Sequence[str]) -> list[Item]:
    """Raw text split into words by the ``ws_punct_v1`` rule. A single string is one utterance: a parser's
    batch verb given ``"book a flight"`` parses one utterance, not thirteen one-character ones."""
    if isinstance(texts, str):
        texts = [texts]
    items = []
    for text in texts:
        words = split_words(text)
        items.append((text, [w for w, _, _ in words], [(s, e) for _, s, e in words]))
    return items


def items_from_words(words_batch: Sequence[Sequence[str]]) -> list[Item]:
    """Pre-tokenised utterances (evaluation): the words joined with single spaces give the offsets. Raises
    ``TypeError`` for one utterance's words (a list of strings) where a batch of them belongs."""
    if isinstance(words_batch, str) or any(isinstance(words, str) for words in words_batch):
        raise TypeError(
            "expected a batch of word lists, e.g. [['book', 'a', 'flight']]; for raw text use the parser's "
            "parse/parse_batch (or predict)"
        )
    items = []
    for words in words_batch:
        text, offsets = offsets_for_tokens(words)
        items.append((text, list(words), offsets))
    return items


def predict_in_batches(
    items: Sequence[Item], batch_size: int, predict_batch: Callable[[list[Item]], list[Prediction]]
) -> list[Prediction]:
    """Empty utterances get a prediction with no intent and no entities without reaching the model; the rest go
    to ``predict_batch`` in batches of similar length (less padding), and come back in input order."""
    results: list[Prediction | None] = [None] * len(items)
    todo = []
    for i, (text, words, _) in enumerate(items):
        if words:
            todo.append(i)
        else:
            results[i] = Prediction(text=text, intent=None, intent_confidence=0.0)
    todo.sort(key=lambda i: len(items[i][1]))
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        for i, prediction in zip(chunk, predict_batch([items[i] for i in chunk]), strict=True):
            results[i] = prediction
    return results  # type: ignore[return-value]
