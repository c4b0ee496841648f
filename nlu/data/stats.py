"""``nlu data stats``: figures recomputed from the files, checked against the data card where there is one."""

from __future__ import annotations

import statistics
from collections import Counter

from nlu.data.bio import slot_type
from nlu.data.registry import has_split, load_split, read_card, resolve

SPLITS = ("train", "dev", "test")


def dataset_stats(name_or_path: str) -> dict:
    source = resolve(name_or_path)
    out: dict = {"dataset": source.describe(), "splits": {}, "card_mismatches": []}
    vocab: dict[str, tuple[set[str], set[str]]] = {}
    for split in SPLITS:
        if not has_split(source, split):
            continue
        examples = load_split(source, split)
        intents = Counter(ex.intent for ex in examples)
        types = Counter(t for ex in examples for t in (slot_type(tag) for tag in ex.tags) if t is not None)
        lengths = [len(ex.tokens) for ex in examples]
        vocab[split] = (set(intents), set(types))
        out["splits"][split] = {
            "utterances": len(examples),
            "intents": len(intents),
            "slot_types": len(types),
            "words_mean": round(statistics.mean(lengths), 2),
            "words_max": max(lengths),
            "languages": sorted({ex.lang for ex in examples}),
        }
    if "train" in vocab:
        train_intents, train_types = vocab["train"]
        for split in ("dev", "test"):
            if split in vocab:
                out["splits"][split]["intents_not_in_train"] = sorted(vocab[split][0] - train_intents)
                out["splits"][split]["slot_types_not_in_train"] = sorted(vocab[split][1] - train_types)
    if source.name:
        card = read_card(source.name)
        for split, expected in (card.get("splits") or {}).items():
            found = out["splits"].get(split, {}).get("utterances")
            if found != expected:
                files = "no such split" if found is None else f"the files have {found}"
                out["card_mismatches"].append(f"{split}: the card says {expected} utterances, {files}")
        if "train" in out["splits"]:
            for key, field in (("num_intents", "intents"), ("num_slot_types", "slot_types")):
                if key in card and card[key] != out["splits"]["train"][field]:
                    out["card_mismatches"].append(
                        f"{key}: card says {card[key]}, train has {out['splits']['train'][field]}"
                    )
    return out


def render_stats(stats: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=stats["dataset"])
    for column in ("split", "utterances", "intents", "slot types", "words (mean/max)", "not in train"):
        table.add_column(column)
    for split, s in stats["splits"].items():
        unseen = s.get("intents_not_in_train", []) + s.get("slot_types_not_in_train", [])
        table.add_row(
            split,
            str(s["utterances"]),
            str(s["intents"]),
            str(s["slot_types"]),
            f"{s['words_mean']}/{s['words_max']}",
            ", ".join(unseen) or "-",
        )
    console = Console()
    console.print(table)
    for line in stats["card_mismatches"]:
        console.print(f"[yellow]differs from the data card:[/yellow] {line}")
