"""Load: the production server (2 workers on 127.0.0.1) with slow clients connected, and with a class at once.

    .venv/bin/python benchmarks/load.py                       # the three parts, about 2 minutes
    .venv/bin/python benchmarks/load.py --part slow           # (a) only: 200 slow connections
    .venv/bin/python benchmarks/load.py --part class --clients 64 --seconds 15
    .venv/bin/python benchmarks/load.py --part heavy          # (c) only: traces near the limits
    .venv/bin/python benchmarks/load.py --sync                # the same against the sync workers of before

Each part starts its own `backprop-viz serve --production --workers 2` on a
free port of 127.0.0.1, warms it up, measures for a bounded time and stops it.

(a) Slow clients: `--slow` connections (200) each send the headers of
`POST /api/v1/trace` and the first byte of its body, then wait. While they are
open (`--slow-seconds`, 8 s: less than the server's read timeout), a health
check and a seed trace are timed in turn, each on a new connection with a
1 s timeout. Then the script waits until the server has closed the slow
connections, or `--slow-wait` seconds (20) have passed since they were opened.
Targets: every check answers, p99 <= 200 ms; every slow connection is closed by
the server within its read timeout (BACKPROP_VIZ_READ_TIMEOUT) and 1 s.

(b) A class at once: wrk with `--clients` open connections (64), each sending
its next request when the last one is answered, on `GET /healthz`,
`POST /api/v1/trace` with the body of the preset seed002-ex2 (seed 002,
Exercise 2), the lab page of that preset and a static file (lab.css), for
`--seconds` each (15: a 60 s run), in `--rounds` (3) turns of 5 s, so that a
change in the machine's other load falls on every endpoint; the GETs ask for brotli or gzip as a browser
does. While wrk drives the trace, a health check on a connection of its own is
timed every 100 ms: what a load balancer sees while the workers compute.
Printed for each endpoint: requests/s, p50, p99, errors (socket errors and
non-2xx answers), worker CPU per request, and the workers' resident memory
before and after. Targets: zero errors, trace throughput at least 60% of the
health check's, p99 under 100 ms (health check, trace, static file), worker
memory growth under 10%. The lab page is shown against no latency target: it
takes about 18 ms of CPU to render, so 64 clients waiting on two cores queue
for 64 x 18 / 2 = about 580 ms whatever the server.

(c) Heavy traces: 4 clients in a loop on a trace near the limits (about
0.15 s of NumPy and a 30 MB answer each) for 10 s, while a health check is
timed every 100 ms: a computing request holds its worker, whatever the worker
class, and this shows what the health check waits meanwhile. No target.

Exits 1 if a target of (a) or (b) is missed. wrk comes from Debian's packages:
`apt-get install -y wrk`. It runs on the same two cores as the server, as a
course's reverse proxy would, so the numbers are for the whole machine, not
for gunicorn alone.
"""
from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import re
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Self

REPO = Path(__file__).resolve().parent.parent
SERVER = Path(sys.executable).parent / "backprop-viz"
WORKERS = 2
PRESET = "seed002-ex2"
TARGET_RATIO = 0.60
TARGET_P99_MS = 100.0
TARGET_GROWTH = 0.10
TARGET_SLOW_P99_MS = 200.0
CHECK_TIMEOUT = 1.0  # seconds a check may take with the slow connections open

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
BROWSER_GET = 'wrk.headers["Accept-Encoding"] = "br, gzip"\n'

# wrk's per-thread Lua: each request's body ends in whitespace spelling (thread, counter) in binary.
FRESH_BODIES = r"""
local threads = 0
setup = function(thread) threads = threads + 1; thread:set("id", threads) end
local n = 0
request = function()
  n = n + 1
  local k, pad = id * 100000000 + n, {}
  while k > 0 do pad[#pad + 1] = (k % 2 == 1) and "\n" or " "; k = math.floor(k / 2) end
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body .. table.concat(pad) .. "\t")
end
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("slow", "class", "heavy", "all"), default="all")
    parser.add_argument("--clients", type=int, default=64, help="(b) wrk's open connections (default: %(default)s)")
    parser.add_argument("--seconds", type=int, default=15, help="(b) seconds per endpoint (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="(b) the endpoints in turn, this many times, seconds/rounds each (default: %(default)s)")
    parser.add_argument("--slow", type=int, default=200, help="(a) slow connections (default: %(default)s)")
    parser.add_argument("--slow-seconds", type=float, default=8.0,
                        help="(a) seconds of checks with them open (default: %(default)s)")
    parser.add_argument("--slow-wait", type=float, default=20.0,
                        help="(a) seconds after which the script closes what the server has not (default: %(default)s)")
    parser.add_argument("--sync", action="store_true",
                        help="serve as before: gunicorn's sync workers, no read deadlines (for comparison)")
    args = parser.parse_args()
    Server.sync = args.sync
    if args.part != "slow" and shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk (Debian's package)", file=sys.stderr)
        return 2
    body = _preset_body(PRESET)
    print("server:", f"gunicorn -k sync -w {WORKERS} --preload (the production command before read deadlines)"
          if Server.sync else f"backprop-viz serve --production --workers {WORKERS}")
    ok = True
    if args.part in ("slow", "all"):
        print()
        with Server() as server:
            ok &= _report_slow(args, _slow_clients(server, body, args))
    if args.part in ("class", "all"):
        if args.part == "all":
            print()
        with Server() as server:
            ok &= _report_class(args, _class(server, body, args))
    if args.part in ("heavy", "all"):
        if args.part == "all":
            print()
        with Server() as server:
            _report_heavy(_heavy(server))
    return 0 if ok else 1


class Server:
    """`backprop-viz serve --production --workers 2` on a free port of 127.0.0.1, up; stopped on exit.

    sync=True: the production command before it had read deadlines (gunicorn's sync workers), for comparison.
    """

    sync = False

    def __enter__(self) -> Self:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        command = [str(SERVER), "serve", "--production", "--host", "127.0.0.1", "--port", str(self.port),
                   "--workers", str(WORKERS)]
        if self.sync:
            command = [str(SERVER.parent / "gunicorn"), "-k", "sync", "-w", str(WORKERS), "-b",
                       f"127.0.0.1:{self.port}", "--preload", "--timeout", "30", "--graceful-timeout", "30",
                       "--limit-request-line", "8190", "webapp:create_app()"]
        self.process = subprocess.Popen(
            command,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_until_up(self.base, self.process)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# (a) slow clients


def _slow_clients(server: Server, body: str, args) -> dict:
    _check_trace(server.base, body)
    for _ in range(20):  # warm-up: every worker has answered both kinds of request
        _timed(server.port, "GET", "/healthz", None, 5)
        _timed(server.port, "POST", "/api/v1/trace", body, 5)
    head = (
        f"POST /api/v1/trace HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body[:1].encode()
    watcher = _Watcher()
    for _ in range(args.slow):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(head)
        watcher.add(sock)
    watcher.start()
    health: list[float | None] = []
    trace: list[float | None] = []
    start = time.monotonic()
    while time.monotonic() - start < args.slow_seconds:
        health.append(_timed(server.port, "GET", "/healthz", None, CHECK_TIMEOUT))
        trace.append(_timed(server.port, "POST", "/api/v1/trace", body, CHECK_TIMEOUT))
        time.sleep(0.1)
    open_during_checks = watcher.open_count()
    watcher.join(max(0.0, args.slow_wait - (time.monotonic() - watcher.opened)))
    closed, still_open = watcher.stop()
    alive = server.process.poll() is None
    return {"health": health, "trace": trace, "closed": closed, "still_open": still_open,
            "open_during_checks": open_during_checks, "body_bytes": len(body), "alive": alive}


class _Watcher(threading.Thread):
    """Notes when the server closes each slow connection (seconds after all were opened)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.selector = selectors.DefaultSelector()
        self.closed: list[float] = []
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.opened = time.monotonic()
        self.count = 0

    def add(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.selector.register(sock, selectors.EVENT_READ)
        self.count += 1
        self.opened = time.monotonic()

    def open_count(self) -> int:
        with self.lock:
            return self.count - len(self.closed)

    def run(self) -> None:
        while not self.halt.is_set() and self.open_count():
            for key, _ in self.selector.select(timeout=0.1):
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:  # an answer (a 408, say) may come first; the close is what counts
                    self.selector.unregister(key.fileobj)
                    key.fileobj.close()
                    with self.lock:
                        self.closed.append(time.monotonic() - self.opened)

    def stop(self) -> tuple[list[float], int]:
        self.halt.set()
        self.join()
        still_open = 0
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()
            still_open += 1
        self.selector.close()
        return sorted(self.closed), still_open


def _settle(port: int, quick: float = 0.02, patience: float = 10.0) -> None:
    """Wait until the workers have drained what the last endpoint left queued.

    When wrk stops, the requests it had sent are still being answered (64 lab pages are about
    a second of work), and the next endpoint's first requests would wait behind them: its p99
    and CPU per request would be the last endpoint's. Three health checks in a row answered
    within `quick` seconds mean the queue is empty.
    """
    deadline = time.monotonic() + patience
    quick_in_a_row = 0
    while quick_in_a_row < 3 and time.monotonic() < deadline:
        elapsed = _timed(port, "GET", "/healthz", None, 1.0)
        quick_in_a_row = quick_in_a_row + 1 if elapsed is not None and elapsed <= quick else 0


def _timed(port: int, method: str, path: str, body: str | None, timeout: float) -> float | None:
    """Seconds until a 200 arrived whole on a new connection, or None (timeout, error, other status)."""
    start = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            return None
    except OSError:
        return None
    finally:
        connection.close()
    elapsed = time.perf_counter() - start
    return elapsed if elapsed <= timeout else None


def _percentile(samples: list[float | None], q: float) -> float:
    """Nearest-rank percentile; a failed check counts as infinitely slow."""
    values = sorted(math.inf if s is None else s for s in samples)
    if not values:
        return math.nan
    return values[min(len(values) - 1, max(0, math.ceil(q / 100 * len(values)) - 1))]


def _read_timeout() -> float:
    if Server.sync:
        return -math.inf  # the sync workers have none: nothing is closed in time
    sys.path.insert(0, str(REPO))
    from webapp.serving.settings import Settings

    return Settings.from_env().read_timeout


def _report_slow(args, run: dict) -> bool:
    print(f"(a) slow clients: {args.slow} connections on 127.0.0.1, each sent the headers of POST /api/v1/trace and "
          f"1 byte of its {run['body_bytes']}-byte body, then waited; checks for {args.slow_seconds:g} s, "
          f"each on a new connection with a {CHECK_TIMEOUT:g} s timeout")
    ms = lambda s: "-" if math.isinf(s) else f"{1000 * s:.1f}"
    print(f"{'check':<34}{'answered':>12}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for name, samples in (("GET /healthz", run["health"]), (f"POST /api/v1/trace ({PRESET})", run["trace"])):
        answered = sum(s is not None for s in samples)
        print(f"{name:<34}{f'{answered} of {len(samples)}':>12}{ms(_percentile(samples, 50)):>9}"
              f"{ms(_percentile(samples, 99)):>9}{ms(_percentile(samples, 100)):>9}")
    closed = run["closed"]
    print(f"slow connections still open when the checks ended: {run['open_during_checks']} of {args.slow}")
    if closed:
        print(f"closed by the server: {len(closed)} of {args.slow}, after {closed[0]:.1f} s (first), "
              f"{statistics.median(closed):.1f} s (median), {closed[-1]:.1f} s (last)")
    else:
        print(f"closed by the server: none of {args.slow}")
    if run["still_open"]:
        print(f"still open after {args.slow_wait:g} s (closed by this script): {run['still_open']}")
    if not run["alive"]:
        print("the server exited during the run")
    timeout = _read_timeout()
    p99 = max(_percentile(run["health"], 99), _percentile(run["trace"], 99))
    timeout_text = f"{timeout:g} s" if timeout > 0 else "none"
    in_time = [c for c in closed if c <= timeout + 1]  # none when the server has no read timeout
    checks = [
        ("every check answered", all(s is not None for s in run["health"] + run["trace"]),
         f"{sum(s is None for s in run['health'] + run['trace'])} failed"),
        (f"p99 <= {TARGET_SLOW_P99_MS:.0f} ms (both)", p99 * 1000 <= TARGET_SLOW_P99_MS, f"{ms(p99)} ms"),
        (f"slow connections closed by the server within its read timeout ({timeout_text}) + 1 s",
         len(in_time) == args.slow, f"{len(in_time)} of {args.slow}"),
    ]
    return _print_checks(checks)


# (b) a class at once


def _class(server: Server, body: str, args) -> dict:
    page = f"/lab/{PRESET}"
    with urllib.request.urlopen(server.base + page, timeout=10) as response:
        css = re.search(r'/static/lab\.css\?v=[0-9a-f]+', response.read().decode()).group(0)
    _check_trace(server.base, body)
    with tempfile.TemporaryDirectory() as folder:
        scripts = Path(folder)
        (scripts / "get.lua").write_text(BROWSER_GET + REPORT)
        (scripts / "trace.lua").write_text(
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = [==[{body}]==]\n" + REPORT
        )
        # The same trace with the body new every time (whitespace that encodes the thread and a
        # counter): no answer is ever asked again, so every request parses, validates and runs.
        (scripts / "fresh.lua").write_text(
            f"local body = [==[{body}]==]\n" + FRESH_BODIES + REPORT
        )
        endpoints = [
            ("GET /healthz", "/healthz", "get.lua"),
            (f"POST /api/v1/trace ({PRESET})", "/api/v1/trace", "trace.lua"),
            (f"POST /api/v1/trace ({PRESET}, new)", "/api/v1/trace", "fresh.lua"),
            (f"GET {page}", page, "get.lua"),
            ("GET /static/lab.css", css, "get.lua"),
        ]
        # Warm-up: imports, caches, the allocator's arenas; then the "before" memory.
        for _, path, script in endpoints:
            _wrk(server.base + path, scripts / script, args.clients, 2)
        before = _worker_memory(server.process.pid)
        # In rounds, the endpoints in turn: a change in the machine's other load then falls on all of them.
        rounds: dict[str, list[dict]] = {name: [] for name, _, _ in endpoints}
        probe_samples: list[float | None] = []
        for _ in range(args.rounds):
            for name, path, script in endpoints:
                _settle(server.port)
                cpu = _worker_cpu(server.process.pid)
                probe = _Probe(server.port) if path == "/api/v1/trace" else None
                totals = _wrk(server.base + path, scripts / script, args.clients, args.seconds / args.rounds)
                totals["cpu"] = _worker_cpu(server.process.pid) - cpu
                rounds[name].append(totals)
                if probe:
                    probe_samples += probe.stop()
        after = _worker_memory(server.process.pid)
    results = {name: _combine(parts) for name, parts in rounds.items()}
    results[f"POST /api/v1/trace ({PRESET})"]["probe"] = probe_samples
    return {"results": results, "before": before, "after": after}


def _combine(parts: list[dict]) -> dict:
    """One endpoint's rounds together: sums, the median p50, and the worst round's p99 and max."""
    totals = {key: sum(part[key] for part in parts) for key in ("requests", "seconds", "errors", "cpu")}
    totals["rps"] = totals["requests"] / totals["seconds"]
    totals["p50_us"] = statistics.median(part["p50_us"] for part in parts)
    totals["p99_us"] = max(part["p99_us"] for part in parts)
    totals["max_us"] = max(part["max_us"] for part in parts)
    totals["rounds_rps"] = [part["rps"] for part in parts]
    return totals


class _Probe(threading.Thread):
    """A health check every 100 ms, each on a new connection: its latencies while wrk runs."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.samples: list[float | None] = []
        self.halt = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.halt.wait(0.1):
            self.samples.append(_timed(self.port, "GET", "/healthz", None, 5))

    def stop(self) -> list[float | None]:
        self.halt.set()
        self.join()
        return self.samples


def _wrk(url: str, script: Path, clients: int, seconds: float) -> dict:
    threads = min(2, clients)
    result = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--timeout", "5s", "-s", str(script), url],
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


def _report_class(args, run: dict) -> bool:
    results, before, after = run["results"], run["before"], run["after"]
    mib = 1024 * 1024
    print(f"(b) a class at once: {WORKERS} workers on 127.0.0.1; wrk, {args.clients} connections, "
          f"{args.seconds} s per endpoint in {args.rounds} rounds (p50: median of the rounds; p99, max: the worst)")
    print(f"{'endpoint':<34}{'requests/s':>11}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'requests':>10}"
          f"{'errors':>7}{'worker CPU ms/request':>23}")
    for name, totals in results.items():
        print(
            f"{name:<34}{totals['rps']:>11.0f}{totals['p50_us'] / 1000:>8.2f}{totals['p99_us'] / 1000:>8.2f}"
            f"{totals['max_us'] / 1000:>8.2f}{totals['requests']:>10}{totals['errors']:>7}"
            f"{1000 * totals['cpu'] / max(1, totals['requests']):>23.3f}"
        )
    health, trace = results["GET /healthz"], results[f"POST /api/v1/trace ({PRESET})"]
    static = results["GET /static/lab.css"]
    probe = trace["probe"]
    print(f"GET /healthz every 100 ms while wrk drives the trace: {sum(s is not None for s in probe)} of "
          f"{len(probe)} answered, p50 {1000 * _percentile(probe, 50):.1f} ms, "
          f"p99 {1000 * _percentile(probe, 99):.1f} ms, max {1000 * _percentile(probe, 100):.1f} ms")
    ratio = trace["rps"] / health["rps"]
    print("trace/healthz by round:", ", ".join(f"{t / h:.0%}" for t, h in zip(trace["rounds_rps"], health["rounds_rps"])))
    fresh = results[f"POST /api/v1/trace ({PRESET}, new)"]
    print(f"a new body each time (no answer asked again): {fresh['rps'] / health['rps']:.0%} of healthz's requests/s, "
          f"{fresh['rps'] / trace['rps']:.0%} of the same body's")
    # What the ratio would be with the cores to the workers alone: wrk and any other load left out.
    cpu_ratio = (health["cpu"] / health["requests"]) / (trace["cpu"] / trace["requests"])
    print(f"trace/healthz: {ratio:.0%} of the requests/s; {cpu_ratio:.0%} by worker CPU per request")
    replaced = set(before) != set(after)
    growth = max((after[pid] - before[pid]) / before[pid] for pid in before) if not replaced else math.inf
    print("worker memory (RSS):", ", ".join(
        f"pid {pid} {before[pid] / mib:.1f} -> {after.get(pid, 0) / mib:.1f} MiB" for pid in sorted(before)))
    if replaced:
        print("a worker was replaced during the run")
    errors = sum(totals["errors"] for totals in results.values())
    p99 = {name: totals["p99_us"] / 1000 for name, totals in
           (("healthz", health), ("trace", trace), ("static", static))}
    checks = [
        ("zero errors", errors == 0, f"{errors} errors"),
        (f"trace throughput >= {TARGET_RATIO:.0%} of healthz", ratio >= TARGET_RATIO, f"{ratio:.0%}"),
        (f"p99 < {TARGET_P99_MS:.0f} ms (healthz, trace, static)", max(p99.values()) < TARGET_P99_MS,
         ", ".join(f"{name} {value:.1f} ms" for name, value in p99.items())),
        (f"worker memory growth < {TARGET_GROWTH:.0%}", growth < TARGET_GROWTH, f"{growth:+.1%} at most"),
    ]
    return _print_checks(checks)


def _print_checks(checks: list[tuple[str, bool, str]]) -> bool:
    for name, ok, value in checks:
        print(f"{'ok  ' if ok else 'MISS'} {name}: {value}")
    return all(ok for _, ok, _ in checks)


# (c) heavy traces


HEAVY_CLIENTS = 4
HEAVY_SECONDS = 10


def _heavy_body() -> str:
    """A trace near the limits: 64-64-1 tanh, 64 examples, 60 steps (max_trace_values), about 0.15 s and a 30 MB answer."""
    import numpy as np

    rng = np.random.default_rng(0)
    normal = lambda *shape: rng.normal(size=shape).round(3).tolist()
    return json.dumps({
        "layout": "columns",
        "layers": [{"weights": normal(64, 64), "bias": None, "activation": "tanh"},
                   {"weights": normal(1, 64), "bias": None, "activation": "identity"}],
        "inputs": normal(64, 64), "targets": normal(1, 64),
        "loss": {"name": "squared_error", "reduction": "mean", "half": True},
        "optimizer": {"name": "sgd", "learning_rate": 0.01}, "steps": 60,
    })


def _heavy(server: Server) -> dict:
    body = _heavy_body()
    times: list[float | None] = []
    halt = threading.Event()

    def client() -> None:
        while not halt.is_set():
            times.append(_timed(server.port, "POST", "/api/v1/trace", body, 30))

    _timed(server.port, "POST", "/api/v1/trace", body, 30)
    probe = _Probe(server.port)
    clients = [threading.Thread(target=client, daemon=True) for _ in range(HEAVY_CLIENTS)]
    for thread in clients:
        thread.start()
    time.sleep(HEAVY_SECONDS)
    halt.set()
    for thread in clients:
        thread.join()
    return {"traces": times, "probe": probe.stop(), "body_bytes": len(body)}


def _report_heavy(run: dict) -> None:
    traces, probe = run["traces"], run["probe"]
    print(f"(c) heavy traces: {HEAVY_CLIENTS} clients in a loop on a trace near the limits "
          f"({run['body_bytes'] // 1000} KB body, 64-64-1 network, 60 steps), {HEAVY_SECONDS} s; a health check "
          "every 100 ms on a new connection")
    for name, samples in (("POST /api/v1/trace (heavy)", traces), ("GET /healthz", probe)):
        print(f"{name:<30}{sum(s is not None for s in samples):>5} of {len(samples):<5} answered, "
              f"p50 {1000 * _percentile(samples, 50):.1f} ms, p99 {1000 * _percentile(samples, 99):.1f} ms, "
              f"max {1000 * _percentile(samples, 100):.1f} ms")


# shared


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


def _workers(master: int) -> list[int]:
    """The master's children: the workers."""
    return [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()]


def _worker_memory(master: int) -> dict[int, int]:
    """Resident bytes of each worker, from /proc."""
    memory = {}
    for pid in _workers(master):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                memory[pid] = int(line.split()[1]) * 1024
    return memory


def _worker_cpu(master: int) -> float:
    """CPU seconds (user + system) the workers have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in _workers(master):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat(5)
    return total / ticks


if __name__ == "__main__":
    sys.exit(main())
