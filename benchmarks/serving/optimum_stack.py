"""What a Hugging Face user would serve instead: the optimum stack, timed on the same utterances.

Run by ``python -m benchmarks.serving --optimum-python PY`` with the interpreter of a separate, benchmark-only
virtual environment that has ``optimum[onnxruntime]`` (nlu's own environment does not need it):

    make optimum      # python -m venv .venv-optimum && .venv-optimum/bin/pip install torch "optimum[onnxruntime]"

This file imports neither nlu nor the benchmarks package, only transformers, optimum and onnxruntime. Given a
token-classification model folder (the benchmark writes one: the trained model's MiniLM encoder and its slot
layer as ``BertForTokenClassification``), it

1. exports it with ``ORTModelForTokenClassification.from_pretrained(..., export=True)``;
2. optimises it with ``ORTOptimizer`` at level 2 (onnxruntime's transformer fusions, attention included);
3. quantises it dynamically to int8 with ``ORTQuantizer`` (the AVX-512 VNNI configuration, per tensor);
4. times, on one onnxruntime thread, ``pipeline("token-classification")`` per utterance (tokenise, session,
   softmax, word grouping; no intent, no CRF) and the bare ``InferenceSession.run`` on the tokenised utterance.

It prints one JSON object: the versions, the fused operators, and p50/p95/p99 of both timings in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def _percentiles(durations: list[float]) -> dict:
    ordered = sorted(durations)

    def at(q: float) -> float:  # numpy's linear interpolation
        pos = (len(ordered) - 1) * q / 100
        low = int(pos)
        high = min(low + 1, len(ordered) - 1)
        return (ordered[low] + (ordered[high] - ordered[low]) * (pos - low)) * 1000

    return {
        "n": len(ordered),
        "p50_ms": at(50),
        "p95_ms": at(95),
        "p99_ms": at(99),
        "mean_ms": statistics.fmean(ordered) * 1000,
    }


def _time_each(call, items) -> list[float]:
    durations = []
    for item in items:
        started = time.perf_counter()
        call(item)
        durations.append(time.perf_counter() - started)
    return durations


def _fused(model_path: Path) -> dict:
    import onnx

    counts: dict[str, int] = {}
    for node in onnx.load(str(model_path), load_external_data=False).graph.node:
        if node.op_type in {"Attention", "QAttention", "EmbedLayerNormalization", "SkipLayerNormalization"}:
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def build(model_dir: Path, work: Path) -> Path:
    """Export, optimise (level 2) and quantise (dynamic int8); the folder of the int8 model."""
    from optimum.onnxruntime import ORTModelForTokenClassification, ORTOptimizer, ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig, OptimizationConfig

    exported = work / "exported"
    ORTModelForTokenClassification.from_pretrained(model_dir, export=True).save_pretrained(exported)
    optimized = work / "optimized"
    ORTOptimizer.from_pretrained(exported).optimize(
        save_dir=optimized, optimization_config=OptimizationConfig(optimization_level=2)
    )
    quantized = work / "quantized"
    _default_tensor_type_float()
    config = AutoQuantizationConfig.avx512_vnni(is_static=False, per_channel=False)
    ORTQuantizer.from_pretrained(optimized, file_name="model_optimized.onnx").quantize(
        save_dir=quantized, quantization_config=config
    )
    return quantized


def _default_tensor_type_float() -> None:
    """onnxruntime's quantizer cannot infer the type of a tensor that a fused (com.microsoft) operator makes and
    stops on the level-2 graph; its ``DefaultTensorType`` option (float) is the documented way through, which
    optimum's ``quantize`` does not pass on: add it to every quantizer made here."""
    import onnx
    from onnxruntime.quantization.onnx_quantizer import ONNXQuantizer

    init = ONNXQuantizer.__init__

    def with_default_type(self, *args, **kwargs):
        kwargs["extra_options"] = dict(kwargs.get("extra_options") or {}) | {
            "DefaultTensorType": onnx.TensorProto.FLOAT
        }
        init(self, *args, **kwargs)

    ONNXQuantizer.__init__ = with_default_type


def measure(model_dir: Path, quantized: Path, texts: list[str], samples: int, warmup: int) -> dict:
    import onnxruntime as ort
    from optimum.onnxruntime import ORTModelForTokenClassification
    from transformers import AutoTokenizer, pipeline

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    onnx_file = next(quantized.glob("*.onnx"))
    model = ORTModelForTokenClassification.from_pretrained(
        quantized, file_name=onnx_file.name, session_options=options, provider="CPUExecutionProvider"
    )
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tagger = pipeline("token-classification", model=model, tokenizer=tokenizer, aggregation_strategy="simple")
    cycle = [texts[i % len(texts)] for i in range(samples)]
    _time_each(tagger, cycle[:warmup])
    pipeline_times = _time_each(tagger, cycle)

    session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    feeds = [{k: v for k, v in tokenizer(t, return_tensors="np").items() if k in names} for t in cycle]
    _time_each(lambda f: session.run(None, f), feeds[:warmup])
    session_times = _time_each(lambda f: session.run(None, f), feeds)
    return {
        "pipeline": _percentiles(pipeline_times),
        "session": _percentiles(session_times),
        "fused_operators": _fused(onnx_file),
        "model_bytes": onnx_file.stat().st_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", type=Path, help="a token-classification model folder")
    parser.add_argument("texts", type=Path, help="a JSON list of utterances")
    parser.add_argument("work", type=Path, help="a folder for the exported models")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=100)
    args = parser.parse_args()
    import onnxruntime
    import optimum.version
    import transformers

    texts = json.loads(args.texts.read_text(encoding="utf-8"))
    started = time.perf_counter()
    quantized = build(args.model_dir, args.work)
    build_seconds = time.perf_counter() - started
    result = measure(args.model_dir, quantized, texts, args.samples, args.warmup)
    result |= {
        "build_seconds": build_seconds,
        "versions": {
            "optimum": optimum.version.__version__,
            "onnxruntime": onnxruntime.__version__,
            "transformers": transformers.__version__,
        },
        "threads": 1,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
