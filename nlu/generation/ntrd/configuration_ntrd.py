"""Configuration of the template-filling recommender (NTRD, Liang et al. 2021)."""

from __future__ import annotations

from transformers import PretrainedConfig


class NTRDConfig(PretrainedConfig):
    """Sizes of the template generator and the item selector.

    Args:
        vocab_size: words of contexts and reply templates (``<pad> <unk> <s> </s>`` first, the item placeholder
            among them).
        item_token_id: the placeholder's word id.
        num_items: movies of the catalogue; item 0 is padding.
        title_length: title words kept per movie (the selector reads titles, so movies unseen in training still
            have a representation).
        hidden_size: model width; ``attention_heads`` must divide it.
        encoder_layers / decoder_layers: Transformer layers over the context and over the reply template.
        feedforward_size: inner size of the Transformer layers.
        dropout: everywhere.
        max_context_length / max_reply_length: words; longer contexts keep their end.
    """

    model_type = "nlu-ntrd"

    def __init__(
        self,
        vocab_size: int = 5,
        item_token_id: int = 4,
        num_items: int = 1,
        title_length: int = 8,
        hidden_size: int = 256,
        attention_heads: int = 4,
        encoder_layers: int = 2,
        decoder_layers: int = 2,
        feedforward_size: int = 512,
        dropout: float = 0.1,
        max_context_length: int = 256,
        max_reply_length: int = 40,
        **kwargs,
    ):
        if hidden_size % attention_heads:
            raise ValueError(
                f"hidden_size ({hidden_size}) must be divisible by attention_heads ({attention_heads})"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.vocab_size = vocab_size
        self.item_token_id = item_token_id
        self.num_items = num_items
        self.title_length = title_length
        self.hidden_size = hidden_size
        self.attention_heads = attention_heads
        self.encoder_layers = encoder_layers
        self.decoder_layers = decoder_layers
        self.feedforward_size = feedforward_size
        self.dropout = dropout
        self.max_context_length = max_context_length
        self.max_reply_length = max_reply_length
        kwargs.setdefault("pad_token_id", 0)
        kwargs.setdefault("bos_token_id", 2)
        kwargs.setdefault("eos_token_id", 3)
        super().__init__(**kwargs)
