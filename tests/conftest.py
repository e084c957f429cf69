"""Shared fixtures: the app, its test client, and the reference traces beside the checkout."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from webapp import create_app

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
