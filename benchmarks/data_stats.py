"""`nlu data stats` for every data set with a card whose files are under $NLU_DATA_DIR, checked against the cards.

Writes ``docs/data.md`` (one table for all data sets and variants: where each split was read from, its size,
label counts, labels missing from train, and every figure that differs from the card) and ``docs/data.json``.
Exits non-zero when a count differs from its card, so it doubles as a check of the cards.

    NLU_DATA_DIR=../shared/data python benchmarks/data_stats.py
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
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
from machine import cpu_model  # noqa: E402


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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "data.md")
    args = parser.parse_args()
    if not os.environ.get("NLU_DATA_DIR"):
        sys.exit("set NLU_DATA_DIR to the data root (in a checkout: ../shared/data)")
    from nlu.data.stats import dataset_stats

    started = time.perf_counter()
    results = {name: dataset_stats(name) for name in targets()}
    seconds = time.perf_counter() - started
    root = Path(os.environ["NLU_DATA_DIR"]).resolve()
    lines = [
        "# Data sets: figures recomputed from the files",
        "",
        "What `nlu data stats NAME` prints for every data set (and language or locale) whose files are under",
        "`$NLU_DATA_DIR`, compared with its card in `nlu/data/cards/`. Intents and slot types are counted per split;",
        "'not in train' lists the labels of dev/test that the train split lacks (for a language without train",
        "data, the default variant's train split, the one a cross-lingual model is trained on).",
        "",
        f"- Command: `NLU_DATA_DIR=../shared/data python benchmarks/data_stats.py` ({seconds:.0f} s)",
        f"- Machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        f"- Written: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
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
            where = Path(s["file"]).resolve()
            shown = where.relative_to(root) if where.is_relative_to(root) else where.name
            unseen = s.get("intents_not_in_train", []) + s.get("slot_types_not_in_train", [])
            lines.append(
                f"| {name} | {split} | `{shown}` ({s['format']}) | {s['utterances']} | {s['intents']} | "
                f"{s['slot_types']} | {s['words_mean']}/{s['words_max']} | {', '.join(unseen) or '-'} | {card} |"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    bad = {n: r["card_mismatches"] for n, r in results.items() if r["card_mismatches"]}
    print(f"{len(results)} data sets, {len(bad)} differ from their cards; wrote {args.out}")
    if bad:
        print(json.dumps(bad, indent=2))
        sys.exit(1)


if __name__ == "__main__":
    main()
