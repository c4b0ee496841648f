from nlu.models.jointbert.configuration_jointbert import JointBertConfig
from nlu.models.jointbert.modeling_jointbert import JointBertForIntentSlot, build_jointbert

__all__ = ["JointBertConfig", "JointBertForIntentSlot", "build_jointbert"]
