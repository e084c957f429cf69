"""`backprop-viz serve --production`: gunicorn with the settings, over real HTTP."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.engine.test_refcases import mismatches
from tests.paths import REPO

SCRIPT = Path(sys.executable).parent / "backprop-viz"


def serve(*args: str):
    return lambda port: [str(SCRIPT), "serve", "--production", "--port", str(port), *args]


@pytest.fixture(scope="module")
def base(start_server):
    return start_server(serve("--workers", "2"), probe="/healthz")


def get(url: str, headers: dict | None = None):
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30)


def test_healthz_over_http(base):
    with get(base + "/healthz") as response:
        assert response.status == 200
        assert json.load(response) == {"status": "ok"}
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Server"].startswith("gunicorn")


def test_a_trace_over_http(base, refcases):
    case = refcases["seed_assignment1_ex2"]
    request = urllib.request.Request(
        base + "/api/v1/trace",
        data=json.dumps(case["request"]).encode(),
        headers={"Content-Type": "application/json", "Accept-Encoding": "gzip"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        assert response.headers["Content-Encoding"] == "gzip"
        assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]
        body = json.loads(gzip.decompress(response.read()))
    problems = list(mismatches(case["expected"], body))
    assert not problems, problems[:3]


@pytest.mark.parametrize("url", ["/", "/lab/xor", "/api/v1/presets", "/no-such-page"])
def test_headers_over_http(base, url):
    try:
        response = get(base + url)
    except urllib.error.HTTPError as error:
        response = error
    with response:
        headers = response.headers
        assert "script-src 'self';" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert headers["X-Frame-Options"] == "SAMEORIGIN"


def test_a_long_lab_url_is_served(base):
    """The lab's state travels in the URL: gunicorn's default 4094-byte request line is raised to 8190."""
    with get(base + "/lab/xor?at=" + "s" * 7000) as response:
        assert response.status == 200


def test_settings_come_from_the_environment(start_server):
    base = start_server(lambda port: ["env", "BACKPROP_VIZ_MAX_WORK=100", *serve("--workers", "1")(port)], probe="/healthz")
    with get(base + "/api/v1/limits") as response:
        assert json.load(response)["max_work"] == 100


def test_a_bad_setting_stops_the_server_with_a_message():
    result = subprocess.run(
        [str(SCRIPT), "serve", "--production", "--port", "1"],
        env={**os.environ, "BACKPROP_VIZ_WORKERS": "many"},
        capture_output=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert b"BACKPROP_VIZ_WORKERS" in result.stderr


def test_production_refuses_debug():
    result = subprocess.run(
        [str(SCRIPT), "serve", "--production", "--debug"], capture_output=True, cwd=REPO, timeout=60, check=False
    )
    assert result.returncode == 2
    assert b"--debug" in result.stderr


def test_the_settings_reach_gunicorn():
    from webapp import create_app
    from webapp.cli import _production_server
    from webapp.serving.settings import Settings

    settings = Settings(host="::1", port=8123, workers=3, timeout=7, graceful_timeout=9, max_connections=50)
    config = _production_server(create_app({"SETTINGS": settings}), settings).cfg
    assert config.bind == ["[::1]:8123"]
    assert (config.workers, config.timeout, config.graceful_timeout) == (3, 7, 9)
    assert config.worker_class_str == "webapp.serving.worker.Worker" and config.preload_app
    assert config.worker_connections == 50
    assert config.limit_request_line == 8190


def test_one_answer_per_connection(base):
    """A kept-alive connection would tie its client to one worker, which may be computing (webapp.serving.worker)."""
    with get(base + "/healthz") as response:
        assert response.headers["Connection"] == "close"


def test_the_rate_limit_over_http(start_server):
    base = start_server(
        lambda port: ["env", "BACKPROP_VIZ_RATE_LIMIT=2/minute", *serve("--workers", "1")(port)], probe="/healthz"
    )
    for _ in range(2):
        with get(base + "/api/v1/presets"):
            pass
    with pytest.raises(urllib.error.HTTPError) as error:
        get(base + "/api/v1/presets")
    with error.value:
        assert error.value.code == 429 and error.value.headers["Retry-After"]
    for _ in range(5):  # the health check is never counted
        with get(base + "/healthz") as response:
            assert response.status == 200
