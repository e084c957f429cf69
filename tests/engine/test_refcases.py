"""POST /api/v1/trace against the exact reference traces (PyTorch autograd, float64)."""
from __future__ import annotations

import json
import math

import pytest

from engine import presets
from tests.paths import REFCASES_FILE as CASES_FILE

CASES = json.loads(CASES_FILE.read_text())["cases"]
RTOL, ATOL = 1e-9, 1e-12


def mismatches(expected, actual, path=""):
    """Every place where `actual` differs from `expected`; fields only in `actual` are fine (the contract may grow)."""
    if expected is None:
        if actual is not None:
            yield f"{path}: expected null, got {actual!r:.60}"
    elif isinstance(expected, (bool, str)):
        if actual != expected:
            yield f"{path}: expected {expected!r}, got {actual!r:.60}"
    elif isinstance(expected, (int, float)):
        if isinstance(actual, bool) or not isinstance(actual, (int, float)):
            yield f"{path}: expected a number, got {actual!r:.60}"
        elif not math.isclose(actual, expected, rel_tol=RTOL, abs_tol=ATOL):
            yield f"{path}: expected {expected!r}, got {actual!r}"
    elif isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            yield f"{path}: expected a list of {len(expected)}, got {actual!r:.60}"
        else:
            for index, (e, a) in enumerate(zip(expected, actual)):
                yield from mismatches(e, a, f"{path}/{index}")
    else:
        if not isinstance(actual, dict):
            yield f"{path}: expected an object, got {actual!r:.60}"
            return
        for key, e in expected.items():
            if key not in actual:
                yield f"{path}/{key}: missing"
            else:
                yield from mismatches(e, actual[key], f"{path}/{key}")


def no_constants(token: str):
    raise AssertionError(f"{token} in a 200 response")


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_trace_matches_reference(client, case):
    response = client.post("/api/v1/trace", json=case["request"])
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    body = json.loads(response.get_data(as_text=True), parse_constant=no_constants)
    problems = list(mismatches(case["expected"], body))
    assert not problems, f"{len(problems)} mismatches, first: {problems[:3]}"


def test_comparison_can_fail(client):
    """The comparison above notices a wrong number, a wrong null and a missing field."""
    case = CASES[0]
    body = client.post("/api/v1/trace", json=case["request"]).get_json()
    body["steps"][0]["forward"][0]["activation"][0][0] *= 1 + 1e-8
    body["steps"][0]["backward"][0]["grad_bias"] = None
    del body["final_loss"]
    found = list(mismatches(case["expected"], body))
    assert len(found) == 3
    assert found[0].startswith("/steps/0/forward/0/activation/0/0:")


@pytest.mark.parametrize("preset_id", [preset.id for preset in presets.PRESETS])
def test_every_preset_body_traces(client, preset_id):
    response = client.get(f"/api/v1/presets/{preset_id}")
    assert response.status_code == 200
    body = response.get_json()
    assert {"layers", "inputs", "loss"} <= body.keys()
    traced = client.post("/api/v1/trace", json=body)
    assert traced.status_code == 200, traced.get_data(as_text=True)[:300]
    assert len(traced.get_json()["loss_history"]) == body.get("steps", 1) + 1


def test_preset_list_names_every_preset(client):
    listed = client.get("/api/v1/presets").get_json()
    assert [item["id"] for item in listed] == [preset.id for preset in presets.PRESETS]
    for item in listed:
        assert item["title"] and item["description"]
