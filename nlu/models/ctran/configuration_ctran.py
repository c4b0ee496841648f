"""Configuration of CTRAN (Rafiepour & Salimi Sartakhti 2023, "CTRAN: CNN-Transformer-based Network for
Natural Language Understanding"): a pretrained encoder, parallel convolutions rearranged as a window feature
sequence, stacked Transformer encoder layers, a self-attention intent decoder and an aligned Transformer slot
decoder."""

from __future__ import annotations

from transformers import PretrainedConfig

from nlu.data.alignment import WORD_SPLIT_RULE
from nlu.models.configuration_common import check_joint_arguments


class CtranConfig(PretrainedConfig):
    """Everything needed to rebuild the model without the original backbone files.

    Args:
        encoder: the backbone's own config as a dict (``AutoConfig.to_dict()``); rebuilt with
            ``AutoConfig.for_model``.
        intent_labels: intent names; index 0 is ``UNK``.
        slot_labels: BIO tags; index 0 is ``UNK``.
        use_crf: decode slots with a linear-chain CRF instead of per-token argmax.
        classifier_dropout: dropout on the backbone states, inside the Transformer layers and before both
            heads.
        intent_loss_coef: weight of the intent loss; the slot loss has weight 1.
        max_seq_length: sub-tokens per utterance, special tokens included; longer input is truncated.
        word_split: name of the rule that splits raw text into words (see ``nlu.data.alignment``).
        lexicon_types: gazetteer types whose word features gate the backbone states
            (``nlu.modules.lexicon_gate``); empty for none.
        kernel_sizes: one 1-D convolution over the sequence per (odd) window size, run in parallel.
        channels: filters per convolution; the window feature of a position has
            ``channels * len(kernel_sizes)`` values.
        encoder_layers: Transformer encoder layers after the window feature sequence.
        decoder_layers: aligned Transformer decoder layers of the slot decoder.
        heads: attention heads of every attention layer; must divide the backbone's hidden size.
        freeze_encoder: the paper's "language model as word embeddings": the backbone is not trained and stays
            in eval mode (dropout off) even under ``model.train()``.
    """

    model_type = "nlu-ctran"

    def __init__(
        self,
        encoder: dict | None = None,
        intent_labels: list[str] | None = None,
        slot_labels: list[str] | None = None,
        use_crf: bool = False,
        classifier_dropout: float = 0.1,
        intent_loss_coef: float = 1.0,
        max_seq_length: int = 128,
        word_split: str = WORD_SPLIT_RULE,
        lexicon_types: list[str] | None = None,
        kernel_sizes: list[int] | tuple[int, ...] = (3, 5, 7),
        channels: int = 128,
        encoder_layers: int = 2,
        decoder_layers: int = 1,
        heads: int = 8,
        freeze_encoder: bool = False,
        **kwargs,
    ):
        self.encoder = dict(encoder or {})
        self.intent_labels = list(intent_labels or ["UNK"])
        self.slot_labels = list(slot_labels or ["UNK", "O"])
        self.use_crf = bool(use_crf)
        check_joint_arguments(classifier_dropout, intent_loss_coef, max_seq_length)
        kernel_sizes = list(kernel_sizes)
        if not kernel_sizes or any(int(k) != k or k < 1 or k % 2 == 0 for k in kernel_sizes):
            raise ValueError(
                f"kernel_sizes must be odd positive integers (odd, so 'same' padding keeps the length), "
                f"got {kernel_sizes}"
            )
        sizes = {"channels": channels, "encoder_layers": encoder_layers, "decoder_layers": decoder_layers}
        for name, value in {**sizes, "heads": heads}.items():
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        hidden = self.encoder.get("hidden_size")
        if hidden is not None and hidden % heads != 0:
            raise ValueError(
                f"heads must divide the backbone's hidden size {hidden}, got heads={heads}; "
                f"try one of {[h for h in range(1, 17) if hidden % h == 0]}"
            )
        self.classifier_dropout = classifier_dropout
        self.intent_loss_coef = intent_loss_coef
        self.max_seq_length = int(max_seq_length)
        self.word_split = word_split
        self.lexicon_types = list(lexicon_types or [])
        self.kernel_sizes = [int(k) for k in kernel_sizes]
        self.channels = int(channels)
        self.encoder_layers = int(encoder_layers)
        self.decoder_layers = int(decoder_layers)
        self.heads = int(heads)
        self.freeze_encoder = bool(freeze_encoder)
        super().__init__(**kwargs)
