"""Gazetteers: phrase matching, the features a model sees per sub-token, building them from files or from the
train split, and saving them with a model."""

from __future__ import annotations

import numpy as np
import pytest

from nlu.data.example import Example
from nlu.data.lexicon import Gazetteer, extra_inputs
from nlu.errors import DataError


@pytest.fixture
def gazetteer() -> Gazetteer:
    return Gazetteer(
        {"city": ["New York", "york", "boston"], "state": ["new york", "washington"], "airline": ["delta"]}
    )


def test_types_are_sorted_and_phrases_normalised(gazetteer):
    assert gazetteer.types == ["airline", "city", "state"]
    assert gazetteer.phrases["city"] == ["boston", "new york", "york"]
    assert len(gazetteer) == 6


def test_longest_match_case_insensitive_and_several_types(gazetteer):
    feats = gazetteer.features(["fly", "from", "NEW", "York", "to", "boston", "on", "Delta"])
    assert feats.dtype == np.float32 and feats.shape == (8, 3)
    assert feats[2].tolist() == [0, 1, 1] and feats[3].tolist() == [0, 1, 1]  # "new york": city and state
    assert feats[5].tolist() == [0, 1, 0] and feats[7].tolist() == [1, 0, 0]
    assert feats[[0, 1, 4, 6]].sum() == 0


def test_a_partial_phrase_does_not_match(gazetteer):
    assert gazetteer.features(["new", "jersey"]).sum() == 0


def test_sub_tokens_carry_their_words_features(gazetteer):
    words = [["to", "boston"]]
    word_ids = [[None, 0, 1, 1, None, None]]  # "boston" split in two sub-tokens, then padding
    out = extra_inputs(["word_mask", "lexicon_features"], words, word_ids, 6, gazetteer)
    assert out["word_mask"].tolist() == [[False, True, True, False, False, False]]
    assert out["lexicon_features"].shape == (1, 6, 3)
    assert out["lexicon_features"][0, :, 1].tolist() == [0, 0, 1, 1, 0, 0]


def test_features_need_a_gazetteer():
    with pytest.raises(DataError, match="no gazetteer"):
        extra_inputs(["lexicon_features"], [["a"]], [[0]], 1, None)


def test_from_train_split_and_save_load(tmp_path):
    train = [
        Example("a", ["fly", "to", "new", "york"], ["O", "O", "B-city", "I-city"], "flight"),
        Example("b", ["on", "delta"], ["O", "B-airline"], "flight"),
    ]
    built = Gazetteer.from_examples(train, ["city", "airline"])
    assert built.phrases == {"airline": ["delta"], "city": ["new york"]}
    built.save(tmp_path)
    again = Gazetteer.load(tmp_path)
    assert again.types == built.types and again.phrases == built.phrases
    with pytest.raises(DataError, match="no value of slot type"):
        Gazetteer.from_examples(train, ["city", "meal"])


def test_from_files_skips_comments_and_names_missing_files(tmp_path):
    cities = tmp_path / "cities.txt"
    cities.write_text("# US cities\nBoston\n\nnew york\n", encoding="utf-8")
    assert Gazetteer.from_files({"city": cities}).phrases == {"city": ["boston", "new york"]}
    with pytest.raises(DataError, match="model.lexicon.files.airline: .*no such file"):
        Gazetteer.from_files({"airline": tmp_path / "nope.txt"})


def test_from_train_pools_slot_types_by_pattern():
    train = [
        Example(
            "a",
            ["from", "boston", "to", "denver"],
            ["O", "B-fromloc.city_name", "O", "B-toloc.city_name"],
            "f",
        ),
        Example("b", ["at", "logan"], ["O", "B-fromloc.airport_name"], "f"),
    ]
    built = Gazetteer.from_examples(train, {"city": ["*city_name"], "airport": ["*airport_name"]})
    assert built.phrases == {"airport": ["logan"], "city": ["boston", "denver"]}
