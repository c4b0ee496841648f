"""benchmarks/serving/: the pieces of the serving benchmark, without a model, a server or a measurement."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.serving import cli, inprocess, report

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_command_line_keeps_its_arguments_and_defaults():
    args = cli.arguments().parse_args([])
    assert args.model_dir == cli.DEFAULT_MODEL
    assert (args.data, args.out, args.concurrency, args.batch_size, args.throughput_threads) == (
        "atis",
        None,
        16,
        32,
        2,
    )
    assert args.requests is None and not args.quick  # filled from QUICK_DEFAULTS by main
    assert cli.QUICK_DEFAULTS["latency_samples"] == (2000, 200)
    assert set(cli.SETTINGS) <= set(vars(args))


def test_latency_and_throughput_record_the_same_keys():
    calls = []
    latency = inprocess.measure_latency(calls.append, ["a", "b", "c"], samples=5, warmup=2)
    assert calls == ["a", "b", "a", "b", "c", "a", "b"]
    assert latency["n"] == 5 and latency["warmup"] == 2
    assert {"p50_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms"} <= set(latency)

    batches = []
    throughput = inprocess.measure_throughput(
        batches.append, ["a", "b", "c"], batches=2, batch_size=2, warmup=1
    )
    assert batches == [["a", "b"], ["a", "b"], ["c", "a"]]
    assert throughput["utterances"] == 4 and throughput["batch"]["n"] == 2
    assert throughput["utterances_per_second"] > 0


def test_targets_from_the_stored_record_are_the_stored_targets():
    record = json.loads((DOCS / "performance.json").read_text())
    assert report.evaluate_targets(record) == record["targets"]
    assert record["targets_definition"] == report.TARGETS
