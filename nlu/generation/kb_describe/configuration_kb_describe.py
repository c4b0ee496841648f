"""Configuration of the knowledge-base describer (Wang et al. 2018)."""

from __future__ import annotations

from transformers import PretrainedConfig


class KBDescribeConfig(PretrainedConfig):
    """Sizes of the record encoder and the pointer-generator decoder.

    Args:
        vocab_size: output and input words, ``<pad> <unk> <s> </s>`` first (``nlu.generation.records.Vocab``).
        num_slot_types: slot types of the records, index 0 for an unknown type.
        word_embedding_size: shared by the record's value words and the decoder's words.
        slot_embedding_size: the slot-type embedding of each record word.
        position_embedding_size: each of the two position embeddings (forward and backward position of a word
            inside its value).
        max_position: positions past this share the last embedding.
        hidden_size: decoder state; the bidirectional record encoder has ``hidden_size // 2`` per direction.
        attention_heads: heads of the table-position self-attention; must divide ``hidden_size``.
        dropout: on embeddings and decoder outputs.
        max_output_length: words generated at most (``</s>`` excluded).
        beam_size: beams at generation time (1 = greedy).
        beam_length_penalty: beams are ranked by log-probability / length ** beam_length_penalty.
        repeated_ngram_block: a beam never repeats an n-gram of this size (0 = off).
    """

    model_type = "nlu-kb-describe"

    def __init__(
        self,
        vocab_size: int = 4,
        num_slot_types: int = 1,
        word_embedding_size: int = 128,
        slot_embedding_size: int = 64,
        position_embedding_size: int = 16,
        max_position: int = 10,
        hidden_size: int = 256,
        attention_heads: int = 4,
        dropout: float = 0.2,
        max_output_length: int = 60,
        beam_size: int = 4,
        beam_length_penalty: float = 1.0,
        repeated_ngram_block: int = 3,
        **kwargs,
    ):
        problems = []
        if vocab_size < 4:
            problems.append(f"vocab_size must be at least 4 (the special words), got {vocab_size}")
        if hidden_size % 2 or hidden_size % attention_heads:
            problems.append(
                f"hidden_size ({hidden_size}) must be even and divisible by attention_heads ({attention_heads})"
            )
        if not 0.0 <= dropout < 1.0:
            problems.append(f"dropout must be in [0, 1), got {dropout}")
        if beam_size < 1 or max_output_length < 1 or max_position < 1:
            problems.append("beam_size, max_output_length and max_position must be at least 1")
        if problems:
            raise ValueError("; ".join(problems))
        self.vocab_size = vocab_size
        self.num_slot_types = num_slot_types
        self.word_embedding_size = word_embedding_size
        self.slot_embedding_size = slot_embedding_size
        self.position_embedding_size = position_embedding_size
        self.max_position = max_position
        self.hidden_size = hidden_size
        self.attention_heads = attention_heads
        self.dropout = dropout
        self.max_output_length = max_output_length
        self.beam_size = beam_size
        self.beam_length_penalty = beam_length_penalty
        self.repeated_ngram_block = repeated_ngram_block
        kwargs.setdefault("pad_token_id", 0)
        kwargs.setdefault("bos_token_id", 2)
        kwargs.setdefault("eos_token_id", 3)
        super().__init__(**kwargs)
