"""``nlu data card``, ``nlu data formats`` and ``nlu data convert``: what they print, what they write, and the
one-line errors for what they refuse. (``nlu data download`` is tested with its loopback server in
tests/data/test_download.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from cli_helpers import run_main

from nlu.data.formats import read_examples

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def test_card_prints_the_header_as_written(monkeypatch, capsys):
    code, out, _ = run_main(monkeypatch, capsys, "data", "card", "xsid:de")
    assert code == 0
    header = yaml.safe_load(out.split("\n", 1)[1])
    assert header["licence"] == "CC BY-SA 4.0" and header["default_variant"] == "en"
    assert "# quoted: YAML reads a bare no as false" in out  # comments kept


def test_card_of_an_unknown_name(monkeypatch, capsys):
    code, _, err = run_main(monkeypatch, capsys, "data", "card", "snipz")
    assert code == 2 and "Did you mean 'snips'" in err and "Traceback" not in err


def test_formats_lists_readers_and_writers(monkeypatch, capsys):
    code, out, _ = run_main(monkeypatch, capsys, "data", "formats")
    lines = {line.split()[0]: line.split()[1] for line in out.splitlines()}
    assert lines["rasa"] == "read/write" and lines["atis_iob"] == "read" and len(lines) == 10


def test_convert_rasa_to_conll_and_back(tmp_path, monkeypatch, capsys):
    conll, rasa = tmp_path / "train.conll", tmp_path / "back.yml"
    code, out, _ = run_main(monkeypatch, capsys, "data", "convert", ASSETS / "rasa" / "nlu.yml", conll)
    assert code == 0 and "(rasa) to" in out and "(conll)" in out
    code, _, _ = run_main(monkeypatch, capsys, "data", "convert", conll, rasa)
    assert code == 0
    original, again = read_examples(ASSETS / "rasa" / "nlu.yml"), read_examples(rasa)
    assert [(e.tokens, e.tags, e.intent) for e in again] == [(e.tokens, e.tags, e.intent) for e in original]


def test_convert_never_overwrites_without_asking(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out.jsonl"
    out.write_text("precious\n", encoding="utf-8")
    code, _, err = run_main(monkeypatch, capsys, "data", "convert", ASSETS / "massive" / "en-US.jsonl", out)
    assert code == 2 and "exists; pass --overwrite" in err
    assert out.read_text(encoding="utf-8") == "precious\n"
    code, stdout, _ = run_main(
        monkeypatch,
        capsys,
        "data",
        "convert",
        ASSETS / "massive" / "en-US.jsonl",
        out,
        "--split",
        "train",
        "--overwrite",
    )
    assert code == 0 and "wrote 2 utterances" in stdout
    assert [ex.intent for ex in read_examples(out)] == ["alarm_set", "play_music"]


def test_convert_a_failed_write_leaves_no_partial_file(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out.yml"
    bad = tmp_path / "bad.jsonl"  # a token with a bracket cannot be written unambiguously as Rasa YAML
    bad.write_text('{"tokens": ["a", "[b]"], "tags": ["O", "O"], "intent": "x"}\n', encoding="utf-8")
    code, _, err = run_main(monkeypatch, capsys, "data", "convert", bad, out)
    assert code == 2 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == [bad]


def test_convert_a_data_set_by_name_needs_a_split(tmp_path, monkeypatch, capsys):
    code, _, err = run_main(monkeypatch, capsys, "data", "convert", "demo", tmp_path / "x.conll")
    assert code == 2 and "--split" in err
    code, out, _ = run_main(
        monkeypatch, capsys, "data", "convert", "demo", tmp_path / "x.conll", "--split", "dev"
    )
    assert code == 0 and "wrote 80 utterances" in out
    assert len(read_examples(tmp_path / "x.conll")) == 80


def test_convert_needs_a_known_output_format(tmp_path, monkeypatch, capsys):
    code, _, err = run_main(
        monkeypatch, capsys, "data", "convert", ASSETS / "rasa" / "nlu.yml", tmp_path / "x.csv"
    )
    assert code == 2 and "pass --to" in err
    code, _, err = run_main(
        monkeypatch,
        capsys,
        "data",
        "convert",
        ASSETS / "rasa" / "nlu.yml",
        tmp_path / "x",
        "--to",
        "atis_iob",
    )
    assert code == 2 and "read-only" in err


def test_train_and_evaluate_on_rasa_files_named_per_split(tmp_path, monkeypatch, capsys, tiny_backbone):
    """A recipe's data.files takes the user's own files in any format: Rasa YAML here, CoNLL for dev."""
    from nlu_testing import write_recipe

    dev = tmp_path / "dev.conll"
    run_main(monkeypatch, capsys, "data", "convert", ASSETS / "rasa" / "nlu.yml", dev)
    recipe = write_recipe(tmp_path / "recipe.yaml", tiny_backbone, dataset="demo", training={"max_steps": 4})
    data = {"files": {"train": str(ASSETS / "rasa" / "nlu.yml"), "dev": str(dev)}, "test_split": None}
    recipe.write_text(yaml.safe_dump({**yaml.safe_load(recipe.read_text()), "data": data}), encoding="utf-8")
    code, _, err = run_main(monkeypatch, capsys, "train", recipe)
    assert code == 0, err
    labels = (tmp_path / "run" / "best" / "config.json").read_text(encoding="utf-8")
    assert all(ex.intent in labels for ex in read_examples(ASSETS / "rasa" / "nlu.yml"))
    code, out, err = run_main(
        monkeypatch, capsys, "evaluate", tmp_path / "run" / "best", "--data", tmp_path, "--split", "dev"
    )
    assert code == 0, err


def test_stats_of_a_folder_without_split_files_is_an_error(monkeypatch, capsys, tmp_path):
    """It printed an empty table and exited 0."""
    (tmp_path / "notes.txt").write_text("not data")
    code, stdout, stderr = run_main(monkeypatch, capsys, "data", "stats", tmp_path)
    assert code == 2 and stdout == ""
    assert "no train, dev or test split found" in stderr and "train.jsonl" in stderr


def _hf_folder(folder: Path) -> Path:
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

    features = Features(
        {
            "words": Sequence(Value("string")),
            "labels": Sequence(ClassLabel(names=["O", "B-city", "I-city"])),
            "label": ClassLabel(names=["get_weather", "book_flight"]),
        }
    )
    rows = {
        "words": [["weather", "in", "new", "york"], ["fly", "to", "paris"]],
        "labels": [[0, 0, 1, 2], [0, 0, 1]],
    }
    dataset = Dataset.from_dict(rows | {"label": [0, 1]}, features=features)
    DatasetDict({"train": dataset, "test": dataset}).save_to_disk(str(folder))
    return folder


def test_stats_maps_the_columns_of_a_saved_dataset_as_a_recipe_does(tmp_path, monkeypatch, capsys):
    """A save_to_disk folder whose columns a recipe maps with data.columns could not be counted."""
    folder = _hf_folder(tmp_path / "hf")
    code, _, err = run_main(monkeypatch, capsys, "data", "stats", folder, "--json")
    assert code == 2 and "data.columns" in err
    code, out, err = run_main(
        monkeypatch,
        capsys,
        "data",
        "stats",
        folder,
        "--columns",
        "tokens=words,tags=labels",
        "--columns",
        "intent=label",
        "--json",
    )
    assert code == 0, err
    stats = json.loads(out)
    assert stats["splits"]["train"] | {"file": None} == {
        "utterances": 2,
        "intents": 2,
        "slot_types": 1,
        "words_mean": 3.5,
        "words_max": 4,
        "languages": ["en"],
        "file": None,
        "format": "hf",
    }
    code, _, err = run_main(monkeypatch, capsys, "data", "stats", folder, "--columns", "words=tokens")
    assert code == 2 and "expected tokens=COLUMN" in err
    code, _, err = run_main(monkeypatch, capsys, "data", "stats", "demo", "--columns", "tokens=words")
    assert code == 2 and "not a Hugging Face dataset folder" in err


def test_a_hub_dataset_id_says_how_to_use_it(monkeypatch, capsys, tmp_path):
    """The README promised hub ids for data.dataset; a name with a slash was taken for a missing folder."""
    monkeypatch.chdir(tmp_path)
    code, _, err = run_main(monkeypatch, capsys, "data", "stats", "someone/atis_hub")
    assert code == 2
    assert "hub ids are not read directly" in err
    assert "datasets.load_dataset('someone/atis_hub').save_to_disk('data/atis_hub')" in err
