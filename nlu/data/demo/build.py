"""Generate the packaged DEMO data set (``train/dev/test.jsonl``) from ``templates.yaml``.

The DEMO set exists so that the quickstart trains offline in minutes without downloading anything. It is
generated, not collected: each utterance is a phrasing template from ``templates.yaml`` with its ``{slot}``
placeholders filled from value pools, tagged BIO at the word level. Dev and test also draw on held-out
templates and values (``heldout`` lists) so that their scores say something about generalisation.

Run ``python -m nlu.data.demo.build`` (or ``python nlu/data/demo/build.py``) after editing the templates;
the output depends only on the YAML and its ``seed``, so a rerun is byte-identical.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

import yaml

if __package__ in (None, ""):  # run as a plain script: make the repository root importable for nlu.errors
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from nlu.errors import DataError  # noqa: E402  (after the path fix above)

DEMO_DIR = Path(__file__).resolve().parent
TEMPLATES_PATH = DEMO_DIR / "templates.yaml"
SPLITS = ("train", "dev", "test")
MAX_TRIES = 500  # draws per utterance before giving up on finding one not yet used in any split

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_WORD = re.compile(r"[a-z0-9]+")


def load_templates(path: Path = TEMPLATES_PATH) -> dict:
    """Read and check ``templates.yaml``, reporting every problem at once.

    Checks: lower-case words/digits only, every placeholder names a known pool, every slot type and every
    intent has at least one ``train`` template (so dev/test never hold a label that train lacks).
    """
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    problems: list[str] = []
    pools = spec["values"]
    slot_pools = spec.get("slot_pools") or {}
    for pool, lists in pools.items():
        for part in ("train", "heldout"):
            for value in lists.get(part, []):
                if not isinstance(value, str) or not all(_WORD.fullmatch(w) for w in value.split()):
                    problems.append(f"values.{pool}.{part}: {value!r} is not lower-case words or digits")
    train_slots: set[str] = set()
    all_slots: set[str] = set()
    for intent, parts in spec["intents"].items():
        if not parts.get("train"):
            problems.append(f"intents.{intent}.train: needs at least one template")
        for part in ("train", "heldout"):
            for template in parts.get(part) or []:
                for word in template.split():
                    slot = _PLACEHOLDER.fullmatch(word)
                    if slot is None and not _WORD.fullmatch(word):
                        problems.append(
                            f"intents.{intent}.{part}: {word!r} in {template!r} is not a plain word"
                        )
                    elif slot is not None:
                        name = slot.group(1)
                        all_slots.add(name)
                        if part == "train":
                            train_slots.add(name)
                        if slot_pools.get(name, name) not in pools:
                            problems.append(f"intents.{intent}.{part}: {{{name}}} has no value pool")
    for name in sorted(all_slots - train_slots):
        problems.append(f"slot {name!r} occurs only in held-out templates; use it in a train template too")
    if problems:
        raise DataError(f"{path}:\n  " + "\n  ".join(problems))
    return spec


def _fill(template: str, spec: dict, rng: random.Random, heldout_rate: float) -> tuple[list[str], list[str]]:
    """Fill one template: returns ``(tokens, tags)``; ``heldout_rate`` > 0 lets held-out values in.

    Two placeholders of the same pool in one template (``from {fromloc} to {toloc}``) get different values.
    """
    tokens: list[str] = []
    tags: list[str] = []
    used: set[str] = set()
    for word in template.split():
        slot = _PLACEHOLDER.fullmatch(word)
        if slot is None:
            tokens.append(word)
            tags.append("O")
            continue
        name = slot.group(1)
        pool = spec["values"][spec.get("slot_pools", {}).get(name, name)]
        part = "heldout" if pool.get("heldout") and rng.random() < heldout_rate else "train"
        value = rng.choice([v for v in pool[part] if v not in used])
        used.add(value)
        words = value.split()
        tokens.extend(words)
        tags.extend([f"B-{name}"] + [f"I-{name}"] * (len(words) - 1))
    return tokens, tags


def generate(spec: dict) -> dict[str, list[dict]]:
    """Draw every split from ``spec``: intents in equal turns, no utterance repeated in or across splits."""
    rng = random.Random(spec["seed"])
    intents = list(spec["intents"])
    seen: set[tuple[str, ...]] = set()
    splits: dict[str, list[dict]] = {}
    for split in SPLITS:
        rate = 0.0 if split == "train" else float(spec["heldout_rate"])
        records = []
        for i in range(spec["sizes"][split]):
            intent = intents[i % len(intents)]
            parts = spec["intents"][intent]
            for _ in range(MAX_TRIES):
                use_heldout = parts.get("heldout") and rng.random() < rate
                template = rng.choice(parts["heldout" if use_heldout else "train"])
                tokens, tags = _fill(template, spec, rng, rate)
                if tuple(tokens) not in seen:
                    break
            else:
                raise DataError(
                    f"{split}: no new utterance for {intent!r} in {MAX_TRIES} draws; add templates"
                )
            seen.add(tuple(tokens))
            records.append({"tokens": tokens, "tags": tags, "intent": intent})
        rng.shuffle(records)  # interleave intents, so a file's head is not one intent's worth
        splits[split] = [{"id": f"demo-{split}-{n:05d}", **r, "lang": "en"} for n, r in enumerate(records)]
    return splits


def build(out_dir: Path, templates_path: Path = TEMPLATES_PATH) -> dict[str, int]:
    """Write ``<out_dir>/{train,dev,test}.jsonl`` and return the number of utterances per split."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split, records in generate(load_templates(templates_path)).items():
        lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in records]
        (out_dir / f"{split}.jsonl").write_text("".join(lines), encoding="utf-8", newline="\n")
        counts[split] = len(records)
    return counts


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m nlu.data.demo.build [--out DIR]`` (default: next to this file)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEMO_DIR, help="folder for the .jsonl files")
    parser.add_argument("--templates", type=Path, default=TEMPLATES_PATH, help="templates YAML to read")
    args = parser.parse_args(argv)
    try:
        counts = build(args.out, args.templates)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(" ".join(f"{split}={n}" for split, n in counts.items()), "->", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
