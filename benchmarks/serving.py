"""Benchmark: serving speed, memory and accuracy of one trained model, torch eager vs the exported ONNX variants.

For one model directory, in one run:

1. exports three artifacts into a work directory: ONNX fp32 without graph optimisation, ONNX fp32 optimised
   (onnxruntime transformer fusions), ONNX int8 (optimised, then dynamic int8 quantisation);
2. for torch eager (``Predictor.predict``) and each artifact (``Parser.parse``): single-utterance latency on one
   thread (p50/p95/p99, tokenisation and decoding included, real test utterances cycled after a warm-up),
   throughput at batch 32 on two threads, and test-split intent accuracy / slot F1 / exact match;
3. the resident memory of a fresh process that only imports ``nlu.runtime``, loads the int8 artifact and parses
   100 utterances (and whether torch got imported there: it must not);
4. the time of ``import nlu.runtime`` in a fresh interpreter (median of 5);
5. a load test: ``nlu serve`` on the int8 artifact on a free loopback port, N requests from C concurrent
   clients, throughput, latency percentiles and errors;

and writes ``docs/performance.md`` (tables, targets met / not met, machine, command) and
``docs/performance.json`` (every raw number).

    NLU_DATA_DIR=../shared/data python benchmarks/serving.py                    # the full measurement
    NLU_DATA_DIR=../shared/data python benchmarks/serving.py --model-dir runs/quickstart/best --data demo \\
        --quick --out /tmp/perf.md                                            # a smoke run (a few minutes)

Timings are only meaningful on an otherwise idle machine: the load average at the start and the end is
recorded, and the report warns when the machine was busy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from machine import cpu_model  # noqa: E402

DEFAULT_MODEL = REPO / "runs" / "benchmark" / "atis-jointbert_crf-seed1" / "best"

# (name, export_model keyword arguments); torch eager is measured on the model directory itself.
ONNX_VARIANTS = {
    "onnx_fp32": {"quantize": "none", "optimize": False},
    "onnx_fp32_opt": {"quantize": "none", "optimize": True},
    "onnx_int8": {"quantize": "int8", "optimize": True},
}
VARIANTS = ("torch_eager", *ONNX_VARIANTS)
LABELS = {
    "torch_eager": "torch eager (fp32)",
    "onnx_fp32": "ONNX fp32, unoptimised",
    "onnx_fp32_opt": "ONNX fp32, optimised",
    "onnx_int8": "ONNX int8 (optimised + int8)",
}

TARGETS = {
    "int8_p50_ms": 2.0,
    "int8_speedup_vs_torch": 5.0,
    "int8_slot_f1_drop_points": 0.3,
    "serving_rss_mb": 200.0,
    "import_seconds": 0.3,
    "load_errors": 0,
}
HEAVY_MODULES = ("torch", "transformers", "datasets", "onnx", "onnxscript", "pandas", "scipy", "sklearn")

# Run in a fresh interpreter: only the runtime, one artifact, N utterances; then report memory and modules.
MEMORY_PROBE = r"""
import json, resource, sys, time
started = time.perf_counter()
from nlu.runtime import Parser
import_seconds = time.perf_counter() - started
parser = Parser.load(sys.argv[1], num_threads=int(sys.argv[3]))
with open(sys.argv[2], encoding="utf-8") as f:
    texts = json.load(f)
for text in texts:
    parser.parse(text)
status = {}
with open("/proc/self/status") as f:
    for line in f:
        key, _, value = line.partition(":")
        status[key] = value.split()
kb = lambda key: int(status[key][0]) if key in status else None
heavy = json.loads(sys.argv[4])
print(json.dumps({
    "parsed": len(texts),
    "import_seconds": import_seconds,
    "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "vmrss_kb": kb("VmRSS"),
    "vmhwm_kb": kb("VmHWM"),
    "torch_imported": "torch" in sys.modules,
    "heavy_modules_imported": sorted(m for m in heavy if m in sys.modules),
    "modules_loaded": len(sys.modules),
}))
"""
IMPORT_PROBE = "import time; t=time.perf_counter(); import nlu.runtime; print(time.perf_counter()-t)"


# ---------------------------------------------------------------------------------------------- helpers


def log(message: str) -> None:
    print(f"[serving {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentiles_ms(durations_s: Sequence[float]) -> dict:
    a = np.asarray(durations_s, dtype=np.float64) * 1000.0
    if a.size == 0:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "mean_ms": None, "max_ms": None}
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return {
        "n": int(a.size),
        "p50_ms": float(p50),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "mean_ms": float(a.mean()),
        "max_ms": float(a.max()),
    }


def machine_info() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in ("onnxruntime", "torch", "tokenizers", "transformers", "numpy", "httpx", "uvicorn"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        "versions": versions,
    }


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nlu_command() -> list[str]:
    """The ``nlu`` console script of this interpreter's environment, else the CLI through ``-c``."""
    script = Path(sys.executable).parent / "nlu"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from nlu.cli.main import main; sys.argv[0] = 'nlu'; main()"]


def _proc_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (Linux /proc), for the server's worker processes."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            with contextlib.suppress(OSError):
                todo += [int(c) for c in (task / "children").read_text().split()]
    return found


def _proc_stats(pids: Sequence[int]) -> dict:
    """Summed CPU seconds and resident memory (KB) of some processes; missing ones are skipped."""
    tick = os.sysconf("SC_CLK_TCK")
    cpu, rss, hwm = 0.0, 0, 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            cpu += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return {"cpu_seconds": cpu, "rss_kb": rss, "hwm_kb": hwm}


# ---------------------------------------------------------------------------------------------- export


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


# ---------------------------------------------------------------------------------------------- in-process


def measure_latency(call: Callable[[str], object], texts: Sequence[str], samples: int, warmup: int) -> dict:
    for i in range(warmup):
        call(texts[i % len(texts)])
    durations = []
    for i in range(samples):
        text = texts[i % len(texts)]
        started = time.perf_counter()
        call(text)
        durations.append(time.perf_counter() - started)
    return percentiles_ms(durations) | {"warmup": warmup}


def measure_throughput(
    call: Callable[[list[str]], object], texts: Sequence[str], batches: int, batch_size: int, warmup: int = 2
) -> dict:
    def batch(i: int) -> list[str]:
        return [texts[k % len(texts)] for k in range(i * batch_size, (i + 1) * batch_size)]

    for i in range(warmup):
        call(batch(i))
    durations = []
    for i in range(batches):
        texts_i = batch(i)
        started = time.perf_counter()
        call(texts_i)
        durations.append(time.perf_counter() - started)
    total = sum(durations)
    return {
        "batch_size": batch_size,
        "batches": batches,
        "utterances": batches * batch_size,
        "seconds": total,
        "utterances_per_second": batches * batch_size / total,
        "batch": percentiles_ms(durations),
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
    medians = {c: statistics.median(r[i] for r in rows) * 1000 for i, c in enumerate(columns)}
    means = {c: statistics.fmean(r[i] for r in rows) * 1000 for i, c in enumerate(columns)}
    return {"samples": samples, "median_ms": medians, "mean_ms": means}


def bench_torch(model_dir: Path, texts, examples, args) -> dict:
    import torch

    from nlu.inference import Predictor

    predictor = Predictor.load(model_dir)
    result: dict = {}
    torch.set_num_threads(1)
    log(f"torch eager: latency, 1 thread, {args.latency_samples} utterances")
    result["latency"] = measure_latency(
        lambda t: predictor.predict([t]), texts, args.latency_samples, args.warmup
    )
    torch.set_num_threads(args.throughput_threads)
    log(f"torch eager: throughput, batch {args.batch_size}, {args.throughput_threads} threads")
    result["throughput"] = measure_throughput(
        predictor.predict, texts, args.throughput_batches, args.batch_size
    )
    log("torch eager: test-split scores")
    result["scores"] = score(examples, predictor.predict_examples(examples))
    result["threads"] = {"latency": 1, "throughput": args.throughput_threads}
    return result


def bench_onnx(name: str, artifact: Path, texts, examples, args) -> dict:
    from nlu.runtime import Parser

    result: dict = {}
    single = Parser.load(artifact, num_threads=1)
    log(f"{name}: latency, 1 thread, {args.latency_samples} utterances")
    result["latency"] = measure_latency(single.parse, texts, args.latency_samples, args.warmup)
    if name == "onnx_int8":
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


# ---------------------------------------------------------------------------------------------- subprocesses


def measure_memory(artifact: Path, texts: Sequence[str], work_dir: Path, count: int = 100) -> dict:
    texts_file = work_dir / "memory_texts.json"
    texts_file.write_text(json.dumps([texts[i % len(texts)] for i in range(count)]), encoding="utf-8")
    # Through sh, which forks the probe: a process exec'd straight from this one (fork or vfork) inherits this
    # process's peak RSS in ru_maxrss (Linux keeps the pre-exec high-water mark), gigabytes once torch is loaded.
    probe = [
        sys.executable,
        "-c",
        MEMORY_PROBE,
        str(artifact),
        str(texts_file),
        "1",
        json.dumps(HEAVY_MODULES),
    ]
    proc = subprocess.run(
        ["/bin/sh", "-c", '"$@"; exit $?', "sh", *probe],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"memory probe failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["peak_rss_mb"] = result["ru_maxrss_kb"] * 1024 / 1e6
    for key in ("vmrss", "vmhwm"):
        kb = result[f"{key}_kb"]
        result[f"{key}_mb"] = kb * 1024 / 1e6 if kb is not None else None
    result["current_rss_mb"] = result["vmrss_mb"]
    return result


def measure_import(runs: int = 5) -> dict:
    times = []
    for _ in range(runs):
        proc = subprocess.run(
            [sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, timeout=120, cwd=REPO
        )
        if proc.returncode != 0:
            raise RuntimeError(f"import nlu.runtime failed:\n{proc.stderr[-3000:]}")
        times.append(float(proc.stdout.strip().splitlines()[-1]))
    # One more run with -X importtime: which top-level packages the time goes to.
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import nlu.runtime"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    packages: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)", line)
        if m and "." not in m.group(4):  # top-level packages; their cumulative time includes submodules
            packages[m.group(4)] = packages.get(m.group(4), 0.0) + int(m.group(2)) / 1e6
    top = sorted(packages.items(), key=lambda kv: -kv[1])[:8]
    return {
        "runs": runs,
        "seconds": times,
        "median_seconds": statistics.median(times),
        "command": f'{Path(sys.executable).name} -c "{IMPORT_PROBE}"',
        "top_packages_seconds": dict(top),
    }


# ---------------------------------------------------------------------------------------------- load test


async def _send(url: str, texts: Sequence[str], n: int, concurrency: int, deadline: float) -> dict:
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    counter = itertools.count()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(30.0)) as client:

        async def worker() -> None:
            while True:
                i = next(counter)
                if i >= n or time.perf_counter() > deadline:
                    return
                started = time.perf_counter()
                try:
                    response = await client.post(url, json={"text": texts[i % len(texts)]})
                    if response.status_code != 200:
                        errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
                except Exception as err:  # every failure counts, whatever its type
                    errors.append(f"{type(err).__name__}: {err}"[:200])
                latencies.append(time.perf_counter() - started)

        timed_out = False
        started = time.perf_counter()
        try:
            await asyncio.wait_for(
                asyncio.gather(*(worker() for _ in range(concurrency))),
                timeout=max(deadline - time.perf_counter(), 0) + 30,
            )
        except (asyncio.TimeoutError, TimeoutError):
            timed_out = True
        wall = time.perf_counter() - started
    timed_out = timed_out or time.perf_counter() > deadline
    return {"latencies": latencies, "errors": errors, "wall": wall, "timed_out": timed_out}


def load_test(artifact: Path, texts: Sequence[str], args, work_dir: Path) -> dict:
    import httpx

    port = free_port()
    command = nlu_command() + [
        "serve",
        str(artifact),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
    ]
    server_log = work_dir / "server.log"
    base = f"http://127.0.0.1:{port}"
    log(f"load test: starting {' '.join(command)}")
    with open(server_log, "wb") as out:  # a file, not a pipe: a full pipe would stall the server
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True
        )
    result: dict = {
        "workers": args.workers,
        "threads": args.threads,
        "concurrency": args.concurrency,
        "requests": args.requests,
        "server_command": " ".join(["nlu"] + command[len(nlu_command()) :]),
    }
    try:
        started = time.perf_counter()
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"nlu serve exited with {proc.returncode} before answering /health:\n"
                    + server_log.read_text(errors="replace")[-3000:]
                )
            try:
                if httpx.get(f"{base}/health", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.perf_counter() - started > args.startup_timeout:
                raise RuntimeError(f"nlu serve did not answer /health within {args.startup_timeout} s")
            time.sleep(0.2)
        result["startup_seconds"] = time.perf_counter() - started
        log(f"load test: server up after {result['startup_seconds']:.1f} s on port {port}")

        warm = min(args.requests // 10, 200)
        asyncio.run(_send(f"{base}/parse", texts, warm, args.concurrency, time.perf_counter() + 60))
        result["warmup_requests"] = warm

        pids = _proc_tree(proc.pid)
        server_before = _proc_stats(pids)
        client_before = resource.getrusage(resource.RUSAGE_SELF)
        log(f"load test: {args.requests} requests, {args.concurrency} concurrent clients")
        sent = asyncio.run(
            _send(
                f"{base}/parse",
                texts,
                args.requests,
                args.concurrency,
                time.perf_counter() + args.load_timeout,
            )
        )
        client_after = resource.getrusage(resource.RUSAGE_SELF)
        pids = _proc_tree(proc.pid)
        server_after = _proc_stats(pids)
        completed = len(sent["latencies"])
        server_cpu = server_after["cpu_seconds"] - server_before["cpu_seconds"]
        client_cpu = (client_after.ru_utime + client_after.ru_stime) - (
            client_before.ru_utime + client_before.ru_stime
        )
        result |= {
            "completed": completed,
            "errors": len(sent["errors"]) + (args.requests - completed),
            "error_examples": sorted(set(sent["errors"]))[:5],
            "not_sent": args.requests - completed,
            "timed_out": sent["timed_out"],
            "wall_seconds": sent["wall"],
            "requests_per_second": completed / sent["wall"] if sent["wall"] else None,
            "latency": percentiles_ms(sent["latencies"]),
            "server_processes": len(pids),
            "server_cpu_seconds": server_cpu,
            "server_cpu_ms_per_request": 1000 * server_cpu / completed if completed else None,
            "server_rss_mb_after": server_after["rss_kb"] * 1024 / 1e6,
            "server_peak_rss_mb": server_after["hwm_kb"] * 1024 / 1e6,
            "client_cpu_seconds": client_cpu,
            "client_cpu_share": client_cpu / sent["wall"] if sent["wall"] else None,
        }
    finally:
        stop(proc)
        result["server_exit_code"] = proc.returncode
        result["server_log_tail"] = server_log.read_text(errors="replace")[-2000:]
    return result


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (it was started in its own session), SIGKILL after 15 s."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)


# ---------------------------------------------------------------------------------------------- report


def evaluate_targets(results: dict) -> list[dict]:
    v = results["variants"]
    rows = []

    def add(name: str, target: str, value, met: bool | None, note: str = "") -> None:
        rows.append({"target": name, "bar": target, "value": value, "met": met, "note": note})

    int8, torch_ = v.get("onnx_int8"), v.get("torch_eager")
    if int8:
        p50 = int8["latency"]["p50_ms"]
        add(
            "int8 single-utterance p50 (1 thread)",
            f"<= {TARGETS['int8_p50_ms']} ms",
            f"{p50:.2f} ms",
            p50 <= TARGETS["int8_p50_ms"],
        )
    if int8 and torch_:
        speedup = torch_["latency"]["p50_ms"] / int8["latency"]["p50_ms"]
        tput = int8["throughput"]["utterances_per_second"] / torch_["throughput"]["utterances_per_second"]
        add(
            "int8 speed-up vs torch eager (p50 latency)",
            f">= {TARGETS['int8_speedup_vs_torch']:.0f}x",
            f"{speedup:.1f}x",
            speedup >= TARGETS["int8_speedup_vs_torch"],
            f"throughput at batch {int8['throughput']['batch_size']}: {tput:.1f}x",
        )
        drop = 100 * (torch_["scores"]["slot_f1"] - int8["scores"]["slot_f1"])
        note = ""
        if "onnx_fp32_opt" in v:
            drop_onnx = 100 * (v["onnx_fp32_opt"]["scores"]["slot_f1"] - int8["scores"]["slot_f1"])
            note = f"vs ONNX fp32 optimised: {drop_onnx:+.2f} points"
        add(
            "int8 slot F1 drop vs fp32 (torch eager)",
            f"<= {TARGETS['int8_slot_f1_drop_points']} points",
            f"{drop:+.2f} points",
            drop <= TARGETS["int8_slot_f1_drop_points"],
            note,
        )
    memory = results.get("memory")
    if memory:
        add(
            "serving process peak RSS (int8, 100 parses)",
            f"<= {TARGETS['serving_rss_mb']:.0f} MB",
            f"{memory['peak_rss_mb']:.1f} MB",
            memory["peak_rss_mb"] <= TARGETS["serving_rss_mb"],
            f"VmHWM {memory['vmhwm_mb']:.1f} MB; "
            + ("torch imported!" if memory["torch_imported"] else "torch not imported"),
        )
    imp = results.get("import")
    if imp:
        add(
            "import nlu.runtime (median of 5)",
            f"<= {TARGETS['import_seconds']} s",
            f"{imp['median_seconds']:.3f} s",
            imp["median_seconds"] <= TARGETS["import_seconds"],
        )
    load = results.get("load_test")
    if load:
        if "error" in load:
            add("errors under load", "0", "load test failed", False, load["error"][:200])
        else:
            add("errors under load", "0", f"{load['errors']} of {load['requests']}", load["errors"] == 0)
    return rows


def _f(value, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def write_report(results: dict, out: Path) -> None:
    v = results["variants"]
    m = results["machine"]
    lines = [
        "# Serving performance",
        "",
        f"Model `{results['model_dir']}`, data set `{results['data']}` (test split, {results['test_utterances']} "
        "utterances). Torch eager is the model's own `Predictor`; the ONNX variants are artifacts written by "
        "`nlu export` and run by the torch-free `nlu.runtime.Parser`. Every latency includes word splitting, "
        "tokenisation and decoding (CRF Viterbi and marginals where the model has a CRF).",
        "",
    ]
    if results.get("quick"):
        lines += ["**Quick (smoke) run: small samples, not a measurement.**", ""]
    busy = max(results["loadavg_start"] or [0])
    if busy > 0.5:
        lines += [
            f"**The machine was busy when this started (load average {results['loadavg_start']}); "
            "timings are distorted.**",
            "",
        ]
    lines += ["## Targets", "", "| target | bar | measured | met | note |", "|---|---|---|---|---|"]
    for t in results["targets"]:
        met = "n/a" if t["met"] is None else ("met" if t["met"] else "**not met**")
        lines.append(f"| {t['target']} | {t['bar']} | {t['value']} | {met} | {t['note']} |")

    torch_lat = v.get("torch_eager", {}).get("latency", {}).get("p50_ms")
    torch_tput = v.get("torch_eager", {}).get("throughput", {}).get("utterances_per_second")
    lines += [
        "",
        f"## Single-utterance latency (1 thread, {results['settings']['latency_samples']} utterances after "
        f"{results['settings']['warmup']} warm-up calls)",
        "",
        "| variant | model size (MB) | p50 (ms) | p95 (ms) | p99 (ms) | mean (ms) | speed-up vs torch (p50) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in VARIANTS:
        if name not in v:
            continue
        lat = v[name]["latency"]
        size = v[name].get("model_bytes")
        speed = f"{torch_lat / lat['p50_ms']:.1f}x" if torch_lat else "n/a"
        lines.append(
            f"| {LABELS[name]} | {_f(size / 1e6 if size else None, 1)} | {_f(lat['p50_ms'])} | "
            f"{_f(lat['p95_ms'])} | {_f(lat['p99_ms'])} | {_f(lat['mean_ms'])} | {speed} |"
        )
    bd = v.get("onnx_int8", {}).get("latency_breakdown")
    if bd:
        med = bd["median_ms"]
        lines += [
            "",
            f"Where an int8 `parse` call's time goes (median over {bd['samples']} calls, ms): "
            f"total {med['total']:.3f} = tokenizer {med['tokenizer']:.3f} + onnxruntime "
            f"{med['onnxruntime_run']:.3f} + CRF decoding {med['crf_decoding']:.3f} + other Python "
            f"(word splitting, feeds, softmax, assembling the prediction) {med['other_python']:.3f}.",
        ]
    bs = results["settings"]["batch_size"]
    threads = results["settings"]["throughput_threads"]
    lines += [
        "",
        f"## Throughput (batch {bs}, {threads} threads, {results['settings']['throughput_batches']} batches)",
        "",
        "| variant | utterances/s | batch p50 (ms) | speed-up vs torch |",
        "|---|---|---|---|",
    ]
    for name in VARIANTS:
        if name not in v:
            continue
        tp = v[name]["throughput"]
        speed = f"{tp['utterances_per_second'] / torch_tput:.1f}x" if torch_tput else "n/a"
        lines.append(
            f"| {LABELS[name]} | {tp['utterances_per_second']:.1f} | {_f(tp['batch']['p50_ms'])} | {speed} |"
        )
    torch_f1 = v.get("torch_eager", {}).get("scores", {}).get("slot_f1")
    lines += [
        "",
        "## Accuracy (test split, %)",
        "",
        "| variant | intent accuracy | slot F1 | exact match | slot F1 vs torch (points) |",
        "|---|---|---|---|---|",
    ]
    for name in VARIANTS:
        if name not in v:
            continue
        s = v[name]["scores"]
        delta = f"{100 * (s['slot_f1'] - torch_f1):+.2f}" if torch_f1 is not None else "n/a"
        lines.append(
            f"| {LABELS[name]} | {100 * s['intent_accuracy']:.2f} | {100 * s['slot_f1']:.2f} | "
            f"{100 * s['exact_match']:.2f} | {delta} |"
        )
    memory = results.get("memory")
    if memory:
        lines += [
            "",
            "## Memory of a serving-only process",
            "",
            f"A fresh interpreter imports `nlu.runtime`, loads the int8 artifact (1 thread) and parses "
            f"{memory['parsed']} utterances.",
            "",
            "| peak RSS (MB) | VmHWM (MB) | current RSS (MB) | torch imported | other heavy modules imported "
            "| modules loaded |",
            "|---|---|---|---|---|---|",
            f"| {memory['peak_rss_mb']:.1f} | {_f(memory['vmhwm_mb'], 1)} | {_f(memory['current_rss_mb'], 1)} | "
            f"{'yes' if memory['torch_imported'] else 'no'} | "
            f"{', '.join(memory['heavy_modules_imported']) or 'none'} | {memory['modules_loaded']} |",
            "",
            "MB = 10^6 bytes; peak is `getrusage(RUSAGE_SELF).ru_maxrss`, VmHWM and current (VmRSS) are from "
            "`/proc/self/status`. The probe is started through `sh`, so its `ru_maxrss` does not inherit the "
            "benchmark process's peak (Linux carries it across exec).",
        ]
    imp = results.get("import")
    if imp:
        top = ", ".join(f"{k} {v_:.3f}" for k, v_ in imp["top_packages_seconds"].items())
        lines += [
            "",
            "## Import time",
            "",
            f"`import nlu.runtime` in a fresh interpreter: median {imp['median_seconds']:.3f} s over "
            f"{imp['runs']} runs ({', '.join(f'{s:.3f}' for s in imp['seconds'])}); command `{imp['command']}`.",
            f"Largest top-level packages (`-X importtime`, cumulative s): {top}.",
        ]
    load = results.get("load_test")
    if load:
        lines += ["", "## Load test (`nlu serve`, int8 artifact)", ""]
        if "error" in load:
            lines += ["The load test failed:", "", "```", load["error"][:2000], "```"]
        else:
            lat = load["latency"]
            lines += [
                f"`{load['server_command']}`; {load['requests']} POST /parse requests from "
                f"{load['concurrency']} concurrent keep-alive clients (httpx, asyncio, one process on the same "
                f"machine), after {load['warmup_requests']} warm-up requests.",
                "",
                "| workers | threads | concurrency | completed | errors | req/s | p50 (ms) | p95 (ms) | p99 (ms) "
                "| server CPU/request (ms) | server RSS after (MB) | client CPU share |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|",
                f"| {load['workers']} | {load['threads']} | {load['concurrency']} | {load['completed']} | "
                f"{load['errors']} | {_f(load['requests_per_second'], 1)} | {_f(lat['p50_ms'])} | "
                f"{_f(lat['p95_ms'])} | {_f(lat['p99_ms'])} | {_f(load['server_cpu_ms_per_request'])} | "
                f"{load['server_rss_mb_after']:.1f} | {_f(load['client_cpu_share'])} |",
                "",
                "Latency is client-side, queueing included. The client CPU share is the load generator's CPU "
                "seconds per wall second (near 1.0: the client, not the server, may be the limit).",
            ]
            if load["error_examples"]:
                lines += ["", "Errors: " + "; ".join(f"`{e}`" for e in load["error_examples"])]
            if load["timed_out"]:
                lines += ["", f"**The load test hit its {results['settings']['load_timeout']} s limit.**"]
    exports = results.get("exports", {})
    if exports:
        lines += [
            "",
            "## Exports",
            "",
            "| variant | size (MB) | export (s) | fused operators |",
            "|---|---|---|---|",
        ]
        for name, r in exports.items():
            fused = ", ".join(f"{k} {n}" for k, n in r.get("fused_operators", {}).items()) or "none"
            lines.append(
                f"| {LABELS[name]} | {r['model_bytes'] / 1e6:.1f} | {r.get('export_seconds', 'n/a')} | {fused} |"
            )
    versions = ", ".join(f"{k} {val}" for k, val in m["versions"].items() if val)
    lines += [
        "",
        "## Machine and command",
        "",
        f"- CPU: {m['cpu']}, {m['logical_cores']} logical cores ({m['usable_cores']} usable)",
        f"- Python {m['python']}, {m['platform']}; {versions}",
        f"- Load average at start {results['loadavg_start']}, at end {results['loadavg_end']}",
        f"- Command: `{results['command']}`",
        f"- Written: {results['written']}; the run took {results['total_seconds'] / 60:.1f} min",
        f"- Raw numbers: `{out.with_suffix('.json').name}`",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--data", default="atis", help="data set whose test split is used (name or folder)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "performance.md")
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
    parser.add_argument("--quick", action="store_true", help="a fast smoke run: small samples")
    args = parser.parse_args()

    quick = args.quick
    defaults = {
        "requests": (10000, 500),
        "latency_samples": (2000, 200),
        "warmup": (100, 20),
        "throughput_batches": (60, 5),
        "load_timeout": (900.0, 120.0),
    }
    for key, (full, small) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, small if quick else full)

    model_dir = args.model_dir if args.model_dir.is_absolute() else (Path.cwd() / args.model_dir)
    if not (model_dir / "config.json").is_file():
        sys.exit(
            f"{args.model_dir}: not a trained model directory (no config.json); train it first or pass --model-dir"
        )
    started = time.perf_counter()
    script = Path(sys.argv[0]).resolve()
    shown = script.relative_to(REPO) if script.is_relative_to(REPO) else script
    env = f"NLU_DATA_DIR={os.environ['NLU_DATA_DIR']} " if os.environ.get("NLU_DATA_DIR") else ""
    command = env + "python " + " ".join([str(shown)] + sys.argv[1:])

    from nlu.data.registry import load_split

    examples = load_split(args.data, "test")
    texts = [" ".join(ex.tokens) for ex in examples if ex.tokens]
    results: dict = {
        "model_dir": str(args.model_dir),
        "data": args.data,
        "test_utterances": len(examples),
        "quick": quick,
        "command": command,
        "machine": machine_info(),
        "loadavg_start": loadavg(),
        "settings": {
            k: getattr(args, k)
            for k in (
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
            )
        },
        "targets_definition": TARGETS,
        "variants": {},
    }
    log(
        f"model {model_dir}, {len(examples)} test utterances of {args.data}; load average {results['loadavg_start']}"
    )

    temp = None
    if args.work_dir is None:
        temp = Path(tempfile.mkdtemp(prefix="nlu-serving-bench-"))
        work_dir = temp
    else:
        work_dir = args.work_dir
        work_dir.mkdir(parents=True, exist_ok=True)
    try:
        exports = export_variants(model_dir, work_dir, None if quick else args.data, args.reuse_exports)
        results["exports"] = {
            name: {
                k: r.get(k) for k in ("model_bytes", "export_seconds", "fused_operators", "parity", "scores")
            }
            for name, r in exports.items()
        }
        results["variants"]["torch_eager"] = bench_torch(model_dir, texts, examples, args)
        for name in ONNX_VARIANTS:
            results["variants"][name] = bench_onnx(name, work_dir / name, texts, examples, args)
        int8 = work_dir / "onnx_int8"
        log("memory of a serving-only process")
        results["memory"] = measure_memory(int8, texts, work_dir)
        log("import time of nlu.runtime")
        results["import"] = measure_import()
        if not args.skip_load_test:
            gc.collect()
            try:
                results["load_test"] = load_test(int8, texts, args, work_dir)
            except Exception as err:  # recorded in the report as a failed target, not a crash
                log(f"load test failed: {err}")
                results["load_test"] = {"error": f"{type(err).__name__}: {err}"}
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    results["targets"] = evaluate_targets(results)
    results["loadavg_end"] = loadavg()
    results["written"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results["total_seconds"] = time.perf_counter() - started
    write_report(results, args.out)
    log(f"wrote {args.out} and {args.out.with_suffix('.json')}")
    for t in results["targets"]:
        print(f"{t['target']}: {t['value']} (bar {t['bar']}) -> {'met' if t['met'] else 'NOT MET'}")


if __name__ == "__main__":
    main()
