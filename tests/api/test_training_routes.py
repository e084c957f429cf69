"""The API's training additions: momentum, Adam and mini-batches in POST /api/v1/trace, and /api/v1/train/*.

Expected updates are written from PyTorch's formulas using the gradients the
response itself reports (the gradients are checked against the refcases
elsewhere); the training endpoints are checked against the trace endpoint,
which traces the very step they say was taken.
"""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from engine import presets

SEED002 = presets.get("seed002-ex2").body()


def trace_body(**changes) -> dict:
    body = copy.deepcopy(SEED002)
    body["steps"] = 3
    body.update(changes)
    return body


def post(client, path: str, body: dict):
    response = client.post(f"/api/v1{path}", json=body)
    return response.status_code, response.get_json()


def paths(problem: dict) -> list[str]:
    return [error["path"] for error in problem.get("errors", [])]


# --- POST /api/v1/trace -----------------------------------------------------------------------------------


def test_plain_sgd_responses_are_unchanged(client, refcases):
    for name, case in refcases.items():
        status, answer = post(client, "/trace", case["request"])
        if status == 200:
            assert all("batch" not in step and "optimizer_state" not in step for step in answer["steps"]), name


def test_momentum_velocity_and_updates_follow_pytorch(client):
    body = trace_body(optimizer={"name": "sgd", "learning_rate": 0.5, "momentum": 0.9})
    status, answer = post(client, "/trace", body)
    assert status == 200
    weights = np.asarray(body["layers"][0]["weights"])
    velocity = np.zeros_like(weights)
    for step in answer["steps"]:
        grad = np.asarray(step["backward"][1]["grad_weights"])  # layer 1 comes last in backward
        velocity = 0.9 * velocity + grad
        weights = weights - 0.5 * velocity
        np.testing.assert_allclose(step["update"][0]["weights"], weights, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(step["optimizer_state"]["velocity"]["W1"], velocity, rtol=1e-12, atol=1e-15)
    assert [step["optimizer_state"]["step"] for step in answer["steps"]] == [1, 2, 3]


def test_adam_moments_and_updates_follow_pytorch(client):
    body = trace_body(optimizer={"name": "adam", "learning_rate": 0.05, "betas": [0.8, 0.99], "eps": 1e-6})
    status, answer = post(client, "/trace", body)
    assert status == 200
    weights = np.asarray(body["layers"][1]["weights"])
    m = v = np.zeros_like(weights)
    for t, step in enumerate(answer["steps"], start=1):
        grad = np.asarray(step["backward"][0]["grad_weights"])
        m, v = 0.8 * m + 0.2 * grad, 0.99 * v + 0.01 * grad**2
        weights = weights - 0.05 * (m / (1 - 0.8**t)) / (np.sqrt(v / (1 - 0.99**t)) + 1e-6)
        np.testing.assert_allclose(step["update"][1]["weights"], weights, rtol=1e-12, atol=1e-15)
        state = step["optimizer_state"]
        np.testing.assert_allclose(state["first_moment"]["W2"], m, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(state["second_moment"]["W2"], v, rtol=1e-12, atol=1e-15)


def test_a_trace_goes_on_from_the_state_a_step_answered(client):
    body = trace_body(optimizer={"name": "adam", "learning_rate": 0.05}, steps=4)
    _, whole = post(client, "/trace", body)
    first = trace_body(optimizer={"name": "adam", "learning_rate": 0.05}, steps=2)
    _, half = post(client, "/trace", first)
    second = copy.deepcopy(first)
    for layer, params in zip(second["layers"], half["steps"][-1]["update"]):
        layer["weights"], layer["bias"] = params["weights"], params["bias"]
    second["optimizer"]["state"] = half["steps"][-1]["optimizer_state"]
    _, rest = post(client, "/trace", second)
    for a, b in zip(whole["steps"][2:], rest["steps"]):
        assert a["update"] == b["update"] and a["optimizer_state"] == b["optimizer_state"]


def test_mini_batches_cover_every_example_once_an_epoch(client):
    body = {
        "layers": [{"weights": [[0.5], [-0.25]], "bias": [0.1], "activation": "identity"}],
        "inputs": [[float(i), float(i % 3)] for i in range(10)],
        "targets": [[float(i % 2)] for i in range(10)],
        "loss": {"name": "squared_error"},
        "optimizer": {"name": "sgd", "learning_rate": 0.001},
        "steps": 6, "batch_size": 4, "shuffle_seed": 7,
    }
    status, answer = post(client, "/trace", body)
    assert status == 200
    batches = [step["batch"] for step in answer["steps"]]
    assert [len(b) for b in batches] == [4, 4, 2, 4, 4, 2]
    assert sorted(sum(batches[:3], [])) == list(range(10)) and sorted(sum(batches[3:], [])) == list(range(10))
    assert batches[:3] != batches[3:]  # a new order each epoch
    weights, bias = np.asarray(body["layers"][0]["weights"]), np.asarray(body["layers"][0]["bias"])
    for step, batch in zip(answer["steps"], batches):
        # the forward pass is over the batch's examples only, with the parameters the step starts from
        expected = np.asarray(body["inputs"])[batch] @ weights + bias
        np.testing.assert_allclose(step["forward"][0]["pre_activation"], expected, rtol=1e-14)
        weights, bias = np.asarray(step["update"][0]["weights"]), np.asarray(step["update"][0]["bias"])
    _, again = post(client, "/trace", body)
    assert [step["batch"] for step in again["steps"]] == batches
    _, other = post(client, "/trace", dict(body, shuffle_seed=8))
    assert [step["batch"] for step in other["steps"]] != batches


@pytest.mark.parametrize(
    "optimizer, extra, path",
    [
        ({"name": "adam", "momentum": 0.9}, {}, "optimizer/momentum"),
        ({"name": "sgd", "nesterov": True}, {}, "optimizer/nesterov"),
        ({"name": "sgd", "momentum": 1.0}, {}, "optimizer/momentum"),
        ({"name": "sgd", "betas": [0.9, 0.99]}, {}, "optimizer/betas"),
        ({"name": "sgd", "momentum": 0.9, "state": {"step": 1, "velocity": {"W1": [[0.0]]}}}, {}, "optimizer/state"),
        ({"name": "sgd"}, {"batch_size": 0}, "batch_size"),
        ({"name": "sgd"}, {"shuffle_seed": -1}, "shuffle_seed"),
    ],
)
def test_bad_optimizer_fields_are_422_with_their_path(client, optimizer, extra, path):
    status, problem = post(client, "/trace", trace_body(optimizer=optimizer, **extra))
    assert status == 422 and path in paths(problem), problem


def test_openapi_documents_the_additions(client):
    document = client.get("/api/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    assert {"momentum", "nesterov", "betas", "eps", "state"} <= set(schemas["OptimizerSpec"]["properties"])
    assert {"batch_size", "shuffle_seed"} <= set(schemas["TraceRequest"]["properties"])
    assert {"batch", "optimizer_state"} <= set(schemas["TraceStep"]["properties"])
    for path, request in (("/api/v1/train/advance", "AdvanceRequest"), ("/api/v1/train/open", "OpenRequest")):
        operation = document["paths"][path]["post"]
        assert operation["requestBody"]["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{request}"}
        assert request in schemas
    assert {"dataset", "features", "hidden", "optimizer", "batch_size", "seed"} <= set(schemas["Setup"]["properties"])


# --- POST /api/v1/train/advance and /open ----------------------------------------------------------------------

SETUP = {"dataset": "xor", "size": 60, "noise": 0.2, "test_fraction": 0.25, "hidden": [4],
         "optimizer": {"name": "sgd", "learning_rate": 0.1, "momentum": 0.9}, "batch_size": 8, "seed": 3}


def advance(client, state, steps, every=None, setup=SETUP):
    status, answer = post(client, "/train/advance", {"setup": setup, "state": state, "steps": steps, "every": every})
    assert status == 200, answer
    return json.loads(json.dumps(answer))


def test_advance_in_chunks_is_one_run(client):
    whole = advance(client, None, 20)
    half = advance(client, advance(client, None, 8)["state"], 12)
    assert half["state"] == whole["state"] and half["step"] == whole["step"] == 20
    assert whole["metrics"]["steps"] == list(range(1, 21))
    assert half["metrics"]["train_loss"] == whole["metrics"]["train_loss"][8:]
    assert len(whole["metrics"]["test_accuracy"]) == 20 and whole["metrics"]["train_accuracy"] is not None


def test_advance_draws_a_frame_every_few_steps(client):
    answer = advance(client, None, 10, every=4)
    assert [frame["step"] for frame in answer["frames"]] == [4, 8, 10]
    frame = answer["frames"][-1]
    assert frame["field"]["traces"][0][:2] == [0, "z"] and frame["field"]["traces"][0][2]["dtype"] == "u1"
    start = advance(client, None, 0)
    assert start["step"] == 0 and start["metrics"]["steps"] == [0] and start["frames"][0]["step"] == 0


def test_opened_step_traces_exactly_the_step_training_took(client):
    checkpoint = advance(client, None, 10)["state"]
    status, opened = post(client, "/train/open", {"setup": SETUP, "checkpoint": checkpoint, "step": 13})
    assert status == 200
    assert len(opened["batch"]) == 8 and opened["request"]["steps"] == 1
    assert opened["request"]["optimizer"]["state"]["step"] == 13
    status, traced = post(client, "/trace", opened["request"])
    assert status == 200
    after = advance(client, advance(client, checkpoint, 3)["state"], 1)
    parameters = after["state"]["parameters"]
    for layer in traced["steps"][0]["update"]:
        assert layer["weights"] == parameters[f"W{layer['layer']}"]
        assert layer["bias"] == parameters[f"b{layer['layer']}"]
    assert traced["steps"][0]["optimizer_state"] == after["state"]["optimizer"]


def test_a_full_batch_step_loss_is_the_train_curve(client):
    setup = dict(SETUP, batch_size=None, optimizer={"name": "adam", "learning_rate": 0.05})
    curve = advance(client, None, 5, setup=setup)["metrics"]["train_loss"]
    status, opened = post(client, "/train/open", {"setup": setup, "checkpoint": None, "step": 3})
    assert status == 200 and opened["batch"] is None
    _, traced = post(client, "/trace", opened["request"])
    # the trace's loss is at the start of step 3 (after 3 updates); its final loss after the 4th
    assert traced["steps"][0]["loss"] == pytest.approx(curve[2], rel=1e-12)
    assert traced["final_loss"] == pytest.approx(curve[3], rel=1e-12)


@pytest.mark.parametrize(
    "body, status, path",
    [
        ({"setup": dict(SETUP, dataset="csv", csv="a,b,y\n1,2,0\n3,x,1\n"), "steps": 1}, 422, "setup/csv"),
        ({"setup": dict(SETUP, dataset="csv"), "steps": 1}, 422, "setup/csv"),
        ({"setup": dict(SETUP, dataset="moons"), "steps": 1}, 422, "setup/dataset"),
        ({"setup": dict(SETUP, features=["x1", "x3"]), "steps": 1}, 422, "setup/features/1"),
        ({"setup": dict(SETUP, head="identity"), "steps": 1}, 422, "setup/head"),
        ({"setup": dict(SETUP, dataset="sine", features=["x2"]), "steps": 1}, 422, "setup/features"),
        ({"setup": SETUP, "steps": 10, "every": 0}, 422, "every"),
        ({"setup": SETUP, "steps": 60, "every": 1}, 422, "every"),
        ({"setup": SETUP, "state": {"parameters": {"W1": [[1.0]]}}, "steps": 1}, 422, "state"),
        ({"setup": SETUP, "steps": 1, "extra": 1}, 422, "extra"),
    ],
)
def test_bad_training_requests_say_which_field(client, body, status, path):
    got, problem = post(client, "/train/advance", body)
    assert got == status and path in paths(problem), problem


def test_csv_errors_name_the_row_and_column(client):
    setup = dict(SETUP, dataset="csv", csv="a,b,y\n1,2,0\n3,x,1\n", features=None)
    _, problem = post(client, "/train/advance", {"setup": setup, "steps": 1})
    assert problem["errors"][0]["message"] == "row 3, column 2 (b): 'x' is not a number"


def test_limits_are_the_apis(client_with_limits):
    client = client_with_limits(max_examples=50, max_steps=5)
    status, problem = post(client, "/train/advance", {"setup": SETUP, "steps": 1})
    assert status == 413 and problem["limit"] == "max_examples"
    setup = dict(SETUP, size=40)
    status, problem = post(client, "/train/advance", {"setup": setup, "steps": 6})
    assert status == 413 and problem["limit"] == "max_steps"
    status, problem = post(client, "/train/open", {"setup": setup, "checkpoint": None, "step": 6})
    assert status == 413 and problem["limit"] == "max_steps"
    rows = "\n".join(f"{i},{i % 2}" for i in range(51))
    status, problem = post(client, "/train/advance", {"setup": dict(setup, dataset="csv", csv=rows, features=None), "steps": 1})
    assert status == 422 and "51 data rows: over the limit of 50" in problem["errors"][0]["message"]


@pytest.mark.parametrize("hidden, limit", [([2 * 10**7], "max_units"), ([2] * 8, "max_layers")])
def test_the_network_size_is_checked_before_anything_is_built(client, hidden, limit):
    for path, extra in (("/train/advance", {"steps": 1}), ("/train/open", {"step": 0})):
        status, problem = post(client, path, {"setup": dict(SETUP, hidden=hidden), **extra})
        assert status == 413 and problem["limit"] == limit


def test_divergence_is_a_422_naming_the_step(client):
    setup = {"dataset": "sine", "size": 40, "features": ["x1"], "hidden": [], "head": "identity",
             "optimizer": {"name": "sgd", "learning_rate": 1e200}}
    status, problem = post(client, "/train/advance", {"setup": setup, "steps": 5})
    assert status == 422 and problem["step"] == 1 and "no longer finite" in problem["detail"]


def test_open_refuses_a_step_before_its_checkpoint(client):
    checkpoint = advance(client, None, 10)["state"]
    status, problem = post(client, "/train/open", {"setup": SETUP, "checkpoint": checkpoint, "step": 9})
    assert status == 422 and paths(problem) == ["step"]


def test_a_step_the_lab_cannot_draw_comes_with_a_note(client):
    setup = dict(SETUP, size=120, batch_size=70)  # 90 training examples: the first batch has 70
    status, opened = post(client, "/train/open", {"setup": setup, "checkpoint": None, "step": 0})
    assert status == 200 and opened["lab_url"] is None and len(opened["batch"]) == 70
    assert "the lab shows at most 64 examples" in opened["lab_note"]
    status, traced = post(client, "/trace", opened["request"])  # the request itself is still good
    assert status == 200
    _, small = post(client, "/train/open", {"setup": SETUP, "checkpoint": None, "step": 2})
    assert small["lab_note"] is None


def test_the_lab_link_shows_the_opened_step(client):
    status, opened = post(client, "/train/open", {"setup": SETUP, "checkpoint": None, "step": 4})
    assert status == 200 and opened["lab_url"].startswith("/lab?state=")
    page = client.get(opened["lab_url"])
    assert page.status_code == 200
    # the lab's data holds the request's first weights, written out in full
    assert json.dumps(opened["request"]["layers"][0]["weights"][0][0]) in page.get_data(as_text=True)


def test_a_lab_link_too_long_for_a_query_keeps_the_state_in_its_fragment(client):
    setup = dict(SETUP, hidden=[12, 12, 12, 12, 12], optimizer={"name": "adam", "learning_rate": 0.01})
    status, opened = post(client, "/train/open", {"setup": setup, "checkpoint": None, "step": 1})
    assert status == 200 and opened["lab_note"] is None
    assert opened["lab_url"].startswith("/lab#state=") and len(opened["lab_url"]) > 8190
    token = opened["lab_url"].split("#state=", 1)[1]
    page = client.post("/lab/render", data={"state": token})
    assert page.status_code == 200 and 'id="lab"' in page.get_data(as_text=True)
