"""Word splitting with exact character offsets, sub-token masks and label alignment, entities from BIO tags."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nlu.data.alignment import (
    align_labels,
    detect_word_split,
    first_subtoken_mask,
    offsets_for_tokens,
    split_words,
)
from nlu.prediction import entities_from_tags


def _words(text: str) -> list[str]:
    return [w for w, _, _ in split_words(text)]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("fly to boston.", ["fly", "to", "boston", "."]),
        ("from st. louis to dallas", ["from", "st.", "louis", "to", "dallas"]),
        ("flights in the u.s. only", ["flights", "in", "the", "u.s.", "only"]),
        ("at 6 p.m. please", ["at", "6", "p.m.", "please"]),
        ("mr. smith.", ["mr.", "smith", "."]),
        ("wake me at 7 o'clock", ["wake", "me", "at", "7", "o'clock"]),
        ('play "yellow submarine"', ["play", '"', "yellow", "submarine", '"']),
        ("(boston) [denver] {x}", ["(", "boston", ")", "[", "denver", "]", "{", "x", "}"]),
        ("«bonjour» “hi”", ["«", "bonjour", "»", "“", "hi", "”"]),
        ("what?!", ["what", "?", "!"]),
        ("denver, boston; dallas", ["denver", ",", "boston", ";", "dallas"]),
        ("wait...", ["wait..."]),
    ],
)
def test_split_words(text, words):
    assert _words(text) == words


@pytest.mark.parametrize(
    "text",
    [
        "fly to boston.",
        "st. louis",
        "the u.s. army",
        "at 6 o'clock",
        '  "quoted"  (and [bracketed])  ',
        "many   spaces    here",
        "tabs\tand\nnew\r\nlines",
        "wetter in münchen — morgen früh?",
        "東京 へ 行く",
        "cafe\u0301 au lait",  # e + combining accent: two code points, one glyph
        "no\u00a0break space",  # NBSP is white space to str.split and to \s
        "emoji 🎉 party!",
        "“curly quotes”, ‘single’",
    ],
)
def test_split_words_offsets_are_exact(text):
    words = split_words(text)
    assert words, text
    previous_end = 0
    for word, start, end in words:
        assert text[start:end] == word
        assert word and not any(c.isspace() for c in word)
        assert start >= previous_end and end > start
        previous_end = end
    # nothing but white space is dropped
    kept = "".join(w for w, _, _ in words)
    assert kept == "".join(text.split())


@pytest.mark.parametrize("text", ["", " ", "\t\n  "])
def test_split_words_empty(text):
    assert split_words(text) == []


def test_split_words_offsets_with_leading_space():
    assert split_words("  to boston.") == [("to", 2, 4), ("boston", 5, 11), (".", 11, 12)]


def test_lone_punctuation_is_kept():
    assert split_words("( . ,") == [("(", 0, 1), (".", 2, 3), (",", 4, 5)]


def test_offsets_for_tokens_round_trip():
    tokens = ["from", "st.", "louis", "to", "münchen"]
    text, offsets = offsets_for_tokens(tokens)
    assert text == "from st. louis to münchen"
    assert [text[s:e] for s, e in offsets] == tokens
    assert [w for w, _, _ in split_words(text)] == tokens  # benchmark tokens survive re-splitting


def test_first_subtoken_mask():
    #          [CLS] bos  ##ton  to  [SEP]  [PAD]
    word_ids = [None, 0, 0, 1, None, None]
    assert first_subtoken_mask(word_ids) == [False, True, False, True, False, False]


def test_first_subtoken_mask_counts_one_per_word():
    word_ids = [None, 0, 1, 1, 1, 2, 3, 3, None]
    mask = first_subtoken_mask(word_ids)
    assert sum(mask) == 4
    assert [wid for wid, keep in zip(word_ids, mask, strict=True) if keep] == [0, 1, 2, 3]


def test_align_labels_puts_each_label_on_first_subtoken():
    word_ids = [None, 0, 0, 1, 2, 2, 2, None]
    assert align_labels(word_ids, [5, 6, 7]) == [-100, 5, -100, 6, 7, -100, -100, -100]
    assert align_labels(word_ids, [5, 6, 7], ignore_index=0) == [0, 5, 0, 6, 7, 0, 0, 0]


def test_align_labels_with_a_real_fast_tokenizer(tiny_backbone):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_backbone))
    words = ["fly", "to", "zzqx", "tomorrow"]  # 'zzqx' is not in the vocabulary: several word pieces
    enc = tokenizer(words, is_split_into_words=True)
    word_ids = enc.word_ids()
    assert word_ids.count(2) > 1
    labels = align_labels(word_ids, [10, 11, 12, 13])
    assert len(labels) == len(enc["input_ids"])
    assert [lab for lab in labels if lab != -100] == [10, 11, 12, 13]
    assert labels[0] == labels[-1] == -100  # [CLS] and [SEP]


def test_entities_from_tags_spans_values_and_confidence():
    text = "fly from new york to st. louis tomorrow"
    words = split_words(text)
    offsets = [(s, e) for _, s, e in words]
    tags = ["O", "O", "B-fromloc", "I-fromloc", "O", "B-toloc", "I-toloc", "B-date"]
    confidences = [1.0, 1.0, 0.9, 0.7, 1.0, 0.6, 0.4, 0.5]
    entities = entities_from_tags(text, offsets, tags, confidences)
    assert [(e.entity, e.value, e.start, e.end) for e in entities] == [
        ("fromloc", "new york", 9, 17),
        ("toloc", "st. louis", 21, 30),
        ("date", "tomorrow", 31, 39),
    ]
    assert [e.confidence for e in entities] == pytest.approx([0.8, 0.5, 0.5])
    for e in entities:
        assert text[e.start : e.end] == e.value


def test_entity_value_is_the_original_text_between_its_words():
    text = "weather in boston,  ma please"
    words = split_words(text)
    assert [w for w, _, _ in words] == ["weather", "in", "boston", ",", "ma", "please"]
    tags = ["O", "O", "B-city", "I-city", "I-city", "O"]
    (entity,) = entities_from_tags(text, [(s, e) for _, s, e in words], tags, [1.0] * 6)
    assert entity.value == "boston,  ma"  # original spacing, not the words re-joined
    assert (entity.start, entity.end) == (11, 22)


def test_entities_from_tags_stray_inside_and_adjacent_spans():
    text, offsets = offsets_for_tokens(["add", "milk", "eggs", "and", "bread", "now"])
    tags = ["O", "B-item", "B-item", "O", "I-item", "I-other"]
    entities = entities_from_tags(text, offsets, tags, [1.0] * 6)
    assert [(e.entity, e.value) for e in entities] == [
        ("item", "milk"),
        ("item", "eggs"),  # B after B: two entities, not one
        ("item", "bread"),  # a stray I- starts an entity
        ("other", "now"),  # I- of another type starts a new one
    ]


def test_entities_from_tags_none():
    text, offsets = offsets_for_tokens(["hello", "there"])
    assert entities_from_tags(text, offsets, ["O", "O"], [1.0, 1.0]) == []


@pytest.mark.parametrize(
    ("text", "rule", "words"),
    [
        ("tomorrow...", "ws_punct_v2", ["tomorrow", "..."]),
        ("tomorrow...", "ws_punct_v1", ["tomorrow..."]),
        ("Reminder: call mom at 3:30", "ws_punct_v2", ["Reminder", ":", "call", "mom", "at", "3:30"]),
        ('play "Espresso"!', "ws_punct_v2", ["play", '"', "Espresso", '"', "!"]),
        ("I'd like Jenna's list", "ws_punct_v2", ["I'd", "like", "Jenna's", "list"]),
        ("I'd like Jenna's list", "ws_punct_v2_clitics", ["I", "d", "like", "Jenna", "s", "list"]),
        (
            "don't wake me at 7 o'clock",
            "ws_punct_v2_clitics",
            ["don", "t", "wake", "me", "at", "7", "o'clock"],
        ),
        ("what’s on", "ws_punct_v2_clitics", ["what", "s", "on"]),  # a typographic apostrophe too
    ],
)
def test_split_words_v2_rules(text, rule, words):
    assert _words_by(text, rule) == words


def _words_by(text: str, rule: str) -> list[str]:
    return [w for w, _, _ in split_words(text, rule)]


@pytest.mark.parametrize("rule", ["ws_punct_v1", "ws_punct_v2", "ws_punct_v2_clitics"])
@given(st.text(alphabet=" abcXYZ'\".,:;!?()…’-", max_size=40))
def test_every_rule_gives_exact_offsets(rule, text):
    for word, start, end in split_words(text, rule):
        assert text[start:end] == word and word and not word.isspace()


def test_the_rule_follows_the_training_data():
    """SNIPS writes clitics as words of their own ("i d", "jenna s"), ATIS keeps them ("i'd")."""
    snips_like = [["i", "d", "like", "jenna", "s", "list"], ["what", "s", "on"]]
    atis_like = [["i'd", "like", "a", "flight"], ["what's", "the", "fare"]]
    assert detect_word_split(snips_like) == "ws_punct_v2_clitics"
    assert detect_word_split(atis_like) == "ws_punct_v2"
    assert detect_word_split([["book", "a", "table"]]) == "ws_punct_v2"


def test_an_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="unknown word splitting rule"):
        split_words("hello", "ws_punct_v9")
