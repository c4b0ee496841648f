"""Label files with example values of slot types (``nlu.data.label_files``), beside the descriptions every reader
takes; the packaged SNIPS label file has two per slot type."""

from __future__ import annotations

import pytest

from nlu.data.label_files import load_label_file, question_text, read_label_file
from nlu.errors import DataError


def test_a_label_file_gives_example_values_in_either_form(tmp_path):
    path = tmp_path / "labels.yaml"
    path.write_text(
        "intents:\n  order_pizza: order a pizza\n  cancel:\n    description: cancel an order\n"
        "slots:\n  topping: an ingredient\n  size:\n    description: how big\n    examples: [large, 12, small]\n"
        "  address:\n    examples: [10 downing street]\n  crust:\n",
        encoding="utf-8",
    )
    labels = read_label_file(path)
    assert labels.intents == {"order_pizza": "order a pizza", "cancel": "cancel an order"}
    assert labels.slots == {"topping": "an ingredient", "size": "how big", "address": "", "crust": ""}
    assert labels.slot_examples == {"size": ["large", "12", "small"], "address": ["10 downing street"]}
    assert load_label_file(path) == (labels.intents, labels.slots)  # what every other reader takes
    packaged = read_label_file("snips")
    assert len(packaged.slot_examples) == len(packaged.slots) == 39
    assert all(len(values) == 2 for values in packaged.slot_examples.values())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("intents:\n  a:\n    examples: [x]\n", ["intents.a.examples", "slot types only"]),
        ("slots:\n  a:\n    examples: x\n", ["slots.a.examples", "expected a list"]),
        ("slots:\n  a:\n    examples: [yes]\n", ["slots.a.examples", "quote it"]),
        ("slots:\n  a:\n    values: [x]\n", ["slots.a.values: unknown key"]),
        ("slots:\n  a:\n    description: [x]\n", ["slots.a.description", "got a list"]),
        ("slots:\n  a: [x, y]\n", ["slots.a", "{description: ..., examples: [...]}"]),
    ],
)
def test_a_bad_entry_is_named_by_its_file_and_key(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_label_file(path)
    for part in [str(path), *expected]:
        assert part in str(err.value)


def test_a_question_names_the_type_its_description_and_its_example_values():
    assert question_text("song", "a track", ["yesterday", "hey jude", "help"]) == (
        "song: a track; for example yesterday, hey jude or help"
    )
    assert question_text("timeRange", "", ["tonight"]) == "time range; for example tonight"
    assert question_text("timeRange", "", []) == "time range"
