"""POST /api/v1/explain: the terms of one cell, through the app, with the trace API's validation."""
from __future__ import annotations

import pytest

from engine import presets

SEED002 = presets.get("seed002-ex2").body()


def test_explains_a_cell_of_seed002(client):
    answer = client.post("/api/v1/explain", json={"request": SEED002, "key": "s0.forward.1.pre_activation",
                                                 "cell": [1, 2]})
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["version"] == 1 and body["rule"] == "dot"
    trace = client.post("/api/v1/trace", json=SEED002).get_json()
    assert body["value"] == trace["steps"][0]["forward"][0]["pre_activation"][1][2]
    # S1[2,3] = W1[2,1] X[1,3] + W1[2,2] X[2,3] (1-based): 0.7 (-0.75) + 0.43 (0.8)
    assert [[(f["key"], f["cell"], f["value"]) for f in term["factors"]] for term in body["terms"]] == [
        [("s0.parameters.1.weights", [1, 0], 0.7), ("inputs", [0, 2], -0.75)],
        [("s0.parameters.1.weights", [1, 1], 0.43), ("inputs", [1, 2], 0.8)],
    ]
    assert sum(term["value"] for term in body["terms"]) == pytest.approx(-0.181, abs=1e-12)


def test_explains_dl_dx_when_the_request_asks_for_it(client):
    request = {**presets.get("quiz4-softmax-ce").body(), "input_gradient": True}
    answer = client.post("/api/v1/explain", json={"request": request, "key": "s0.backward.1.grad_inputs",
                                                 "cell": [0, 1]})
    assert answer.status_code == 200, answer.get_json()
    trace = client.post("/api/v1/trace", json=request).get_json()
    assert answer.get_json()["value"] == trace["steps"][0]["backward"][-1]["grad_inputs"][0][1]


@pytest.mark.parametrize("body, status, path", [
    ({"request": {**SEED002, "steps": 0}, "key": "s0.loss", "cell": []}, 422, "request/steps"),
    ({"request": {**SEED002, "layout": "diagonal"}, "key": "s0.loss", "cell": []}, 422, "request/layout"),
    ({"request": SEED002, "key": "s0.forward.7.activation", "cell": [0, 0]}, 422, "key"),
    ({"request": SEED002, "key": "s0.forward.1.activation", "cell": [9, 9]}, 422, "cell"),
    ({"request": SEED002, "key": "s0.loss", "cell": [0]}, 422, "cell"),
    ({"request": SEED002, "key": "s0.loss", "cell": [0, 1, 2]}, 422, "cell"),
    ({"request": SEED002, "key": 5, "cell": []}, 422, "key"),
    ({"request": SEED002, "key": "s0.loss"}, 422, "cell"),
    ({"request": SEED002, "key": "s0.loss", "cell": [], "extra": 1}, 422, "extra"),
])
def test_bad_bodies_get_a_422_naming_the_field(client, body, status, path):
    answer = client.post("/api/v1/explain", json=body)
    assert answer.status_code == status
    assert answer.mimetype == "application/problem+json"
    assert path in [error["path"] for error in answer.get_json()["errors"]]


def test_a_loss_with_too_many_terms_is_refused_with_413(client):
    wide = {"layout": "rows", "layers": [{"weights": [[0.1] * 80], "bias": None, "activation": "identity"}],
            "inputs": [[1.0]] * 60, "targets": [[0.0] * 80] * 60, "loss": {"name": "squared_error"}}
    answer = client.post("/api/v1/explain", json={"request": wide, "key": "s0.loss", "cell": []})
    assert answer.status_code == 413
    assert "4096" in answer.get_json()["detail"]
    cell = client.post("/api/v1/explain", json={"request": wide, "key": "s0.output_gradient", "cell": [59, 79]})
    assert cell.status_code == 200


def test_the_endpoint_is_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert "post" in document["paths"]["/api/v1/explain"]
    assert {"ExplainRequest", "ExplainResponse"} <= set(document["components"]["schemas"])
