"""Template filling for recommender dialogue (NTRD, Liang et al. 2021)."""

from transformers import AutoConfig, AutoModel

from nlu.generation.ntrd.configuration_ntrd import NTRDConfig
from nlu.generation.ntrd.modeling_ntrd import NTRDForTemplateFilling

AutoConfig.register(NTRDConfig.model_type, NTRDConfig, exist_ok=True)
AutoModel.register(NTRDConfig, NTRDForTemplateFilling, exist_ok=True)

__all__ = ["NTRDConfig", "NTRDForTemplateFilling"]
