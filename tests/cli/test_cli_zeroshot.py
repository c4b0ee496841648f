"""A zero-shot model takes a new label set at prediction and export time (``--labels``); other models refuse."""

from __future__ import annotations

import json

import pytest
from cli_helpers import run_main
from nlu_testing import QA_LABELS, write_recipe

LABELS = """intents:
  order_pizza: order a pizza to be delivered
  cancel_order: cancel an order
slots:
  topping: an ingredient on a pizza
  address: where to deliver
"""


@pytest.fixture(scope="module")
def zeroshot_model(tmp_path_factory, tiny_backbone):
    from nlu.training.trainer import train

    folder = tmp_path_factory.mktemp("zeroshot-cli")
    recipe = write_recipe(
        folder / "r.yaml",
        tiny_backbone,
        model={"architecture": "zeroshot", "use_crf": False, "zeroshot": {"embed_dim": 16}},
    )
    return train(recipe, output_dir=folder / "run").best_model_dir


def test_predict_with_a_new_label_set(zeroshot_model, tmp_path, monkeypatch, capsys):
    labels = tmp_path / "labels.yaml"
    labels.write_text(LABELS, encoding="utf-8")
    code, out, err = run_main(
        monkeypatch, capsys, "predict", zeroshot_model, "a pizza with ham", "--labels", labels
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["intent"]["name"] in {"order_pizza", "cancel_order"}
    assert {r["name"] for r in result["intent_ranking"]} == {"order_pizza", "cancel_order"}
    assert {e["entity"] for e in result["entities"]} <= {"topping", "address"}


def test_export_with_a_new_label_set_and_artifacts_refuse_labels(
    zeroshot_model, tmp_path, monkeypatch, capsys
):
    labels = tmp_path / "labels.yaml"
    labels.write_text(LABELS, encoding="utf-8")
    artifact = tmp_path / "artifact"
    code, _, err = run_main(monkeypatch, capsys, "export", zeroshot_model, artifact, "--labels", labels)
    assert code == 0, err
    assert (artifact / "intent_labels.txt").read_text().split() == ["UNK", "order_pizza", "cancel_order"]
    code, out, _ = run_main(monkeypatch, capsys, "predict", artifact, "cancel my pizza order")
    assert code == 0 and json.loads(out)["intent"]["name"] in {"order_pizza", "cancel_order"}
    code, _, err = run_main(monkeypatch, capsys, "predict", artifact, "hi", "--labels", labels)
    assert code == 2 and "export the model again" in err


def test_a_fixed_label_model_refuses_labels(tiny_model_dir, tmp_path, monkeypatch, capsys):
    labels = tmp_path / "labels.yaml"
    labels.write_text(LABELS, encoding="utf-8")
    code, _, err = run_main(monkeypatch, capsys, "predict", tiny_model_dir, "hi", "--labels", labels)
    assert code == 2 and "only the zeroshot architecture" in err


def test_the_question_answering_model_takes_a_label_file_with_example_values(
    tiny_zeroshot_qa_dir, tmp_path, monkeypatch, capsys
):
    labels = tmp_path / "labels.yaml"
    labels.write_text(QA_LABELS, encoding="utf-8")
    code, out, err = run_main(
        monkeypatch, capsys, "predict", tiny_zeroshot_qa_dir, "a pizza with ham", "--labels", labels
    )
    assert code == 0, err
    result = json.loads(out)
    assert {r["name"] for r in result["intent_ranking"]} == {"order_pizza", "play_music"}
    assert {e["entity"] for e in result["entities"]} <= {"topping", "city", "song"}
    artifact = tmp_path / "artifact"
    code, _, err = run_main(monkeypatch, capsys, "export", tiny_zeroshot_qa_dir, artifact, "--labels", labels)
    assert code == 0, err
    assert (artifact / "slot_labels.txt").read_text().split()[2:4] == ["B-topping", "I-topping"]


def test_unseen_bonus_favours_the_labels_training_never_saw(zeroshot_model, tmp_path, monkeypatch, capsys):
    trained = json.loads((zeroshot_model / "config.json").read_text())["intent_labels"][1]
    labels = tmp_path / "labels.yaml"
    labels.write_text(f"intents:\n  {trained}:\n  order_pizza: order a pizza\n", encoding="utf-8")
    # cosines lie in [-1, 1]: a bonus of 2 puts every new label above every trained one
    code, out, err = run_main(
        monkeypatch,
        capsys,
        "predict",
        zeroshot_model,
        "hello",
        "--labels",
        labels,
        "--unseen-intent-bonus",
        "2",
    )
    assert code == 0, err
    assert json.loads(out)["intent"]["name"] == "order_pizza"
    code, _, err = run_main(
        monkeypatch, capsys, "predict", zeroshot_model, "hello", "--unseen-slot-bonus", "0.1"
    )
    assert code == 2 and "give --labels" in err
