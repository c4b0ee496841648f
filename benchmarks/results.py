"""Benchmark: every recipe in ``recipes/<dataset>/<model>.yaml`` on the packaged MiniLM encoder -> docs/results.md.

For each (data set, recipe, seed): train, score the best model on the test split, export it to ONNX (int8, as
``nlu export --quantize int8`` writes it, the README's setting) and time single-utterance parsing with the
torch-free runtime on one thread (p50 over the test utterances). The recipes are those under
``recipes/<dataset>/`` (``benchmarks/zoo.py``; the zero-shot and cross-lingual recipes belong to their own
benchmarks), so a new architecture's recipe is measured without editing this script.

``docs/results.json`` keeps one record per (data set, recipe, seed), each with the command and machine that
produced it: a run replaces the record of the same run, adds new ones and keeps every other, and
``docs/results.md`` (mean ± sample std over seeds, training time, ONNX p50, published reference points, per-seed
rows) is rendered from all of them. The page also shows, from their own records, the generators
(``docs/generation.json``), LLM prompting (``docs/llm.json``) and SlotRefine's two passes
(``docs/slotrefine_passes.json``).

Finished runs are kept under ``--runs-dir`` and skipped when the script is started again, so an interrupted
benchmark continues where it stopped. Latency is measured after training, for the runs of this invocation that
lack it, in one sitting (each of 5 rounds times every artifact in turn); ``--remeasure-latency`` times every
selected run again together, so that ratios between models (SlotRefine against JointBERT) come from the same
spell of the machine.

    NLU_DATA_DIR=../shared/data python -m benchmarks.results                   # everything (about 9 h on 2 cores)
    python -m benchmarks.results --datasets atis snips --recipes jointbert jointbert_crf slotrefine
    python -m benchmarks.results --datasets atis snips --recipes contextual   # adds its rows, keeps the others
    python -m benchmarks.results --datasets massive xsid --recipes jointbert_crf
    python -m benchmarks.results --only-cached --remeasure-latency   # on a quiet machine, after training
    python -m benchmarks.results --only-cached --rescore --no-latency --recipes jointbert_crf   # decoding changed
    python -m benchmarks results                      # render docs/results.md from the records; measure nothing
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

from benchmarks import common, generation, llm, slotrefine_passes, zoo

PAGE = "results"
METRICS = ("intent_accuracy", "slot_f1", "exact_match")
# Bars: issue 2 (JointBERT+CRF on MiniLM) and issue 5 (the best model reaches JointBERT+CRF's published figures).
BARS = {"atis": (0.970, 0.950, 0.850), "snips": (0.980, 0.950, 0.880)}
# Seeds per data set when --seeds is not given: the two large sets take one run each on 2 cores.
DEFAULT_SEEDS = {"atis": [1, 2, 3], "snips": [1, 2, 3], "massive": [1], "xsid": [1]}
LATENCY_UTTERANCES = 300
LATENCY_ROUNDS = 5


def export_int8(run_dir: Path, model_dir: Path) -> Path:
    """The int8, optimised artifact of a run (exported once, kept under the run)."""
    from nlu.export import export_model

    artifact = run_dir / "artifact-int8"
    if not (artifact / "nlu.json").is_file():
        export_model(model_dir, artifact, quantize="int8", optimize=True)
    return artifact


def measure_latency_in_rounds(
    artifacts: dict[str, Path], dataset: str, rounds: int = LATENCY_ROUNDS
) -> dict[str, dict]:
    """Time ``Parser.parse`` one utterance at a time on one thread for several artifacts in one sitting.

    Each round times every artifact in turn on the same test utterances, so a slower or faster spell of the
    machine touches all of them alike and their ratios hold; p50 and p90 (``common.percentiles``) are over all
    rounds' timings, in ms."""
    from nlu.data.registry import load_split
    from nlu.runtime import Parser

    texts = [" ".join(ex.tokens) for ex in load_split(dataset, "test")[:LATENCY_UTTERANCES]]
    parsers = {key: Parser.load(path, num_threads=1) for key, path in artifacts.items()}
    for parser in parsers.values():
        common.time_each(parser.parse, texts[:20])  # warm-up
    times: dict[str, list[float]] = {key: [] for key in parsers}
    for _ in range(rounds):
        for key, parser in parsers.items():
            times[key] += [1000 * s for s in common.time_each(parser.parse, texts)]
    out = {}
    for key, values in times.items():
        points = common.percentiles(values, (50, 90))
        out[key] = {
            "p50_ms": round(points["p50"], 3),
            "p90_ms": round(points["p90"], 3),
            "rounds": rounds,
            "measured_with": len(parsers),
        }
    return out


def add_latency(records: list[dict], runs_dir: Path, remeasure: bool, stamp: dict) -> None:
    """Measure the runs that have no latency yet (all of them with ``remeasure``), one sitting per data set."""
    for dataset in dict.fromkeys(r["dataset"] for r in records):
        todo = [r for r in records if r["dataset"] == dataset and (remeasure or "onnx" not in r)]
        if not todo:
            continue
        dirs = {run_name(r): runs_dir / run_name(r) for r in todo}
        artifacts = {name: export_int8(path, path / "best") for name, path in dirs.items()}
        timings = measure_latency_in_rounds(artifacts, dataset)
        for r in todo:
            r["onnx"] = timings[run_name(r)]
            r.update(stamp)
            (dirs[run_name(r)] / "benchmark.json").write_text(json.dumps(r, indent=2))


def parameter_count(model_dir: Path) -> int:
    """Weights in a saved model (``model.safetensors``), counted from the file's header without loading it."""
    import math

    from safetensors import safe_open

    with safe_open(str(model_dir / "model.safetensors"), "np") as f:
        return sum(math.prod(f.get_slice(name).get_shape()) for name in f.keys())  # noqa: SIM118 (safe_open is not iterable)


def run_name(record: dict) -> str:
    return f"{record['dataset']}-{zoo.stem(record['recipe'])}-seed{record['seed']}"


def run_key(record: dict) -> tuple[str, str, int]:
    return record["dataset"], record["recipe"], record["seed"]


def run_one(
    dataset: str,
    recipe_name: str,
    seed: int,
    runs_dir: Path,
    stamp: dict,
    rescore: bool = False,
    overrides: list[str] = (),
) -> dict:
    """Train (or resume) one run and score its best model on the test split; a finished run is read back, and
    with ``rescore`` its best model is scored again and its int8 artifact dropped, to be exported anew.
    ``stamp`` (command, machine) goes into every record this call measures; ``overrides`` (``--set``) are
    recipe keys that change nothing measured (threads, paths), kept in the record."""
    from nlu.evaluation.evaluate import evaluate
    from nlu.training.trainer import train

    run_dir = runs_dir / f"{dataset}-{recipe_name}-seed{seed}"
    done = run_dir / "benchmark.json"
    if done.exists():
        record = json.loads(done.read_text())
        if rescore:
            record["test"] = evaluate(run_dir / "best", dataset, "test", run_dir / "eval-test")
            record["rescored"] = common.now()
            record.pop("onnx", None)
            record.update(stamp)
            shutil.rmtree(run_dir / "artifact-int8", ignore_errors=True)
    else:
        recipe = common.REPO / "recipes" / dataset / f"{recipe_name}.yaml"
        started = time.perf_counter()
        # a run stopped part-way (the machine went away) continues from its last checkpoint
        resume = any((run_dir / "checkpoints").glob("step-*"))
        result = train(
            recipe,
            [f"training.seed={seed}", *overrides],
            output_dir=run_dir,
            resume=resume,
            overwrite=not resume,
        )
        wall = time.perf_counter() - started
        test = evaluate(result.best_model_dir, dataset, "test", run_dir / "eval-test")
        record = {
            "dataset": dataset,
            "recipe": f"recipes/{dataset}/{recipe_name}.yaml",
            "seed": seed,
            **({"overrides": list(overrides)} if overrides else {}),
            "train_seconds": result.train_seconds,
            "wall_seconds": wall,
            "dev": result.dev_metrics,
            "test": test,
            **stamp,
        }
    if "parameters" not in record:  # runs finished before the count was kept
        record["parameters"] = parameter_count(run_dir / "best")
    for key, value in stamp.items():  # runs finished before the command and machine were kept
        record.setdefault(key, value)
    done.write_text(json.dumps(record, indent=2))
    return record


def merge(stored: list[dict], measured: list[dict]) -> list[dict]:
    """Every stored record, those measured again replaced, new ones added; in page order."""
    runs = {run_key(r): r for r in stored}
    runs.update((run_key(r), r) for r in measured)
    return sorted(
        runs.values(),
        key=lambda r: (zoo.dataset_order(r["dataset"]), zoo.row_order(zoo.stem(r["recipe"])), r["seed"]),
    )


# ---------------------------------------------------------------------------------------------- page


def render(record: dict, page: Path) -> str:
    """docs/results.md from its record, then the sections other benchmarks' records (beside ``page``) give."""
    runs = record["runs"]
    lines = [*_header(record)]
    for dataset in sorted({r["dataset"] for r in runs}, key=zoo.dataset_order):
        lines += _dataset_section(dataset, [r for r in runs if r["dataset"] == dataset])
    lines += _per_seed(runs)
    return "\n".join(lines) + "\n" + "".join("\n" + s for s in _other_benchmarks(page.parent, runs))


def _header(record: dict) -> list[str]:
    return [
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
        *_distinct(
            record["runs"],
            "Machine",
            lambda r: common.machine_line(r["machine"]) if r.get("machine") else None,
        ),
        *_distinct(record["runs"], "Command", lambda r: f"`{r['command']}`" if r.get("command") else None),
        f"- Written: {record.get('written', '-')}",
        *(f"- Note: {note}" for note in record.get("notes", [])),
        "",
    ]


def _distinct(runs: list[dict], label: str, show) -> list[str]:
    """One line per distinct value of ``show(run)``; with the number of runs when the runs differ."""
    counts: dict[str, int] = {}
    for r in runs:
        if (value := show(r)) is not None:
            counts[value] = counts.get(value, 0) + 1
    if len(counts) == 1:
        return [f"- {label}: {value}" for value in counts]
    return [f"- {label}: {value} ({n} runs)" for value, n in counts.items()]


def _dataset_section(dataset: str, runs: list[dict]) -> list[str]:
    groups: dict[str, list[dict]] = {}
    for r in runs:
        groups.setdefault(r["recipe"], []).append(r)
    lines = [
        f"## {dataset}",
        "",
        "| model | recipe | parameters | seeds | intent accuracy | slot F1 | exact match | training (min) "
        "| ONNX p50 (ms) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for recipe, rs in sorted(groups.items(), key=lambda g: zoo.row_order(zoo.stem(g[0]))):
        cells = [_mean_std([r["test"][m] for r in rs]) for m in METRICS]
        minutes = statistics.mean(r["train_seconds"] / 60 for r in rs)
        latency = [r["onnx"]["p50_ms"] for r in rs if "onnx" in r]
        p50 = _mean_std(latency, scale=1.0) if latency else "-"
        counts = [r["parameters"] for r in rs if "parameters" in r]
        params = f"{statistics.mean(counts) / 1e6:.1f}M" if counts else "-"
        lines.append(
            f"| {zoo.model_name(recipe)} | `{recipe}` | {params} | {len(rs)} | "
            f"{' | '.join(cells)} | {minutes:.1f} | {p50} |"
        )
    published = [p for p in zoo.PUBLISHED if p[0] == dataset]
    if published:
        lines += ["", "Published, larger encoders (intent accuracy / slot F1 / exact match):", ""]
        for _, model, source, values in published:
            lines.append(f"- {model} ({source}): {' / '.join(zoo.show_published(v) for v in values)}")
    return lines + ["", *bar_lines(dataset, {(dataset, k): v for k, v in groups.items()}), ""]


def _per_seed(runs: list[dict]) -> list[str]:
    lines = [
        "## Per seed",
        "",
        "| data set | recipe | seed | intent accuracy | slot F1 | exact match | training (s) | ONNX p50 (ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    # by data set name, as this table has always been
    for r in sorted(runs, key=lambda r: (r["dataset"], zoo.row_order(zoo.stem(r["recipe"])), r["seed"])):
        t = r["test"]
        p50 = f"{r['onnx']['p50_ms']:.2f}" if "onnx" in r else "-"
        lines.append(
            f"| {r['dataset']} | `{r['recipe']}` | {r['seed']} | {100 * t['intent_accuracy']:.2f} | "
            f"{100 * t['slot_f1']:.2f} | {100 * t['exact_match']:.2f} | {r['train_seconds']:.0f} | {p50} |"
        )
    return lines


def _other_benchmarks(docs: Path, runs: list[dict]) -> list[str]:
    """The sections this page shows from other benchmarks' records (never from their pages)."""
    sections = []
    if generation_record := common.read_record(generation.PAGE, docs):
        text = common.demote(generation.markdown(generation_record))
        sections.append(text.replace("## Generators: results", "## Generators", 1))
    if llm_record := common.read_record(llm.PAGE, docs):
        sections.append(common.demote(llm.markdown(llm_record, runs)))
    if passes := common.read_record(slotrefine_passes.RECORD, docs):
        sections.append(slotrefine_passes.markdown(passes))
    return sections


def _mean_std(values: list[float], scale: float = 100.0, digits: int = 2) -> str:
    """``mean ± sample std``; one run has no spread to show."""
    mean = statistics.mean(values)
    if len(values) == 1:
        return f"{scale * mean:.{digits}f}"
    return f"{scale * mean:.{digits}f} ± {scale * statistics.stdev(values):.{digits}f}"


def bar_lines(dataset: str, groups: dict) -> list[str]:
    """Whether the issues' bars are met on this data set, from the means; ``groups``: (data set, recipe) -> runs."""
    means = {
        zoo.stem(recipe): {m: statistics.mean(r["test"][m] for r in rs) for m in METRICS}
        | {"p50": statistics.mean(r["onnx"]["p50_ms"] for r in rs) if all("onnx" in r for r in rs) else None}
        for (d, recipe), rs in groups.items()
        if d == dataset
    }
    out = []
    if dataset in BARS and "jointbert_crf" in means:
        ok = all(means["jointbert_crf"][m] >= b for m, b in zip(METRICS, BARS[dataset], strict=True))
        bar = " / ".join(f"{100 * b:.0f}" for b in BARS[dataset])
        out.append(f"- Issue 2 bar for JointBERT+CRF ({bar}): {'met' if ok else 'not met'}.")
    published = next(
        (p[3] for p in zoo.PUBLISHED if p[0] == dataset and p[1].startswith("JointBERT+CRF")), None
    )
    if published and len(means) > 1:
        # met when some model reaches every published figure; else name the best by exact match
        reaching = [
            m for m in means if all(means[m][k] >= v for k, v in zip(METRICS, published, strict=True))
        ]
        best = max(reaching or means, key=lambda m: means[m]["exact_match"])
        shown = " / ".join(f"{100 * means[best][m]:.2f}" for m in METRICS)
        out.append(
            f"- Issue 5 bar, the best model (by exact match: {zoo.model_name(best)}, {shown}) reaches "
            f"JointBERT+CRF's published figures: {'met' if reaching else 'not met'}."
        )
    slotrefine, jointbert = means.get("slotrefine", {}).get("p50"), means.get("jointbert", {}).get("p50")
    if slotrefine and jointbert:
        ratio = slotrefine / jointbert
        verdict = "met" if ratio <= 1.2 else "not met"
        out.append(f"- SlotRefine's ONNX p50 is {ratio:.2f}x JointBERT's (bar: within 1.2x): {verdict}.")
    return out


# ---------------------------------------------------------------------------------------------- command


def _arguments() -> argparse.ArgumentParser:
    parser = common.argument_parser("benchmarks.results", __doc__)
    parser.add_argument("--datasets", nargs="+", default=["atis", "snips", "massive", "xsid"])
    parser.add_argument(
        "--recipes",
        nargs="+",
        help="recipe names under recipes/<dataset>/ (default: all of them, see zoo.py)",
    )
    parser.add_argument(
        "--seeds", nargs="+", type=int, help="default: 3 for ATIS and SNIPS, 1 for the others"
    )
    parser.add_argument("--runs-dir", type=Path, default=common.REPO / "runs" / "benchmark")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        help="a recipe key for every run, e.g. training.num_threads=1 (repeatable); kept in each record",
    )
    parser.add_argument("--out", type=Path, default=None, help="the page (default docs/results.md)")
    parser.add_argument("--note", action="append", default=[], help="a line for the report (repeatable)")
    parser.add_argument("--only-cached", action="store_true", help="report finished runs; train nothing")
    parser.add_argument(
        "--rescore",
        action="store_true",
        help="score finished runs' best models on test again and re-export them (after a change in decoding)",
    )
    parser.add_argument(
        "--no-latency",
        action="store_true",
        help="skip the ONNX timing (measure later, on a quiet machine)",
    )
    parser.add_argument(
        "--remeasure-latency",
        action="store_true",
        help="time every selected run again, all in one sitting (ratios between models are then comparable)",
    )
    return parser


def _without_notes(argv: list[str]) -> list[str]:
    """The command as run, without the --note text (the notes are kept in the record)."""
    kept, skip = [], False
    for arg in argv:
        if skip or arg.startswith("--note="):
            skip = False
            continue
        skip = arg == "--note"
        if not skip:
            kept.append(arg)
    return kept


def main() -> None:
    args = _arguments().parse_args()
    common.require_data_dir()
    out = common.page_path(PAGE, args.out)
    record = common.read_record(out.stem, out.parent) or {"runs": []}
    record["notes"] = list(dict.fromkeys([*record.get("notes", []), *args.note]))
    stamp = {
        "command": common.command("benchmarks.results", _without_notes(sys.argv[1:])),
        "machine": common.machine(),
    }
    measured: list[dict] = []

    def save() -> None:
        record["runs"] = merge(record["runs"], measured)
        if measured:
            record["written"] = common.now()
        common.publish(PAGE, record, render, out)

    for dataset in args.datasets:
        for recipe in args.recipes or zoo.recipes(dataset):
            if not (common.REPO / "recipes" / dataset / f"{recipe}.yaml").is_file():
                continue
            for seed in args.seeds or DEFAULT_SEEDS.get(dataset, [1]):
                done = args.runs_dir / f"{dataset}-{recipe}-seed{seed}" / "benchmark.json"
                if args.only_cached and not done.exists():
                    continue
                measured.append(
                    run_one(dataset, recipe, seed, args.runs_dir, stamp, args.rescore, args.overrides)
                )
                save()
    if not args.no_latency:
        add_latency(measured, args.runs_dir, args.remeasure_latency, stamp)
    save()  # also when nothing was measured: the notes, and the page from every stored record
    for r in measured:
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
