"""The Coach protocol for cross-domain zero-shot slot filling on SNIPS (Liu et al. 2020, "Coach: A Coarse-to-Fine
Approach for Cross-domain Slot Filling"), and the runtime latency of the question-answering zero-shot model; two
sections of ``docs/zeroshot.md``, measured and rendered here and written by ``benchmarks.zeroshot`` (the page's
one writer).

Each SNIPS domain (= intent) is held out in turn: ``recipes/snips/zeroshot_qa.yaml`` is trained on the train
utterances of the six others (dev: their dev utterances; nothing of the held-out domain takes part, model
selection included), then labels the held-out domain's utterances with that domain's slot types only (names,
descriptions and example values from ``nlu/data/cards/labels/snips.yml``). Coach's test set is the domain's
utterances of train, dev and test in that order (Goo et al.'s files, the order ours keep) after the first 500,
which Coach uses for validation: the per-domain figures published since (RZS, Coach, the reading-comprehension
and contrastive models) are on that set. This benchmark scores both that set and all the domain's utterances.
Slot F1 is seqeval's span F1 (conlleval's, as Coach's), over all the domain's slot types; seen types are those
the six training domains have, the others unseen. Coach splits utterances instead (an utterance with an unseen
type is "unseen"); both splits are reported.

Latency: the torch-free runtime (``OnnxParser``, one thread) parsing SNIPS test utterances one at a time with the
first 10, 20 and all 39 SNIPS slot types (and the 7 intents): p50 per utterance, fp32 and int8 exports.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from benchmarks import common

RECIPE = common.REPO / "recipes" / "snips" / "zeroshot_qa.yaml"
LABELS = "snips"  # nlu/data/cards/labels/snips.yml: descriptions and two example values per slot type
DOMAINS = (
    "AddToPlaylist",
    "BookRestaurant",
    "GetWeather",
    "PlayMusic",
    "RateBook",
    "SearchCreativeWork",
    "SearchScreeningEvent",
)
# Coach's first 500 utterances of the target domain are its validation set, the rest its test set.
COACH_VALIDATION = 500
# One pass over the six source domains (about 350 steps of 32 utterances): each step asks about five questions
# per utterance, so an epoch costs about five of JointBERT's; more fitting to the source types is not what a
# zero-shot model needs. Chosen before any fold was measured, not tuned on a target domain.
FOLD_OVERRIDES = ["training.epochs=1"]
LATENCY_TYPES = (10, 20, 39)
LATENCY_UTTERANCES = 200
LATENCY_CHECK_UTTERANCES = 100  # the export's own parity check, on SNIPS dev
# Published averages over the 7 domains on Coach's test set (slot F1), as issue 23 gives them.
PUBLISHED = [("RZS (Shah et al. 2019), as reported by Liu et al. 2020", 32.85)]


def fold_data(domain: str, limit: int | None = None):
    """(train, dev, target, seen types, target types) for one held-out domain; ``limit`` keeps that many
    utterances of each (a smoke run)."""
    from nlu.data.bio import spans
    from nlu.data.registry import load_split

    splits = {name: load_split("snips", name) for name in ("train", "dev", "test")}
    train = [ex for ex in splits["train"] if ex.intent != domain]
    dev = [ex for ex in splits["dev"] if ex.intent != domain]
    target = [ex for name in ("train", "dev", "test") for ex in splits[name] if ex.intent == domain]
    seen = {k for ex in train for k, _, _ in spans(ex.tags)}
    target_types = {k for ex in target for k, _, _ in spans(ex.tags)}
    if limit:  # a smoke run: a few utterances of each, some on each side of Coach's validation cut
        train, dev = train[:limit], dev[:limit]
        target = target[:limit] + target[COACH_VALIDATION : COACH_VALIDATION + limit]
    return train, dev, target, seen, target_types


def run_name(domain: str, limit: int | None) -> str:
    return f"zeroshot_qa-snips-without-{domain}-seed1" + (f"-limit{limit}" if limit else "")


def fold(domain: str, runs_dir: Path, train_on, limit: int | None = None) -> dict:
    """Train without ``domain``, label its utterances with its slot types, score them; cached in the run."""
    from nlu.data.label_files import read_label_file
    from nlu.inference import TorchParser
    from nlu.models import load_model, load_tokenizer

    run_dir = runs_dir / run_name(domain, limit)
    cached = run_dir / "coach.json"
    if cached.exists():
        return json.loads(cached.read_text())
    train, dev, target, seen, target_types = fold_data(domain, limit)
    best = train_on(RECIPE, train, dev, run_dir, FOLD_OVERRIDES)
    model = load_model(best)
    tokenizer = load_tokenizer(best, model)
    labels = read_label_file(LABELS)
    types = [t for t in labels.slots if t in target_types]
    model.set_labels(
        labels.intents,
        {t: labels.slots[t] for t in types},
        tokenizer=tokenizer,
        slot_examples={t: labels.slot_examples[t] for t in types if t in labels.slot_examples},
    )
    predictions = TorchParser(model.eval(), tokenizer).parse_words([ex.tokens for ex in target])
    cut = limit if limit else COACH_VALIDATION
    record = {
        "held_out": domain,
        "slot_types": types,
        "unseen_slot_types": sorted(set(types) - seen),
        "train_utterances": len(train),
        "train_seconds": json.loads((run_dir / "done").read_text()).get("train_seconds"),
        "coach_test": scores(target[cut:], predictions[cut:], seen),
        "all": scores(target, predictions, seen),
        "limit": limit,
    }
    cached.write_text(json.dumps(record, indent=2))
    return record


def scores(examples, predictions, seen: set[str]) -> dict:
    """Slot F1 (seqeval spans) over every type; on the seen and on the unseen types alone (the other types'
    tags read as O, in gold and prediction); on Coach's seen and unseen utterances (an utterance with a gold span
    of an unseen type is unseen); and per type."""
    from seqeval.metrics import classification_report, f1_score

    from nlu.data.bio import slot_type, spans

    gold = [ex.tags for ex in examples]
    pred = [p.tags for p in predictions]

    def f1(g: list[list[str]], p: list[list[str]]) -> float | None:
        return f1_score(g, p) if any(t != "O" for tags in g for t in tags) else None

    def only(tags: list[str], keep_seen: bool) -> list[str]:
        return [t if t != "O" and (slot_type(t) in seen) == keep_seen else "O" for t in tags]

    unseen_utterance = [any(k not in seen for k, _, _ in spans(tags)) for tags in gold]
    report = classification_report(gold, pred, output_dict=True, zero_division=0) if gold else {}
    return {
        "utterances": len(examples),
        "slot_f1": f1(gold, pred),
        "seen_type_f1": f1([only(g, True) for g in gold], [only(p, True) for p in pred]),
        "unseen_type_f1": f1([only(g, False) for g in gold], [only(p, False) for p in pred]),
        "seen_utterances": unseen_utterance.count(False),
        "seen_utterance_f1": f1(*_where(gold, pred, unseen_utterance, False)),
        "unseen_utterance_f1": f1(*_where(gold, pred, unseen_utterance, True)),
        "per_type": {
            name: {"f1": row["f1-score"], "support": int(row["support"])}
            for name, row in report.items()
            if name not in ("micro avg", "macro avg", "weighted avg")
        },
    }


def _where(gold, pred, flags, value) -> tuple[list, list]:
    kept = [i for i, flag in enumerate(flags) if flag == value]
    return [gold[i] for i in kept], [pred[i] for i in kept]


# --------------------------------------------------------------------------------------------- latency


def latency(model_dir: Path, runs_dir: Path, limit: int | None = None) -> dict:
    """p50 per utterance of the exported model in the runtime on one thread, for each number of slot types in
    ``LATENCY_TYPES`` (the first ones of the SNIPS label file), fp32 and int8; cached in ``runs_dir``."""
    import yaml

    from nlu.data.jsonl import write
    from nlu.data.label_files import read_label_file
    from nlu.data.registry import load_split
    from nlu.errors import ExportError
    from nlu.export import export_model
    from nlu.runtime import OnnxParser

    folder = runs_dir / ("zeroshot_qa-latency" + (f"-limit{limit}" if limit else ""))
    cached = folder / "latency.json"
    if cached.exists():
        return json.loads(cached.read_text())
    check = folder / "check"  # a small dev set for each export's parity check
    check.mkdir(parents=True, exist_ok=True)
    write(load_split("snips", "dev")[: limit or LATENCY_CHECK_UTTERANCES], check / "dev.jsonl")
    texts = [" ".join(ex.tokens) for ex in load_split("snips", "test")[: limit or LATENCY_UTTERANCES]]
    labels = read_label_file(LABELS)
    rows = []
    for count in LATENCY_TYPES:
        types = list(labels.slots)[:count]
        label_file = folder / f"labels-{count}.yaml"
        slots = {
            t: {"description": labels.slots[t], "examples": labels.slot_examples.get(t, [])} for t in types
        }
        label_file.write_text(yaml.safe_dump({"intents": labels.intents, "slots": slots}, sort_keys=False))
        for quantize in ("none", "int8"):
            artifact = folder / f"artifact-{count}-{quantize}"
            row = {"slot_types": len(types), "quantization": quantize}
            try:
                if not (artifact / "nlu.json").is_file():
                    export_model(model_dir, artifact, quantize=quantize, labels=label_file, data=str(check))
            except ExportError as err:  # int8 may move the answers past the export check's agreement bar
                rows.append(row | {"error": str(err)})
                continue
            parser = OnnxParser.load(artifact, num_threads=1, batch_size=1)
            for text in texts[:5]:
                parser.parse(text)  # warm-up
            durations = common.time_each(parser.parse, texts)
            rows.append(row | common.latency_summary(durations))
            common.log("zeroshot", f"{len(types)} slot types, {quantize}: p50 {rows[-1]['p50_ms']:.1f} ms")
    record = {
        "model": str(model_dir),
        "utterances": len(texts),
        "machine": common.machine(threads=1, packages=("onnx",)),
        "rows": rows,
    }
    cached.write_text(json.dumps(record, indent=2))
    return record


# --------------------------------------------------------------------------------------------- the page


def pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.mean(values) if values else None


def render(folds: list[dict], latency_record: dict | None) -> list[str]:
    """The page's sections: the Coach protocol (per domain, the average, seen and unseen), the latency."""
    lines = [
        "## SNIPS across domains, slot types never seen: the Coach protocol",
        "",
        "The question-answering zero-shot model (`nlu/models/zeroshot_qa/`, `recipes/snips/zeroshot_qa.yaml`:",
        "a question per slot type, its name, description and two example values, read with the utterance; the",
        "words of the answer tagged B/I) trained on six SNIPS domains' train utterances (one epoch; dev: their",
        "dev utterances) and tested on the seventh, labelled with that domain's slot types only. *Coach test*:",
        f"the domain's utterances after the first {COACH_VALIDATION} (Coach's validation set) in the order of",
        "the train, dev and test files, the set published figures use; nothing of the held-out domain chose",
        "the model here. *Seen / unseen types*: slot F1 over the types the training domains have / lack (the",
        "others read as O). *Coach's seen / unseen utterances*: all types, over the utterances without / with",
        "an unseen type (Coach's split). Seqeval span F1.",
        "",
        "| held-out domain | slot F1, Coach test | seen types | unseen types | Coach's seen utterances | "
        "unseen utterances | slot F1, all its utterances | unseen types (names) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in folds:
        c, a = r["coach_test"], r["all"]
        lines.append(
            f"| {r['held_out']} | {pct(c['slot_f1'])} | {pct(c['seen_type_f1'])} | {pct(c['unseen_type_f1'])} | "
            f"{pct(c['seen_utterance_f1'])} | {pct(c['unseen_utterance_f1'])} | {pct(a['slot_f1'])} | "
            f"{', '.join(r['unseen_slot_types']) or '-'} |"
        )
    keys = ("slot_f1", "seen_type_f1", "unseen_type_f1", "seen_utterance_f1", "unseen_utterance_f1")
    averages = [pct(mean(r["coach_test"][k] for r in folds)) for k in keys]
    lines.append(
        f"| **average** | {' | '.join(averages)} | {pct(mean(r['all']['slot_f1'] for r in folds))} | |"
    )
    if len(folds) < len(DOMAINS):
        lines.append(
            f"\nOnly {len(folds)} of the {len(DOMAINS)} domains have been measured: not Coach's average."
        )
    lines += ["", "Published averages over the seven domains, Coach test, for reference:", ""]
    lines += [f"- {name}: {value:.2f}" for name, value in PUBLISHED]
    smoke = [r for r in folds if r.get("limit")]
    if smoke:
        lines += [
            "",
            f"Smoke run: {len(smoke)} fold(s) on a few utterances and steps; the figures mean nothing.",
        ]
    lines.append("")
    if latency_record:
        lines += render_latency(latency_record)
    return lines


def render_latency(record: dict) -> list[str]:
    lines = [
        "## Latency with the SNIPS slot types",
        "",
        "The question-answering model exported with the 7 SNIPS intents and the first N slot types of",
        "`nlu/data/cards/labels/snips.yml`, parsing SNIPS test utterances one at a time in the torch-free",
        "runtime on one thread: every slot type asks its question, so the encoder reads N (question,",
        f"utterance) pairs per utterance, in one session run. {record['utterances']} utterances.",
        "",
        f"- Machine: {common.machine_line(record['machine'])}",
        "",
        "| slot types | export | p50 ms | p95 ms | mean ms |",
        "|---|---|---|---|---|",
    ]
    for row in record["rows"]:
        kind = "fp32" if row["quantization"] == "none" else "int8"
        if "error" in row:
            lines.append(
                f"| {row['slot_types']} | {kind} | failed its export check: {row['error'][:80]} | | |"
            )
            continue
        lines.append(
            f"| {row['slot_types']} | {kind} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | {row['mean_ms']:.1f} |"
        )
    lines.append("")
    return lines
