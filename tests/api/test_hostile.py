"""Hostile request bodies: each gets its 4xx, in well under 2 s, without the memory running away.

tests/test_api.py holds the many small bad bodies (shapes, names, NaN, one
duplicate key, one deep nesting, content types); this table holds the big and
the nasty ones: a million numbers, values at the edge of float64, two million
levels of nesting, compression bombs, and URL tokens that inflate without end.
Memory is measured twice: per request in the process (tracemalloc peak,
bounded by a multiple of the body limit), and on a real gunicorn worker over
many rounds (its resident memory must not keep growing).
"""
from __future__ import annotations

import base64
import copy
import http.client
import json
import sys
import time
import tracemalloc
import urllib.request
import zlib
from pathlib import Path

import brotli
import pytest

from tests.paths import REFCASES_FILE

REFCASES = {case["name"]: case for case in json.loads(REFCASES_FILE.read_text())["cases"]}
# Seed 002, Exercise 2: columns layout, X 2x4, W1 3x2, W2 1x3, no biases, targets.
SEED002 = REFCASES["seed_assignment1_ex2"]["request"]
MAX_BODY_BYTES = 4 * 1024 * 1024  # the default limit (GET /api/v1/limits)
SECONDS = 2.0
# Parsing a body at the limit into Python lists of floats takes about 10 bytes per body byte.
MEMORY_BOUND = 16 * MAX_BODY_BYTES
PROBLEM = "application/problem+json"
JSON = {"Content-Type": "application/json"}
MIB = 1024 * 1024


def text(body: dict) -> bytes:
    return json.dumps(body).encode()


def with_layers(*layers: dict, **fields) -> bytes:
    return text({**copy.deepcopy(SEED002), "layers": list(layers), **fields})


def matrix(rows: int, columns: int, value: str = "0") -> str:
    row = "[" + ",".join([value] * columns) + "]"
    return "[" + ",".join([row] * rows) + "]"


def rows_body(inputs: str, weights: list[str], targets: str, steps: int = 1) -> bytes:
    """A rows-layout body, its matrices given as JSON text: relu layers, the last one identity."""
    layers = ", ".join(
        '{"weights": ' + w + ', "bias": null, "activation": "' + ("identity" if i == len(weights) - 1 else "relu") + '"}'
        for i, w in enumerate(weights)
    )
    return (
        '{"layout": "rows", "inputs": ' + inputs + ', "layers": [' + layers + '], "targets": ' + targets + ", "
        '"loss": {"name": "squared_error"}, "steps": ' + str(steps) + "}"
    ).encode()


def deflated(size: int, wbits: int) -> bytes:
    """`size` zero bytes deflated (wbits 31: gzip, 15: zlib), built a mebibyte at a time."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = bytes(MIB)
    return b"".join([compressor.compress(zeros) for _ in range(size // MIB)] + [compressor.flush()])


def brotli_bomb(size: int) -> bytes:
    compressor = brotli.Compressor(quality=1)
    zeros = bytes(MIB)
    return b"".join([compressor.process(zeros) for _ in range(size // MIB)] + [compressor.finish()])


def every_number_a_string(body: dict) -> dict:
    def convert(value):
        if isinstance(value, list):
            return [convert(item) for item in value]
        return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    return {**body, "inputs": convert(body["inputs"]), "targets": convert(body["targets"]),
            "layers": [{**layer, "weights": convert(layer["weights"])} for layer in body["layers"]]}


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    return {
        "gzip": deflated(256 * MIB, 31),  # 256 MiB of zeros in about 260 KB
        "deflate": deflated(256 * MIB, 15),
        "br": brotli_bomb(1024 * MIB),  # 1 GiB in about 190 KB
    }


W1, W2 = SEED002["layers"]
# (id, endpoint, body or a bomb's name, headers, status, what the problem names: a limit, a path or a type)
HOSTILE = [
    # A million numbers: each is refused by the first limit it is over, before any NumPy work.
    ("10^6 inputs: 1000x1000, 500 steps", "/api/v1/trace",
     rows_body(matrix(1000, 1000), [matrix(1000, 1)], matrix(1000, 1), steps=500), JSON, 413, "max_work"),
    ("10^6 weights: 1000x1000", "/api/v1/trace",
     rows_body(matrix(2, 1000), [matrix(1000, 1000), matrix(1000, 1)], "[[0],[0]]"), JSON, 413, "max_trace_values"),
    ("10^6 inputs in one row, W1 of the wrong shape", "/api/v1/trace",
     rows_body(matrix(1, 10**6), ["[[0]]"], "[[0]]"), JSON, 422, "layers/0/weights"),
    ("10^6 numbers over the body limit", "/api/v1/trace",
     rows_body(matrix(1000, 1000, "-1.5"), [matrix(1000, 1)], matrix(1000, 1)), JSON, 413, "max_body_bytes"),
    ("10^6 parameters to gradient-check", "/api/v1/gradcheck",
     rows_body(matrix(1, 1000), [matrix(1000, 1000)], matrix(1, 1000)), JSON, 413, "max_gradcheck_work"),
    ("10^6 labels", "/api/v1/trace",
     text({**{k: v for k, v in SEED002.items() if k != "targets"}, "labels": [0] * 10**6}), JSON, 422, "labels"),
    # The edges of float64: finite in, not finite while training.
    ("1e308 weights", "/api/v1/trace",
     with_layers({**W1, "weights": [[1e308, 1e308]] * 3}, {**W2, "weights": [[1e308] * 3]}), JSON, 422,
     "training-overflow"),
    ("-1e308 and 1e308 inputs", "/api/v1/trace",
     text({**SEED002, "inputs": [[-1e308] * 4, [1e308] * 4]}), JSON, 422, "training-overflow"),
    ("1e308 learning rate", "/api/v1/trace",
     text({**SEED002, "optimizer": {"name": "sgd", "learning_rate": 1e308}, "steps": 3}), JSON, 422,
     "training-overflow"),
    ("1e308 in a gradient check", "/api/v1/gradcheck",
     with_layers({**W1, "weights": [[1e308, 1e308]] * 3}, W2), JSON, 422, "training-overflow"),
    # Shapes of JSON a parser can choke on.
    ("2,000,000-deep nesting", "/api/v1/trace",
     b'{"layers": ' + b"[" * 2_000_000 + b"]" * 2_000_000 + b"}", JSON, 400, "malformed-body"),
    ("100,000 repeated keys", "/api/v1/trace",
     b"{" + b",".join([b'"steps": 1'] * 100_000) + b"}", JSON, 400, "malformed-body"),
    ("every number a string", "/api/v1/trace", text(every_number_a_string(SEED002)), JSON, 422, "inputs/0/0"),
    ("a 3 MB string for a number", "/api/v1/trace",
     text({**SEED002, "inputs": [["7" * 3_000_000, 0.2, -0.75, 0.2], SEED002["inputs"][1]]}), JSON, 422,
     "inputs/0/0"),
    ("steps 10^9", "/api/v1/trace", text({**SEED002, "steps": 10**9}), JSON, 413, "max_steps"),
    # The explain endpoint: its request is a trace request under the same limits, its cell two indices.
    ("explain: 10^6 inputs, 500 steps", "/api/v1/explain",
     b'{"key": "s0.loss", "cell": [], "request": ' + rows_body(matrix(1000, 1000), [matrix(1000, 1)], matrix(1000, 1),
                                                             steps=500) + b"}", JSON, 413, "max_work"),
    ("explain: a cell of 10^6 indices", "/api/v1/explain",
     text({"request": SEED002, "key": "s0.loss", "cell": [0] * 10**6}), JSON, 422, "cell"),
    ("explain: 2,000,000-deep cell", "/api/v1/explain",
     b'{"key": "s0.loss", "cell": ' + b"[" * 2_000_000 + b"]" * 2_000_000 + b"}", JSON, 400, "malformed-body"),
    ("explain: step 10^9", "/api/v1/explain",
     text({"request": SEED002, "key": "s1000000000.loss", "cell": []}), JSON, 422, "key"),
    # Not JSON, or not plain: refused before a byte of the body is read.
    ("4 MB of text/plain", "/api/v1/trace", b"{" * (4 * 10**6), {"Content-Type": "text/plain"}, 415,
     "unsupported-media-type"),
    ("4 MB of a form", "/api/v1/trace", b"a=" + b"1" * (4 * 10**6),
     {"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported-media-type"),
    ("text/json", "/api/v1/trace", text(SEED002), {"Content-Type": "text/json"}, 415, "unsupported-media-type"),
    ("empty body, no Content-Type", "/api/v1/trace", b"", {}, 415, "unsupported-media-type"),
    ("gzip bomb", "/api/v1/trace", "gzip", {**JSON, "Content-Encoding": "gzip"}, 415, "unsupported-media-type"),
    ("deflate bomb", "/api/v1/gradcheck", "deflate", {**JSON, "Content-Encoding": "deflate"}, 415,
     "unsupported-media-type"),
    ("brotli bomb", "/api/v1/trace", "br", {**JSON, "Content-Encoding": "br"}, 415, "unsupported-media-type"),
    ("gzip bomb, twice encoded", "/api/v1/trace", "gzip", {**JSON, "Content-Encoding": "gzip, gzip"}, 415,
     "unsupported-media-type"),
]


# Bodies whose every entry is bad: the answer (and its cost) must stay as small as for one bad entry.
AMPLIFIED = [
    ("10^6 strings where numbers go", "/api/v1/trace",
     rows_body(matrix(1000, 1000, '"x"'), ["[[0]]"], "[[0]]"), JSON, 422, "inputs/0/0"),
    ("200,000 unknown keys", "/api/v1/trace",
     text({**SEED002, **{f"k{i}": 0 for i in range(200_000)}}), JSON, 422, "k0"),
]

# The training endpoints: a hidden layer this wide must be refused before anything is built
# (10^9 units would otherwise take the machine's whole memory).
UNCHECKED = [
    ("a hidden layer of 2*10^7 units to train", "/api/v1/train/advance",
     text({"setup": {"dataset": "xor", "hidden": [2 * 10**7]}, "steps": 1}), JSON, 413, "max_units"),
    ("a hidden layer of 10^9 units to open", "/api/v1/train/open",
     text({"setup": {"dataset": "xor", "hidden": [10**9]}, "step": 0}), JSON, 413, "max_units"),
]


def body_of(case_body, bombs) -> bytes:
    return bombs[case_body] if isinstance(case_body, str) else case_body


def assert_problem(response, status: int, names: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == PROBLEM
    problem = response.get_json()
    assert problem["status"] == status
    named = [problem["type"], problem.get("limit")] + [error["path"] for error in problem.get("errors", [])]
    assert any(names == item or (item and item.endswith(":" + names)) for item in named), problem
    if problem.get("errors") is not None:
        assert len(problem["errors"]) <= 50  # never an answer as big as the question


@pytest.mark.parametrize(
    ("endpoint", "body", "headers", "status", "names"),
    [pytest.param(*case[1:], id=case[0]) for case in HOSTILE]
    + [pytest.param(*case[1:], id=case[0]) for case in AMPLIFIED]
    + [pytest.param(*case[1:], id=case[0]) for case in UNCHECKED],
)
def test_hostile_body_is_refused_quickly_in_bounded_memory(client, bombs, endpoint, body, headers, status, names):
    data = body_of(body, bombs)
    started = time.perf_counter()
    response = client.post(endpoint, data=data, headers=headers)
    elapsed = time.perf_counter() - started
    assert_problem(response, status, names)
    assert elapsed < SECONDS, f"{elapsed:.2f} s"

    tracemalloc.start()
    try:
        client.post(endpoint, data=data, headers=headers).close()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"peak {peak / MIB:.1f} MiB for a {len(data) / MIB:.1f} MiB body"


def test_the_bombs_are_bombs(bombs):
    assert zlib.decompressobj(31).decompress(bombs["gzip"], 300 * MIB).count(0) == 256 * MIB
    assert len(bombs["gzip"]) < MIB and len(bombs["br"]) < MIB


def test_the_million_number_bodies_fit_the_body_limit():
    """Their 413 comes from the limit on the work, not on the bytes."""
    sizes = {case[0]: len(case[2]) for case in HOSTILE if not isinstance(case[2], str)}
    for name in ("10^6 inputs: 1000x1000, 500 steps", "10^6 weights: 1000x1000", "10^6 parameters to gradient-check"):
        assert sizes[name] <= MAX_BODY_BYTES, name
    assert sizes["10^6 numbers over the body limit"] > MAX_BODY_BYTES


# Tokens in URLs: a state or a lab network that inflates without end stops at the body limit.


def token(packed: bytes) -> str:
    return base64.urlsafe_b64encode(packed).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/export?state={bomb}", 413),
        ("/oembed?url=http://localhost/embed?state={bomb}", 404),
        ("/lab?state={bomb}", 413),
    ],
)
def test_inflating_tokens_are_refused_quickly(client, url, status):
    bomb = token(deflated(64 * MIB, 15))  # 64 MiB of zeros in about 90 KB of URL
    started = time.perf_counter()
    tracemalloc.start()
    try:
        response = client.get(url.format(bomb=bomb))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert response.status_code == status
    assert time.perf_counter() - started < SECONDS
    assert peak < MEMORY_BOUND


# A real worker: its memory after many hostile rounds ----------------------------------------------------------


def worker_rss(master_pid: int) -> tuple[int, int]:
    """(pid, resident bytes) of the single worker of a gunicorn master."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    assert len(children) == 1, children
    pid = int(children[0])
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return pid, int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_a_worker_stays_up_and_bounded_under_hostile_bodies(start_server, bombs):
    command = [str(Path(sys.executable).parent / "backprop-viz"), "serve", "--production", "--workers", "1"]
    def launch(port: int) -> list[str]:
        return command + ["--port", str(port)]

    base = start_server(launch, probe="/healthz")
    master = _gunicorn_master(int(base.rsplit(":", 1)[1]))
    cases = [(c[1], body_of(c[2], bombs), c[3], c[4]) for c in HOSTILE + AMPLIFIED + UNCHECKED]

    def one_round() -> None:
        for endpoint, data, headers, status in cases:
            got = post(base, endpoint, data, headers)
            # A refusal before the body is read may close the connection under the client's feet.
            assert got == status or (got is None and status in (413, 415)), (endpoint, got)

    one_round()  # the first round grows the heap to what a body at the limit needs
    pid, settled = worker_rss(master)
    for _ in range(3):
        one_round()
    same_pid, after = worker_rss(master)
    assert same_pid == pid, "the worker was killed and replaced"
    assert after < settled * 1.10 + 8 * MIB, f"{settled / MIB:.0f} MiB -> {after / MIB:.0f} MiB"
    with urllib.request.urlopen(base + "/healthz", timeout=10) as response:
        assert json.load(response) == {"status": "ok"}


def post(base: str, endpoint: str, data: bytes, headers: dict) -> int | None:
    """The status of a POST, or None when the server closed the connection before it could be read."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        try:
            connection.request("POST", endpoint, body=data, headers=headers)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the answer may still be waiting in the socket
        try:
            response = connection.getresponse()
        except (ConnectionResetError, http.client.RemoteDisconnected):
            return None
        response.read()
        return response.status
    finally:
        connection.close()


def _gunicorn_master(port: int) -> int:
    """The pid of the gunicorn master serving `port`: its worker is a fork with the same command line."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if b"--production" in cmdline and str(port).encode() in cmdline:
            found[int(proc.name)] = parent
    masters = [pid for pid, parent in found.items() if parent not in found]
    assert len(masters) == 1, found
    return masters[0]
