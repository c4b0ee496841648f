"""Serving benchmark, over HTTP: ``nlu serve`` on a free loopback port, and a load generator of concurrent
keep-alive clients (httpx, asyncio) in this process; client-side latency, errors, and the CPU and memory of
both sides."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import REPO, latency_summary
from benchmarks.serving.inprocess import log


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
    """Start ``nlu serve`` on ``artifact``, warm it up, send ``args.requests`` requests from
    ``args.concurrency`` clients, stop it; every figure of the load test."""
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
        result["startup_seconds"] = wait_until_healthy(proc, base, args.startup_timeout, server_log)
        log(f"load test: server up after {result['startup_seconds']:.1f} s on port {port}")

        warm = min(args.requests // 10, 200)
        asyncio.run(_send(f"{base}/parse", texts, warm, args.concurrency, time.perf_counter() + 60))
        result["warmup_requests"] = warm
        result |= _measure_load(proc, f"{base}/parse", texts, args)
    finally:
        stop(proc)
        result["server_exit_code"] = proc.returncode
        result["server_log_tail"] = server_log.read_text(errors="replace")[-2000:]
    return result


def wait_until_healthy(proc: subprocess.Popen, base: str, timeout: float, server_log: Path) -> float:
    """Seconds until the server answers ``/health``; raises when it exits or takes longer than ``timeout``."""
    import httpx

    started = time.perf_counter()
    while True:
        if proc.poll() is not None:
            raise RuntimeError(
                f"nlu serve exited with {proc.returncode} before answering /health:\n"
                + server_log.read_text(errors="replace")[-3000:]
            )
        try:
            if httpx.get(f"{base}/health", timeout=2.0).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"nlu serve did not answer /health within {timeout} s")
        time.sleep(0.2)


def _measure_load(proc: subprocess.Popen, url: str, texts: Sequence[str], args) -> dict:
    """The measured requests, with the server's and this client's CPU seconds around them."""
    pids = _proc_tree(proc.pid)
    server_before = _proc_stats(pids)
    client_before = resource.getrusage(resource.RUSAGE_SELF)
    log(f"load test: {args.requests} requests, {args.concurrency} concurrent clients")
    sent = asyncio.run(
        _send(url, texts, args.requests, args.concurrency, time.perf_counter() + args.load_timeout)
    )
    client_after = resource.getrusage(resource.RUSAGE_SELF)
    pids = _proc_tree(proc.pid)
    server_after = _proc_stats(pids)
    completed = len(sent["latencies"])
    server_cpu = server_after["cpu_seconds"] - server_before["cpu_seconds"]
    client_cpu = (client_after.ru_utime + client_after.ru_stime) - (
        client_before.ru_utime + client_before.ru_stime
    )
    return {
        "completed": completed,
        "errors": len(sent["errors"]) + (args.requests - completed),
        "error_examples": sorted(set(sent["errors"]))[:5],
        "not_sent": args.requests - completed,
        "timed_out": sent["timed_out"],
        "wall_seconds": sent["wall"],
        "requests_per_second": completed / sent["wall"] if sent["wall"] else None,
        "latency": latency_summary(sent["latencies"]),
        "server_processes": len(pids),
        "server_cpu_seconds": server_cpu,
        "server_cpu_ms_per_request": 1000 * server_cpu / completed if completed else None,
        "server_rss_mb_after": server_after["rss_kb"] * 1024 / 1e6,
        "server_peak_rss_mb": server_after["hwm_kb"] * 1024 / 1e6,
        "client_cpu_seconds": client_cpu,
        "client_cpu_share": client_cpu / sent["wall"] if sent["wall"] else None,
    }


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
