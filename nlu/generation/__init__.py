"""Generators beside the parser: response templates (``templates``), knowledge-base description
(``kb_describe``) and metrics for generated text (``metrics``)."""
