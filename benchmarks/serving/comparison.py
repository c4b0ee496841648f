"""The optimum stack beside the runtime, in the same run: the trained model's encoder and slot layer written as a
``BertForTokenClassification`` folder, then :mod:`benchmarks.serving.optimum_stack` run by the interpreter of a
benchmark-only virtual environment that has ``optimum[onnxruntime]``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from benchmarks.common import REPO
from benchmarks.common import log as _log

SCRIPT = REPO / "benchmarks" / "serving" / "optimum_stack.py"


def log(message: str) -> None:
    _log("serving", message)


def token_classifier(model_dir: Path, out: Path) -> Path:
    """``model_dir``'s encoder and slot layer as a transformers token classifier (the same weights: what a
    Hugging Face user would export for slot filling alone), with its tokenizer."""
    from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

    from nlu.models import load_model

    model = load_model(model_dir)
    config = AutoConfig.for_model(**model.config.encoder)
    config.num_labels = len(model.config.slot_labels)
    config.id2label = dict(enumerate(model.config.slot_labels))
    config.label2id = {label: i for i, label in config.id2label.items()}
    classifier = AutoModelForTokenClassification.from_config(config)
    base = getattr(classifier, classifier.base_model_prefix)
    missing, unexpected = base.load_state_dict(model.encoder.state_dict(), strict=False)
    if unexpected or any("pooler" not in name for name in missing):
        raise RuntimeError(f"encoder weights do not fit the token classifier: {missing[:3]} {unexpected[:3]}")
    classifier.classifier.load_state_dict(model.slot_classifier.state_dict())
    classifier.save_pretrained(out)
    AutoTokenizer.from_pretrained(model_dir).save_pretrained(out)
    return out


def optimum_stack(model_dir: Path, python: Path, texts, work_dir: Path, samples: int, warmup: int) -> dict:
    """Every figure of the optimum stack on ``texts`` (see ``optimum_stack.py``), or ``{"error": ...}``."""
    folder = token_classifier(model_dir, work_dir / "token_classifier")
    texts_file = work_dir / "texts.json"
    texts_file.write_text(json.dumps(list(texts)), encoding="utf-8")
    command = [str(python), str(SCRIPT), str(folder), str(texts_file), str(work_dir / "optimum")]
    command += ["--samples", str(samples), "--warmup", str(warmup)]
    log(f"optimum stack: {' '.join(command[1:])}")
    try:
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=1800)
    except subprocess.TimeoutExpired:
        return {"error": "the optimum stack took over 30 minutes"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"error": done.stderr[-2000:] or f"exit code {done.returncode}, no output"}
    return json.loads(lines[-1])
