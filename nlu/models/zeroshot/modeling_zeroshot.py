"""Zero-shot joint intent detection and slot filling (Gangadharaiah & Narayanaswamy 2022, "Zero-Shot Learning for
Joint Intent and Slot Labeling"): the heads score an utterance against its candidate intents, and each token
against the candidate slot types, in one embedding space shared with an encoding of each label's name and
description. Nothing in the model depends on the number of labels, so :meth:`ZeroShotForIntentSlot.set_labels`
swaps in a new label set (new intents, new slot types) without touching a weight.

The backbone encodes both sides. A label's text (``"play music: play a song or an album"``) is mean-pooled over
its sub-tokens and projected by ``label_proj``; the utterance's first token goes through ``utterance_proj``
(intents), and every token through ``begin_proj`` and ``inside_proj`` (the ``B-`` and ``I-`` scores of each slot
type). A score is the cosine of the two projections times a learned scale (the inverse temperature, 10 at the
start, kept in [1, 100]). ``O`` has no description to compare with: a linear scorer on the token state gives it.

Those heads fit the labels they were trained on and pull a new intent towards a close trained one. So when the
label set has an intent that training never saw, intents are scored below the heads, in the encoder's own space:
the utterance's mean-pooled states against each label text's (``config.intent_scoring``). On SNIPS test, with
one intent held out in turn, that finds 65% of its utterances on average instead of 6%. Labels unseen in training
can also get a calibration bonus, a cosine added to their scores (``unseen_intent_bonus``,
``unseen_slot_bonus``; Chao et al. 2016).

Training re-encodes every label text at each step, so the label encoder is fine-tuned with the rest. In eval
mode the label embeddings come from a cache that ``eval()`` (or :meth:`prepare_labels`) fills without gradients,
so ``forward`` runs the encoder on the utterance only, and an ONNX export bakes the label embeddings in as
constants: the exported graph holds one label set, the one the model had when exported.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from transformers import AutoTokenizer, PretrainedConfig, PreTrainedModel
from transformers import initialization as init

from nlu.data.label_files import label_text, load_label_file
from nlu.data.labels import LabelVocab
from nlu.decoding import MASKED
from nlu.models.backbones import build_encoder, load_pretrained_encoder, resolve_backbone
from nlu.models.zeroshot.configuration_zeroshot import (
    ZeroShotConfig,
    slot_types_of,
)
from nlu.models.zeroshot.label_set import INITIAL_SCALE, LabelSetMixin, tokenize_label_texts
from nlu.modules.decoding import joint_output
from nlu.modules.lexicon_gate import LexiconGate
from nlu.modules.outputs import JointOutput
from nlu.modules.pooling import mean_pool


def label_texts(config: ZeroShotConfig) -> list[str]:
    """The texts the label encoder reads: the intents (vocabulary order, ``UNK`` left out), then the slot types
    (order of first appearance in the slot vocabulary)."""
    intents = [
        label_text(name, config.intent_descriptions.get(name, "")) for name in config.intent_labels[1:]
    ]
    types = [label_text(t, config.slot_descriptions.get(t, "")) for t in slot_types_of(config.slot_labels)]
    return intents + types


class ZeroShotForIntentSlot(LabelSetMixin, PreTrainedModel):
    config_class = ZeroShotConfig
    base_model_prefix = "nlu_zeroshot"

    def __init__(self, config: ZeroShotConfig):
        super().__init__(config)
        self.encoder = build_encoder(config.encoder)
        hidden, dim = self.encoder.config.hidden_size, config.embed_dim
        self.lexicon_gate = LexiconGate(len(config.lexicon_types), hidden) if config.lexicon_types else None
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.utterance_proj = nn.Linear(hidden, dim)
        self.begin_proj = nn.Linear(hidden, dim)
        self.inside_proj = nn.Linear(hidden, dim)
        self.label_proj = nn.Linear(hidden, dim)
        self.o_scorer = nn.Linear(hidden, 1)
        # log of the inverse temperature, as in CLIP: the scale stays positive whatever the optimiser does
        self.log_logit_scale = nn.Parameter(torch.tensor(math.log(INITIAL_SCALE)))
        # The eval-mode label embeddings, (num_intents - 1, embed_dim) and (num_slot_types, embed_dim), L2-normed.
        # Buffers so that .to() moves them and torch.export sees constants; not persistent, since they are a
        # function of the weights and the label texts.
        self.register_buffer("intent_label_cache", None, persistent=False)
        self.register_buffer("slot_type_cache", None, persistent=False)
        # the intents' label texts in the encoder's own space (mean-pooled, L2-normed), for intent_scoring
        self.register_buffer("intent_text_cache", None, persistent=False)
        # Needed only to tokenise label texts that config.label_token_ids lacks (set_labels); never saved.
        self.label_tokenizer = None
        self._index_labels()
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        # transformers' guarded init functions: on from_pretrained they leave loaded tensors alone
        if module is self:
            init.constant_(self.log_logit_scale, math.log(INITIAL_SCALE))
        elif isinstance(module, nn.Linear) and module is self.o_scorer:
            init.normal_(module.weight, mean=0.0, std=0.02)
            init.zeros_(module.bias)
        elif isinstance(module, nn.Linear) and module in (
            self.utterance_proj,
            self.begin_proj,
            self.inside_proj,
            self.label_proj,
        ):
            # the scores are cosines, so the projections' scale does not matter; Xavier keeps them well spread
            init.xavier_uniform_(module.weight)
            init.zeros_(module.bias)

    # --- the label set (LabelSetMixin) -----------------------------------------------------------------------

    _label_texts = staticmethod(label_texts)
    _label_caches = ("intent_label_cache", "slot_type_cache", "intent_text_cache")

    def _fill_label_cache(self) -> None:
        self.intent_label_cache, self.slot_type_cache, self.intent_text_cache = self._encode_labels()

    def _label_inputs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The label texts as a right-padded batch: ids and attention mask, (num_label_texts, longest)."""
        rows = self._label_token_ids()
        if self._label_batch is None or self._label_batch[0].device != self.log_logit_scale.device:
            self._label_batch = self._padded(rows)
        return self._label_batch

    def _encode_labels(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """All label texts in one encoder batch -> L2-normalised embeddings: (num_intents - 1, embed_dim) for the
        intents and (num_slot_types, embed_dim) for the slot types, projected; and (num_intents - 1, hidden) for
        the intents in the encoder's own space."""
        ids, mask = self._label_inputs()
        num_intents = len(self.config.intent_labels) - 1
        if ids.shape[0] == 0:
            empty = self.log_logit_scale.new_zeros(0, self.config.embed_dim)
            return empty, empty, self.log_logit_scale.new_zeros(0, self.encoder.config.hidden_size)
        states = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        pooled = mean_pool(states, mask)
        embedded = nn.functional.normalize(self.label_proj(pooled), dim=-1)
        texts = nn.functional.normalize(pooled[:num_intents], dim=-1)
        return embedded[:num_intents], embedded[num_intents:], texts

    # --- forward -----------------------------------------------------------------------------------------------

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
        (batch, seq_len), the word's tag id on its first sub-token and -100 elsewhere.

        intent_logits: (batch, num_intents); slot_logits: (batch, seq_len, num_slot_tags), both in vocabulary
        order, with UNK at the constant ``MASKED``."""
        kwargs = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        encoded = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
        hidden = encoded if self.lexicon_gate is None else self.lexicon_gate(encoded, lexicon_features)
        hidden = self.dropout(hidden)
        if self.training:
            intent_embeddings, type_embeddings, _ = self._encode_labels()
        else:
            if self.intent_label_cache is None:
                self.prepare_labels()
            intent_embeddings, type_embeddings = self.intent_label_cache, self.slot_type_cache
        scale = self.logit_scale()

        if self._intents_in_encoder_space and not self.training:
            # the utterance's mean-pooled encoder states against the label texts' (see intent_scoring)
            utterance = nn.functional.normalize(mean_pool(encoded, attention_mask), dim=-1)  # (batch, hidden)
            intent_cosines = utterance @ self.intent_text_cache.T
        else:
            utterance = nn.functional.normalize(self.utterance_proj(hidden[:, 0]), dim=-1)  # (batch, dim)
            intent_cosines = utterance @ intent_embeddings.T
        intent_cosines = self._with_bonus(intent_cosines, self._intent_bonus)  # (batch, num_intents - 1)
        intent_logits = torch.cat([torch.full_like(utterance[:, :1], MASKED), scale * intent_cosines], dim=-1)

        begin = nn.functional.normalize(self.begin_proj(hidden), dim=-1)  # (batch, seq_len, dim)
        inside = nn.functional.normalize(self.inside_proj(hidden), dim=-1)
        o_scores = self.o_scorer(hidden)  # (batch, seq_len, 1)
        columns = torch.cat(
            [
                torch.full_like(o_scores, MASKED),
                o_scores,
                scale * self._with_bonus(begin @ type_embeddings.T, self._slot_type_bonus),  # (b, len, types)
                scale * self._with_bonus(inside @ type_embeddings.T, self._slot_type_bonus),
            ],
            dim=-1,
        )
        order = torch.tensor(self._slot_columns, dtype=torch.long, device=columns.device)
        slot_logits = columns.index_select(-1, order)

        return joint_output(
            intent_logits, slot_logits, intent_labels, slot_labels, self.config.intent_loss_coef
        )

    @staticmethod
    def _with_bonus(cosines: torch.Tensor, bonus: tuple[float, ...]) -> torch.Tensor:
        """``cosines`` (..., num_labels) plus each label's bonus; unchanged (and no graph node) when all are 0."""
        if not any(bonus):
            return cosines
        return cosines + torch.tensor(bonus, dtype=cosines.dtype, device=cosines.device)


def build_zeroshot(
    backbone: str,
    labels: LabelVocab,
    lexicon_types: list[str] | None = None,
    label_file: str | None = None,
    descriptions: tuple[dict[str, str], dict[str, str]] | None = None,
    **options,
) -> ZeroShotForIntentSlot:
    """A zero-shot model on a pretrained backbone, its projections initialised at random, the backbone's
    tokenizer attached as ``label_tokenizer``. Descriptions of the training labels come from ``label_file`` (a
    YAML label file, ``nlu.data.label_files``) or ``descriptions`` (intent name -> description, slot type ->
    description); labels without one are encoded by their name alone, and names that are not training labels
    are ignored. ``options``: the rest of :class:`ZeroShotConfig`'s arguments (the recipe's options)."""
    if label_file is not None:
        descriptions = load_label_file(label_file)
    return build_label_reader(
        ZeroShotForIntentSlot,
        label_texts,
        backbone,
        labels,
        descriptions,
        lexicon_types=lexicon_types,
        **options,
    )


def build_label_reader(
    model_class: type[PreTrainedModel],
    texts_of: Callable[[PretrainedConfig], list[str]],
    backbone: str,
    labels: LabelVocab,
    descriptions: tuple[dict[str, str], dict[str, str]] | None,
    **config_args,
) -> PreTrainedModel:
    """A model that reads its labels' texts (``model_class``: this module's model or the question-answering one)
    on a pretrained backbone: its config keeps the descriptions of the training labels (names that are not
    training labels are left out) and the sub-token ids of ``texts_of(config)``, its encoder the backbone's
    weights, its ``label_tokenizer`` the backbone's tokenizer. ``config_args``: the rest of the config's
    arguments."""
    encoder = load_pretrained_encoder(backbone)
    tokenizer = AutoTokenizer.from_pretrained(resolve_backbone(backbone))
    intent_descriptions, slot_descriptions = descriptions or ({}, {})
    types = slot_types_of(labels.slots)
    config = model_class.config_class(
        encoder=encoder.config.to_dict(),
        intent_labels=labels.intents,
        slot_labels=labels.slots,
        intent_descriptions={
            n: intent_descriptions[n] for n in labels.intents[1:] if n in intent_descriptions
        },
        slot_descriptions={t: slot_descriptions[t] for t in types if t in slot_descriptions},
        **config_args,
    )
    config.label_token_ids = tokenize_label_texts(tokenizer, texts_of(config), config.label_max_length)
    model = model_class(config)
    model.encoder.load_state_dict(encoder.state_dict())
    model.label_tokenizer = tokenizer
    return model
