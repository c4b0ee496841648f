"""The ONNX graph of a joint model: exported from torch (the TorchScript exporter with eager attention, so that
onnxruntime can fuse each layer's attention; torch.export as the fallback), optimised by onnxruntime's transformer
fusions and quantised to int8 (dynamic, the output heads kept in float). :mod:`nlu.export.exporter` puts these
steps together and checks the result."""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from pathlib import Path

import torch

from nlu.export.onnx_config import OnnxConfig

logger = logging.getLogger(__name__)


def _torch_export(
    config: OnnxConfig, torch_parser, path: Path, opset: int, fusable: bool = False
) -> list[str]:
    """Export the model's logits graph with dynamic batch and sequence axes. ``fusable``: try the TorchScript
    exporter with the encoder's attention written out (eager) first: onnxruntime's transformer optimizer
    recognises that graph and fuses each layer's attention into one ``Attention`` node (``QAttention`` once
    quantised), which the torch.export graph does not allow; on any failure the torch.export exporter runs."""
    model = torch_parser.model
    inputs = config.inputs(model)
    words = [["a", "short", "one"], ["a", "somewhat", "longer", "example", "sentence", "here"]]
    feeds, _ = torch_parser.encode(words)
    args = tuple(torch.from_numpy(feeds[name]) for name in inputs)
    # The exporters log a warning per operator they cannot register and per deprecation; none concern this model.
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fusable:
            try:
                with _eager_attention(model):
                    torch.onnx.export(
                        config.wrap(model).eval(),
                        args,
                        str(path),
                        input_names=inputs,
                        output_names=list(config.outputs),
                        dynamic_axes={name: {0: "batch", 1: "sequence"} for name in inputs},
                        opset_version=17,
                        dynamo=False,
                    )
                return inputs
            except Exception as err:  # an operator the TorchScript exporter lacks: the other exporter
                logger.info("TorchScript export failed (%s); exporting through torch.export", err)
        batch, seq = (
            torch.export.Dim("batch", max=4096),
            torch.export.Dim("sequence", max=model.config.max_seq_length),
        )
        program = torch.onnx.export(
            config.wrap(model).eval(),
            args,
            input_names=inputs,
            output_names=list(config.outputs),
            dynamic_shapes=(tuple({0: batch, 1: seq} for _ in inputs),),  # the wrapper's one *inputs argument
            opset_version=opset,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    program.save(str(path), external_data=False)
    return inputs


@contextmanager
def _eager_attention(model):
    """The encoder's attention computed by plain matrix products for the duration (not SDPA), as
    onnxruntime's fusion expects it; the implementation the model had is restored after."""
    configs = {
        id(m.config): m.config
        for m in model.modules()
        if hasattr(getattr(m, "config", None), "_attn_implementation")
    }
    before = {key: config._attn_implementation for key, config in configs.items()}
    try:
        for config in configs.values():
            config._attn_implementation = "eager"
        yield
    finally:
        for key, config in configs.items():
            config._attn_implementation = before[key]


def _optimize(source: Path, target: Path, model) -> tuple[Path, dict]:
    """onnxruntime's transformer fusions (LayerNorm, GELU, attention where the pattern matches)."""
    from onnxruntime.transformers.optimizer import optimize_model

    encoder = model.encoder.config
    try:
        optimized = optimize_model(
            str(source),
            model_type="bert",
            num_heads=getattr(encoder, "num_attention_heads", 0),
            hidden_size=getattr(encoder, "hidden_size", 0),
        )
        fused = {k: v for k, v in optimized.get_fused_operator_statistics().items() if v}
        optimized.save_model_to_file(str(target))
        return target, fused
    except Exception as err:  # an encoder the fusion passes do not know: keep the plain graph
        logger.warning("graph optimisation skipped (%s); the unoptimised graph is used", err)
        return source, {}


def _head_matmuls(model_path: Path) -> list[str]:
    """The MatMul/Gemm nodes that produce the graph's outputs (the classifier heads), found by walking back
    from each output through element-wise and shape operators, plus every other MatMul that reads one of
    their weights (a head shared by two passes, as SlotRefine's slot classifier: quantising one use of a
    shared weight would leave a de-quantisation of the whole matrix in every run)."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    producers = {out: node for node in graph.node for out in node.output}
    passthrough = {"Add", "Reshape", "Identity", "Cast", "Squeeze", "Unsqueeze", "Gather", "Slice", "Flatten"}
    heads, seen = [], set()
    frontier = [output.name for output in graph.output]
    while frontier:
        node = producers.get(frontier.pop())
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        if node.op_type == "MatMul":
            heads.append(node.name)
        elif node.op_type == "Gemm":  # the quantiser first splits a Gemm into <name>_MatMul + <name>_Add
            heads.extend([node.name, f"{node.name}_MatMul"])
        elif node.op_type in passthrough:
            frontier.extend(node.input)
    initializers = {init.name for init in graph.initializer}
    head_weights = {
        name
        for node in graph.node
        if node.name in seen and node.op_type in ("MatMul", "Gemm")
        for name in node.input
        if name in initializers
    }
    for node in graph.node:
        if node.op_type == "MatMul" and node.name not in heads and head_weights.intersection(node.input):
            heads.append(node.name)
    return heads


def _quantize(source: Path, target: Path) -> Path:
    """int8 dynamic quantisation, per output channel, of the encoder's matrix multiplications. The classifier
    heads stay in fp32: they are a tiny share of the work, and their logits decide every label."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    hint = _DropMessage("pre-processing before quantization")  # an unconditional hint, not about this model
    root.addFilter(hint)
    for handler in root.handlers:
        handler.addFilter(hint)
    try:
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_exclude=_head_matmuls(source),
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.removeFilter(hint)
        for handler in root.handlers:
            handler.removeFilter(hint)
    return target


class _DropMessage(logging.Filter):
    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()
