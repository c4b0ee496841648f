"""Serving benchmark, in this process: the ONNX exports, single-utterance latency, batch throughput and test-split
scores of torch eager and of each exported variant."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.common import latency_summary, percentiles, time_each
from benchmarks.common import log as _log

# (name, export_model keyword arguments); torch eager is measured on the model directory itself.
ONNX_VARIANTS = {
    "onnx_fp32": {"quantize": "none", "optimize": False},
    "onnx_fp32_opt": {"quantize": "none", "optimize": True},
    "onnx_int8": {"quantize": "int8", "optimize": True},
}
STUDENT = "student_int8"  # a smaller model (--student), exported as onnx_int8 is
VARIANTS = ("torch_eager", *ONNX_VARIANTS, STUDENT)
LABELS = {
    "torch_eager": "torch eager (fp32)",
    "onnx_fp32": "ONNX fp32, unoptimised",
    "onnx_fp32_opt": "ONNX fp32, optimised",
    "onnx_int8": "ONNX int8 (optimised + int8)",
    STUDENT: "ONNX int8, the smaller student (--student)",
}


def log(message: str) -> None:
    _log("serving", message)


def export_variants(model_dir: Path, work_dir: Path, data: str | None, reuse: bool) -> dict:
    from nlu.export import export_model

    reports = {}
    for name, options in ONNX_VARIANTS.items():
        out = work_dir / name
        report_file = out / "export_report.json"
        manifest_file = out / "nlu.json"
        if reuse and report_file.is_file() and manifest_file.is_file():
            manifest = json.loads(manifest_file.read_text())
            if (
                manifest.get("source_model") == str(model_dir.resolve())
                and manifest.get("quantization") == options["quantize"]
                and manifest.get("optimized") == options["optimize"]
            ):
                log(f"export {name}: reusing {out}")
                reports[name] = json.loads(report_file.read_text()) | {"reused": True}
                continue
        log(f"export {name}: {options} -> {out}")
        started = time.perf_counter()
        report = export_model(model_dir, out, data=data, split="dev", **options)
        log(f"export {name}: {time.perf_counter() - started:.1f} s, {report['model_bytes'] / 1e6:.1f} MB")
        reports[name] = report
    return reports


def export_student(model_dir: Path, out: Path, data: str | None) -> dict:
    """The smaller student exported as ``onnx_int8`` is (optimised, int8), with its parity report."""
    from nlu.export import export_model
    from nlu.models import load_model

    log(f"export {STUDENT}: {model_dir} -> {out}")
    report = export_model(
        model_dir, out, data=data, split="dev", quantize="int8", optimize=True, overwrite=True
    )
    layers = load_model(model_dir).encoder.config.num_hidden_layers
    keep = ("model_bytes", "export_seconds", "fused_operators", "parity", "scores")
    return {"model_dir": str(model_dir), "encoder_layers": layers} | {k: report.get(k) for k in keep}


def measure_latency(call: Callable[[str], object], texts: Sequence[str], samples: int, warmup: int) -> dict:
    """One utterance per call, ``samples`` calls after ``warmup``, the test texts cycled."""
    time_each(call, (texts[i % len(texts)] for i in range(warmup)))
    durations = time_each(call, (texts[i % len(texts)] for i in range(samples)))
    return latency_summary(durations) | {"warmup": warmup}


def measure_throughput(
    call: Callable[[list[str]], object], texts: Sequence[str], batches: int, batch_size: int, warmup: int = 2
) -> dict:
    def batch(i: int) -> list[str]:
        return [texts[k % len(texts)] for k in range(i * batch_size, (i + 1) * batch_size)]

    time_each(call, (batch(i) for i in range(warmup)))
    batch_texts = [batch(i) for i in range(batches)]  # built before timing, as before
    durations = time_each(call, batch_texts)
    total = sum(durations)
    return {
        "batch_size": batch_size,
        "batches": batches,
        "utterances": batches * batch_size,
        "seconds": total,
        "utterances_per_second": batches * batch_size / total,
        "batch": latency_summary(durations),
    }


def score(examples, predictions) -> dict:
    from nlu.evaluation.metrics import evaluate_predictions

    summary = evaluate_predictions(examples, predictions, bootstrap=0).summary()
    return {k: summary[k] for k in ("n", "intent_accuracy", "slot_f1", "exact_match")}


class _Timed:
    """Proxy that records the duration of every call of one method of ``target``."""

    def __init__(self, target, method: str):
        self._target, self._method, self.times = target, method, []

    def __getattr__(self, name: str):
        attr = getattr(self._target, name)
        if name != self._method:
            return attr

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self.times.append(time.perf_counter() - started)

        return timed


def latency_breakdown(parser, texts: Sequence[str], samples: int) -> dict:
    """Where one ``parse`` call's time goes: tokenizer, onnxruntime, CRF decoding, the rest (Python glue)."""
    session, tokenizer = _Timed(parser.session, "run"), _Timed(parser.tokenizer, "encode_batch")
    crf = _Timed(parser.crf, "decode") if parser.crf is not None else None
    real = (parser.session, parser.tokenizer, parser.crf)
    parser.session, parser.tokenizer = session, tokenizer
    if crf is not None:
        parser.crf = crf
    rows = []
    try:
        for i in range(samples):
            started = time.perf_counter()
            parser.parse(texts[i % len(texts)])
            total = time.perf_counter() - started
            tok, run = tokenizer.times[-1], session.times[-1]
            decode = crf.times[-1] if crf is not None else 0.0
            rows.append((total, tok, run, decode, total - tok - run - decode))
    finally:
        parser.session, parser.tokenizer, parser.crf = real
    columns = ("total", "tokenizer", "onnxruntime_run", "crf_decoding", "other_python")
    medians = {c: percentiles([r[i] for r in rows], (50,))["p50"] * 1000 for i, c in enumerate(columns)}
    means = {c: statistics.fmean(r[i] for r in rows) * 1000 for i, c in enumerate(columns)}
    return {"samples": samples, "median_ms": medians, "mean_ms": means}


def bench_torch(model_dir: Path, texts, examples, args) -> dict:
    import torch

    from nlu.inference import TorchParser

    parser = TorchParser.load(model_dir)
    result: dict = {}
    torch.set_num_threads(1)
    log(f"torch eager: latency, 1 thread, {args.latency_samples} utterances")
    result["latency"] = measure_latency(parser.parse, texts, args.latency_samples, args.warmup)
    torch.set_num_threads(args.throughput_threads)
    log(f"torch eager: throughput, batch {args.batch_size}, {args.throughput_threads} threads")
    result["throughput"] = measure_throughput(
        parser.parse_batch, texts, args.throughput_batches, args.batch_size
    )
    log("torch eager: test-split scores")
    result["scores"] = score(examples, parser.parse_words([ex.tokens for ex in examples]))
    result["threads"] = {"latency": 1, "throughput": args.throughput_threads}
    return result


def bench_onnx(name: str, artifact: Path, texts, examples, args) -> dict:
    from nlu.runtime import Parser

    result: dict = {}
    single = Parser.load(artifact, num_threads=1)
    log(f"{name}: latency, 1 thread, {args.latency_samples} utterances")
    result["latency"] = measure_latency(single.parse, texts, args.latency_samples, args.warmup)
    if name in ("onnx_int8", STUDENT):
        log(f"{name}: latency breakdown")
        result["latency_breakdown"] = latency_breakdown(single, texts, args.latency_samples)
    single = None  # one session at a time
    parser = Parser.load(artifact, num_threads=args.throughput_threads)
    log(f"{name}: throughput, batch {args.batch_size}, {args.throughput_threads} threads")
    result["throughput"] = measure_throughput(
        lambda b: parser.parse_batch(b, batch_size=args.batch_size),
        texts,
        args.throughput_batches,
        args.batch_size,
    )
    log(f"{name}: test-split scores")
    result["scores"] = score(examples, parser.parse_words([ex.tokens for ex in examples]))
    result["threads"] = {"latency": 1, "throughput": args.throughput_threads}
    result["model_bytes"] = (artifact / "model.onnx").stat().st_size
    return result
