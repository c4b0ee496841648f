"""LLM backends, prompt templates and output parsing for prompting-based intent detection and slot filling."""
