"""The optional record window of POST /api/v1/trace: steps from..to-1 only, the loss history whole."""
from __future__ import annotations

import copy

import pytest

from engine import presets
from engine import spec as specmod
from engine import trace as tracemod


def body_of(preset_id: str, steps: int) -> dict:
    body = copy.deepcopy(presets.get(preset_id).body())
    body["steps"] = steps
    return body


@pytest.mark.parametrize("preset_id", [p.id for p in presets.PRESETS])
@pytest.mark.parametrize("window", [(0, 1), (2, 5), (6, 7), (0, 7)])
def test_windowed_records_are_exactly_those_of_the_full_trace(client, preset_id, window):
    body = body_of(preset_id, 7)
    full = client.post("/api/v1/trace", json=body).get_json()
    body["record"] = {"from": window[0], "to": window[1]}
    response = client.post("/api/v1/trace", json=body)
    assert response.status_code == 200
    windowed = response.get_json()
    assert windowed["steps"] == full["steps"][window[0]:window[1]]
    assert [step["index"] for step in windowed["steps"]] == list(range(*window))
    assert windowed["loss_history"] == full["loss_history"]
    assert windowed["final_loss"] == full["final_loss"]


def test_to_defaults_to_the_last_step(client):
    body = body_of("xor", 4)
    body["record"] = {"from": 2}
    assert [step["index"] for step in client.post("/api/v1/trace", json=body).get_json()["steps"]] == [2, 3]


@pytest.mark.parametrize(
    ("record", "path"),
    [
        ({"from": 3, "to": 9}, "record/to"),
        ({"from": 3, "to": 3}, "record/from"),
        ({"from": 5}, "record/from"),
        ({"from": -1}, "record/from"),
        ({"to": 0}, "record/to"),
        ({"from": "1"}, "record/from"),
        ({"start": 1}, "record/start"),
        ({"from_": 1}, "record/from_"),
    ],
)
def test_a_window_outside_the_steps_is_a_422_naming_its_field(client, record, path):
    body = body_of("xor", 5)
    body["record"] = record
    response = client.post("/api/v1/trace", json=body)
    assert response.status_code == 422
    assert path in [error["path"] for error in response.get_json()["errors"]]


def test_the_trace_size_limit_counts_only_the_recorded_steps(client_with_limits):
    body = body_of("seed002-ex2", 40)
    per_step = specmod.from_request(body).trace_values()
    client = client_with_limits(max_trace_values=per_step * 10)
    assert client.post("/api/v1/trace", json=body).status_code == 413
    body["record"] = {"from": 30, "to": 40}
    assert client.post("/api/v1/trace", json=body).status_code == 200
    body["record"] = {"from": 29, "to": 40}
    assert client.post("/api/v1/trace", json=body).status_code == 413


def test_observe_sees_every_step_and_step_finds_a_kept_one():
    spec = specmod.from_request({**body_of("xor", 6), "record": {"from": 4, "to": 6}})
    seen = []
    trace = tracemod.run(spec, observe=lambda step: seen.append(step.index))
    assert seen == list(range(6))
    assert [step.index for step in trace.steps] == [4, 5]
    assert trace.step(5) is trace.steps[1]
    with pytest.raises(KeyError):
        trace.step(3)
    full = tracemod.run(specmod.from_request(body_of("xor", 6)))
    assert (trace.step(4).update[0].weights == full.steps[4].update[0].weights).all()
    assert trace.loss_history == full.loss_history
