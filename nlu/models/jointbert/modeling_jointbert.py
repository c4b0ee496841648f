"""JointBERT (Chen et al. 2019, "BERT for Joint Intent Classification and Slot Filling"), optionally with a CRF."""

from __future__ import annotations

import torch
from torch import nn
from transformers import PreTrainedModel

from nlu.models.backbones import build_encoder
from nlu.models.jointbert.configuration_jointbert import JointBertConfig
from nlu.modules.crf import CRF
from nlu.modules.decoding import joint_output
from nlu.modules.lexicon_gate import LexiconGate
from nlu.modules.outputs import JointOutput


class JointBertForIntentSlot(PreTrainedModel):
    config_class = JointBertConfig
    base_model_prefix = "nlu_jointbert"

    def __init__(self, config: JointBertConfig):
        super().__init__(config)
        self.encoder = build_encoder(config.encoder)
        hidden = self.encoder.config.hidden_size
        self.lexicon_gate = LexiconGate(len(config.lexicon_types), hidden) if config.lexicon_types else None
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.intent_classifier = nn.Linear(hidden, len(config.intent_labels))
        self.slot_classifier = nn.Linear(hidden, len(config.slot_labels))
        self.crf = CRF.for_labels(config.slot_labels) if config.use_crf else None
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear) and module in (self.intent_classifier, self.slot_classifier):
            module.weight.data.normal_(mean=0.0, std=0.02)
            module.bias.data.zero_()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        lexicon_features: torch.Tensor | None = None,
        intent_labels: torch.Tensor | None = None,
        slot_labels: torch.Tensor | None = None,
    ) -> JointOutput:
        """input_ids, attention_mask, token_type_ids: (batch, seq_len). lexicon_features: (batch, seq_len,
        num_lexicon_types), when the config has lexicon types. intent_labels: (batch,). slot_labels:
        (batch, seq_len), the word's tag id on its first sub-token and -100 elsewhere."""
        kwargs = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
        if self.lexicon_gate is not None:
            hidden = self.lexicon_gate(hidden, lexicon_features)
        hidden = self.dropout(hidden)
        intent_logits = self.intent_classifier(hidden[:, 0])
        slot_logits = self.slot_classifier(hidden)
        return joint_output(
            intent_logits, slot_logits, intent_labels, slot_labels, self.config.intent_loss_coef, self.crf
        )
