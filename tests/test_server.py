"""The API once through a real WSGI server (gunicorn), over real HTTP."""
from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from test_refcases import mismatches

REPO = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """(host, port) of a gunicorn serving webapp:create_app(), stopped after the module's tests."""
    port = free_port()
    process = subprocess.Popen(
        [str(GUNICORN), "-b", f"127.0.0.1:{port}", "-w", "1", "webapp:create_app()"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/limits", timeout=2):
                    break
            except urllib.error.HTTPError:
                raise
            except OSError:
                assert process.poll() is None, "gunicorn exited"
                assert time.monotonic() < deadline, "gunicorn did not answer within 30 s"
                time.sleep(0.2)
        yield "127.0.0.1", port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def post(server, body: bytes, headers: dict, chunked: bool = False) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection(*server, timeout=30)
    try:
        if chunked:
            connection.request("POST", "/api/v1/trace", body=iter([body]), headers=headers, encode_chunked=True)
        else:
            connection.request("POST", "/api/v1/trace", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


def test_refcase_over_http(server, refcases):
    case = refcases["seed_hw3_problem2_case2_layer2_only"]
    request = urllib.request.Request(
        f"http://{server[0]}:{server[1]}/api/v1/trace",
        data=json.dumps(case["request"]).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        assert response.headers.get_content_type() == "application/json"
        body = json.load(response)
    problems = list(mismatches(case["expected"], body))
    assert not problems, problems[:3]


def test_problem_over_http(server):
    status, content_type, body = post(server, b'{"layers": [', {"Content-Type": "application/json"})
    assert status == 400
    assert content_type == "application/problem+json"
    assert json.loads(body)["status"] == 400


def test_chunked_body_over_the_limit_is_413(server):
    """Without a Content-Length the server still stops reading at max_body_bytes."""
    body = b'{"pad": "' + b" " * (4 * 1024 * 1024) + b'"}'
    status, content_type, answer = post(server, body, {"Content-Type": "application/json"}, chunked=True)
    assert status == 413
    assert json.loads(answer)["limit"] == "max_body_bytes"


def test_small_chunked_body_is_read(server, refcases):
    body = json.dumps(refcases["mazur_classic"]["request"]).encode()
    status, content_type, answer = post(server, body, {"Content-Type": "application/json"}, chunked=True)
    assert status == 200
    assert not list(mismatches(refcases["mazur_classic"]["expected"], json.loads(answer)))
