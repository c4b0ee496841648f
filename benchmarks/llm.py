"""Benchmark (issue 7): SNIPS test with the packaged SmolLM2-135M-Instruct: zero-shot, k-shot retrieved, and LoRA.

Each condition is a recipe in ``recipes/llm/`` trained (prompt set, and adapters for LoRA) and evaluated with
``nlu evaluate``'s evaluator: intent accuracy, slot F1, exact match, parse-failure and hallucination rates and
seconds per utterance on this machine. Writes ``docs/llm.md`` and ``docs/llm.json``; finished conditions are kept
under ``--runs-dir``. ``--limit N`` scores the first N test utterances (state it when you report the numbers).

    NLU_DATA_DIR=../shared/data python benchmarks/llm.py --threads 1    # about 2.5 h; 700 utterances each

On one thread of a 2-core Xeon: zero-shot 35 min, 5-shot 58 min, LoRA 23 min of training and 30 of scoring.
Conditions can run side by side (``--conditions``, one process each); the report is written from the cache.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from machine import cpu_model  # noqa: E402
from sections import embed  # noqa: E402

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
    from nlu.data.labels import LabelVocab
    from nlu.data.registry import load_split
    from nlu.evaluation.evaluate import _evaluate
    from nlu.prompting.model_dir import load_prompt_predictor
    from nlu.training.trainer import train

    slug = name.split(",")[0].replace(" ", "-").lower()
    run_dir = runs_dir / f"llm-snips-{slug}"
    cached = run_dir / "llm.json"
    if cached.exists():
        return json.loads(cached.read_text())
    recipe, overrides = CONDITIONS[name]
    started = time.perf_counter()
    best = train(REPO / recipe, overrides, output_dir=run_dir, overwrite=True).best_model_dir
    train_seconds = time.perf_counter() - started
    examples = load_split("snips", "test")[:limit]
    predictor = load_prompt_predictor(best)
    predictions = predictor.predict_examples(examples)
    summary = _evaluate(
        examples, predictions, LabelVocab(predictor.intent_labels, predictor.slot_labels)
    ).summary()
    record = {
        "condition": name,
        "recipe": recipe,
        "overrides": overrides,
        "utterances": len(examples),
        "prepare_seconds": round(train_seconds, 1),
        **{k: summary[k] for k in ("intent_accuracy", "slot_f1", "exact_match")},
        **predictor.stats.to_dict(),
    }
    cached.write_text(json.dumps(record, indent=2))
    return record


def _fine_tuned_row() -> str | None:
    """JointBERT+CRF on SNIPS from docs/results.json, for the same table (full train set, packaged MiniLM)."""
    path = REPO / "docs" / "results.json"
    if not path.is_file():
        return None
    runs = [
        r
        for r in json.loads(path.read_text())["runs"]
        if r["dataset"] == "snips" and r["recipe"].endswith("jointbert_crf.yaml")
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


def write_report(records: list[dict], command: str, out: Path) -> None:
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
        f"- Machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        f"- Command: `{command}`",
        f"- Written: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        "| condition | utterances | intent accuracy | slot F1 | exact match | parse failures | hallucinated "
        "values | s / utterance | training (min) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        lines.append(
            f"| {r['condition']} | {r['utterances']} | {100 * r['intent_accuracy']:.1f} | {100 * r['slot_f1']:.1f} | "
            f"{100 * r['exact_match']:.1f} | {100 * r['parse_failure_rate']:.2f}% | "
            f"{100 * r['hallucination_rate']:.1f}% | {r['seconds_per_utterance']:.2f} | "
            f"{r['prepare_seconds'] / 60:.1f} |"
        )
    encoder = _fine_tuned_row()
    if encoder:
        lines.append(encoder)
    lines += ["", "Reference points:", "", *(f"- {ref}" for ref in REFERENCES), ""]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    body = "\n".join(lines).replace("# LLM prompting on SNIPS", "## LLM prompting on SNIPS", 1)
    embed(REPO / "docs" / "results.md", "llm", body)
    out.with_suffix(".json").write_text(json.dumps({"command": command, "runs": records}, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=list(CONDITIONS))
    parser.add_argument("--limit", type=int, default=None, help="score only the first N test utterances")
    parser.add_argument("--runs-dir", type=Path, default=REPO / "runs" / "benchmark")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "llm.md")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if not os.environ.get("NLU_DATA_DIR"):
        sys.exit("set NLU_DATA_DIR (in a checkout: ../shared/data)")
    command = "python " + " ".join([str(Path(sys.argv[0]).resolve().relative_to(REPO)), *sys.argv[1:]])
    records = []
    for name in args.conditions:
        records.append(run(name, args.runs_dir, args.limit))
        write_report(records, command, args.out)
        print(json.dumps(records[-1]), flush=True)


if __name__ == "__main__":
    main()
