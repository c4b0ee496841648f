"""Benchmark (issue 6): the zero-shot model on labels it never saw in training.

* SNIPS: hold out each intent in turn: train ``recipes/snips/zeroshot.yaml`` on the six others (their train and
  dev utterances only), then label the whole SNIPS test set with all seven intents and all slot types
  (``recipes/snips/zeroshot_labels.yml``). Reports accuracy on the held-out intent's utterances, generalised
  intent accuracy over all utterances, slot F1 on the slot types that training never saw, and overall scores.
* ATIS: hold out a set of slot types (``ATIS_HELD_OUT``): in training their words are tagged O, at test time the
  model is given every slot type by name. Reports slot F1 on the held-out types and overall.

Writes ``docs/zeroshot.md`` and ``docs/zeroshot.json``; finished runs are kept under ``--runs-dir``.

    NLU_DATA_DIR=../shared/data python benchmarks/zeroshot.py                 # about 3 h on 2 cores
    NLU_DATA_DIR=../shared/data python benchmarks/zeroshot.py --snips-intents PlayMusic --skip-atis
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

EXTRA_OVERRIDES: list[str] = []  # --set: e.g. training.max_steps=3 for a smoke run
SNIPS_LABELS = REPO / "recipes" / "snips" / "zeroshot_labels.yml"
# Held-out ATIS slot types: frequent enough in test to score, spread over kinds of information.
ATIS_HELD_OUT = (
    "airline_code",
    "arrive_time.time",
    "depart_time.period_of_day",
    "fare_basis_code",
    "flight_mod",
    "meal_description",
    "round_trip",
    "toloc.state_name",
)


def write_jsonl(examples, path: Path) -> None:
    from nlu.data.jsonl import write

    path.parent.mkdir(parents=True, exist_ok=True)
    write(examples, path)


def train_on(recipe: Path, train_examples, dev_examples, run_dir: Path) -> Path:
    """Train ``recipe`` on the given examples (written next to the run); return the best model folder."""
    from nlu.training.trainer import train

    if (run_dir / "best" / "config.json").is_file() and (run_dir / "done").exists():
        return run_dir / "best"
    write_jsonl(train_examples, run_dir / "data" / "train.jsonl")
    write_jsonl(dev_examples, run_dir / "data" / "dev.jsonl")
    overrides = [
        "data.dataset=null",
        f"data.files={{train: {run_dir / 'data' / 'train.jsonl'}, dev: {run_dir / 'data' / 'dev.jsonl'}}}",
        "data.test_split=null",
    ]
    resume = any((run_dir / "checkpoints").glob("step-*"))
    result = train(
        recipe, overrides + EXTRA_OVERRIDES, output_dir=run_dir, resume=resume, overwrite=not resume
    )
    (run_dir / "done").write_text(json.dumps({"train_seconds": result.train_seconds}))
    return result.best_model_dir


def score(
    best: Path, intents: dict, slots: dict, test, unseen_intent: str | None, unseen_types: set[str]
) -> dict:
    from transformers import AutoTokenizer

    from nlu.data.bio import slot_type
    from nlu.evaluation.metrics import evaluate_predictions
    from nlu.inference import Predictor
    from nlu.models import load_model

    model = load_model(best)
    tokenizer = AutoTokenizer.from_pretrained(str(best))
    model.set_labels(intents, slots, tokenizer=tokenizer)
    model.eval()
    predictions = Predictor(model, tokenizer).predict_examples(test)
    overall = evaluate_predictions(test, predictions, bootstrap=0).summary()
    out = {k: overall[k] for k in ("intent_accuracy", "slot_f1", "exact_match")}
    if unseen_intent:
        pairs = [(ex, p) for ex, p in zip(test, predictions, strict=True) if ex.intent == unseen_intent]
        out["unseen_intent_accuracy"] = sum(p.intent == ex.intent for ex, p in pairs) / len(pairs)
        out["unseen_intent_utterances"] = len(pairs)
    if unseen_types:

        def only(tags: list[str]) -> list[str]:
            return [t if slot_type(t) in unseen_types else "O" for t in tags]

        from seqeval.metrics import f1_score

        gold = [only(ex.tags) for ex in test]
        pred = [only(p.tags) for p in predictions]
        out["unseen_slot_f1"] = f1_score(gold, pred) if any(t != "O" for g in gold for t in g) else None
        out["unseen_slot_types"] = sorted(unseen_types)
    return out


def snips(intent: str, runs_dir: Path) -> dict:
    from nlu.data.bio import spans
    from nlu.data.registry import load_split
    from nlu.models.zeroshot import load_label_file

    run_dir = runs_dir / f"zeroshot-snips-without-{intent}-seed1"
    cached = run_dir / "zeroshot.json"
    if cached.exists():
        return json.loads(cached.read_text())
    train_examples = [ex for ex in load_split("snips", "train") if ex.intent != intent]
    dev_examples = [ex for ex in load_split("snips", "dev") if ex.intent != intent]
    seen_types = {k for ex in train_examples for k, _, _ in spans(ex.tags)}
    test = load_split("snips", "test")
    unseen_types = {k for ex in test for k, _, _ in spans(ex.tags)} - seen_types
    best = train_on(REPO / "recipes" / "snips" / "zeroshot.yaml", train_examples, dev_examples, run_dir)
    intents, slots = load_label_file(SNIPS_LABELS)
    record = {"held_out": intent} | score(best, intents, slots, test, intent, unseen_types)
    cached.write_text(json.dumps(record, indent=2))
    return record


def atis(runs_dir: Path) -> dict:
    from nlu.data.bio import slot_type
    from nlu.data.example import Example
    from nlu.data.registry import load_split

    run_dir = runs_dir / "zeroshot-atis-held-out-slots-seed1"
    cached = run_dir / "zeroshot.json"
    if cached.exists():
        return json.loads(cached.read_text())

    def hide(ex: Example) -> Example:
        tags = ["O" if slot_type(t) in ATIS_HELD_OUT else t for t in ex.tags]
        return Example(ex.id, ex.tokens, tags, ex.intent, ex.lang)

    train_examples = [hide(ex) for ex in load_split("atis", "train")]
    dev_examples = [hide(ex) for ex in load_split("atis", "dev")]
    best = train_on(REPO / "recipes" / "atis" / "zeroshot.yaml", train_examples, dev_examples, run_dir)
    full = load_split("atis", "train")
    intents = {ex.intent: "" for ex in full}
    slots = {slot_type(t): "" for ex in full for t in ex.tags if slot_type(t)}
    test = load_split("atis", "test")
    record = {"held_out": list(ATIS_HELD_OUT)} | score(best, intents, slots, test, None, set(ATIS_HELD_OUT))
    cached.write_text(json.dumps(record, indent=2))
    return record


def write_report(snips_records: list[dict], atis_record: dict | None, command: str, out: Path) -> None:
    def pct(value) -> str:
        return "-" if value is None else f"{100 * value:.1f}"

    lines = [
        "# Zero-shot intents and slots",
        "",
        "The zero-shot model (`nlu/models/zeroshot/`) on the packaged MiniLM encoder scores utterances and words",
        "against label names and descriptions; here it labels test data with intents or slot types that its",
        "training data never had. Percentages; one seed.",
        "",
        f"- Machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        f"- Command: `{command}`",
        f"- Written: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
    ]
    if snips_records:
        lines += [
            "## SNIPS, each intent held out in turn",
            "",
            "Trained on the six other intents; labels: all seven intents and all 39 slot types with descriptions",
            "(`recipes/snips/zeroshot_labels.yml`). Unseen slot types: those that only the held-out intent uses.",
            "",
            "| held-out intent | accuracy on it | generalised intent accuracy | slot F1, unseen types | slot F1 | "
            "exact match |",
            "|---|---|---|---|---|---|",
        ]
        for r in snips_records:
            lines.append(
                f"| {r['held_out']} | {pct(r['unseen_intent_accuracy'])} | {pct(r['intent_accuracy'])} | "
                f"{pct(r.get('unseen_slot_f1'))} | {pct(r['slot_f1'])} | {pct(r['exact_match'])} |"
            )
        mean = {
            k: statistics.mean(r[k] for r in snips_records if r.get(k) is not None)
            for k in ("unseen_intent_accuracy", "intent_accuracy", "slot_f1", "exact_match")
        }
        unseen = [r["unseen_slot_f1"] for r in snips_records if r.get("unseen_slot_f1") is not None]
        lines.append(
            f"| **mean** | {pct(mean['unseen_intent_accuracy'])} | {pct(mean['intent_accuracy'])} | "
            f"{pct(statistics.mean(unseen) if unseen else None)} | {pct(mean['slot_f1'])} | "
            f"{pct(mean['exact_match'])} |"
        )
        lines.append("")
    if atis_record:
        lines += [
            "## ATIS, slot types held out",
            "",
            f"Held out (tagged O in training, named at test time): {', '.join(atis_record['held_out'])}.",
            "",
            f"- Slot F1 on the held-out types: {pct(atis_record['unseen_slot_f1'])}",
            f"- Overall: intent accuracy {pct(atis_record['intent_accuracy'])}, slot F1 {pct(atis_record['slot_f1'])},"
            f" exact match {pct(atis_record['exact_match'])}",
            "",
        ]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out.with_suffix(".json").write_text(
        json.dumps({"command": command, "snips": snips_records, "atis": atis_record}, indent=2) + "\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--snips-intents", nargs="*", help="default: all seven")
    parser.add_argument("--skip-atis", action="store_true")
    parser.add_argument("--runs-dir", type=Path, default=REPO / "runs" / "benchmark")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "zeroshot.md")
    parser.add_argument(
        "--set", action="append", default=[], help="recipe override for every run (repeatable)"
    )
    args = parser.parse_args()
    EXTRA_OVERRIDES.extend(args.set)
    if not os.environ.get("NLU_DATA_DIR"):
        sys.exit("set NLU_DATA_DIR (in a checkout: ../shared/data)")
    from nlu.models.zeroshot import load_label_file

    command = "python " + " ".join([str(Path(sys.argv[0]).resolve().relative_to(REPO)), *sys.argv[1:]])
    intents = args.snips_intents if args.snips_intents is not None else list(load_label_file(SNIPS_LABELS)[0])
    snips_records: list[dict] = []
    for intent in intents:
        snips_records.append(snips(intent, args.runs_dir))
        write_report(snips_records, None, command, args.out)
    atis_record = None if args.skip_atis else atis(args.runs_dir)
    write_report(snips_records, atis_record, command, args.out)


if __name__ == "__main__":
    main()
