"""The question-answering zero-shot model: a question per slot type, read with the utterance, its answer tagged
B/I on the words (Yu et al. 2021; Du et al. 2021; example values as Shah et al. 2019), so a slot type added at
prediction time is a new question; intents scored as the zero-shot model scores them.

The folder declares the architecture once (``ARCHITECTURE``, read by ``nlu.models.registry``); the model
classes are imported when first used, so that the declaration stays torch-free.
"""

from __future__ import annotations

from nlu.models.registry import Architecture, lazy_attributes
from nlu.models.zeroshot_qa.options import ZeroShotQAOptions

ARCHITECTURE = Architecture(
    name="zeroshot_qa",
    config="nlu.models.zeroshot_qa.configuration_zeroshot_qa:ZeroShotQAConfig",
    model="nlu.models.zeroshot_qa.modeling_zeroshot_qa:ZeroShotQAForIntentSlot",
    options=ZeroShotQAOptions,
    fixed={
        "use_crf": (
            False,
            "the question-answering model has no CRF (its transitions could not cover new tags)",
        )
    },
    build="nlu.models.zeroshot_qa.modeling_zeroshot_qa:build_zeroshot_qa",  # questions, tokenised
    description="a question per slot type, its answer tagged on the words (Yu et al. 2021, Du et al. 2021)",
)

_LAZY = {
    "ZeroShotQAConfig": "configuration_zeroshot_qa",
    "ZeroShotQAForIntentSlot": "modeling_zeroshot_qa",
    "build_zeroshot_qa": "modeling_zeroshot_qa",
    "sample_questions": "questions",
    "pack_questions": "questions",
    "merged_slot_logits": "questions",
}
__all__ = ["ARCHITECTURE", "ZeroShotQAOptions", *_LAZY]

__getattr__ = lazy_attributes(__name__, _LAZY)
