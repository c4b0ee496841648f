"""JointIDSF (Dao, Truong & Nguyen 2021, "Intent Detection and Slot Filling for Vietnamese", arXiv 2104.02021):
JointBERT+CRF whose slot classifier sees the predicted intent through an intent-slot attention layer.

The intent head on the first token gives a distribution over intents; its expectation over a learned intent label
embedding ``E`` (the "soft" intent embedding) is the context of a Luong-style attention whose queries are the
projected token states. As in the paper, the whole model trains end to end: the intent distribution is not
detached, so the slot loss also shapes the intent head.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import PreTrainedModel

from nlu.models.backbones import build_encoder
from nlu.models.jointidsf.configuration_jointidsf import JointIdsfConfig
from nlu.modules.crf import CRF
from nlu.modules.decoding import joint_output
from nlu.modules.lexicon_gate import LexiconGate
from nlu.modules.outputs import JointOutput


class JointIdsfForIntentSlot(PreTrainedModel):
    config_class = JointIdsfConfig
    base_model_prefix = "nlu_jointidsf"

    def __init__(self, config: JointIdsfConfig):
        super().__init__(config)
        self.encoder = build_encoder(config.encoder)
        hidden = self.encoder.config.hidden_size
        num_intents, num_slots, dim = len(config.intent_labels), len(config.slot_labels), config.attention_dim
        self.lexicon_gate = LexiconGate(len(config.lexicon_types), hidden) if config.lexicon_types else None
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.intent_classifier = nn.Linear(hidden, num_intents)
        # E: (num_intents, attention_dim), one row per intent label
        self.intent_label_embedding = nn.Embedding(num_intents, dim)
        # no biases in the two attention projections, as in the authors' code: the slot classifier has one
        self.slot_projection = nn.Linear(hidden, dim, bias=False)
        self.attention_output = nn.Linear(2 * dim, dim, bias=False)
        # The slot classifier reads the attention output alone (the paper's choice): the token state already
        # enters it through ``slot_projection``, so concatenating h_i again would only add hidden x num_slots
        # weights that let the classifier bypass the intent context.
        self.slot_classifier = nn.Linear(dim, num_slots)
        self.crf = CRF.for_labels(config.slot_labels) if config.use_crf else None
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        # Classifiers: N(0, 0.02) like the encoder's own heads. The two projections around the tanh: Xavier, which
        # keeps the signal's scale through the layer whatever the encoder's width (N(0, 0.02), the authors'
        # choice for a 768-wide encoder, shrinks it on narrow ones). Intent label embeddings: N(0, 1).
        if isinstance(module, nn.Linear) and module in (self.intent_classifier, self.slot_classifier):
            module.weight.data.normal_(mean=0.0, std=0.02)
            if module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.Linear) and module in (self.slot_projection, self.attention_output):
            nn.init.xavier_uniform_(module.weight)
        elif module is self.intent_label_embedding:
            module.weight.data.normal_(mean=0.0, std=1.0)

    def intent_slot_attention(self, hidden: torch.Tensor, intent_logits: torch.Tensor) -> torch.Tensor:
        """hidden: (batch, seq_len, hidden_size) token states; intent_logits: (batch, num_intents) ->
        (batch, seq_len, attention_dim), ``tanh(W_o [c; W_s h_i])`` with ``c = softmax(intent_logits) E``.

        The attention's context holds a single vector, the soft intent embedding ``c``: the softmax of the one
        score ``(W_s h_i) . c`` is exactly 1 for every token, so the attended mix is ``c`` itself. The score is
        therefore not computed; it would be a no-op with zero gradient (the authors' code computes it anyway).
        """
        intent_context = intent_logits.softmax(-1) @ self.intent_label_embedding.weight  # (batch, dim)
        queries = self.slot_projection(hidden)  # (batch, seq_len, dim)
        mix = intent_context.unsqueeze(1).expand_as(queries)
        return torch.tanh(self.attention_output(torch.cat([mix, queries], dim=-1)))

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
        # see JointIdsfConfig.detach_intent_context for why the default stops the slot loss here
        context = intent_logits.detach() if self.config.detach_intent_context else intent_logits
        attended = self.intent_slot_attention(hidden, context)
        slot_logits = self.slot_classifier(self.dropout(attended))
        return joint_output(
            intent_logits, slot_logits, intent_labels, slot_labels, self.config.intent_loss_coef, self.crf
        )
