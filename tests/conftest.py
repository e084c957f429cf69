"""Shared fixtures: the app, its test client, and the reference traces beside the checkout."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

from webapp import create_app

# CI runs the same hypothesis examples every time (a red build is then a real regression
# that reproduces); a developer's runs draw new examples and keep exploring.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parent.parent
REFCASES = REPO.parent / "shared" / "refcases" / "trace-v1-cases.json"


@pytest.fixture
def app():
    return create_app({"TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def client_with_limits():
    """A test client of an app with some limits overridden: client_with_limits(max_steps=2)."""

    def make(**limits):
        return create_app({"TESTING": True, "LIMITS": limits}).test_client()

    return make


@pytest.fixture(scope="session")
def refcases() -> dict[str, dict]:
    """The reference traces by name: {"mazur_classic": {"request": ..., "expected": ...}, ...}."""
    return {case["name"]: case for case in json.loads(REFCASES.read_text())["cases"]}


@pytest.fixture(scope="session")
def start_server():
    """start_server(command) -> base URL: runs command(port) from the repo root until it answers HTTP.

    Every server started is stopped at the end of the session.
    """
    processes = []

    def start(command: Callable[[int], list[str]], probe: str = "/api/v1/limits") -> str:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        process = subprocess.Popen(command(port), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + probe, timeout=2):
                    return base
            except urllib.error.HTTPError:
                raise
            except OSError:
                assert process.poll() is None, f"{command(port)[0]} exited with {process.returncode}"
                assert time.monotonic() < deadline, f"{command(port)[0]} did not answer within 30 s"
                time.sleep(0.2)

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
