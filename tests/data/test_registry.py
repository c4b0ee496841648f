"""Finding a data set: by name through its data card and NLU_DATA_DIR, by folder path, packaged, or a Hugging Face
dataset saved to disk. Nothing here touches the network."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import pytest

from nlu.data.demo import DEMO_DIR
from nlu.data.registry import cards_dir, has_split, known_names, load_split, read_card, resolve, split_file
from nlu.data.stats import dataset_stats
from nlu.errors import DataError

ASSETS = Path(__file__).resolve().parents[1] / "assets"


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """An empty data root, set as NLU_DATA_DIR."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("NLU_DATA_DIR", str(root))
    return root


def test_name_resolves_under_nlu_data_dir(data_dir):
    shutil.copytree(ASSETS / "jsonl", data_dir / "atis")
    source = resolve("atis")
    assert source.kind == "card" and source.name == "atis"
    assert split_file(source, "train")[0] == data_dir / "atis" / "train.jsonl"
    assert "atis" in source.describe() and str(data_dir) in source.describe()
    examples = load_split("atis", "train")
    assert examples[0].id == "jl-train-0"
    assert has_split(source, "dev") and not has_split(source, "test")


def test_name_resolves_to_jointbert_layout(data_dir):
    shutil.copytree(ASSETS / "jointbert_format", data_dir / "snips")
    examples = load_split("snips", "dev")
    assert [ex.intent for ex in examples] == ["atis_flight", "atis_airfare"]
    assert examples[0].id == "snips-dev-00000"


def test_known_name_without_files_says_to_set_nlu_data_dir(data_dir):
    with pytest.raises(DataError) as err:
        resolve("atis")
    message = str(err.value)
    assert "'atis'" in message and str(data_dir) in message and "atis/original/train" in message
    assert "NLU_DATA_DIR" in message


def test_unknown_name_lists_known_names():
    with pytest.raises(DataError) as err:
        resolve("no_such_set")
    message = str(err.value)
    assert "unknown data set 'no_such_set'" in message
    assert all(name in message for name in ("atis", "demo", "snips"))
    assert "folder path" in message


def test_cards_ship_inside_the_package(monkeypatch):
    # read from the installed package, so that a wheel installed anywhere knows its data sets
    monkeypatch.delenv("NLU_CARDS_DIR", raising=False)
    packaged = Path(str(resources.files("nlu.data") / "cards"))
    assert cards_dir() == packaged
    assert {"atis", "demo", "massive", "snips", "xsid"} <= set(known_names())
    assert read_card("demo")["card_path"] == str(packaged / "demo.md")


def test_cards_dir_can_be_moved(tmp_path, monkeypatch, data_dir):
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "mine.md").write_text("---\nname: mine\npath: elsewhere/mine\n---\n\n# Mine\n", encoding="utf-8")
    (cards / "broken.md").write_text("# no header\n", encoding="utf-8")
    monkeypatch.setenv("NLU_CARDS_DIR", str(cards))
    shutil.copytree(ASSETS / "jsonl", data_dir / "elsewhere" / "mine")
    assert Path(resolve("mine").location) == data_dir / "elsewhere" / "mine"
    assert read_card("mine")["card_path"] == str(cards / "mine.md")
    with pytest.raises(DataError, match="must start with a YAML header"):
        resolve("broken")
    with pytest.raises(DataError, match="Known names: broken, mine"):
        resolve("atis")


@pytest.mark.parametrize("layout", ["jsonl", "jointbert_format"])
def test_folder_path(layout):
    source = resolve(str(ASSETS / layout))
    assert source.kind == "folder" and source.name is None
    assert load_split(source, "train") and load_split(source, "dev")
    assert not has_split(source, "test")


def test_folder_path_missing_split_says_what_is_expected():
    with pytest.raises(DataError) as err:
        load_split(str(ASSETS / "jsonl"), "test")
    message = str(err.value)
    assert "no split 'test'" in message
    assert "test.jsonl" in message and "test/seq.in" in message


def test_missing_folder_path(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        resolve(str(tmp_path / "not" / "there"))


def test_file_instead_of_folder():
    with pytest.raises(DataError, match="expected a folder"):
        resolve(str(ASSETS / "jsonl" / "train.jsonl"))


def test_packaged_demo_needs_no_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("NLU_DATA_DIR", str(tmp_path / "nothing-here"))
    source = resolve("demo")
    assert Path(source.location) == DEMO_DIR
    card = read_card("demo")
    for split, size in card["splits"].items():
        assert len(load_split(source, split)) == size


def _save_hf(folder: Path, splits=("train", "test")) -> Path:
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

    features = Features(
        {
            "words": Sequence(Value("string")),
            "labels": Sequence(ClassLabel(names=["O", "B-city", "I-city"])),
            "intent": ClassLabel(names=["get_weather", "book_flight"]),
        }
    )
    rows = {
        "words": [["weather", "in", "new", "york"], ["fly", "to", "paris"], ["fly", "home"]],
        "labels": [[0, 0, 1, 2], [0, 0, 2], [0, 0]],  # row 1: a stray I-city
        "intent": [0, 1, 1],
    }
    dataset = Dataset.from_dict(rows, features=features)
    DatasetDict({split: dataset for split in splits}).save_to_disk(str(folder))
    return folder


def test_hf_dataset_saved_to_disk(tmp_path):
    folder = _save_hf(tmp_path / "hf")
    source = resolve(str(folder))
    assert source.kind == "hf"
    source.columns = {"tokens": "words", "tags": "labels"}
    examples = load_split(source, "train")
    assert [ex.tokens for ex in examples] == [
        ["weather", "in", "new", "york"],
        ["fly", "to", "paris"],
        ["fly", "home"],
    ]
    assert examples[0].tags == ["O", "O", "B-city", "I-city"]  # ClassLabel ids -> names
    assert examples[1].tags == ["O", "O", "B-city"]  # repaired
    assert [ex.intent for ex in examples] == ["get_weather", "book_flight", "book_flight"]
    assert examples[0].id == "train-00000"


def test_hf_dataset_missing_split_and_columns(tmp_path):
    folder = _save_hf(tmp_path / "hf")
    source = resolve(str(folder))
    with pytest.raises(DataError) as err:
        load_split(source, "train")  # the default column names tokens/tags do not exist
    assert "words" in str(err.value) and "data.columns" in str(err.value)
    source.columns = {"tokens": "words", "tags": "labels"}
    with pytest.raises(DataError, match="no split 'dev'"):
        load_split(source, "dev")


def test_hf_dataset_has_split_reads_the_saved_split_list(tmp_path):
    source = resolve(str(_save_hf(tmp_path / "hf", splits=("train", "validation"))))
    assert has_split(source, "train") and has_split(source, "validation")
    assert not has_split(source, "dev") and not has_split(source, "test")


def test_stats_of_hf_dataset_skip_missing_splits(tmp_path):
    from datasets import Dataset, DatasetDict

    rows = {"tokens": [["hi"], ["fly", "home"]], "tags": [["O"], ["O", "B-loc"]], "intent": ["greet", "fly"]}
    DatasetDict(train=Dataset.from_dict(rows), test=Dataset.from_dict(rows)).save_to_disk(
        str(tmp_path / "hf")
    )
    stats = dataset_stats(str(tmp_path / "hf"))
    assert set(stats["splits"]) == {"train", "test"}
    assert stats["splits"]["train"]["utterances"] == 2
    assert stats["splits"]["test"]["slot_types_not_in_train"] == []


def test_stats_report_card_mismatches(data_dir):
    shutil.copytree(ASSETS / "jsonl", data_dir / "atis")
    stats = dataset_stats("atis")
    assert stats["splits"]["train"]["utterances"] == 3
    assert stats["splits"]["train"]["languages"] == ["de", "en"]
    assert stats["splits"]["dev"]["intents_not_in_train"] == ["turn_off_device"]
    mismatches = stats["card_mismatches"]
    assert "train: the card says 4478 utterances, the files have 3" in mismatches
    assert any(
        m == "test: the card says 893 utterances, no such split" for m in mismatches
    )  # no test split here
    assert any(m.startswith("num_intents: card says 21") for m in mismatches)


def test_stats_of_demo_match_its_card():
    stats = dataset_stats("demo")
    assert stats["card_mismatches"] == []
    assert json.loads(json.dumps(stats)) == stats  # what `nlu data stats --json` prints
