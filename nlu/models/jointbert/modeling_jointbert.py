"""JointBERT (Chen et al. 2019, "BERT for Joint Intent Classification and Slot Filling"), optionally with a CRF.

On a decoder LLM backbone (``nlu.modules.decoder_backbone.DecoderBackbone``) the intent head reads the last real token,
the only one that has seen the whole utterance under a causal mask; the slot head reads every word's first
sub-token, as on an encoder. A multi-task model (``config.tasks``) has one intent head, slot head and CRF per
data set on the one encoder; each batch belongs to one task (``task_ids``), and ``for_task(name)`` gives that
task's heads and the shared encoder as a single-task model, which is what parsers, evaluation and export take.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import PreTrainedModel

from nlu.models.backbones import build_encoder
from nlu.models.jointbert.configuration_jointbert import JointBertConfig
from nlu.modules.crf import CRF
from nlu.modules.decoder_backbone import summary_states
from nlu.modules.decoding import joint_output
from nlu.modules.lexicon_gate import LexiconGate
from nlu.modules.outputs import JointOutput


class TaskHeads(nn.Module):
    """One data set's heads in a multi-task model: intent and slot classifiers and an optional CRF."""

    def __init__(self, hidden: int, intent_labels: list[str], slot_labels: list[str], use_crf: bool):
        super().__init__()
        self.intent_classifier = nn.Linear(hidden, len(intent_labels))
        self.slot_classifier = nn.Linear(hidden, len(slot_labels))
        self.crf = CRF.for_labels(slot_labels) if use_crf else None


class JointBertForIntentSlot(PreTrainedModel):
    config_class = JointBertConfig
    base_model_prefix = "nlu_jointbert"

    def __init__(self, config: JointBertConfig):
        super().__init__(config)
        self.encoder = build_encoder(config.encoder, attention=config.attention)
        hidden = self.encoder.config.hidden_size
        self.lexicon_gate = LexiconGate(len(config.lexicon_types), hidden) if config.lexicon_types else None
        self.dropout = nn.Dropout(config.classifier_dropout)
        if config.tasks:
            self.task_heads = nn.ModuleDict(
                {
                    task["name"]: TaskHeads(
                        hidden, task["intent_labels"], task["slot_labels"], config.use_crf
                    )
                    for task in config.tasks
                }
            )
        else:  # a single-task model keeps the parameter names it always had
            self.intent_classifier = nn.Linear(hidden, len(config.intent_labels))
            self.slot_classifier = nn.Linear(hidden, len(config.slot_labels))
            self.crf = CRF.for_labels(config.slot_labels) if config.use_crf else None
        self.post_init()

    def _classifiers(self) -> list[nn.Linear]:
        if self.config.tasks:
            return [
                h
                for heads in self.task_heads.values()
                for h in (heads.intent_classifier, heads.slot_classifier)
            ]
        return [self.intent_classifier, self.slot_classifier]

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear) and any(module is head for head in self._classifiers()):
            module.weight.data.normal_(mean=0.0, std=0.02)
            module.bias.data.zero_()

    def _heads(self, task_ids: torch.Tensor | None) -> tuple[nn.Linear, nn.Linear, CRF | None]:
        """The intent classifier, slot classifier and CRF a batch uses: the model's own, or in a multi-task model
        those of the batch's task (``task_ids``: (batch,), one task for the whole batch)."""
        if not self.config.tasks:
            if task_ids is not None:
                raise ValueError("task_ids: this JointBERT model has one task")
            return self.intent_classifier, self.slot_classifier, self.crf
        if task_ids is None:
            raise ValueError(
                f"task_ids: a multi-task model ({', '.join(self.config.task_names)}) needs the batch's task; "
                "or use model.for_task(name)"
            )
        first = int(task_ids.reshape(-1)[0])
        if bool((task_ids != first).any()):
            raise ValueError("task_ids: every utterance of a batch must belong to the same task")
        heads = self.task_heads[self.config.task_names[first]]
        return heads.intent_classifier, heads.slot_classifier, heads.crf

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        lexicon_features: torch.Tensor | None = None,
        intent_labels: torch.Tensor | None = None,
        slot_labels: torch.Tensor | None = None,
        task_ids: torch.Tensor | None = None,
    ) -> JointOutput:
        """input_ids, attention_mask, token_type_ids: (batch, seq_len). lexicon_features: (batch, seq_len,
        num_lexicon_types), when the config has lexicon types. intent_labels: (batch,). slot_labels:
        (batch, seq_len), the word's tag id on its first sub-token and -100 elsewhere. task_ids: (batch,), the
        index of the batch's task in ``config.task_names`` (multi-task models only; one task per batch).

        The intent head reads the summary token's state (``nlu.modules.decoder_backbone.summary_states``: the first
        token of an encoder, the last real token of a decoder LLM)."""
        intent_classifier, slot_classifier, crf = self._heads(task_ids)
        kwargs = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
        if self.lexicon_gate is not None:
            hidden = self.lexicon_gate(hidden, lexicon_features)
        hidden = self.dropout(hidden)
        intent_logits = intent_classifier(summary_states(self.encoder, hidden, attention_mask))
        slot_logits = slot_classifier(hidden)
        return joint_output(
            intent_logits, slot_logits, intent_labels, slot_labels, self.config.intent_loss_coef, crf
        )

    def for_task(self, name: str) -> JointBertForIntentSlot:
        """One task of a multi-task model as a single-task model: the same encoder (shared, not copied) and that
        task's heads, with a configuration holding that task's labels. Parsing, evaluating and exporting it is
        parsing, evaluating and exporting that task of this model."""
        if not self.config.tasks:
            raise ValueError("for_task: this model has one task")
        if name not in self.config.task_names:
            raise KeyError(f"no task {name!r}; the model's tasks: {', '.join(self.config.task_names)}")
        task = self.config.tasks[self.config.task_names.index(name)]
        values = self.config.to_dict() | {
            "tasks": None,
            "intent_labels": task["intent_labels"],
            "slot_labels": task["slot_labels"],
            "word_split": task.get("word_split", self.config.word_split),
        }
        values.pop("model_type", None)
        values.pop("transformers_version", None)
        config = JointBertConfig(**values)
        with torch.device("meta"):  # no second encoder is built: the shared modules replace the placeholders
            single = JointBertForIntentSlot(config)
        heads = self.task_heads[name]
        single.encoder, single.lexicon_gate, single.dropout = self.encoder, self.lexicon_gate, self.dropout
        single.intent_classifier, single.slot_classifier, single.crf = (
            heads.intent_classifier,
            heads.slot_classifier,
            heads.crf,
        )
        single.train(self.training)
        return single
