"""How an architecture exports (after optimum's ``OnnxConfig``): inputs, dynamic axes, outputs, decoding
information for the runtime, and the tolerances the export check applies. Each architecture's declaration
(``nlu.models.registry.Architecture.onnx``) holds one; torch is imported only when a model is wrapped."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OnnxConfig:
    """``atol``: largest |logit difference| allowed between an fp32 graph and torch. ``min_agreement``: share of
    intents and of word tags that must agree with torch (1.0 for fp32; less for int8, whose logits move)."""

    outputs: tuple[str, ...] = ("intent_logits", "slot_logits")
    atol: float = 1e-3
    min_agreement_fp32: float = 1.0
    min_agreement_int8: float = 0.97

    def inputs(self, model) -> list[str]:
        from nlu.models import model_input_names

        return model_input_names(model)

    def decoding(self, model) -> dict:
        """What the runtime needs besides the graph to turn logits into tags (``nlu.decoding.decoding_of``)."""
        from nlu.decoding import decoding_of

        return decoding_of(model)

    def wrap(self, model):
        """The module whose graph is exported: the encoder and the heads, returning (intent_logits,
        slot_logits); decoding (softmax or CRF Viterbi) runs in numpy at runtime."""
        import torch

        from nlu.models import model_input_names

        class LogitsOnly(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = model
                self.names = model_input_names(model)

            def forward(self, *inputs):
                out = self.model(**dict(zip(self.names, inputs, strict=True)))
                return out.intent_logits, out.slot_logits

        return LogitsOnly()
