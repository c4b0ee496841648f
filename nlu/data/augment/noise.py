"""Utterances the way people type them: typos, casing, punctuation and quotes, contractions, fillers, long
requests, with the slot labels kept aligned.

A perturbed utterance is *text* plus the character span and tag of every original word in it; inserted words
and punctuation carry no tag (``O``). :func:`project_tags` then labels the words any splitting rule makes of
that text (``nlu.data.alignment``), so the same perturbed utterance is gold for a model that splits ``Jenna's``
into ``Jenna`` ``s`` and for one that keeps it whole, and a quote typed around a title is never part of the
title. Everything is seeded: the same seed, family and utterance give the same perturbation.

Used twice: ``benchmarks/robustness.py`` builds its test suites with :func:`perturb`, and training adds
perturbed copies of the training split (``data.augment.noise``, :class:`NoiseAugmenter`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from nlu.data.alignment import split_words
from nlu.data.bio import slot_type, spans
from nlu.data.example import Example

FAMILIES = ("typos", "casing", "punctuation", "contractions", "fillers", "long")

_KEYBOARD = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
_NEIGHBOURS: dict[str, str] = {}
for _r, _row in enumerate(_KEYBOARD):
    for _c, _key in enumerate(_row):
        near = [_row[i] for i in (_c - 1, _c + 1) if 0 <= i < len(_row)]
        for other in (_r - 1, _r + 1):
            if 0 <= other < len(_KEYBOARD):
                near += [_KEYBOARD[other][i] for i in (_c - 1, _c, _c + 1) if 0 <= i < len(_KEYBOARD[other])]
        _NEIGHBOURS[_key] = "".join(near)

# Slot types people put in quotes when they type: names and titles.
_QUOTABLE = ("name", "track", "album", "playlist", "song", "movie", "artist", "object", "title", "work")
# Contractions: the words as data sets write them -> as typed. Two-word forms are SNIPS's ("i d"), the others
# the full words that people contract.
_CONTRACTIONS = {
    ("i", "d"): "I'd",
    ("i", "m"): "I'm",
    ("what", "s"): "what's",
    ("it", "s"): "it's",
    ("that", "s"): "that's",
    ("let", "s"): "let's",
    ("it", "ll"): "it'll",
    ("i", "would"): "I'd",
    ("i", "am"): "I'm",
    ("what", "is"): "what's",
    ("it", "is"): "it's",
    ("do", "not"): "don't",
    ("i", "will"): "I'll",
}
_FILLERS = ("um", "uh", "like", "so", "please", "hmm", "ok")
# Openings and closings hold no word that is a slot value in ATIS or SNIPS (no "morning", "day", "tonight").
_PREAMBLES = (
    "hey there, could you help me out?",
    "hi! quick question:",
    "hello, I hope you're doing well.",
    "ok so here's what I need,",
    "sorry to bother you again, but",
    "hi again! can you do something for me?",
)
_CLAUSES = (
    "thanks a lot!",
    "thank you so much, you're the best",
    "and please hurry, I'm in a bit of a rush.",
    "that would be great, thanks",
    "if that's not too much trouble. cheers",
    "... thanks in advance",
)


@dataclass
class Piece:
    """One word as typed. ``origin``: the index of the original word it comes from (None: inserted text);
    ``glue``: typed right after the previous piece, with no space."""

    text: str
    tag: str = "O"
    origin: int | None = None
    glue: bool = False


@dataclass
class Noisy:
    """A perturbed utterance: its text, and the character span, tag and original index of each original word."""

    text: str
    spans: list[tuple[int, int, str, int]] = field(default_factory=list)
    intent: str = ""
    id: str = ""

    def example(self, rule: str) -> Example:
        """The utterance as ``rule`` splits it into words, each labelled by :func:`project_tags`."""
        words = split_words(self.text, rule)
        return Example(
            id=self.id,
            tokens=[w for w, _, _ in words],
            tags=project_tags(words, self.spans),
            intent=self.intent,
        )


def project_tags(
    words: Sequence[tuple[str, int, int]], labelled: Sequence[tuple[int, int, str, int]]
) -> list[str]:
    """The BIO tag of each split word: the tag of the first original word it overlaps; a later word cut from the
    same original word continues its span (``I-``); words of inserted text and punctuation get ``O``."""
    tags, previous = [], None
    for _, start, end in words:
        hit = next(((tag, origin) for s, e, tag, origin in labelled if s < end and start < e), None)
        if hit is None:
            tags.append("O")
            previous = None
            continue
        tag, origin = hit
        kind = slot_type(tag)
        tags.append("O" if kind is None else ("I-" + kind if origin == previous else tag))
        previous = origin
    return tags


def pieces_of(example: Example) -> list[Piece]:
    return [Piece(w, t, i) for i, (w, t) in enumerate(zip(example.tokens, example.tags, strict=True))]


def render(pieces: Sequence[Piece], intent: str = "", id: str = "") -> Noisy:
    """The text the pieces make, and the spans of the original words in it."""
    text, out = "", Noisy("", intent=intent, id=id)
    for piece in pieces:
        if text and not piece.glue:
            text += " "
        if piece.origin is not None:
            out.spans.append((len(text), len(text) + len(piece.text), piece.tag, piece.origin))
        text += piece.text
    out.text = text
    return out


# --------------------------------------------------------------------------------------------- the families


def _typo(word: str, rng: random.Random) -> str:
    """One keyboard slip: a neighbouring key, a dropped letter, a doubled letter, or two letters swapped."""
    i = rng.randrange(len(word))
    kind = rng.choice(("neighbour", "drop", "double", "swap"))
    if kind == "neighbour" and word[i].lower() in _NEIGHBOURS:
        key = rng.choice(_NEIGHBOURS[word[i].lower()])
        return word[:i] + (key.upper() if word[i].isupper() else key) + word[i + 1 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "swap" and i + 1 < len(word):
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[: i + 1] + word[i] + word[i + 1 :]


def typos(pieces: list[Piece], rng: random.Random, rate: float = 0.25) -> list[Piece]:
    """Slips in content words (alphabetic, 3+ letters), slot values included: each with probability ``rate``,
    at least one per utterance."""
    eligible = [k for k, p in enumerate(pieces) if p.text.isalpha() and len(p.text) >= 3]
    if not eligible:
        return pieces
    chosen = {k for k in eligible if rng.random() < rate} or {rng.choice(eligible)}
    return [replace(p, text=_typo(p.text, rng)) if k in chosen else p for k, p in enumerate(pieces)]


def casing(pieces: list[Piece], rng: random.Random) -> list[Piece]:
    """Title Case, ALL CAPS, or a capital at the start of the sentence."""
    style = rng.choice(("title", "upper", "sentence"))
    if style == "title":
        return [replace(p, text=p.text[:1].upper() + p.text[1:]) for p in pieces]
    if style == "upper":
        return [replace(p, text=p.text.upper()) for p in pieces]
    out = list(pieces)
    if out:
        out[0] = replace(out[0], text=out[0].text[:1].upper() + out[0].text[1:])
    return out


def punctuation(pieces: list[Piece], rng: random.Random) -> list[Piece]:
    """Quotes around a name or title, a comma after a word, and ``?``, ``!``, ``.`` or ``...`` at the end, all
    attached to the words as people type them (``"Espresso"``, ``Austin, TX?``)."""
    out = list(pieces)
    tags = [p.tag for p in out]
    quotable = [(first, last) for kind, first, last in spans(tags) if any(q in kind for q in _QUOTABLE)]
    if quotable and rng.random() < 0.7:
        first, last = rng.choice(quotable)
        quote = rng.choice(('"', "'", "“"))
        closing = "”" if quote == "“" else quote
        out[first] = replace(out[first], glue=True)
        out.insert(first, Piece(quote))
        out.insert(last + 1, Piece(closing, glue=True))
    # a comma between two words, never inside a slot value (it would cut the span in two)
    between = [
        k
        for k in range(1, len(out) - 1)
        if out[k].text.isalnum() and out[k + 1].text.isalnum() and not out[k + 1].tag.startswith("I-")
    ]
    if between and rng.random() < 0.5:
        out.insert(rng.choice(between) + 1, Piece(",", glue=True))
    out.append(Piece(rng.choice(("?", "!", ".", "...", "!!", "?!")), glue=True))
    return out


def contractions(pieces: list[Piece], rng: random.Random) -> list[Piece]:
    """Words written apart in the data (``i d``, ``jenna s``) or in full (``i would``) typed as contractions
    (``I'd``, ``Jenna's``). Each original word keeps its tag; the apostrophe between them carries none."""
    out: list[Piece] = []
    k = 0
    while k < len(pieces):
        pair = tuple(p.text.lower() for p in pieces[k : k + 2])
        typed = _CONTRACTIONS.get(pair) if len(pair) == 2 else None
        possessive = len(pair) == 2 and pair[1] == "s" and pieces[k].text.isalpha() and typed is None
        if typed or possessive:
            stem, _, clitic = (typed or f"{pieces[k].text}'s").partition("'")
            first, second = pieces[k], pieces[k + 1]
            out.append(replace(first, text=stem))
            out.append(Piece("'", glue=True))
            out.append(replace(second, text=clitic, glue=True))
            k += 2
        else:
            out.append(pieces[k])
            k += 1
    return out


def fillers(pieces: list[Piece], rng: random.Random) -> list[Piece]:
    """One or two fillers or politeness words (``um``, ``like``, ``please``) between slot spans, never inside
    one."""
    tags = [p.tag for p in pieces]
    inside = {i for _, first, last in spans(tags) for i in range(first + 1, last)}
    places = [i for i in range(len(pieces) + 1) if i not in inside]
    out = list(pieces)
    for place in sorted(rng.sample(places, min(len(places), rng.choice((1, 2)))), reverse=True):
        out.insert(place, Piece(rng.choice(_FILLERS)))
    return out


def long(pieces: list[Piece], rng: random.Random) -> list[Piece]:
    """A polite preamble, a closing clause, or both, around the request: words that hold no slot."""
    out = list(pieces)
    choice = rng.choice(("preamble", "clause", "both"))
    if choice in ("preamble", "both"):
        out = [Piece(w) for w in rng.choice(_PREAMBLES).split()] + out
    if choice in ("clause", "both"):
        out += [Piece(w) for w in rng.choice(_CLAUSES).split()]
    return out


PERTURBATIONS: dict[str, Callable[..., list[Piece]]] = {
    "typos": typos,
    "casing": casing,
    "punctuation": punctuation,
    "contractions": contractions,
    "fillers": fillers,
    "long": long,
}


def perturb(example: Example, families: Sequence[str], seed: int = 0) -> Noisy:
    """``example`` typed with the perturbations of ``families``, applied in the order of :data:`FAMILIES`
    (contractions before punctuation, casing last). Seeded by (seed, families, example id)."""
    rng = random.Random(f"{seed}|{','.join(families)}|{example.id}")
    pieces = pieces_of(example)
    for family in ("contractions", "fillers", "long", "typos", "punctuation", "casing"):
        if family in families:
            pieces = PERTURBATIONS[family](pieces, rng)
    return render(pieces, example.intent, example.id)


def typed(example: Example, seed: int = 0) -> Noisy:
    """The way people type: casing and punctuation, and one or two of typos, contractions, fillers and a long
    request, chosen per utterance (the "typed" suite)."""
    rng = random.Random(f"{seed}|typed|{example.id}")
    families = [
        "casing",
        "punctuation",
        *rng.sample(["typos", "contractions", "fillers", "long"], rng.choice((1, 2))),
    ]
    return perturb(example, families, seed)


class NoiseAugmenter:
    """Perturbed copies of training utterances (``data.augment.noise``): each copy applies each family with its
    rate; a copy that drew none is dropped. Tags are projected onto the words the model's rule splits."""

    def __init__(self, rates: dict[str, float], copies: int, seed: int, rule: str):
        unknown = sorted(set(rates) - set(FAMILIES))
        if unknown:
            raise ValueError(f"unknown noise families {unknown}; known: {', '.join(FAMILIES)}")
        self.rates, self.copies, self.seed, self.rule = rates, copies, seed, rule

    def augment(self, examples: Sequence[Example]) -> list[Example]:
        """The examples followed by their perturbed copies."""
        out = list(examples)
        for copy in range(self.copies):
            for ex in examples:
                rng = random.Random(f"{self.seed}|noise|{copy}|{ex.id}")
                families = [f for f in FAMILIES if rng.random() < self.rates.get(f, 0.0)]
                if families:
                    noisy = perturb(ex, families, seed=self.seed * 1000 + copy)
                    out.append(replace(noisy.example(self.rule), id=f"{ex.id}~noise{copy}", lang=ex.lang))
        return out
