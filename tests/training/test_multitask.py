"""Several data sets in one model (``data.tasks``): batches of one task each routed to that task's heads, the
schedules, the recipe checks, and a tiny multi-task model trained, saved, loaded, parsed, evaluated and exported
per task, on the tiny BERT and on the tiny Llama."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from nlu_testing import write_recipe

from nlu.data.labels import LabelVocab
from nlu.errors import ModelError, RecipeError
from nlu.models import build_model, select_task
from nlu.training.multitask import TaskBatchSampler, TaskCollator
from nlu.training.recipe import load_recipe

A = LabelVocab(["UNK", "play", "stop"], ["UNK", "O", "B-genre", "I-genre"])
B = LabelVocab(["UNK", "x", "y", "z"], ["UNK", "O", "B-city", "I-city", "B-date", "I-date"])
TASKS = [{"name": "music", "dataset": "demo"}, {"name": "travel", "dataset": "demo", "train_sample": 120}]
TRAINING = {"max_steps": 40, "epochs": 2, "learning_rate": 1e-2, "warmup_ratio": 0.0}


@pytest.fixture(scope="module")
def two_task_model(tiny_backbone):
    torch.manual_seed(0)
    return build_model(
        "jointbert", str(tiny_backbone), A, tasks={"music": (A, "ws_punct_v2"), "travel": (B, "ws_punct_v2")}
    )


def test_each_batch_goes_to_its_tasks_heads(two_task_model):
    model = two_task_model.train()
    ids = torch.tensor([[2, 10, 11, 3], [2, 12, 3, 0]])
    mask = (ids != 0).long()
    for task, vocab in enumerate((A, B)):
        model.zero_grad()
        task_ids = torch.full((2,), task)
        slot_labels = torch.tensor([[-100, 1, 2, -100], [-100, 1, -100, -100]])
        out = model(ids, mask, task_ids=task_ids, intent_labels=torch.tensor([1, 2]), slot_labels=slot_labels)
        assert out.intent_logits.shape == (2, len(vocab.intents))
        assert out.slot_logits.shape == (2, 4, len(vocab.slots))
        out.loss.backward()
        used, unused = (
            model.task_heads[["music", "travel"][task]],
            model.task_heads[["travel", "music"][task]],
        )
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in used.parameters())
        assert all(p.grad is None or not p.grad.any() for p in unused.parameters())
        assert model.encoder.get_input_embeddings().weight.grad.abs().sum() > 0  # the shared encoder learns
    with pytest.raises(ValueError, match="same task"):
        model(ids, mask, task_ids=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="needs the batch's task"):
        model(ids, mask)


def test_one_task_is_a_single_task_model_on_the_shared_encoder(two_task_model):
    travel = two_task_model.for_task("travel")
    assert travel.config.tasks is None and travel.config.intent_labels == B.intents
    assert travel.encoder is two_task_model.encoder
    assert travel.slot_classifier is two_task_model.task_heads["travel"].slot_classifier
    assert not any(p.is_meta for p in travel.parameters())
    ids = torch.tensor([[2, 10, 11, 3]])
    two_task_model.eval()
    with torch.no_grad():
        torch.testing.assert_close(
            travel.eval()(ids, torch.ones_like(ids)).slot_logits,
            two_task_model(ids, torch.ones_like(ids), task_ids=torch.tensor([1])).slot_logits,
        )
    assert select_task(two_task_model, "music").config.slot_labels == A.slots
    with pytest.raises(ModelError, match="multi-task model with heads for music, travel"):
        select_task(two_task_model, None)
    with pytest.raises(ModelError, match="the model's tasks are music, travel"):
        select_task(two_task_model, "weather")
    with pytest.raises(ModelError, match="has one task"):
        select_task(travel, "travel")


@pytest.mark.parametrize("schedule", ["mixed", "alternate"])
def test_batches_hold_one_task_and_an_epoch_sees_every_utterance_once(schedule):
    lengths = [[3, 5, 4, 6, 7, 3, 2], [4, 4, 9, 2]]
    sampler = TaskBatchSampler(lengths, batch_size=2, seed=3, schedule=schedule)
    sampler.set_epoch(0)
    ordered = sampler.ordered()
    assert len(ordered) == len(sampler) == 4 + 2
    for task, rows in ordered:
        offset = 0 if task == 0 else 7
        assert all(offset <= i < offset + len(lengths[task]) for i in rows)
    assert sorted(i for _, rows in ordered for i in rows) == list(range(11))
    assert [rows for _, rows in ordered] == list(sampler)
    again = TaskBatchSampler(lengths, batch_size=2, seed=3, schedule=schedule)
    again.set_epoch(0)
    assert again.ordered() == ordered  # a resumed run sees the same batches
    if schedule == "alternate":
        assert [task for task, _ in ordered] == [0, 1, 0, 1, 0, 0]
    sampler.set_epoch(1)
    assert sampler.ordered() != ordered


def test_the_collator_carries_the_task():
    rows = [
        {"input_ids": [2, 5, 3], "attention_mask": [1, 1, 1], "slot_labels": [-100, 1, -100], "intent_label": 1,
         "task_id": 1},
        {"input_ids": [2, 3], "attention_mask": [1, 1], "slot_labels": [-100, -100], "intent_label": 2,
         "task_id": 1},
    ]  # fmt: skip
    batch = TaskCollator(0)(rows)
    assert batch["task_ids"].tolist() == [1, 1] and batch["input_ids"].shape == (2, 3)


def _recipe_file(tmp_path: Path, data: dict, **model) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({"data": data, "model": model}), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("data", "model", "message"),
    [
        ({"tasks": TASKS[:1]}, {}, "data.tasks: list should have at least 2 items"),
        ({"tasks": [TASKS[0], TASKS[0]]}, {}, "task names must differ"),
        ({"dataset": "demo", "tasks": TASKS}, {}, "data.dataset: not with data.tasks"),
        ({"tasks": TASKS, "intent_map": {"a": "b"}}, {}, "data.intent_map: not combined with data.tasks"),
        ({"tasks": [{"name": "x y", "dataset": "demo"}, TASKS[1]]}, {}, "string should match pattern"),
        ({"tasks": [{"name": "x"}, TASKS[1]]}, {}, "task 'x': give either dataset"),
        ({"tasks": TASKS}, {"architecture": "slotrefine"}, "architecture slotrefine has no multi-task heads"),
        (
            {"tasks": TASKS},
            {"lexicon": {"from_train": ["city"]}},
            "model.lexicon: not combined with data.tasks",
        ),
    ],
)
def test_recipe_errors(tmp_path, data, model, message):
    with pytest.raises(RecipeError) as err:
        load_recipe(_recipe_file(tmp_path, data, **model))
    assert any(message.lower() in problem.lower() for problem in err.value.problems), err.value.problems


def test_a_multitask_recipe_validates(tmp_path):
    from nlu.training.recipe import check_recipe

    path = _recipe_file(tmp_path, {"tasks": TASKS + [{"name": "bad", "dataset": "no-such-set"}]})
    recipe = load_recipe(path)
    assert [t.name for t in recipe.data.tasks] == ["music", "travel", "bad"]
    assert recipe.training.task_schedule == "mixed"
    problems = check_recipe(path)
    assert len(problems) == 1 and "data.tasks[2].dataset" in problems[0]


@pytest.fixture(scope="module", params=["bert", "llama"])
def multitask_run(request, tmp_path_factory, tiny_backbone) -> Path:
    """A tiny two-task model trained on DEMO (both tasks DEMO, the second on a sample) for 40 steps."""
    from nlu.training.trainer import train

    backbone = tiny_backbone if request.param == "bert" else request.getfixturevalue("tiny_decoder_backbone")
    folder = tmp_path_factory.mktemp(f"multitask-{request.param}")
    path = write_recipe(folder / "recipe.yaml", backbone, training=TRAINING | {"task_schedule": "alternate"})
    recipe = yaml.safe_load(path.read_text())
    recipe["data"] = {"tasks": TASKS}
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    result = train(path, output_dir=folder / "run")
    assert set(result.dev_metrics["tasks"]) == {"music", "travel"}
    return folder / "run"


def test_the_run_holds_one_model_and_every_tasks_labels_and_report(multitask_run):
    best = multitask_run / "best"
    config = json.loads((best / "config.json").read_text())
    assert [t["name"] for t in config["tasks"]] == ["music", "travel"]
    assert "auto_map" in config and (best / "modeling_nlu.py").is_file()  # saved as every model is
    card = (best / "README.md").read_text()
    assert "music (" in card and "travel (" in card and "choose one with --task NAME" in card
    for name in ("music", "travel"):
        assert (best / "tasks" / name / "intent_labels.txt").read_text().split() == next(
            t["intent_labels"] for t in config["tasks"] if t["name"] == name
        )
        assert (multitask_run / "report" / name / "report.md").is_file()
    records = [json.loads(line) for line in (multitask_run / "metrics.jsonl").read_text().splitlines()]
    assert set(records[-1]["dev_tasks"]) == {"music", "travel"}
    mean = records[-1]["dev"]["exact_match"]
    assert mean == pytest.approx(sum(s["exact_match"] for s in records[-1]["dev_tasks"].values()) / 2)


def test_parse_and_evaluate_one_task(multitask_run, tmp_path):
    from nlu.evaluation.evaluate import evaluate
    from nlu.parser import load_parser

    with pytest.raises(ModelError, match="choose one with --task"):
        load_parser(multitask_run)
    music = load_parser(multitask_run, task="music")
    prediction = music.parse("play some jazz in the kitchen")
    assert prediction.intent in music.intent_labels
    summary = evaluate(multitask_run / "best", "demo", "dev", task="travel")
    assert summary["n"] == 80 and Path(summary["report_dir"]).name == "eval-demo-dev-travel"


def test_export_one_task_per_artifact(multitask_run, tmp_path):
    from nlu.export import export_model
    from nlu.parser import load_parser

    report = export_model(multitask_run / "best", tmp_path / "travel", task="travel")
    assert report["parity"]["passed"] and report["task"] == "travel"
    assert report["check_data"] == "demo/dev"  # the task's own dev split, from the recipe
    manifest = json.loads((tmp_path / "travel" / "nlu.json").read_text())
    assert manifest["task"] == "travel" and manifest["architecture"] == "nlu-jointbert"
    torch_parser = load_parser(multitask_run, task="travel")
    onnx_parser = load_parser(tmp_path / "travel", task="travel")
    texts = ["play some jazz", "book a flight to paris tomorrow", "hi"]
    for a, b in zip(torch_parser.parse_batch(texts), onnx_parser.parse_batch(texts), strict=True):
        assert (a.intent, a.tags) == (b.intent, b.tags)
    with pytest.raises(ModelError, match="exported from task 'travel'"):
        load_parser(tmp_path / "travel", task="music")
    with pytest.raises(ModelError, match="choose one with --task"):
        export_model(multitask_run / "best", tmp_path / "none")


def run_main(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """``nlu ARGS`` in process (as tests/cli/cli_helpers.py runs it): (exit code, stdout, stderr)."""
    import logging
    import sys

    from nlu.cli.main import main

    monkeypatch.setattr(sys, "argv", ["nlu", *(str(a) for a in args)])
    level = logging.getLogger("nlu").level
    try:
        with pytest.raises(SystemExit) as exit_info:
            main()
    finally:
        logging.getLogger("nlu").setLevel(level)
    captured = capsys.readouterr()
    return exit_info.value.code or 0, captured.out, captured.err


def test_the_command_line_takes_a_task(multitask_run, monkeypatch, capsys):
    code, out, _ = run_main(
        monkeypatch, capsys, "predict", multitask_run, "play some jazz", "--task", "music"
    )
    assert code == 0 and json.loads(out.splitlines()[-1])["text"] == "play some jazz"
    code, out, _ = run_main(
        monkeypatch, capsys, "evaluate", multitask_run / "best", "--data", "demo", "--task", "music"
    )
    assert code == 0 and "demo / test (task music)" in out
    code, _, err = run_main(monkeypatch, capsys, "predict", multitask_run, "play some jazz")
    assert code == 2 and "choose one with --task NAME" in err
