"""Label vocabularies: built from train only, UNK at index 0, B- and I- for every slot type."""

from __future__ import annotations

from nlu.data.example import Example
from nlu.data.labels import UNK, LabelVocab


def _ex(tags: list[str], intent: str) -> Example:
    return Example(id="x", tokens=[f"w{i}" for i in range(len(tags))], tags=tags, intent=intent)


TRAIN = [
    _ex(["O", "B-toloc.city_name", "I-toloc.city_name"], "atis_flight"),
    _ex(["B-depart_date.day_name", "O"], "atis_flight#atis_airfare"),
    _ex(["O", "O"], "atis_airline"),
    _ex(["B-city", "O"], "atis_flight"),
]


def test_unk_is_index_zero():
    vocab = LabelVocab.from_examples(TRAIN)
    assert vocab.intents[0] == UNK and vocab.slots[0] == UNK
    assert vocab.slots[1] == "O"


def test_intents_are_sorted_unique_and_multi_intents_whole():
    vocab = LabelVocab.from_examples(TRAIN)
    assert vocab.intents == [UNK, "atis_airline", "atis_flight", "atis_flight#atis_airfare"]


def test_every_slot_type_gets_b_and_i():
    # depart_date.day_name and city only occur as B-, but the model must be able to predict I- too
    vocab = LabelVocab.from_examples(TRAIN)
    assert vocab.slots == [
        UNK,
        "O",
        "B-city",
        "I-city",
        "B-depart_date.day_name",
        "I-depart_date.day_name",
        "B-toloc.city_name",
        "I-toloc.city_name",
    ]
    assert vocab.slot_types == {"city", "depart_date.day_name", "toloc.city_name"}


def test_type_seen_only_as_inside_tag_still_gets_both():
    vocab = LabelVocab.from_examples([_ex(["O", "I-x"], "a")])
    assert vocab.slots == [UNK, "O", "B-x", "I-x"]


def test_unseen_labels_map_to_unk():
    vocab = LabelVocab.from_examples(TRAIN)
    assert vocab.intent_id("atis_day_name") == 0
    assert vocab.slot_id("B-booking_class") == 0
    assert vocab.slot_id("I-city") == vocab.slots.index("I-city") > 0
    assert vocab.intent_id("atis_flight") == vocab.intents.index("atis_flight") > 0
    assert [vocab.slot_id(s) for s in vocab.slots] == list(range(len(vocab.slots)))


def test_no_slots_at_all():
    vocab = LabelVocab.from_examples([_ex(["O"], "greet")])
    assert vocab.slots == [UNK, "O"] and vocab.intents == [UNK, "greet"]


def test_save_writes_one_label_a_line(tmp_path):
    vocab = LabelVocab.from_examples(TRAIN)
    vocab.save(tmp_path)
    assert (tmp_path / "intent_labels.txt").read_text(encoding="utf-8").splitlines() == vocab.intents
    assert (tmp_path / "slot_labels.txt").read_text(encoding="utf-8").splitlines() == vocab.slots
