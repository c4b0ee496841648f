"""Contextual slot filling (Veyseh, Dernoncourt & Nguyen, "Improving Slot Filling by Utilizing Contextual
Information", NLP4ConvAI 2020, arXiv 1911.01680) on a pretrained encoder shared with a joint intent head.

What the paper does
-------------------
Sources. Read: the abstract and the start of the introduction (arXiv), and Adobe Research's summary of the paper,
which states the idea (make a word's feature vector and its context's consistent, and make the context informative
about the word's label) and the limitation it addresses: earlier models concatenate a word's vector with its
context vector, which lets them learn no direct association between the context and the word's label. The method
section could not be read through the tools at hand when this was written; the points marked (recalled) come from
memory of the paper, and a third-party re-implementation describes the same parts (BiLSTM + CRF, mutual
information maximised with a discriminator, context-based word- and sentence-level predictions). Check them
against the paper before quoting them.

* Encoder (recalled): pre-trained word embeddings with part-of-speech embeddings, a BiLSTM, one vector ``h_i`` per
  word. No pretrained Transformer.
* Context vector (recalled): ``c_i = maxpool(h_1, ..., h_{i-1}, h_{i+1}, ..., h_n)``, dimension-wise max over the
  other words of the sentence; the word itself is left out.
* Representation level (recalled): maximise the mutual information ``MI(h_i; c_i)``. It is estimated as in MINE /
  Deep InfoMax (Belghazi et al. 2018; Hjelm et al. 2019): a discriminator ``D``, a two-layer feed-forward net with
  a sigmoid output, reads the concatenation ``[h_i; c_i]``. The positive pair is a word with its own context, the
  negative pair the word with the context of a word from another sentence of the batch, and
  ``L_MI = -(log D([h_i; c_i]) + log(1 - D([h_i; c~])))``, the binary cross-entropy (Jensen-Shannon) bound of
  Deep InfoMax, minimised by the discriminator and the encoder together.
* Label level (recalled): (a) word level, the label of ``w_i`` predicted from ``c_i`` alone by a two-layer
  feed-forward net and a softmax, cross-entropy ``L_WP``; (b) sentence level, which labels occur in the sentence,
  predicted from the max-pooled word vectors, multi-label binary cross-entropy ``L_SP``.
* Tagger: a CRF over the word vectors ``h_i``; the context reaches the tags only through the objectives above,
  not by concatenating ``c_i`` into the tagger's input (the concatenation is what the paper argues against).
  ``L = L_CRF + alpha L_MI + beta L_WP + gamma L_SP``, the trade-off weights tuned on dev (values not verified).
* Reported slot F1 (slot filling only; the paper has no intent head): ATIS about 96 (a results aggregator lists
  the claim as 0.96; a community leaderboard lists 95.80 for the model, perhaps from another version of the
  paper), SNIPS 93.6, and a third data set (recalled: EditMe, image-editing requests); a new state of the art on
  all three at the time, per the abstract.

What this implementation changes, and why
-----------------------------------------
* The encoder is the project's pretrained encoder (MiniLM by default), fine-tuned, not a BiLSTM over GloVe and POS
  embeddings: every architecture here shares the backbone machinery, and the pipeline has no POS tagger. ``h_i`` is
  the encoder state of the word's first sub-token after dropout, the vector the slot head reads, as JointBERT
  labels words.
* An intent head on the first token (``intent_loss_coef``), as JointBERT: the project's models are joint.
* Context vectors cover real words only: positions whose slot label is not -100 (first sub-tokens) with attention
  mask 1. Special tokens, continuation sub-tokens and padding never enter a context. The word of a one-word
  utterance has no context and is left out of the context losses.
* ``forward`` learns where the words are only from ``slot_labels``, so context vectors exist only when labels are
  given; the slot head never reads them. Without labels the model computes exactly JointBERT+CRF's graph (encoder,
  optional lexicon gate, dropout, two linear heads), so the ONNX export and the runtime decoding are JointBERT's;
  the discriminator and the context heads are training scaffolding, saved but unused at inference.
* Negatives: for each word, the context of a word drawn uniformly from the other utterances of the batch. With a
  batch of one utterance there is no other utterance, so the draw is from the other words of the same utterance:
  a harder, weaker negative (their contexts contain ``h_i``) but the loss stays defined. Draws come from torch's
  global generator of the states' device, so a seeded run is reproducible; with ``mi_loss_coef`` 0 nothing is
  drawn, and a forward without labels draws nothing either.
* Reductions: ``L_MI`` and ``L_WP`` are means over words, ``L_SP`` a mean over utterances and tags, while the CRF
  loss is a mean over utterances of a sum over words; weights of 1 therefore keep the auxiliary terms a fraction
  of the tagging loss. The sentence-level targets are the BIO tags of the tag vocabulary, not slot types.
* Defaults (``ContextualOptions``): the three weights 1 and the feed-forward widths 200 are this implementation's
  choices, not values checked against the paper.
* The auxiliary losses are added to ``loss`` whenever labels are given, in training mode or not, so the loss of a
  batch depends on the seed only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel

from nlu.models.backbones import build_encoder
from nlu.models.contextual.configuration_contextual import ContextualConfig
from nlu.modules.crf import CRF
from nlu.modules.decoding import joint_output
from nlu.modules.lexicon_gate import LexiconGate
from nlu.modules.outputs import JointOutput

IGNORE = -100


@dataclass
class ContextualOutput(JointOutput):
    """A :class:`JointOutput` with the auxiliary losses, unweighted, when labels are given (``loss`` includes them,
    weighted). Each is ``None`` when its weight is 0."""

    mi_loss: torch.Tensor | None = None
    context_label_loss: torch.Tensor | None = None
    sentence_label_loss: torch.Tensor | None = None


def context_vectors(hidden: torch.Tensor, word_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each word's context: the dimension-wise max over the *other* words of its utterance.

    Args:
        hidden: (batch, seq_len, hidden) token states.
        word_mask: (batch, seq_len) bool, true on the positions that stand for a word (first sub-tokens).

    Returns:
        context: (batch, seq_len, hidden); zeros where ``has_context`` is false.
        has_context: (batch, seq_len) bool, the words of utterances with at least two words.

    Uses the two largest values per dimension: the max over the others is the largest, unless the word holds it,
    then the second largest. Positions outside ``word_mask`` cannot win either, whatever they hold.
    """
    batch, seq_len, _ = hidden.shape
    word_mask = word_mask.bool()
    has_context = word_mask & (word_mask.sum(1, keepdim=True) >= 2)
    if seq_len < 2:
        return torch.zeros_like(hidden), has_context
    masked = hidden.masked_fill(~word_mask.unsqueeze(-1), torch.finfo(hidden.dtype).min)
    top, index = masked.topk(2, dim=1)  # (batch, 2, hidden)
    positions = torch.arange(seq_len, device=hidden.device).view(1, seq_len, 1)
    holds_max = index[:, :1] == positions  # (batch, seq_len, hidden)
    context = torch.where(holds_max, top[:, 1:2], top[:, :1])
    return context.masked_fill(~has_context.unsqueeze(-1), 0.0), has_context


def draw_negatives(rows: torch.Tensor) -> torch.Tensor:
    """For each of ``n`` items, the index of another item to pair it with, drawn from torch's global generator.

    Args:
        rows: (n,) long, each item's utterance, non-decreasing (items grouped by utterance).

    Returns:
        (n,) long: an item of another utterance, uniformly; where every item is in the same utterance, another
        item of that utterance; -1 where there is no other item at all.
    """
    n = rows.numel()
    if n == 0:
        return rows.clone()
    counts = torch.bincount(rows)
    count = counts[rows]
    start = (torch.cumsum(counts, 0) - counts)[rows]
    others = n - count
    draw = torch.rand(n, device=rows.device)
    # another utterance: a uniform index into the n - count items outside this utterance's block
    outside = torch.minimum((draw * others).long(), (others - 1).clamp(min=0))
    outside = torch.where(outside < start, outside, outside + count)
    # the same utterance: a uniform index among its count - 1 other items
    local = torch.arange(n, device=rows.device) - start
    inside = torch.minimum((draw * (count - 1)).long(), (count - 2).clamp(min=0))
    inside = start + torch.where(inside < local, inside, inside + 1)
    none = torch.full_like(rows, -1)
    return torch.where(others > 0, outside, torch.where(count > 1, inside, none))


def _feed_forward(in_features: int, hidden: int, out_features: int) -> nn.Sequential:
    """The paper's two-layer feed-forward head."""
    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, out_features))


def _untouched(module: nn.Module) -> torch.Tensor:
    """A zero that depends on every parameter of ``module``: a loss with nothing to score still gives each
    parameter a (zero) gradient, as distributed training's bookkeeping expects."""
    return sum(p.sum() for p in module.parameters()) * 0.0


class ContextualForIntentSlot(PreTrainedModel):
    config_class = ContextualConfig
    base_model_prefix = "nlu_contextual"

    def __init__(self, config: ContextualConfig):
        super().__init__(config)
        self.encoder = build_encoder(config.encoder)
        hidden = self.encoder.config.hidden_size
        num_slots = len(config.slot_labels)
        self.lexicon_gate = LexiconGate(len(config.lexicon_types), hidden) if config.lexicon_types else None
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.intent_classifier = nn.Linear(hidden, len(config.intent_labels))
        self.slot_classifier = nn.Linear(hidden, num_slots)
        self.crf = CRF.for_labels(config.slot_labels) if config.use_crf else None
        # Training scaffolding, built only when its loss is on: a module without a loss would get no gradient.
        self.discriminator = (
            _feed_forward(2 * hidden, config.discriminator_dim, 1) if config.mi_loss_coef > 0 else None
        )
        self.context_label_head = (
            _feed_forward(hidden, config.label_head_dim, num_slots)
            if config.context_label_loss_coef > 0
            else None
        )
        self.sentence_label_head = (
            _feed_forward(hidden, config.label_head_dim, num_slots)
            if config.sentence_label_loss_coef > 0
            else None
        )
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        # The two classifiers as JointBERT's; the feed-forward heads keep torch's default (Kaiming-uniform) init.
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
    ) -> ContextualOutput:
        """input_ids, attention_mask, token_type_ids: (batch, seq_len). lexicon_features: (batch, seq_len,
        num_lexicon_types), when the config has lexicon types. intent_labels: (batch,). slot_labels:
        (batch, seq_len), the word's tag id on its first sub-token and -100 elsewhere.

        Without labels: JointBERT's logits, nothing else computed. With both labels: ``loss`` adds the weighted
        auxiliary losses to JointBERT's intent and slot losses."""
        kwargs = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
        if self.lexicon_gate is not None:
            hidden = self.lexicon_gate(hidden, lexicon_features)
        hidden = self.dropout(hidden)
        intent_logits = self.intent_classifier(hidden[:, 0])
        slot_logits = self.slot_classifier(hidden)
        joint = joint_output(
            intent_logits, slot_logits, intent_labels, slot_labels, self.config.intent_loss_coef, self.crf
        )
        out = ContextualOutput(**joint)
        if out.loss is None:
            return out
        word_mask = (slot_labels != IGNORE) & attention_mask.bool()
        context, has_context = context_vectors(hidden, word_mask)
        if self.discriminator is not None:
            out.mi_loss = self.mi_loss(hidden, context, has_context)
            out.loss = out.loss + self.config.mi_loss_coef * out.mi_loss
        if self.context_label_head is not None:
            out.context_label_loss = self.context_label_loss(context, has_context, slot_labels)
            out.loss = out.loss + self.config.context_label_loss_coef * out.context_label_loss
        if self.sentence_label_head is not None:
            out.sentence_label_loss = self.sentence_label_loss(hidden, word_mask, slot_labels)
            out.loss = out.loss + self.config.sentence_label_loss_coef * out.sentence_label_loss
        return out

    def mi_loss(self, hidden: torch.Tensor, context: torch.Tensor, has_context: torch.Tensor) -> torch.Tensor:
        """The Deep InfoMax (Jensen-Shannon) loss: the discriminator's binary cross-entropy on (word, own context)
        against (word, a context drawn by :func:`draw_negatives`), mean over the words that have both.

        hidden, context: (batch, seq_len, hidden); has_context: (batch, seq_len) bool."""
        seq_len = hidden.shape[1]
        positions = has_context.flatten().nonzero().squeeze(1)  # row-major, so grouped by utterance
        negatives = draw_negatives(torch.div(positions, seq_len, rounding_mode="floor"))
        keep = negatives >= 0
        if not keep.any():
            return _untouched(self.discriminator)
        words = hidden.flatten(0, 1)[positions]
        contexts = context.flatten(0, 1)[positions]
        words, own, other = words[keep], contexts[keep], contexts[negatives[keep]]
        positive = self.discriminator(torch.cat([words, own], dim=-1)).squeeze(-1)
        negative = self.discriminator(torch.cat([words, other], dim=-1)).squeeze(-1)
        # -log sigmoid(p) - log(1 - sigmoid(n)) = softplus(-p) + softplus(n)
        return (nn.functional.softplus(-positive) + nn.functional.softplus(negative)).mean()

    def context_label_loss(
        self, context: torch.Tensor, has_context: torch.Tensor, slot_labels: torch.Tensor
    ) -> torch.Tensor:
        """Cross-entropy of each word's tag predicted from its context vector alone, mean over words.

        context: (batch, seq_len, hidden); has_context, slot_labels: (batch, seq_len)."""
        if not has_context.any():
            return _untouched(self.context_label_head)
        logits = self.context_label_head(context[has_context])
        return nn.functional.cross_entropy(logits, slot_labels[has_context])

    def sentence_label_loss(
        self, hidden: torch.Tensor, word_mask: torch.Tensor, slot_labels: torch.Tensor
    ) -> torch.Tensor:
        """Binary cross-entropy of which tags occur in each utterance, predicted from the max over its words,
        mean over utterances with a word and over tags.

        hidden: (batch, seq_len, hidden); word_mask, slot_labels: (batch, seq_len)."""
        has_words = word_mask.any(1)
        if not has_words.any():
            return _untouched(self.sentence_label_head)
        masked = hidden.masked_fill(~word_mask.unsqueeze(-1), torch.finfo(hidden.dtype).min)
        sentence = masked.max(dim=1).values[has_words]  # (utterances, hidden)
        tags = nn.functional.one_hot(slot_labels.clamp(min=0), len(self.config.slot_labels))
        present = (tags * word_mask.unsqueeze(-1)).amax(dim=1)[has_words].to(hidden.dtype)
        logits = self.sentence_label_head(sentence)
        return nn.functional.binary_cross_entropy_with_logits(logits, present)
