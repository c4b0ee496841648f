"""Serving benchmark: the targets, and docs/performance.md rendered from the record docs/performance.json."""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import provenance_lines
from benchmarks.serving.inprocess import LABELS, VARIANTS

PAGE = "performance"
TARGETS = {
    "int8_p50_ms": 1.0,
    "int8_speedup_vs_torch": 5.0,
    "int8_speedup_vs_optimum": 2.0,
    "int8_throughput_per_second": 2000.0,
    "int8_slot_f1_drop_points": 0.3,
    "serving_rss_mb": 200.0,
    "import_seconds": 0.3,
    "load_errors": 0,
    "server_requests_per_second": 1500.0,  # 64 clients, the best worker count
    "server_p99_ms": 50.0,
}


def load_tests(results: dict) -> list[dict]:
    """The load tests of a record: ``load_tests`` (one per clients x workers), or the one ``load_test`` of
    records written before the matrix."""
    return results.get("load_tests") or ([results["load_test"]] if results.get("load_test") else [])


def evaluate_targets(results: dict, targets: dict | None = None) -> list[dict]:
    """Each target met or not by the record ``results``; ``targets``: the bars (default :data:`TARGETS`; a record's
    own ``targets_definition`` re-evaluates it as it was written; a bar it lacks is skipped)."""
    TARGETS = dict(globals()["TARGETS"] if targets is None else targets)  # noqa: N806 - the bars, as named above
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
    _optimum_and_throughput_targets(results, add, TARGETS)
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
    for load in load_tests(results):
        name = "errors under load"  # a record of one load test (before the matrix) named it so
        if "load_tests" in results:
            name += f" ({load['concurrency']} clients, {load['workers']} worker(s))"
        if "error" in load:
            add(name, "0", "load test failed", False, load["error"][:200])
        else:
            add(name, "0", f"{load['errors']} of {load['requests']}", load["errors"] == 0)
    _server_targets(results, add, TARGETS)
    return rows


def _optimum_and_throughput_targets(results: dict, add, TARGETS: dict) -> None:  # noqa: N803
    int8, optimum = results["variants"].get("onnx_int8"), results.get("optimum")
    if int8 and optimum and "error" not in optimum and "int8_speedup_vs_optimum" in TARGETS:
        ratio = optimum["pipeline"]["p50_ms"] / int8["latency"]["p50_ms"]
        add(
            "int8 p50 vs the optimum pipeline (same run)",
            f">= {TARGETS['int8_speedup_vs_optimum']:.0f}x faster",
            f"{ratio:.2f}x",
            ratio >= TARGETS["int8_speedup_vs_optimum"],
            f"optimum pipeline p50 {optimum['pipeline']['p50_ms']:.2f} ms (no intent, no CRF)",
        )
    if int8 and "int8_throughput_per_second" in TARGETS:
        tput = int8["throughput"]["utterances_per_second"]
        add(
            f"int8 throughput (batch {int8['throughput']['batch_size']}, {int8['threads']['throughput']} threads)",
            f">= {TARGETS['int8_throughput_per_second']:.0f} utterances/s",
            f"{tput:.0f} utterances/s",
            tput >= TARGETS["int8_throughput_per_second"],
        )


def _server_targets(results: dict, add, TARGETS: dict) -> None:  # noqa: N803
    if "server_requests_per_second" not in TARGETS or "load_tests" not in results:
        return
    heavy = [
        t for t in load_tests(results) if t.get("concurrency") == 64 and "error" not in t and not t["errors"]
    ]
    if not heavy:
        target = f">= {TARGETS['server_requests_per_second']:.0f}"
        add("server requests/s, 64 clients", target, "n/a", None, "no 64-client load test without errors")
        return
    best = max(heavy, key=lambda t: t["requests_per_second"] or 0)
    note = f"{best['workers']} worker(s)"
    add(
        "server requests/s, 64 clients",
        f">= {TARGETS['server_requests_per_second']:.0f}",
        f"{best['requests_per_second']:.0f}",
        best["requests_per_second"] >= TARGETS["server_requests_per_second"],
        note,
    )
    p99 = best["latency"]["p99_ms"]
    add(
        "server p99, 64 clients",
        f"<= {TARGETS['server_p99_ms']:.0f} ms",
        f"{p99:.1f} ms",
        p99 <= TARGETS["server_p99_ms"],
        note,
    )


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
    for section in (_latency, _optimum, _throughput, _accuracy, _memory, _import_time, _load_test, _exports):
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
    tests = load_tests(results)
    if not tests:
        return []
    done = [t for t in tests if "error" not in t]
    lines = ["", "## Load test (`nlu serve`, int8 artifact)", ""]
    if done:
        first = done[0]
        lines += [
            f"`{first['server_command']}` (the workers as in the table); {first['requests']} POST /parse requests "
            "from concurrent keep-alive clients (httpx, asyncio, one process on the same machine), after "
            f"{first['warmup_requests']} warm-up requests.",
            "",
            "| workers | threads | concurrency | completed | errors | req/s | p50 (ms) | p95 (ms) | p99 (ms) "
            "| server CPU/request (ms) | server RSS after (MB) | client CPU share |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for load in done:
            lat = load["latency"]
            lines.append(
                f"| {load['workers']} | {load['threads']} | {load['concurrency']} | {load['completed']} | "
                f"{load['errors']} | {_f(load['requests_per_second'], 1)} | {_f(lat['p50_ms'])} | "
                f"{_f(lat['p95_ms'])} | {_f(lat['p99_ms'])} | {_f(load['server_cpu_ms_per_request'])} | "
                f"{load['server_rss_mb_after']:.1f} | {_f(load['client_cpu_share'])} |"
            )
        lines += [
            "",
            "Latency is client-side, queueing included. The client CPU share is the load generator's CPU "
            "seconds per wall second (near 1.0: the client, not the server, may be the limit).",
        ]
    for load in tests:
        where = f"{load.get('concurrency')} clients, {load.get('workers')} worker(s)"
        if "error" in load:
            lines += ["", f"The load test with {where} failed:", "", "```", load["error"][:2000], "```"]
            continue
        if load["error_examples"]:
            lines += ["", f"Errors ({where}): " + "; ".join(f"`{e}`" for e in load["error_examples"])]
        if load["timed_out"]:
            lines += [
                "",
                f"**The load test with {where} hit its {results['settings']['load_timeout']} s limit.**",
            ]
    return lines


def _optimum(results: dict) -> list[str]:
    optimum = results.get("optimum")
    if not optimum:
        return []
    lines = ["", "## Beside the optimum stack (same run, same utterances, 1 thread)", ""]
    if "error" in optimum:
        return lines + ["The optimum stack failed:", "", "```", optimum["error"][-2000:], "```"]
    int8 = results["variants"].get("onnx_int8", {})
    breakdown = int8.get("latency_breakdown", {}).get("median_ms", {})
    versions = ", ".join(f"{k} {v}" for k, v in optimum["versions"].items())
    lines += [
        "The trained model's encoder and slot layer as a `BertForTokenClassification`, exported by optimum, "
        "`ORTOptimizer` level 2, dynamic int8 (`AutoQuantizationConfig.avx512_vnni`, per tensor), run by "
        '`pipeline("token-classification", aggregation_strategy="simple")`: slots only, no intent, no CRF '
        f"({versions}; fused: {optimum['fused_operators']}).",
        "",
        "| what | p50 (ms) | p95 (ms) | p99 (ms) |",
        "|---|---|---|---|",
    ]
    if int8:
        lat = int8["latency"]
        lines.append(
            f"| `nlu.runtime` int8 `parse` (intent, CRF, prediction) | {_f(lat['p50_ms'], 3)} | "
            f"{_f(lat['p95_ms'], 3)} | {_f(lat['p99_ms'], 3)} |"
        )
        if breakdown:
            lines.append(
                f"| of which the onnxruntime session (median) | {_f(breakdown['onnxruntime_run'], 3)} | | |"
            )
    for key, label in (
        ("pipeline", "optimum `pipeline(...)` per utterance"),
        ("session", "its onnxruntime session alone"),
    ):
        lat = optimum[key]
        lines.append(
            f"| {label} | {_f(lat['p50_ms'], 3)} | {_f(lat['p95_ms'], 3)} | {_f(lat['p99_ms'], 3)} |"
        )
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
