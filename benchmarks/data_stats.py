"""`nlu data stats` for every data set with a card whose files are under $NLU_DATA_DIR, checked against the cards.

Writes ``docs/data.json`` and ``docs/data.md`` (one table for all data sets and variants: where each split was
read from, its size, label counts, labels missing from train, and every figure that differs from the card).
Exits non-zero when a count differs from its card, so it doubles as a check of the cards.

    NLU_DATA_DIR=../shared/data python -m benchmarks.data_stats
    python -m benchmarks data                  # render docs/data.md from its record; measure nothing
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from benchmarks import common

PAGE = "data"


def targets() -> list[str]:
    """Every name (and name:variant) whose card resolves to files here."""
    from nlu.data.registry import known_names, read_card, resolve
    from nlu.errors import DataError

    names = []
    for name in known_names():
        card = read_card(name)
        if card.get("kind") == "generation":  # records/dialogues, not intent/slot data
            continue
        variants = card.get("variants") or [None]
        for variant in variants:
            full = f"{name}:{variant}" if variant else name
            try:
                resolve(full)
            except DataError:
                continue
            names.append(full)
    return names


def render(record: dict, page: Path) -> str:
    """docs/data.md from its record: one row per data set and split."""
    results = record["data_sets"]
    root = Path(record["data_root"])
    lines = [
        "# Data sets: figures recomputed from the files",
        "",
        "What `nlu data stats NAME` prints for every data set (and language or locale) whose files are under",
        "`$NLU_DATA_DIR`, compared with its card in `nlu/data/cards/`. Intents and slot types are counted per split;",
        "'not in train' lists the labels of dev/test that the train split lacks (for a language without train",
        "data, the default variant's train split, the one a cross-lingual model is trained on).",
        "",
        *common.provenance_lines(record),
        f"- Run time: {record['seconds']:.0f} s",
        f"- Data sets found: {len(results)}; differing from their cards: "
        f"{sum(bool(r['card_mismatches']) for r in results.values())}",
        "",
        "| data set | split | read from (format) | utterances | intents | slot types | words mean/max | "
        "not in train | card |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, stats in results.items():
        card = "; ".join(stats["card_mismatches"]) or "matches"
        for split, s in stats["splits"].items():
            where = Path(s["file"])  # relative to the checkout, as the record keeps it
            shown = where.relative_to(root) if where.is_relative_to(root) else where.name
            unseen = s.get("intents_not_in_train", []) + s.get("slot_types_not_in_train", [])
            lines.append(
                f"| {name} | {split} | `{shown}` ({s['format']}) | {s['utterances']} | {s['intents']} | "
                f"{s['slot_types']} | {s['words_mean']}/{s['words_max']} | {', '.join(unseen) or '-'} | {card} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = common.argument_parser("benchmarks.data_stats", __doc__)
    parser.add_argument("--out", type=Path, default=None, help="the page (default docs/data.md)")
    args = parser.parse_args()
    common.require_data_dir()
    from nlu.data.stats import dataset_stats

    started = time.perf_counter()
    results = {name: dataset_stats(name) for name in targets()}
    record = common.provenance(common.command("benchmarks.data_stats"), common.machine())
    record |= {
        "seconds": time.perf_counter() - started,
        "data_root": str(Path(os.environ["NLU_DATA_DIR"]).resolve()),  # written relative to the checkout
        "data_sets": results,
    }
    out = common.publish(PAGE, record, render, args.out)
    bad = {n: r["card_mismatches"] for n, r in results.items() if r["card_mismatches"]}
    print(f"{len(results)} data sets, {len(bad)} differ from their cards; wrote {out}")
    if bad:
        print(json.dumps(bad, indent=2))
        sys.exit(1)


if __name__ == "__main__":
    main()
