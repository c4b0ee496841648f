from nlu.models.zeroshot.configuration_zeroshot import ZeroShotConfig
from nlu.models.zeroshot.descriptions import humanize, label_text, load_label_file
from nlu.models.zeroshot.modeling_zeroshot import ZeroShotForIntentSlot, build_zeroshot

__all__ = [
    "ZeroShotConfig",
    "ZeroShotForIntentSlot",
    "build_zeroshot",
    "humanize",
    "label_text",
    "load_label_file",
]
