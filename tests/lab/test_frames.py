"""The lab's frames: built a window of SGD steps at a time, the same as from the whole run; POST /lab/frames."""
from __future__ import annotations

import copy
import json
import re

import numpy as np
import pytest

from engine import presets
from engine import spec as specmod
from engine import trace as tracemod
from webapp.figures import heatmaps as figures
from webapp.figures import ranges
from webapp.lab import frames, state
from tests.lab.test_pages import decode, lab_data


def body_of(preset_id: str, steps: int) -> dict:
    body = copy.deepcopy(presets.get(preset_id).body())
    body["steps"] = steps
    return body


@pytest.mark.parametrize("preset_id", ["xor", "hw7-relu-softmax", "seed004-p2-case1"])
def test_the_summary_agrees_with_the_whole_trace(preset_id):
    """Colour limits, cell sizes and the diagram's ranges of one pass equal those of the full trace."""
    spec = specmod.from_request(body_of(preset_id, 6))
    summary = frames.summarise(spec)
    full = tracemod.run(spec)
    found = figures.tensors(spec, full)
    limits = figures.limits(found)
    assert list(summary.cards) == list(found)
    for name, tensor in found.items():
        expected = figures.heatmap_figure(tensor, limits[tensor.family]).to_plotly_json()["layout"]
        card = summary.cards[name]
        assert card.limit == limits[tensor.family]
        assert card.layout["width"] == expected["width"] and card.layout["height"] == expected["height"], name
    assert summary.ranges == ranges.ranges(full)
    assert summary.loss_history == full.loss_history


def test_a_window_holds_exactly_what_a_wider_one_holds():
    spec = specmod.from_request(body_of("xor", 9))
    summary = frames.summarise(spec)
    wide = frames.frames(summary, 2, 8)
    narrow = frames.frames(summary, 4, 6)
    per = frames.per_step(summary)
    assert json.dumps(narrow["substeps"]) == json.dumps(wide["substeps"][2 * per:4 * per])
    for slug, by_frame in narrow["values"].items():
        for frame, value in by_frame.items():
            assert value == wide["values"][slug][frame]
    full = tracemod.run(spec)
    weights = decode(narrow["values"]["t-W1-new"][5])
    np.testing.assert_array_equal(weights, full.steps[5].update[0].weights)


def test_the_frames_of_a_window_cost_what_the_window_holds():
    """A step's frames do not grow with the number of steps in the run."""
    few = frames.summarise(specmod.from_request(body_of("xor", 3)))
    many = frames.summarise(specmod.from_request(body_of("xor", 150)))
    assert len(json.dumps(frames.frames(few, 1, 2)["substeps"])) == pytest.approx(
        len(json.dumps(frames.frames(many, 1, 2)["substeps"])), rel=0.05)


def token(preset_id: str, steps: int) -> str:
    return state.encode(state.LabState(body_of(preset_id, steps), preset=preset_id))


def test_post_frames_answers_the_window(client):
    response = client.post("/lab/frames", json={"state": token("xor", 5), "from": 1, "to": 3})
    assert response.status_code == 200
    data = response.get_json()
    assert [s["key"] for s in data["substeps"]][:2] == ["s1-forward-1", "s1-forward-2"]
    assert {s["step"] for s in data["substeps"]} == {1, 2}
    expected = client.post("/api/v1/trace", json=body_of("xor", 5)).get_json()
    np.testing.assert_array_equal(decode(data["values"]["t-S1"]["2"]), expected["steps"][2]["forward"][0]["pre_activation"])


@pytest.mark.parametrize("body", [
    {"from": 0, "to": 1},
    {"state": 3, "from": 0, "to": 1},
    {"state": "garbage!", "from": 0, "to": 1},
    {"state": "xor", "from": "0", "to": 1},
    {"state": "xor", "from": 0, "to": 9},
    {"state": "xor", "from": 3, "to": 3},
    {"state": "xor", "from": 0, "to": 1.5},
    [],
])
def test_a_bad_frames_request_is_a_400_problem(client, body):
    if isinstance(body, dict) and body.get("state") == "xor":
        body = dict(body, state=token("xor", 5))  # a good state: the window is what is wrong
    response = client.post("/lab/frames", json=body)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


def test_a_window_is_at_most_eight_steps(client):
    too_wide = client.post("/lab/frames", json={"state": token("xor", 20), "from": 0, "to": 9})
    assert too_wide.status_code == 400 and "at most 8" in too_wide.get_json()["detail"]
    assert client.post("/lab/frames", json={"state": token("xor", 20), "from": 0, "to": 8}).status_code == 200


def test_the_page_does_not_grow_with_the_steps(client):
    pages = {steps: client.get("/lab?state=" + token("xor", steps)).get_data(as_text=True) for steps in (1, 20, 200)}
    counts = {steps: len(re.findall(r"<(figure|section|table|math|button)\b", html)) for steps, html in pages.items()}
    assert counts[1] == counts[20] == counts[200]
    # The page's data holds one SGD step's frames, and the loss history (one number a step).
    sizes = {steps: len(json.dumps(lab_data(html)["frames"])) for steps, html in pages.items()}
    assert sizes[200] < 1.1 * sizes[1]
    assert len(lab_data(pages[200])["lossHistory"]) == 201
