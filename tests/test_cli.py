"""The `backprop-viz` console script, run as a user runs it: in a subprocess."""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from engine import presets
from tests.paths import REPO

SCRIPT = Path(sys.executable).parent / "backprop-viz"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "webapp.cli"]


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        COMMAND + list(args), input=stdin, capture_output=True, cwd=REPO, timeout=60, check=False
    )


@pytest.fixture
def body_file(tmp_path, refcases):
    path = tmp_path / "request.json"
    path.write_text(json.dumps(refcases["quiz4_softmax_ce"]["request"]))
    return path


def test_trace_of_a_file_equals_the_api(client, body_file):
    result = run("trace", str(body_file))
    assert result.returncode == 0, result.stderr.decode()
    api = client.post("/api/v1/trace", data=body_file.read_bytes(), content_type="application/json")
    assert json.loads(result.stdout) == api.get_json()


def test_trace_of_stdin_equals_the_api(client, refcases):
    body = json.dumps(refcases["mazur_classic"]["request"]).encode()
    result = run("trace", "-", stdin=body)
    assert result.returncode == 0, result.stderr.decode()
    api = client.post("/api/v1/trace", data=body, content_type="application/json")
    assert json.loads(result.stdout) == api.get_json()
    assert result.stderr == b""


def test_presets_lists_every_id_and_title():
    result = run("presets")
    assert result.returncode == 0
    lines = result.stdout.decode().splitlines()
    assert [line.split("\t") for line in lines] == [[p.id, p.title] for p in presets.PRESETS]


@pytest.mark.parametrize(
    ("text", "status", "path"),
    [
        ('{"layers": [', 400, None),
        ("[1, 2]", 400, None),
        ('{"layers": [], "inputs": [[1]], "targets": [[1]], "loss": {"name": "squared_error"}}', 422, "layers"),
        ('{"layers": [{"weights": [[1]], "activation": "relu"}], "inputs": [[NaN]], "targets": [[1]],'
         ' "loss": {"name": "squared_error"}}', 422, "inputs/0/0"),
    ],
)
def test_bad_input_exits_2_with_the_problem_on_stderr(text, status, path):
    result = run("trace", "-", stdin=text.encode())
    assert result.returncode == 2
    assert result.stdout == b""
    problem = json.loads(result.stderr)
    assert problem["status"] == status
    if path is not None:
        assert path in [error["path"] for error in problem["errors"]]


def test_overflow_exits_2(refcases):
    body = refcases["seed_assignment1_ex2"]["request"]
    huge = [{**layer, "weights": [[1e200] * len(row) for row in layer["weights"]]} for layer in body["layers"]]
    body = {**body, "layers": huge}
    result = run("trace", "-", stdin=json.dumps(body).encode())
    assert result.returncode == 2
    problem = json.loads(result.stderr)
    assert (problem["status"], problem["step"], problem["layer"]) == (422, 0, 2)


def test_missing_file_exits_2(tmp_path):
    result = run("trace", str(tmp_path / "missing.json"))
    assert result.returncode == 2
    assert b"missing.json" in result.stderr


def test_no_command_is_a_usage_error():
    result = run()
    assert result.returncode == 2
    assert b"usage" in result.stderr


def test_serve_answers_http(start_server):
    base = start_server(lambda port: COMMAND + ["serve", "--host", "127.0.0.1", "--port", str(port)])
    with urllib.request.urlopen(base + "/api/v1/limits", timeout=10) as response:
        assert response.status == 200
        assert json.load(response)["max_steps"] == 500
