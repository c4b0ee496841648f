"""Benchmark (issue 5): what SlotRefine's second pass repairs, and how often each tagger leaves I- tags adrift.

SlotRefine's claim is that its second pass, which sees where pass 1 put B- tags, repairs *uncoordinated* slots:
an ``I-X`` that continues no ``X`` span (after ``O``, or after ``B-Y``). For every finished SlotRefine run of
``benchmarks/results.py`` this decodes the test set twice with the same weights, from pass 1's slot logits and
from pass 2's (the model's output), and scores both: slot F1, exact match, and the uncoordinated tags. The same
count is given for every other model from the test predictions ``benchmarks/results.py`` kept
(``eval-test/predictions.jsonl``): a tagger that decides each word alone (JointBERT, CTRAN) can make them; a CRF
can too, but its transition scores learn to avoid them.

Writes ``docs/slotrefine_passes.json`` (beside ``--out``) and the section ``slotrefine-passes`` of ``docs/results.md``.

    NLU_DATA_DIR=../shared/data python benchmarks/slotrefine_passes.py      # after benchmarks/results.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from machine import cpu_model  # noqa: E402
from results import MODEL_NAMES, MODELS  # noqa: E402
from sections import embed  # noqa: E402


def first_pass_predictor(model_dir: Path):
    """A Predictor whose model hands pass 1's slot logits to decoding instead of pass 2's (same weights)."""
    from nlu.inference import Predictor

    predictor = Predictor.load(model_dir)
    model = predictor.model
    both_passes = model.forward

    def forward(*args, **kwargs):
        out = both_passes(*args, **kwargs)
        out.slot_logits = out.earlier_slot_logits[0]
        return out

    model.forward = forward  # this instance only: the saved model and the export are untouched
    return predictor


def score_first_pass(run_dir: Path, dataset: str) -> dict:
    """Pass 1 of one SlotRefine run on the test split (pass 2 is the run's own test result)."""
    from nlu.data.registry import load_split
    from nlu.evaluation.metrics import evaluate_predictions

    examples = load_split(dataset, "test")
    predictions = first_pass_predictor(run_dir / "best").predict_examples(examples)
    summary = evaluate_predictions(examples, predictions, bootstrap=0).summary()
    return {
        "slot_f1": summary["slot_f1"],
        "exact_match": summary["exact_match"],
        "uncoordinated_tags": summary["n_uncoordinated_tags"],
        "uncoordinated_examples": summary["n_uncoordinated_examples"],
        "examples": summary["n"],
        "words": sum(len(ex.tokens) for ex in examples),
    }


def kept_result(run_dir: Path) -> dict | None:
    """A finished run's test scores and the uncoordinated tags of its kept test predictions (None when the run
    kept no predictions)."""
    from nlu.evaluation.metrics import uncoordinated_tags

    path = run_dir / "eval-test" / "predictions.jsonl"
    if not path.is_file():
        return None
    test = json.loads((run_dir / "benchmark.json").read_text())["test"]
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    counts = [uncoordinated_tags(row["pred_tags"]) for row in rows]
    return {
        "slot_f1": test["slot_f1"],
        "exact_match": test["exact_match"],
        "uncoordinated_tags": sum(counts),
        "uncoordinated_examples": sum(1 for c in counts if c),
        "examples": len(rows),
        "words": sum(len(row["tokens"]) for row in rows),
    }


def _runs(runs_dir: Path, dataset: str, recipe: str) -> list[Path]:
    found = sorted(runs_dir.glob(f"{dataset}-{recipe}-seed*"), key=lambda p: int(p.name.rsplit("seed", 1)[1]))
    return [p for p in found if (p / "benchmark.json").is_file()]


def write(records: list[dict], command: str, out: Path) -> None:
    lines = [
        "## SlotRefine's two passes, and uncoordinated tags",
        "",
        "An *uncoordinated* tag is an `I-X` that continues no `X` span: the first tag, or one after `O` or after",
        "`B-Y`/`I-Y` of another type. SlotRefine's second pass sees where pass 1 put B- tags in order to repair",
        "them (Wu et al. 2020). Pass 1 and pass 2 below are the same trained model, decoded from each pass's slot",
        "logits. The other rows count these tags in each model's test predictions. Test sets, mean over the",
        "seeds that have finished; tags: the total over the test set, averaged over seeds.",
        "",
        f"- Machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        f"- Command: `{command}`",
        f"- Written: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
    ]
    for dataset in dict.fromkeys(r["dataset"] for r in records):
        rows = [r for r in records if r["dataset"] == dataset]
        words = rows[0]["words"]
        lines += [
            f"### {dataset} (test: {rows[0]['examples']} utterances, {words} words)",
            "",
            "| model | decoded from | seeds | slot F1 | exact match | uncoordinated tags | utterances with one |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['model']} | {r['decoded']} | {r['seeds']} | {_mean(r, 'slot_f1')} | "
                f"{_mean(r, 'exact_match')} | {_mean(r, 'uncoordinated_tags', 1.0, 1)} | "
                f"{_mean(r, 'uncoordinated_examples', 1.0, 1)} |"
            )
        lines.append("")
    figures = out.parent / "slotrefine_passes.json"  # beside the page; results.json is results.py's
    figures.write_text(json.dumps({"command": command, "rows": records}, indent=2) + "\n")
    embed(out, "slotrefine-passes", "\n".join(lines))


def _mean(row: dict, key: str, scale: float = 100.0, digits: int = 2) -> str:
    values = [s[key] for s in row["per_seed"] if s.get(key) is not None]
    return f"{scale * statistics.mean(values):.{digits}f}" if values else "-"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", default=["atis", "snips"])
    parser.add_argument("--runs-dir", type=Path, default=REPO / "runs" / "benchmark")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "results.md")
    args = parser.parse_args()
    if not os.environ.get("NLU_DATA_DIR"):
        sys.exit("set NLU_DATA_DIR to the folder holding the data sets (in a checkout: ../shared/data)")
    command = "python benchmarks/slotrefine_passes.py " + " ".join(sys.argv[1:])
    records = []
    for dataset in args.datasets:
        for recipe in MODELS:
            runs = _runs(args.runs_dir, dataset, recipe)
            if not runs:
                continue
            name = MODEL_NAMES.get(recipe, recipe)
            kept = [result for run in runs if (result := kept_result(run))]
            if recipe.startswith("slotrefine"):
                first = [score_first_pass(run, dataset) for run in runs]
                records.append(_record(dataset, name, "pass 1", first))
                records.append(_record(dataset, name, "pass 2 (its output)", kept))
            elif kept:
                records.append(_record(dataset, name, "its output", kept))
    write(records, command.strip(), args.out)
    for r in records:
        print(
            r["dataset"],
            r["model"],
            r["decoded"],
            _mean(r, "slot_f1"),
            _mean(r, "uncoordinated_tags", 1.0, 1),
        )


def _record(dataset: str, model: str, decoded: str, per_seed: list[dict]) -> dict:
    return {
        "dataset": dataset,
        "model": model,
        "decoded": decoded,
        "seeds": len(per_seed),
        "examples": per_seed[0]["examples"],
        "words": per_seed[0]["words"],
        "per_seed": per_seed,
    }


if __name__ == "__main__":
    main()
