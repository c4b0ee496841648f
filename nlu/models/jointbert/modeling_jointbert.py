"""JointBERT (Chen et al. 2019, "BERT for Joint Intent Classification and Slot Filling"), optionally with a CRF."""

from __future__ import annotations

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedModel

from nlu.models.jointbert.configuration_jointbert import JointBertConfig
from nlu.modules.crf import CRF
from nlu.modules.outputs import DecodedBatch, JointOutput

# Large but finite: keeps softmax/CRF arithmetic free of inf - inf.
_MASKED = -1e4


def build_encoder(encoder_config: dict) -> nn.Module:
    """An encoder from its config dict, without a pooling layer where the architecture has one: the intent head
    reads the first token, and an unused pooler would break distributed training's gradient bookkeeping."""
    config = AutoConfig.for_model(**encoder_config)
    try:
        return AutoModel.from_config(config, add_pooling_layer=False)
    except TypeError:
        return AutoModel.from_config(config)


class JointBertForIntentSlot(PreTrainedModel):
    config_class = JointBertConfig
    base_model_prefix = "nlu_jointbert"

    def __init__(self, config: JointBertConfig):
        super().__init__(config)
        self.encoder = build_encoder(config.encoder)
        hidden = self.encoder.config.hidden_size
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.intent_classifier = nn.Linear(hidden, len(config.intent_labels))
        self.slot_classifier = nn.Linear(hidden, len(config.slot_labels))
        self.crf = CRF(len(config.slot_labels)) if config.use_crf else None
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
        intent_labels: torch.Tensor | None = None,
        slot_labels: torch.Tensor | None = None,
    ) -> JointOutput:
        """input_ids, attention_mask, token_type_ids: (batch, seq_len). intent_labels: (batch,).
        slot_labels: (batch, seq_len), the word's tag id on its first sub-token and -100 elsewhere."""
        kwargs = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
        hidden = self.dropout(hidden)
        intent_logits = self.intent_classifier(hidden[:, 0])
        slot_logits = self.slot_classifier(hidden)
        out = JointOutput(intent_logits=intent_logits, slot_logits=slot_logits)
        if intent_labels is not None and slot_labels is not None:
            out.intent_loss = nn.functional.cross_entropy(intent_logits, intent_labels)
            if self.crf is not None:
                mask = slot_labels != -100
                out.slot_loss = self.crf(slot_logits, slot_labels.clamp(min=0), mask, reduction="mean")
            else:
                out.slot_loss = nn.functional.cross_entropy(
                    slot_logits.flatten(0, 1), slot_labels.flatten(), ignore_index=-100
                )
            out.loss = self.config.intent_loss_coef * out.intent_loss + out.slot_loss
        return out

    @torch.no_grad()
    def decode(self, out: JointOutput, word_mask: torch.Tensor) -> DecodedBatch:
        """Word-level decisions. word_mask: (batch, seq_len) bool, true on each word's first sub-token.

        UNK is never predicted. Slot confidences are CRF posterior marginals of the Viterbi tags, or softmax
        probabilities without a CRF.
        """
        intent_logits = out.intent_logits.float().clone()
        intent_logits[:, 0] = _MASKED
        intent_probs = intent_logits.softmax(-1)
        slot_logits = out.slot_logits.float().clone()
        slot_logits[..., 0] = _MASKED
        if self.crf is not None:
            paths = self.crf.decode(slot_logits, word_mask)
            marginals = self.crf.marginals(slot_logits, word_mask)
            confidences = []
            for b, path in enumerate(paths):
                positions = word_mask[b].nonzero().flatten().tolist()
                confidences.append([marginals[b, p, t].item() for p, t in zip(positions, path, strict=True)])
        else:
            probs = slot_logits.softmax(-1)
            best, ids = probs.max(-1)
            paths, confidences = [], []
            for b in range(ids.shape[0]):
                keep = word_mask[b]
                paths.append(ids[b][keep].tolist())
                confidences.append(best[b][keep].tolist())
        return DecodedBatch(intent_probs=intent_probs.tolist(), slot_ids=paths, slot_confidences=confidences)
