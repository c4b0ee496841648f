"""The Coach protocol's scores and sections of docs/zeroshot.md, and how the page keeps the parts a run did not
measure; the held-out domains' test sets against the counts Coach's code prints, where the SNIPS data is; and a
fold and the latency run end to end on a few SNIPS utterances with the tiny backbone (the code path of the
benchmark, not its figures)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from nlu_testing import write_recipe

from benchmarks import zeroshot, zeroshot_coach
from nlu.data.example import Example
from nlu.prediction import Prediction


def example(tags: str) -> Example:
    tags_list = tags.split()
    return Example(id="x", tokens=[f"w{i}" for i in range(len(tags_list))], tags=tags_list, intent="I")


def prediction(tags: str) -> Prediction:
    return Prediction(text="", intent="I", intent_confidence=1.0, tags=tags.split())


def test_scores_split_seen_and_unseen_by_type_and_by_utterance():
    gold = [example("B-city O B-dish"), example("B-city I-city O"), example("O B-dish O")]
    pred = [prediction("B-city O O"), prediction("B-city I-city O"), prediction("O B-dish O")]
    result = zeroshot_coach.scores(gold, pred, seen={"city"})
    assert result["utterances"] == 3 and result["seen_utterances"] == 1
    assert result["slot_f1"] == pytest.approx(2 * 3 / 4 * 3 / 3 / (3 / 4 + 1))  # 3 of 4 found, none wrong
    assert result["seen_type_f1"] == 1.0
    assert result["unseen_type_f1"] == pytest.approx(2 / 3)  # one of two dishes
    assert result["seen_utterance_f1"] == 1.0  # the second utterance: only seen types
    assert result["unseen_utterance_f1"] == pytest.approx(0.8)  # 2 of 3 found, none wrong
    assert result["per_type"]["dish"] == {"f1": pytest.approx(2 / 3), "support": 2}
    none_unseen = zeroshot_coach.scores(gold[1:2], pred[1:2], seen={"city"})
    assert none_unseen["unseen_type_f1"] is None and none_unseen["unseen_utterance_f1"] is None


def fold_record(domain: str, f1: float, limit=None) -> dict:
    part = {
        "slot_f1": f1,
        "seen_type_f1": 0.5,
        "unseen_type_f1": None if domain == "SearchCreativeWork" else 0.25,
        "seen_utterance_f1": 0.6,
        "unseen_utterance_f1": 0.3,
    }
    return {
        "held_out": domain,
        "unseen_slot_types": [] if domain == "SearchCreativeWork" else ["dish"],
        "coach_test": part,
        "all": part | {"slot_f1": f1 + 0.01},
        "limit": limit,
    }


def test_the_coach_section_has_a_row_per_domain_and_the_average():
    folds = [fold_record(d, 0.3 + 0.1 * i) for i, d in enumerate(zeroshot_coach.DOMAINS)]
    lines = zeroshot_coach.render(folds, None)
    text = "\n".join(lines)
    assert "| AddToPlaylist | 30.0 | 50.0 | 25.0 | 60.0 | 30.0 | 31.0 | dish |" in text
    assert "| SearchCreativeWork | 80.0 | 50.0 | - | 60.0 | 30.0 | 81.0 | - |" in text
    assert "| **average** | 60.0 | 50.0 | 25.0 | 60.0 | 30.0 | 61.0 | |" in text
    assert "32.85" in text and "Smoke run" not in text and "Only" not in text
    partial = "\n".join(zeroshot_coach.render([fold_record("RateBook", 0.1, limit=40)], None))
    assert "Only 1 of the 7 domains" in partial and "Smoke run: 1 fold" in partial


LATENCY = {
    "utterances": 200,
    "machine": {"cpu": "a CPU", "threads": 1},
    "rows": [
        {"slot_types": 10, "quantization": "none", "p50_ms": 40.0, "p95_ms": 50.0, "mean_ms": 41.0},
        {"slot_types": 10, "quantization": "int8", "error": "label agreement with torch is ..."},
    ],
}


def test_the_latency_section_has_a_row_per_label_set_and_export():
    text = "\n".join(zeroshot_coach.render_latency(LATENCY))
    assert "| 10 | fp32 | 40.0 | 50.0 | 41.0 |" in text and "| 10 | int8 | failed its export check" in text
    assert "a CPU, 1 thread" in text


def test_a_run_keeps_the_parts_it_did_not_measure_with_their_command():
    earlier = {
        "command": "python -m benchmarks.zeroshot",
        "written": "then",
        "latency": LATENCY,
        "atis": None,
    }
    kept = zeroshot.kept_parts(earlier)
    assert kept["latency"] == LATENCY and kept["coach"] is None and kept["snips"] is None
    assert kept["provenance"] == {"latency": {"command": "python -m benchmarks.zeroshot", "written": "then"}}
    record = kept | {"command": "python -m benchmarks.zeroshot --snips-intents", "written": "now"}
    record["coach"] = [fold_record("RateBook", 0.4)]
    record["provenance"]["coach"] = {"command": record["command"], "written": "now"}
    page = zeroshot.render(record, Path("zeroshot.md"))
    assert "Measured by `python -m benchmarks.zeroshot`, then." in page  # under the kept part only
    assert page.count("Measured by") == 1 and "## SNIPS across domains" in page


DATA = Path(os.environ.get("NLU_DATA_DIR", "/nonexistent"))


@pytest.mark.skipif(not (DATA / "snips" / "train.jsonl").is_file(), reason="NLU_DATA_DIR has no SNIPS")
def test_the_held_out_domains_test_sets_are_coachs():
    """Coach's preprocessing prints, per target domain, the seen and unseen utterances of its test set
    (zliucr/coach, preprocess/slu_preprocess.py): ours match for both domains checked here."""
    for domain, seen, unseen in [("AddToPlaylist", 480, 1062), ("RateBook", 0, 1556)]:
        train, dev, target, seen_types, target_types = zeroshot_coach.fold_data(domain)
        assert {ex.intent for ex in train + dev} == set(zeroshot_coach.DOMAINS) - {domain}
        test = target[zeroshot_coach.COACH_VALIDATION :]
        result = zeroshot_coach.scores(test, [prediction(" ".join(ex.tags)) for ex in test], seen_types)
        assert (result["seen_utterances"], result["utterances"] - result["seen_utterances"]) == (seen, unseen)
        assert result["slot_f1"] == 1.0


@pytest.mark.skipif(not (DATA / "snips" / "train.jsonl").is_file(), reason="NLU_DATA_DIR has no SNIPS")
def test_a_fold_and_the_latency_run_end_to_end_on_a_tiny_model(tiny_backbone, tmp_path, monkeypatch):
    """``fold`` trains through ``benchmarks.zeroshot.train_on`` (two steps of the tiny backbone instead of the
    MiniLM recipe), gives the model the held-out domain's slot types with their example values, scores both
    test sets and caches the fold; ``latency`` exports with the first slot types of the SNIPS label file and
    times the runtime."""
    recipe = write_recipe(
        tmp_path / "recipe.yaml",
        tiny_backbone,
        model={"architecture": "zeroshot_qa", "use_crf": False, "zeroshot_qa": {"embed_dim": 16}},
    )
    monkeypatch.setattr(zeroshot_coach, "RECIPE", recipe)
    monkeypatch.setattr(zeroshot, "EXTRA_OVERRIDES", ["training.max_steps=2"])
    runs = tmp_path / "runs"
    record = zeroshot_coach.fold("RateBook", runs, zeroshot.train_on, limit=4)
    assert record["held_out"] == "RateBook" and record["limit"] == 4 and record["train_utterances"] == 4
    assert (
        set(record["unseen_slot_types"]) <= set(record["slot_types"])
        and "best_rating" in record["slot_types"]
    )
    assert record["coach_test"]["utterances"] == 4 and record["all"]["utterances"] == 8
    assert record["train_seconds"] is not None
    best = runs / zeroshot_coach.run_name("RateBook", 4) / "best"
    trained = json.loads((best / "config.json").read_text())["trained_slot_types"]
    assert trained and "rating_value" not in trained  # nothing of the held-out domain took part
    # a finished fold is read back, not trained again (no train_on to call)
    assert zeroshot_coach.fold("RateBook", runs, None, limit=4) == record

    monkeypatch.setattr(zeroshot_coach, "LATENCY_TYPES", (3,))
    timed = zeroshot_coach.latency(best, runs, limit=3)
    assert timed["utterances"] == 3 and [r["slot_types"] for r in timed["rows"]] == [3, 3]
    fp32 = timed["rows"][0]
    assert fp32["quantization"] == "none" and fp32["p50_ms"] > 0
    artifact = runs / "zeroshot_qa-latency-limit3" / "artifact-3-none"
    assert (artifact / "slot_labels.txt").read_text().split()[2:] == [
        f"{p}-{t}" for t in ("album", "artist", "best_rating") for p in "BI"
    ]
    text = "\n".join(zeroshot_coach.render([record], timed))
    assert "| RateBook |" in text and "Smoke run: 1 fold" in text and "| 3 | fp32 |" in text
