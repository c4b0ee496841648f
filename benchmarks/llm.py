"""Benchmark: LLMs as parsers on SNIPS and MASSIVE en-US, prompted (issue 7) and fine-tuned (issue 24).

Two tables, one record (``docs/llm.json``), one page (``docs/llm.md``):

* Fine-tuned (``--finetuned CONDITION ...``), on the MASSIVE en-US and SNIPS test splits: the packaged
  SmolLM2-135M-Instruct with JointBERT+CRF heads, one model per data set and the one multi-task model for both;
  the same weights fine-tuned to generate the parse; the same multi-task model on MiniLM; beside MiniLM
  JointBERT+CRF read from ``docs/results.json`` (``benchmarks.results``' record). Each run trains its recipe,
  scores its best model on the test split, and times single-utterance parsing on one thread: the int8 ONNX
  artifact (as ``benchmarks.results`` does) where the model exports, else the torch model. A finished run is
  kept under ``--runs-dir`` (``benchmark.json``) and skipped when the command runs again; a run stopped part-way
  resumes from its last checkpoint. Its rows replace the stored rows of the same condition and data set; every
  other row, prompting rows included, is kept.
* Prompting (``--conditions``, the default when ``--finetuned`` is not given): SNIPS test with the packaged
  SmolLM2-135M-Instruct zero-shot, k-shot retrieved, and LoRA on 10 utterances per intent, each a recipe in
  ``recipes/llm/`` scored with ``nlu evaluate``'s evaluator (intent accuracy, slot F1, exact match, parse-failure
  and hallucination rates, seconds per utterance). ``--limit N`` scores the first N test utterances.

    NLU_DATA_DIR=../shared/data python -m benchmarks.llm --threads 1    # prompting rows: about 2.5 h
    NLU_DATA_DIR=../shared/data python -m benchmarks.llm --finetuned smollm2-heads smollm2-multitask \\
        smollm2-generative minilm-multitask                            # fine-tuned rows (see docs/llm.md)
    python -m benchmarks llm                   # render docs/llm.md from the records; measure nothing

On one thread of a 2-core Xeon: zero-shot 35 min, 5-shot 58 min, LoRA 23 min of training and 30 of scoring.
Conditions can run side by side (one process each); the report is written from the cache.

Fine-tuned rows, timed on one thread of the same machine while it ran other jobs (5 steps of each SNIPS recipe at
batch 16, ``training.max_steps``): SmolLM2 with heads 4.6 s a step (about an hour an epoch of SNIPS or MASSIVE:
3 h for SNIPS's 3 epochs, 4 h for MASSIVE's 4, 8 h for the multi-task model's 4), generation 24.5 s a step
(a SNIPS row is 76 tokens with the chat prompt and the reply against 12 for the heads, and the LM head scores
49k tokens at each reply position: about 5.5 h an epoch, 11 h for SNIPS's 2 epochs, 10 h for MASSIVE's); the
GGUF's conversion takes under a minute, once.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from benchmarks import common

PAGE = "llm"
CONDITIONS = {
    "zero-shot": ("recipes/llm/snips_fewshot.yaml", ["model.prompting.shots=0"]),
    "5-shot retrieved": ("recipes/llm/snips_fewshot.yaml", []),
    "LoRA, 10 per intent": ("recipes/llm/snips_lora.yaml", []),
}
REFERENCES = [
    "ILLUMINER (FLAN-T5-large, SNIPS, from its logs): zero-shot intent accuracy 87.4; LoRA on 10 per intent 94.6 "
    "intent accuracy and 84.7 slot F1",
]
DATASETS = ("massive", "snips")  # the order
SCORES = ("intent_accuracy", "slot_f1", "exact_match")
# condition -> (row label, recipe per data set ({dataset} filled in) or one multi-task recipe, overrides, kind)
FINETUNED = {
    "minilm-multitask": (
        "MiniLM JointBERT+CRF, one multi-task model",
        "recipes/multitask/snips_massive_jointbert_crf.yaml",
        [],
        "heads",
    ),
    "smollm2-heads": ("SmolLM2-135M, JointBERT+CRF heads", "recipes/{dataset}/smollm2_crf.yaml", [], "heads"),
    "smollm2-multitask": (
        "SmolLM2-135M, JointBERT+CRF heads, one multi-task model",
        "recipes/multitask/snips_massive_smollm2_crf.yaml",
        [],
        "heads",
    ),
    "smollm2-generative": (
        "SmolLM2-135M, generative (full fine-tuning)",
        "recipes/llm/{dataset}_finetune.yaml",
        [],
        "generation",
    ),
    # not in the table: whether bidirectional attention or LoRA helps, for whoever runs them
    "smollm2-heads-bidirectional": (
        "SmolLM2-135M, JointBERT+CRF heads, bidirectional attention",
        "recipes/{dataset}/smollm2_crf.yaml",
        ["model.attention=bidirectional"],
        "heads",
    ),
    "smollm2-generative-lora": (
        "SmolLM2-135M, generative (LoRA rank 16)",
        "recipes/llm/{dataset}_finetune.yaml",
        ["model.prompting.finetune.method=lora", "training.learning_rate=3.0e-4"],
        "generation",
    ),
}
DEFAULT_FINETUNED = ("smollm2-heads", "smollm2-multitask", "smollm2-generative", "minilm-multitask")
LATENCY_UTTERANCES = 100  # generation: one thread takes a second or so per utterance
# Bars of issue 24: SmolLM2 with heads (single-task) reaches these intent accuracies.
BARS = {"snips": 0.980, "massive": 0.850}
MULTITASK_MARGIN = 0.01


# ---------------------------------------------------------------------------------------------- prompting


def run(name: str, runs_dir: Path, limit: int | None) -> dict:
    from nlu.data.registry import load_split
    from nlu.evaluation.evaluate import evaluate_parser
    from nlu.parser import load_parser
    from nlu.training.trainer import train

    slug = name.split(",")[0].replace(" ", "-").lower()
    run_dir = runs_dir / f"llm-snips-{slug}"
    cached = run_dir / "llm.json"
    if cached.exists():
        return json.loads(cached.read_text())
    recipe, overrides = CONDITIONS[name]
    started = time.perf_counter()
    best = train(common.REPO / recipe, overrides, output_dir=run_dir, overwrite=True).best_model_dir
    train_seconds = time.perf_counter() - started
    examples = load_split("snips", "test")[:limit]
    parser = load_parser(best)
    summary = evaluate_parser(parser, examples, bootstrap=0)[0].summary()
    record = {
        "condition": name,
        "recipe": recipe,
        "overrides": overrides,
        "utterances": len(examples),
        "prepare_seconds": round(train_seconds, 1),
        **{k: summary[k] for k in SCORES},
        **parser.stats.to_dict(),
    }
    cached.write_text(json.dumps(record, indent=2))
    return record


# ---------------------------------------------------------------------------------------------- fine-tuned


def finetuned_recipes(condition: str, datasets: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """(recipe, data sets it is scored on) of a condition: one recipe per data set, or one multi-task recipe."""
    _, recipe, _, _ = FINETUNED[condition]
    if "{dataset}" in recipe:
        return [(recipe.format(dataset=d), [d]) for d in datasets]
    return [(recipe, list(DATASETS))]


def _train(recipe: str, overrides: list[str], run_dir: Path):
    """Train a recipe into ``run_dir``, resuming a run stopped part-way."""
    from nlu.training.trainer import train

    resume = any((run_dir / "checkpoints").glob("step-*"))
    return train(common.REPO / recipe, overrides, output_dir=run_dir, resume=resume, overwrite=not resume)


def _parameters(best: Path) -> int:
    """Weights the parser runs with: the saved model, or a fine-tuned LLM's (with its merged adapters)."""
    from benchmarks.results import parameter_count

    if (best / "model.safetensors").is_file():
        return parameter_count(best)
    spec = json.loads((best / "prompting.json").read_text())["finetuned"]
    if spec["method"] == "full":
        return parameter_count(best / spec["folder"])
    from nlu.models.backbones import resolve_backbone

    return parameter_count(Path(resolve_backbone("smollm2")))  # adapters merged: the base model's size


def _latency(best: Path, run_dir: Path, dataset: str, task: str | None, kind: str) -> dict:
    """p50 of single-utterance parsing on one thread: the int8 ONNX artifact for a model with heads (fp32 when
    the int8 graph fails the export's agreement check), the torch model for generation."""
    from nlu.data.registry import load_split
    from nlu.errors import ExportError

    if kind == "heads":
        from benchmarks.results import measure_latency_in_rounds
        from nlu.export import export_model

        for quantize in ("int8", "none"):
            artifact = run_dir / f"artifact-{quantize}{'-' + task if task else ''}"
            try:
                if not (artifact / "nlu.json").is_file():
                    export_model(best, artifact, quantize=quantize, task=task)
            except ExportError as err:
                common.log("llm", f"{artifact.name}: {err}")
                continue
            timing = measure_latency_in_rounds({"model": artifact}, dataset)["model"]
            return timing | {"runtime": f"ONNX {'fp32' if quantize == 'none' else quantize}"}
    import torch

    from nlu.parser import load_parser

    torch.set_num_threads(1)
    parser = load_parser(best, task=task)
    texts = [" ".join(ex.tokens) for ex in load_split(dataset, "test")[:LATENCY_UTTERANCES]]
    common.time_each(parser.parse, texts[:5])  # warm-up
    points = common.percentiles([1000 * s for s in common.time_each(parser.parse, texts)], (50, 90))
    return {"p50_ms": round(points["p50"], 3), "p90_ms": round(points["p90"], 3), "runtime": "torch"}


def run_finetuned(
    condition: str, recipe: str, datasets: list[str], runs_dir: Path, stamp: dict
) -> list[dict]:
    """Train one recipe of a condition (cached), score its best model on each data set's test split (each task
    of a multi-task model), time it; one row per data set."""
    from nlu.evaluation.evaluate import evaluate

    label, _, overrides, kind = FINETUNED[condition]
    multitask = len(datasets) > 1
    run_dir = runs_dir / f"llm-{condition}{'' if multitask else '-' + datasets[0]}"
    done = run_dir / "benchmark.json"
    if done.exists():
        return json.loads(done.read_text())["rows"]
    started = time.perf_counter()
    result = _train(recipe, overrides, run_dir)
    wall = time.perf_counter() - started
    rows = []
    for dataset in datasets:
        task = dataset if multitask else None
        common.log("llm", f"{condition}: scoring {dataset} test")
        test = evaluate(result.best_model_dir, dataset, "test", run_dir / f"eval-{dataset}-test", task=task)
        row = {
            "condition": condition,
            "label": label,
            "kind": kind,
            "dataset": dataset,
            "recipe": recipe,
            "overrides": overrides,
            "seeds": 1,
            "multitask": multitask,
            "train_seconds": result.train_seconds,
            "wall_seconds": wall,
            "parameters": _parameters(result.best_model_dir),
            "test": {k: test[k] for k in (*SCORES, "n")} | {"prompting": test.get("prompting")},
            "latency": _latency(result.best_model_dir, run_dir, dataset, task, kind),
            **stamp,
        }
        rows.append(row)
    done.write_text(json.dumps({"rows": rows}, indent=2))
    return rows


def merge_finetuned(stored: list[dict], measured: list[dict]) -> list[dict]:
    """Every stored fine-tuned row, those of a condition and data set measured again replaced."""
    rows = {(r["condition"], r["dataset"]): r for r in stored}
    rows.update(((r["condition"], r["dataset"]), r) for r in measured)
    order = list(FINETUNED)
    return sorted(rows.values(), key=lambda r: (DATASETS.index(r["dataset"]), order.index(r["condition"])))


# ---------------------------------------------------------------------------------------------- page


def render(record: dict, page: Path) -> str:
    """docs/llm.md from its record and the encoder runs in ``docs/results.json`` beside it."""
    results = common.read_record("results", page.parent) or {}
    return markdown(record, results.get("runs", []))


def _minilm_rows(encoder_runs: list[dict]) -> list[dict]:
    """MiniLM JointBERT+CRF per data set from benchmarks.results' records: the mean over its seeds."""
    rows = []
    for dataset in DATASETS:
        runs = [
            r for r in encoder_runs if r["dataset"] == dataset and r["recipe"].endswith("/jointbert_crf.yaml")
        ]
        if not runs:
            continue
        latency = [r["onnx"]["p50_ms"] for r in runs if "onnx" in r]
        rows.append(
            {
                "condition": "minilm",
                "label": "MiniLM JointBERT+CRF (docs/results.md)",
                "dataset": dataset,
                "seeds": len(runs),
                "multitask": False,
                "train_seconds": statistics.mean(r["train_seconds"] for r in runs),
                "parameters": runs[0].get("parameters"),
                "test": {k: statistics.mean(r["test"][k] for r in runs) for k in SCORES}
                | {
                    "std": {k: statistics.stdev(r["test"][k] for r in runs) for k in SCORES}
                    if len(runs) > 1
                    else {}
                },
                "latency": {"p50_ms": statistics.mean(latency), "runtime": "ONNX int8"} if latency else None,
            }
        )
    return rows


def _score(row: dict, key: str) -> str:
    value, std = row["test"][key], (row["test"].get("std") or {}).get(key)
    return f"{100 * value:.2f}" + (f" ± {100 * std:.2f}" if std else "")


def _finetuned_table(rows: list[dict]) -> list[str]:
    lines = [
        "| data set | model | seeds | parameters | intent accuracy | slot F1 | exact match | training (min) "
        "| p50 (ms, 1 thread) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        params = f"{row['parameters'] / 1e6:.1f}M" if row.get("parameters") else "-"
        minutes = f"{row['train_seconds'] / 60:.0f}" + (" (both sets)" if row.get("multitask") else "")
        latency = row.get("latency")
        p50 = f"{latency['p50_ms']:.1f} ({latency['runtime']})" if latency else "-"
        lines.append(
            f"| {row['dataset']} | {row['label']} | {row['seeds']} | {params} | {_score(row, 'intent_accuracy')} | "
            f"{_score(row, 'slot_f1')} | {_score(row, 'exact_match')} | {minutes} | {p50} |"
        )
    return lines


def bar_lines(rows: list[dict], prompting: list[dict]) -> list[str]:
    """The issue's bars, each with its verdict, from the rows measured so far."""
    by = {(r["condition"], r["dataset"]): r["test"] for r in rows}
    out = []
    for dataset, bar in BARS.items():
        single = by.get(("smollm2-heads", dataset))
        if single is None:
            out.append(
                f"- SmolLM2 with heads on {dataset}: intent accuracy >= {100 * bar:.1f}: not measured yet."
            )
            continue
        verdict = "met" if single["intent_accuracy"] >= bar else "not met"
        out.append(
            f"- SmolLM2 with heads on {dataset}: intent accuracy {100 * single['intent_accuracy']:.2f} "
            f"(bar {100 * bar:.1f}): {verdict}; slot F1 {100 * single['slot_f1']:.2f}."
        )
    for dataset in DATASETS:
        single, multi = by.get(("smollm2-heads", dataset)), by.get(("smollm2-multitask", dataset))
        if single is None or multi is None:
            out.append(
                f"- The multi-task model within 1 point of the single-task one on {dataset}: not measured yet."
            )
            continue
        gaps = {k: multi[k] - single[k] for k in SCORES}
        verdict = "met" if all(gap >= -MULTITASK_MARGIN for gap in gaps.values()) else "not met"
        shown = ", ".join(f"{k.replace('_', ' ')} {100 * v:+.2f}" for k, v in gaps.items())
        out.append(
            f"- The multi-task model against the single-task one on {dataset}: {shown} points: {verdict}."
        )
    if prompting:
        best = {k: max(p[k] for p in prompting) for k in SCORES}
        llm_rows = [r for r in rows if r["dataset"] == "snips" and r["condition"] != "minilm-multitask"]
        beaten = [r for r in llm_rows if all(r["test"][k] > best[k] for k in SCORES)]
        out.append(
            f"- Every LLM row beats the prompting rows on SNIPS (best prompting: intent accuracy "
            f"{100 * best['intent_accuracy']:.1f}, slot F1 {100 * best['slot_f1']:.1f}, exact match "
            f"{100 * best['exact_match']:.1f}): {len(beaten)} of {len(llm_rows)} measured rows do"
            + (", the rest are not measured yet." if len(llm_rows) < 3 else ".")
        )
    return out


STUDY = [
    'Zhao, Chen, Zhang and Yang (2024), "Advancing Single- and Multi-task Text Classification through Large',
    'Language Model Fine-tuning", compare encoders (RoBERTa-base and -large, a linear classification layer on top)',
    "with decoder LLMs (Llama 2 and Llama 3 from 8B to 70B fine-tuned, GPT-3.5/4/4o prompted) on 20 Newsgroups",
    "and MASSIVE en-US (60 intents; intent accuracy and slot-filling F1). The fine-tuned LLMs are trained on",
    "prompts to generate the answer (cross-entropy on the answer), fully fine-tuned; Llama3-70B reaches 90.8 intent",
    "accuracy and 86.0 slot F1 on MASSIVE, above RoBERTa-large. Their multi-task model is one LLM fine-tuned on the",
    "tasks of both data sets together (20NG classification, MASSIVE intent detection and slot filling), and it",
    "matches the two single-task models on both data sets, at the latency of one model.",
    "",
    "What this toolkit does with the packaged SmolLM2-135M-Instruct (its GGUF de-quantised once into a",
    "transformers folder, `model.backbone: smollm2`): (1) as the study's encoder baselines do, a classification",
    "head on the LLM's states: JointBERT+CRF heads, the intent from the last token (an `<|im_end|>` appended to",
    "every utterance, right padding, position ids counted from the mask), each word's tag from its first",
    "sub-token, the LLM fine-tuned whole; causal attention by default, as the study's LLMs keep it, with",
    "`model.attention: bidirectional` replacing the causal mask by a padding-only one (LLM2Vec; LS-unLLaMA found",
    "it helps token labelling) for the runs to measure; (2) the study's multi-task setting on SNIPS and MASSIVE",
    "(not 20NG, which has no slots): `data.tasks`, one encoder with one intent head, slot head and CRF per data set,",
    "each batch from one data set; (3) the study's generative fine-tuning: the whole training set, full",
    "fine-tuning (`model.prompting.finetune`; LoRA as an option), the reply being the intent's name then",
    "`slot: value` lines, read back by the prompting backend's grammar (the intent by likelihood, the slot values",
    "spans of the utterance), so heads and generation are compared on the same weights. One seed for the LLM",
    "rows, as the issue allows; MiniLM's rows are benchmarks.results' (3 seeds where it ran 3).",
]


def markdown(record: dict, encoder_runs: list[dict]) -> str:
    """The page (docs/results.md shows it as a section): the fine-tuned table, then the prompting conditions and
    the fine-tuned encoder's row."""
    finetuned = [*_minilm_rows(encoder_runs), *record.get("finetuned", [])]
    finetuned.sort(key=lambda r: (DATASETS.index(r["dataset"]), ["minilm", *FINETUNED].index(r["condition"])))
    stamps = list(dict.fromkeys(r["command"] for r in record.get("finetuned", []) if r.get("command")))
    machines = list(
        dict.fromkeys(
            common.machine_line(r["machine"]) for r in record.get("finetuned", []) if r.get("machine")
        )
    )
    lines = [
        "# LLMs as parsers: fine-tuned and prompted",
        "",
        "## Fine-tuned on MASSIVE en-US and SNIPS: heads and generation on the same weights",
        "",
        *STUDY,
        "",
        "Test splits. Training time is the training loop's (dev evaluations included); a multi-task model's is",
        "the one run that trained both data sets. p50: single-utterance parsing on one thread, tokenisation and",
        "decoding included: the int8 ONNX artifact for models with heads (scores are the torch model's), the torch",
        "model for generation (intent scored, slot lines generated).",
        "",
        *(f"- Machine: {m}" for m in machines),
        *(f"- Command: `{c}`" for c in stamps),
        *([""] if machines or stamps else []),
        *_finetuned_table(finetuned),
        "",
        "Bars (issue 24):",
        "",
        *bar_lines(record.get("finetuned", []), record.get("runs", [])),
        "",
        "Not measured yet (no row above): "
        + (", ".join(_missing(record)) or "nothing")
        + ". To measure them:",
        "`NLU_DATA_DIR=../shared/data python -m benchmarks.llm --finetuned "
        + " ".join(DEFAULT_FINETUNED)
        + "`; MiniLM's other MASSIVE seeds: `python -m benchmarks.results --datasets massive --recipes "
        "jointbert_crf --seeds 2 3`.",
        "",
        *_prompting_section(record, encoder_runs),
    ]
    return "\n".join(lines) + "\n"


def _missing(record: dict) -> list[str]:
    have = {(r["condition"], r["dataset"]) for r in record.get("finetuned", [])}
    return [
        f"{condition} on {dataset}"
        for condition in DEFAULT_FINETUNED
        for dataset in DATASETS
        if (condition, dataset) not in have
    ]


def _fine_tuned_row(encoder_runs: list[dict]) -> str | None:
    """JointBERT+CRF on SNIPS (full train set, packaged MiniLM), from the records of benchmarks.results."""
    runs = [
        r for r in encoder_runs if r["dataset"] == "snips" and r["recipe"].endswith("/jointbert_crf.yaml")
    ]
    if not runs:
        return None
    mean = {k: sum(r["test"][k] for r in runs) / len(runs) for k in SCORES}
    p50 = [r["onnx"]["p50_ms"] / 1000 for r in runs if "onnx" in r]
    speed = f"{sum(p50) / len(p50):.4f} (ONNX)" if p50 else "-"
    return (
        f"| fine-tuned JointBERT+CRF, MiniLM, full train set ({len(runs)} seeds; docs/results.md) | 700 | "
        f"{100 * mean['intent_accuracy']:.1f} | {100 * mean['slot_f1']:.1f} | {100 * mean['exact_match']:.1f} | "
        f"– | – | {speed} | see results.md |"
    )


def _prompting_section(record: dict, encoder_runs: list[dict]) -> list[str]:
    """The prompting conditions on SNIPS (issue 7), then the fine-tuned encoder's row."""
    lines = [
        "## Prompting on SNIPS",
        "",
        "SmolLM2-135M-Instruct (the packaged GGUF, 4-bit weights de-quantised) prompted ILLUMINER-style: the intent",
        "by the likelihood of each intent description, calibrated against the content-free utterance `N/A` with",
        "the same demonstrations (Zhao et al. 2021); the slots as `slot: value` lines, decoded within a grammar",
        "that allows only the candidate slot types with spans of the utterance (or `none`), one slot per word, so",
        "a local model's reply always parses and never proposes a value that is not in the utterance: the two",
        "rates below are zero by construction, not by luck (an OpenAI-compatible server generates freely and is",
        "parsed and counted). Seconds per utterance: one thread, with another benchmark on the second core.",
        "Label descriptions: `nlu/data/cards/labels/snips.yml`. The model is tiny; the numbers say what it does, not",
        "what prompting can do with a bigger model.",
        "",
        *common.provenance_lines(record),
        "",
        "| condition | utterances | intent accuracy | slot F1 | exact match | parse failures | hallucinated "
        "values | s / utterance | training (min) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in record.get("runs", []):
        lines.append(
            f"| {r['condition']} | {r['utterances']} | {100 * r['intent_accuracy']:.1f} | {100 * r['slot_f1']:.1f} | "
            f"{100 * r['exact_match']:.1f} | {100 * r['parse_failure_rate']:.2f}% | "
            f"{100 * r['hallucination_rate']:.1f}% | {r['seconds_per_utterance']:.2f} | "
            f"{r['prepare_seconds'] / 60:.1f} |"
        )
    encoder = _fine_tuned_row(encoder_runs)
    if encoder:
        lines.append(encoder)
    lines += ["", "Reference points:", "", *(f"- {ref}" for ref in REFERENCES)]
    return lines


# ---------------------------------------------------------------------------------------------- command


def main() -> None:
    parser = common.argument_parser("benchmarks.llm", __doc__)
    parser.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=list(CONDITIONS))
    parser.add_argument(
        "--finetuned",
        nargs="+",
        choices=list(FINETUNED),
        help=f"measure these fine-tuned conditions instead of the prompting ones ({' '.join(DEFAULT_FINETUNED)} "
        "make the issue's table)",
    )
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--limit", type=int, default=None, help="score only the first N test utterances")
    parser.add_argument("--runs-dir", type=Path, default=common.REPO / "runs" / "benchmark")
    parser.add_argument("--out", type=Path, default=None, help="the page (default docs/llm.md)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    common.require_data_dir()
    out = common.page_path(PAGE, args.out)
    stored = common.read_record(out.stem, out.parent) or {"runs": []}
    if args.finetuned:
        stamp = {"command": common.command("benchmarks.llm"), "machine": common.machine(threads=args.threads)}
        record = stored
        for condition in args.finetuned:
            for recipe, datasets in finetuned_recipes(condition, tuple(args.datasets)):
                rows = run_finetuned(condition, recipe, datasets, args.runs_dir, stamp)
                record["finetuned"] = merge_finetuned(record.get("finetuned", []), rows)
                common.publish(PAGE, record, render, args.out)
                for row in rows:
                    print(json.dumps({k: row[k] for k in ("condition", "dataset")} | row["test"]), flush=True)
        return
    record = common.provenance(common.command("benchmarks.llm"), common.machine(threads=args.threads)) | {
        "runs": [],
        "finetuned": stored.get("finetuned", []),  # the fine-tuned rows are another command's; kept
    }
    for name in args.conditions:
        record["runs"].append(run(name, args.runs_dir, args.limit))
        common.publish(PAGE, record, render, args.out)
        print(json.dumps(record["runs"][-1]), flush=True)


if __name__ == "__main__":
    main()
