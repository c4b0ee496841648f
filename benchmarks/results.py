"""Benchmark: every recipe in ``recipes/<dataset>/<model>.yaml`` on the packaged MiniLM encoder -> docs/results.md.

For each (data set, recipe, seed): train, score the best model on the test split, export it to ONNX (int8, as
``nlu export --quantize int8`` writes it, the README's setting) and time single-utterance parsing with the
torch-free runtime on one thread (p50 over the test utterances). Writes ``docs/results.md`` (mean ± sample std
over seeds, training time, ONNX p50, published reference points, per-seed rows, machine, command) and
``docs/results.json``. Finished runs are kept under ``--runs-dir`` and skipped when the script is started
again, so an interrupted benchmark continues where it stopped. Latency is measured after training, for all
runs that lack it in one sitting (each of 5 rounds times every artifact in turn), and kept with each run;
``--remeasure-latency`` times every selected run again together, so that ratios between models (SlotRefine
against JointBERT) come from the same spell of the machine.

    NLU_DATA_DIR=../shared/data python benchmarks/results.py                       # everything (about 9 h on 2 cores)
    python benchmarks/results.py --datasets atis snips --recipes jointbert jointbert_crf slotrefine
    python benchmarks/results.py --datasets massive xsid --recipes jointbert_crf
    python benchmarks/results.py --only-cached --remeasure-latency   # on a quiet machine, after training
    python benchmarks/results.py --only-cached --rescore --no-latency --recipes jointbert_crf   # decoding changed
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from machine import cpu_model  # noqa: E402
from sections import sections  # noqa: E402

METRICS = ("intent_accuracy", "slot_f1", "exact_match")
MODELS = (
    "jointbert",
    "jointbert_crf",
    "jointidsf",
    "slotrefine",
    "slotrefine_paper",
    "ctran",
    "ctran_frozen",
    "jointbert_crf_lexicon",
)
MODEL_NAMES = {
    "jointbert": "JointBERT",
    "jointbert_crf": "JointBERT+CRF",
    "jointidsf": "intent-slot attention (JointIDSF)",
    "slotrefine": "SlotRefine",
    "slotrefine_paper": "SlotRefine, refiner in both passes",
    "ctran": "CTRAN",
    "ctran_frozen": "CTRAN, MiniLM as frozen word embeddings",
    "jointbert_crf_lexicon": "JointBERT+CRF + gazetteers",
}
# Bars: issue 2 (JointBERT+CRF on MiniLM) and issue 5 (the best model reaches JointBERT+CRF's published figures).
BARS = {"atis": (0.970, 0.950, 0.850), "snips": (0.980, 0.950, 0.880)}
# Published reference points: (data set, model, source) -> (intent accuracy, slot F1, exact match); None = not given.
PUBLISHED = [
    ("atis", "JointBERT+CRF, BERT-base (110M)", "Chen et al. 2019", (0.979, 0.960, 0.886)),
    ("snips", "JointBERT+CRF, BERT-base (110M)", "Chen et al. 2019", (0.984, 0.967, 0.926)),
    ("atis", "SlotRefine + BERT", "Wu et al. 2020", (None, 0.9616, None)),
    ("snips", "SlotRefine + BERT", "Wu et al. 2020", (None, 0.9705, None)),
    ("atis", "CTRAN, BERT-large (340M)", "Rafiepour & Salimi Sartakhti 2023", (0.9807, 0.9846, None)),
    ("snips", "CTRAN, BERT-large (340M)", "Rafiepour & Salimi Sartakhti 2023", (0.9942, 0.9830, None)),
    ("massive", "XLM-R base, en-US", "FitzGerald et al. 2023", (0.88, 0.84, None)),
    ("xsid", "mDeBERTa, English", "as given in issue 4", (0.991, 0.951, 0.900)),
]
# Seeds per data set when --seeds is not given: the two large sets take one run each on 2 cores.
DEFAULT_SEEDS = {"atis": [1, 2, 3], "snips": [1, 2, 3], "massive": [1], "xsid": [1]}
LATENCY_UTTERANCES = 300
LATENCY_ROUNDS = 5


def machine() -> str:
    import torch

    return (
        f"{cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}"
    )


def export_int8(run_dir: Path, model_dir: Path) -> Path:
    """The int8, optimised artifact of a run (exported once, kept under the run)."""
    from nlu.export import export_model

    artifact = run_dir / "artifact-int8"
    if not (artifact / "nlu.json").is_file():
        export_model(model_dir, artifact, quantize="int8", optimize=True)
    return artifact


def measure_latency(
    artifacts: dict[str, Path], dataset: str, rounds: int = LATENCY_ROUNDS
) -> dict[str, dict]:
    """Time ``Parser.parse`` one utterance at a time on one thread for several artifacts in one sitting.

    Each round times every artifact in turn on the same test utterances, so a slower or faster spell of the
    machine touches all of them alike and their ratios hold; p50 and p90 are over all rounds' timings."""
    from nlu.data.registry import load_split
    from nlu.runtime import Parser

    texts = [" ".join(ex.tokens) for ex in load_split(dataset, "test")[:LATENCY_UTTERANCES]]
    parsers = {key: Parser.load(path, num_threads=1) for key, path in artifacts.items()}
    for parser in parsers.values():
        for text in texts[:20]:
            parser.parse(text)
    times: dict[str, list[float]] = {key: [] for key in parsers}
    for _ in range(rounds):
        for key, parser in parsers.items():
            for text in texts:
                started = time.perf_counter()
                parser.parse(text)
                times[key].append((time.perf_counter() - started) * 1000)
    out = {}
    for key, values in times.items():
        values.sort()
        out[key] = {
            "p50_ms": round(statistics.median(values), 3),
            "p90_ms": round(values[int(0.9 * len(values))], 3),
            "rounds": rounds,
            "measured_with": len(parsers),
        }
    return out


def add_latency(records: list[dict], runs_dir: Path, remeasure: bool) -> None:
    """Measure the runs that have no latency yet (all of them with ``remeasure``), one sitting per data set."""
    for dataset in dict.fromkeys(r["dataset"] for r in records):
        todo = [r for r in records if r["dataset"] == dataset and (remeasure or "onnx" not in r)]
        if not todo:
            continue
        dirs = {_run_name(r): runs_dir / _run_name(r) for r in todo}
        artifacts = {name: export_int8(path, path / "best") for name, path in dirs.items()}
        timings = measure_latency(artifacts, dataset)
        for r in todo:
            r["onnx"] = timings[_run_name(r)]
            (dirs[_run_name(r)] / "benchmark.json").write_text(json.dumps(r, indent=2))


def parameter_count(model_dir: Path) -> int:
    """Weights in a saved model (``model.safetensors``), counted from the file's header without loading it."""
    import math

    from safetensors import safe_open

    with safe_open(str(model_dir / "model.safetensors"), "np") as f:
        return sum(math.prod(f.get_slice(name).get_shape()) for name in f.keys())  # noqa: SIM118 (safe_open is not iterable)


def _run_name(record: dict) -> str:
    return f"{record['dataset']}-{_model(record['recipe'])}-seed{record['seed']}"


def run_one(dataset: str, recipe_name: str, seed: int, runs_dir: Path, rescore: bool = False) -> dict:
    """Train (or resume) one run and score its best model on the test split; a finished run is read back, and
    with ``rescore`` its best model is scored again and its int8 artifact dropped, to be exported anew."""
    from nlu.evaluation.evaluate import evaluate
    from nlu.training.trainer import train

    run_dir = runs_dir / f"{dataset}-{recipe_name}-seed{seed}"
    done = run_dir / "benchmark.json"
    if done.exists():
        record = json.loads(done.read_text())
        if rescore:
            record["test"] = evaluate(run_dir / "best", dataset, "test", run_dir / "eval-test")
            record["rescored"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            record.pop("onnx", None)
            shutil.rmtree(run_dir / "artifact-int8", ignore_errors=True)
            done.write_text(json.dumps(record, indent=2))
    else:
        recipe = REPO / "recipes" / dataset / f"{recipe_name}.yaml"
        started = time.perf_counter()
        # a run stopped part-way (the machine went away) continues from its last checkpoint
        resume = any((run_dir / "checkpoints").glob("step-*"))
        result = train(
            recipe, [f"training.seed={seed}"], output_dir=run_dir, resume=resume, overwrite=not resume
        )
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
    if "parameters" not in record:  # runs finished before the count was kept
        record["parameters"] = parameter_count(run_dir / "best")
        done.write_text(json.dumps(record, indent=2))
    return record


def _mean_std(values: list[float], scale: float = 100.0, digits: int = 2) -> str:
    """``mean ± sample std``; one run has no spread to show."""
    mean = statistics.mean(values)
    if len(values) == 1:
        return f"{scale * mean:.{digits}f}"
    return f"{scale * mean:.{digits}f} ± {scale * statistics.stdev(values):.{digits}f}"


def _model(recipe: str) -> str:
    return Path(recipe).stem


def write_results(records: list[dict], command: str, out: Path, notes: list[str] = ()) -> None:
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        groups.setdefault((r["dataset"], r["recipe"]), []).append(r)
    order = {name: i for i, name in enumerate(MODELS)}
    datasets = sorted({d for d, _ in groups}, key=lambda d: ("atis", "snips", "massive", "xsid").index(d))
    lines = [
        "# Results",
        "",
        "Test-set scores of the models trained by the recipes in `recipes/`, all on the packaged MiniLM encoder",
        "(all-MiniLM-L6-v2: 6 layers, hidden 384, 22.7M parameters; BERT-base has 110M). Mean ± sample standard",
        "deviation over seeds; percentages. Slot F1 is span-level (seqeval, conlleval-compatible); exact match is",
        "the share of utterances with the right intent and every slot tag right. Gold labels that never occur in",
        "training count as errors (ATIS test has some). Parameters: every weight of the trained model, encoder",
        "and heads (the heads' size grows with the label sets). ONNX p50: the median time `nlu.runtime.Parser.parse`",
        f"takes for one test utterance on one thread ({LATENCY_UTTERANCES} utterances x {LATENCY_ROUNDS} rounds; the",
        "artifact `nlu export --quantize int8` writes), tokenisation and decoding included. The runs of a data",
        "set are timed in one sitting, each round taking every model in turn.",
        "",
        f"- Machine: {machine()}",
        f"- Command: `{command}`",
        f"- Written: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        *(f"- Note: {note}" for note in notes),
        "",
    ]
    for dataset in datasets:
        lines += [
            f"## {dataset}",
            "",
            "| model | recipe | parameters | seeds | intent accuracy | slot F1 | exact match | training (min) "
            "| ONNX p50 (ms) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        rows = sorted(
            ((r, rs) for (d, r), rs in groups.items() if d == dataset),
            key=lambda x: order.get(_model(x[0]), 99),
        )
        for recipe, rs in rows:
            cells = [_mean_std([r["test"][m] for r in rs]) for m in METRICS]
            minutes = statistics.mean(r["train_seconds"] / 60 for r in rs)
            latency = [r["onnx"]["p50_ms"] for r in rs if "onnx" in r]
            p50 = _mean_std(latency, scale=1.0) if latency else "-"
            counts = [r["parameters"] for r in rs if "parameters" in r]
            params = f"{statistics.mean(counts) / 1e6:.1f}M" if counts else "-"
            lines.append(
                f"| {MODEL_NAMES.get(_model(recipe), _model(recipe))} | `{recipe}` | {params} | {len(rs)} | "
                f"{' | '.join(cells)} | {minutes:.1f} | {p50} |"
            )
        published = [p for p in PUBLISHED if p[0] == dataset]
        if published:
            lines += ["", "Published, larger encoders (intent accuracy / slot F1 / exact match):", ""]
            for _, model, source, values in published:
                shown = " / ".join("n/a" if v is None else f"{100 * v:.2f}" for v in values)
                lines.append(f"- {model} ({source}): {shown}")
        lines += ["", *bar_lines(dataset, groups), ""]
    lines += [
        "## Per seed",
        "",
        "| data set | recipe | seed | intent accuracy | slot F1 | exact match | training (s) | ONNX p50 (ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(records, key=lambda r: (r["dataset"], order.get(_model(r["recipe"]), 99), r["seed"])):
        t = r["test"]
        p50 = f"{r['onnx']['p50_ms']:.2f}" if "onnx" in r else "-"
        lines.append(
            f"| {r['dataset']} | `{r['recipe']}` | {r['seed']} | {100 * t['intent_accuracy']:.2f} | "
            f"{100 * t['slot_f1']:.2f} | {100 * t['exact_match']:.2f} | {r['train_seconds']:.0f} | {p50} |"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    kept = sections(out.read_text(encoding="utf-8")) if out.is_file() else []  # other benchmarks' tables
    out.write_text("\n".join(lines) + "\n" + "".join("\n" + block for block in kept), encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps({"command": command, "runs": records}, indent=2) + "\n")


def bar_lines(dataset: str, groups: dict) -> list[str]:
    """Whether the issues' bars are met on this data set, from the means."""
    means = {
        _model(recipe): {m: statistics.mean(r["test"][m] for r in rs) for m in METRICS}
        | {"p50": statistics.mean(r["onnx"]["p50_ms"] for r in rs) if all("onnx" in r for r in rs) else None}
        for (d, recipe), rs in groups.items()
        if d == dataset
    }
    out = []
    if dataset in BARS and "jointbert_crf" in means:
        ok = all(means["jointbert_crf"][m] >= b for m, b in zip(METRICS, BARS[dataset], strict=True))
        bar = " / ".join(f"{100 * b:.0f}" for b in BARS[dataset])
        out.append(f"- Issue 2 bar for JointBERT+CRF ({bar}): {'met' if ok else 'not met'}.")
    published = next((p[3] for p in PUBLISHED if p[0] == dataset and p[1].startswith("JointBERT+CRF")), None)
    if published and len(means) > 1:
        # met when some model reaches every published figure; else name the best by exact match
        reaching = [
            m for m in means if all(means[m][k] >= v for k, v in zip(METRICS, published, strict=True))
        ]
        best = max(reaching or means, key=lambda m: means[m]["exact_match"])
        shown = " / ".join(f"{100 * means[best][m]:.2f}" for m in METRICS)
        out.append(
            f"- Issue 5 bar, the best model (by exact match: {MODEL_NAMES.get(best, best)}, {shown}) reaches "
            f"JointBERT+CRF's published figures: {'met' if reaching else 'not met'}."
        )
    if (
        "slotrefine" in means
        and "jointbert" in means
        and means["slotrefine"]["p50"]
        and means["jointbert"]["p50"]
    ):
        ratio = means["slotrefine"]["p50"] / means["jointbert"]["p50"]
        verdict = "met" if ratio <= 1.2 else "not met"
        out.append(f"- SlotRefine's ONNX p50 is {ratio:.2f}x JointBERT's (bar: within 1.2x): {verdict}.")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", default=["atis", "snips", "massive", "xsid"])
    parser.add_argument(
        "--recipes", nargs="+", default=list(MODELS), help="recipe names under recipes/<dataset>/"
    )
    parser.add_argument(
        "--seeds", nargs="+", type=int, help="default: 3 for ATIS and SNIPS, 1 for the others"
    )
    parser.add_argument("--runs-dir", type=Path, default=REPO / "runs" / "benchmark")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "results.md")
    parser.add_argument("--note", action="append", default=[], help="a line for the report (repeatable)")
    parser.add_argument("--only-cached", action="store_true", help="report finished runs; train nothing")
    parser.add_argument(
        "--rescore",
        action="store_true",
        help="score finished runs' best models on test again and re-export them (after a change in decoding)",
    )
    parser.add_argument(
        "--no-latency", action="store_true", help="skip the ONNX timing (measure later, on a quiet machine)"
    )
    parser.add_argument(
        "--remeasure-latency",
        action="store_true",
        help="time every selected run again, all in one sitting (ratios between models are then comparable)",
    )
    args = parser.parse_args()
    if not os.environ.get("NLU_DATA_DIR"):
        sys.exit("set NLU_DATA_DIR to the folder holding the data sets (in a checkout: ../shared/data)")
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
            if not (REPO / "recipes" / dataset / f"{recipe}.yaml").is_file():
                continue
            for seed in args.seeds or DEFAULT_SEEDS.get(dataset, [1]):
                done = args.runs_dir / f"{dataset}-{recipe}-seed{seed}" / "benchmark.json"
                if args.only_cached and not done.exists():
                    continue
                records.append(run_one(dataset, recipe, seed, args.runs_dir, rescore=args.rescore))
                write_results(records, command, args.out, args.note)
    if not args.no_latency:
        add_latency(records, args.runs_dir, args.remeasure_latency)
        write_results(records, command, args.out, args.note)
    for r in records:
        print(
            json.dumps(
                {k: r[k] for k in ("dataset", "recipe", "seed")}
                | {m: r["test"][m] for m in METRICS}
                | {"p50_ms": r.get("onnx", {}).get("p50_ms")}
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
