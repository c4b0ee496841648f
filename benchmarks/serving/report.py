"""Serving benchmark: the targets, and docs/performance.md rendered from the record docs/performance.json."""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import provenance_lines
from benchmarks.serving.inprocess import LABELS, VARIANTS

PAGE = "performance"
TARGETS = {
    "int8_p50_ms": 2.0,
    "int8_speedup_vs_torch": 5.0,
    "int8_slot_f1_drop_points": 0.3,
    "serving_rss_mb": 200.0,
    "import_seconds": 0.3,
    "load_errors": 0,
}


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


def render(results: dict, page: Path) -> str:
    """The page: targets, latency, throughput, accuracy, memory, import time, load test, exports, machine."""
    lines = [
        "# Serving performance",
        "",
        f"Model `{results['model_dir']}`, data set `{results['data']}` (test split, {results['test_utterances']} "
        "utterances). Torch eager is the model's own `TorchParser`; the ONNX variants are artifacts written by "
        "`nlu export` and run by the torch-free `nlu.runtime.OnnxParser`. Every latency includes word splitting, "
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
    for section in (_latency, _throughput, _accuracy, _memory, _import_time, _load_test, _exports):
        lines += section(results)
    lines += [
        "",
        "## Machine and command",
        "",
        *provenance_lines(results),
        f"- Load average at start {results['loadavg_start']}, at end {results['loadavg_end']}",
        f"- Run time: {results['total_seconds'] / 60:.1f} min",
        f"- Raw numbers: `{page.with_suffix('.json').name}`",
    ]
    return "\n".join(lines) + "\n"


def _latency(results: dict) -> list[str]:
    v = results["variants"]
    torch_lat = v.get("torch_eager", {}).get("latency", {}).get("p50_ms")
    lines = [
        "",
        f"## Single-utterance latency (1 thread, {results['settings']['latency_samples']} utterances after "
        f"{results['settings']['warmup']} warm-up calls)",
        "",
        "| variant | model size (MB) | p50 (ms) | p95 (ms) | p99 (ms) | mean (ms) | speed-up vs torch (p50) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in _measured(v):
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
    return lines


def _throughput(results: dict) -> list[str]:
    v = results["variants"]
    torch_tput = v.get("torch_eager", {}).get("throughput", {}).get("utterances_per_second")
    bs = results["settings"]["batch_size"]
    threads = results["settings"]["throughput_threads"]
    lines = [
        "",
        f"## Throughput (batch {bs}, {threads} threads, {results['settings']['throughput_batches']} batches)",
        "",
        "| variant | utterances/s | batch p50 (ms) | speed-up vs torch |",
        "|---|---|---|---|",
    ]
    for name in _measured(v):
        tp = v[name]["throughput"]
        speed = f"{tp['utterances_per_second'] / torch_tput:.1f}x" if torch_tput else "n/a"
        lines.append(
            f"| {LABELS[name]} | {tp['utterances_per_second']:.1f} | {_f(tp['batch']['p50_ms'])} | {speed} |"
        )
    return lines


def _accuracy(results: dict) -> list[str]:
    v = results["variants"]
    torch_f1 = v.get("torch_eager", {}).get("scores", {}).get("slot_f1")
    lines = [
        "",
        "## Accuracy (test split, %)",
        "",
        "| variant | intent accuracy | slot F1 | exact match | slot F1 vs torch (points) |",
        "|---|---|---|---|---|",
    ]
    for name in _measured(v):
        s = v[name]["scores"]
        delta = f"{100 * (s['slot_f1'] - torch_f1):+.2f}" if torch_f1 is not None else "n/a"
        lines.append(
            f"| {LABELS[name]} | {100 * s['intent_accuracy']:.2f} | {100 * s['slot_f1']:.2f} | "
            f"{100 * s['exact_match']:.2f} | {delta} |"
        )
    return lines


def _memory(results: dict) -> list[str]:
    memory = results.get("memory")
    if not memory:
        return []
    lines = [
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
    return lines


def _import_time(results: dict) -> list[str]:
    imp = results.get("import")
    if not imp:
        return []
    top = ", ".join(f"{k} {v_:.3f}" for k, v_ in imp["top_packages_seconds"].items())
    lines = [
        "",
        "## Import time",
        "",
        f"`import nlu.runtime` in a fresh interpreter: median {imp['median_seconds']:.3f} s over "
        f"{imp['runs']} runs ({', '.join(f'{s:.3f}' for s in imp['seconds'])}); command `{imp['command']}`.",
        f"Largest top-level packages (`-X importtime`, cumulative s): {top}.",
    ]
    return lines


def _load_test(results: dict) -> list[str]:
    load = results.get("load_test")
    if not load:
        return []
    lines = ["", "## Load test (`nlu serve`, int8 artifact)", ""]
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
    return lines


def _exports(results: dict) -> list[str]:
    exports = results.get("exports", {})
    if not exports:
        return []
    lines = [
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
    return lines


def _measured(variants: dict) -> list[str]:
    """The variants measured, in the order of the tables."""
    return [name for name in VARIANTS if name in variants]


def _f(value, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"
