"""Typed-text perturbations keep the slot labels aligned to the words any splitting rule makes of the text."""

from __future__ import annotations

import pytest

from nlu.data.alignment import WORD_SPLIT_RULES
from nlu.data.augment.noise import FAMILIES, NoiseAugmenter, perturb, typed
from nlu.data.bio import spans
from nlu.data.demo import DEMO_DIR
from nlu.data.example import Example
from nlu.data.jsonl import read

DEMO = read(DEMO_DIR / "test.jsonl")
SNIPS_STYLE = Example(
    "s1",
    ["add", "this", "to", "jenna", "s", "sunday", "playlist"],
    ["O", "O", "O", "B-playlist_owner", "I-playlist_owner", "B-playlist", "I-playlist"],
    "AddToPlaylist",
)
TITLE = Example("s2", ["play", "espresso", "by", "sabrina"], ["O", "B-track", "O", "B-artist"], "PlayMusic")


def values(example: Example) -> list[tuple[str, str]]:
    return [(kind, " ".join(example.tokens[a:b]).lower()) for kind, a, b in spans(example.tags)]


@pytest.mark.parametrize("rule", WORD_SPLIT_RULES[1:])
@pytest.mark.parametrize("family", ["fillers", "long", "punctuation", "casing"])
def test_the_slot_values_survive_families_that_do_not_change_words(family, rule):
    for ex in DEMO[:40] + [TITLE]:
        noisy = perturb(ex, [family], seed=3).example(rule)
        assert values(noisy) == values(ex), (family, noisy.tokens, noisy.tags)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_keeps_one_tag_per_word_and_the_slot_types(family):
    for ex in DEMO[:40] + [SNIPS_STYLE, TITLE]:
        for rule in WORD_SPLIT_RULES[1:]:
            noisy = perturb(ex, [family], seed=1).example(rule)
            assert len(noisy.tokens) == len(noisy.tags)
            assert [k for k, _, _ in spans(noisy.tags)] == [k for k, _, _ in spans(ex.tags)]


def test_quotes_around_a_title_are_never_part_of_it():
    for seed in range(30):
        noisy = perturb(TITLE, ["punctuation"], seed=seed)
        example = noisy.example("ws_punct_v2")
        for _, a, b in spans(example.tags):
            assert not any(t in ('"', "'", "“", "”") for t in example.tokens[a:b])
        if '"' in noisy.text or "“" in noisy.text or "'" in noisy.text:
            assert ("track", "espresso") in values(example)


def test_a_contraction_is_one_word_or_two_as_the_rule_splits_it():
    noisy = perturb(SNIPS_STYLE, ["contractions"], seed=0)
    assert "jenna's" in noisy.text
    kept = noisy.example("ws_punct_v2")
    assert ("playlist_owner", "jenna's") in values(kept)
    apart = noisy.example("ws_punct_v2_clitics")
    assert apart.tokens[3:5] == ["jenna", "s"] and apart.tags[3:5] == ["B-playlist_owner", "I-playlist_owner"]


def test_typos_change_words_not_labels():
    ex = DEMO[0]
    noisy = perturb(ex, ["typos"], seed=5).example("ws_punct_v2")
    assert noisy.tags == ex.tags and noisy.tokens != ex.tokens


def test_perturbations_are_seeded():
    ex = DEMO[7]
    assert typed(ex, seed=1).text == typed(ex, seed=1).text
    assert {typed(ex, seed=s).text for s in range(8)} != {typed(ex, seed=1).text}


def test_the_augmenter_adds_labelled_copies():
    augmenter = NoiseAugmenter({"typos": 1.0, "punctuation": 0.5}, copies=2, seed=0, rule="ws_punct_v2")
    out = augmenter.augment(DEMO[:10])
    assert out[:10] == DEMO[:10] and len(out) == 30
    assert all(e.id.endswith(("~noise0", "~noise1")) for e in out[10:])
    with pytest.raises(ValueError, match="unknown noise families"):
        NoiseAugmenter({"emoji": 1.0}, 1, 0, "ws_punct_v2")
