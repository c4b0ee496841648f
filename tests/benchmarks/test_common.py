"""benchmarks/common.py: the one percentile definition, the one machine line, commands and pages with relative
paths, and a page written together with its record."""

from __future__ import annotations

import json
import statistics

import numpy as np
import pytest

from benchmarks import common


def test_percentiles_are_numpys_linear_interpolation():
    values = [4.0, 1.0, 3.0, 2.0]
    points = common.percentiles(values, (50, 90, 95, 99))
    assert points == pytest.approx({"p50": 2.5, "p90": 3.7, "p95": 3.85, "p99": 3.97})
    assert points["p50"] == statistics.median(values)
    many = list(np.random.default_rng(0).exponential(size=1001))
    assert common.percentiles(many, (90,))["p90"] == pytest.approx(float(np.percentile(many, 90)))
    # not the nearest-rank value values[int(0.9 n)] one of the latency functions used to take
    assert common.percentiles([1.0, 2.0, 3.0, 4.0, 5.0], (90,))["p90"] == pytest.approx(4.6)


def test_percentiles_of_nothing_are_none():
    assert common.percentiles([], (50, 99)) == {"p50": None, "p99": None}
    summary = common.latency_summary([])
    assert summary["n"] == 0 and summary["p50_ms"] is None and summary["max_ms"] is None


def test_latency_summary_is_in_milliseconds():
    summary = common.latency_summary([0.001, 0.002, 0.003, 0.004])
    assert list(summary) == ["n", "p50_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms"]
    assert summary["n"] == 4
    assert summary["p50_ms"] == pytest.approx(2.5)
    assert summary["mean_ms"] == pytest.approx(2.5)
    assert summary["max_ms"] == pytest.approx(4.0)


def test_time_each_times_every_call():
    seen = []
    durations = common.time_each(seen.append, ["a", "b", "c"])
    assert seen == ["a", "b", "c"]
    assert len(durations) == 3 and all(d >= 0 for d in durations)


def test_machine_names_cpu_cores_os_python_and_versions():
    info = common.machine(threads=1, packages=("numpy",))
    assert {"cpu", "logical_cores", "usable_cores", "python", "platform", "versions", "threads"} <= set(info)
    assert list(info["versions"])[:3] == ["torch", "onnxruntime", "numpy"]
    line = common.machine_line(info)
    assert line.startswith(
        f"{info['cpu']}, {info['logical_cores']} cores ({info['usable_cores']} usable), 1 thread, "
    )
    assert f"Python {info['python']}" in line
    assert f"numpy {info['versions']['numpy']}" in line


def test_machine_line_has_one_format_for_full_and_partial_records():
    full = {
        "cpu": "Xeon",
        "logical_cores": 2,
        "usable_cores": 2,
        "threads": 4,
        "python": "3.11.7",
        "platform": "Linux 6.1 x86_64",
        "versions": {"torch": "2.13.0", "onnxruntime": "1.32.0", "httpx": None},
    }
    assert common.machine_line(full) == (
        "Xeon, 2 cores (2 usable), 4 threads, Linux 6.1 x86_64, Python 3.11.7, torch 2.13.0, onnxruntime 1.32.0"
    )
    # a record written before every field was kept: the same order, the missing fields left out
    assert common.machine_line({"cpu": "Xeon", "logical_cores": 2, "python": "3.11.7"}) == (
        "Xeon, 2 cores, Python 3.11.7"
    )


def test_command_is_python_m_with_paths_relative_to_the_checkout(monkeypatch):
    monkeypatch.setenv("NLU_DATA_DIR", str(common.REPO.parent / "shared" / "data"))
    line = common.command("benchmarks.results", ["--runs-dir", str(common.REPO / "runs" / "b"), "--x", "a b"])
    assert line == "NLU_DATA_DIR=../shared/data python -m benchmarks.results --runs-dir runs/b --x 'a b'"
    monkeypatch.delenv("NLU_DATA_DIR")
    assert common.command("benchmarks.llm", []) == "python -m benchmarks.llm"


def test_relative_rewrites_only_whole_paths(tmp_path):
    repo = tmp_path / "main"
    text = (
        f"{repo}/runs/x and ({repo}) and {tmp_path}/shared/data and {repo}-other and /elsewhere/{repo.name}"
    )
    assert common.relative(text, repo) == (
        f"runs/x and (.) and ../shared/data and ../main-other and /elsewhere/{repo.name}"
    )


def test_publish_writes_record_and_page_together_and_rerender_reads_only_the_record(tmp_path):
    def render(record, page):
        return f"# {page.stem}\n\n" + "\n".join(common.provenance_lines(record)) + f"\n\n{record['figure']}\n"

    record = common.provenance("python -m benchmarks.x", {"cpu": "Xeon", "logical_cores": 2}) | {
        "figure": 42,
        "where": str(common.REPO / "runs" / "x"),
    }
    page = common.publish("x", record, render, tmp_path / "x.md")
    assert page == tmp_path / "x.md"
    stored = json.loads((tmp_path / "x.json").read_text())
    assert stored["where"] == "runs/x" and stored["figure"] == 42
    text = page.read_text()
    assert "- Machine: Xeon, 2 cores\n- Command: `python -m benchmarks.x`\n- Written: " in text
    assert str(common.REPO) not in text

    (tmp_path / "x.json").write_text(json.dumps(stored | {"figure": 43}))
    before = (tmp_path / "x.json").read_text()
    common.rerender("x", render, tmp_path / "x.md")
    assert page.read_text().endswith("\n43\n")
    assert (tmp_path / "x.json").read_text() == before


def test_rerender_without_a_record_says_which_file_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="x.json"):
        common.rerender("x", lambda record, page: "", tmp_path / "x.md")


def test_demote_moves_every_heading_one_level_down():
    assert common.demote("# A\n\ntext # not a heading\n## B\n") == "## A\n\ntext # not a heading\n### B\n"
