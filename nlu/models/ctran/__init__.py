from nlu.models.ctran.configuration_ctran import CtranConfig
from nlu.models.ctran.modeling_ctran import CtranForIntentSlot, build_ctran

__all__ = ["CtranConfig", "CtranForIntentSlot", "build_ctran"]
