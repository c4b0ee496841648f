"""Benchmark (issue 5): what SlotRefine's second pass repairs, and how often each tagger leaves I- tags adrift.

SlotRefine's claim is that its second pass, which sees where pass 1 put B- tags, repairs *uncoordinated* slots:
an ``I-X`` that continues no ``X`` span (after ``O``, or after ``B-Y``). For every finished SlotRefine run of
``benchmarks.results`` (its run directories under ``--runs-dir``) this decodes the test set twice with the same
weights, from pass 1's slot logits and from pass 2's (the model's output), and scores both: slot F1, exact match,
and the uncoordinated tags. The same count is given for every other model from the test predictions
``benchmarks.results`` kept (``eval-test/predictions.jsonl``): a tagger that decides each word alone (JointBERT,
CTRAN) can make them; a CRF can too, but its transition scores learn to avoid them.

Writes ``docs/slotrefine_passes.json`` and no page of its own: ``benchmarks.results`` renders it as a section of
``docs/results.md`` (``python -m benchmarks results`` shows it there without measuring anything).

    NLU_DATA_DIR=../shared/data python -m benchmarks.slotrefine_passes     # after training with benchmarks.results
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from benchmarks import common, zoo

RECORD = "slotrefine_passes"  # a record without a page: docs/results.md shows it


def first_pass_predictor(model_dir: Path):
    """A parser whose model hands pass 1's slot logits to decoding instead of pass 2's (same weights)."""
    from nlu.inference import TorchParser

    predictor = TorchParser.load(model_dir)
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
    predictions = first_pass_predictor(run_dir / "best").parse_words([ex.tokens for ex in examples])
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


def finished_runs(runs_dir: Path, dataset: str) -> dict[str, list[Path]]:
    """The finished runs of ``benchmarks.results`` on ``dataset``: recipe name -> run folders by seed, in row
    order."""
    found: dict[str, list[Path]] = {}
    for path in runs_dir.glob(f"{dataset}-*-seed*"):
        recipe, seed = path.name[len(dataset) + 1 :].rsplit("-seed", 1)
        if seed.isdigit() and (path / "benchmark.json").is_file():
            found.setdefault(recipe, []).append(path)
    return {
        recipe: sorted(found[recipe], key=lambda p: int(p.name.rsplit("seed", 1)[1]))
        for recipe in sorted(found, key=zoo.row_order)
    }


def markdown(record: dict) -> str:
    """The section docs/results.md shows."""
    records = record["rows"]
    lines = [
        "## SlotRefine's two passes, and uncoordinated tags",
        "",
        "An *uncoordinated* tag is an `I-X` that continues no `X` span: the first tag, or one after `O` or after",
        "`B-Y`/`I-Y` of another type. SlotRefine's second pass sees where pass 1 put B- tags in order to repair",
        "them (Wu et al. 2020). Pass 1 and pass 2 below are the same trained model, decoded from each pass's slot",
        "logits. The other rows count these tags in each model's test predictions. Test sets, mean over the",
        "seeds that have finished; tags: the total over the test set, averaged over seeds.",
        "",
        *common.provenance_lines(record),
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
    return "\n".join(lines).rstrip("\n") + "\n"


def _mean(row: dict, key: str, scale: float = 100.0, digits: int = 2) -> str:
    values = [s[key] for s in row["per_seed"] if s.get(key) is not None]
    return f"{scale * statistics.mean(values):.{digits}f}" if values else "-"


def main() -> None:
    parser = common.argument_parser("benchmarks.slotrefine_passes", __doc__)
    parser.add_argument("--datasets", nargs="+", default=["atis", "snips"])
    parser.add_argument("--runs-dir", type=Path, default=common.REPO / "runs" / "benchmark")
    parser.add_argument(
        "--out", type=Path, default=None, help="the record (default docs/slotrefine_passes.json)"
    )
    args = parser.parse_args()
    if args.out is not None and args.out.suffix != ".json":
        parser.error("--out names the record, a .json file (docs/results.md shows it)")
    common.require_data_dir()
    records = []
    for dataset in args.datasets:
        for recipe, runs in finished_runs(args.runs_dir, dataset).items():
            name = zoo.model_name(f"recipes/{dataset}/{recipe}.yaml")
            kept = [result for run in runs if (result := kept_result(run))]
            if recipe.startswith("slotrefine"):
                first = [score_first_pass(run, dataset) for run in runs]
                records.append(_record(dataset, name, "pass 1", first))
                records.append(_record(dataset, name, "pass 2 (its output)", kept))
            elif kept:
                records.append(_record(dataset, name, "its output", kept))
    record = common.provenance(common.command("benchmarks.slotrefine_passes"), common.machine()) | {
        "rows": records
    }
    common.write_record(RECORD, record, args.out.with_suffix(".md") if args.out else None)
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
