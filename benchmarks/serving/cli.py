"""``python -m benchmarks.serving``: the command; see ``benchmarks/serving/__init__.py`` for what it measures."""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import benchmarks.serving
from benchmarks.common import REPO, argument_parser, command, machine, now, page_path, publish
from benchmarks.serving.comparison import optimum_stack
from benchmarks.serving.inprocess import (
    ONNX_VARIANTS,
    STUDENT,
    bench_onnx,
    bench_torch,
    export_student,
    export_variants,
    log,
)
from benchmarks.serving.load_test import load_test
from benchmarks.serving.probes import measure_import, measure_memory
from benchmarks.serving.report import PAGE, TARGETS, evaluate_targets, render

DEFAULT_MODEL = REPO / "runs" / "benchmark" / "atis-jointbert_crf-seed1" / "best"
# Package versions the page names besides torch and onnxruntime: the runtime's and the server's.
PACKAGES = ("tokenizers", "transformers", "numpy", "httpx", "uvicorn")
SETTINGS = (
    "requests",
    "concurrency",
    "workers",
    "threads",
    "latency_samples",
    "warmup",
    "throughput_batches",
    "batch_size",
    "throughput_threads",
    "load_timeout",
    "load_matrix",
)
# Settings whose default depends on --quick: (full measurement, smoke run).
QUICK_DEFAULTS = {
    "requests": (10000, 500),
    "latency_samples": (2000, 200),
    "warmup": (100, 20),
    "throughput_batches": (60, 5),
    "load_timeout": (900.0, 120.0),
    "load_matrix": (["16x1", "64x1", "16x2", "64x2"], ["16x1"]),
}


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def arguments() -> argparse.ArgumentParser:
    parser = argument_parser("benchmarks.serving", benchmarks.serving.__doc__)
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--data", default="atis", help="data set whose test split is used (name or folder)")
    parser.add_argument("--out", type=Path, default=None, help="the page (default docs/performance.md)")
    parser.add_argument("--requests", type=int, default=None, help="load-test requests (10000; quick 500)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent load-test clients")
    parser.add_argument("--workers", type=int, default=1, help="nlu serve --workers")
    parser.add_argument("--threads", type=int, default=1, help="nlu serve --threads")
    parser.add_argument("--latency-samples", type=int, default=None, help="per variant (2000; quick 200)")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up calls per variant (100; quick 20)")
    parser.add_argument("--throughput-batches", type=int, default=None, help="per variant (60; quick 5)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--throughput-threads", type=int, default=2)
    parser.add_argument("--load-timeout", type=float, default=None, help="hard limit, s (900; quick 120)")
    parser.add_argument("--startup-timeout", type=float, default=120.0, help="wait for /health, s")
    parser.add_argument("--work-dir", type=Path, default=None, help="keep the artifacts here (default: temp)")
    parser.add_argument("--reuse-exports", action="store_true", help="reuse artifacts already in --work-dir")
    parser.add_argument("--skip-load-test", action="store_true")
    parser.add_argument(
        "--load-matrix",
        nargs="+",
        default=None,
        metavar="CLIENTSxWORKERS",
        help="the load tests to run, e.g. 16x1 64x1 16x2 64x2 (the default; quick: 16x1)",
    )
    parser.add_argument(
        "--student", type=Path, help="a smaller trained model (RUN/best) exported int8 and measured beside"
    )
    parser.add_argument(
        "--optimum-python",
        type=Path,
        help="the python of a virtual environment with optimum[onnxruntime]: times the optimum stack beside",
    )
    parser.add_argument("--quick", action="store_true", help="a fast smoke run: small samples")
    return parser


def measure(model_dir: Path, work_dir: Path, texts, examples, args, results: dict) -> None:
    """Every measurement, into ``results``: exports, each variant in process, memory, import time, load."""
    exports = export_variants(model_dir, work_dir, None if args.quick else args.data, args.reuse_exports)
    results["exports"] = {
        name: {k: r.get(k) for k in ("model_bytes", "export_seconds", "fused_operators", "parity", "scores")}
        for name, r in exports.items()
    }
    results["variants"]["torch_eager"] = bench_torch(model_dir, texts, examples, args)
    for name in ONNX_VARIANTS:
        results["variants"][name] = bench_onnx(name, work_dir / name, texts, examples, args)
    if args.student:
        try:  # a failure is recorded, not raised: the measurements so far are kept
            data = None if args.quick else args.data
            results["student"] = export_student(args.student, work_dir / STUDENT, data)
            results["variants"][STUDENT] = bench_onnx(STUDENT, work_dir / STUDENT, texts, examples, args)
        except Exception as err:
            log(f"student failed: {err}")
            results["student"] = {"error": f"{type(err).__name__}: {err}"}
    if args.optimum_python:
        samples, warmup = args.latency_samples, args.warmup
        try:
            results["optimum"] = optimum_stack(
                model_dir, args.optimum_python, texts, work_dir, samples, warmup
            )
        except Exception as err:
            log(f"optimum stack failed: {err}")
            results["optimum"] = {"error": f"{type(err).__name__}: {err}"}
    int8 = work_dir / "onnx_int8"
    log("memory of a serving-only process")
    results["memory"] = measure_memory(int8, texts, work_dir)
    log("import time of nlu.runtime")
    results["import"] = measure_import()
    if not args.skip_load_test:
        results["load_tests"] = [
            run_load_test(int8, texts, args, work_dir, cell) for cell in args.load_matrix
        ]


def parse_cell(cell: str) -> tuple[int, int]:
    """``64x2`` -> (64 clients, 2 workers); ``ValueError`` for anything else."""
    parts = cell.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ValueError(cell)
    return int(parts[0]), int(parts[1])


def run_load_test(artifact: Path, texts, args, work_dir: Path, cell: str) -> dict:
    """One load test, ``cell`` = CLIENTSxWORKERS; a failure is recorded (a failed target), not raised."""
    clients, workers = parse_cell(cell)
    gc.collect()
    try:
        return load_test(
            artifact,
            texts,
            argparse.Namespace(**vars(args) | {"concurrency": clients, "workers": workers}),
            work_dir,
        )
    except Exception as err:
        log(f"load test {cell} failed: {err}")
        return {"concurrency": clients, "workers": workers, "error": f"{type(err).__name__}: {err}"}


def main() -> None:
    args = arguments().parse_args()
    for key, (full, small) in QUICK_DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, small if args.quick else full)
    try:
        [parse_cell(cell) for cell in args.load_matrix]
    except ValueError as err:
        sys.exit(f"--load-matrix {err}: expected CLIENTSxWORKERS with positive numbers, e.g. 64x2")
    if args.student and not (args.student / "config.json").is_file():
        sys.exit(f"--student {args.student}: not a trained model directory (no config.json)")
    if args.optimum_python and not os.access(args.optimum_python, os.X_OK):
        sys.exit(
            f"--optimum-python {args.optimum_python}: not an executable python; run `make optimum` first"
        )
    model_dir = args.model_dir if args.model_dir.is_absolute() else (Path.cwd() / args.model_dir)
    if not (model_dir / "config.json").is_file():
        sys.exit(
            f"{args.model_dir}: not a trained model directory (no config.json); train it first or pass --model-dir"
        )
    started = time.perf_counter()
    from nlu.data.registry import load_split

    examples = load_split(args.data, "test")
    texts = [" ".join(ex.tokens) for ex in examples if ex.tokens]
    results: dict = {
        "model_dir": str(args.model_dir),
        "data": args.data,
        "test_utterances": len(examples),
        "quick": args.quick,
        "command": command("benchmarks.serving"),
        "machine": machine(packages=PACKAGES),
        "loadavg_start": loadavg(),
        "settings": {k: getattr(args, k) for k in SETTINGS},
        "targets_definition": TARGETS,
        "variants": {},
    }
    log(
        f"model {model_dir}, {len(examples)} test utterances of {args.data}; load average {results['loadavg_start']}"
    )
    temp = None if args.work_dir else Path(tempfile.mkdtemp(prefix="nlu-serving-bench-"))
    work_dir = temp or args.work_dir
    work_dir.mkdir(parents=True, exist_ok=True)
    try:
        measure(model_dir, work_dir, texts, examples, args, results)
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    results["targets"] = evaluate_targets(results)
    results["loadavg_end"] = loadavg()
    results["written"] = now()
    results["total_seconds"] = time.perf_counter() - started
    out = publish(PAGE, results, render, page_path(PAGE, args.out))
    log(f"wrote {out} and {out.with_suffix('.json')}")
    for t in results["targets"]:
        print(f"{t['target']}: {t['value']} (bar {t['bar']}) -> {'met' if t['met'] else 'NOT MET'}")
