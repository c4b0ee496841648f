"""Robustness: the parsers on test sets typed the way people type, beside the clean test set.

Each suite perturbs every utterance of the ATIS and SNIPS test splits (``nlu.data.augment.noise``, seeded):

- ``typos``: keyboard slips (a neighbouring key, a dropped, doubled or swapped letter) in content words and slot
  values, about one word in four;
- ``casing``: Title Case, ALL CAPS or sentence case;
- ``punctuation``: quotes around names and titles, commas, ``?``, ``!``, ``...`` at the end, attached to the
  words (``"Espresso"``, ``Austin, TX?``);
- ``contractions``: ``I'd``, ``what's``, ``Jenna's`` as typed, whatever the data set writes (SNIPS: ``i d``);
- ``fillers``: ``um``, ``like``, ``please`` between slot values;
- ``long``: a polite preamble and/or a closing clause with no slot in it;
- ``typed``: casing and punctuation plus one or two of the others, chosen per utterance.

Every perturbed utterance is raw text parsed as ``nlu predict`` parses it (``Parser.parse_batch``: the model's
own word splitting), and scored against the original labels projected onto those words (inserted words and
punctuation are ``O``). Writes ``docs/robustness.json`` and ``docs/robustness.md``.

    NLU_DATA_DIR=../shared/data python -m benchmarks.robustness \
        --model atis jointbert_crf runs/benchmark/atis-jointbert_crf-seed1/best
    python -m benchmarks robustness          # render docs/robustness.md from its record; measure nothing

``--model DATASET NAME PATH`` is repeatable; results for other models already in the record are kept.
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks import common

PAGE = "robustness"
SUITES = ("clean", "typos", "casing", "punctuation", "contractions", "fillers", "long", "typed")
METRICS = ("intent_accuracy", "slot_f1", "exact_match")
# The bars of the robustness issue: exact match at least this share of clean, intent accuracy within this many
# points of clean.
EXACT_MATCH_SHARE, INTENT_POINTS = 0.9, 0.01


def suite(examples: list, name: str, seed: int) -> list:
    """The perturbed utterances of one suite (``Noisy``: text and labelled spans)."""
    from nlu.data.augment.noise import perturb, typed

    if name == "typed":
        return [typed(ex, seed) for ex in examples]
    return [perturb(ex, [name], seed) for ex in examples]


def score(parser, examples: list, name: str, seed: int) -> tuple[dict, list[dict]]:
    """One suite's scores for a parser, and a few of its utterances as typed with the parse's slots."""
    from nlu.evaluation.metrics import evaluate_predictions

    if name == "clean":
        gold = examples
        predictions = parser.parse_words([ex.tokens for ex in examples])
        texts = [" ".join(ex.tokens) for ex in examples]
    else:
        noisy = suite(examples, name, seed)
        gold = [n.example(parser.word_split) for n in noisy]
        texts = [n.text for n in noisy]
        predictions = parser.parse_batch(texts)
        for g, p in zip(gold, predictions, strict=True):
            if g.tokens != p.tokens:  # the gold words are the parser's own split; a difference is a bug here
                raise AssertionError(f"{g.id}: gold words {g.tokens} but the parser read {p.tokens}")
    summary = evaluate_predictions(gold, predictions, bootstrap=0).summary()
    shown = [
        {"text": t, "intent": p.intent, "slots": [[e.entity, e.value] for e in p.entities]}
        for t, p in list(zip(texts, predictions, strict=True))[:3]
    ]
    return {m: summary[m] for m in METRICS} | {"n": len(gold)}, shown


def measure(dataset: str, model: str, path: Path, seed: int, limit: int | None) -> dict:
    from nlu.data.registry import load_split
    from nlu.parser import load_parser

    examples = load_split(dataset, "test")[:limit]
    parser = load_parser(path)
    out: dict = {"model_dir": common.relative(str(path)), "word_split": parser.word_split, "suites": {}}
    started = time.perf_counter()
    for name in SUITES:
        scores, shown = score(parser, examples, name, seed)
        out["suites"][name] = scores | {"examples": shown}
        print(f"{dataset} {model} {name}: " + ", ".join(f"{m} {scores[m]:.4f}" for m in METRICS), flush=True)
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def _verdict(clean: dict, noisy: dict) -> str:
    em_ok = noisy["exact_match"] >= EXACT_MATCH_SHARE * clean["exact_match"]
    intent_ok = noisy["intent_accuracy"] >= clean["intent_accuracy"] - INTENT_POINTS
    return "met" if em_ok and intent_ok else "missed"


def render(record: dict, page: Path) -> str:
    lines = [
        "# Robustness: test sets typed the way people type",
        "",
        "Each suite perturbs every test utterance (seeded; `nlu.data.augment.noise`), parses it as raw text the",
        "way `nlu predict` does, and scores it against the original labels projected onto the words the model",
        "splits the text into (inserted words and punctuation are `O`). Scores: intent accuracy / slot F1 /",
        f"exact match, in %. The bar: exact match at least {EXACT_MATCH_SHARE:.0%} of clean and intent accuracy",
        f"within {100 * INTENT_POINTS:.0f} point of clean.",
        "",
        *common.provenance_lines(record),
        f"- Seed of the perturbations: {record['seed']}",
    ]
    for dataset, models in record["results"].items():
        lines += ["", f"## {dataset.upper()}", ""]
        header = "| model | " + " | ".join(SUITES) + " |"
        lines += [header, "|" + "---|" * (len(SUITES) + 1)]
        for model, result in models.items():
            suites = result["suites"]
            cells = [
                " / ".join(f"{100 * suites[s][m]:.1f}" for m in METRICS) if s in suites else "-"
                for s in SUITES
            ]
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
        lines += ["", "Exact match against clean, and the bar:", ""]
        lines += ["| model | " + " | ".join(SUITES[1:]) + " |", "|" + "---|" * len(SUITES)]
        for model, result in models.items():
            suites, clean = result["suites"], result["suites"]["clean"]
            cells = [
                f"{suites[s]['exact_match'] / max(clean['exact_match'], 1e-9):.2f}x {_verdict(clean, suites[s])}"
                if s in suites
                else "-"
                for s in SUITES[1:]
            ]
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
        lines += ["", "Each row's command:", ""]
        lines += [
            f"- {model}: `{result['command']}`" for model, result in models.items() if "command" in result
        ]
        lines += ["", "What the suites look like (the first utterances, with the model's slots):", ""]
        first = next(iter(models.values()))
        for s in SUITES[1:]:
            shown = first["suites"].get(s, {}).get("examples", [])[:2]
            lines += [f"- {s}: " + "; ".join(f"`{e['text']}` -> {e['slots']}" for e in shown)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = common.argument_parser("benchmarks.robustness", __doc__)
    parser.add_argument(
        "--model",
        nargs=3,
        action="append",
        metavar=("DATASET", "NAME", "PATH"),
        required=True,
        help="a data set, a name for the table, and a model or artifact directory (repeatable)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--limit", type=int, help="the first N test utterances only (a quick look)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    common.require_data_dir()
    record = common.read_record(PAGE) or {"results": {}}
    if record.get("seed") not in (None, args.seed):
        record["results"] = {}  # another seed's perturbations are other suites: start over
    for dataset, model, path in args.model:
        result = measure(dataset, model, Path(path), args.seed, args.limit)
        result["command"] = common.command("benchmarks.robustness", ["--model", dataset, model, path])
        record["results"].setdefault(dataset, {})[model] = result
    record |= {"seed": args.seed, "limit": args.limit}
    record |= common.provenance(common.command("benchmarks.robustness"), common.machine())
    print(common.publish(PAGE, record, render, args.out))


if __name__ == "__main__":
    main()
