"""Serving benchmark, in fresh interpreters: the memory of a process that only serves, and ``import nlu.runtime``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import REPO, percentiles

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
        "median_seconds": percentiles(times, (50,))["p50"],
        "command": f'{Path(sys.executable).name} -c "{IMPORT_PROBE}"',
        "top_packages_seconds": dict(top),
    }
