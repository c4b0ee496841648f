"""Code-switching augmentation: chunks keep their labels and order, nothing is dropped or duplicated, the
output is deterministic for a seed, and dictionary coverage is reported."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlu.data.augment.code_switch import (
    BilingualDictionary,
    CodeSwitcher,
    chunks,
    expand_languages,
    load_dictionaries,
)
from nlu.data.example import Example
from nlu.errors import DataError

EXAMPLE = Example(
    id="u1",
    tokens=["Fly", "from", "new", "york", "to", "boston", "tomorrow"],
    tags=["O", "O", "B-from", "I-from", "O", "B-to", "B-date"],
    intent="flight",
)


@pytest.fixture
def dictionaries(tmp_path) -> dict[str, BilingualDictionary]:
    (tmp_path / "en-de.txt").write_text(
        "fly fliege\nfly fliegen\nfrom von\nnew neu\nyork york\nto nach\nboston boston\ntomorrow morgen\n",
        encoding="utf-8",
    )
    (tmp_path / "en-es.txt").write_text(
        "fly volar\nfrom desde\nnew nueva\nto a\ntomorrow mañana\n", encoding="utf-8"
    )
    return load_dictionaries(tmp_path, ["de", "es"])


def test_identity_pairs_are_dropped_and_alternatives_kept(dictionaries):
    german = dictionaries["de"]
    assert german.translations["fly"] == ["fliege", "fliegen"]
    assert "york" not in german.translations and "boston" not in german.translations
    assert german.identity_pairs_dropped == 2


def test_chunks_are_slot_spans_and_runs_of_o():
    assert chunks(EXAMPLE.tags) == [(0, 2, None), (2, 4, "from"), (4, 5, None), (5, 6, "to"), (6, 7, "date")]


def test_every_chunk_switched_keeps_labels_and_order(dictionaries):
    switched = CodeSwitcher(dictionaries, probability=1.0, seed=3).switch(EXAMPLE)
    assert len(switched.tokens) == len(EXAMPLE.tokens) and switched.tags == EXAMPLE.tags
    assert switched.intent == "flight" and switched.id == "u1-cs1"
    assert switched.tokens[0] in ("Fliege", "Fliegen", "Volar")  # capitalisation follows the source word
    assert switched.tokens[3] == "york"  # no translation (identity pair dropped): the word stays
    assert switched.meta["source_id"] == "u1" and set(switched.meta["switched_to"]) <= {"de", "es"}


def test_probability_zero_changes_nothing_and_augment_keeps_originals(dictionaries):
    out = CodeSwitcher(dictionaries, probability=0.0, copies=2).augment([EXAMPLE])
    assert [ex.id for ex in out] == ["u1", "u1-cs1", "u1-cs2"]
    assert out[0] is EXAMPLE and all(ex.tokens == EXAMPLE.tokens for ex in out)


def test_deterministic_for_a_seed_and_independent_of_order(dictionaries):
    other = Example("u2", ["to", "boston"], ["O", "B-to"], "flight")
    a = CodeSwitcher(dictionaries, probability=0.5, copies=3, seed=7).augment([EXAMPLE, other])
    b = CodeSwitcher(dictionaries, probability=0.5, copies=3, seed=7).augment([other, EXAMPLE])
    assert {ex.id: ex.tokens for ex in a} == {ex.id: ex.tokens for ex in b}
    c = CodeSwitcher(dictionaries, probability=0.5, copies=3, seed=8).augment([EXAMPLE, other])
    assert [ex.tokens for ex in a] != [ex.tokens for ex in c]


def test_coverage_is_reported(dictionaries):
    switcher = CodeSwitcher(dictionaries, probability=1.0, copies=4, seed=1)
    switcher.augment([EXAMPLE])
    report = switcher.report.to_dict()
    assert report["originals"] == 1 and report["copies"] == 4 and report["chunks_switched"] == 20
    assert sum(report["words_looked_up"].values()) == 4 * len(EXAMPLE.tokens)
    assert all(0.0 < c < 1.0 for c in report["coverage"].values())  # york / boston are never translated


def test_families_expand_and_missing_dictionaries_are_named(tmp_path, dictionaries):
    assert expand_languages(["romance", "de", "es"])[:3] == ["es", "fr", "it"]
    with pytest.raises(DataError, match="no dictionary for fr .*available: de, es"):
        load_dictionaries(tmp_path, ["de", "fr"])


def test_malformed_dictionary_line_names_file_and_line(tmp_path):
    path = tmp_path / "en-de.txt"
    path.write_text("fly fliegen\nnew york neu\n", encoding="utf-8")
    with pytest.raises(DataError, match=f"{path}:2: expected 'source target'"):
        BilingualDictionary.load(path, "de")


TAGS = st.lists(st.sampled_from(["O", "B-a", "I-a", "B-b"]), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(tags=TAGS, seed=st.integers(0, 1000), probability=st.sampled_from([0.0, 0.3, 1.0]))
def test_property_no_chunk_is_dropped_duplicated_or_relabelled(tmp_path_factory, tags, seed, probability):
    from nlu.data.bio import repair_bio

    tags, _ = repair_bio(tags)
    words = ["fly", "from", "new", "to", "tomorrow", "x"] * 2
    example = Example("p", words[: len(tags)], tags, "i")
    folder = tmp_path_factory.getbasetemp() / "dicts"
    if not folder.exists():
        folder.mkdir()
        (folder / "en-de.txt").write_text("fly fliegen\nfrom von\nnew neu\nto nach\n", encoding="utf-8")
    switched = CodeSwitcher(load_dictionaries(folder, ["de"]), probability=probability, seed=seed).switch(
        example
    )
    assert [(k, e - s) for s, e, k in chunks(switched.tags)] == [
        (k, e - s) for s, e, k in chunks(example.tags)
    ]
    assert switched.tags == example.tags


MUSE = Path(os.environ.get("NLU_DATA_DIR", "/nonexistent")) / "dictionaries"


@pytest.mark.skipif(
    not (MUSE / "en-de.txt").is_file(), reason="the MUSE dictionaries are not under NLU_DATA_DIR"
)
def test_the_muse_dictionaries_load_and_cover_atis_words():
    german = load_dictionaries(MUSE, ["de"])["de"]
    assert (
        len(german.translations) > 25000 and german.identity_pairs_dropped > 40000
    )  # 47.8 % identical pairs
    assert german.translations["flight"] == ["flug", "flüge"]


def test_a_recipe_trains_on_code_switched_copies(tmp_path, tiny_backbone):
    """data.augment.code_switch in a recipe: the run trains on originals + copies and records the coverage."""
    import json

    from nlu_testing import write_recipe

    from nlu.training.trainer import train

    dicts = tmp_path / "dicts"
    dicts.mkdir()
    (dicts / "en-de.txt").write_text(
        "turn drehe\non an\nthe die\nlights lichter\nkitchen küche\n", encoding="utf-8"
    )
    augment = {
        "code_switch": {"dictionaries": str(dicts), "languages": ["de"], "probability": 1.0, "copies": 2}
    }
    recipe = write_recipe(tmp_path / "r.yaml", tiny_backbone, data={"dataset": "demo", "augment": augment})
    run = train(recipe, output_dir=tmp_path / "run").run_dir
    report = json.loads((run / "augmentation.json").read_text())["code_switch"]
    assert report["originals"] == 480 and report["copies"] == 960 and report["languages"] == ["de"]
    assert 0 < report["coverage"]["de"] < 1
