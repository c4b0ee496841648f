"""Model cards: the ``README.md`` that ``nlu train`` writes into ``best/`` and ``nlu export`` into every artifact,
in the Hugging Face layout: a YAML metadata header (library, tags, languages, data set, metrics with their values
under ``model-index``), then what the model is, its labels, the recipe and the command that reproduces it, its
scores, intended use and limits.

Built from what the model directory already holds (``config.json``, ``training_info.json``), so that the card of
an artifact exported from an older model can be written too. Torch-free.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from nlu import __version__
from nlu.data.alignment import WORD_SPLIT_RULE
from nlu.data.bio import slot_type, split_slot_type

CARD_FILE = "README.md"
# our metric -> (Hugging Face metric type, name in the card)
METRICS = {
    "intent_accuracy": ("accuracy", "intent accuracy"),
    "slot_f1": ("f1", "slot F1 (span level, seqeval)"),
    "exact_match": ("exact_match", "exact match (intent and every slot right)"),
}


def training_card(
    name: str,
    architecture: str,
    recipe: dict,
    intent_labels: list[str],
    slot_labels: list[str],
    max_length: int,
    languages: list[str],
    dev_metrics: dict | None,
    train_size: int | None,
    extras: dict | None = None,
    word_split: str = WORD_SPLIT_RULE,
) -> str:
    """The card of a trained model: ``recipe`` is the resolved recipe (``Recipe.model_dump(mode="json")``),
    ``dev_metrics`` the dev summary of this model (None without a dev split); ``extras`` counts what travels
    with the model besides its weights (synonyms, regexes, lexicon types); ``word_split`` is the model's rule
    for splitting text into words."""
    data = recipe.get("data", {})
    dataset = data.get("dataset") or ", ".join(str(v) for v in (data.get("files") or {}).values())
    split = data.get("dev_split") or "dev"
    intents = [i for i in intent_labels if i != "UNK"]
    kinds = sorted({k for k in (slot_type(t) for t in slot_labels if t != "UNK") if k})
    backbone = recipe.get("model", {}).get("backbone")
    lines = [
        f"# {name}",
        "",
        f"A joint intent detection and slot filling model ({architecture}, backbone `{backbone}`), "
        f"trained with [nlu-toolkit](https://pypi.org/project/nlu-toolkit/) {__version__} on {dataset}"
        + (f" ({train_size} training utterances)" if train_size else "")
        + f". Given an utterance, it predicts one of {len(intents)} intents and tags the words of {len(kinds)} "
        "slot types.",
        *_use_lines(),
        *_label_lines(intents, kinds),
        *_evaluation_lines(dev_metrics, split, dataset),
        *_training_lines(recipe),
        *_limits_lines(languages, word_split, max_length),
    ]
    if extras:
        carried = ", ".join(f"{what} ({n})" for what, n in extras.items() if n)
        if carried:
            lines += ["", f"It carries {carried}, applied at every parse (see the nlu-toolkit README)."]
    return _with_header(_metadata(name, architecture, languages, dataset, split, dev_metrics), lines)


def _metadata(
    name: str, architecture: str, languages: list[str], dataset: str, split: str, dev_metrics: dict | None
) -> dict:
    """The card's YAML header, with the dev scores under ``model-index`` as the Hub reads them."""
    header: dict = {
        "library_name": "nlu-toolkit",
        "pipeline_tag": "token-classification",
        "tags": ["nlu-toolkit", "intent-detection", "slot-filling", architecture],
        "language": languages or ["en"],
        "datasets": [dataset] if dataset else [],
        "metrics": [METRICS[k][0] for k in METRICS if dev_metrics and k in dev_metrics],
    }
    if dev_metrics:
        metrics = [
            {"type": kind, "name": label, "value": round(float(dev_metrics[key]), 4)}
            for key, (kind, label) in METRICS.items()
            if key in dev_metrics
        ]
        task = {"type": "token-classification", "name": "Intent detection and slot filling"}
        data = {"name": dataset, "type": dataset, "split": split}
        header["model-index"] = [
            {"name": name, "results": [{"task": task, "dataset": data, "metrics": metrics}]}
        ]
    return header


def _use_lines() -> list[str]:
    return [
        "",
        "## Use",
        "",
        "```python",
        "from nlu import load_parser  # pip install 'nlu-toolkit[train]'",
        "",
        'parser = load_parser("path/to/this/folder")',
        'print(parser.parse("your utterance").to_dict())  # Rasa\'s /model/parse result',
        "```",
        "",
        "`nlu export FOLDER OUT` turns it into an ONNX artifact for the torch-free runtime (`nlu serve OUT`).",
        "With transformers alone: `AutoModel.from_pretrained(folder, trust_remote_code=True)` (the code is the",
        "installed nlu-toolkit's: `modeling_nlu.py` only imports it); `config.json` has `id2label`/`label2id`",
        "for the intents and `slot_labels` for the slot tags.",
    ]


def _label_lines(intents: list[str], kinds: list[str]) -> list[str]:
    roles = " (`entity#role@group`: Rasa roles and groups, returned as `role` and `group`)"
    return [
        "",
        "## Labels",
        "",
        f"Intents: {', '.join(f'`{i}`' for i in intents) or 'none'}.",
        "",
        f"Slot types: {', '.join(f'`{k}`' for k in kinds) or 'none'}"
        + (roles if _has_roles(kinds) else "")
        + ".",
    ]


def _evaluation_lines(dev_metrics: dict | None, split: str, dataset: str) -> list[str]:
    lines = ["", "## Evaluation", ""]
    if not dev_metrics:
        return lines + ["No dev split was given, so the model was not scored during training."]
    lines += [f"On the {split} split of {dataset}:", "", "| metric | value |", "|---|---|"]
    return lines + [
        f"| {label} | {100 * float(dev_metrics[k]):.2f} |"
        for k, (_, label) in METRICS.items()
        if k in dev_metrics
    ]


def _training_lines(recipe: dict) -> list[str]:
    return [
        "",
        "## Training",
        "",
        "Save the recipe below as `recipe.yaml` and run the command (it reads the same data from the same",
        "place; `nlu data card NAME` says how to get a named data set):",
        "",
        "```bash",
        "nlu train recipe.yaml",
        "```",
        "",
        "```yaml",
        yaml.safe_dump(recipe, sort_keys=False).rstrip(),
        "```",
    ]


def _limits_lines(languages: list[str], word_split: str, max_length: int) -> list[str]:
    return [
        "",
        "## Intended use and limits",
        "",
        "- For the language-understanding step of a task-oriented dialogue system in the domain of its training",
        "  data: it knows only the intents and slot types above, and gives every utterance one of those intents,",
        "  out-of-domain ones included. Serve it with a fallback threshold (`nlu serve --fallback-threshold`)",
        "  so that a bot can say it did not understand; its confidences are not calibrated probabilities.",
        f"- Languages: {', '.join(languages) or 'en'}. Text is split into words at white space and punctuation",
        f"  (`{word_split}`, as its training data writes words); scripts without spaces need data that was split",
        "  the same way.",
        f"- It reads at most {max_length} sub-tokens per utterance; words past that are tagged `O` and the",
        "  prediction says `truncated`.",
        "- Its scores hold for data like its dev split; measure it on your own traffic before relying on it.",
    ]


def _has_roles(kinds: list[str]) -> bool:
    return any(split_slot_type(k)[1:] != (None, None) for k in kinds)


def _with_header(header: dict, lines: list[str]) -> str:
    return (
        "---\n"
        + yaml.safe_dump(header, sort_keys=False, allow_unicode=True)
        + "---\n\n"
        + "\n".join(lines)
        + "\n"
    )


def read_card(folder: Path) -> tuple[dict, str] | None:
    """A card's metadata header and its body, or None when ``folder`` has no card."""
    path = Path(folder) / CARD_FILE
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        return {}, text
    _, header, body = text.split("---\n", 2)
    return (yaml.safe_load(header) or {}), body.lstrip("\n")


def artifact_card(model_dir: Path, manifest: dict, report: dict) -> str:
    """The card of an exported artifact: the model's own card (or, for a model saved before cards, one built
    from its ``training_info.json``) with the export's facts and scores, and the runtime's usage."""
    found = read_card(model_dir)
    if found is None:
        found = _card_from_model_dir(model_dir)
    header, body = found
    header = dict(header)
    header["tags"] = list(dict.fromkeys([*header.get("tags", []), "onnx"]))
    parity = report.get("parity", {})
    scores = report.get("scores", {})
    lines = [
        "## This artifact",
        "",
        f"ONNX export by nlu-toolkit {__version__} (`nlu export`): quantization {manifest.get('quantization')}, "
        f"graph optimisation {'on' if manifest.get('optimized') else 'off'}, decoding "
        f"{manifest.get('decoding', {}).get('type', 'softmax')}. Checked against the torch model on "
        f"{parity.get('utterances')} utterances ({report.get('check_data')}): intent agreement "
        f"{parity.get('intent_agreement', 0):.4f}, slot tag agreement {parity.get('slot_tag_agreement', 0):.4f}.",
        "",
    ]
    if scores:
        lines += ["| model | intent accuracy | slot F1 | exact match |", "|---|---|---|---|"]
        lines += [
            f"| {name} | {100 * s['intent_accuracy']:.2f} | {100 * s['slot_f1']:.2f} | {100 * s['exact_match']:.2f} |"
            for name, s in scores.items()
        ]
        lines.append("")
    lines += [
        "Parse with the torch-free runtime (`pip install 'nlu-toolkit[runtime]'`):",
        "",
        "```python",
        "from nlu import load_parser",
        "",
        'parser = load_parser("path/to/this/artifact", fallback_threshold=0.7)',
        'print(parser.parse("your utterance").to_dict())',
        "```",
        "",
        "or serve it: `nlu serve ARTIFACT --fallback-threshold 0.7` (Rasa-compatible `POST /model/parse`).",
        "`nlu.json` lists every file of the artifact with its SHA-256.",
        "",
    ]
    return _with_header(header, [body.rstrip("\n"), "", *lines])


def _card_from_model_dir(model_dir: Path) -> tuple[dict, str]:
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    info_path = model_dir / "training_info.json"
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.is_file() else {}
    recipe = info.get("recipe") or {"model": {"backbone": "unknown"}, "data": {}}
    text = training_card(
        model_dir.parent.name if model_dir.name == "best" else model_dir.name,
        str(config.get("model_type", "")).removeprefix("nlu-"),
        recipe,
        config.get("intent_labels", []),
        config.get("slot_labels", []),
        int(config.get("max_seq_length", 128)),
        [],
        None,
        None,
        word_split=config.get("word_split", WORD_SPLIT_RULE),
    )
    _, header, body = text.split("---\n", 2)
    return yaml.safe_load(header), body.lstrip("\n")
