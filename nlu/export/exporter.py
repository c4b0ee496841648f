"""``nlu export``: a trained model directory -> an artifact directory for the torch-free runtime.

The artifact holds ``model.onnx`` (dynamic batch and sequence axes), ``tokenizer.json``, the label files, the
model's gazetteer, entity synonyms and regexes where it has them, a model card (``README.md``), ``nlu.json``
(the manifest: toolkit version, architecture, decoding information such as CRF transitions, maximum length,
word-splitting rule, SHA-256 of every file) and ``export_report.json``.

Every export checks itself before anything appears at the destination: the tokenizer must give the same ids as
the training tokenizer, the ONNX logits must match torch within the architecture's tolerance, and the decoded
intents and tags must agree. Everything is written to a temporary directory beside the destination and renamed
into place only when complete; a failed check leaves the destination as it was.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from nlu import __version__
from nlu.data.example import Example
from nlu.data.lexicon import LEXICON_FILE
from nlu.errors import ExportError, ParityError
from nlu.export.graph import _optimize, _quantize, _torch_export
from nlu.export.onnx_config import OnnxConfig
from nlu.models.registry import get_architecture
from nlu.runtime.manifest import FORMAT_VERSION, MANIFEST, sha256_file
from nlu.runtime.parser import OnnxParser
from nlu.training.checkpoints import write_dir_atomically

logger = logging.getLogger(__name__)

Quantize = Literal["none", "int8"]

# Used when no data set is given: plain requests of several lengths, plus one long enough to be truncated.
_BUILTIN_CHECK = [
    "hello",
    "turn on the lights in the kitchen",
    "show me flights from boston to denver tomorrow morning",
    "play the latest album by the rolling stones on spotify",
    "what will the weather be like in paris on friday afternoon",
    "book a table for four at an italian restaurant near union square at seven thirty pm",
    " ".join(["please find me a cheap flight from new york to san francisco"] * 40),
]


def _check_examples(
    model_dir: Path, data: str | None, split: str, task: str | None = None
) -> tuple[list[Example], str | None]:
    """The utterances the parity check runs on, and where they come from (None: the built-in list).

    A data set given by the user must load. Without one, the dev split named in the model's training recipe (for
    one task of a multi-task model, that task's) is used when it can be read here, so the report can score the
    export; else a built-in list of utterances.
    """
    from nlu.data.registry import from_files, load_split, resolve
    from nlu.errors import DataError

    if data:
        return load_split(data, split), f"{data}/{split}"
    info = model_dir / "training_info.json"
    if info.is_file():
        recipe_data = json.loads(info.read_text(encoding="utf-8")).get("recipe", {}).get("data", {})
        if task is not None:
            recipe_data = next((t for t in recipe_data.get("tasks") or [] if t.get("name") == task), {})
        dataset, dev_split = recipe_data.get("dataset"), recipe_data.get("dev_split")
        files, fmt = recipe_data.get("files") or {}, recipe_data.get("format")
        if dev_split and (dataset or dev_split in files):
            try:
                source = (
                    from_files({dev_split: files[dev_split]}, format=fmt)
                    if files
                    else resolve(dataset, format=fmt)
                )
                return load_split(source, dev_split), f"{dataset or files[dev_split]}/{dev_split}"
            except DataError as err:
                logger.info(
                    "export check on built-in utterances: the training dev split is not readable (%s)", err
                )
    builtin = [
        Example(id=f"check-{i}", tokens=t.split(), tags=["O"] * len(t.split()), intent="UNK")
        for i, t in enumerate(_BUILTIN_CHECK)
    ]
    return builtin, None


Progress = Callable[[str, int, int | None], None]  # (what, done, total), as nlu.data.download reports


@torch.no_grad()
def _parity(
    torch_parser,
    onnx_parser,
    config: OnnxConfig,
    examples: list[Example],
    quantized: bool,
    progress: Progress | None = None,
) -> dict:
    """ONNX vs torch on the same words: tokenizer ids, logits, decoded labels."""
    words = [ex.tokens for ex in examples]
    max_diff = 0.0
    own = torch_parser.tokenizer  # the tokenizer the model was trained with
    for start in range(0, len(words), 32):
        if progress:
            progress("check against torch", start, len(words))
        chunk = words[start : start + 32]
        trained = own(chunk, is_split_into_words=True, truncation=True, max_length=torch_parser.max_length)
        encodings = onnx_parser.tokenizer.encode_batch([list(w) for w in chunk], is_pretokenized=True)
        for i, enc in enumerate(encodings):
            if enc.ids != trained["input_ids"][i]:
                raise ExportError(
                    f"the exported tokenizer splits {' '.join(chunk[i])[:80]!r} differently from the model's own "
                    "tokenizer; the artifact would not reproduce the model"
                )
        intent_onnx, slot_onnx, _ = onnx_parser.logits(chunk)
        intent_torch, slot_torch, word_ids = torch_parser.logits(chunk)
        valid = np.zeros(slot_torch.shape[:2], dtype=bool)
        for b, ids in enumerate(word_ids):
            valid[b, : len(ids)] = True
        max_diff = max(
            max_diff,
            float(np.abs(intent_torch - intent_onnx).max()),
            float(np.abs(slot_torch - slot_onnx)[valid].max()),
        )
    if progress:
        progress("check against torch", len(words), len(words))
    torch_predictions = torch_parser.parse_words(words)
    onnx_predictions = onnx_parser.parse_words(words)
    intents_agree = sum(
        a.intent == b.intent for a, b in zip(torch_predictions, onnx_predictions, strict=True)
    )
    tags_total = sum(len(p.tags) for p in torch_predictions)
    tags_agree = sum(
        x == y
        for a, b in zip(torch_predictions, onnx_predictions, strict=True)
        for x, y in zip(a.tags, b.tags, strict=True)
    )
    intent_agreement, tag_agreement = intents_agree / len(examples), tags_agree / max(tags_total, 1)
    required = config.min_agreement_int8 if quantized else config.min_agreement_fp32
    problems = []
    if not quantized and max_diff > config.atol:
        problems.append(f"max |logit difference| {max_diff:.2e} exceeds the tolerance {config.atol:.0e}")
    if intent_agreement < required or tag_agreement < required:
        problems.append(
            f"label agreement with torch is intents {intent_agreement:.4f}, slot tags {tag_agreement:.4f}; "
            f"at least {required} is required"
        )
    return {
        "utterances": len(examples),
        "max_abs_logit_difference": max_diff,
        "atol": None if quantized else config.atol,
        "intent_agreement": intent_agreement,
        "slot_tag_agreement": tag_agreement,
        "min_agreement": required,
        "passed": not problems,
        "problems": problems,
        "torch_predictions": torch_predictions,
        "onnx_predictions": onnx_predictions,
    }


def onnx_config_for(model) -> OnnxConfig | None:
    """How the model's architecture exports (its registry declaration), or None if it does not."""
    return get_architecture(model.config.model_type).onnx


def check_destination(model_dir: Path, out_dir: Path, overwrite: bool) -> None:
    """Refuse a destination whose replacement would lose something: the directory that holds the model being
    exported (never, even with ``overwrite``), or a file or non-empty folder that is not an earlier artifact
    (only with ``overwrite``). An empty folder, or an artifact written by an earlier export, is replaced."""
    model, out = model_dir.resolve(), out_dir.resolve()
    if model == out or model.is_relative_to(out):
        raise ExportError(
            f"{out_dir}: this directory holds the model being exported ({model_dir}); the export would replace "
            "it. Write the artifact somewhere else, e.g. artifacts/NAME"
        )
    if not out_dir.exists() and not out_dir.is_symlink():
        return
    if out_dir.is_dir() and not out_dir.is_symlink():
        if not any(out_dir.iterdir()) or (out_dir / MANIFEST).is_file():
            return  # empty, or an earlier artifact
        what = "a folder that is not an artifact written by `nlu export` (it has no nlu.json)"
    else:
        what = "a file"
    if not overwrite:
        raise ExportError(
            f"{out_dir}: already exists and is {what}; choose another destination, or pass --overwrite to "
            "replace it"
        )


def export_model(
    model_dir: str | Path,
    out_dir: str | Path,
    quantize: Quantize = "none",
    optimize: bool = True,
    data: str | None = None,
    split: str = "dev",
    opset: int = 18,
    labels: str | Path | None = None,
    unseen_intent_bonus: float | None = None,
    unseen_slot_bonus: float | None = None,
    overwrite: bool = False,
    task: str | None = None,
    progress: Progress | None = None,
) -> dict:
    """Export, check and write the artifact directory; return the export report.

    ``data``/``split``: a data set whose split is used for the parity check and for the exported model's
    scores beside the torch model's (default: the dev split of the model's training recipe if it can be read,
    else a built-in list of utterances and no scores). ``labels``: a YAML label file that gives a zero-shot model
    a new label set before export (the artifact holds that label set); ``unseen_intent_bonus`` and
    ``unseen_slot_bonus`` the cosines that its intents and slot types unseen in training get (None: the model's).
    Raises :class:`ExportError` (and leaves ``out_dir`` untouched) when the check fails. ``out_dir`` may be
    new, empty, or an earlier artifact; anything else is replaced only with ``overwrite``, and never the
    directory that holds the model (see :func:`check_destination`). ``task``: the task of a multi-task model to
    export (required for one): the artifact holds the encoder and that task's heads, and its manifest says which
    task (one graph per task: the runtime and the server read it as any single-task artifact).
    ``progress(what, done, total)`` is called as the export moves on (the command line draws it); a failed
    parity check raises :class:`ParityError`.
    """
    from nlu.model_dirs import resolve_model_dir

    if quantize not in ("none", "int8"):
        raise ExportError(f"--quantize must be none or int8, got {quantize!r}")
    model_dir, out_dir = resolve_model_dir(model_dir, kinds=("model",)).path, Path(out_dir)
    check_destination(model_dir, out_dir, overwrite)
    if (unseen_intent_bonus, unseen_slot_bonus) != (None, None) and labels is None:
        raise ExportError(
            "--unseen-intent-bonus/--unseen-slot-bonus apply to a new label set: give --labels FILE"
        )
    torch_parser, config = _load_for_export(model_dir, labels, unseen_intent_bonus, unseen_slot_bonus, task)
    examples, check_source = _check_examples(model_dir, data, split, task)
    report: dict = {"model_dir": str(model_dir), "quantization": quantize, "optimized": bool(optimize)}
    if task is not None:
        report["task"] = task
    export = _Export(torch_parser, config, model_dir, quantize, optimize, opset, task, progress)
    write_dir_atomically(out_dir, lambda tmp: export.write(tmp, report, examples, check_source, out_dir))
    return report


def _load_for_export(model_dir: Path, labels, unseen_intent_bonus, unseen_slot_bonus, task):
    """The torch parser of the model (with a new label set where one is given) and its ONNX description."""
    from nlu.inference import TorchParser

    torch_parser = TorchParser.load(
        model_dir,
        labels=labels,
        unseen_intent_bonus=unseen_intent_bonus,
        unseen_slot_bonus=unseen_slot_bonus,
        task=task,
    )
    config = onnx_config_for(torch_parser.model)
    if config is None:
        raise ExportError(
            f"{model_dir}: architecture {torch_parser.model.config.model_type!r} has no ONNX export yet"
        )
    return torch_parser, config


@dataclass
class _Export:
    """One export's settings; :meth:`write` fills a temporary directory that becomes the artifact."""

    torch_parser: object
    config: OnnxConfig
    model_dir: Path
    quantize: str
    optimize: bool
    opset: int
    task: str | None
    progress: Progress | None

    def step(self, what: str) -> None:
        if self.progress:
            self.progress(what, 0, None)

    def write(self, tmp: Path, report: dict, examples: list, check_source: str | None, out_dir: Path) -> None:
        """The graph, the manifest, the parity check, the report and the card, into ``tmp``; raises
        :class:`ParityError` (so nothing reaches ``out_dir``) when the graph disagrees with the torch model."""
        started = time.perf_counter()
        fused = _write_graph(
            tmp, self.config, self.torch_parser, self.quantize, self.optimize, self.opset, self.step
        )
        _write_manifest(
            tmp,
            self.torch_parser,
            self.config,
            self.model_dir,
            self.quantize,
            self.optimize,
            fused,
            self.task,
        )
        parity = _parity(
            self.torch_parser,
            OnnxParser.load(tmp),
            self.config,
            examples,
            self.quantize == "int8",
            progress=self.progress,
        )
        predictions = parity.pop("torch_predictions"), parity.pop("onnx_predictions")
        report.update(
            {
                "fused_operators": fused,
                "model_bytes": (tmp / "model.onnx").stat().st_size,
                "check_data": check_source or "built-in utterances",
                "parity": parity,
                "export_seconds": round(time.perf_counter() - started, 2),
            }
        )
        if check_source:
            report["scores"] = _scores(examples, *predictions)
        (tmp / "export_report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
        _write_card(tmp, self.model_dir, report)
        if not parity["passed"]:
            raise ParityError(
                "the exported graph disagrees with the torch model: "
                + "; ".join(parity["problems"])
                + f". Nothing was written to {out_dir}"
            )


def _write_graph(
    tmp: Path,
    config: OnnxConfig,
    torch_parser,
    quantize: str,
    optimize: bool,
    opset: int,
    step: Callable[[str], None] = lambda what: None,
) -> dict:
    """``model.onnx`` (exported, optimised, quantised as asked) and ``tokenizer.json``; returns the operators
    the optimiser fused. ``step`` is told each stage as it starts."""
    fp32 = tmp / "model.fp32.onnx"
    step("export the ONNX graph")
    _torch_export(config, torch_parser, fp32, opset, fusable=optimize)
    model = torch_parser.model
    if optimize:
        step("optimise the graph")
    current, fused = _optimize(fp32, tmp / "model.opt.onnx", model) if optimize else (fp32, {})
    if quantize == "int8":
        step("quantise to int8")
        current = _quantize(current, tmp / "model.int8.onnx")
    current.rename(tmp / "model.onnx")
    for leftover in tmp.glob("model.*.onnx"):
        leftover.unlink()
    torch_parser.tokenizer.backend_tokenizer.save(str(tmp / "tokenizer.json"))
    return fused


def _write_manifest(
    tmp: Path,
    torch_parser,
    config: OnnxConfig,
    model_dir: Path,
    quantize: str,
    optimize: bool,
    fused: dict,
    task: str | None = None,
) -> None:
    """The label files, the gazetteer, synonyms and regexes where the model has them, and ``nlu.json`` listing
    every file with its SHA-256 (the model card joins them once the check has passed: :func:`_write_card`)."""
    model = torch_parser.model
    (tmp / "intent_labels.txt").write_text("\n".join(model.config.intent_labels) + "\n", encoding="utf-8")
    (tmp / "slot_labels.txt").write_text("\n".join(model.config.slot_labels) + "\n", encoding="utf-8")
    manifest = {
        "format_version": FORMAT_VERSION,
        "nlu_version": __version__,
        "architecture": model.config.model_type,
        "source_model": str(model_dir.resolve()),
        "model_file": "model.onnx",
        "tokenizer_file": "tokenizer.json",
        "inputs": config.inputs(model),
        "outputs": list(config.outputs),
        "max_seq_length": model.config.max_seq_length,
        "word_split": model.config.word_split,
        "pad_token_id": torch_parser.pad_id,
        "intent_labels": list(model.config.intent_labels),
        "slot_labels": list(model.config.slot_labels),
        "decoding": config.decoding(model),
        "quantization": quantize,
        "optimized": bool(optimize),
        "fused_operators": fused,
        "files": {},
    }
    if task is not None:  # one task of a multi-task model
        manifest["task"] = task
    files = ["model.onnx", "tokenizer.json", "intent_labels.txt", "slot_labels.txt"]
    if torch_parser.gazetteer is not None:
        torch_parser.gazetteer.save(tmp)
        manifest["lexicon_file"] = LEXICON_FILE
        files.append(LEXICON_FILE)
    for name in torch_parser.rules.save(tmp):  # synonyms.json, regexes.json
        manifest[f"{Path(name).stem}_file"] = name
        files.append(name)
    manifest["files"] = {name: sha256_file(tmp / name) for name in files}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def _write_card(tmp: Path, model_dir: Path, report: dict) -> None:
    """``README.md``, the artifact's model card, added to the manifest's files with its SHA-256."""
    from nlu.model_card import CARD_FILE, artifact_card

    manifest = json.loads((tmp / MANIFEST).read_text(encoding="utf-8"))
    (tmp / CARD_FILE).write_text(artifact_card(model_dir, manifest, report), encoding="utf-8")
    manifest["files"][CARD_FILE] = sha256_file(tmp / CARD_FILE)
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def _scores(examples: list[Example], torch_predictions: list, onnx_predictions: list) -> dict:
    """Intent accuracy, slot F1 and exact match of the torch model and of the export on the check data."""
    from nlu.evaluation.metrics import evaluate_predictions

    scores = {}
    for name, predictions in (("torch", torch_predictions), ("onnx", onnx_predictions)):
        summary = evaluate_predictions(examples, predictions, bootstrap=0).summary()
        scores[name] = {k: summary[k] for k in ("intent_accuracy", "slot_f1", "exact_match")}
    return scores
