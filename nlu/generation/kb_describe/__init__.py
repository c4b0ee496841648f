"""Knowledge-base description (Wang et al. 2018, "Describing a Knowledge Base"): a pointer-generator that writes
a text from a record of (slot type, value) pairs."""

from nlu.generation.kb_describe.configuration_kb_describe import KBDescribeConfig
from nlu.generation.kb_describe.modeling_kb_describe import KBDescribeForGeneration

__all__ = ["KBDescribeConfig", "KBDescribeForGeneration"]

from transformers import AutoConfig, AutoModel  # noqa: E402

AutoConfig.register(KBDescribeConfig.model_type, KBDescribeConfig, exist_ok=True)
AutoModel.register(KBDescribeConfig, KBDescribeForGeneration, exist_ok=True)
