"""What every benchmark shares: the machine line, percentiles, timing, the command line, and writing a page.

A benchmark keeps what it measured in a JSON record, ``docs/<page>.json``, and renders ``docs/<page>.md`` from
that record alone (plus, where a page shows another benchmark's figures, that benchmark's own record), so that
``python -m benchmarks`` can render every page again without measuring anything. A record carries its
provenance: ``command`` (relative paths, see :func:`command`), ``machine`` (see :func:`machine`) and ``written``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
# The packages every machine line names; a benchmark adds the ones its figures depend on.
VERSIONS = ("torch", "onnxruntime")

# ---------------------------------------------------------------------------------------------- machine


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def machine(threads: int | None = None, packages: Sequence[str] = ()) -> dict:
    """The machine a benchmark ran on: CPU model, logical and usable cores, the threads the measurement used (only
    where the benchmark fixed them), OS, Python, and the versions of torch, onnxruntime and ``packages`` (None:
    not installed). Imports none of those packages."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count()
    info = {
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        "versions": {name: _version(name) for name in dict.fromkeys((*VERSIONS, *packages))},
    }
    if threads is not None:
        info["threads"] = threads
    return info


def machine_line(info: dict) -> str:
    """The one way a page names a machine: ``CPU, N cores (M usable), T threads, OS, Python X, torch Y, ...``.
    Fields a record lacks (records written before all were kept) are left out."""
    parts = [info.get("cpu") or "unknown CPU"]
    cores, usable = info.get("logical_cores"), info.get("usable_cores")
    if cores:
        parts.append(f"{cores} cores" + (f" ({usable} usable)" if usable else ""))
    if info.get("threads"):
        parts.append(f"{info['threads']} thread" + ("" if info["threads"] == 1 else "s"))
    if info.get("platform"):
        parts.append(info["platform"])
    if info.get("python"):
        parts.append(f"Python {info['python']}")
    parts += [f"{name} {v}" for name, v in (info.get("versions") or {}).items() if v]
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------- timing


def percentiles(values: Sequence[float], qs: Sequence[float] = (50, 90, 95, 99)) -> dict[str, float | None]:
    """``{"p50": ..., "p90": ...}`` of ``values``. One definition for every benchmark: numpy's default, linear
    interpolation between the two nearest ranks (p50 is the median). None for each when there are no values."""
    import numpy as np

    a = np.asarray(values, dtype=np.float64)
    if a.size == 0:
        return {f"p{q:g}": None for q in qs}
    return {f"p{q:g}": float(v) for q, v in zip(qs, np.percentile(a, qs), strict=True)}


def latency_summary(durations_s: Sequence[float], qs: Sequence[float] = (50, 95, 99)) -> dict:
    """Durations in seconds -> ``n``, ``p50_ms`` ... (:func:`percentiles`), ``mean_ms``, ``max_ms``."""
    ms = [1000.0 * d for d in durations_s]
    points = {f"{k}_ms": v for k, v in percentiles(ms, qs).items()}
    return {
        "n": len(ms),
        **points,
        "mean_ms": sum(ms) / len(ms) if ms else None,
        "max_ms": max(ms) if ms else None,
    }


def time_each(call: Callable[[object], object], inputs: Iterable[object]) -> list[float]:
    """Seconds that each ``call(x)`` takes, one input after another (``time.perf_counter``)."""
    durations = []
    for x in inputs:
        started = time.perf_counter()
        call(x)
        durations.append(time.perf_counter() - started)
    return durations


# ---------------------------------------------------------------------------------------------- provenance


def relative(text: str, repo: Path = REPO) -> str:
    """``text`` with every absolute path into the checkout written relative to its root (``runs/x``), and every
    path beside it relative too (``../shared/data``), so that no page or record names this machine's folders."""
    for root, shown in ((repo, ""), (repo.parent, "../")):
        if root == root.parent:  # never rewrite from /
            continue
        pattern = rf"(?<![\w./-]){re.escape(str(root))}(/|(?![\w.-]))"
        text = re.sub(pattern, lambda m, s=shown: s if m.group(1) else (s.rstrip("/") or "."), text)
    return text


def command(module: str, argv: Sequence[str] | None = None, env: Sequence[str] = ("NLU_DATA_DIR",)) -> str:
    """The command that reruns a benchmark from the checkout root: the variables of ``env`` that are set, then
    ``python -m MODULE`` and its arguments (default: this process's), paths relative (:func:`relative`)."""
    argv = sys.argv[1:] if argv is None else argv
    words = [f"{name}={os.environ[name]}" for name in env if os.environ.get(name)]
    words += ["python", "-m", module, *argv]
    return relative(" ".join(shlex.quote(w) for w in words))


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def provenance(command_line: str, machine_info: dict) -> dict:
    """The fields every record carries: ``command``, ``machine`` and ``written`` (now)."""
    return {"command": command_line, "machine": machine_info, "written": now()}


def provenance_lines(record: dict) -> list[str]:
    """``- Machine: ...``, ``- Command: `...``` and ``- Written: ...``, for the fields ``record`` has."""
    lines = []
    if record.get("machine"):
        lines.append(f"- Machine: {machine_line(record['machine'])}")
    if record.get("command"):
        lines.append(f"- Command: `{record['command']}`")
    if record.get("written"):
        lines.append(f"- Written: {record['written']}")
    return lines


def argument_parser(module: str, doc: str | None) -> argparse.ArgumentParser:
    """The parser of ``python -m MODULE``, with the module's docstring (line breaks kept) as its help."""
    return argparse.ArgumentParser(
        prog=f"python -m {module}", description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def require_data_dir() -> None:
    """Stop the command (not the library) when the data sets cannot be found."""
    if not os.environ.get("NLU_DATA_DIR"):
        sys.exit("set NLU_DATA_DIR to the folder holding the data sets (in a checkout: ../shared/data)")


# ---------------------------------------------------------------------------------------------- pages

Render = Callable[[dict, Path], str]


def page_path(name: str, out: Path | None = None) -> Path:
    """``docs/<name>.md``, or ``out``; the page's record is beside it, ``.json``."""
    return Path(out) if out is not None else DOCS / f"{name}.md"


def read_record(name: str, docs: Path = DOCS) -> dict | None:
    """The record ``docs/<name>.json`` (None when absent): a benchmark's measured figures, as input data."""
    path = Path(docs) / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def write_record(name: str, record: dict, out: Path | None = None) -> Path:
    """Write ``docs/<name>.json`` (beside ``out`` when given) and no page: for a benchmark whose figures another
    page shows."""
    path = page_path(name, out).with_suffix(".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(relative(json.dumps(record, indent=2, ensure_ascii=False)) + "\n", encoding="utf-8")
    return path


def publish(name: str, record: dict, render: Render, out: Path | None = None) -> Path:
    """Write a page's record and the page rendered from it, together: ``docs/<name>.json`` and ``.md``."""
    write_record(name, record, out)
    return rerender(name, render, out)


def rerender(name: str, render: Render, out: Path | None = None) -> Path:
    """Render ``docs/<name>.md`` again from its stored record; measures nothing and leaves the record alone."""
    page = page_path(name, out)
    record = read_record(page.stem, page.parent)
    if record is None:
        raise FileNotFoundError(f"{page.with_suffix('.json')}: no record to render {page.name} from")
    page.write_text(relative(render(record, page).rstrip("\n")) + "\n", encoding="utf-8")
    return page


def demote(markdown: str) -> str:
    """Every heading one level down, to show a page as a section of another."""
    return re.sub(r"^(#+) ", r"#\1 ", markdown, flags=re.M)


def log(benchmark: str, message: str) -> None:
    """A progress line on stderr: ``[serving 12:00:00] message``."""
    print(f"[{benchmark} {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
