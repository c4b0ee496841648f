"""The recipe options of the question-answering zero-shot model (``model.zeroshot_qa``): those of the zero-shot
model (label file, intent scoring, bonuses; ``nlu.models.zeroshot.options``) and what asking a question per slot
type adds. Torch-free, so that validating a recipe imports nothing heavy."""

from __future__ import annotations

from pydantic import Field

from nlu.models.zeroshot.options import ZeroShotOptions


class ZeroShotQAOptions(ZeroShotOptions):
    label_max_length: int = Field(
        32, ge=3, description="sub-tokens of an intent's label text or of a slot type's question"
    )
    label_file: str | None = Field(
        None,
        description="YAML label file (nlu.data.label_files): intents and slot types with descriptions, slot "
        "types optionally with example values, for the training labels",
    )
    unseen_slot_bonus: float = Field(
        0.0,
        ge=0.0,
        le=2.0,
        description="log-odds added at prediction time to the B and I scores of slot types training never saw",
    )
    negative_questions: int = Field(
        4,
        ge=0,
        description="questions per training utterance about slot types it does not have (their answer: O "
        "everywhere), drawn first from the types other utterances of its intent in the batch have",
    )
    examples_per_question: int = Field(
        2, ge=0, description="example values of a slot type (from the label file) written into its question"
    )
