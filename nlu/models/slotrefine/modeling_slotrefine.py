"""SlotRefine (Wu et al. 2020, "SlotRefine: A Fast Non-Autoregressive Model for Joint Intent Detection and
Slot Filling", EMNLP; arXiv 2010.02693): non-autoregressive tagging refined in two passes.

Pass 1 tags every position in parallel, each input position carrying the embedding of the tag ``O``. Pass 2
runs again with, at each word's first sub-token, the embedding of the B- tag that pass 1 predicted there (any
other prediction, and every other sub-token, keeps ``O``), so that the second pass sees where spans start and
can repair uncoordinated ones (``I-X`` after ``B-Y``).

Our adaptation to a pretrained encoder: the paper's small Transformer is both encoder and tagger and runs
twice. Here the backbone runs *once*, and a light refiner (``refine_layers`` Transformer encoder layers,
post-norm, GELU, feed-forward width = hidden size; ``nlu.modules.transformer_layer``) reads ``encoder states +
tag embedding``. Where pass 1 reads the states depends on ``first_pass``:

- ``"encoder"`` (recipes' default): pass 1 tags the encoder states directly and only pass 2 runs the refiner.
  A forward pass costs one encoder plus one refiner pass (about half a backbone layer): the int8 export
  takes about 1.1x JointBERT's time per utterance (``docs/results.md``).
- ``"refiner"`` (the paper's shape, and models saved before ``first_pass`` existed): both passes run the same
  refiner, pass 1 with the tag ``O`` everywhere; about one backbone layer in all.

The slot classifier is shared by the passes; pass 2's logits are the model's ``slot_logits`` (decoded by a CRF
when ``use_crf``; the paper has none: its point is speed). The intent head reads the first token of pass 1's
input to the classifier, so the intent never depends on the feedback (nor on teacher forcing).

Training: ``loss = intent_loss_coef * CE(intent) + slot_loss(pass 1) + slot_loss(pass 2)``. With probability
``teacher_forcing`` per training batch (a torch draw, so ``set_seed`` reproduces it) pass 2 is fed the gold B-
tags instead of pass 1's predictions. In eval mode pass 2 always sees pass 1's argmax; the graph has no
branch on tensor values, so it exports to ONNX with both passes inside.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import PreTrainedModel

from nlu.models.backbones import build_encoder
from nlu.models.slotrefine.configuration_slotrefine import SlotRefineConfig
from nlu.modules.crf import CRF
from nlu.modules.decoding import joint_output
from nlu.modules.lexicon_gate import LexiconGate
from nlu.modules.outputs import JointOutput
from nlu.modules.transformer_layer import EncoderLayer, attention_bias


class SlotRefineForIntentSlot(PreTrainedModel):
    config_class = SlotRefineConfig
    base_model_prefix = "nlu_slotrefine"
    uses_word_mask = True  # B- tag feedback goes to each word's first sub-token only

    def __init__(self, config: SlotRefineConfig):
        super().__init__(config)
        self.encoder = build_encoder(config.encoder)
        hidden = self.encoder.config.hidden_size
        if hidden % config.heads:
            raise ValueError(
                f"heads ({config.heads}) must divide the backbone's hidden size ({hidden}); "
                f"choose one of {[h for h in range(1, 17) if hidden % h == 0]}"
            )
        num_tags = len(config.slot_labels)
        self.o_tag = config.slot_labels.index("O")
        # tag id -> tag-embedding id: B-X tags feed back themselves, every other tag feeds back O. Persistent:
        # from_pretrained leaves non-persistent buffers uninitialised (transformers 5 builds on meta tensors).
        feedback = [t if tag.startswith("B-") else self.o_tag for t, tag in enumerate(config.slot_labels)]
        self.register_buffer("feedback_map", torch.tensor(feedback, dtype=torch.long))
        self.lexicon_gate = LexiconGate(len(config.lexicon_types), hidden) if config.lexicon_types else None
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.tag_embedding = nn.Embedding(num_tags, hidden)
        # feed-forward width = hidden (not 4x): a refiner pass costs about half a backbone layer
        self.refiner = nn.ModuleList(
            EncoderLayer(hidden, config.heads, dim_feedforward=hidden, dropout=config.classifier_dropout)
            for _ in range(config.layers)
        )
        self.intent_classifier = nn.Linear(hidden, len(config.intent_labels))
        self.slot_classifier = nn.Linear(hidden, num_tags)
        self.crf = CRF.for_labels(config.slot_labels) if config.use_crf else None
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear) and module in (self.intent_classifier, self.slot_classifier):
            module.weight.data.normal_(mean=0.0, std=0.02)
            module.bias.data.zero_()
        elif module is self.tag_embedding:
            # the scale of the backbone's own embeddings: the feedback starts as a nudge, not a rewrite
            module.weight.data.normal_(mean=0.0, std=getattr(self.encoder.config, "initializer_range", 0.02))

    def feedback_ids(self, tags: torch.Tensor, word_mask: torch.Tensor) -> torch.Tensor:
        """tags: (batch, seq_len) tag ids (-100 reads as O); word_mask: (batch, seq_len) bool -> (batch,
        seq_len) tag-embedding ids: the B- tag on word-first sub-tokens that carry one, O everywhere else."""
        mapped = self.feedback_map[tags.clamp(min=0)]
        return torch.where(word_mask.bool(), mapped, torch.full_like(mapped, self.o_tag))

    def _refine(self, states: torch.Tensor, feedback: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """states: (batch, seq_len, hidden); feedback: (batch, seq_len) tag-embedding ids; bias: (batch, 1, 1,
        seq_len) additive attention bias, negative on padding -> (batch, seq_len, hidden)."""
        x = states + self.tag_embedding(feedback)
        for layer in self.refiner:
            x = layer(x, bias)
        return x

    def passes(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        word_mask: torch.Tensor | None = None,
        lexicon_features: torch.Tensor | None = None,
        *,
        gold_tags: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The encoder once, then the two tagging passes.

        Inputs as ``forward``; ``word_mask`` is required. gold_tags: (batch, seq_len) tag ids (-100 ignored)
        whose B- tags pass 2 sees instead of pass 1's argmax (teacher forcing). Returns intent_logits (batch,
        num_intents), pass-1 and pass-2 slot logits, each (batch, seq_len, num_slot_tags)."""
        if word_mask is None:
            raise ValueError(
                "SlotRefine needs word_mask (true on each word's first sub-token) or slot_labels"
            )
        kwargs = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
        if self.lexicon_gate is not None:
            states = self.lexicon_gate(states, lexicon_features)
        states = self.dropout(states)
        bias = attention_bias(attention_mask == 0, states.dtype)
        if self.config.first_pass == "encoder":
            first = states
        else:
            first = self._refine(states, torch.full_like(input_ids, self.o_tag), bias)
        intent_logits = self.intent_classifier(self.dropout(first[:, 0]))
        pass1 = self.slot_classifier(first)
        tags = pass1.argmax(-1).detach() if gold_tags is None else gold_tags
        pass2 = self.slot_classifier(self._refine(states, self.feedback_ids(tags, word_mask), bias))
        return intent_logits, pass1, pass2

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        word_mask: torch.Tensor | None = None,
        lexicon_features: torch.Tensor | None = None,
        intent_labels: torch.Tensor | None = None,
        slot_labels: torch.Tensor | None = None,
    ) -> JointOutput:
        """input_ids, attention_mask, token_type_ids: (batch, seq_len). word_mask: (batch, seq_len) bool, true
        on each word's first sub-token; when None, ``slot_labels != -100``. lexicon_features: (batch, seq_len,
        num_lexicon_types), when the config has lexicon types. intent_labels: (batch,). slot_labels:
        (batch, seq_len), the word's tag id on its first sub-token and -100 elsewhere."""
        if word_mask is None and slot_labels is not None:
            word_mask = slot_labels != -100
        # one torch draw per training batch (set_seed reproduces it); eval always feeds back pass 1's argmax
        teach = (
            self.training and slot_labels is not None and torch.rand(()).item() < self.config.teacher_forcing
        )
        gold_tags = slot_labels if teach else None
        intent_logits, pass1, pass2 = self.passes(
            input_ids, attention_mask, token_type_ids, word_mask, lexicon_features, gold_tags=gold_tags
        )
        return joint_output(
            intent_logits,
            pass2,
            intent_labels,
            slot_labels,
            self.config.intent_loss_coef,
            self.crf,
            earlier_slot_logits=(pass1,),
        )
