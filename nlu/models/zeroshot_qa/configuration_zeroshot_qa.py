"""Configuration of the question-answering zero-shot model: slot filling as reading comprehension, one question
per slot type (Yu et al. 2021, "Cross-Domain Slot Filling as Machine Reading Comprehension"; Du et al. 2021),
with the slot type's description and example values in the question (Shah et al. 2019). Intents are scored as
the zero-shot model scores them, so the label set is the zero-shot model's: names, descriptions, the labels
training saw, calibration bonuses (``nlu.models.zeroshot.configuration_zeroshot``)."""

from __future__ import annotations

from nlu.models.zeroshot.configuration_zeroshot import ZeroShotConfig, slot_types_of
from nlu.models.zeroshot_qa.options import ZeroShotQAOptions
from nlu.schema import default


class ZeroShotQAConfig(ZeroShotConfig):
    """Everything needed to rebuild the model without the original backbone files, questions included.

    Args:
        The arguments of :class:`~nlu.models.zeroshot.configuration_zeroshot.ZeroShotConfig`, with two
        differences: ``label_token_ids`` holds the intents' label texts, then each slot type's *question*
        (``nlu.data.label_files.question_text``: name, description and example values), tokenised as a sequence
        of its own (``[CLS] ... [SEP]``); and ``unseen_slot_bonus`` is log-odds added to the B and I scores of
        the slot types training never saw. ``lexicon_types`` must be empty: gazetteer features gate an
        utterance's token states, and here the words are read inside each question's sequence.
        slot_examples: slot type -> example values (a few; the label file's), for the types that have some.
        examples_per_question: how many of a type's example values its question names (0: none).
        negative_questions: in training, how many slot types an utterance does not have it is also asked about
            (each one's answer is O on every word); see ``modeling_zeroshot_qa.sample_questions``.
    """

    model_type = "nlu-zeroshot_qa"

    def __init__(
        self,
        slot_examples: dict[str, list[str]] | None = None,
        examples_per_question: int = default(ZeroShotQAOptions, "examples_per_question"),
        negative_questions: int = default(ZeroShotQAOptions, "negative_questions"),
        label_max_length: int = default(ZeroShotQAOptions, "label_max_length"),
        **kwargs,
    ):
        if kwargs.get("lexicon_types"):
            raise ValueError(
                "lexicon_types must be empty for the question-answering zero-shot model: gazetteer features "
                "gate an utterance's token states, and its words are read inside each slot type's question"
            )
        super().__init__(label_max_length=label_max_length, **kwargs)
        if examples_per_question < 0:
            raise ValueError(f"examples_per_question must be >= 0, got {examples_per_question}")
        if negative_questions < 0:
            raise ValueError(f"negative_questions must be >= 0, got {negative_questions}")
        self.examples_per_question = int(examples_per_question)
        self.negative_questions = int(negative_questions)
        self.slot_examples = check_slot_examples(slot_examples, slot_types_of(self.slot_labels))
        positions = self.encoder.get("max_position_embeddings")
        if positions and self.label_max_length + self.max_seq_length - 1 > positions:
            raise ValueError(
                f"a question ({self.label_max_length} sub-tokens at most) and an utterance "
                f"({self.max_seq_length}) are read as one sequence, longer than the encoder's "
                f"{positions} positions; lower max_length or label_max_length"
            )


def check_slot_examples(given: dict[str, list[str]] | None, types: list[str]) -> dict[str, list[str]]:
    """slot type -> its example values (strings), for types of ``types`` only; raises ValueError on unknown
    types or values that are not strings."""
    given = dict(given or {})
    unknown = sorted(set(given) - set(types))
    if unknown:
        raise ValueError(
            f"slot_examples names slot types that are not in the vocabulary: {', '.join(unknown)}"
        )
    bad = sorted(
        t
        for t, values in given.items()
        if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values)
    )
    if bad:
        raise ValueError(f"slot_examples: expected a list of strings per slot type (see {', '.join(bad)})")
    return {t: list(given[t]) for t in types if given.get(t)}
