"""benchmarks/serving/: the pieces of the serving benchmark, without a model, a server or a measurement."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.serving import cli, inprocess, report

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_command_line_keeps_its_arguments_and_defaults():
    args = cli.arguments().parse_args([])
    assert args.model_dir == cli.DEFAULT_MODEL
    assert args.student is None and args.optimum_python is None and args.load_matrix is None
    assert cli.QUICK_DEFAULTS["load_matrix"] == (["16x1", "64x1", "16x2", "64x2"], ["16x1"])
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
    assert report.evaluate_targets(record, record["targets_definition"]) == record["targets"]


def test_the_bars_of_the_serving_issue_are_targets():
    """int8 p50 <= 1 ms, 2x the optimum pipeline, 2,000 utterances/s, 1,500 requests/s at p99 <= 50 ms."""
    t = report.TARGETS
    assert (t["int8_p50_ms"], t["int8_speedup_vs_optimum"], t["int8_throughput_per_second"]) == (
        1.0,
        2.0,
        2000,
    )
    assert (t["server_requests_per_second"], t["server_p99_ms"], t["int8_slot_f1_drop_points"]) == (
        1500,
        50,
        0.3,
    )


def test_a_record_with_the_optimum_stack_and_a_load_matrix_renders(tmp_path):
    record = json.loads((DOCS / "performance.json").read_text())
    int8 = record["variants"]["onnx_int8"]
    record["optimum"] = {
        "pipeline": {"p50_ms": 3 * int8["latency"]["p50_ms"], "p95_ms": 9.0, "p99_ms": 9.5},
        "session": {"p50_ms": 1.3, "p95_ms": 1.5, "p99_ms": 1.9},
        "fused_operators": {"QAttention": 6},
        "versions": {"optimum": "x"},
    }
    old = record.pop("load_tests")[0]  # 16 clients, 1 worker
    record["load_tests"] = [old, old | {"concurrency": 64, "workers": 2, "requests_per_second": 1600.0}]
    targets = {t["target"]: t for t in report.evaluate_targets(record)}
    assert targets["int8 p50 vs the optimum pipeline (same run)"]["met"]
    assert targets["server requests/s, 64 clients"]["met"] and targets["server requests/s, 64 clients"][
        "note"
    ] == ("2 worker(s)")
    record["targets"] = list(targets.values())
    page = report.render(record, tmp_path / "performance.md")
    assert (
        "## Beside the optimum stack" in page
        and page.count("| 1 | 1 | 16 |") == 1
        and "| 2 | 1 | 64 |" in page
    )


def test_the_optimum_stack_reads_the_same_weights(tiny_mixed_model_dir, tmp_path):
    """The token classifier handed to optimum is the trained model's encoder and slot layer: same slot logits."""
    import torch
    from transformers import AutoModelForTokenClassification

    from benchmarks.serving.comparison import token_classifier
    from nlu.models import load_model

    model_dir = tiny_mixed_model_dir(False)
    folder = token_classifier(model_dir, tmp_path / "tc")
    ours, theirs = (
        load_model(model_dir).eval(),
        AutoModelForTokenClassification.from_pretrained(folder).eval(),
    )
    ids = torch.tensor([[2, 7, 9, 11, 3]])
    mask = torch.ones_like(ids)
    with torch.no_grad():
        a = ours(input_ids=ids, attention_mask=mask).slot_logits
        b = theirs(input_ids=ids, attention_mask=mask).logits
    assert torch.allclose(a, b, atol=1e-5)


def test_load_matrix_cells_are_two_positive_numbers():
    assert cli.parse_cell("64x2") == (64, 2) and cli.parse_cell("16X1") == (16, 1)
    for bad in ("16", "16x2x3", "0x1", "ax2", "-1x2"):
        with pytest.raises(ValueError):
            cli.parse_cell(bad)
