from nlu.models.jointidsf.configuration_jointidsf import JointIdsfConfig
from nlu.models.jointidsf.modeling_jointidsf import JointIdsfForIntentSlot, build_jointidsf

__all__ = ["JointIdsfConfig", "JointIdsfForIntentSlot", "build_jointidsf"]
