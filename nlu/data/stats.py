"""``nlu data stats``: figures recomputed from the files, checked against the data card where there is one."""

from __future__ import annotations

import functools
import statistics
from collections import Counter

from nlu.data.bio import slot_type
from nlu.data.registry import (
    data_root,
    expected_files,
    has_split,
    load_split,
    read_card,
    resolve,
    split_file,
)
from nlu.errors import DataError

SPLITS = ("train", "dev", "test")


@functools.lru_cache(maxsize=4)
def _train_vocabulary(name: str, root: str) -> tuple[set[str], set[str]] | None:
    """Intents and slot types of a data set's train split (cached: every xSID language compares with English)."""
    reference = resolve(name)
    if not has_split(reference, "train"):
        return None
    examples = load_split(reference, "train")
    return {ex.intent for ex in examples}, {t for ex in examples for t in map(slot_type, ex.tags) if t}


def dataset_stats(name_or_path: str, columns: dict[str, str] | None = None) -> dict:
    """Counts per split, labels missing from train, and every figure that differs from the data card.

    A variant without a train split (``xsid:de``) is compared with the default variant's train split, the one
    a model for it is trained on. ``columns`` maps tokens/tags/intent to the columns of a Hugging Face dataset
    folder, as a recipe's ``data.columns`` does.
    """
    source = resolve(name_or_path)
    if columns:
        if source.kind != "hf":
            raise DataError(
                f"--columns: {source.describe()} is not a Hugging Face dataset folder (save_to_disk); its format "
                "names its own fields"
            )
        source.columns = dict(columns)
    out: dict = {"dataset": source.describe(), "splits": {}, "card_mismatches": []}
    vocab: dict[str, tuple[set[str], set[str]]] = {}
    for split in SPLITS:
        if not has_split(source, split):
            continue
        found = None if source.kind == "hf" else split_file(source, split)
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
            "file": str(found[0]) if found else source.location,
            "format": found[1] if found else "hf",
        }
    if not out["splits"]:
        raise DataError(
            f"{source.describe()}: no train, dev or test split found; for train: {expected_files(source, 'train')}"
        )
    card = source.card if source.kind == "card" else (read_card(source.name) if source.name else None)
    is_default = source.variant is None or (card or {}).get("default_variant") == source.variant
    train = vocab.get("train")
    if train is None and card and not is_default and card.get("default_variant"):
        train = _train_vocabulary(f"{source.name}:{card['default_variant']}", str(data_root()))
        if train is not None:
            out["compared_with"] = f"{source.name}:{card['default_variant']} train"
    if train is not None:
        for split in ("dev", "test"):
            if split in vocab:
                out["splits"][split]["intents_not_in_train"] = sorted(vocab[split][0] - train[0])
                out["splits"][split]["slot_types_not_in_train"] = sorted(vocab[split][1] - train[1])
    if card:
        expected_splits = card.get("splits") or {}
        if not is_default:
            expected_splits = (card.get("variant_splits") or {}).get(source.variant, {})
        for split, expected in expected_splits.items():
            found_n = out["splits"].get(split, {}).get("utterances")
            if found_n != expected:
                files = "no such split" if found_n is None else f"the files have {found_n}"
                out["card_mismatches"].append(f"{split}: the card says {expected} utterances, {files}")
        if is_default and "train" in out["splits"]:
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
    for split, s in stats["splits"].items():
        console.print(f"{split}: {s['file']} ({s['format']})")
    if stats.get("compared_with"):
        console.print(f"'not in train' compares with {stats['compared_with']}")
    for line in stats["card_mismatches"]:
        console.print(f"[yellow]differs from the data card:[/yellow] {line}")
