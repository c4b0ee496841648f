"""Benchmark: JointBERT(+CRF) on the packaged MiniLM encoder, ATIS, SNIPS, MASSIVE en-US and xSID English.

Writes ``docs/results.md`` (table: mean ± sample std over seeds, per-seed rows, training wall-clock, machine,
command) and ``docs/results.json``. Finished runs are kept under ``--runs-dir`` and skipped when the script is
started again, so an interrupted benchmark continues where it stopped.

    NLU_DATA_DIR=../shared/data python benchmarks/jointbert_crf.py            # the full table (about 2.5 h on 2 cores)
    python benchmarks/jointbert_crf.py --datasets atis --seeds 1 --recipes jointbert_crf
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

# (intent accuracy, slot F1, exact match) bars from issue 2, and JointBERT+CRF's published BERT-base figures.
BARS = {"atis": (0.970, 0.950, 0.850), "snips": (0.980, 0.950, 0.880)}
# Published reference points: (model, (intent accuracy, slot F1, exact match or None)).
PUBLISHED = {
    "atis": ("JointBERT+CRF, BERT-base (Chen et al. 2019)", (0.979, 0.960, 0.886)),
    "snips": ("JointBERT+CRF, BERT-base (Chen et al. 2019)", (0.987, 0.970, 0.929)),
    "massive": ("XLM-R base (FitzGerald et al. 2023), en-US", (0.88, 0.84, None)),
    "xsid": ("mDeBERTa (issue 4), English", (0.991, 0.951, 0.900)),
}
# Seeds per data set when --seeds is not given: the two large sets take one run each on 2 cores.
DEFAULT_SEEDS = {"atis": [1, 2, 3], "snips": [1, 2, 3], "massive": [1], "xsid": [1]}
METRICS = ("intent_accuracy", "slot_f1", "exact_match")


def machine() -> str:
    import torch

    return (
        f"{cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}"
    )


def run_one(dataset: str, recipe_name: str, seed: int, runs_dir: Path) -> dict:
    from nlu.evaluation.evaluate import evaluate
    from nlu.training.trainer import train

    run_dir = runs_dir / f"{dataset}-{recipe_name}-seed{seed}"
    done = run_dir / "benchmark.json"
    if done.exists():
        return json.loads(done.read_text())
    recipe = REPO / "recipes" / dataset / f"{recipe_name}.yaml"
    started = time.perf_counter()
    result = train(recipe, [f"training.seed={seed}"], output_dir=run_dir, overwrite=True)
    wall = time.perf_counter() - started
    test = evaluate(result.best_model_dir, dataset, "test", run_dir / "eval-test")
    record = {
        "dataset": dataset,
        "recipe": f"recipes/{dataset}/{recipe_name}.yaml",
        "seed": seed,
        "train_seconds": result.train_seconds,
        "wall_seconds": wall,
        "dev": result.dev_metrics,
        "test": test,
    }
    done.write_text(json.dumps(record, indent=2))
    return record


def _mean_std(values: list[float]) -> str:
    mean = statistics.mean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


def write_results(records: list[dict], command: str, out: Path, notes: list[str] = ()) -> None:
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        groups.setdefault((r["dataset"], r["recipe"]), []).append(r)
    lines = [
        "# Results",
        "",
        "Test-set scores of the models trained by the recipes in `recipes/`, on the packaged MiniLM encoder",
        "(all-MiniLM-L6-v2: 6 layers, hidden 384, 22.7M parameters; BERT-base has 110M). Mean ± sample standard",
        "deviation over seeds; percentages. Slot F1 is span-level (seqeval, conlleval-compatible); exact match is",
        "the share of utterances with the right intent and every slot tag right. Gold labels that never occur in",
        "training count as errors (ATIS test has some).",
        "",
        f"- Machine: {machine()}",
        f"- Command: `{command}`",
        f"- Written: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        *(f"- Note: {note}" for note in notes),
        "",
        "| data set | recipe | seeds | intent accuracy | slot F1 | exact match | training time (min) | bar (issue 2) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (dataset, recipe), rs in sorted(groups.items()):
        cells = [_mean_std([r["test"][m] for r in rs]) for m in METRICS]
        minutes = [r["train_seconds"] / 60 for r in rs]
        bar = BARS.get(dataset)
        met = ""
        if bar and recipe.endswith("jointbert_crf.yaml"):
            ok = all(
                statistics.mean(r["test"][m] for r in rs) >= b for m, b in zip(METRICS, bar, strict=True)
            )
            met = ("met" if ok else "not met") + f" ({' / '.join(f'{100 * b:.0f}' for b in bar)})"
        lines.append(
            f"| {dataset} | `{recipe}` | {len(rs)} | {' | '.join(cells)} | "
            f"{statistics.mean(minutes):.1f} (max {max(minutes):.1f}) | {met} |"
        )
    lines += [
        "",
        "Published reference points (intent / slot F1 / exact match), larger models:",
        "",
        *(
            f"- {d}: {model}: " + " / ".join("n/a" if v is None else f"{100 * v:.1f}" for v in vals)
            for d, (model, vals) in PUBLISHED.items()
            if d in {r["dataset"] for r in records}
        ),
        "",
        "## Per seed",
        "",
        "| data set | recipe | seed | intent accuracy | slot F1 | exact match | training time (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(records, key=lambda r: (r["dataset"], r["recipe"], r["seed"])):
        t = r["test"]
        lines.append(
            f"| {r['dataset']} | `{r['recipe']}` | {r['seed']} | {100 * t['intent_accuracy']:.2f} | "
            f"{100 * t['slot_f1']:.2f} | {100 * t['exact_match']:.2f} | {r['train_seconds']:.0f} |"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps({"command": command, "runs": records}, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", default=["atis", "snips", "massive", "xsid"])
    parser.add_argument("--recipes", nargs="+", default=["jointbert_crf"])
    parser.add_argument(
        "--seeds", nargs="+", type=int, help="default: 3 for ATIS and SNIPS, 1 for the others"
    )
    parser.add_argument("--runs-dir", type=Path, default=REPO / "runs" / "benchmark")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "results.md")
    parser.add_argument("--note", action="append", default=[], help="a line for the report (repeatable)")
    args = parser.parse_args()
    if not os.environ.get("NLU_DATA_DIR"):
        sys.exit("set NLU_DATA_DIR to the folder holding atis/ and snips/ (in a checkout: ../shared/data)")
    argv, skip = [], False
    for arg in sys.argv[1:]:  # the command as run, without the --note text
        if skip or arg.startswith("--note="):
            skip = False
            continue
        skip = arg == "--note"
        if not skip:
            argv.append(arg)
    command = "python " + " ".join([str(Path(sys.argv[0]).resolve().relative_to(REPO)), *argv])
    records = []
    for dataset in args.datasets:
        for recipe in args.recipes:
            for seed in args.seeds or DEFAULT_SEEDS.get(dataset, [1]):
                records.append(run_one(dataset, recipe, seed, args.runs_dir))
                write_results(records, command, args.out, args.note)
                print(
                    json.dumps(
                        {k: records[-1][k] for k in ("dataset", "recipe", "seed", "train_seconds")}
                        | {m: records[-1]["test"][m] for m in METRICS}
                    ),
                    flush=True,
                )


if __name__ == "__main__":
    main()
