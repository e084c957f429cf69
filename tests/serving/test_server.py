"""The API once through a real WSGI server (gunicorn), over real HTTP."""
from __future__ import annotations

import http.client
import json
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.engine.test_refcases import mismatches

GUNICORN = Path(sys.executable).parent / "gunicorn"


@pytest.fixture(scope="module")
def server(start_server):
    """(host, port) of a gunicorn serving webapp:create_app()."""
    base = start_server(lambda port: [str(GUNICORN), "-b", f"127.0.0.1:{port}", "-w", "1", "webapp:create_app()"])
    host, port = base.removeprefix("http://").split(":")
    return host, int(port)


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
