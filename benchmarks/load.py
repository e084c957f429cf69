"""Load: the production server (gunicorn, 2 workers on 127.0.0.1) under wrk, trace against health check.

    .venv/bin/python benchmarks/load.py                       # 16 clients, 20 s per endpoint
    .venv/bin/python benchmarks/load.py --clients 32 --seconds 30

Starts `backprop-viz serve --production --workers 2` on a free port of
127.0.0.1, warms it up, then drives it with wrk (a fixed number of open
connections, each sending its next request when the last one is answered),
first `GET /healthz`, then `POST /api/v1/trace` with the body of the preset
seed002-ex2 (seed 002, Exercise 2), for a bounded time each, and stops it.
Prints for each endpoint requests/s, p50 and p99 latency and errors (socket
errors and non-2xx answers), the workers' resident memory before and after,
and the targets: zero errors, trace throughput at least 60% of the health
check's, p99 under 50 ms, worker memory growth under 10%. Exits 1 if a target
is missed.

wrk comes from Debian's packages: `apt-get install -y wrk`. It runs on the same
two cores as the server, as a course's reverse proxy would, so the numbers are
for the whole machine, not for gunicorn alone.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SERVER = Path(sys.executable).parent / "backprop-viz"
WORKERS = 2
TARGET_RATIO = 0.60
TARGET_P99_MS = 50.0
TARGET_GROWTH = 0.10

# wrk's done() hook prints the totals as one JSON line (latencies in microseconds).
REPORT = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.6f, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16, help="open connections (default: %(default)s)")
    parser.add_argument("--seconds", type=int, default=20, help="seconds per endpoint (default: %(default)s)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk (Debian's package)", file=sys.stderr)
        return 2

    body = _preset_body("seed002-ex2")
    with tempfile.TemporaryDirectory() as folder:
        scripts = Path(folder)
        (scripts / "get.lua").write_text(REPORT)
        (scripts / "trace.lua").write_text(
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = [==[{body}]==]\n" + REPORT
        )
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [str(SERVER), "serve", "--production", "--host", "127.0.0.1", "--port", str(port), "--workers",
             str(WORKERS)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_until_up(base, server)
            _check_trace(base, body)
            # Warm-up: imports, caches, the allocator's arenas; then the "before" memory.
            _wrk(base + "/healthz", scripts / "get.lua", args.clients, 2)
            _wrk(base + "/api/v1/trace", scripts / "trace.lua", args.clients, 3)
            before = _worker_memory(server.pid)
            cpu = _worker_cpu(server.pid)
            health = _wrk(base + "/healthz", scripts / "get.lua", args.clients, args.seconds)
            health["cpu"], cpu = _worker_cpu(server.pid) - cpu, _worker_cpu(server.pid)
            trace = _wrk(base + "/api/v1/trace", scripts / "trace.lua", args.clients, args.seconds)
            trace["cpu"] = _worker_cpu(server.pid) - cpu
            after = _worker_memory(server.pid)
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    return _report(args, health, trace, before, after)


def _preset_body(preset_id: str) -> str:
    sys.path.insert(0, str(REPO))
    from engine import presets

    return json.dumps(presets.get(preset_id).body(), separators=(",", ":"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):
                return
        except OSError:
            if server.poll() is not None:
                raise SystemExit(f"the server exited with {server.returncode}") from None
            if time.monotonic() > deadline:
                raise SystemExit("the server did not answer within 30 s") from None
            time.sleep(0.2)


def _check_trace(base: str, body: str) -> None:
    request = urllib.request.Request(
        base + "/api/v1/trace", data=body.encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200 and "loss_history" in json.load(response)


def _wrk(url: str, script: Path, clients: int, seconds: int) -> dict:
    threads = min(2, clients)
    result = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{clients}", f"-d{seconds}s", "--timeout", "5s", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    line = next(line for line in reversed(result.stdout.splitlines()) if line.startswith("{"))
    totals = json.loads(line)
    totals["errors"] = sum(totals[key] for key in ("connect", "read", "write", "status", "timeout"))
    totals["rps"] = totals["requests"] / totals["seconds"]
    return totals


def _worker_memory(master: int) -> dict[int, int]:
    """Resident bytes of each worker (the master's children), from /proc."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    memory = {}
    for pid in map(int, children):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                memory[pid] = int(line.split()[1]) * 1024
    return memory


def _worker_cpu(master: int) -> float:
    """CPU seconds (user + system) the workers have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat(5)
    return total / ticks


def _report(args, health: dict, trace: dict, before: dict[int, int], after: dict[int, int]) -> int:
    mib = 1024 * 1024
    print(f"gunicorn, {WORKERS} sync workers on 127.0.0.1; wrk, {args.clients} connections, {args.seconds} s each")
    print(f"{'endpoint':<30}{'requests/s':>11}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'requests':>10}"
          f"{'errors':>7}{'worker CPU ms/request':>23}")
    for name, totals in (("GET /healthz", health), ("POST /api/v1/trace (seed 002)", trace)):
        print(
            f"{name:<30}{totals['rps']:>11.0f}{totals['p50_us'] / 1000:>8.2f}{totals['p99_us'] / 1000:>8.2f}"
            f"{totals['max_us'] / 1000:>8.2f}{totals['requests']:>10}{totals['errors']:>7}"
            f"{1000 * totals['cpu'] / totals['requests']:>23.3f}"
        )
    ratio = trace["rps"] / health["rps"]
    # What the ratio would be with the cores to the workers alone: wrk and any other load left out.
    cpu_ratio = (health["cpu"] / health["requests"]) / (trace["cpu"] / trace["requests"])
    print(f"trace/healthz: {ratio:.0%} of the requests/s; {cpu_ratio:.0%} by worker CPU per request")
    replaced = set(before) != set(after)
    growth = max((after[pid] - before[pid]) / before[pid] for pid in before if pid in after) if not replaced else float("inf")
    print("worker memory (RSS):", ", ".join(
        f"pid {pid} {before[pid] / mib:.1f} -> {after.get(pid, 0) / mib:.1f} MiB" for pid in sorted(before)))
    if replaced:
        print("a worker was replaced during the run")
    checks = [
        ("zero errors", health["errors"] + trace["errors"] == 0, f"{health['errors'] + trace['errors']} errors"),
        (f"trace throughput >= {TARGET_RATIO:.0%} of healthz", ratio >= TARGET_RATIO, f"{ratio:.0%}"),
        (f"p99 < {TARGET_P99_MS:.0f} ms (both)", max(health["p99_us"], trace["p99_us"]) / 1000 < TARGET_P99_MS,
         f"healthz {health['p99_us'] / 1000:.1f} ms, trace {trace['p99_us'] / 1000:.1f} ms"),
        (f"worker memory growth < {TARGET_GROWTH:.0%}", growth < TARGET_GROWTH, f"{growth:+.1%} at most"),
    ]
    for name, ok, value in checks:
        print(f"{'ok  ' if ok else 'MISS'} {name}: {value}")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
