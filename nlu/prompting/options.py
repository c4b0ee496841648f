"""The prompting backend's recipe options (``model.prompting``, with ``model.architecture: prompting``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from nlu.schema import Section


class PromptingBackendSection(Section):
    type: Literal["packaged", "transformers", "openai"] = Field(
        "packaged", description="packaged (SmolLM2 GGUF), transformers (a folder or hub id), openai (HTTP)"
    )
    name: str = Field("smollm2", description="packaged: which packaged model")
    model: str | None = Field(
        None, description="transformers: folder or hub id; openai: the served model's name"
    )
    gguf_file: str | None = Field(None, description="transformers: a GGUF file inside the model folder")
    base_url: str | None = Field(None, description="openai: the server, e.g. http://localhost:8000")
    api: Literal["chat", "completions"] = "chat"
    cache_dir: str | None = Field(
        None, description="openai: a disk cache of replies, keyed by the full request"
    )

    @model_validator(mode="after")
    def _complete(self) -> PromptingBackendSection:
        if self.type == "transformers" and not self.model:
            raise ValueError(
                "model.prompting.backend.model: required for type transformers (a folder or hub id)"
            )
        if self.type == "openai" and not (self.model and self.base_url):
            raise ValueError("model.prompting.backend: type openai needs base_url and model")
        return self


class LoraSection(Section):
    """LoRA fine-tuning of a local LLM on a few examples per intent (nlu.prompting.lora)."""

    examples_per_intent: int = Field(10, ge=1)
    rank: int = Field(8, ge=1)
    alpha: int = Field(16, ge=1)
    epochs: int = Field(3, ge=1)
    learning_rate: float = Field(3e-4, gt=0.0)


class FinetuneSection(Section):
    """Generative fine-tuning on the training split (nlu.prompting.finetune), in the one training loop (its
    epochs, batch size, learning rate, warm-up and checkpoints come from ``training``): the LLM learns to answer
    one short prompt per utterance with the intent's name, then one ``slot: value`` line per slot (or ``none``);
    at prediction the intent is the name it finds most likely and the slot lines are decoded within the grammar
    of spans of the utterance, as for prompting."""

    examples: int | Literal["all"] = Field(
        "all", description="train on all training utterances, or on a sample of this many (training.seed)"
    )
    method: Literal["full", "lora"] = Field(
        "full", description="full: every weight trains; lora: low-rank adapters on every linear layer"
    )
    rank: int = Field(16, ge=1, description="lora: the adapters' rank")
    alpha: int = Field(32, ge=1, description="lora: the adapters' scale numerator (scale = alpha / rank)")
    max_reply_tokens: int = Field(64, ge=8, le=512, description="tokens of slot lines generated at most")

    @model_validator(mode="after")
    def _positive_sample(self) -> FinetuneSection:
        if isinstance(self.examples, int) and self.examples < 1:
            raise ValueError("model.prompting.finetune.examples: 'all' or a positive number")
        return self


class PromptingSection(Section):
    """An LLM prompted ILLUMINER-style (nlu.prompting): no training unless LoRA is asked for; or, with
    ``finetune``, an LLM fine-tuned to answer with the intent and the slot lines."""

    backend: PromptingBackendSection = PromptingBackendSection()
    labels: str = Field(
        description="label file with descriptions, or the name of one that ships with nlu: atis, massive, snips, xsid"
    )
    shots: int = Field(
        0, ge=0, le=32, description="demonstrations retrieved from the train split per utterance"
    )
    slots_by_intent: bool = Field(
        True, description="list only the slot types seen with the predicted intent in the slot prompt"
    )
    calibrate: bool = Field(
        True,
        description="local backends: score each intent against its score for the content-free utterance N/A "
        "(Zhao et al. 2021), which removes a small model's bias towards some options",
    )
    lora: LoraSection | None = Field(None, description="fine-tune LoRA adapters first (local backends only)")
    finetune: FinetuneSection | None = Field(
        None,
        description="fine-tune on the training split to answer with the intent and slot lines (local only)",
    )

    @model_validator(mode="after")
    def _lora_is_local(self) -> PromptingSection:
        if self.lora is not None and self.backend.type == "openai":
            raise ValueError("model.prompting.lora: LoRA needs a local backend (packaged or transformers)")
        return self

    @model_validator(mode="after")
    def _finetune_alone(self) -> PromptingSection:
        if self.finetune is None:
            return self
        problems = []
        if self.backend.type == "openai":
            problems.append("model.prompting.finetune: needs a local backend (packaged or transformers)")
        if self.backend.gguf_file and self.finetune.method == "full":
            problems.append(
                "model.prompting.finetune: full fine-tuning of a GGUF file; use method: lora, or the packaged "
                "backend (converted once to a transformers folder)"
            )
        if self.lora is not None:
            problems.append("model.prompting.lora: not with finetune (which has its own method: lora)")
        if self.shots:
            problems.append("model.prompting.shots: a fine-tuned model answers without demonstrations; set 0")
        if problems:
            raise ValueError("; ".join(problems))
        return self
