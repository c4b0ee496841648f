"""Benchmarks (issues 6 and 23): the zero-shot models on labels they never saw in training.

* SNIPS: hold out each intent in turn: train ``recipes/snips/zeroshot.yaml`` on the six others (their train and
  dev utterances only), then label the whole SNIPS test set with all seven intents and all slot types
  (``nlu/data/cards/labels/snips.yml``). Reports accuracy on the held-out intent's utterances, generalised
  intent accuracy over all utterances, slot F1 on the slot types that training never saw, and overall scores.
* ATIS: hold out a set of slot types (``ATIS_HELD_OUT``): in training their words are tagged O, at test time the
  model is given every slot type by name. Reports slot F1 on the held-out types and overall.

* SNIPS across domains, the Coach protocol (issue 23, ``benchmarks/zeroshot_coach.py``): the question-answering
  model (``recipes/snips/zeroshot_qa.yaml``) trained on six domains, tested on the seventh with its slot types,
  per domain and on average, seen and unseen types apart; and its latency in the runtime with 10, 20 and 39
  slot types.

Each of the first two is scored with the model's defaults (``intent_scoring: auto``, unseen-label bonuses:
cosines added to the scores of labels training never saw); SNIPS also with intents scored by the trained heads,
without a bonus and with ``HEAD_INTENT_BONUS``. The report also shows how the default bonuses were chosen, on dev
data only: the intent bonus on the AddToPlaylist fold's SNIPS dev set, the slot bonus on ATIS dev.

Writes ``docs/zeroshot.json`` and ``docs/zeroshot.md``; finished runs are kept under ``--runs-dir`` and skipped
when the command runs again (an interrupted fold resumes from its last checkpoint). A part this command does not
measure (``--snips-intents`` with no names, ``--skip-atis``, ``--skip-coach``, ``--skip-latency``) keeps what
the record already holds, with the command that measured it.

    NLU_DATA_DIR=../shared/data python -m benchmarks.zeroshot                 # everything: about 7 h on 2 cores
    NLU_DATA_DIR=../shared/data python -m benchmarks.zeroshot --snips-intents PlayMusic --skip-atis \
        --skip-coach --skip-latency
    NLU_DATA_DIR=../shared/data python -m benchmarks.zeroshot --snips-intents --skip-atis   # Coach + latency
    NLU_DATA_DIR=../shared/data python -m benchmarks.zeroshot --snips-intents --skip-atis --coach-domains \
        RateBook --limit 40 --set training.max_steps=3 --out /tmp/zeroshot-smoke/zeroshot.md   # smoke run
    python -m benchmarks zeroshot              # render docs/zeroshot.md from its record; measure nothing
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from benchmarks import common, zeroshot_coach

PAGE = "zeroshot"
# The parts of the record, each measured by its own command line (see main).
PARTS = ("snips", "calibration", "atis", "coach", "latency")
EXTRA_OVERRIDES: list[str] = []  # --set: e.g. training.max_steps=3 for a smoke run
SNIPS_LABELS = "snips"  # the SNIPS label file that ships with nlu (nlu/data/cards/labels/snips.yml)
# The fold whose dev set chose the model's default unseen-label bonus, and the bonuses tried there.
CALIBRATION_FOLD = "AddToPlaylist"
# A bonus is chosen as the one with the best score over the whole dev set, seen and unseen labels together
# (generalised intent accuracy; slot F1), the score a user of the model sees.
CALIBRATION_BONUSES = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2)
SLOT_CALIBRATION_BONUSES = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6)
# The intent bonus that the same sweep picked when intents were scored by the heads (before intent_scoring)
HEAD_INTENT_BONUS = 0.15
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


def train_on(recipe: Path, train_examples, dev_examples, run_dir: Path, overrides=()) -> Path:
    """Train ``recipe`` on the given examples (written next to the run), with ``overrides`` and then the command
    line's ``--set``; return the best model folder."""
    from nlu.training.trainer import train

    if (run_dir / "best" / "config.json").is_file() and (run_dir / "done").exists():
        return run_dir / "best"
    write_jsonl(train_examples, run_dir / "data" / "train.jsonl")
    write_jsonl(dev_examples, run_dir / "data" / "dev.jsonl")
    overrides = [
        "data.dataset=null",
        f"data.files={{train: {run_dir / 'data' / 'train.jsonl'}, dev: {run_dir / 'data' / 'dev.jsonl'}}}",
        "data.test_split=null",
        *overrides,
    ]
    resume = any((run_dir / "checkpoints").glob("step-*"))
    result = train(
        recipe, overrides + EXTRA_OVERRIDES, output_dir=run_dir, resume=resume, overwrite=not resume
    )
    (run_dir / "done").write_text(json.dumps({"train_seconds": result.train_seconds}))
    return result.best_model_dir


def load_for_scoring(best: Path):
    from transformers import AutoTokenizer

    from nlu.models import load_model

    return load_model(best), AutoTokenizer.from_pretrained(str(best))


def score(
    model,
    tokenizer,
    labels: tuple[dict, dict],
    data,
    unseen_intent: str | None,
    unseen_types: set[str],
    bonuses: tuple[float | None, float | None] = (None, None),
    intent_scoring: str | None = None,
) -> dict:
    """Label ``data`` with every label in ``labels`` (intents, slot types); ``bonuses``: the cosines that intents
    and slot types unseen in training get (None: the model's default); ``intent_scoring``: head, encoder or
    auto (None: the model's)."""
    from seqeval.metrics import f1_score

    from nlu.data.bio import slot_type
    from nlu.evaluation.metrics import evaluate_predictions
    from nlu.inference import TorchParser

    intent_bonus, slot_bonus = bonuses
    own_scoring = model.config.intent_scoring
    model.config.intent_scoring = intent_scoring or own_scoring
    try:
        model.set_labels(
            *labels, tokenizer=tokenizer, unseen_intent_bonus=intent_bonus, unseen_slot_bonus=slot_bonus
        )
        model.eval()
        predictions = TorchParser(model, tokenizer).parse_words([ex.tokens for ex in data])
        used = model.config.intent_scoring
    finally:
        model.config.intent_scoring = own_scoring  # the next call's set_labels starts from the model's own
    overall = evaluate_predictions(data, predictions, bootstrap=0).summary()
    out = {k: overall[k] for k in ("intent_accuracy", "slot_f1", "exact_match")}
    out["unseen_intent_bonus"] = model.config.unseen_intent_bonus
    out["unseen_slot_bonus"] = model.config.unseen_slot_bonus
    out["intent_scoring"] = used
    if unseen_intent:
        unseen = [
            p.intent == ex.intent
            for ex, p in zip(data, predictions, strict=True)
            if ex.intent == unseen_intent
        ]
        seen = [
            p.intent == ex.intent
            for ex, p in zip(data, predictions, strict=True)
            if ex.intent != unseen_intent
        ]
        out["unseen_intent_accuracy"] = sum(unseen) / len(unseen)
        out["unseen_intent_utterances"] = len(unseen)
        out["seen_intent_accuracy"] = sum(seen) / len(seen)
        out["harmonic_mean"] = harmonic_mean(out["unseen_intent_accuracy"], out["seen_intent_accuracy"])
    if unseen_types:

        def only(tags: list[str], unseen: bool) -> list[str]:
            return [t if t != "O" and (slot_type(t) in unseen_types) == unseen else "O" for t in tags]

        for unseen, key in ((True, "unseen_slot_f1"), (False, "seen_slot_f1")):
            gold = [only(ex.tags, unseen) for ex in data]
            pred = [only(p.tags, unseen) for p in predictions]
            out[key] = f1_score(gold, pred) if any(t != "O" for g in gold for t in g) else None
        out["slot_harmonic_mean"] = harmonic_mean(out["unseen_slot_f1"] or 0.0, out["seen_slot_f1"] or 0.0)
        out["unseen_slot_types"] = sorted(unseen_types)
    return out


def harmonic_mean(a: float, b: float) -> float:
    """The generalised zero-shot summary of unseen and seen accuracy (Xian et al. 2017)."""
    return 2 * a * b / (a + b) if a + b else 0.0


def snips_fold(intent: str):
    """(train, dev without the held-out intent, full dev, test, slot types that only the held-out intent has)."""
    from nlu.data.bio import spans
    from nlu.data.registry import load_split

    train_examples = [ex for ex in load_split("snips", "train") if ex.intent != intent]
    dev = load_split("snips", "dev")
    test = load_split("snips", "test")
    seen_types = {k for ex in train_examples for k, _, _ in spans(ex.tags)}
    unseen_types = {k for ex in test for k, _, _ in spans(ex.tags)} - seen_types
    return train_examples, [ex for ex in dev if ex.intent != intent], dev, test, unseen_types


def snips(intent: str, runs_dir: Path) -> dict:
    from nlu.data.label_files import load_label_file

    run_dir = runs_dir / f"zeroshot-snips-without-{intent}-seed1"
    cached = run_dir / "zeroshot.json"
    if cached.exists():
        return json.loads(cached.read_text())
    train_examples, dev_examples, _, test, unseen_types = snips_fold(intent)
    best = train_on(
        common.REPO / "recipes" / "snips" / "zeroshot.yaml", train_examples, dev_examples, run_dir
    )
    model, tokenizer = load_for_scoring(best)
    labels = load_label_file(SNIPS_LABELS)
    record = {
        "held_out": intent,
        "calibrated": score(model, tokenizer, labels, test, intent, unseen_types),
        "heads": score(model, tokenizer, labels, test, intent, unseen_types, (0.0, 0.0), "head"),
        "heads_calibrated": score(
            model, tokenizer, labels, test, intent, unseen_types, (HEAD_INTENT_BONUS, 0.0), "head"
        ),
    }
    cached.write_text(json.dumps(record, indent=2))
    return record


def intent_bonus_sweep(intent: str, runs_dir: Path) -> list[dict]:
    """How the default intent bonus was chosen: the held-out-``intent`` model on the whole SNIPS *dev* set (its
    utterances of the held-out intent included), for a range of intent bonuses (no slot bonus)."""
    from nlu.data.label_files import load_label_file

    run_dir = runs_dir / f"zeroshot-snips-without-{intent}-seed1"
    cached = run_dir / "calibration.json"
    if cached.exists():
        return json.loads(cached.read_text())
    _, _, dev, _, unseen_types = snips_fold(intent)
    model, tokenizer = load_for_scoring(run_dir / "best")
    labels = load_label_file(SNIPS_LABELS)
    rows = [score(model, tokenizer, labels, dev, intent, unseen_types, (b, 0.0)) for b in CALIBRATION_BONUSES]
    cached.write_text(json.dumps(rows, indent=2))
    return rows


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
    best = train_on(common.REPO / "recipes" / "atis" / "zeroshot.yaml", train_examples, dev_examples, run_dir)
    full = load_split("atis", "train")
    labels = (
        {ex.intent: "" for ex in full},
        {slot_type(t): "" for ex in full for t in ex.tags if slot_type(t)},
    )
    model, tokenizer = load_for_scoring(best)
    held_out = set(ATIS_HELD_OUT)
    dev, test = load_split("atis", "dev"), load_split("atis", "test")
    record = {
        "held_out": list(ATIS_HELD_OUT),
        "calibrated": score(model, tokenizer, labels, test, None, held_out),
        "no_bonus": score(model, tokenizer, labels, test, None, held_out, (0.0, 0.0)),
        # how the default slot bonus was chosen: the dev set (gold held-out tags), no test data
        "slot_bonus_sweep": [
            score(model, tokenizer, labels, dev, None, held_out, (0.0, b)) for b in SLOT_CALIBRATION_BONUSES
        ],
    }
    cached.write_text(json.dumps(record, indent=2))
    return record


def pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def mean_of(records: list[dict], key: str) -> float | None:
    values = [r[key] for r in records if r.get(key) is not None]
    return statistics.mean(values) if values else None


def render(record: dict, page: Path) -> str:
    """docs/zeroshot.md from its record: the SNIPS folds, how the intent bonus was chosen, ATIS."""
    lines = [
        "# Zero-shot intents and slots",
        "",
        "The zero-shot model (`nlu/models/zeroshot/`) on the packaged MiniLM encoder scores utterances and words",
        "against label names and descriptions; here it labels test data with intents or slot types that its",
        "training data never had. Percentages; one seed.",
        "",
        *common.provenance_lines(record),
        "",
    ]
    if record.get("snips"):
        lines += (
            _snips_defaults(record["snips"]) + _snips_heads(record["snips"]) + _measured_by(record, "snips")
        )
    if record.get("calibration"):
        lines += _intent_bonus_sweep(record["calibration"]) + _measured_by(record, "calibration")
    if record.get("atis"):
        lines += _atis_section(record["atis"]) + _measured_by(record, "atis")
    if record.get("coach"):
        lines += zeroshot_coach.render(record["coach"], None) + _measured_by(record, "coach")
    if record.get("latency"):
        lines += zeroshot_coach.render_latency(record["latency"]) + _measured_by(record, "latency")
    return "\n".join(lines) + "\n"


def _measured_by(record: dict, part: str) -> list[str]:
    """Where a part of the record came from another command than the page's (kept from an earlier run)."""
    measured = (record.get("provenance") or {}).get(part)
    if not measured or measured.get("command") == record.get("command"):
        return []
    return [f"Measured by `{measured['command']}`, {measured.get('written', 'date unknown')}.", ""]


def _snips_defaults(snips_records: list[dict]) -> list[str]:
    first = snips_records[0]["calibrated"]
    bonuses = f"{first['unseen_intent_bonus']:g} for intents, {first['unseen_slot_bonus']:g} for slot types"
    calibrated = [r["calibrated"] for r in snips_records]
    lines = [
        "## SNIPS, each intent held out in turn",
        "",
        "Trained on the six other intents (their train and dev utterances); test: the whole SNIPS test set,",
        "labelled with all seven intents and all 39 slot types with descriptions",
        "(`nlu/data/cards/labels/snips.yml`). Unseen slot types: those that only the held-out intent uses.",
        "*Seen*: accuracy on the utterances of the six trained intents; *H*: the harmonic mean of the accuracy",
        "on the held-out intent and on the seen ones, the usual generalised zero-shot summary.",
        "",
        "With the model's defaults: intents scored in the encoder's own space, since the label set has one",
        f"that training never saw (`intent_scoring: auto`); unseen-label bonuses {bonuses}",
        "(cosines added to the scores of labels that training never saw; chosen on dev sets, below):",
        "",
        "| held-out intent | accuracy on it | seen | generalised intent accuracy | H | slot F1, unseen types "
        "| slot F1 | exact match |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in snips_records:
        c = r["calibrated"]
        lines.append(
            f"| {r['held_out']} | {pct(c['unseen_intent_accuracy'])} | {pct(c['seen_intent_accuracy'])} | "
            f"{pct(c['intent_accuracy'])} | {pct(c['harmonic_mean'])} | {pct(c.get('unseen_slot_f1'))} | "
            f"{pct(c['slot_f1'])} | {pct(c['exact_match'])} |"
        )
    keys = (
        "unseen_intent_accuracy",
        "seen_intent_accuracy",
        "intent_accuracy",
        "harmonic_mean",
        "unseen_slot_f1",
        "slot_f1",
        "exact_match",
    )
    folds = [("**mean**", calibrated)]
    others = [r["calibrated"] for r in snips_records if r["held_out"] != CALIBRATION_FOLD]
    if others and len(others) < len(calibrated):
        folds.append((f"mean without {CALIBRATION_FOLD}", others))
    for name, records in folds:
        lines.append(f"| {name} | " + " | ".join(pct(mean_of(records, k)) for k in keys) + " |")
    lines += [
        "",
        "Slot types that training never saw are not found: a word of a new type goes to a related trained",
        "type (in the BookRestaurant fold, restaurant names to object_name or movie_name, party sizes to",
        "timeRange). The slot heads overfit to the trained types as the intent heads do, and no slot bonus",
        "helps (ATIS sweep below).",
        "",
    ]
    return lines


def _snips_heads(snips_records: list[dict]) -> list[str]:
    lines = [
        "Intents scored by the trained heads instead (`intent_scoring: head`, the model before this scoring",
        f"existed), without a bonus and with {HEAD_INTENT_BONUS:g}, the bonus that a sweep on the same dev set",
        "picked for the heads. The heads pull utterances towards the six intents they were trained on, and a",
        "held-out intent loses to a close trained one. Accuracy on the held-out intent / seen / H:",
        "",
        f"| held-out intent | heads, no bonus | heads, bonus {HEAD_INTENT_BONUS:g} | default (above) |",
        "|---|---|---|---|",
    ]

    def triple(r: dict) -> str:
        return (
            f"{pct(r['unseen_intent_accuracy'])} / {pct(r['seen_intent_accuracy'])} / "
            f"{pct(r['harmonic_mean'])}"
        )

    for r in snips_records:
        lines.append(
            f"| {r['held_out']} | {triple(r['heads'])} | {triple(r['heads_calibrated'])} | "
            f"{triple(r['calibrated'])} |"
        )
    means = {
        key: {
            k: mean_of([r[key] for r in snips_records], k)
            for k in ("unseen_intent_accuracy", "seen_intent_accuracy", "harmonic_mean")
        }
        for key in ("heads", "heads_calibrated", "calibrated")
    }
    lines.append(
        f"| **mean** | {triple(means['heads'])} | {triple(means['heads_calibrated'])} | "
        f"{triple(means['calibrated'])} |"
    )
    lines.append("")
    return lines


def _intent_bonus_sweep(sweep: list[dict]) -> list[str]:
    lines = [
        f"## How the intent bonus was chosen: the {CALIBRATION_FOLD} fold's dev set",
        "",
        f"The model trained without {CALIBRATION_FOLD} labels the whole SNIPS dev set (its {CALIBRATION_FOLD}",
        "utterances included) with each intent bonus (no slot bonus); the default is the one with the best",
        "generalised intent accuracy (all dev utterances; here it also has the best H).",
        "No test data and no other fold took part, so the six other folds above measure the choice without",
        "having made it.",
        "",
        "| intent bonus | accuracy on the held-out intent | seen | generalised intent accuracy | H |",
        "|---|---|---|---|---|",
    ]
    for row in sweep:
        lines.append(
            f"| {row['unseen_intent_bonus']:g} | {pct(row['unseen_intent_accuracy'])} | "
            f"{pct(row['seen_intent_accuracy'])} | {pct(row['intent_accuracy'])} | {pct(row['harmonic_mean'])} |"
        )
    lines.append("")
    return lines


def _atis_section(atis_record: dict) -> list[str]:
    c, u = atis_record["calibrated"], atis_record["no_bonus"]
    lines = [
        "## ATIS, slot types held out",
        "",
        f"Held out (tagged O in training, named at test time): {', '.join(atis_record['held_out'])}.",
        "ATIS labels have no descriptions: the label encoder reads the humanised name (`toloc.state_name` ->",
        "`toloc state name`).",
        "",
        "| slot bonus | slot F1, held-out types | slot F1, other types | intent accuracy | slot F1 | "
        "exact match |",
        "|---|---|---|---|---|---|",
    ]
    for r in [c] + ([u] if u["unseen_slot_bonus"] != c["unseen_slot_bonus"] else []):
        lines.append(
            f"| {r['unseen_slot_bonus']:g} | {pct(r['unseen_slot_f1'])} | {pct(r['seen_slot_f1'])} | "
            f"{pct(r['intent_accuracy'])} | {pct(r['slot_f1'])} | {pct(r['exact_match'])} |"
        )
    lines += [
        "",
        "How the slot bonus was chosen: the same model on the ATIS *dev* set (gold tags of the held-out types),",
        "for each slot bonus; the default is the one with the best slot F1 over all types. A bonus large enough",
        "to find held-out types costs the other types far more than it gains, so the default is 0.",
        "",
        "| slot bonus | slot F1, held-out types | slot F1, other types | harmonic mean | slot F1 |",
        "|---|---|---|---|---|",
    ]
    for r in atis_record["slot_bonus_sweep"]:
        lines.append(
            f"| {r['unseen_slot_bonus']:g} | {pct(r['unseen_slot_f1'])} | {pct(r['seen_slot_f1'])} | "
            f"{pct(r['slot_harmonic_mean'])} | {pct(r['slot_f1'])} |"
        )
    lines.append("")
    return lines


def main() -> None:
    parser = common.argument_parser("benchmarks.zeroshot", __doc__)
    parser.add_argument("--snips-intents", nargs="*", help="default: all seven; none: keep the record's")
    parser.add_argument("--skip-atis", action="store_true")
    parser.add_argument(
        "--coach-domains", nargs="*", choices=zeroshot_coach.DOMAINS, help="default: all seven"
    )
    parser.add_argument("--skip-coach", action="store_true", help="keep the record's Coach folds")
    parser.add_argument("--skip-latency", action="store_true", help="keep the record's latency")
    parser.add_argument(
        "--latency-model", type=Path, default=None, help="default: the first Coach fold's best model"
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="smoke run: this many utterances per Coach split and latency"
    )
    parser.add_argument("--runs-dir", type=Path, default=common.REPO / "runs" / "benchmark")
    parser.add_argument("--out", type=Path, default=None, help="the page (default docs/zeroshot.md)")
    parser.add_argument(
        "--set", action="append", default=[], help="recipe override for every run (repeatable)"
    )
    args = parser.parse_args()
    EXTRA_OVERRIDES.extend(args.set)
    common.require_data_dir()
    from nlu.data.label_files import load_label_file

    out = common.page_path(PAGE, args.out)
    intents = args.snips_intents if args.snips_intents is not None else list(load_label_file(SNIPS_LABELS)[0])
    this_run = common.provenance(common.command("benchmarks.zeroshot"), common.machine())
    record = kept_parts(common.read_record(out.stem, out.parent) or {}) | this_run

    def measured(part: str, value) -> None:
        record[part] = value
        record["provenance"][part] = this_run
        common.publish(PAGE, record, render, out)

    if intents:
        record["snips"], record["calibration"] = [], None
        for intent in intents:
            record["snips"].append(snips(intent, args.runs_dir))
            if intent == CALIBRATION_FOLD:
                measured("calibration", intent_bonus_sweep(intent, args.runs_dir))
            measured("snips", record["snips"])
    if not args.skip_atis:
        measured("atis", atis(args.runs_dir))
    domains = args.coach_domains if args.coach_domains is not None else list(zeroshot_coach.DOMAINS)
    if not args.skip_coach and domains:
        folds: list[dict] = []
        for domain in domains:
            common.log("zeroshot", f"Coach protocol: {domain} held out")
            folds.append(zeroshot_coach.fold(domain, args.runs_dir, train_on, args.limit))
            measured("coach", folds)
    if not args.skip_latency:
        model = args.latency_model
        if model is None and domains:
            model = args.runs_dir / zeroshot_coach.run_name(domains[0], args.limit) / "best"
        if model is None or not (model / "config.json").is_file():
            common.log("zeroshot", f"latency skipped: no trained model at {model}")
        else:
            measured("latency", zeroshot_coach.latency(model, args.runs_dir, args.limit))
    common.publish(PAGE, record, render, out)


def kept_parts(previous: dict) -> dict:
    """The parts of an earlier record, each with the provenance of the command that measured it (the record's
    own, for records written before parts kept theirs)."""
    earlier = {k: previous[k] for k in ("command", "machine", "written") if k in previous}
    provenance = dict(previous.get("provenance") or {})
    kept = {part: previous.get(part) for part in PARTS}
    for part, value in kept.items():
        if value and part not in provenance and earlier:
            provenance[part] = earlier
    return kept | {"provenance": provenance}


if __name__ == "__main__":
    main()
