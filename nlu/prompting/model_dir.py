"""A prompted LLM as a "model directory": what ``nlu train`` writes for ``model.architecture: prompting`` and what
``nlu evaluate`` / ``nlu predict`` load. No weights: the backend's description, the label set with descriptions,
the number of demonstrations, and the pool they are retrieved from (the training split, ``pool.jsonl``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from nlu.data.example import Example
from nlu.errors import DamagedModel, ModelError

logger = logging.getLogger(__name__)

PROMPT_FILE = "prompting.json"
POOL_FILE = "pool.jsonl"


def write_prompt_model(
    folder: Path,
    backend: dict,
    intents: dict[str, str],
    slot_types: dict[str, str],
    shots: int,
    pool: list[Example],
    slots_by_intent: bool = True,
    *,
    calibrate: bool = True,
) -> None:
    from nlu.data.jsonl import write

    spec = {
        "backend": backend,
        "intents": intents,
        "slot_types": slot_types,
        "shots": shots,
        "slots_by_intent": slots_by_intent,
        "calibrate": calibrate,
        "pool": POOL_FILE,
    }
    (folder / PROMPT_FILE).write_text(json.dumps(spec, indent=2, ensure_ascii=False), encoding="utf-8")
    write(pool, folder / POOL_FILE)
    (folder / "intent_labels.txt").write_text("\n".join(["UNK", *intents]) + "\n", encoding="utf-8")


def set_adapter(folder: Path, adapter: str, info: dict) -> None:
    """Record that ``folder/adapter`` holds LoRA adapters to merge into the backend's model when loading."""
    path = Path(folder) / PROMPT_FILE
    spec = json.loads(path.read_text(encoding="utf-8"))
    spec["lora"] = {"folder": adapter, **info}
    path.write_text(json.dumps(spec, indent=2, ensure_ascii=False), encoding="utf-8")


def set_finetuned(folder: Path, info: dict) -> None:
    """Record that the model directory holds a fine-tuned model (``nlu.prompting.finetune``): ``info["folder"]``
    is its weights (``llm/``, the whole model, or ``lora/``, adapters on the backend's model); it parses with the
    fine-tuned format."""
    path = Path(folder) / PROMPT_FILE
    spec = json.loads(path.read_text(encoding="utf-8"))
    spec["finetuned"] = info
    path.write_text(json.dumps(spec, indent=2, ensure_ascii=False), encoding="utf-8")


def build_backend(spec: dict):
    """``{"type": "packaged", "name": "smollm2"}``, ``{"type": "transformers", "model": ..., "gguf_file": ...}``
    or ``{"type": "openai", "base_url": ..., "model": ..., "api": "chat", "cache_dir": ...}``."""
    kind = spec.get("type")
    if kind == "packaged":
        from nlu.prompting.local_backend import TransformersBackend

        return TransformersBackend.packaged(spec.get("name") or "smollm2")
    if kind == "transformers":
        from nlu.prompting.local_backend import TransformersBackend

        return TransformersBackend(spec["model"], gguf_file=spec.get("gguf_file"))
    if kind == "openai":
        from nlu.prompting.http_backend import OpenAIBackend

        return OpenAIBackend(
            spec["base_url"], spec["model"], api=spec.get("api", "chat"), cache_dir=spec.get("cache_dir")
        )
    raise ModelError(f"unknown prompting backend type {kind!r}; expected packaged, transformers or openai")


def load_prompt_parser(folder: str | Path, backend=None):
    """The :class:`~nlu.prompting.predictor.PromptParser` a prompt model directory describes (``backend``
    replaces the described one, e.g. in tests)."""
    from nlu.data.jsonl import read
    from nlu.prompting.predictor import PromptParser

    folder = Path(folder)
    try:
        spec = json.loads((folder / PROMPT_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise DamagedModel(f"{folder / PROMPT_FILE}: unreadable ({err}); run nlu train again") from None
    finetuned = spec.get("finetuned")
    if finetuned and backend is None:
        backend = _finetuned_backend(folder, spec)
    if backend is None:
        backend = build_backend(spec["backend"])
        if spec.get("lora"):
            from nlu.prompting.lora import load_adapter

            load_adapter(backend, folder / spec["lora"]["folder"])
    pool = read(folder / spec.get("pool", POOL_FILE))
    retriever = None
    if spec.get("shots"):
        from nlu.prompting.retrieval import ExampleRetriever

        retriever = ExampleRetriever(pool)
    by_intent = None
    if spec.get("slots_by_intent", True):
        from nlu.data.bio import spans

        by_intent = {}
        for ex in pool:
            kinds = by_intent.setdefault(ex.intent, [])
            kinds.extend(k for k, _, _ in spans(ex.tags) if k not in kinds)
    from nlu.rules import ParseRules

    if finetuned:
        from nlu.prompting.predictor import FinetunedPromptParser

        parser = FinetunedPromptParser(
            backend,
            spec["intents"],
            spec["slot_types"],
            max_slot_tokens=int(finetuned.get("max_reply_tokens", 64)),
            slot_types_by_intent=by_intent,
        )
        parser.rules = ParseRules.load(folder)  # the training data's synonyms and regexes, where it had them
        return parser
    parser = PromptParser(
        backend,
        spec["intents"],
        spec["slot_types"],
        retriever=retriever,
        shots=int(spec.get("shots", 0)),
        slot_types_by_intent=by_intent,
        calibrate=bool(spec.get("calibrate", False)),  # directories written before the option: as they were
    )
    parser.rules = ParseRules.load(folder)  # the training data's synonyms and regexes, where it had them
    return parser


def _finetuned_backend(folder: Path, spec: dict):
    """The backend of a fine-tuned prompt model: the whole fine-tuned model (``llm/``), or the model it started
    from with its LoRA adapters merged in."""
    from nlu.prompting.finetune import FULL_FOLDER, base_backend

    info = spec["finetuned"]
    weights = folder / info.get("folder", FULL_FOLDER)
    if not weights.is_dir():
        raise DamagedModel(f"{weights}: the fine-tuned weights are missing; copy the whole model directory")
    if info.get("method") == "lora":
        from nlu.prompting.lora import load_adapter

        backend = base_backend(spec["backend"])
        load_adapter(backend, weights)
        return backend
    from nlu.prompting.local_backend import TransformersBackend

    return TransformersBackend(weights, name=f"finetuned:{spec['backend'].get('name') or 'local'}")


def write_prompt_run(recipe, run_dir: Path, train_examples: list, labels, is_main: bool, rules=None) -> None:
    """``model.architecture: prompting``: no training loop; ``best/`` is a prompt model directory, its pool the
    training split, and with ``model.prompting.lora`` LoRA adapters fine-tuned on a few examples per intent.
    ``rules``: the training data's synonyms and regexes (:class:`nlu.rules.ParseRules`), saved beside it."""
    from nlu.data.label_files import load_label_file
    from nlu.training.checkpoints import write_dir_atomically
    from nlu.training.recipe import dump_recipe

    section = recipe.model.prompting
    intents, slot_types = load_label_file(section.labels)
    missing = [i for i in labels.known_intents if i not in intents] + sorted(
        labels.slot_types - set(slot_types)
    )
    if missing:
        logger.warning(
            "%s has no entry for %d training label(s), which the LLM will never predict: %s",
            section.labels,
            len(missing),
            ", ".join(missing[:10]),
        )
    backend = section.backend.model_dump(exclude_none=True)

    def write(folder: Path) -> None:
        write_prompt_model(
            folder,
            backend,
            intents,
            slot_types,
            section.shots,
            train_examples,
            section.slots_by_intent,
            calibrate=section.calibrate,
        )
        if rules is not None:
            rules.save(folder)
        if section.lora is not None:
            from nlu.prompting import lora

            few = lora.few_per_intent(train_examples, section.lora.examples_per_intent, recipe.training.seed)
            pairs = lora.training_pairs(few, intents, slot_types)
            losses = lora.train_lora(
                build_backend(backend),
                pairs,
                folder / "lora",
                rank=section.lora.rank,
                alpha=section.lora.alpha,
                epochs=section.lora.epochs,
                learning_rate=section.lora.learning_rate,
                seed=recipe.training.seed,
            )
            set_adapter(folder, "lora", {"examples": len(few), "pairs": len(pairs), "epoch_losses": losses})

    if is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "recipe.yaml").write_text(dump_recipe(recipe), encoding="utf-8")
        write_dir_atomically(run_dir / "best", write)
    logger.info(
        "prompt model written to %s (%d demonstrations in the pool)", run_dir / "best", len(train_examples)
    )


load_prompt_predictor = load_prompt_parser  # the name before the Parser protocol
