"""Zero-shot slot filling as reading comprehension: each slot type asks the utterance a question, and the words
that answer it are tagged B/I (Yu et al. 2021, "Cross-Domain Slot Filling as Machine Reading Comprehension";
Du et al. 2021, QASF). A new slot type is a new question, so nothing in the model is tied to the types it was
trained on: the label-embedding model (``nlu.models.zeroshot``) scores each word against every slot type in a
space its heads fit to the trained types, and gives a new type's words to a close trained type; here the encoder
reads the question and the utterance together, so every layer can use what the question says.

For an utterance and a slot type the encoder reads ``[CLS] question [SEP] utterance [SEP]`` (the question is
the type's name, description and example values, ``nlu.data.label_files.question_text``; example values as
Shah et al. 2019 use them), and a linear tagger gives each utterance sub-token O/B/I scores for that type. At
prediction time every slot type asks its question: the (utterance, question) pairs of a whole batch go through
the encoder in one pass (one ONNX session run), built inside the model from the utterance's own inputs, so the
graph takes the same inputs as every joint model and the runtime needs nothing new. The answers are then merged
into one tag per word: the slot logits of a type's ``B-``/``I-`` tag are its log-odds against O (``O`` is 0),
so per word the softmax over all tags prefers O unless some type says B or I more than O, and among the types
that do, the most confident wins (``merged_slot_logits``). Coach (Liu et al. 2020) names the problem this
resolves: per-type taggers tag one word with several types.

Training asks each utterance about the slot types it has and about ``negative_questions`` it does not have,
drawn first among the types that other utterances of its intent in the batch have: those are the types asked
of it at prediction time in its domain, the negatives Yu et al. build from the utterance's domain.

Intents are scored as the zero-shot model scores them (its heads, or the encoder's own space when the label set
has an intent training never saw), from a pass of the encoder over the utterance alone; its label embeddings
are cached in eval mode and baked into an ONNX export.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init

from nlu.data.label_files import read_label_file
from nlu.data.labels import LabelVocab
from nlu.decoding import MASKED
from nlu.models.backbones import build_encoder
from nlu.models.zeroshot.configuration_zeroshot import UNK, slot_types_of
from nlu.models.zeroshot.label_set import INITIAL_SCALE, LabelSetMixin
from nlu.models.zeroshot.modeling_zeroshot import build_label_reader
from nlu.models.zeroshot_qa.configuration_zeroshot_qa import ZeroShotQAConfig, check_slot_examples
from nlu.models.zeroshot_qa.questions import (
    ANSWER_B,
    ANSWER_I,
    ANSWER_O,
    IGNORE,
    label_texts,
    merged_slot_logits,
    pack_questions,
    sample_questions,
)
from nlu.modules.outputs import JointOutput
from nlu.modules.pooling import mean_pool


class ZeroShotQAForIntentSlot(LabelSetMixin, PreTrainedModel):
    config_class = ZeroShotQAConfig
    base_model_prefix = "nlu_zeroshot_qa"

    def __init__(self, config: ZeroShotQAConfig):
        super().__init__(config)
        self.encoder = build_encoder(config.encoder)
        hidden, dim = self.encoder.config.hidden_size, config.embed_dim
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.utterance_proj = nn.Linear(hidden, dim)
        self.label_proj = nn.Linear(hidden, dim)
        self.tagger = nn.Linear(hidden, 3)  # O, B, I of the slot type a question asks about
        # log of the inverse temperature of the intent cosines, as in CLIP
        self.log_logit_scale = nn.Parameter(torch.tensor(math.log(INITIAL_SCALE)))
        # Eval-mode intent label embeddings (num_intents - 1, embed_dim) and the label texts in the encoder's own
        # space (num_intents - 1, hidden), L2-normed; the questions' sub-tokens (num_types, longest question) and
        # lengths (num_types,). Buffers, so that .to() moves them and an export reads them as constants; not
        # persistent: they are functions of the weights and the label set.
        self.register_buffer("intent_label_cache", None, persistent=False)
        self.register_buffer("intent_text_cache", None, persistent=False)
        self.register_buffer("question_ids", None, persistent=False)
        self.register_buffer("question_lengths", None, persistent=False)
        # Needed only to tokenise label texts that config.label_token_ids lacks (set_labels); never saved.
        self.label_tokenizer = None
        self._index_labels()
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        # transformers' guarded init functions: on from_pretrained they leave loaded tensors alone
        if module is self:
            init.constant_(self.log_logit_scale, math.log(INITIAL_SCALE))
        elif isinstance(module, nn.Linear) and module is self.tagger:
            init.normal_(module.weight, mean=0.0, std=0.02)
            init.zeros_(module.bias)
        elif isinstance(module, nn.Linear) and module in (self.utterance_proj, self.label_proj):
            init.xavier_uniform_(module.weight)
            init.zeros_(module.bias)

    # --- the label set (LabelSetMixin) -----------------------------------------------------------------------

    _label_texts = staticmethod(label_texts)
    _label_caches = ("intent_label_cache", "intent_text_cache")

    def _index_more(self, types: list[str], position: dict[str, int]) -> None:
        """The slot type of each tag (-1 for ``UNK`` and ``O``) and whether it is an ``I-`` tag; the questions
        are built again."""
        self._tag_types = tuple(
            position[tag[2:]] if tag not in (UNK, "O") else -1 for tag in self.config.slot_labels
        )
        self._tag_inside = tuple(tag.startswith("I-") for tag in self.config.slot_labels)
        self.question_ids = self.question_lengths = None

    def _slot_examples_of(self, slot_examples: dict | None, slot_types: list[str]) -> dict:
        return check_slot_examples(slot_examples, slot_types)

    def _fill_label_cache(self) -> None:
        self.intent_label_cache, self.intent_text_cache = self._encode_intents()
        self._questions()  # built here, not while an export traces forward

    def _intent_inputs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The intents' label texts as a right-padded batch: ids and mask, (num_intents - 1, longest)."""
        rows = self._label_token_ids()[: len(self.config.intent_labels) - 1]
        device = self.log_logit_scale.device
        if self._label_batch is None or self._label_batch[0].device != device:
            self._label_batch = self._padded(rows)
        return self._label_batch

    def _questions(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The slot types' questions: right-padded sub-token ids (num_types, longest) and lengths (num_types,)."""
        device = self.log_logit_scale.device
        if self.question_ids is None or self.question_ids.device != device:
            rows = self._label_token_ids()[len(self.config.intent_labels) - 1 :]
            ids, mask = self._padded(rows)
            self.question_ids, self.question_lengths = ids, mask.sum(1)
        return self.question_ids, self.question_lengths

    def _encode_intents(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The intents' label texts in one encoder batch -> L2-normalised embeddings: projected, (num_intents -
        1, embed_dim), and in the encoder's own space, (num_intents - 1, hidden)."""
        ids, mask = self._intent_inputs()
        if ids.shape[0] == 0:
            hidden = self.encoder.config.hidden_size
            return self.log_logit_scale.new_zeros(0, self.config.embed_dim), self.log_logit_scale.new_zeros(
                0, hidden
            )
        pooled = mean_pool(self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state, mask)
        projected = nn.functional.normalize(self.label_proj(pooled), dim=-1)
        return projected, nn.functional.normalize(pooled, dim=-1)

    # --- forward -----------------------------------------------------------------------------------------------

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        intent_labels: torch.Tensor | None = None,
        slot_labels: torch.Tensor | None = None,
    ) -> JointOutput:
        """input_ids, attention_mask, token_type_ids: (batch, seq_len), the utterance alone. intent_labels:
        (batch,). slot_labels: (batch, seq_len), the word's tag id on its first sub-token and -100 elsewhere.

        intent_logits: (batch, num_intents); slot_logits: (batch, seq_len, num_slot_tags), both in vocabulary
        order with UNK at the constant ``MASKED``; a slot type's tags are its log-odds against O, and O is 0
        (``merged_slot_logits``). In training with slot labels only the sampled questions are asked
        (``sample_questions``): the types not asked of an utterance score ``MASKED``. The slot loss is each
        asked question's O/B/I cross-entropy over the words."""
        kwargs = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        encoded = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
        intent_logits = self._intent_logits(encoded, attention_mask)  # (batch, num_intents)

        batch, seq_len = input_ids.shape
        num_types = len(self.slot_types)
        sampled = self.training and slot_labels is not None and num_types > 0
        if sampled:
            present = self._types_present(slot_labels)  # (batch, num_types)
            pair_utterance, pair_type = sample_questions(
                present, self.config.negative_questions, intent_labels
            )
        else:  # every type asks every utterance: pairs in (utterance, type) order
            pair_utterance = torch.arange(batch, device=input_ids.device)[:, None].expand(batch, num_types)
            pair_type = torch.arange(num_types, device=input_ids.device)[None, :].expand(batch, num_types)
            pair_utterance, pair_type = pair_utterance.reshape(-1), pair_type.reshape(-1)
        answers = self._answer(input_ids, attention_mask, pair_utterance, pair_type)  # (pairs, seq_len, 3)

        if sampled:
            full = answers.new_zeros(batch * num_types, seq_len, 3)
            full[:, :, ANSWER_B:] = MASKED  # a type not asked of the utterance does not claim its words
            full = full.index_put((pair_utterance * num_types + pair_type,), answers)
        else:
            full = answers
        per_type = full.view(batch, num_types, seq_len, 3).transpose(1, 2)  # (batch, seq_len, types, 3)
        bonus = (
            torch.tensor(self._slot_type_bonus, dtype=answers.dtype, device=answers.device)
            if any(self._slot_type_bonus)
            else None
        )
        merged = merged_slot_logits(per_type, bonus)  # (batch, seq_len, 1 + 2 * num_types)
        columns = torch.cat([torch.full_like(merged[..., :1], MASKED), merged], dim=-1)
        order = torch.tensor(self._slot_columns, dtype=torch.long, device=columns.device)
        slot_logits = columns.index_select(-1, order)

        out = JointOutput(intent_logits=intent_logits, slot_logits=slot_logits)
        if intent_labels is not None and slot_labels is not None:
            out.intent_loss = nn.functional.cross_entropy(intent_logits, intent_labels)
            targets = self._answer_targets(slot_labels, pair_utterance, pair_type)  # (pairs, seq_len)
            out.slot_loss = (
                nn.functional.cross_entropy(answers.flatten(0, 1), targets.flatten(), ignore_index=IGNORE)
                if targets.numel() and (targets != IGNORE).any()
                else answers.sum() * 0.0
            )
            out.loss = self.config.intent_loss_coef * out.intent_loss + out.slot_loss
        return out

    def _intent_logits(self, encoded: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(batch, num_intents): scaled cosines of the utterance and the intents' label texts, UNK masked."""
        if self.training:
            intent_embeddings, _ = self._encode_intents()
        else:
            if self.intent_label_cache is None:
                self.prepare_labels()
            intent_embeddings = self.intent_label_cache
        if self._intents_in_encoder_space and not self.training:
            # the utterance's mean-pooled encoder states against the label texts' (intent_scoring)
            utterance = nn.functional.normalize(mean_pool(encoded, attention_mask), dim=-1)  # (batch, hidden)
            cosines = utterance @ self.intent_text_cache.T
        else:
            cls = self.dropout(encoded[:, 0])
            utterance = nn.functional.normalize(self.utterance_proj(cls), dim=-1)  # (batch, embed_dim)
            cosines = utterance @ intent_embeddings.T  # (batch, num_intents - 1)
        if any(self._intent_bonus):
            cosines = cosines + torch.tensor(self._intent_bonus, dtype=cosines.dtype, device=cosines.device)
        return torch.cat([torch.full_like(cosines[:, :1], MASKED), self.logit_scale() * cosines], dim=-1)

    def _answer(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        pair_utterance: torch.Tensor,
        pair_type: torch.Tensor,
    ) -> torch.Tensor:
        """Each (utterance, slot type) pair read as ``[CLS] question [SEP] utterance [SEP]`` in one encoder
        batch -> the O/B/I scores of every utterance sub-token for that type, (pairs, seq_len, 3); position 0
        (the utterance's ``[CLS]``) holds the scores of the question's last sub-token and is never a word.

        pair_utterance, pair_type: (pairs,) indices into the batch and the slot types."""
        seq_len = input_ids.shape[1]
        if pair_type.numel() == 0:
            return self.log_logit_scale.new_zeros(0, seq_len, 3)
        question_ids, question_lengths = self._questions()
        lengths = question_lengths.index_select(0, pair_type)  # (pairs,)
        ids, mask, segments = pack_questions(
            input_ids.index_select(0, pair_utterance),
            attention_mask.index_select(0, pair_utterance),
            question_ids.index_select(0, pair_type),
            lengths,
            self._pad_id(),
        )
        kwargs = (
            {"token_type_ids": segments} if getattr(self.encoder.config, "type_vocab_size", 0) > 1 else {}
        )
        states = self.encoder(input_ids=ids, attention_mask=mask, **kwargs).last_hidden_state  # (pairs, w, h)
        where = lengths[:, None] - 1 + torch.arange(seq_len, device=ids.device)[None, :]  # (pairs, seq_len)
        words = states.gather(
            1, where[..., None].expand(-1, -1, states.shape[-1])
        )  # (pairs, seq_len, hidden)
        return self.tagger(self.dropout(words))

    def _types_present(self, slot_labels: torch.Tensor) -> torch.Tensor:
        """(batch, seq_len) tag ids -> (batch, num_types) bool: the slot types each utterance has."""
        tag_types = torch.tensor(self._tag_types, dtype=torch.long, device=slot_labels.device)
        types = torch.where(slot_labels >= 0, tag_types[slot_labels.clamp(min=0)], -1)  # (batch, seq_len)
        index = torch.arange(len(self.slot_types), device=slot_labels.device)
        return (types[..., None] == index).any(dim=1)

    def _answer_targets(
        self, slot_labels: torch.Tensor, pair_utterance: torch.Tensor, pair_type: torch.Tensor
    ) -> torch.Tensor:
        """The O/B/I answer each pair's question should give on each sub-token, (pairs, seq_len); -100 where the
        slot labels are (non-first sub-tokens, special tokens, padding)."""
        labels = slot_labels.index_select(0, pair_utterance)  # (pairs, seq_len)
        tag_types = torch.tensor(self._tag_types, dtype=torch.long, device=labels.device)
        inside = torch.tensor(self._tag_inside, dtype=torch.bool, device=labels.device)
        known = labels.clamp(min=0)
        mine = tag_types[known] == pair_type[:, None]
        answer = torch.where(mine, torch.where(inside[known], ANSWER_I, ANSWER_B), ANSWER_O)
        return torch.where(labels >= 0, answer, IGNORE)


def build_zeroshot_qa(
    backbone: str,
    labels: LabelVocab,
    lexicon_types: list[str] | None = None,
    label_file: str | None = None,
    descriptions: tuple[dict[str, str], dict[str, str]] | None = None,
    slot_examples: dict[str, list[str]] | None = None,
    **options,
) -> ZeroShotQAForIntentSlot:
    """A question-answering zero-shot model on a pretrained backbone, its heads initialised at random, the
    backbone's tokenizer attached as ``label_tokenizer``. Descriptions and example values of the training labels
    come from ``label_file`` (``nlu.data.label_files``), or ``descriptions`` (intent name -> description, slot
    type -> description) and ``slot_examples``; names that are not training labels are ignored. ``options``: the
    rest of :class:`ZeroShotQAConfig`'s arguments (the recipe's options)."""
    if label_file is not None:
        read = read_label_file(label_file)
        descriptions, slot_examples = (read.intents, read.slots), read.slot_examples
    slot_examples = slot_examples or {}
    return build_label_reader(
        ZeroShotQAForIntentSlot,
        label_texts,
        backbone,
        labels,
        descriptions,
        lexicon_types=lexicon_types,
        slot_examples={t: slot_examples[t] for t in slot_types_of(labels.slots) if t in slot_examples},
        **options,
    )
