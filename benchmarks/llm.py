"""Benchmark (issue 7): SNIPS test with the packaged SmolLM2-135M-Instruct: zero-shot, k-shot retrieved, and LoRA.

Each condition is a recipe in ``recipes/llm/`` trained (prompt set, and adapters for LoRA) and evaluated with
``nlu evaluate``'s evaluator: intent accuracy, slot F1, exact match, parse-failure and hallucination rates and
seconds per utterance on this machine. Writes ``docs/llm.json`` and ``docs/llm.md``, whose last row is the
fine-tuned JointBERT+CRF on SNIPS read from ``docs/results.json`` (the record of ``benchmarks.results``); finished
conditions are kept under ``--runs-dir``. ``--limit N`` scores the first N test utterances (state it when you
report the numbers).

    NLU_DATA_DIR=../shared/data python -m benchmarks.llm --threads 1    # about 2.5 h; 700 utterances each
    python -m benchmarks llm                   # render docs/llm.md from the records; measure nothing

On one thread of a 2-core Xeon: zero-shot 35 min, 5-shot 58 min, LoRA 23 min of training and 30 of scoring.
Conditions can run side by side (``--conditions``, one process each); the report is written from the cache.
"""

from __future__ import annotations

import json
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
        **{k: summary[k] for k in ("intent_accuracy", "slot_f1", "exact_match")},
        **parser.stats.to_dict(),
    }
    cached.write_text(json.dumps(record, indent=2))
    return record


def _fine_tuned_row(encoder_runs: list[dict]) -> str | None:
    """JointBERT+CRF on SNIPS (full train set, packaged MiniLM), from the records of benchmarks.results."""
    runs = [
        r for r in encoder_runs if r["dataset"] == "snips" and r["recipe"].endswith("/jointbert_crf.yaml")
    ]
    if not runs:
        return None
    mean = {
        k: sum(r["test"][k] for r in runs) / len(runs) for k in ("intent_accuracy", "slot_f1", "exact_match")
    }
    p50 = [r["onnx"]["p50_ms"] / 1000 for r in runs if "onnx" in r]
    speed = f"{sum(p50) / len(p50):.4f} (ONNX)" if p50 else "-"
    return (
        f"| fine-tuned JointBERT+CRF, MiniLM, full train set ({len(runs)} seeds; docs/results.md) | 700 | "
        f"{100 * mean['intent_accuracy']:.1f} | {100 * mean['slot_f1']:.1f} | {100 * mean['exact_match']:.1f} | "
        f"– | – | {speed} | see results.md |"
    )


def render(record: dict, page: Path) -> str:
    """docs/llm.md from its record and the encoder runs in ``docs/results.json`` beside it."""
    results = common.read_record("results", page.parent) or {}
    return markdown(record, results.get("runs", []))


def markdown(record: dict, encoder_runs: list[dict]) -> str:
    """The page (docs/results.md shows it as a section): the conditions, then the fine-tuned encoder's row."""
    lines = [
        "# LLM prompting on SNIPS",
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
    for r in record["runs"]:
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
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = common.argument_parser("benchmarks.llm", __doc__)
    parser.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=list(CONDITIONS))
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
    record = common.provenance(common.command("benchmarks.llm"), common.machine(threads=args.threads)) | {
        "runs": []
    }
    for name in args.conditions:
        record["runs"].append(run(name, args.runs_dir, args.limit))
        common.publish(PAGE, record, render, args.out)
        print(json.dumps(record["runs"][-1]), flush=True)


if __name__ == "__main__":
    main()
